/* SPDX-License-Identifier: MIT */
/* Cast and CastLike between every pair of ONNX tensor types (numbers, bool, strings, float16,
 * bfloat16, float8 with `saturate`, float8e8m0 with `round_mode`, float4e2m1, packed 4- and
 * 2-bit integers), and BitCast. Values travel in blocks through int64 (integer sources) or
 * double (float sources), which hold every source value exactly; common pairs have direct loops. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernels/common/half.h"
#include "kernels/common/minifloat.h"
#include "providers/cpu/ops/elementwise.h"

/* Elements converted at a time; a multiple of 4 so packed blocks start on a byte. */
#define BLOCK 256

static int sub_bits(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: case KILN_DTYPE_FLOAT4E2M1: return 4;
    case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2: return 2;
    default: return 0;
    }
}

/* Integer-valued types: read into int64 exactly (uint64 as its bits). */
static int int_class(int32_t dt) {
    return cpu_is_int(dt) || dt == KILN_DTYPE_BOOL || dt == KILN_DTYPE_UINT4 || dt == KILN_DTYPE_INT4 ||
           dt == KILN_DTYPE_UINT2 || dt == KILN_DTYPE_INT2;
}

static const kiln_minifloat *mf_of(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT16: return &kiln_mf_f16;
    case KILN_DTYPE_BFLOAT16: return &kiln_mf_bf16;
    case KILN_DTYPE_FLOAT8E4M3FN: return &kiln_mf_e4m3fn;
    case KILN_DTYPE_FLOAT8E4M3FNUZ: return &kiln_mf_e4m3fnuz;
    case KILN_DTYPE_FLOAT8E5M2: return &kiln_mf_e5m2;
    case KILN_DTYPE_FLOAT8E5M2FNUZ: return &kiln_mf_e5m2fnuz;
    case KILN_DTYPE_FLOAT4E2M1: return &kiln_mf_e2m1;
    default: return NULL;
    }
}

/* Float-valued types: read into double exactly. */
static int float_class(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT8E8M0 || mf_of(dt);
}

typedef struct cast_params {
    int32_t from, to;
    int saturate;   /* float8 targets: clamp out-of-range values (else inf or NaN) */
    int round_mode; /* float8e8m0 target: KILN_E8M0_* */
} cast_params;

/* ---- loading a block ---- */

static inline uint32_t packed_get(const uint8_t *d, uint64_t i, int bits) {
    if (bits == 4) return (d[i >> 1] >> ((i & 1) * 4)) & 0xfu;
    return (d[i >> 2] >> ((i & 3) * 2)) & 0x3u;
}

#define LOAD(T)                                                       \
    do {                                                              \
        const T *s = (const T *)src + start;                          \
        for (size_t i = 0; i < n; i++) v[i] = (VT)s[i];               \
    } while (0)

static void load_int(int32_t dt, const void *src, uint64_t start, size_t n, int64_t *v) {
    typedef int64_t VT;
    const uint8_t *b = src;
    switch (dt) {
    case KILN_DTYPE_INT8: LOAD(int8_t); break;
    case KILN_DTYPE_INT16: LOAD(int16_t); break;
    case KILN_DTYPE_INT32: LOAD(int32_t); break;
    case KILN_DTYPE_INT64: LOAD(int64_t); break;
    case KILN_DTYPE_UINT8: LOAD(uint8_t); break;
    case KILN_DTYPE_UINT16: LOAD(uint16_t); break;
    case KILN_DTYPE_UINT32: LOAD(uint32_t); break;
    case KILN_DTYPE_UINT64: LOAD(uint64_t); break;
    case KILN_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++) v[i] = b[start + i] != 0;
        break;
    case KILN_DTYPE_UINT4: case KILN_DTYPE_UINT2:
        for (size_t i = 0; i < n; i++) v[i] = packed_get(b, start + i, sub_bits(dt));
        break;
    case KILN_DTYPE_INT4: /* sign-extend the nibble */
        for (size_t i = 0; i < n; i++) v[i] = (int64_t)(packed_get(b, start + i, 4) ^ 8u) - 8;
        break;
    case KILN_DTYPE_INT2:
        for (size_t i = 0; i < n; i++) v[i] = (int64_t)(packed_get(b, start + i, 2) ^ 2u) - 2;
        break;
    default: break;
    }
}

