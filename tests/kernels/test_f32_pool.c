/* SPDX-License-Identifier: MIT */
/* The 2-D pooling kernels (kernels/f32-pool) at every ISA level this CPU has against a naive
 * reference: max and average (with and without count_include_pad), kernels 1..5, strides 1..3,
 * dilations 1..2, asymmetric pads (trailing ones as ceil_mode makes them), widths across the
 * vector width, and -Inf/NaN-free windows of -Inf values. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/config/cpu.h"
#include "kernels/f32-pool/f32-pool.h"

static unsigned rng = 4321u;
static unsigned irand(unsigned n) {
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % n;
}
static float frand(void) { return (float)irand(65536) / 32768.0f - 1.0f; }

static void check(const kiln_f32_pool_params *p, const char *isa, int neg_inf) {
    size_t isz = (size_t)(p->ih * p->iw), osz = (size_t)(p->oh * p->ow);
    float *x = malloc(sizeof(float) * isz), *y = malloc(sizeof(float) * osz);
    float *work = malloc(sizeof(float) * kiln_f32_pool_work_size(p));
    for (size_t i = 0; i < isz; i++) x[i] = neg_inf ? -INFINITY : frand();
    kiln_f32_pool_get()(p, x, work, y);
    for (int64_t oh = 0; oh < p->oh; oh++)
        for (int64_t ow = 0; ow < p->ow; ow++) {
            double best = -INFINITY, sum = 0;
            int64_t cnt = 0, padded = 0;
            for (int64_t a = 0; a < p->kh; a++)
                for (int64_t b = 0; b < p->kw; b++) {
                    int64_t r = oh * p->sh - p->ph + a * p->dh, c = ow * p->sw - p->pw + b * p->dw;
                    if (r < p->ih + p->eh && c < p->iw + p->ew) padded++;
                    if (r < 0 || r >= p->ih || c < 0 || c >= p->iw) continue;
                    double v = x[r * p->iw + c];
                    best = v > best ? v : best;
                    sum += v;
                    cnt++;
                }
            double want;
            if (p->kind == KILN_POOL_MAX) want = cnt ? best : -FLT_MAX;
            else {
                int64_t div = p->count_include_pad ? padded : cnt;
                want = div ? sum / (double)div : 0.0;
            }
            double got = y[oh * p->ow + ow];
            if (!(got == want || fabs(got - want) <= 1e-5 * (1 + fabs(want))))
                ck_abort_msg("%s kind %d: %lldx%lld k%lldx%lld s%lld,%lld d%lld,%lld p%lld,%lld e%lld,%lld cip %d: "
                             "y[%lld][%lld] = %g, want %g",
                             isa, p->kind, (long long)p->ih, (long long)p->iw, (long long)p->kh, (long long)p->kw,
                             (long long)p->sh, (long long)p->sw, (long long)p->dh, (long long)p->dw, (long long)p->ph,
                             (long long)p->pw, (long long)p->eh, (long long)p->ew, p->count_include_pad,
                             (long long)oh, (long long)ow, got, want);
        }
    free(x), free(y), free(work);
}

START_TEST(pool_every_isa) {
    const kiln_cpu_info *cpu = kiln_cpu();
    static const int levels[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};
    static const char *names[] = {"scalar", "avx2", "avx512"};
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        for (int r = 0; r < 400; r++) {
            kiln_f32_pool_params p;
            p.kh = 1 + irand(5), p.kw = 1 + irand(5), p.sh = 1 + irand(3), p.sw = 1 + irand(3);
            p.dh = 1 + irand(2), p.dw = 1 + irand(2);
            p.ph = irand((unsigned)p.kh), p.pw = irand((unsigned)p.kw);
            p.eh = irand((unsigned)p.kh), p.ew = irand((unsigned)p.kw);
            p.ih = (p.kh - 1) * p.dh + 1 + irand(9), p.iw = (p.kw - 1) * p.dw + 1 + irand(60);
            if (r % 9 == 0) p.ih = 1, p.kh = 1, p.sh = 1, p.dh = 1, p.ph = 0, p.eh = 0; /* 1-D */
            p.oh = (p.ih + p.ph + p.eh - (p.kh - 1) * p.dh - 1) / p.sh + 1;
            p.ow = (p.iw + p.pw + p.ew - (p.kw - 1) * p.dw - 1) / p.sw + 1;
            p.kind = irand(2) ? KILN_POOL_MAX : KILN_POOL_AVG;
            p.count_include_pad = (int32_t)irand(2);
            check(&p, names[l], r % 50 == 49);
        }
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernels-f32-pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, pool_every_isa);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
