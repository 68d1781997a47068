/* SPDX-License-Identifier: MIT */
/* rt-run: runs an ONNX model from the shell, checks outputs, runs ONNX backend test folders,
 * times runs. Its flags and exit codes are a contract (docs/rt-run.md). Uses the public API only. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/values.h"
#include "kiln.h"

enum { EXIT_OK = 0, EXIT_MISMATCH = 1, EXIT_USAGE = 2, EXIT_LOAD = 3, EXIT_RUN = 4 };

#define MAX_PAIRS 256
#define MAX_PROVIDERS 16

typedef struct pair {
    const char *name;
    const char *value;
} pair;

typedef struct options {
    const char *model;
    const char *test_dir;
    const char *output_dir;
    pair inputs[MAX_PAIRS], dims[MAX_PAIRS], expects[MAX_PAIRS];
    int n_inputs, n_dims, n_expects;
    double rtol, atol;
    int warmup, repeat;
    int json;
    int threads, inter_op;     /* -1: not given (session defaults) */
    const char *profile;       /* --profile FILE */
    int profile_summary;
    const char *providers[MAX_PROVIDERS]; /* --provider PATH_OR_NAME[:key=val,...], in asking order */
    int n_providers;
    int opt_level;             /* --optimize LEVEL; -1: not given (the session default, all) */
    const char *disabled_passes[MAX_PAIRS]; /* --disable-pass NAME */
    int n_disabled_passes;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: rt-run MODEL [options]\n"
            "       rt-run --test-dir DIR [--rtol X] [--atol X]\n"
            "  --input NAME=FILE    feed input NAME from FILE (.pb TensorProto/SequenceProto/OptionalProto, or .npy);\n"
            "                       inputs not given get deterministic random data of their declared shape\n"
            "  --dim NAME=N         size of symbolic dim NAME for random inputs (default 1)\n"
            "  --expect NAME=FILE   compare output NAME with FILE (exit 1 on mismatch)\n"
            "  --rtol X, --atol X   comparison tolerances (default 1e-3, 1e-7)\n"
            "  --output-dir DIR     write each output to DIR/NAME.pb\n"
            "  --test-dir DIR       run an ONNX backend test folder (model.onnx + test_data_set_*)\n"
            "  --warmup N           untimed runs before timing (default 0)\n"
            "  --repeat N           timed runs; prints median and p90 latency (default 1)\n"
            "  --report json        print one JSON object instead of text (with the partition, memory\n"
            "                       figures and peak RSS)\n"
            "  --provider P[:k=v,...]  ask provider P (a path, or NAME for kiln-provider-NAME.so in\n"
            "                       KILN_PROVIDER_PATH or the install folder) before the CPU; repeatable\n"
            "  --threads N          intra-op threads (default: KILN_NUM_THREADS, else the physical cores)\n"
            "  --inter-op-threads N run independent nodes on N threads at once (default 1: one after the other)\n"
            "  --optimize LEVEL     graph optimization level: disabled, basic, extended, all (default all)\n"
            "  --disable-pass NAME  skip the optimizer pass NAME (docs/optimizer.md); repeatable\n"
            "  --profile FILE       write a Chrome trace (Perfetto, chrome://tracing) of the session to FILE\n"
            "  --profile-summary    print time per op type over the timed runs (count, total ms, share)\n"
            "exit codes: 0 ok, 1 mismatch, 2 usage, 3 model or load error, 4 run error\n");
}