static void load_float(int32_t dt, const void *src, uint64_t start, size_t n, double *v) {
    typedef double VT;
    const uint8_t *b = src;
    const kiln_minifloat *mf = mf_of(dt);
    switch (dt) {
    case KILN_DTYPE_FLOAT: LOAD(float); break;
    case KILN_DTYPE_DOUBLE: LOAD(double); break;
    case KILN_DTYPE_FLOAT16:
        for (size_t i = 0; i < n; i++) v[i] = kiln_f16_to_f32(((const uint16_t *)src)[start + i]);
        break;
    case KILN_DTYPE_BFLOAT16:
        for (size_t i = 0; i < n; i++) v[i] = kiln_bf16_to_f32(((const uint16_t *)src)[start + i]);
        break;
    case KILN_DTYPE_FLOAT8E8M0:
        for (size_t i = 0; i < n; i++) v[i] = kiln_e8m0_decode(b[start + i]);
        break;
    case KILN_DTYPE_FLOAT4E2M1:
        for (size_t i = 0; i < n; i++) v[i] = kiln_mf_decode(mf, packed_get(b, start + i, 4));
        break;
    default: /* float8 */
        for (size_t i = 0; i < n; i++) v[i] = kiln_mf_decode(mf, b[start + i]);
        break;
    }
}

/* ---- storing a block ---- */

/* Writes n codes (low `bits` bits each) from element `start`, a multiple of the codes per byte;
 * the unused bits of a last partial byte are 0. */
static void pack(uint8_t *d, uint64_t start, size_t n, int bits, const uint8_t *codes) {
    size_t per = (size_t)(8 / bits);
    uint8_t mask = (uint8_t)((1u << bits) - 1);
    for (size_t i = 0; i < n; i += per) {
        uint8_t byte = 0;
        for (size_t j = 0; j < per && i + j < n; j++) byte |= (uint8_t)((codes[i + j] & mask) << (j * (size_t)bits));
        d[(start + i) / per] = byte;
    }
}

/* An integer as double, rounded to odd at 53 bits so that a further rounding to a narrower
 * float format (at most 24 bits here) is correctly rounded. */
static double i2d_odd(int64_t v, int uns) {
    int neg = !uns && v < 0;
    uint64_t m = neg ? 0 - (uint64_t)v : (uint64_t)v;
    int excess = 0;
    while ((m >> excess) >= (UINT64_C(1) << 53)) excess++;
    if (excess) {
        uint64_t low = m & ((UINT64_C(1) << excess) - 1);
        m = (m >> excess) | (low != 0);
    }
    double d = ldexp((double)m, excess);
    return neg ? -d : d;
}

#define STORE(T, EXPR)                                         \
    do {                                                       \
        T *d = (T *)dst + start;                               \
        for (size_t i = 0; i < n; i++) d[i] = (T)(EXPR);       \
    } while (0)

