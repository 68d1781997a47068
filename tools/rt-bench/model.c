/* SPDX-License-Identifier: MIT */
/* `rt-bench model MODEL.onnx [--threads 1,2] [--optimize L] [--compare ort,openvino]`: session
 * creation, first run, latency (median / p90 / min, repeated until --min-time and --min-reps), peak
 * RSS and the top ops by time. Every measurement runs in a fresh process (this program with
 * --child; with --compare ort benchmarks/ort_run.py from .venv, with --compare openvino
 * benchmarks/ov_run.py from .venv-openvino), the runtimes alternating, on the same inputs (.npy
 * files written once); figures are medians over --processes processes. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "common/values.h"
#include "kiln.h"

/* ---- the child: one runtime, one thread count ---- */

static double ms_since(double t0) { return (rb_now() - t0) * 1e3; }

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int rb_opt_level(const char *name) {
    static const char *const names[] = {"disabled", "basic", "extended", "all"};
    static const kiln_opt_level levels[] = {KILN_OPT_DISABLED, KILN_OPT_BASIC, KILN_OPT_EXTENDED, KILN_OPT_ALL};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i])) return (int)levels[i];
    return -1;
}

static int child(const rb_args *a) {
    kiln_error err = {0};
    kiln_env *env = NULL;
    kiln_session_options *opts = NULL;
    kiln_session *s = NULL;
    kiln_tensor *in[64] = {0};
    size_t n_in = 0;
    int rc = RB_LOAD;
    if (kiln_env_create(&env, &err) || kiln_session_options_create(&opts, &err) ||
        kiln_session_options_set_intra_op_threads(opts, a->threads[0], &err) ||
        (a->optimize && kiln_session_options_set_optimization_level(opts, (kiln_opt_level)rb_opt_level(a->optimize), &err)) ||
        (a->profile_ops && kiln_session_options_enable_profiling(opts, NULL, &err)))
        goto done;
    double t0 = rb_now();
    if (kiln_session_create(env, a->op, opts, &s, &err)) goto done;
    double create_ms = ms_since(t0);
    rc = RB_RUN;
    n_in = kiln_session_input_count(s);
    if (n_in > 64) {
        snprintf(err.msg, sizeof(err.msg), "more than 64 inputs");
        n_in = 0;
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%zu.npy", a->inputs_dir, i);
        if (tool_load_value(env, path, KILN_VALUE_TENSOR, &in[i], &err)) goto done;
    }
    size_t n_out = kiln_session_output_count(s);
    kiln_tensor **out = calloc(n_out ? n_out : 1, sizeof(*out));
    if (!out) goto done;
    t0 = rb_now();
    kiln_status st = kiln_session_run(s, NULL, (const kiln_tensor *const *)in, n_in, NULL, out, n_out, &err);
    double first_ms = ms_since(t0);
    for (size_t i = 0; i < n_out; i++) kiln_tensor_destroy(out[i]), out[i] = NULL;
    if (st) {
        free(out);
        goto done;
    }
    static double t[100000];
    int n = 0;
    double start = rb_now();
    while (n < 100000) {
        double r0 = rb_now();
        st = kiln_session_run(s, NULL, (const kiln_tensor *const *)in, n_in, NULL, out, n_out, &err);
        double r1 = rb_now();
        for (size_t i = 0; i < n_out; i++) kiln_tensor_destroy(out[i]), out[i] = NULL;
        if (st) break;
        t[n++] = (r1 - r0) * 1e3;
        if (n >= a->min_reps && r1 - start >= a->min_time) break;
    }
    free(out);
    if (st) goto done;
    qsort(t, (size_t)n, sizeof(double), cmp_d);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"create_ms\":%.6g,\"first_ms\":%.6g,\"latency_ms\":{\"median\":%.6g,\"p90\":%.6g,\"min\":%.6g,\"runs\":%d},"
           "\"threads\":%u,\"peak_rss_bytes\":%lld",
           create_ms, first_ms, t[(n - 1) / 2], t[(size_t)((n - 1) * 0.9)], t[0], n, kiln_session_intra_op_threads(s),
           (long long)ru.ru_maxrss * 1024);
    if (a->profile_ops) {
        kiln_op_profile ops[16];
        size_t k = kiln_session_profile_ops(s, ops, 16);
        double total = 0;
        for (size_t i = 0; i < k && i < 16; i++) total += (double)ops[i].total_ns;
        printf(",\"ops\":[");
        for (size_t i = 0; i < k && i < 16; i++)
            printf("%s{\"op\":\"%s\",\"per_run\":%.4g,\"ms_per_run\":%.6g,\"share\":%.4g}", i ? "," : "", ops[i].op_type,
                   (double)ops[i].count / (n + 1), (double)ops[i].total_ns * 1e-6 / (n + 1),
                   total > 0 ? (double)ops[i].total_ns / total : 0);
        printf("]");
    }
    printf("}\n");
    rc = RB_OK;
