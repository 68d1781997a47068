/* SPDX-License-Identifier: MIT */
/* `rt-bench peak`: FMA and VNNI throughput per vector width, AMX where the CPU and OS allow it,
 * and read bandwidth by working set, all measured on this machine (nothing is hard-coded). The
 * figures are per core; the % of peak of an n-thread case uses n times them (at most the online
 * CPUs). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kernels/config/cpu.h"
#include "peak.h"

/* The peak loops time this thread's CPU time, not the wall clock: on a shared machine the
 * figure is what the core does while it runs this thread, not what the scheduler gave it. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Finds an iteration count taking >= 20 ms, then returns the best rate of 5 such calls. */
static double rate_of(double (*fn)(uint64_t)) {
    uint64_t iters = 1000;
    for (;;) {
        double t0 = cpu_now();
        fn(iters);
        double dt = cpu_now() - t0;
        if (dt >= 0.02 || iters > ((uint64_t)1 << 40)) break;
        iters *= dt > 0.002 ? 2 : 8;
    }
    double best = 0;
    for (int i = 0; i < 5; i++) {
        double t0 = cpu_now();
        double ops = fn(iters);
        double r = ops / (cpu_now() - t0);
        if (r > best) best = r;
    }
    return best * 1e-9;
}

static size_t read_sizes[] = {16u << 10, 32u << 10, 64u << 10, 256u << 10, 1u << 20, 4u << 20,
                               16u << 20, 64u << 20, 256u << 20, 1u << 30};

/* Read bandwidth of a working set: passes over it until 50 ms (at least 3), best pass. */
static double read_gbs(float *buf, size_t bytes, int wide) {
    size_t n = bytes / sizeof(float);
    double best = 0;
    volatile float sink = 0;
    sink += wide == 2 ? rb_read_avx512(buf, n) : rb_read_avx2(buf, n); /* warm */
    double start = cpu_now();
    int passes = 0;
    size_t inner = bytes >= (4u << 20) ? 1 : (4u << 20) / bytes; /* batch small sets: timer resolution */
    while (passes < 3 || cpu_now() - start < 0.05) {
        double t0 = cpu_now();
        for (size_t r = 0; r < inner; r++) sink += wide == 2 ? rb_read_avx512(buf, n) : rb_read_avx2(buf, n);
        double dt = cpu_now() - t0;
        double g = (double)bytes * (double)inner / dt * 1e-9;
        if (g > best) best = g;
        passes++;
    }
    (void)sink;
    return best;
}

static rb_peak peak;
static int peak_done;

const rb_peak *rb_peak_get(void) {
    if (peak_done) return &peak;
    peak_done = 1;
    const kiln_cpu_info *c = kiln_cpu();
    if (c->fma) peak.fma_gflops[0] = rate_of(rb_peak_fma128);
    if (c->avx2 && c->fma) peak.fma_gflops[1] = rate_of(rb_peak_fma256);
    if (c->avx512f) peak.fma_gflops[2] = rate_of(rb_peak_fma512);
    if (c->avxvnni) peak.vnni_gops[0] = rate_of(rb_peak_vnni256);
    if (c->avx512vnni) peak.vnni_gops[1] = rate_of(rb_peak_vnni512);
    if (c->amx_int8 && rb_peak_amx_available()) peak.amx_gops = rate_of(rb_peak_amx);
    for (int i = 0; i < 3; i++)
        if (peak.fma_gflops[i] > peak.f32_gflops) peak.f32_gflops = peak.fma_gflops[i];
    peak.int8_gops = peak.vnni_gops[0] > peak.vnni_gops[1] ? peak.vnni_gops[0] : peak.vnni_gops[1];
    if (peak.amx_gops > peak.int8_gops) peak.int8_gops = peak.amx_gops;
    int wide = c->avx512f ? 2 : c->avx2 ? 1 : 0;
    if (wide) {
        for (size_t i = 0; i < sizeof(read_sizes) / sizeof(read_sizes[0]); i++) {
            float *buf = NULL;
            if (posix_memalign((void **)&buf, 64, read_sizes[i])) break;
            for (size_t j = 0; j < read_sizes[i] / sizeof(float); j++) buf[j] = (float)(j & 7);
            peak.read_bytes[peak.n_read] = read_sizes[i];
            peak.read_gbs[peak.n_read++] = read_gbs(buf, read_sizes[i], wide);
            free(buf);
        }
        if (peak.n_read) peak.dram_gbs = peak.read_gbs[peak.n_read - 1];
    }
    return &peak;
}

