/* SPDX-License-Identifier: MIT */
/* kernels/u8s8-gemm: exact int32 results and bit-exact epilogues of every u8 x s8 GEMM kernel
 * this machine can run (each ISA level forced in turn), against a 64-bit reference, on shapes
 * across the tile edges (1, primes, tile - 1, tile, tile + 1), zero points at the extremes,
 * u8 and s8 B (u8 through the ^ 0x80 shift), both correction forms (zero point per column of B
 * with A's row sums; zero point per row of A with B's column sums), per-row and per-column
 * scales, and no write outside the tile. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config/qgemm-config.h"

static uint32_t rng = 12345u;
static uint32_t rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static const kiln_isa levels[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVXVNNI, KILN_ISA_AVX512VNNI};
static const size_t ms[] = {1, 3, 5, 7, 8, 9, 13, 17};
static const size_t ns[] = {1, 15, 16, 17, 31, 33, 47};
static const size_t ks[] = {1, 2, 3, 4, 5, 13, 64, 67};

#define SENT 0x5a

typedef struct cas {
    size_t m, n, k;
    int b_u8;        /* B is u8 (packed through ^ 0x80) */
    int per_row_za;  /* correction form: zero point per row of A (else per column of B) */
    uint8_t *a;
    uint8_t *b;      /* raw bytes, u8 or s8 */
    int32_t *za, *zb; /* zero points as the op sees them (za[m] or za[0]; zb[n] or zb[0]) */
    int64_t *ref;
} cas;

static int32_t bval(const cas *t, size_t p, size_t j) {
    uint8_t v = t->b[p * t->n + j];
    return t->b_u8 ? (int32_t)v : (int32_t)(int8_t)v;
}

static void make(cas *t, size_t m, size_t n, size_t k, int b_u8, int per_row_za, int zsel) {
    t->m = m, t->n = n, t->k = k, t->b_u8 = b_u8, t->per_row_za = per_row_za;
    t->a = malloc(m * k + 1), t->b = malloc(k * n + 1);
    t->za = malloc(m * sizeof(int32_t)), t->zb = malloc(n * sizeof(int32_t));
    t->ref = malloc(m * n * sizeof(int64_t));
    for (size_t i = 0; i < m * k; i++) t->a[i] = (uint8_t)(zsel == 3 ? 255 : rnd());
    for (size_t i = 0; i < k * n; i++) t->b[i] = (uint8_t)(zsel == 3 ? (b_u8 ? 0 : 0x80) : rnd());
    static const int32_t zu8[] = {0, 255, 128, 3}, zs8[] = {-128, 127, 0, -5};
    for (size_t i = 0; i < m; i++) t->za[i] = per_row_za ? (int32_t)(rnd() & 255) : zu8[zsel];
    if (per_row_za && m) t->za[0] = zu8[zsel];
    for (size_t j = 0; j < n; j++) {
        int32_t z = b_u8 ? zu8[zsel] : zs8[zsel];
        t->zb[j] = per_row_za ? z : (j % 3 == 1 ? (b_u8 ? (int32_t)(rnd() & 255) : (int32_t)(rnd() & 255) - 128) : z);
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int64_t s = 0;
            for (size_t p = 0; p < k; p++) s += (int64_t)(t->a[i * k + p] - t->za[i]) * (bval(t, p, j) - t->zb[j]);
            t->ref[i * n + j] = s;
        }
}

static void drop(cas *t) {
    free(t->a), free(t->b), free(t->za), free(t->zb), free(t->ref);
}

