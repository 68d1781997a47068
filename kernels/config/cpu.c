/* SPDX-License-Identifier: MIT */
/* CPU feature detection, once: cpuid leaves 0, 1, 7.0, 7.1 and the brand string, XCR0 for the
 * state the OS saves (bits 1-2 SSE/AVX, 5-7 opmask/zmm, 17-18 tile config/data), and on Linux
 * arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) before any tile instruction may run. */
#include "cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define KILN_X86 1
#endif

static kiln_cpu_info g_raw;  /* as detected */
static kiln_cpu_info g_info; /* after the cap */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *const k_names[KILN_ISA_COUNT] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "amx"};

const char *kiln_isa_name(kiln_isa isa) { return (unsigned)isa < KILN_ISA_COUNT ? k_names[isa] : "unknown"; }

int kiln_isa_parse(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < KILN_ISA_COUNT; i++)
        if (strcmp(name, k_names[i]) == 0) return i;
    return -1;
}

static kiln_isa level_of(const kiln_cpu_info *c) {
    if (!(c->avx2 && c->fma && c->f16c)) return KILN_ISA_SCALAR;
    bool avx512 = c->avx512f && c->avx512bw && c->avx512dq && c->avx512vl;
    if (avx512 && c->avx512vnni && c->amx_tile && c->amx_int8 && c->amx_bf16) return KILN_ISA_AMX;
    if (avx512 && c->avx512vnni) return KILN_ISA_AVX512VNNI;
    if (avx512) return KILN_ISA_AVX512;
    if (c->avxvnni) return KILN_ISA_AVXVNNI;
    return KILN_ISA_AVX2;
}

/* Clears every feature that belongs to a level above `cap`. */
static void apply_cap(kiln_cpu_info *c, kiln_isa cap) {
    if (cap < KILN_ISA_AMX) c->amx_tile = c->amx_int8 = c->amx_bf16 = false;
    if (cap < KILN_ISA_AVX512VNNI) c->avx512vnni = c->avx512bf16 = c->avx512fp16 = false;
    if (cap < KILN_ISA_AVX512) c->avx512f = c->avx512bw = c->avx512dq = c->avx512vl = false;
    if (cap < KILN_ISA_AVXVNNI) c->avxvnni = false;
    if (cap < KILN_ISA_AVX2) c->avx2 = c->fma = c->f16c = false;
    c->level = level_of(c);
}

#ifdef KILN_X86
static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static bool amx_permitted(void) {
#if defined(__linux__)
    /* ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 (asm/prctl.h); refused on kernels
     * before 5.16, which then never run tile instructions. */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return false;
#endif
}

static void detect_x86(kiln_cpu_info *c) {
    unsigned a, b, cx, d;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return;
    unsigned max_leaf = a;
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    c->vendor[12] = 0;
    __cpuid(1, a, b, cx, d);
    bool osxsave = cx & (1u << 27), avx = cx & (1u << 28);
    c->fma = cx & (1u << 12);
    c->f16c = cx & (1u << 29);
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    bool os_avx = (xcr0 & 0x6) == 0x6;
    bool os_zmm = (xcr0 & 0xe6) == 0xe6;
    bool os_tile = (xcr0 & 0x60000) == 0x60000;
    if (!(avx && os_avx)) c->fma = c->f16c = false;
    if (max_leaf >= 7) {
        unsigned a7, b7, c7, d7;
        __cpuid_count(7, 0, a7, b7, c7, d7);
        c->avx2 = os_avx && avx && (b7 & (1u << 5));
        c->avx512f = os_zmm && (b7 & (1u << 16));
        c->avx512dq = os_zmm && (b7 & (1u << 17));
        c->avx512bw = os_zmm && (b7 & (1u << 30));
        c->avx512vl = os_zmm && (b7 & (1u << 31));
        c->avx512vnni = os_zmm && (c7 & (1u << 11));
        c->avx512fp16 = os_zmm && (d7 & (1u << 23));
        c->amx_bf16 = d7 & (1u << 22);
        c->amx_tile = d7 & (1u << 24);
        c->amx_int8 = d7 & (1u << 25);
        if (a7 >= 1) {
            unsigned a71, b71, c71, d71;
            __cpuid_count(7, 1, a71, b71, c71, d71);
            c->avxvnni = os_avx && (a71 & (1u << 4));
            c->avx512bf16 = os_zmm && (a71 & (1u << 5));
        }
        if (c->amx_tile && !(os_tile && amx_permitted())) c->amx_tile = c->amx_int8 = c->amx_bf16 = false;
    }
    __cpuid(0x80000000, a, b, cx, d);
    if (a >= 0x80000004) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++) __cpuid(0x80000002 + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        char s[49];
        memcpy(s, r, 48);
        s[48] = 0;
        const char *p = s;
        while (*p == ' ') p++;
        size_t n = strlen(p);
        while (n && p[n - 1] == ' ') n--;
        memcpy(c->brand, p, n);
        c->brand[n] = 0;
    }
}
#endif

static void detect(void) {
    memset(&g_raw, 0, sizeof(g_raw));
    strcpy(g_raw.vendor, "unknown");
#ifdef KILN_X86
    detect_x86(&g_raw);
#endif
    g_raw.level = g_raw.detected = level_of(&g_raw);
    g_info = g_raw;
    int cap = kiln_isa_parse(getenv("KILN_CPU_ISA"));
    if (cap >= 0) apply_cap(&g_info, (kiln_isa)cap);
}

const kiln_cpu_info *kiln_cpu(void) {
    pthread_once(&g_once, detect);
    return &g_info;
}

void kiln_cpu_set_cap(int cap) {
    pthread_once(&g_once, detect);
    g_info = g_raw;
    if (cap >= 0 && cap < KILN_ISA_COUNT) apply_cap(&g_info, (kiln_isa)cap);
}
