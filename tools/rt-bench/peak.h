/* SPDX-License-Identifier: MIT */
/* The per-ISA measuring loops of `rt-bench peak`, each in its own file compiled with its own
 * flags (peak-fma-sse.c, peak-avx2.c, peak-avx512.c, peak-avxvnni.c, peak-avx512vnni.c, peak-amx.c).
 * Each runs `iters` iterations of a fixed instruction mix and returns the operations done
 * (FLOPs, or int8 ops with a multiply-add counted as 2). Call only where kiln_cpu() allows. */
#ifndef KILN_RT_BENCH_PEAK_H
#define KILN_RT_BENCH_PEAK_H

#include <stddef.h>
#include <stdint.h>

double rb_peak_fma128(uint64_t iters);     /* vfmadd on xmm (FMA3) */
double rb_peak_fma256(uint64_t iters);     /* vfmadd on ymm */
double rb_peak_fma512(uint64_t iters);     /* vfmadd on zmm */
double rb_peak_vnni256(uint64_t iters);    /* vpdpbusd ymm (AVX-VNNI) */
double rb_peak_vnni512(uint64_t iters);    /* vpdpbusd zmm (AVX512-VNNI) */
int rb_peak_amx_available(void);           /* compiled in */
double rb_peak_amx(uint64_t iters);        /* tdpbusd, 16x64 by 64x16 int8 tiles */

/* Sums `n` floats (n a multiple of 64, 64-byte aligned) with wide loads; returns the sum so the
 * loads are not dropped. */
float rb_read_avx2(const float *p, size_t n);
float rb_read_avx512(const float *p, size_t n);

#endif
