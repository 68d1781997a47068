/* SPDX-License-Identifier: MIT */
/* UTF-8 decoding/encoding and simple (one-to-one) case mapping for the string ops and the regex
 * engine. Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; other code
 * points map to themselves. */
#ifndef KILN_CPU_OPS_TEXT_H
#define KILN_CPU_OPS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s[0..len) (len >= 1); an invalid or truncated sequence reads as
 * U+FFFD and consumes one byte. Returns the bytes consumed. */
size_t cpu_utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Writes cp as UTF-8 into out (4 bytes available); returns the bytes written. */
size_t cpu_utf8_encode(uint32_t cp, char *out);
uint32_t cpu_case_lower(uint32_t cp);
uint32_t cpu_case_upper(uint32_t cp);

#endif
