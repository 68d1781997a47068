/* SPDX-License-Identifier: MIT */
/* Loads libdnnl at the first entry of the plugin and fills the function table. Before the
 * load, when the process has no OpenMP runtime yet and the user set neither OMP_WAIT_POLICY
 * nor GOMP_SPINCOUNT, it sets GOMP_SPINCOUNT so oneDNN's idle OpenMP threads spin about as
 * long as Kiln's pool does and then sleep (docs/dnnl.md, docs/threads.md). */
#define DN_DNNL_NO_REDIRECT
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn_dnnl.h"

dn_dnnl_api dn_dnnl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];
static int loaded;

/* Spin iterations of an idle OpenMP thread before it sleeps: ~1000 pause instructions, a few
 * tens of microseconds, as Kiln's pool polls (docs/threads.md). libgomp's default, 300000, is
 * milliseconds of a busy core beside Kiln's threads. */
#define DN_GOMP_SPINCOUNT "1000"

static void load(void) {
    void *omp = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!omp && !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) setenv("GOMP_SPINCOUNT", DN_GOMP_SPINCOUNT, 0);
    if (omp) dlclose(omp);
    const char *names[] = {"libdnnl.so.2", "libdnnl.so.3", "libdnnl.so"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_error, sizeof(load_error), "cannot load oneDNN (libdnnl.so.2): %s", e ? e : "not found");
        return;
    }
#define DN_X(f)                                                                                           \
    if (!(*(void **)&dn_dnnl.f = dlsym(h, #f))) {                                                          \
        snprintf(load_error, sizeof(load_error), "oneDNN library lacks %s (version 2.6 or newer needed)", #f); \
        return;                                                                                           \
    }
    DN_DNNL_FUNCS(DN_X)
#undef DN_X
    /* OpenMP, from the runtime libdnnl was built with (absent in a threadpool or sequential build). */
    *(void **)&dn_dnnl.omp_set_num_threads = dlsym(h, "omp_set_num_threads");
    *(void **)&dn_dnnl.omp_get_max_threads = dlsym(h, "omp_get_max_threads");
    loaded = 1; /* the library stays loaded for the life of the process */
}

int dn_dnnl_load(char *why, size_t len) {
    pthread_once(&once, load);
    if (!loaded && why) snprintf(why, len, "%s", load_error);
    return loaded;
}
