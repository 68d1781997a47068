/* SPDX-License-Identifier: MIT */
/* kiln_error helpers (see error.h) and the static status texts. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

kiln_status kiln_fail(kiln_error *err, kiln_status status, const char *fmt, ...) {
    if (err) {
        err->status = (int32_t)status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return status;
}

kiln_status kiln_error_prefix(kiln_error *err, const char *fmt, ...) {
    if (!err) return KILN_ERR_INTERNAL;
    char prefix[KILN_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n > 0) {
        /* Shift the old message right and put the prefix in front; the end may be cut. */
        size_t cap = sizeof(err->msg) - 1;
        size_t pl = strlen(prefix), ol = strnlen(err->msg, cap);
        if (pl > cap) pl = cap;
        if (ol > cap - pl) ol = cap - pl;
        memmove(err->msg + pl, err->msg, ol);
        memcpy(err->msg, prefix, pl);
        err->msg[pl + ol] = '\0';
    }
    return (kiln_status)err->status;
}

void kiln_error_clear(kiln_error *err) {
    if (err) {
        err->status = KILN_OK;
        err->msg[0] = '\0';
    }
}