static int split_pair(const char *arg, pair *p) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) return 0;
    size_t n = (size_t)(eq - arg);
    char *name = malloc(n + 1);
    if (!name) return 0;
    memcpy(name, arg, n);
    name[n] = '\0';
    p->name = name;
    p->value = eq + 1;
    return 1;
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 1000000000) return 0;
    *out = (int)v;
    return 1;
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end || !(v >= 0)) return 0;
    *out = v;
    return 1;
}

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof(*o));
    o->rtol = 1e-3;
    o->atol = 1e-7;
    o->repeat = 1;
    o->threads = o->inter_op = -1;
    o->opt_level = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                               \
    do {                                                           \
        if (!v) {                                                  \
            fprintf(stderr, "rt-run: %s needs a value\n", a);      \
            return 0;                                              \
        }                                                          \
        i++;                                                       \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(EXIT_OK);
        } else if (strcmp(a, "--input") == 0 || strcmp(a, "--dim") == 0 || strcmp(a, "--expect") == 0) {
            NEED_VALUE();
            pair *list = a[2] == 'i' ? o->inputs : a[2] == 'd' ? o->dims : o->expects;
            int *n = a[2] == 'i' ? &o->n_inputs : a[2] == 'd' ? &o->n_dims : &o->n_expects;
            if (*n == MAX_PAIRS || !split_pair(v, &list[*n])) {
                fprintf(stderr, "rt-run: %s takes NAME=VALUE, got '%s'\n", a, v);
                return 0;
            }
            (*n)++;
        } else if (strcmp(a, "--rtol") == 0 || strcmp(a, "--atol") == 0) {
            NEED_VALUE();
            if (!parse_double(v, a[2] == 'r' ? &o->rtol : &o->atol)) {
                fprintf(stderr, "rt-run: %s takes a non-negative number, got '%s'\n", a, v);
                return 0;
            }
        } else if (strcmp(a, "--warmup") == 0 || strcmp(a, "--repeat") == 0) {
            NEED_VALUE();
            if (!parse_int(v, a[2] == 'w' ? &o->warmup : &o->repeat) || (a[2] == 'r' && o->repeat < 1)) {
                fprintf(stderr, "rt-run: %s takes a count, got '%s'\n", a, v);
                return 0;
            }
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "--inter-op-threads") == 0) {
            NEED_VALUE();
            int *dst = a[2] == 't' ? &o->threads : &o->inter_op;
            if (!parse_int(v, dst) || *dst < 1 || *dst > 1024) {
                fprintf(stderr, "rt-run: %s takes a count in [1, 1024], got '%s'\n", a, v);
                return 0;
            }
        } else if (strcmp(a, "--profile") == 0) {
            NEED_VALUE();
            o->profile = v;
        } else if (strcmp(a, "--profile-summary") == 0) {
            o->profile_summary = 1;
        } else if (strcmp(a, "--output-dir") == 0) {
            NEED_VALUE();
            o->output_dir = v;
        } else if (strcmp(a, "--test-dir") == 0) {
            NEED_VALUE();
            o->test_dir = v;
        } else if (strcmp(a, "--provider") == 0) {
            NEED_VALUE();
            if (o->n_providers == MAX_PROVIDERS || !v[0] || v[0] == ':') {
                fprintf(stderr, "rt-run: --provider takes PATH_OR_NAME[:key=val,...] (at most %d), got '%s'\n", MAX_PROVIDERS, v);
                return 0;
            }
            o->providers[o->n_providers++] = v;
        } else if (strcmp(a, "--optimize") == 0) {
            NEED_VALUE();
            static const char *const levels[] = {"disabled", "basic", "extended", "all"};
            o->opt_level = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(v, levels[k]) == 0) o->opt_level = k;
            if (o->opt_level < 0) {
                fprintf(stderr, "rt-run: --optimize takes disabled, basic, extended or all, got '%s'\n", v);
                return 0;
            }
        } else if (strcmp(a, "--disable-pass") == 0) {
            NEED_VALUE();
            if (o->n_disabled_passes == MAX_PAIRS) {
                fprintf(stderr, "rt-run: too many --disable-pass (at most %d)\n", MAX_PAIRS);
                return 0;
            }
            o->disabled_passes[o->n_disabled_passes++] = v;
        } else if (strcmp(a, "--report") == 0) {
            NEED_VALUE();
            if (strcmp(v, "json") != 0) {
                fprintf(stderr, "rt-run: --report takes 'json', got '%s'\n", v);
                return 0;
            }
            o->json = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "rt-run: unknown option '%s'\n", a);
            return 0;
        } else if (!o->model) {
            o->model = a;
        } else {
            fprintf(stderr, "rt-run: more than one model given ('%s', '%s')\n", o->model, a);
            return 0;
        }