/* Runs t through cfg with every output kind; returns the number of mismatches. */
static int check_case(const kiln_qgemm_config *cfg, const cas *t) {
    size_t m = t->m, n = t->n, k = t->k, ldc = n + 3;
    int8_t *packed = malloc(kiln_u8s8_packed_size(k, n));
    int32_t *colsum = malloc(n * sizeof(int32_t)), *rowsum = malloc(m * sizeof(int32_t));
    int32_t *row_add = calloc(m, sizeof(int32_t)), *col_add = calloc(n, sizeof(int32_t));
    int32_t *zb2 = malloc(n * sizeof(int32_t)), *row_mul = malloc(m * sizeof(int32_t));
    float *scale = malloc((m > n ? m : n) * sizeof(float)), *fbias = malloc((m > n ? m : n) * sizeof(float));
    kiln_u8s8_pack_b(k, 0, n, t->b, n, t->b_u8 ? 0x80 : 0, packed, colsum);
    kiln_u8_rowsum(m, k, t->a, k, 0, rowsum);
    for (size_t j = 0; j < n; j++) zb2[j] = t->zb[j] - (t->b_u8 ? 128 : 0);
    kiln_qgemm_epilogue ep = {0};
    if (t->per_row_za) {
        /* c = acc - za[i] colsum[j] - zb (rowsum[i] - k za[i]) */
        for (size_t i = 0; i < m; i++) row_add[i] = -zb2[0] * (rowsum[i] - (int32_t)k * t->za[i]), row_mul[i] = t->za[i];
        ep.row_add = row_add, ep.row_mul = row_mul, ep.col_mul = colsum;
    } else {
        /* c = acc - zb[j] rowsum[i] - za colsum[j] + k za zb[j] */
        for (size_t j = 0; j < n; j++) col_add[j] = -t->za[0] * colsum[j] + (int32_t)k * t->za[0] * zb2[j];
        ep.col_add = col_add, ep.row_mul = rowsum, ep.col_mul = zb2;
    }
    for (size_t i = 0; i < (m > n ? m : n); i++) scale[i] = (float)(rnd() % 1000 + 1) * 1e-5f, fbias[i] = (float)(rnd() % 200) - 100.0f;
    int bad = 0;
    uint8_t *c = malloc(m * ldc * 4 + 1), *want = malloc(m * ldc * 4 + 1);
    for (int out = KILN_QGEMM_OUT_S32; out <= KILN_QGEMM_OUT_F32; out++) {
        for (int per_row = 0; per_row < 2 && !bad; per_row++) {
            ep.out = (kiln_qgemm_out)out, ep.scale = scale, ep.scale_per_row = per_row, ep.fbias = per_row ? NULL : fbias;
            ep.zy = out == KILN_QGEMM_OUT_U8 ? (per_row ? 0 : 255) : out == KILN_QGEMM_OUT_S8 ? (per_row ? -128 : 127) : 0;
            size_t es = kiln_qgemm_out_size(ep.out);
            memset(c, SENT, m * ldc * es);
            memset(want, SENT, m * ldc * es);
            /* the reference: the exact sum, then the scalar epilogue with no correction */
            kiln_qgemm_epilogue re = ep;
            re.row_add = re.col_add = re.row_mul = re.col_mul = NULL;
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) kiln_qgemm_store1(&re, (int32_t)t->ref[i * n + j], i, j, want, i * ldc + j);
            /* two column blocks, as threads would split C */
            size_t nsplit = n > 16 ? 16 : n;
            kiln_u8s8_gemm_run(cfg, 0, m, 0, nsplit, k, t->a, k, packed, c, ldc, &ep);
            kiln_u8s8_gemm_run(cfg, 0, m, nsplit, n, k, t->a, k, packed, c, ldc, &ep);
            if (memcmp(c, want, m * ldc * es)) {
                for (size_t x = 0; x < m * ldc * es && bad < 3; x++)
                    if (c[x] != want[x]) {
                        fprintf(stderr, "%s m=%zu n=%zu k=%zu b_u8=%d per_row_za=%d out=%d scale_per_row=%d: byte %zu got %02x want %02x\n",
                                cfg->name, m, n, k, t->b_u8, t->per_row_za, out, per_row, x, c[x], want[x]);
                        bad++;
                    }
                if (!bad) bad = 1;
            }
        }
    }
    free(c), free(want), free(packed), free(colsum), free(rowsum), free(row_add), free(col_add), free(zb2),
        free(row_mul), free(scale), free(fbias);
    return bad;
}