double rb_peak_for(int int8, int threads, int memory_bound, double bytes) {
    const rb_peak *p = rb_peak_get();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double t = threads < cpus || cpus < 1 ? threads : (double)cpus;
    if (!memory_bound) return t * (int8 ? p->int8_gops : p->f32_gflops);
    for (int i = 0; i < p->n_read; i++)
        if ((double)p->read_bytes[i] >= bytes) return t * p->read_gbs[i];
    return p->n_read ? t * p->dram_gbs : 0;
}

static void size_name(size_t b, char *out, size_t n) {
    if (b >= 1u << 30) snprintf(out, n, "%zu GiB", b >> 30);
    else if (b >= 1u << 20) snprintf(out, n, "%zu MiB", b >> 20);
    else snprintf(out, n, "%zu KiB", b >> 10);
}

int rb_cmd_peak(const rb_args *a) {
    const kiln_cpu_info *c = kiln_cpu();
    const rb_peak *p = rb_peak_get();
    const char *amx = !c->amx_tile ? "not available (CPU, OS or permission)"
                      : !rb_peak_amx_available() ? "not compiled (compiler lacks -mamx-int8)" : NULL;
    struct {
        const char *name, *unit;
        double v;
        const char *why;
    } rows[] = {
        {"fma xmm (128-bit) f32", "GFLOP/s", p->fma_gflops[0], c->fma ? NULL : "no FMA"},
        {"fma ymm (256-bit) f32", "GFLOP/s", p->fma_gflops[1], c->avx2 && c->fma ? NULL : "no AVX2/FMA"},
        {"fma zmm (512-bit) f32", "GFLOP/s", p->fma_gflops[2], c->avx512f ? NULL : "no AVX-512 (or capped)"},
        {"vpdpbusd ymm (AVX-VNNI) int8", "GOP/s", p->vnni_gops[0], c->avxvnni ? NULL : "no AVX-VNNI (or capped)"},
        {"vpdpbusd zmm (AVX512-VNNI) int8", "GOP/s", p->vnni_gops[1], c->avx512vnni ? NULL : "no AVX512-VNNI (or capped)"},
        {"tdpbusd (AMX) int8", "GOP/s", p->amx_gops, amx},
    };
    size_t nrows = sizeof(rows) / sizeof(rows[0]);
    if (a->format == RB_JSON) {
        printf("{\"cpu\":\"%s\",\"isa\":\"%s\",\"compute\":[", c->brand, kiln_isa_name(c->level));
        for (size_t i = 0; i < nrows; i++)
            printf("%s{\"name\":\"%s\",\"unit\":\"%s\",\"per_core\":%.4g%s%s%s}", i ? "," : "", rows[i].name,
                   rows[i].unit, rows[i].v, rows[i].why ? ",\"note\":\"" : "", rows[i].why ? rows[i].why : "",
                   rows[i].why ? "\"" : "");
        printf("],\"read_bandwidth\":[");
        for (int i = 0; i < p->n_read; i++)
            printf("%s{\"bytes\":%zu,\"gbs\":%.4g}", i ? "," : "", p->read_bytes[i], p->read_gbs[i]);
        printf("]}\n");
        return RB_OK;
    }
    if (a->format == RB_CSV) {
        printf("name,unit,per_core,note\n");
        for (size_t i = 0; i < nrows; i++)
            printf("\"%s\",%s,%.4g,\"%s\"\n", rows[i].name, rows[i].unit, rows[i].v, rows[i].why ? rows[i].why : "");
        for (int i = 0; i < p->n_read; i++) printf("\"read %zu bytes\",GB/s,%.4g,\"\"\n", p->read_bytes[i], p->read_gbs[i]);
        return RB_OK;
    }
    printf("cpu: %s (%s; kernels' level %s)\n", c->brand, c->vendor, kiln_isa_name(c->level));
    printf("compute, one core:\n");
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].why) printf("  %-34s %10s   %s\n", rows[i].name, "-", rows[i].why);
        else printf("  %-34s %10.1f %s\n", rows[i].name, rows[i].v, rows[i].unit);
    }
    printf("read bandwidth, one core:\n");
    for (int i = 0; i < p->n_read; i++) {
        char s[32];
        size_name(p->read_bytes[i], s, sizeof(s));
        printf("  %-34s %10.1f GB/s\n", s, p->read_gbs[i]);
    }
    return RB_OK;
}