#undef NEED_VALUE
    }
    if (!o->model == !o->test_dir) {
        fprintf(stderr, "rt-run: give a MODEL or --test-dir DIR (one of them)\n");
        return 0;
    }
    return 1;
}

/* Session options asking for the --provider list: "P[:k=v,...]" splits at the first ':' after
 * the last '/' (so paths with ':' in a folder name work). Returns EXIT_OK or EXIT_USAGE. */
static int session_options(const options *o, kiln_session_options **out) {
    kiln_error err = {0};
    *out = NULL;
    if (!o->n_providers && o->threads < 0 && o->inter_op < 0 && !o->profile && !o->profile_summary && o->opt_level < 0 &&
        !o->n_disabled_passes)
        return EXIT_OK;
    if (kiln_session_options_create(out, &err) != KILN_OK ||
        (o->threads > 0 && kiln_session_options_set_intra_op_threads(*out, o->threads, &err) != KILN_OK) ||
        (o->inter_op > 0 && kiln_session_options_set_inter_op_threads(*out, o->inter_op, &err) != KILN_OK) ||
        ((o->profile || o->profile_summary) && kiln_session_options_enable_profiling(*out, o->profile, &err) != KILN_OK) ||
        (o->opt_level >= 0 && kiln_session_options_set_optimization_level(*out, (kiln_opt_level)o->opt_level, &err) != KILN_OK)) {
        fprintf(stderr, "rt-run: %s\n", err.msg);
        kiln_session_options_destroy(*out);
        *out = NULL;
        return EXIT_RUN;
    }
    for (int i = 0; i < o->n_disabled_passes; i++) {
        if (kiln_session_options_disable_pass(*out, o->disabled_passes[i], &err) != KILN_OK) {
            fprintf(stderr, "rt-run: --disable-pass: %s\n", err.msg);
            kiln_session_options_destroy(*out);
            *out = NULL;
            return EXIT_USAGE;
        }
    }
    for (int i = 0; i < o->n_providers; i++) {
        const char *spec = o->providers[i];
        const char *slash = strrchr(spec, '/');
        const char *colon = strchr(slash ? slash : spec, ':');
        size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
        char *what = strndup(spec, n), *opts = strdup(colon ? colon + 1 : "");
        const char *list[MAX_PAIRS + 1];
        int n_opts = 0, rc = EXIT_OK;
        for (char *tok = opts ? strtok(opts, ",") : NULL; tok && n_opts < MAX_PAIRS; tok = strtok(NULL, ",")) list[n_opts++] = tok;
        list[n_opts] = NULL;
        if (!what || !opts || kiln_session_options_append_provider(*out, what, list, &err) != KILN_OK) {
            fprintf(stderr, "rt-run: --provider %s: %s\n", spec, what && opts ? err.msg : "out of memory");
            rc = EXIT_USAGE;
        }
        free(what);
        free(opts);
        if (rc != EXIT_OK) {
            kiln_session_options_destroy(*out);
            *out = NULL;
            return rc;
        }
    }
    return EXIT_OK;
}

