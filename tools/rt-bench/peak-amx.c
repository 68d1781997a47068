/* SPDX-License-Identifier: MIT */
/* AMX tdpbusd throughput: four accumulator tiles (16x16 int32), A tiles 16x64 int8, B tiles
 * 16x64 (VNNI-packed 64x16). Compiled with -mamx-tile -mamx-int8 where the compiler knows AMX
 * (RB_HAVE_AMX); call only when kiln_cpu()->amx_int8 (the OS permission is requested there). */
#include "peak.h"

#ifdef RB_HAVE_AMX
#include <immintrin.h>
#include <string.h>

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

int rb_peak_amx_available(void) { return 1; }

double rb_peak_amx(uint64_t iters) {
    static _Alignas(64) int8_t a[16 * 64], b[16 * 64];
    static _Alignas(64) int32_t c[16 * 16];
    memset(a, 1, sizeof(a));
    memset(b, 1, sizeof(b));
    tile_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a, 64);
    _tile_loadd(6, b, 64);
    _tile_loadd(7, b, 64);
    for (uint64_t it = 0; it < iters; it++) {
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(0, c, 64);
    _tile_release();
    volatile int32_t sink = c[0];
    (void)sink;
    return (double)iters * 4 * 16 * 16 * 64 * 2;
}
#else
int rb_peak_amx_available(void) { return 0; }
double rb_peak_amx(uint64_t iters) {
    (void)iters;
    return 0;
}
#endif