done:
    if (rc) fprintf(stderr, "rt-bench: %s: %s\n", a->op, err.msg[0] ? err.msg : "out of memory");
    for (size_t i = 0; i < n_in; i++) kiln_tensor_destroy(in[i]);
    kiln_session_destroy(s);
    kiln_session_options_destroy(opts);
    kiln_env_destroy(env);
    return rc;
}

/* ---- the parent ---- */

/* Writes a tensor as a little-endian C-order .npy (version 1.0). */
static int write_npy(const char *path, const kiln_tensor *t) {
    const char *descr;
    switch (kiln_tensor_dtype(t)) {
    case KILN_DTYPE_FLOAT: descr = "<f4"; break;
    case KILN_DTYPE_DOUBLE: descr = "<f8"; break;
    case KILN_DTYPE_FLOAT16: descr = "<f2"; break;
    case KILN_DTYPE_INT8: descr = "|i1"; break;
    case KILN_DTYPE_UINT8: descr = "|u1"; break;
    case KILN_DTYPE_BOOL: descr = "|b1"; break;
    case KILN_DTYPE_INT16: descr = "<i2"; break;
    case KILN_DTYPE_INT32: descr = "<i4"; break;
    case KILN_DTYPE_INT64: descr = "<i8"; break;
    default: return -1;
    }
    char hdr[512], shape[256] = "";
    int32_t rank = kiln_tensor_rank(t);
    for (int32_t d = 0; d < rank; d++)
        snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape), "%lld,%s", (long long)kiln_tensor_dims(t)[d],
                 d + 1 < rank ? " " : "");
    if (rank > 1) shape[strlen(shape) - 1] = 0; /* "(2, 3)" but "(5,)" */
    int len = snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint16_t hl = (uint16_t)(len + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f), fputc(hl >> 8, f);
    fwrite(hdr, 1, (size_t)len, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t bytes = kiln_tensor_byte_size(t);
    int ok = fwrite(kiln_tensor_data_const(t), 1, bytes, f) == bytes;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Runs argv, returns its exit status; stdout in `out` (NUL-terminated), its peak RSS in *rss. */
static int run_process(char *const *argv, char *out, size_t out_size, long long *rss) {
    int fd[2];
    out[0] = 0;
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]), close(fd[1]);
        execv(argv[0], argv);
        fprintf(stderr, "rt-bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd[0], out + n, out_size - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == out_size - 1) { /* drain the rest */
            char sink[4096];
            while (read(fd[0], sink, sizeof(sink)) > 0) {}
            break;
        }
    }
    out[n] = 0;
    close(fd[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) return -1;
    *rss = (long long)ru.ru_maxrss * 1024;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static double json_num(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(s, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

typedef struct series {
    double create[50], first[50], median[50], p90[50], min[50], rss[50];
    int n;
} series;

static double med(double *v, int n) {
    double c[50];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) c[k++] = v[i];
    if (!k) return NAN;
    qsort(c, (size_t)k, sizeof(double), cmp_d);
    return c[(k - 1) / 2];
}
static double lowest(const double *v, int n) {
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]) && (isnan(m) || v[i] < m)) m = v[i];
    return m;
}
/* (max - min) / median of the per-process medians, in %. */
static double spread(const double *v, int n) {
    double lo = lowest(v, n), hi = NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]) && (isnan(hi) || v[i] > hi)) hi = v[i];
    double m = med((double *)v, n);
    return m > 0 ? 100 * (hi - lo) / m : NAN;
}

