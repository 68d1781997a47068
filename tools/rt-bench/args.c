/* SPDX-License-Identifier: MIT */
/* rt-bench's command line (docs/rt-bench.md): the command, its shape flags and the common flags. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char *const commands[] = {"gemm", "conv", "dwconv", "pool", "unary", "softmax", "layernorm",
                                       "transpose", "reduce", "peak", "suite", "shapes", "model", NULL};

static int fail(char *err, size_t size, const char *msg, const char *arg) {
    snprintf(err, size, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
    return RB_USAGE;
}

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

/* "A,B,C" into v (at most max, each >= min); returns the count or -1. */
static int parse_list(const char *s, int64_t *v, int max, int64_t min) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char buf[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(buf) || n == max) return -1;
        memcpy(buf, p, len);
        buf[len] = 0;
        if (parse_i64(buf, &v[n]) || v[n] < min) return -1;
        n++;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return -1;
        }
    }
    return n;
}

/* A list of exactly 1 or 2 values, the single one used for both spatial axes. */
static int parse_pair(const char *s, int64_t *v, int64_t min) {
    int n = parse_list(s, v, 2, min);
    if (n == 1) v[1] = v[0];
    return n < 1 ? -1 : 0;
}

int rb_parse_args(int argc, char **argv, rb_args *a, char *err, size_t es) {
    memset(a, 0, sizeof(*a));
    a->m = a->n = a->k = 512;
    a->dtype = "f32";
    a->stride[0] = a->stride[1] = 1;
    a->dilation[0] = a->dilation[1] = 1;
    a->group = 1;
    a->count = 1 << 20;
    a->axis = -1;
    a->threads[0] = 1;
    a->n_threads = 1;
    a->min_time = 0.2;
    a->min_reps = 5;
    a->processes = 3;
    a->int_max = 4;
    a->python = RB_SOURCE_ROOT "/.venv/bin/python";
    a->ort_script = RB_SOURCE_ROOT "/benchmarks/ort_run.py";
    a->ov_python = RB_SOURCE_ROOT "/.venv-openvino/bin/python";
    a->ov_script = RB_SOURCE_ROOT "/benchmarks/ov_run.py";
    if (argc < 2) return fail(err, es, "missing command (gemm, conv, dwconv, pool, unary, softmax, layernorm, "
                                       "transpose, reduce, peak, suite, shapes, model)", NULL);
    a->command = argv[1];
    int known = 0;
    for (int i = 0; commands[i]; i++) known |= !strcmp(commands[i], a->command);
    if (!known) return fail(err, es, "unknown command", a->command);
    int i = 2, min_time_given = 0;
    int needs_op = !strcmp(a->command, "unary") || !strcmp(a->command, "suite") || !strcmp(a->command, "shapes") ||
                   !strcmp(a->command, "model");
    if (needs_op) {
        if (i >= argc || argv[i][0] == '-') return fail(err, es, "missing operand for", a->command);
        a->op = argv[i++];
    } else if ((!strcmp(a->command, "pool") || !strcmp(a->command, "reduce")) && i < argc && argv[i][0] != '-') {
        a->op = argv[i++];
        int ok = !strcmp(a->command, "pool") ? !strcmp(a->op, "max") || !strcmp(a->op, "avg")
                                             : !strcmp(a->op, "sum") || !strcmp(a->op, "mean") || !strcmp(a->op, "max");
        if (!ok) return fail(err, es, !strcmp(a->command, "pool") ? "unknown pool kind (max, avg)"
                                                                  : "unknown reduce kind (sum, mean, max)", a->op);
    }
    for (; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t x;
#define NEED_VALUE                                                     \
    do {                                                               \
        if (!v) return fail(err, es, "flag needs a value", f);         \
        i++;                                                           \
    } while (0)
        if (!strcmp(f, "--m") || !strcmp(f, "--n") || !strcmp(f, "--k")) {
            NEED_VALUE;
            if (parse_i64(v, &x) || x < 1 || x > (1 << 20)) return fail(err, es, "bad size (1..1048576)", v);
            if (f[2] == 'm') a->m = x;
            else if (f[2] == 'k') a->k = x;
            else if (!strcmp(a->command, "unary")) a->count = x;
            else a->n = x;
        } else if (!strcmp(f, "--trans-b")) {
            a->trans_b = 1;
        } else if (!strcmp(f, "--trans-a")) {
            a->trans_a = 1;
        } else if (!strcmp(f, "--dtype")) {
            NEED_VALUE;
            if (strcmp(v, "f32") && strcmp(v, "u8s8") && strcmp(v, "s8s8") && strcmp(v, "bf16"))
                return fail(err, es, "unknown dtype (f32, u8s8, s8s8, bf16)", v);
            a->dtype = v;
        } else if (!strcmp(f, "--input")) {
            NEED_VALUE;
            if (parse_list(v, a->input, 4, 1) != 4) return fail(err, es, "--input wants N,C,H,W", v);
            a->has_input = 1;
        } else if (!strcmp(f, "--filter")) {
            NEED_VALUE;
            if (parse_list(v, a->filter, 3, 1) != 3) return fail(err, es, "--filter wants M,KH,KW", v);
            a->has_filter = 1;
        } else if (!strcmp(f, "--stride")) {
            NEED_VALUE;
            if (parse_pair(v, a->stride, 1)) return fail(err, es, "--stride wants S or SH,SW (>= 1)", v);
        } else if (!strcmp(f, "--pad")) {
            NEED_VALUE;
            if (parse_pair(v, a->pad, 0)) return fail(err, es, "--pad wants P or PH,PW (>= 0)", v);
        } else if (!strcmp(f, "--dilation")) {
            NEED_VALUE;
            if (parse_pair(v, a->dilation, 1)) return fail(err, es, "--dilation wants D or DH,DW (>= 1)", v);
        } else if (!strcmp(f, "--group")) {
            NEED_VALUE;
            if (parse_i64(v, &a->group) || a->group < 1) return fail(err, es, "--group wants G >= 1", v);
        } else if (!strcmp(f, "--shape")) {
            NEED_VALUE;
            if ((a->rank = parse_list(v, a->shape, RB_MAX_DIMS, 1)) < 1) return fail(err, es, "--shape wants A,B,...", v);
        } else if (!strcmp(f, "--perm")) {
            NEED_VALUE;
            if ((a->perm_rank = parse_list(v, a->perm, RB_MAX_DIMS, 0)) < 1) return fail(err, es, "--perm wants P0,P1,...", v);
        } else if (!strcmp(f, "--axis")) {
            NEED_VALUE;
            if (parse_i64(v, &a->axis)) return fail(err, es, "--axis wants an integer", v);
        } else if (!strcmp(f, "--threads")) {
            NEED_VALUE;
            int64_t t[RB_MAX_THREADS];
            int n = parse_list(v, t, RB_MAX_THREADS, 1);
            if (n < 1) return fail(err, es, "--threads wants N[,N...] (each >= 1)", v);
            for (int j = 0; j < n; j++) {
                if (t[j] > 1024) return fail(err, es, "--threads: at most 1024", v);
                a->threads[j] = (int)t[j];
            }
            a->n_threads = n;
        } else if (!strcmp(f, "--isa")) {
            NEED_VALUE;
            a->isa = v;
        } else if (!strcmp(f, "--min-time")) {
            NEED_VALUE;
            char *end;
            a->min_time = strtod(v, &end);
            if (*end || end == v || !(a->min_time >= 0 && a->min_time <= 60)) return fail(err, es, "--min-time wants 0..60 seconds", v);
            min_time_given = 1;
        } else if (!strcmp(f, "--min-reps")) {
            NEED_VALUE;
            if (parse_i64(v, &x) || x < 1 || x > 100000) return fail(err, es, "--min-reps wants 1..100000", v);
            a->min_reps = (int)x;
        } else if (!strcmp(f, "--processes")) {
            NEED_VALUE;
            if (parse_i64(v, &x) || x < 1 || x > 50) return fail(err, es, "--processes wants 1..50", v);
            a->processes = (int)x;
        } else if (!strcmp(f, "--json")) {
            a->format = RB_JSON;
        } else if (!strcmp(f, "--csv")) {
            a->format = RB_CSV;
        } else if (!strcmp(f, "--dry-run")) {
            a->dry_run = 1;
        } else if (!strcmp(f, "--list")) {
            a->list_only = 1;
        } else if (!strcmp(f, "--clock")) {
            NEED_VALUE;
            if (!strcmp(v, "auto")) a->clock = 0;
            else if (!strcmp(v, "wall")) a->clock = 1;
            else if (!strcmp(v, "cpu")) a->clock = 2;
            else return fail(err, es, "--clock wants auto, wall or cpu", v);
        } else if (!strcmp(f, "--check")) {
            a->check_only = 1;
        } else if (!strcmp(f, "--no-refs")) {
            a->no_refs = 1;
        } else if (!strcmp(f, "--dim")) {
            NEED_VALUE;
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || parse_i64(eq + 1, &x) || x < 1) return fail(err, es, "--dim wants NAME=N (N >= 1)", v);
            if (a->n_dims == 16) return fail(err, es, "--dim: at most 16", v);
            a->dim_names[a->n_dims] = v;
            a->dim_values[a->n_dims++] = x;
        } else if (!strcmp(f, "--optimize")) {
            NEED_VALUE;
            if (rb_opt_level(v) < 0) return fail(err, es, "--optimize takes disabled, basic, extended or all", v);
            a->optimize = v;
        } else if (!strcmp(f, "--compare")) {
            NEED_VALUE;
            a->cmp_ort = a->cmp_ov = 0;
            for (const char *p = v; *p;) {
                size_t len = strcspn(p, ",");
                if (len == 3 && !strncmp(p, "ort", 3)) a->cmp_ort = 1;
                else if (len == 8 && !strncmp(p, "openvino", 8)) a->cmp_ov = 1;
                else return fail(err, es, "--compare takes ort, openvino or ort,openvino", v);
                p += len + (p[len] == ',');
            }
            if (!a->cmp_ort && !a->cmp_ov) return fail(err, es, "--compare takes ort, openvino or ort,openvino", v);
            a->compare = v;
        } else if (!strcmp(f, "--python")) {
            NEED_VALUE;
            a->python = v;
        } else if (!strcmp(f, "--ort-script")) {
            NEED_VALUE;
            a->ort_script = v;
        } else if (!strcmp(f, "--int-max")) {
            NEED_VALUE;
            if (parse_i64(v, &x) || x < 1 || x > 4) return fail(err, es, "--int-max takes 1..4", v);
            a->int_max = (int)x;
        } else if (!strcmp(f, "--ov-python")) {
            NEED_VALUE;
            a->ov_python = v;
        } else if (!strcmp(f, "--ov-script")) {
            NEED_VALUE;
            a->ov_script = v;
        } else if (!strcmp(f, "--child")) {
            a->child = 1;
        } else if (!strcmp(f, "--profile-ops")) {
            a->profile_ops = 1;
        } else if (!strcmp(f, "--inputs")) {
            NEED_VALUE;
            a->inputs_dir = v;
        } else {
            return fail(err, es, "unknown flag", f);
        }
#undef NEED_VALUE
    }
    /* Per-command checks. */
    const char *c = a->command;
    if (a->trans_a && (strcmp(c, "gemm") || strcmp(a->dtype, "f32")))
        return fail(err, es, "--trans-a is for gemm --dtype f32 only (Gemm transA)", NULL);
    if (!strcmp(c, "model") && !min_time_given) a->min_time = 1.0; /* whole models: at least 1 s per process */
    if (!strcmp(c, "conv") || !strcmp(c, "dwconv")) {
        if (!a->has_input) return fail(err, es, "conv needs --input N,C,H,W", NULL);
        if (!strcmp(c, "dwconv")) {
            if (!a->has_filter) {
                a->filter[0] = a->input[1];
                a->filter[1] = a->filter[2] = 3;
                a->has_filter = 1;
            }
            a->group = a->input[1];
            if (a->filter[0] % a->input[1]) return fail(err, es, "dwconv: M must be a multiple of C", NULL);
        }
        if (!a->has_filter) return fail(err, es, "conv needs --filter M,KH,KW", NULL);
        if (a->input[1] % a->group || a->filter[0] % a->group)
            return fail(err, es, "conv: C and M must be multiples of --group", NULL);
        for (int d = 0; d < 2; d++) {
            int64_t ext = a->dilation[d] * (a->filter[1 + d] - 1) + 1;
            if (a->input[2 + d] + 2 * a->pad[d] < ext) return fail(err, es, "conv: the filter is larger than the padded input", NULL);
        }
    }
    if (!strcmp(c, "pool")) {
        if (!a->has_input) return fail(err, es, "pool needs --input N,C,H,W", NULL);
        if (!a->has_filter) a->filter[1] = a->filter[2] = 3;
        if (!a->op) a->op = "max";
    }
    if (!strcmp(c, "unary") && strcmp(a->op, "exp") && strcmp(a->op, "tanh") && strcmp(a->op, "sigmoid") &&
        strcmp(a->op, "erf") && strcmp(a->op, "gelu"))
        return fail(err, es, "unknown unary op (exp, tanh, sigmoid, erf, gelu)", a->op);
    if (!strcmp(c, "suite") && strcmp(a->op, "resnet50") && strcmp(a->op, "mobilenetv2") && strcmp(a->op, "bert"))
        return fail(err, es, "unknown suite (resnet50, mobilenetv2, bert)", a->op);
    if ((!strcmp(c, "softmax") || !strcmp(c, "layernorm") || !strcmp(c, "transpose") || !strcmp(c, "reduce")) &&
        !a->rank) {
        static const int64_t dflt[3] = {64, 128, 768};
        memcpy(a->shape, dflt, sizeof(dflt));
        a->rank = 3;
    }
    if (!strcmp(c, "reduce") && !a->op) a->op = "sum";
    if (!strcmp(c, "transpose")) {
        if (!a->perm_rank) {
            for (int d = 0; d < a->rank; d++) a->perm[d] = a->rank - 1 - d;
            a->perm_rank = a->rank;
        }
        if (a->perm_rank != a->rank) return fail(err, es, "--perm needs one entry per dim of --shape", NULL);
        int seen[RB_MAX_DIMS] = {0};
        for (int d = 0; d < a->rank; d++) {
            if (a->perm[d] >= a->rank || seen[a->perm[d]]++) return fail(err, es, "--perm is not a permutation", NULL);
        }
    }
    int uses_axis = !strcmp(c, "softmax") || !strcmp(c, "layernorm") || !strcmp(c, "reduce");
    if (uses_axis && (a->axis < -a->rank || a->axis >= a->rank)) return fail(err, es, "--axis out of range for --shape", NULL);
    return RB_OK;
}