/* From integers (uns: they are uint64 bits). */
static void store_int(const cast_params *c, void *dst, uint64_t start, size_t n, const int64_t *v, int uns) {
    uint8_t codes[BLOCK];
    const kiln_minifloat *mf = mf_of(c->to);
    switch (c->to) {
    case KILN_DTYPE_INT8: STORE(int8_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_INT16: STORE(int16_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_INT32: STORE(int32_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_INT64: STORE(int64_t, v[i]); break;
    case KILN_DTYPE_UINT8: STORE(uint8_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_UINT16: STORE(uint16_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_UINT32: STORE(uint32_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_UINT64: STORE(uint64_t, (uint64_t)v[i]); break;
    case KILN_DTYPE_BOOL: STORE(uint8_t, v[i] != 0); break;
    case KILN_DTYPE_FLOAT: STORE(float, uns ? (float)(uint64_t)v[i] : (float)v[i]); break;
    case KILN_DTYPE_DOUBLE: STORE(double, uns ? (double)(uint64_t)v[i] : (double)v[i]); break;
    case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: STORE(uint16_t, kiln_mf_encode(mf, i2d_odd(v[i], uns), 0)); break;
    case KILN_DTYPE_FLOAT8E8M0:
        STORE(uint8_t, kiln_e8m0_encode(uns ? (float)(uint64_t)v[i] : (float)v[i], c->saturate, c->round_mode));
        break;
    case KILN_DTYPE_FLOAT4E2M1:
        for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)kiln_mf_encode(mf, i2d_odd(v[i], uns), 1);
        pack(dst, start, n, 4, codes);
        break;
    case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2:
        for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)v[i];
        pack(dst, start, n, sub_bits(c->to), codes);
        break;
    default: /* float8 */
        STORE(uint8_t, kiln_mf_encode(mf, i2d_odd(v[i], uns), c->saturate));
        break;
    }
}

/* From floats. To integers: truncation toward zero, then the low bits (cpu_f2bits/f2ubits). To
 * 4- and 2-bit integers the same, as the ONNX reference (ml_dtypes) does. */
static void store_float(const cast_params *c, void *dst, uint64_t start, size_t n, const double *v) {
    uint8_t codes[BLOCK];
    const kiln_minifloat *mf = mf_of(c->to);
    switch (c->to) {
    case KILN_DTYPE_INT8: STORE(int8_t, cpu_f2bits(v[i])); break;
    case KILN_DTYPE_INT16: STORE(int16_t, cpu_f2bits(v[i])); break;
    case KILN_DTYPE_INT32: STORE(int32_t, cpu_f2bits(v[i])); break;
    case KILN_DTYPE_INT64: STORE(int64_t, cpu_f2bits(v[i])); break;
    case KILN_DTYPE_UINT8: STORE(uint8_t, cpu_f2ubits(v[i])); break;
    case KILN_DTYPE_UINT16: STORE(uint16_t, cpu_f2ubits(v[i])); break;
    case KILN_DTYPE_UINT32: STORE(uint32_t, cpu_f2ubits(v[i])); break;
    case KILN_DTYPE_UINT64: STORE(uint64_t, cpu_f2ubits(v[i])); break;
    case KILN_DTYPE_BOOL: STORE(uint8_t, v[i] != 0.0); break;
    case KILN_DTYPE_FLOAT: STORE(float, v[i]); break;
    case KILN_DTYPE_DOUBLE: STORE(double, v[i]); break;
    case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: STORE(uint16_t, kiln_mf_encode(mf, v[i], 0)); break;
    case KILN_DTYPE_FLOAT8E8M0: STORE(uint8_t, kiln_e8m0_encode((float)v[i], c->saturate, c->round_mode)); break;
    case KILN_DTYPE_FLOAT4E2M1:
        for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)kiln_mf_encode(mf, v[i], 1);
        pack(dst, start, n, 4, codes);
        break;
    case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2:
        for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)cpu_f2bits(v[i]);
        pack(dst, start, n, sub_bits(c->to), codes);
        break;
    default: /* float8 */
        STORE(uint8_t, kiln_mf_encode(mf, v[i], c->saturate));
        break;
    }
}

/* One block [start, start + n) of a numeric → numeric cast. */
static void cast_block(const cast_params *c, const void *src, void *dst, uint64_t start, size_t n) {
    if (int_class(c->from)) {
        int64_t v[BLOCK];
        load_int(c->from, src, start, n, v);
        store_int(c, dst, start, n, v, c->from == KILN_DTYPE_UINT64);
    } else {
        double v[BLOCK];
        load_float(c->from, src, start, n, v);
        store_float(c, dst, start, n, v);
    }
}

/* ---- direct loops for common pairs ---- */

#define DIRECT(NAME, TS, TD, EXPR)                                                 \
    static void NAME(const void *vx, void *vy, size_t n, const void *p) {         \
        const TS *x = vx;                                                          \
        TD *y = vy;                                                                \
        (void)p;                                                                   \
        for (size_t i = 0; i < n; i++) y[i] = (TD)(EXPR);                          \
    }
DIRECT(f32_f16, float, uint16_t, kiln_f32_to_f16_v(x[i]))
DIRECT(f16_f32, uint16_t, float, kiln_f16_to_f32_v(x[i]))
DIRECT(f32_bf16, float, uint16_t, kiln_f32_to_bf16(x[i]))
DIRECT(bf16_f32, uint16_t, float, kiln_bf16_to_f32(x[i]))
DIRECT(f32_f64, float, double, x[i])
DIRECT(f64_f32, double, float, x[i])
DIRECT(f32_s32, float, int32_t, cpu_f2bits(x[i]))
DIRECT(f32_s64, float, int64_t, cpu_f2bits(x[i]))
DIRECT(s32_f32, int32_t, float, x[i])
DIRECT(s64_f32, int64_t, float, x[i])
DIRECT(s32_s64, int32_t, int64_t, x[i])
DIRECT(s64_s32, int64_t, int32_t, (uint64_t)x[i])
DIRECT(u8_f32, uint8_t, float, x[i])
DIRECT(b8_f32, uint8_t, float, x[i] != 0)
DIRECT(f32_b8, float, uint8_t, x[i] != 0.0f)
DIRECT(s64_b8, int64_t, uint8_t, x[i] != 0)

static const struct {
    int32_t from, to;
    cpu_ew_map f;
} directs[] = {
    {KILN_DTYPE_FLOAT, KILN_DTYPE_FLOAT16, f32_f16}, {KILN_DTYPE_FLOAT16, KILN_DTYPE_FLOAT, f16_f32},
    {KILN_DTYPE_FLOAT, KILN_DTYPE_BFLOAT16, f32_bf16}, {KILN_DTYPE_BFLOAT16, KILN_DTYPE_FLOAT, bf16_f32},
    {KILN_DTYPE_FLOAT, KILN_DTYPE_DOUBLE, f32_f64}, {KILN_DTYPE_DOUBLE, KILN_DTYPE_FLOAT, f64_f32},
    {KILN_DTYPE_FLOAT, KILN_DTYPE_INT32, f32_s32}, {KILN_DTYPE_FLOAT, KILN_DTYPE_INT64, f32_s64},
    {KILN_DTYPE_INT32, KILN_DTYPE_FLOAT, s32_f32}, {KILN_DTYPE_INT64, KILN_DTYPE_FLOAT, s64_f32},
    {KILN_DTYPE_INT32, KILN_DTYPE_INT64, s32_s64}, {KILN_DTYPE_INT64, KILN_DTYPE_INT32, s64_s32},
    {KILN_DTYPE_UINT8, KILN_DTYPE_FLOAT, u8_f32}, {KILN_DTYPE_BOOL, KILN_DTYPE_FLOAT, b8_f32},
    {KILN_DTYPE_FLOAT, KILN_DTYPE_BOOL, f32_b8}, {KILN_DTYPE_INT64, KILN_DTYPE_BOOL, s64_b8},
};

/* ---- strings ---- */

/* Shortest decimal that reads back as v in the source type, laid out like numpy's str of that
 * type: positional with at least one fractional digit for 1e-4 <= |v| < 10^P (P: 16 for double,
 * else the type's decimal precision, 6 for float, 3 for float16), otherwise d.ddde±XX; "nan",
 * "inf", "-inf". */
static void format_float(double v, const cast_params *c, char *out, size_t cap) {
    if (v != v) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v < 0 ? "-inf" : "inf");
        return;
    }
    const kiln_minifloat *mf = mf_of(c->from);
    int mbits = c->from == KILN_DTYPE_FLOAT ? 23 : mf ? mf->mbits : 0;
    double upper = c->from == KILN_DTYPE_DOUBLE ? 1e16 : pow(10.0, floor(mbits * 0.30102999566398120));
    char sci[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(sci, sizeof(sci), "%.*e", p - 1, v);
        double back = strtod(sci, NULL);
        int same = c->from == KILN_DTYPE_FLOAT ? (float)back == (float)v
                   : mf                        ? kiln_mf_decode(mf, kiln_mf_encode(mf, back, 0)) == v
                                               : back == v;
        if (same) break;
    }
    /* sci is [-]d[.ddd]e±XX: collect the digits and the decimal exponent */
    char digits[24];
    int nd = 0, neg = sci[0] == '-';
    const char *s = sci + neg;
    for (; *s && *s != 'e'; s++)
        if (isdigit((unsigned char)*s) && nd < 20) digits[nd++] = *s;
    int exp10 = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    char *o = out;
    size_t left = cap;
#define PUT(...)                                                  \
    do {                                                          \
        int w_ = snprintf(o, left, __VA_ARGS__);                  \
        if (w_ < 0 || (size_t)w_ >= left) return;                 \
        o += w_, left -= (size_t)w_;                              \
    } while (0)
    if (neg) PUT("-");
    if (fabs(v) >= upper || (v != 0.0 && fabs(v) < 1e-4)) {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++) PUT("%c", i < nd ? digits[i] : '0');
        PUT(".%s", nd > exp10 + 1 ? digits + exp10 + 1 : "0");
    } else {
        PUT("0.");
        for (int i = 0; i < -exp10 - 1; i++) PUT("0");
        PUT("%s", digits);
    }
