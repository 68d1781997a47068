/* SPDX-License-Identifier: MIT */
/* Tool helpers (see values.h). */
#include "values.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double tool_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0x1f) u = sign | 0x7f800000u | (man << 13);
    else if (exp == 0) {
        float f = (float)man / 16777216.0f;
        return sign ? -f : f;
    } else u = sign | ((exp + 112u) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double tool_element(const kiln_tensor *t, size_t i) {
    const void *p = kiln_tensor_data_const(t);
    switch (kiln_tensor_dtype(t)) {
    case KILN_DTYPE_FLOAT: return ((const float *)p)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)p)[i];
    case KILN_DTYPE_FLOAT16: return half_to_float(((const uint16_t *)p)[i]);
    case KILN_DTYPE_BFLOAT16: return bf16_to_float(((const uint16_t *)p)[i]);
    case KILN_DTYPE_INT8: return ((const int8_t *)p)[i];
    case KILN_DTYPE_UINT8: case KILN_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)p)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)p)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case KILN_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case KILN_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    default: return NAN;
    }
}

void tool_shape_string(const kiln_tensor *t, char *buf, size_t len) {
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int32_t i = 0; i < kiln_tensor_rank(t) && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "," : "", (long long)kiln_tensor_dims(t)[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
}

/* ---- .npy ---- */

static int npy_dtype(const char *descr, kiln_dtype *dt) {
    static const struct { const char *d; kiln_dtype t; } map[] = {
        {"f4", KILN_DTYPE_FLOAT}, {"f8", KILN_DTYPE_DOUBLE}, {"f2", KILN_DTYPE_FLOAT16}, {"i1", KILN_DTYPE_INT8},
        {"u1", KILN_DTYPE_UINT8}, {"i2", KILN_DTYPE_INT16}, {"u2", KILN_DTYPE_UINT16}, {"i4", KILN_DTYPE_INT32},
        {"u4", KILN_DTYPE_UINT32}, {"i8", KILN_DTYPE_INT64}, {"u8", KILN_DTYPE_UINT64}, {"b1", KILN_DTYPE_BOOL},
    };
    if (descr[0] == '>') return 0; /* big-endian data */
    const char *d = descr[0] == '<' || descr[0] == '|' || descr[0] == '=' ? descr + 1 : descr;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(d, map[i].d) == 0) {
            *dt = map[i].t;
            return 1;
        }
    return 0;
}

static kiln_status load_npy(kiln_env *env, const char *path, kiln_tensor **out, kiln_error *err) {
    kiln_status bad = KILN_ERR_INVALID_ARGUMENT;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof(err->msg), "cannot open '%s'", path);
        return err->status = KILN_ERR_IO;
    }
    unsigned char magic[10];
    char header[4096], descr[16] = "";
    int64_t dims[KILN_MAX_RANK];
    int32_t rank = 0;
    kiln_status s = bad;
    if (fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6) != 0) goto fail;
    size_t hl = magic[8] | (size_t)magic[9] << 8;
    if (magic[6] >= 2) {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) goto fail;
        hl |= (size_t)more[0] << 16 | (size_t)more[1] << 24;
    }
    if (hl >= sizeof(header) || fread(header, 1, hl, f) != hl) goto fail;
    header[hl] = '\0';
    const char *p = strstr(header, "'descr':");
    if (!p || sscanf(p + 8, " '%15[^']'", descr) != 1) goto fail;
    if (strstr(header, "'fortran_order': True")) goto fail;
    p = strstr(header, "'shape':");
    if (!p || !(p = strchr(p, '('))) goto fail;
    for (p++; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p) || rank >= KILN_MAX_RANK) goto fail;
        dims[rank++] = strtoll(p, (char **)&p, 10);
    }
    kiln_dtype dt;
    if (!npy_dtype(descr, &dt)) goto fail;
    if ((s = kiln_tensor_create(env, dt, dims, rank, out, err)) != KILN_OK) goto done;
    size_t bytes = kiln_tensor_byte_size(*out);
    if (bytes && fread(kiln_tensor_data(*out), 1, bytes, f) != bytes) {
        kiln_tensor_destroy(*out);
        *out = NULL;
        s = bad;
        goto fail;
    }
    goto done;
fail:
    snprintf(err->msg, sizeof(err->msg), "'%s' is not a .npy file Kiln reads (little-endian, C order, numeric dtype)", path);
    err->status = s = bad;
done:
    fclose(f);
    return s;
}

kiln_status tool_load_value(kiln_env *env, const char *path, kiln_value_kind kind, kiln_tensor **out, kiln_error *err) {
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".npy") == 0) return load_npy(env, path, out, err);
    return kiln_tensor_load_proto(env, path, kind, out, err);
}