/* The optimizer's report (JSON) in a malloc-ed string, or NULL. */
static char *optimizer_report(const kiln_session *s) {
    kiln_error err = {0};
    size_t len = 0;
    char *buf = NULL;
    if (kiln_session_optimizer_report(s, NULL, 0, &len, &err) != KILN_OK || !(buf = malloc(len + 1))) return NULL;
    if (kiln_session_optimizer_report(s, buf, len + 1, &len, &err) != KILN_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The "partition" member of --report json. */
static void json_partition(FILE *f, const kiln_session *s) {
    kiln_error err = {0};
    size_t len = 0;
    char *buf = NULL;
    if (kiln_session_partition_report(s, NULL, 0, &len, &err) == KILN_OK && (buf = malloc(len + 1)) != NULL &&
        kiln_session_partition_report(s, buf, len + 1, &len, &err) == KILN_OK)
        fprintf(f, ",\"partition\":%s", buf);
    free(buf);
}

static void free_options(options *o) {
    for (int i = 0; i < o->n_inputs; i++) free((void *)o->inputs[i].name);
    for (int i = 0; i < o->n_dims; i++) free((void *)o->dims[i].name);
    for (int i = 0; i < o->n_expects; i++) free((void *)o->expects[i].name);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_value(FILE *f, const char *name, const kiln_tensor *t) {
    fprintf(f, "{\"name\":");
    json_string(f, name);
    kiln_value_kind k = kiln_tensor_kind(t);
    fprintf(f, ",\"kind\":\"%s\",\"dtype\":\"%s\"", k == KILN_VALUE_SEQUENCE ? "sequence" : k == KILN_VALUE_OPTIONAL ? "optional" : "tensor",
            kiln_dtype_name(kiln_tensor_dtype(t)));
    if (k == KILN_VALUE_TENSOR) {
        fprintf(f, ",\"shape\":[");
        for (int32_t i = 0; i < kiln_tensor_rank(t); i++) fprintf(f, "%s%lld", i ? "," : "", (long long)kiln_tensor_dims(t)[i]);
        fprintf(f, "]");
        kiln_dtype dt = kiln_tensor_dtype(t);
        int64_t n = kiln_tensor_element_count(t);
        if (dt != KILN_DTYPE_STRING && kiln_dtype_bits(dt) >= 8 && n > 0) {
            double mn = INFINITY, mx = -INFINITY, sum = 0.0;
            for (int64_t i = 0; i < n; i++) {
                double v = tool_element(t, (size_t)i);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                sum += v;
            }
            if (isfinite(mn) && isfinite(mx) && isfinite(sum))
                fprintf(f, ",\"min\":%.9g,\"max\":%.9g,\"mean\":%.9g", mn, mx, sum / (double)n);
        }
    }
    fprintf(f, "}");
}

static const char *find_pair(const pair *list, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) return list[i].value;
    return NULL;
}

/* Builds the inputs: from files where given, random otherwise. */
static int make_inputs(kiln_env *env, kiln_session *s, const options *o, kiln_tensor **in) {
    size_t n = kiln_session_input_count(s);
    kiln_error err = {0};
    for (int i = 0; i < o->n_inputs; i++) {
        size_t k = 0;
        while (k < n && strcmp(kiln_io_name(kiln_session_input(s, k)), o->inputs[i].name) != 0) k++;
        if (k == n) {
            fprintf(stderr, "rt-run: the model has no input '%s'\n", o->inputs[i].name);
            return EXIT_USAGE;
        }
    }
    for (size_t k = 0; k < n; k++) {
        const kiln_io_info *io = kiln_session_input(s, k);
        const char *file = find_pair(o->inputs, o->n_inputs, kiln_io_name(io));
        kiln_status st;
        if (file) {
            st = tool_load_value(env, file, kiln_io_kind(io), &in[k], &err);
        } else if (kiln_io_kind(io) == KILN_VALUE_SEQUENCE) {
            st = kiln_sequence_create(env, kiln_io_dtype(io), NULL, 0, &in[k], &err);
        } else if (kiln_io_kind(io) == KILN_VALUE_OPTIONAL) {
            st = kiln_optional_create(env, kiln_io_dtype(io), NULL, &in[k], &err);
        } else {
            int64_t dims[KILN_MAX_RANK];
            int32_t rank = kiln_io_rank(io) < 0 ? 0 : kiln_io_rank(io);
            for (int32_t d = 0; d < rank; d++) {
                dims[d] = kiln_io_dim(io, d);
                if (dims[d] < 0) {
                    const char *sym = kiln_io_dim_name(io, d);
                    const char *val = sym ? find_pair(o->dims, o->n_dims, sym) : NULL;
                    dims[d] = val ? strtoll(val, NULL, 10) : 1;
                }
            }
            st = tool_random_tensor(env, kiln_io_dtype(io), dims, rank, 0x5eed0000u + k, &in[k], &err);
        }
        if (st != KILN_OK) {
            fprintf(stderr, "rt-run: input '%s': %s\n", kiln_io_name(io), err.msg);
            return file ? EXIT_USAGE : EXIT_RUN;
        }
    }
    return EXIT_OK;
}

/* Per-op totals of a profiled session (kiln_session_profile_ops); *n entries in a malloc array. */
static kiln_op_profile *op_totals(kiln_session *s, size_t *n) {
    size_t k = kiln_session_profile_ops(s, NULL, 0);
    kiln_op_profile *ops = calloc(k + 1, sizeof(*ops));
    *n = ops ? kiln_session_profile_ops(s, ops, k) : 0;
    if (*n > k) *n = k;
    return ops;
}

/* The per-op totals over the timed runs (totals now minus totals after the warm-up): a table,
 * or with `json` a "profile_ops" member. */
static void print_summary(kiln_session *s, const kiln_op_profile *before, size_t n_before, int runs, int json) {
    size_t n;
    kiln_op_profile *now = op_totals(s, &n);
    if (!now) return;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n_before; j++)
            if (strcmp(before[j].op_type, now[i].op_type) == 0) {
                now[i].count -= before[j].count;
                now[i].total_ns -= before[j].total_ns;
            }
        total += (double)now[i].total_ns;
    }
    if (json) printf(",\"profile_ops\":[");
    else printf("%-24s %8s %12s %10s %7s\n", "op", "count", "total ms", "ms/run", "share");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!now[i].count) continue;
        double ms = (double)now[i].total_ns / 1e6, share = total > 0 ? 100.0 * (double)now[i].total_ns / total : 0.0;
        if (json) {
            printf("%s{\"op\":", first ? "" : ",");
            json_string(stdout, now[i].op_type);
            printf(",\"count\":%llu,\"total_ms\":%.4f,\"share\":%.4f}", (unsigned long long)now[i].count, ms, share / 100.0);
        } else {
            printf("%-24s %8llu %12.3f %10.3f %6.1f%%\n", now[i].op_type, (unsigned long long)now[i].count, ms, ms / runs, share);
        }
        first = 0;
    }
    if (json) printf("]");
    else printf("%-24s %8s %12.3f %10.3f %6.1f%%\n", "total", "", total / 1e6, total / 1e6 / runs, 100.0);
    free(now);
}

