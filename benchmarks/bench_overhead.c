/* SPDX-License-Identifier: MIT */
/* Kiln's own cost per run on a tiny model (one thread; kiln_session_run into caller tensors, and
 * an I/O binding): median over batches of the time per run, as JSON.
 *   bench-overhead MODEL [--runs N] [--batches N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/values.h"
#include "kiln.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int fail(const char *what, const kiln_error *err) {
    fprintf(stderr, "bench-overhead: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench-overhead MODEL [--runs N] [--batches N]\n");
        return 2;
    }
    int runs = 20000, batches = 15;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batches")) batches = atoi(argv[i + 1]);
    }
    if (runs < 1 || batches < 1 || batches > 1000) return 2;
    kiln_env *env;
    kiln_error err = {0};
    kiln_session_options *opts;
    kiln_session *s;
    if (kiln_env_create(&env, &err) != KILN_OK || kiln_session_options_create(&opts, &err) != KILN_OK ||
        kiln_session_options_set_intra_op_threads(opts, 1, &err) != KILN_OK)
        return fail("setup", &err);
    if (kiln_session_create(env, argv[1], opts, &s, &err) != KILN_OK) return fail(argv[1], &err);
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    kiln_tensor **in = calloc(ni + 1, sizeof(*in)), **out = calloc(no + 1, sizeof(*out));
    for (size_t i = 0; i < ni; i++) {
        const kiln_io_info *io = kiln_session_input(s, i);
        int64_t dims[KILN_MAX_RANK];
        for (int32_t d = 0; d < kiln_io_rank(io); d++) dims[d] = kiln_io_dim(io, d) < 0 ? 1 : kiln_io_dim(io, d);
        if (tool_random_tensor(env, kiln_io_dtype(io), dims, kiln_io_rank(io), 7 + i, &in[i], &err) != KILN_OK)
            return fail("input", &err);
    }
    /* One run gives the output shapes; caller tensors of those shapes then receive every run. */
    if (kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err) != KILN_OK) return fail("run", &err);
    kiln_binding *b;
    if (kiln_binding_create(s, &b, &err) != KILN_OK) return fail("binding", &err);
    for (size_t i = 0; i < ni; i++)
        if (kiln_binding_bind_input(b, kiln_io_name(kiln_session_input(s, i)), in[i], &err) != KILN_OK) return fail("bind", &err);
    for (size_t i = 0; i < no; i++)
        if (kiln_binding_bind_output(b, kiln_io_name(kiln_session_output(s, i)), out[i], &err) != KILN_OK) return fail("bind", &err);
    double *t_run = calloc((size_t)batches, sizeof(double)), *t_bind = calloc((size_t)batches, sizeof(double));
    for (int w = 0; w < 1000; w++) {
        kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err);
        kiln_session_run_binding(s, b, &err);
    }
    /* Batches alternate between the two ways so load on the machine hits both alike. */
    for (int k = 0; k < batches; k++) {
        double t0 = tool_now_ms();
        for (int r = 0; r < runs; r++)
            if (kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err) != KILN_OK) return fail("run", &err);
        double t1 = tool_now_ms();
        for (int r = 0; r < runs; r++)
            if (kiln_session_run_binding(s, b, &err) != KILN_OK) return fail("run", &err);
        double t2 = tool_now_ms();
        t_run[k] = (t1 - t0) * 1000.0 / runs;
        t_bind[k] = (t2 - t1) * 1000.0 / runs;
    }
    qsort(t_run, (size_t)batches, sizeof(double), cmp);
    qsort(t_bind, (size_t)batches, sizeof(double), cmp);
    printf("{\"model\":\"%s\",\"runs_per_batch\":%d,\"batches\":%d,\"run_us\":{\"median\":%.4f,\"min\":%.4f},"
           "\"binding_us\":{\"median\":%.4f,\"min\":%.4f}}\n",
           argv[1], runs, batches, t_run[(batches - 1) / 2], t_run[0], t_bind[(batches - 1) / 2], t_bind[0]);
    kiln_binding_destroy(b);
    for (size_t i = 0; i < ni; i++) kiln_tensor_destroy(in[i]);
    for (size_t i = 0; i < no; i++) kiln_tensor_destroy(out[i]);
    free(in);
    free(out);
    free(t_run);
    free(t_bind);
    kiln_session_destroy(s);
    kiln_session_options_destroy(opts);
    kiln_env_destroy(env);
    return 0;
}