/* A JSON number, or null for NaN / Inf. */
static const char *jnum(char *buf, double v) {
    if (isfinite(v)) snprintf(buf, 32, "%.6g", v);
    else snprintf(buf, 32, "null");
    return buf;
}

static void add(series *s, const char *json, long long rss) {
    int i = s->n++;
    s->create[i] = json_num(json, "create_ms");
    if (isnan(s->create[i])) s->create[i] = json_num(json, "load_ms");
    s->first[i] = json_num(json, "first_ms");
    s->median[i] = json_num(json, "median");
    s->p90[i] = json_num(json, "p90");
    s->min[i] = json_num(json, "min");
    s->rss[i] = (double)rss;
}

/* --int-max: integer inputs (drawn in [0, 4)) folded into [0, int_max), e.g. 2 for BERT's
 * token_type_ids (a Gather over two rows). Returns 0. */
static int limit_ints(kiln_tensor *t, int int_max) {
    int64_t n = kiln_tensor_element_count(t);
    void *p = kiln_tensor_data(t);
    for (int64_t i = 0; i < n && int_max < 4; i++) switch (kiln_tensor_dtype(t)) {
        case KILN_DTYPE_INT64: ((int64_t *)p)[i] %= int_max; break;
        case KILN_DTYPE_INT32: ((int32_t *)p)[i] %= int_max; break;
        case KILN_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)(((int8_t *)p)[i] % int_max); break;
        case KILN_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)(((uint8_t *)p)[i] % int_max); break;
        default: return 0;
        }
    return 0;
}

/* A reference runtime of --compare: its interpreter, script and the series it measured. */
typedef struct ref_rt {
    const char *flag;         /* the --compare name */
    const char *runtime;      /* the name in the table and JSON */
    const char *ratio;        /* the ratio's column: "ort/kiln" */
    const char *json_ratio;   /* and its JSON / CSV key */
    const char *python, *script, *setup, *venv, *import;
    int on;
    char version[256];
    series s[RB_MAX_THREADS];
} ref_rt;

/* Whether a reference runtime can run: its interpreter, its script, the import; else one line in
 * `why` naming the missing piece and the script that installs it. */
static int ref_usable(const ref_rt *r, char *why, size_t n) {
    if (access(r->python, X_OK)) {
        snprintf(why, n, "--compare %s: %s not found (run %s to create %s)", r->flag, r->python, r->setup, r->venv);
        return 0;
    }
    if (access(r->script, R_OK)) {
        snprintf(why, n, "--compare %s: %s not found", r->flag, r->script);
        return 0;
    }
    char out[256];
    long long rss;
    char *argv[] = {(char *)r->python, "-c", (char *)r->import, NULL};
    if (run_process(argv, out, sizeof(out), &rss) != 0) {
        snprintf(why, n, "--compare %s: %s cannot be imported by %s (run %s)", r->flag, r->runtime, r->python, r->setup);
        return 0;
    }
    out[strcspn(out, "\n")] = 0;
    snprintf(why, n, "%s", out);
    return 1;
}