static unsigned long long peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (unsigned long long)ru.ru_maxrss * 1024ull; /* Linux reports kilobytes */
}

static void free_values(kiln_tensor **v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kiln_tensor_destroy(v[i]);
        v[i] = NULL;
    }
}

static int run_model(const options *o) {
    kiln_env *env;
    kiln_error err = {0};
    if (kiln_env_create(&env, &err) != KILN_OK) {
        fprintf(stderr, "rt-run: %s\n", err.msg);
        return EXIT_RUN;
    }
    int rc = EXIT_OK;
    kiln_session *s = NULL;
    kiln_tensor **in = NULL, **out = NULL;
    double *times = NULL;
    kiln_op_profile *warm_ops = NULL;
    size_t n_warm_ops = 0;
    kiln_session_options *so = NULL;
    if ((rc = session_options(o, &so)) != EXIT_OK) goto done;
    double t0 = tool_now_ms();
    if (kiln_session_create(env, o->model, so, &s, &err) != KILN_OK) {
        fprintf(stderr, "rt-run: %s\n", err.msg);
        rc = err.status == KILN_ERR_IO && o->profile ? EXIT_USAGE : EXIT_LOAD;
        goto done;
    }
    double load_ms = tool_now_ms() - t0;
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    in = calloc(ni + 1, sizeof(*in));
    out = calloc(no + 1, sizeof(*out));
    times = calloc((size_t)o->repeat + 1, sizeof(double));
    if (!in || !out || !times) {
        rc = EXIT_RUN;
        goto done;
    }
    for (int i = 0; i < o->n_expects; i++) {
        size_t k = 0;
        while (k < no && strcmp(kiln_io_name(kiln_session_output(s, k)), o->expects[i].name) != 0) k++;
        if (k == no) {
            fprintf(stderr, "rt-run: the model has no output '%s'\n", o->expects[i].name);
            rc = EXIT_USAGE;
            goto done;
        }
    }
    if ((rc = make_inputs(env, s, o, in)) != EXIT_OK) goto done;
    for (int r = 0; r < o->warmup + o->repeat; r++) {
        if (r == o->warmup && o->profile_summary) warm_ops = op_totals(s, &n_warm_ops);
        free_values(out, no);
        double a = tool_now_ms();
        if (kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err) != KILN_OK) {
            fprintf(stderr, "rt-run: run failed: %s\n", err.msg);
            rc = EXIT_RUN;
            goto done;
        }
        if (r >= o->warmup) times[r - o->warmup] = tool_now_ms() - a;
    }
    qsort(times, (size_t)o->repeat, sizeof(double), cmp_double);
    double median = times[(o->repeat - 1) / 2], p90 = times[(size_t)ceil(0.9 * o->repeat) - 1];

    char why[512];
    int mismatches = 0;
    for (int i = 0; i < o->n_expects; i++) {
        size_t k = 0;
        while (strcmp(kiln_io_name(kiln_session_output(s, k)), o->expects[i].name) != 0) k++;
        kiln_tensor *want;
        if (tool_load_value(env, o->expects[i].value, kiln_io_kind(kiln_session_output(s, k)), &want, &err) != KILN_OK) {
            fprintf(stderr, "rt-run: expected output '%s': %s\n", o->expects[i].name, err.msg);
            rc = EXIT_USAGE;
            goto done;
        }
        if (!tool_compare(want, out[k], o->rtol, o->atol, why, sizeof(why))) {
            fprintf(stderr, "rt-run: output '%s' does not match '%s': %s\n", o->expects[i].name, o->expects[i].value, why);
            mismatches++;
        }
        kiln_tensor_destroy(want);
    }
    if (o->output_dir) {
        mkdir(o->output_dir, 0777);
        for (size_t k = 0; k < no; k++) {
            char path[4096];
            const char *name = kiln_io_name(kiln_session_output(s, k));
            snprintf(path, sizeof(path), "%s/%s.pb", o->output_dir, name);
            for (char *c = path + strlen(o->output_dir) + 1; *c; c++)
                if (*c == '/') *c = '_';
            if (kiln_tensor_save_proto(out[k], name, path, &err) != KILN_OK) {
                fprintf(stderr, "rt-run: %s\n", err.msg);
                rc = EXIT_RUN;
                goto done;
            }
        }
    }
    if (o->json) {
        printf("{\"model\":");
        json_string(stdout, o->model);
        printf(",\"kiln_version\":\"%s\",\"load_ms\":%.3f,\"inputs\":[", kiln_version_string(), load_ms);
        for (size_t k = 0; k < ni; k++) {
            if (k) printf(",");
            json_value(stdout, kiln_io_name(kiln_session_input(s, k)), in[k]);
        }
        printf("],\"outputs\":[");
        for (size_t k = 0; k < no; k++) {
            if (k) printf(",");
            json_value(stdout, kiln_io_name(kiln_session_output(s, k)), out[k]);
        }
        printf("],\"latency_ms\":{\"warmup\":%d,\"runs\":%d,\"median\":%.4f,\"p90\":%.4f,\"min\":%.4f}", o->warmup, o->repeat,
               median, p90, times[0]);
        printf(",\"expect\":{\"checked\":%d,\"mismatched\":%d}", o->n_expects, mismatches);
        printf(",\"threads\":{\"intra_op\":%u,\"inter_op\":%u}", kiln_session_intra_op_threads(s),
               kiln_session_inter_op_threads(s));
        printf(",\"memory\":{\"arena_bytes\":%llu,\"lower_bound_bytes\":%llu,\"naive_bytes\":%llu,\"weights_bytes\":%llu,"
               "\"plans\":%llu}",
               (unsigned long long)kiln_session_memory(s, KILN_MEMORY_ARENA_BYTES),
               (unsigned long long)kiln_session_memory(s, KILN_MEMORY_LOWER_BOUND_BYTES),
               (unsigned long long)kiln_session_memory(s, KILN_MEMORY_NAIVE_BYTES),
               (unsigned long long)kiln_session_memory(s, KILN_MEMORY_WEIGHTS_BYTES),
               (unsigned long long)kiln_session_memory(s, KILN_MEMORY_PLANS));
        printf(",\"peak_rss_bytes\":%llu", peak_rss_bytes());
        json_partition(stdout, s);
        char *opt = optimizer_report(s);
        if (opt) printf(",\"optimizer\":%s", opt);
        free(opt);
        if (o->profile_summary) print_summary(s, warm_ops, n_warm_ops, o->repeat, 1);
        printf("}\n");
    } else {
        printf("model %s: %zu input(s), %zu output(s), loaded in %.1f ms\n", o->model, ni, no, load_ms);
        for (size_t k = 0; k < no; k++) {
            printf("output '%s': ", kiln_io_name(kiln_session_output(s, k)));
            tool_summary(stdout, out[k]);
            printf("\n");
        }
        printf("latency: median %.3f ms, p90 %.3f ms over %d run(s) after %d warmup\n", median, p90, o->repeat, o->warmup);
        if (o->n_expects) printf("expect: %d of %d output(s) match\n", o->n_expects - mismatches, o->n_expects);
        printf("memory: arena %.2f MB (lower bound %.2f MB, no reuse %.2f MB), weights %.2f MB, peak RSS %.1f MB\n",
               (double)kiln_session_memory(s, KILN_MEMORY_ARENA_BYTES) / 1e6,
               (double)kiln_session_memory(s, KILN_MEMORY_LOWER_BOUND_BYTES) / 1e6,
               (double)kiln_session_memory(s, KILN_MEMORY_NAIVE_BYTES) / 1e6,
               (double)kiln_session_memory(s, KILN_MEMORY_WEIGHTS_BYTES) / 1e6, (double)peak_rss_bytes() / 1e6);
        char *opt = optimizer_report(s);
        if (opt) printf("optimizer: %s\n", opt);
        free(opt);
        if (o->profile_summary) print_summary(s, warm_ops, n_warm_ops, o->repeat, 0);
    }
    if (mismatches) rc = EXIT_MISMATCH;