/* ---- random data ---- */

static uint64_t next(uint64_t *s) {
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

kiln_status tool_random_tensor(kiln_env *env, kiln_dtype dtype, const int64_t *dims, int32_t rank, uint64_t seed,
                               kiln_tensor **out, kiln_error *err) {
    kiln_status s = kiln_tensor_create(env, dtype, dims, rank, out, err);
    if (s != KILN_OK) return s;
    int64_t count = kiln_tensor_element_count(*out);
    void *p = kiln_tensor_data(*out);
    uint64_t st = seed;
    for (int64_t i = 0; i < count; i++) {
        uint64_t r = next(&st);
        double u = (double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        int64_t k = (int64_t)(r % 4);
        switch (dtype) {
        case KILN_DTYPE_FLOAT: ((float *)p)[i] = (float)u; break;
        case KILN_DTYPE_DOUBLE: ((double *)p)[i] = u; break;
        case KILN_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)k; break;
        case KILN_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)k; break;
        case KILN_DTYPE_BOOL: ((uint8_t *)p)[i] = (uint8_t)(k & 1); break;
        case KILN_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)k; break;
        case KILN_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)k; break;
        case KILN_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)k; break;
        case KILN_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)k; break;
        case KILN_DTYPE_INT64: ((int64_t *)p)[i] = k; break;
        case KILN_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)k; break;
        case KILN_DTYPE_FLOAT16: {
            /* u in [-1, 1): a float16 with a 10-bit mantissa is exact for multiples of 2^-10 */
            float f = (float)((int)(u * 1024.0)) / 1024.0f;
            uint32_t b;
            memcpy(&b, &f, 4);
            uint16_t h = (uint16_t)((b >> 16) & 0x8000u);
            if (f != 0.0f) h |= (uint16_t)((((b >> 23) & 0xff) - 112) << 10 | ((b >> 13) & 0x3ff));
            ((uint16_t *)p)[i] = h;
            break;
        }
        case KILN_DTYPE_BFLOAT16: {
            float f = (float)u;
            uint32_t b;
            memcpy(&b, &f, 4);
            ((uint16_t *)p)[i] = (uint16_t)(b >> 16);
            break;
        }
        case KILN_DTYPE_STRING: {
            char buf[32];
            int len = snprintf(buf, sizeof(buf), "s%lld", (long long)k);
            if ((s = kiln_tensor_set_string(*out, (size_t)i, buf, (size_t)len, err)) != KILN_OK) {
                kiln_tensor_destroy(*out);
                *out = NULL;
                return s;
            }
            break;
        }
        default: break; /* other types stay zero */
        }
    }
    return KILN_OK;
}

/* ---- comparison ---- */

static int compare_tensor(const kiln_tensor *want, const kiln_tensor *got, double rtol, double atol, char *why, size_t wl) {
    char ws[128], gs[128];
    tool_shape_string(want, ws, sizeof(ws));
    tool_shape_string(got, gs, sizeof(gs));
    if (kiln_tensor_dtype(want) != kiln_tensor_dtype(got)) {
        snprintf(why, wl, "dtype %s, expected %s", kiln_dtype_name(kiln_tensor_dtype(got)), kiln_dtype_name(kiln_tensor_dtype(want)));
        return 0;
    }
    if (strcmp(ws, gs) != 0) {
        snprintf(why, wl, "shape %s, expected %s", gs, ws);
        return 0;
    }
    int64_t n = kiln_tensor_element_count(want);
    kiln_dtype dt = kiln_tensor_dtype(want);
    if (dt == KILN_DTYPE_STRING) {
        for (int64_t i = 0; i < n; i++)
            if (strcmp(kiln_tensor_string(want, (size_t)i), kiln_tensor_string(got, (size_t)i)) != 0) {
                snprintf(why, wl, "element %lld is \"%s\", expected \"%s\"", (long long)i, kiln_tensor_string(got, (size_t)i),
                         kiln_tensor_string(want, (size_t)i));
                return 0;
            }
        return 1;
    }
    if (kiln_dtype_bits(dt) < 8 || dt == KILN_DTYPE_COMPLEX64 || dt == KILN_DTYPE_COMPLEX128 ||
        (dt >= KILN_DTYPE_FLOAT8E4M3FN && dt <= KILN_DTYPE_FLOAT8E5M2FNUZ) || dt == KILN_DTYPE_FLOAT8E8M0) {
        /* Types without a numeric reading here compare bit for bit. */
        if (memcmp(kiln_tensor_data_const(want), kiln_tensor_data_const(got), kiln_tensor_byte_size(want)) != 0) {
            snprintf(why, wl, "%s data differs", kiln_dtype_name(dt));
            return 0;
        }
        return 1;
    }
    int exact = dt == KILN_DTYPE_INT64 || dt == KILN_DTYPE_UINT64;
    for (int64_t i = 0; i < n; i++) {
        if (exact) {
            const void *a = (const char *)kiln_tensor_data_const(want) + i * 8, *b = (const char *)kiln_tensor_data_const(got) + i * 8;
            if (memcmp(a, b, 8) == 0) continue;
        }
        double w = tool_element(want, (size_t)i), g = tool_element(got, (size_t)i);
        if (isnan(w) && isnan(g)) continue;
        if (isinf(w) && w == g) continue;
        if (!(fabs(g - w) <= atol + rtol * fabs(w))) {
            snprintf(why, wl, "element %lld is %.9g, expected %.9g (|diff| %.3g > atol %.3g + rtol %.3g * |expected|)",
                     (long long)i, g, w, fabs(g - w), atol, rtol);
            return 0;
        }
    }
    return 1;
}

