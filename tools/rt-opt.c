/* SPDX-License-Identifier: MIT */
/* rt-opt: optimizes a model once and saves it, so later sessions load the optimized graph.
 *
 *   rt-opt MODEL.onnx -o OUT.onnx [--level disabled|basic|extended|all] [--disable-pass NAME]... [--verbose]
 *
 * At level basic OUT.onnx holds standard ONNX ops only (onnxruntime loads it); above, it holds
 * kiln-domain ops (docs/kiln-ops.md). Tensors of 1 KiB or more go to OUT.onnx.data.
 * Exit codes: 0 saved, 2 usage error, 3 the model does not load or cannot be saved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

#define MAX_DISABLED 64

static void usage(FILE *f) {
    fprintf(f, "usage: rt-opt MODEL.onnx -o OUT.onnx [--level disabled|basic|extended|all] [--disable-pass NAME]... "
               "[--verbose]\n"
               "  --level L          optimization level (default all)\n"
               "  --disable-pass N   skip optimizer pass N (docs/optimizer.md); repeatable\n"
               "  --verbose          print what each pass did (JSON, as rt-run --report json's \"optimizer\")\n");
}

int main(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *disabled[MAX_DISABLED];
    int level = KILN_OPT_ALL, verbose = 0, n_disabled = 0;
    static const char *const levels[] = {"disabled", "basic", "extended", "all"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 && v) {
            out = v, i++;
        } else if (strcmp(a, "--level") == 0 && v) {
            level = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(v, levels[k]) == 0) level = k;
            if (level < 0) {
                fprintf(stderr, "rt-opt: --level takes disabled, basic, extended or all, got '%s'\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--disable-pass") == 0 && v && n_disabled < MAX_DISABLED) {
            disabled[n_disabled++] = v, i++;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "rt-opt: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "rt-opt: more than one model given\n");
            return 2;
        }
    }
    if (!model || !out) {
        usage(stderr);
        return 2;
    }
    kiln_error err = {0};
    kiln_env *env = NULL;
    kiln_session_options *o = NULL;
    kiln_session *s = NULL;
    int rc = 0;
    if (kiln_env_create(&env, &err) != KILN_OK || kiln_session_options_create(&o, &err) != KILN_OK ||
        kiln_session_options_set_optimization_level(o, (kiln_opt_level)level, &err) != KILN_OK ||
        kiln_session_options_set_optimized_model_path(o, out, &err) != KILN_OK) {
        fprintf(stderr, "rt-opt: %s\n", err.msg);
        rc = 3;
        goto done;
    }
    for (int i = 0; i < n_disabled; i++) {
        if (kiln_session_options_disable_pass(o, disabled[i], &err) != KILN_OK) {
            fprintf(stderr, "rt-opt: --disable-pass: %s\n", err.msg);
            rc = 2;
            goto done;
        }
    }
    if (kiln_session_create(env, model, o, &s, &err) != KILN_OK) {
        fprintf(stderr, "rt-opt: %s: %s\n", model, err.msg);
        rc = 3;
        goto done;
    }
    size_t len = 0;
    char *buf = NULL;
    if (kiln_session_optimizer_report(s, NULL, 0, &len, &err) == KILN_OK && (buf = malloc(len + 1)) &&
        kiln_session_optimizer_report(s, buf, len + 1, &len, &err) == KILN_OK) {
        if (verbose) printf("%s\n", buf);
    }
    free(buf);
    if (!verbose) printf("rt-opt: wrote %s (level %s)\n", out, levels[level]);
done:
    kiln_session_destroy(s);
    kiln_session_options_destroy(o);
    kiln_env_destroy(env);
    return rc;
}