int rb_cmd_model(const rb_args *a) {
    if (a->child) return child(a);
    static ref_rt refs[2] = {
        {.flag = "ort", .runtime = "onnxruntime", .ratio = "ort/kiln", .json_ratio = "ort_over_kiln",
         .setup = "scripts/setup.sh", .venv = ".venv",
         .import = "import onnxruntime, numpy; print(onnxruntime.__version__)"},
        {.flag = "openvino", .runtime = "openvino", .ratio = "ov/kiln", .json_ratio = "openvino_over_kiln",
         .setup = "scripts/setup-openvino.sh", .venv = ".venv-openvino",
         .import = "import openvino, numpy; print(openvino.get_version().split('-')[0])"},
    };
    enum { NREF = 2 };
    refs[0].python = a->python, refs[0].script = a->ort_script, refs[0].on = a->cmp_ort;
    refs[1].python = a->ov_python, refs[1].script = a->ov_script, refs[1].on = a->cmp_ov;
    for (int r = 0; r < NREF; r++) {
        memset(refs[r].s, 0, sizeof(refs[r].s));
        if (refs[r].on && !ref_usable(&refs[r], refs[r].version, sizeof(refs[r].version))) {
            fprintf(stderr, "rt-bench: %s\n", refs[r].version);
            return RB_USAGE;
        }
    }
    /* Inputs: the declared shapes (symbolic dims from --dim, else 1), written once as .npy. */
    kiln_error err = {0};
    kiln_env *env = NULL;
    kiln_session *s = NULL;
    if (kiln_env_create(&env, &err) || kiln_session_create(env, a->op, NULL, &s, &err)) {
        fprintf(stderr, "rt-bench: cannot load %s: %s\n", a->op, err.msg);
        kiln_env_destroy(env);
        return RB_LOAD;
    }
    char dir[] = "/tmp/rt-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "rt-bench: cannot create a temporary folder: %s\n", strerror(errno));
        kiln_session_destroy(s);
        kiln_env_destroy(env);
        return RB_RUN;
    }
    size_t n_in = kiln_session_input_count(s);
    char ort_inputs[64][4200];
    int rc = RB_OK;
    for (size_t i = 0; i < n_in && i < 64 && rc == RB_OK; i++) {
        const kiln_io_info *io = kiln_session_input(s, i);
        int64_t dims[16];
        int32_t rank = kiln_io_rank(io);
        for (int32_t d = 0; d < rank && d < 16; d++) {
            dims[d] = kiln_io_dim(io, d);
            const char *name = kiln_io_dim_name(io, d);
            if (dims[d] >= 0) continue;
            dims[d] = 1;
            for (int j = 0; name && j < a->n_dims; j++) {
                size_t len = (size_t)(strchr(a->dim_names[j], '=') - a->dim_names[j]);
                if (strlen(name) == len && !strncmp(name, a->dim_names[j], len)) dims[d] = a->dim_values[j];
            }
        }
        kiln_tensor *t = NULL;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%zu.npy", dir, i);
        if (kiln_io_kind(io) != KILN_VALUE_TENSOR ||
            tool_random_tensor(env, kiln_io_dtype(io), dims, rank, 1234 + i, &t, &err) || limit_ints(t, a->int_max) ||
            write_npy(path, t)) {
            fprintf(stderr, "rt-bench: input '%s': cannot make a random %s input%s%s\n", kiln_io_name(io),
                    kiln_dtype_name(kiln_io_dtype(io)), err.msg[0] ? ": " : "", err.msg);
            rc = RB_RUN;
        }
        kiln_tensor_destroy(t);
        snprintf(ort_inputs[i], sizeof(ort_inputs[i]), "%s=%s", kiln_io_name(io), path);
    }
    kiln_session_destroy(s);
    kiln_env_destroy(env);
    if (n_in > 64 && rc == RB_OK) {
        fprintf(stderr, "rt-bench: more than 64 inputs\n");
        rc = RB_RUN;
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        fprintf(stderr, "rt-bench: cannot find its own executable\n");
        rc = RB_RUN;
    } else {
        self[sl] = 0;
    }
    /* Every Kiln process runs at the same level: --optimize, else the session default (all). */
    const char *opt_name = a->optimize ? a->optimize : "all";
    static char out[1 << 16];
    char ops_json[1 << 14] = "";
    static series kiln[RB_MAX_THREADS];
    memset(kiln, 0, sizeof(kiln));
    char min_time[32], min_reps[32], reps[32];
    snprintf(min_time, sizeof(min_time), "%g", a->min_time);
    snprintf(min_reps, sizeof(min_reps), "%d", a->min_reps);
    if (rc == RB_OK) { /* one profiled process for the top ops; its latency is not counted */
        char th[16];
        snprintf(th, sizeof(th), "%d", a->threads[0]);
        fprintf(stderr, "[profile] threads %d: kiln\n", a->threads[0]);
        char *pargv[] = {self, "model", (char *)a->op, "--child", "--threads", th, "--inputs", dir, "--min-time",
                         min_time, "--min-reps", min_reps, "--profile-ops", "--optimize", (char *)opt_name,
                         a->isa ? "--isa" : NULL, (char *)a->isa, NULL};
        long long rss;
        int st = run_process(pargv, out, sizeof(out), &rss);
        if (st != 0) {
            fprintf(stderr, "rt-bench: the Kiln process failed (exit %d)\n", st);
            rc = st == RB_LOAD ? RB_LOAD : RB_RUN;
        }
        const char *o = strstr(out, "\"ops\":");
        if (o) snprintf(ops_json, sizeof(ops_json), "%.*s", (int)strcspn(o + 6, "]") + 1, o + 6);
    }
    for (int p = 0; p < a->processes && rc == RB_OK; p++) {
        for (int ti = 0; ti < a->n_threads && rc == RB_OK; ti++) {
            char th[16];
            snprintf(th, sizeof(th), "%d", a->threads[ti]);
            fprintf(stderr, "[process %d/%d] threads %d: kiln%s%s\n", p + 1, a->processes, a->threads[ti],
                    refs[0].on ? ", onnxruntime" : "", refs[1].on ? ", openvino" : "");
            char *kargv[] = {self, "model", (char *)a->op, "--child", "--threads", th, "--inputs", dir, "--min-time",
                             min_time, "--min-reps", min_reps, "--optimize", (char *)opt_name,
                             a->isa ? "--isa" : NULL, (char *)a->isa, NULL};
            long long rss;
            int st = run_process(kargv, out, sizeof(out), &rss);
            if (st != 0) {
                fprintf(stderr, "rt-bench: the Kiln process failed (exit %d)\n", st);
                rc = st == RB_LOAD ? RB_LOAD : RB_RUN;
                break;
            }
            add(&kiln[ti], out, rss);
            /* The references: as many timed runs as Kiln needed for the same minimum time. */
            snprintf(reps, sizeof(reps), "%d", (int)json_num(out, "runs"));
            for (int r = 0; r < NREF && rc == RB_OK; r++) {
                if (!refs[r].on) continue;
                char *oargv[16 + 64 * 2] = {(char *)refs[r].python, (char *)refs[r].script, (char *)a->op,
                                            "--threads", th, "--warmup", "1", "--repeat", reps};
                int k = 9;
                for (size_t i = 0; i < n_in && i < 64; i++) oargv[k++] = "--input", oargv[k++] = ort_inputs[i];
                oargv[k] = NULL;
                st = run_process(oargv, out, sizeof(out), &rss);
                if (st != 0) {
                    fprintf(stderr, "rt-bench: the %s process failed (exit %d)\n", refs[r].runtime, st);
                    rc = RB_RUN;
                    break;
                }
                add(&refs[r].s[ti], out, rss);
            }
        }
    }
    for (size_t i = 0; i < n_in && i < 64; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%zu.npy", dir, i);
        unlink(path);
    }
    rmdir(dir);
    if (rc) return rc;
    /* Report: Kiln's row, then each reference's; the ratios (reference median / Kiln median,
     * above 1 Kiln is faster) on Kiln's row. */
    series *rows[1 + NREF];
    const char *names[1 + NREF];
    int n_rt = 0;
    rows[n_rt] = NULL, names[n_rt++] = "kiln";
    for (int r = 0; r < NREF; r++)
        if (refs[r].on) rows[n_rt] = refs[r].s, names[n_rt++] = refs[r].runtime;
    if (a->format == RB_JSON) {
        printf("{\"model\":\"%s\",\"processes\":%d,\"min_time_s\":%g,\"min_reps\":%d,\"optimize\":\"%s\"",
               a->op, a->processes, a->min_time, a->min_reps, opt_name);
        for (int r = 0; r < NREF; r++)
            if (refs[r].on) printf(",\"%s_version\":\"%s\"", refs[r].runtime, refs[r].version);
        printf(",\"results\":[");
        for (int ti = 0; ti < a->n_threads; ti++) {
            for (int r = 0; r < n_rt; r++) {
                series *s2 = r ? &rows[r][ti] : &kiln[ti];
                char b[7][32];
                printf("%s{\"runtime\":\"%s\",\"threads\":%d,\"create_ms\":%s,\"first_run_ms\":%s,"
                       "\"latency_ms\":{\"median\":%s,\"p90\":%s,\"min\":%s,\"spread_pct\":%s},\"peak_rss_bytes\":%s",
                       ti || r ? "," : "", names[r], a->threads[ti], jnum(b[0], med(s2->create, s2->n)),
                       jnum(b[1], med(s2->first, s2->n)), jnum(b[2], med(s2->median, s2->n)), jnum(b[3], med(s2->p90, s2->n)),
                       jnum(b[4], lowest(s2->min, s2->n)), jnum(b[5], spread(s2->median, s2->n)), jnum(b[6], med(s2->rss, s2->n)));
                for (int q = 0; q < NREF && !r; q++)
                    if (refs[q].on)
                        printf(",\"%s\":%s", refs[q].json_ratio,
                               jnum(b[0], med(refs[q].s[ti].median, refs[q].s[ti].n) / med(kiln[ti].median, kiln[ti].n)));
                printf("}");
            }
        }
        printf("],\"top_ops\":%s}\n", ops_json[0] ? ops_json : "[]");
        return RB_OK;
    }
    if (a->format == RB_CSV) {
        printf("runtime,threads,create_ms,first_run_ms,median_ms,p90_ms,min_ms,spread_pct,peak_rss_mib,ort_over_kiln,"
               "openvino_over_kiln\n");
        for (int ti = 0; ti < a->n_threads; ti++)
            for (int r = 0; r < n_rt; r++) {
                series *s2 = r ? &rows[r][ti] : &kiln[ti];
                printf("%s,%d,%.4g,%.4g,%.4g,%.4g,%.4g,%.3g,%.1f", names[r], a->threads[ti], med(s2->create, s2->n),
                       med(s2->first, s2->n), med(s2->median, s2->n), med(s2->p90, s2->n), lowest(s2->min, s2->n),
                       spread(s2->median, s2->n), med(s2->rss, s2->n) / 1048576);
                for (int q = 0; q < NREF; q++) {
                    printf(",");
                    if (refs[q].on && !r)
                        printf("%.4g", med(refs[q].s[ti].median, refs[q].s[ti].n) / med(kiln[ti].median, kiln[ti].n));
                }
                printf("\n");
            }
        return RB_OK;
    }
    printf("model %s: %d processes per runtime and thread count, each >= %g s and >= %d timed runs; Kiln "
           "--optimize %s", a->op, a->processes, a->min_time, a->min_reps, opt_name);
    if (refs[0].on) printf("; onnxruntime %s at ORT_ENABLE_ALL", refs[0].version);
    if (refs[1].on) printf("; OpenVINO %s CPU plugin, LATENCY hint, f32 precision", refs[1].version);
    printf("\n  %-12s %3s %10s %10s %10s %10s %10s %8s %9s", "runtime", "thr", "create_ms", "first_ms", "median_ms",
           "p90_ms", "min_ms", "spread", "rss_MiB");
    for (int q = 0; q < NREF; q++)
        if (refs[q].on) printf(" %9s", refs[q].ratio);
    printf("\n");
    for (int ti = 0; ti < a->n_threads; ti++)
        for (int r = 0; r < n_rt; r++) {
            series *s2 = r ? &rows[r][ti] : &kiln[ti];
            printf("  %-12s %3d %10.4g %10.4g %10.4g %10.4g %10.4g %7.1f%% %9.1f", names[r], a->threads[ti],
                   med(s2->create, s2->n), med(s2->first, s2->n), med(s2->median, s2->n), med(s2->p90, s2->n),
                   lowest(s2->min, s2->n), spread(s2->median, s2->n), med(s2->rss, s2->n) / 1048576);
            for (int q = 0; q < NREF; q++) {
                if (!refs[q].on) continue;
                char ratio[16] = "";
                if (!r)
                    snprintf(ratio, sizeof(ratio), "%.2fx",
                             med(refs[q].s[ti].median, refs[q].s[ti].n) / med(kiln[ti].median, kiln[ti].n));
                printf(" %9s", ratio);
            }
            printf("\n");
        }
    if (ops_json[0]) {
        printf("top ops (Kiln, %d thread%s, one profiled process):\n", a->threads[0], a->threads[0] > 1 ? "s" : "");
        const char *p = ops_json;
        for (int i = 0; i < 10 && (p = strstr(p, "{\"op\":\"")); i++) {
            p += 7;
            int len = (int)strcspn(p, "\"");
            printf("  %-24.*s %6.0f nodes/run %10.4g ms/run %6.1f%%\n", len, p, json_num(p, "per_run"),
                   json_num(p, "ms_per_run"), 100 * json_num(p, "share"));
        }
    }
    return RB_OK;
}