int tool_compare(const kiln_tensor *want, const kiln_tensor *got, double rtol, double atol, char *why, size_t wl) {
    kiln_value_kind wk = kiln_tensor_kind(want), gk = kiln_tensor_kind(got);
    if (wk == KILN_VALUE_OPTIONAL || gk == KILN_VALUE_OPTIONAL) {
        const kiln_tensor *wv = wk == KILN_VALUE_OPTIONAL ? kiln_optional_value(want) : want;
        const kiln_tensor *gv = gk == KILN_VALUE_OPTIONAL ? kiln_optional_value(got) : got;
        if (!wv || !gv) {
            if (wv == gv) return 1;
            snprintf(why, wl, "optional is %s, expected %s", gv ? "present" : "empty", wv ? "present" : "empty");
            return 0;
        }
        return tool_compare(wv, gv, rtol, atol, why, wl);
    }
    if (wk != gk) {
        snprintf(why, wl, "value kinds differ (%d vs %d)", (int)gk, (int)wk);
        return 0;
    }
    if (wk == KILN_VALUE_SEQUENCE) {
        size_t n = kiln_sequence_length(want);
        if (kiln_sequence_length(got) != n) {
            snprintf(why, wl, "sequence has %zu items, expected %zu", kiln_sequence_length(got), n);
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            char inner[256];
            if (!compare_tensor(kiln_sequence_item(want, i), kiln_sequence_item(got, i), rtol, atol, inner, sizeof(inner))) {
                snprintf(why, wl, "item %zu: %s", i, inner);
                return 0;
            }
        }
        return 1;
    }
    return compare_tensor(want, got, rtol, atol, why, wl);
}

/* ---- summaries ---- */

void tool_summary(FILE *f, const kiln_tensor *t) {
    char shape[128];
    kiln_value_kind k = kiln_tensor_kind(t);
    if (k == KILN_VALUE_OPTIONAL) {
        const kiln_tensor *v = kiln_optional_value(t);
        if (!v) {
            fprintf(f, "optional(empty)");
            return;
        }
        fprintf(f, "optional ");
        tool_summary(f, v);
        return;
    }
    if (k == KILN_VALUE_SEQUENCE) {
        fprintf(f, "sequence<%s> of %zu", kiln_dtype_name(kiln_tensor_dtype(t)), kiln_sequence_length(t));
        return;
    }
    tool_shape_string(t, shape, sizeof(shape));
    kiln_dtype dt = kiln_tensor_dtype(t);
    int64_t n = kiln_tensor_element_count(t);
    fprintf(f, "%s %s", kiln_dtype_name(dt), shape);
    if (dt == KILN_DTYPE_STRING) {
        for (int64_t i = 0; i < n && i < 4; i++) fprintf(f, "%s\"%s\"", i ? ", " : " [", kiln_tensor_string(t, (size_t)i));
        if (n) fprintf(f, "%s]", n > 4 ? ", ..." : "");
        return;
    }
    if (n && kiln_dtype_bits(dt) < 8 && isnan(tool_element(t, 0))) return;
    double mn = INFINITY, mx = -INFINITY, sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = tool_element(t, (size_t)i);
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        sum += v;
    }
    if (n) fprintf(f, " min=%.6g max=%.6g mean=%.6g", mn, mx, sum / (double)n);
    for (int64_t i = 0; i < n && i < 5; i++) fprintf(f, "%s%.6g", i ? ", " : " first=[", tool_element(t, (size_t)i));
    if (n) fprintf(f, "%s]", n > 5 ? ", ..." : "");
}