START_TEST(exact_at_every_level) {
    const kiln_isa isa = levels[_i];
    kiln_cpu_set_cap(-1);
    const kiln_qgemm_config *cfg = kiln_qgemm_config_for(isa);
    if (isa == KILN_ISA_SCALAR) ck_assert_ptr_nonnull(cfg);
    if (!cfg) {
        fprintf(stderr, "# u8s8 GEMM: no %s kernel on this machine/build, skipped\n", kiln_isa_name(isa));
        return;
    }
    /* capping at this level selects exactly this kernel when it is the best one below the cap */
    kiln_cpu_set_cap((int)isa);
    const kiln_qgemm_config *sel = kiln_qgemm_config_get();
    ck_assert_int_le(sel->isa, isa);
    kiln_cpu_set_cap(-1);
    int bad = 0;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
                cas t;
                int v = (int)(a + b + c);
                make(&t, ms[a], ns[b], ks[c], v & 1, (v >> 1) & 1, v % 4);
                bad += check_case(cfg, &t);
                drop(&t);
            }
    /* larger odd shapes and the all-extreme case (255 x -128 everywhere, k large) */
    static const size_t big[][3] = {{37, 97, 301}, {8, 64, 1024}, {9, 33, 4099}};
    for (size_t s = 0; s < 3; s++)
        for (int z = 0; z < 4; z++) {
            cas t;
            make(&t, big[s][0], big[s][1], big[s][2], z & 1, z >> 1, s == 2 ? 3 : z);
            bad += check_case(cfg, &t);
            drop(&t);
        }
    ck_assert_int_eq(bad, 0);
}
END_TEST

START_TEST(detected_level_has_its_kernel) {
    kiln_cpu_set_cap(-1);
    const kiln_cpu_info *cpu = kiln_cpu();
    const kiln_qgemm_config *cfg = kiln_qgemm_config_get();
    if (cpu->avx512vnni && cpu->level >= KILN_ISA_AVX512VNNI) ck_assert_int_eq(cfg->isa, KILN_ISA_AVX512VNNI);
    else if (cpu->avxvnni) ck_assert_int_eq(cfg->isa, KILN_ISA_AVXVNNI);
    else if (cpu->avx2) ck_assert_int_eq(cfg->isa, KILN_ISA_AVX2);
    else ck_assert_int_eq(cfg->isa, KILN_ISA_SCALAR);
    fprintf(stderr, "# u8s8 GEMM on %s: %s\n", cpu->brand, cfg->name);
}
END_TEST

START_TEST(packing_layout_and_sums) {
    /* k = 6, n = 18: two panels, the second with 2 columns; u8 source shifted to s8 */
    uint8_t b[6 * 18];
    for (size_t i = 0; i < sizeof b; i++) b[i] = (uint8_t)(i * 7 + 1);
    int8_t packed[2 * 2 * 64];
    int32_t cs[18];
    ck_assert_uint_eq(kiln_u8s8_packed_size(6, 18), sizeof packed);
    kiln_u8s8_pack_b(6, 0, 18, b, 18, 0x80, packed, cs);
    for (size_t j = 0; j < 32; j++) {
        int32_t s = 0;
        for (size_t p = 0; p < 8; p++) {
            int8_t want = p < 6 && j < 18 ? (int8_t)(b[p * 18 + j] - 128) : 0;
            ck_assert_int_eq(packed[j / 16 * 128 + p / 4 * 64 + 4 * (j % 16) + p % 4], want);
            s += want;
        }
        if (j < 18) ck_assert_int_eq(cs[j], s);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("u8s8-gemm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, exact_at_every_level, 0, (int)(sizeof levels / sizeof levels[0]));
    tcase_add_test(tc, detected_level_has_its_kernel);
    tcase_add_test(tc, packing_layout_and_sums);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