#undef PUT
}

static kiln_status to_strings(kiln_kernel_ctx *ctx, const cast_params *c, const kiln_value_desc *x,
                              kiln_value_desc *y, kiln_error *err) {
    char buf[64];
    int ints = int_class(c->from);
    for (uint64_t start = 0; start < x->count; start += BLOCK) {
        size_t n = x->count - start < BLOCK ? (size_t)(x->count - start) : BLOCK;
        int64_t iv[BLOCK];
        double fv[BLOCK];
        if (ints) load_int(c->from, x->data, start, n, iv);
        else load_float(c->from, x->data, start, n, fv);
        for (size_t i = 0; i < n; i++) {
            if (c->from == KILN_DTYPE_BOOL) snprintf(buf, sizeof(buf), "%s", iv[i] ? "True" : "False");
            else if (c->from == KILN_DTYPE_UINT64) snprintf(buf, sizeof(buf), "%llu", (unsigned long long)iv[i]);
            else if (ints) snprintf(buf, sizeof(buf), "%lld", (long long)iv[i]);
            else format_float(fv[i], c, buf, sizeof(buf));
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, start + i, buf, strlen(buf), err));
        }
    }
    return KILN_OK;
}

/* Trailing text after a number: only spaces are allowed. */
static int only_space(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return *s == '\0';
}