done:
    if (in) free_values(in, kiln_session_input_count(s));
    if (out) free_values(out, kiln_session_output_count(s));
    free(in);
    free(out);
    free(times);
    free(warm_ops);
    kiln_session_destroy(s);
    kiln_session_options_destroy(so);
    kiln_env_destroy(env);
    return rc;
}

/* ---- --test-dir ---- */

/* Runs one test_data_set folder. Returns an exit code and writes why into msg. */
static int run_data_set(kiln_env *env, kiln_session *s, const char *dir, const options *o, char *msg, size_t ml) {
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    kiln_tensor **in = calloc(ni + 1, sizeof(*in)), **out = calloc(no + 1, sizeof(*out));
    kiln_error err = {0};
    int rc = EXIT_OK;
    char path[4096 + 64]; /* dir is at most 4096 bytes */
    if (!in || !out) {
        snprintf(msg, ml, "out of memory");
        rc = EXIT_RUN;
        goto done;
    }
    for (size_t k = 0; k < ni; k++) {
        snprintf(path, sizeof(path), "%s/input_%zu.pb", dir, k);
        if (kiln_tensor_load_proto(env, path, kiln_io_kind(kiln_session_input(s, k)), &in[k], &err) != KILN_OK) {
            snprintf(msg, ml, "%s", err.msg);
            rc = EXIT_USAGE;
            goto done;
        }
    }
    if (kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err) != KILN_OK) {
        snprintf(msg, ml, "run failed: %s", err.msg);
        rc = EXIT_RUN;
        goto done;
    }
    for (size_t k = 0; k < no; k++) {
        const kiln_io_info *io = kiln_session_output(s, k);
        snprintf(path, sizeof(path), "%s/output_%zu.pb", dir, k);
        kiln_tensor *want;
        if (kiln_tensor_load_proto(env, path, kiln_io_kind(io), &want, &err) != KILN_OK) {
            snprintf(msg, ml, "%s", err.msg);
            rc = EXIT_USAGE;
            goto done;
        }
        char why[400];
        int ok = tool_compare(want, out[k], o->rtol, o->atol, why, sizeof(why));
        kiln_tensor_destroy(want);
        if (!ok) {
            snprintf(msg, ml, "output '%s': %s", kiln_io_name(io), why);
            rc = EXIT_MISMATCH;
            goto done;
        }
    }
