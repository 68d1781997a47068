/* SPDX-License-Identifier: MIT */
/* RE2-syntax regex for RegexFullMatch with RE2's linear-time guarantee: parse to a tree, compile to
 * a Thompson NFA, simulate one code point at a time. Gaps are refused at compile time
 * (docs/strings.md). */
#ifndef KILN_CPU_OPS_REGEX_H
#define KILN_CPU_OPS_REGEX_H

#include "providers/cpu/cpu_op.h"

typedef struct cpu_regex cpu_regex;

/* Compiles `pattern` (UTF-8, `len` bytes) with memory from k's host heap. Fails with
 * KILN_ERR_INVALID_MODEL for a malformed pattern and KILN_ERR_UNSUPPORTED for RE2 features Kiln
 * does not implement, naming the position. */
kiln_status cpu_regex_compile(const cpu_kernel *k, const char *pattern, size_t len, cpu_regex **out, kiln_error *err);
void cpu_regex_free(const cpu_kernel *k, cpu_regex *re);
/* Bytes of work memory cpu_regex_full_match needs. */
size_t cpu_regex_work_size(const cpu_regex *re);
/* 1 when all of s[0..len) matches the pattern, 0 otherwise. */
int cpu_regex_full_match(const cpu_regex *re, const char *s, size_t len, void *work);

#endif