/* Parses element text for an integer-class target into *v (uint64 bits when `uns`): decimal
 * integers, else a float literal truncated ("100.5" → 100); bool also takes true/false. */
static int parse_int(const char *s, int32_t to, int64_t *v) {
    char *end;
    if (to == KILN_DTYPE_BOOL) {
        const char *t = s;
        while (isspace((unsigned char)*t)) t++;
        if (strncasecmp(t, "true", 4) == 0 && only_space(t + 4)) return *v = 1, 1;
        if (strncasecmp(t, "false", 5) == 0 && only_space(t + 5)) return *v = 0, 1;
    }
    errno = 0;
    if (to == KILN_DTYPE_UINT64 && !strchr(s, '-')) {
        unsigned long long u = strtoull(s, &end, 10);
        if (end != s && only_space(end) && !errno) return *v = (int64_t)u, 1;
    } else {
        long long i = strtoll(s, &end, 10);
        if (end != s && only_space(end) && !errno) return *v = i, 1;
    }
    double d = strtod(s, &end);
    if (end == s || !only_space(end)) return 0;
    *v = (int64_t)(to == KILN_DTYPE_UINT64 ? cpu_f2ubits(d) : cpu_f2bits(d));
    if (to == KILN_DTYPE_BOOL) *v = d != 0.0;
    return 1;
}

static kiln_status from_strings(kiln_kernel_ctx *ctx, const cast_params *c, const kiln_value_desc *x,
                                kiln_value_desc *y, kiln_error *err) {
    char *const *in = x->data;
    if (c->to == KILN_DTYPE_STRING) {
        for (uint64_t i = 0; i < x->count; i++) {
            const char *s = in[i] ? in[i] : "";
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, i, s, strlen(s), err));
        }
        return KILN_OK;
    }
    int ints = int_class(c->to);
    for (uint64_t start = 0; start < x->count; start += BLOCK) {
        size_t n = x->count - start < BLOCK ? (size_t)(x->count - start) : BLOCK;
        int64_t iv[BLOCK];
        double fv[BLOCK];
        for (size_t i = 0; i < n; i++) {
            const char *s = in[start + i] ? in[start + i] : "";
            char *end;
            int ok = ints ? parse_int(s, c->to, &iv[i]) : (fv[i] = strtod(s, &end), end != s && only_space(end));
            if (!ok)
                return cpu_fail(err, KILN_ERR_SHAPE, "element %llu (\"%.40s\") is not a number that %s can hold",
                                (unsigned long long)(start + i), s, cpu_dtype_name(c->to));
        }
        if (ints) store_int(c, y->data, start, n, iv, c->to == KILN_DTYPE_UINT64);
        else store_float(c, y->data, start, n, fv);
    }
    return KILN_OK;
}

/* ---- the kernel ---- */

typedef struct cast_kernel {
    cpu_kernel base;
    cast_params c;
    cpu_ew_map direct; /* a direct loop for this pair, or NULL */
    cpu_ew_spec spec;  /* element sizes for the direct loop */
} cast_kernel;