done:
    if (in) free_values(in, ni);
    if (out) free_values(out, no);
    free(in);
    free(out);
    return rc;
}

static int run_test_dir(const options *o) {
    const char *dir = o->test_dir;
    const char *slash = strrchr(dir, '/');
    const char *name = slash && slash[1] ? slash + 1 : dir;
    char model[4096];
    snprintf(model, sizeof(model), "%s/model.onnx", dir);
    kiln_env *env;
    kiln_error err = {0};
    if (kiln_env_create(&env, &err) != KILN_OK) {
        printf("FAIL %s: %s\n", name, err.msg);
        return EXIT_RUN;
    }
    kiln_session *s = NULL;
    kiln_session_options *so = NULL;
    int orc = session_options(o, &so);
    if (orc != EXIT_OK) {
        kiln_env_destroy(env);
        return orc;
    }
    kiln_status cst = kiln_session_create(env, model, so, &s, &err);
    kiln_session_options_destroy(so);
    if (cst != KILN_OK) {
        printf("FAIL %s: %s: %s\n", name, kiln_status_string((kiln_status)err.status), err.msg);
        kiln_env_destroy(env);
        return EXIT_LOAD;
    }
    DIR *d = opendir(dir);
    char *sets[1024];
    int n_sets = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n_sets < 1024)
        if (strncmp(e->d_name, "test_data_set_", 14) == 0) sets[n_sets++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(sets, (size_t)n_sets, sizeof(char *), cmp_str);
    int rc = n_sets ? EXIT_OK : EXIT_USAGE;
    char msg[1024] = "no test_data_set_* folder";
    for (int i = 0; i < n_sets && rc == EXIT_OK; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, sets[i]);
        char inner[900];
        rc = run_data_set(env, s, path, o, inner, sizeof(inner));
        if (rc != EXIT_OK) snprintf(msg, sizeof(msg), "%s: %s", sets[i], inner);
    }
    if (rc == EXIT_OK) printf("PASS %s (%d data set%s)\n", name, n_sets, n_sets == 1 ? "" : "s");
    else printf("FAIL %s: %s\n", name, msg);
    for (int i = 0; i < n_sets; i++) free(sets[i]);
    kiln_session_destroy(s);
    kiln_env_destroy(env);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) {
        usage(stderr);
        free_options(&o);
        return EXIT_USAGE;
    }
    int rc = o.test_dir ? run_test_dir(&o) : run_model(&o);
    free_options(&o);
    return rc;
}
