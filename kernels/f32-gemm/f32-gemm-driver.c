/* SPDX-License-Identifier: MIT */
/* The fp32 GEMM macro-kernel (docs/kernels.md §3): one thread's rectangle of C, blocked so a
 * kc-long A panel and B panel stay in L1 and an mc x kc block of A in L2. The first K block
 * writes C (or adds, with KILN_GEMM_ACCUMULATE), the last applies the epilogue while the tile is
 * still in cache; activations the microkernel does not apply in registers run here on the tile. */
#include "kernels/f32-gemm/f32-gemm.h"

void kiln_f32_gemm_packed(const kiln_f32_gemm_config *cfg, size_t m, size_t n, size_t k, const float *a_packed,
                          kiln_f32_bview b, size_t i0, size_t i1, size_t j0, size_t j1, float *c, size_t ldc,
                          uint32_t flags, const kiln_f32_epilogue *ep) {
    size_t mr = cfg->mr, nr = cfg->nr, kc = cfg->kc, mc = cfg->mc, nc = cfg->nc;
    if (i1 > m) i1 = m;
    if (j1 > n) j1 = n;
    if (i0 >= i1 || j0 >= j1) return;
    kiln_f32_epilogue none = {0};
    const kiln_f32_epilogue *e = ep ? ep : &none;
    int post_act = !kiln_act_in_registers(e->act);
    size_t kblocks = k ? (k + kc - 1) / kc : 1;
    for (size_t kb = 0; kb < kblocks; kb++) {
        size_t k0 = kb * kc, kcb = k - k0 < kc ? k - k0 : kc;
        if (!k) kcb = 0;
        uint32_t f = (kb == 0 ? (flags & KILN_GEMM_ACCUMULATE) : KILN_GEMM_ACCUMULATE) |
                     (kb == kblocks - 1 ? KILN_GEMM_EPILOGUE : 0u);
        for (size_t jb = j0; jb < j1; jb += nc) {
            size_t jb1 = jb + nc < j1 ? jb + nc : j1;
            for (size_t ib = i0; ib < i1; ib += mc) {
                size_t ib1 = ib + mc < i1 ? ib + mc : i1;
                for (size_t j = jb; j < jb1; j += nr) {
                    size_t nn = jb1 - j < nr ? jb1 - j : nr;
                    const float *bp;
                    size_t ldb;
                    if (b.ldb) {
                        bp = b.data + k0 * b.ldb + j;
                        ldb = b.ldb;
                    } else {
                        bp = b.data + (j / nr) * k * nr + k0 * nr;
                        ldb = nr;
                    }
                    for (size_t i = ib; i < ib1; i += mr) {
                        size_t mm = ib1 - i < mr ? ib1 - i : mr;
                        const float *ap = a_packed + (i / mr) * k * mr + k0 * mr;
                        float *ct = c + i * ldc + j;
                        kiln_f32_epilogue et = *e;
                        if (f & KILN_GEMM_EPILOGUE) {
                            if (et.bias) et.bias += et.bias_per_row ? i : j;
                            if (et.residual) et.residual += i * et.ld_residual + j;
                        }
                        cfg->ukernel[mm](mm, nn, kcb, ap, bp, ldb, ct, ldc, f, &et);
                        if ((f & KILN_GEMM_EPILOGUE) && post_act)
                            for (size_t r = 0; r < mm; r++) kiln_f32_vact(nn, ct + r * ldc, ct + r * ldc, e->act, e->p0, e->p1);
                    }
                }
            }
        }
    }
}