typedef struct cast_job {
    const cast_params *c;
    const void *x;
    void *y;
    uint64_t count;
} cast_job;

/* Ranges of blocks, so packed outputs are written a whole byte at a time by one thread. */
static void cast_range(void *arg, size_t begin, size_t end) {
    const cast_job *j = arg;
    for (size_t b = begin; b < end; b++) {
        uint64_t start = (uint64_t)b * BLOCK;
        size_t n = j->count - start < BLOCK ? (size_t)(j->count - start) : BLOCK;
        cast_block(j->c, j->x, j->y, start, n);
    }
}

static size_t storage_bytes(int32_t dt, uint64_t count) {
    int bits = sub_bits(dt);
    return bits ? (size_t)((count * (uint64_t)bits + 7) / 8) : (size_t)count * cpu_dtype_size(dt);
}

static kiln_status cast_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const cast_kernel *k = (const cast_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    if (k->c.from == KILN_DTYPE_STRING) return from_strings(ctx, &k->c, x, y, err);
    if (k->c.to == KILN_DTYPE_STRING) return to_strings(ctx, &k->c, x, y, err);
    if (k->c.from == k->c.to) {
        if (x->data != y->data) memcpy(y->data, x->data, storage_bytes(k->c.from, x->count));
        return KILN_OK;
    }
    if (k->direct) {
        cpu_ew_map_run(ctx, k->direct, NULL, &k->spec, x->data, y->data, x->count);
        return KILN_OK;
    }
    cast_job j = {&k->c, x->data, y->data, x->count};
    cpu_parallel_for(ctx, (size_t)((x->count + BLOCK - 1) / BLOCK), 64, cast_range, &j);
    return KILN_OK;
}

static int castable(int32_t dt) { return dt == KILN_DTYPE_STRING || int_class(dt) || float_class(dt); }

/* Cast and CastLike: the target is the output's dtype, set by shape inference. */
kiln_status kiln_cpu_cast(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t from = cpu_input_dtype(n, 0), to = cpu_output_info(n, 0).dtype;
    if (!castable(from) || !castable(to))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s from %s to %s is not supported", n->op_type, cpu_dtype_name(from),
                        cpu_dtype_name(to));
    const char *rm = cpu_attr_str(n, "round_mode", "up");
    int mode = strcmp(rm, "up") == 0 ? KILN_E8M0_UP : strcmp(rm, "down") == 0 ? KILN_E8M0_DOWN
               : strcmp(rm, "nearest") == 0 ? KILN_E8M0_NEAREST : -1;
    if (mode < 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s round_mode must be \"up\", \"down\" or \"nearest\", not \"%s\"",
                        n->op_type, rm);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(cast_kernel), cast_compute, out, err));
    cast_kernel *k = (cast_kernel *)*out;
    k->c.from = from;
    k->c.to = to;
    k->c.saturate = cpu_attr_int(n, "saturate", 1) != 0;
    k->c.round_mode = mode;
    for (size_t i = 0; i < sizeof(directs) / sizeof(directs[0]); i++)
        if (directs[i].from == from && directs[i].to == to) k->direct = directs[i].f;
    k->spec.ea = cpu_dtype_size(from);
    k->spec.eo = cpu_dtype_size(to);
    return KILN_OK;
}

/* ---- BitCast: the same bytes under another type of the same width ---- */

typedef struct bitcast_kernel {
    cpu_kernel base;
    int32_t dtype;
} bitcast_kernel;

static kiln_status bitcast_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const bitcast_kernel *k = (const bitcast_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->data != y->data) memcpy(y->data, x->data, storage_bytes(k->dtype, x->count));
    return KILN_OK;
}

kiln_status kiln_cpu_bitcast(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t from = cpu_input_dtype(n, 0), to = cpu_output_info(n, 0).dtype;
    size_t bf = sub_bits(from) ? (size_t)sub_bits(from) : cpu_dtype_size(from) * 8;
    size_t bt = sub_bits(to) ? (size_t)sub_bits(to) : cpu_dtype_size(to) * 8;
    if (from == KILN_DTYPE_STRING || to == KILN_DTYPE_STRING || !bf || bf != bt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "BitCast from %s to %s is not supported", cpu_dtype_name(from),
                        cpu_dtype_name(to));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(bitcast_kernel), bitcast_compute, out, err));
    ((bitcast_kernel *)*out)->dtype = from;
    return KILN_OK;
}