static void print_list(const char *name, const int64_t *v, int n) {
    printf("\"%s\":[", name);
    for (int i = 0; i < n; i++) printf("%s%lld", i ? "," : "", (long long)v[i]);
    printf("]");
}

void rb_print_args(const rb_args *a) {
    printf("{\"command\":\"%s\",\"op\":\"%s\",\"dtype\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"trans_a\":%d,\"trans_b\":%d,",
           a->command, a->op ? a->op : "", a->dtype, (long long)a->m, (long long)a->n, (long long)a->k, a->trans_a,
           a->trans_b);
    print_list("input", a->input, a->has_input ? 4 : 0);
    printf(",");
    print_list("filter", a->filter, a->has_filter ? 3 : 0);
    printf(",");
    print_list("stride", a->stride, 2);
    printf(",");
    print_list("pad", a->pad, 2);
    printf(",");
    print_list("dilation", a->dilation, 2);
    printf(",\"group\":%lld,\"count\":%lld,", (long long)a->group, (long long)a->count);
    print_list("shape", a->shape, a->rank);
    printf(",");
    print_list("perm", a->perm, a->perm_rank);
    printf(",\"axis\":%lld,\"threads\":[", (long long)a->axis);
    for (int i = 0; i < a->n_threads; i++) printf("%s%d", i ? "," : "", a->threads[i]);
    printf("],\"check\":%d,\"clock\":%d,\"isa\":\"%s\",\"min_time\":%g,\"min_reps\":%d,\"format\":\"%s\",\"dims\":{", a->check_only, a->clock, a->isa ? a->isa : "",
           a->min_time, a->min_reps, a->format == RB_JSON ? "json" : a->format == RB_CSV ? "csv" : "table");
    for (int i = 0; i < a->n_dims; i++) {
        const char *eq = strchr(a->dim_names[i], '=');
        printf("%s\"%.*s\":%lld", i ? "," : "", (int)(eq - a->dim_names[i]), a->dim_names[i], (long long)a->dim_values[i]);
    }
    printf("},\"optimize\":\"%s\",\"compare\":\"%s\",\"processes\":%d,\"int_max\":%d}\n",
           a->optimize ? a->optimize : "", a->compare ? a->compare : "", a->processes, a->int_max);
}
