/* SPDX-License-Identifier: MIT */
/* Recording errors into a caller's kiln_error: one printf-style call sets the status and the
 * message and returns the status, so a failure is one line. Never allocates. */
#ifndef KILN_BASE_ERROR_H
#define KILN_BASE_ERROR_H

#include "kiln_types.h"

#if defined(__GNUC__)
#define KILN_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define KILN_PRINTF(fmt_idx, arg_idx)
#endif

/* Sets err (if not NULL) and returns `status`. */
kiln_status kiln_fail(kiln_error *err, kiln_status status, const char *fmt, ...) KILN_PRINTF(3, 4);

/* Prepends context to the message already in err ("node 'x' (Conv): " + old message).
 * Returns err's status. */
kiln_status kiln_error_prefix(kiln_error *err, const char *fmt, ...) KILN_PRINTF(2, 3);

/* Clears err to KILN_OK and an empty message. */
void kiln_error_clear(kiln_error *err);

#define KILN_TRY(expr)                       \
    do {                                     \
        kiln_status kiln_try_s_ = (expr);    \
        if (kiln_try_s_ != KILN_OK) return kiln_try_s_; \
    } while (0)

#endif
