/* SPDX-License-Identifier: MIT */
/* ONNX conformance runner: runs every backend test folder (model.onnx + test_data_set_*) under
 * the given roots, each in its own process with a time limit, compares outputs with the ONNX
 * backend tolerances (rtol 1e-3, atol 1e-7, or a per-test override from tolerances.txt), prints a
 * summary by op and by category, and fails when a test on the expected-pass list does not pass
 * or (with --reasons) a test that does not pass has no reason on the not-passing list.
 *
 *   kiln-conformance [--expected FILE] [--tolerances FILE] [--reasons FILE] [--jobs N]
 *                    [--timeout S] [--verbose] [--write-expected FILE] [--filter SUBSTRING]
 *                    [--optimize disabled|basic|extended|all] ROOT...
 * Each ROOT holds category folders (node/, simple/, ...) of test folders. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/values.h"
#include "undefined.h"
#include "graph/load.h"
#include "kiln.h"

enum { R_PASS, R_FAIL, R_UNSUPPORTED, R_CRASH, R_TIMEOUT, R_COUNT };
static const char *const result_names[R_COUNT] = {"pass", "fail", "unsupported", "crash", "timeout"};

typedef struct test_case {
    char id[512];        /* category/test_name */
    char dir[2300];
    char op[64];
    int result;
    char msg[512];
    int expected;
    double rtol, atol;
    double ms;
} test_case;

typedef struct runner {
    test_case *tests;
    size_t n, cap;
    char **expected;
    size_t n_expected;
    char **reasons; /* tests that do not pass, each with its reason (not_passing.txt) */
    size_t n_reasons;
    int jobs, timeout_s, verbose;
    const char *filter;
} runner;

static int cmp_test(const void *a, const void *b) { return strcmp(((const test_case *)a)->id, ((const test_case *)b)->id); }
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void add_test(runner *r, const char *category, const char *name, const char *dir) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->tests = realloc(r->tests, r->cap * sizeof(test_case));
        if (!r->tests) abort();
    }
    test_case *t = &r->tests[r->n++];
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%.200s/%.300s", category, name);
    snprintf(t->dir, sizeof(t->dir), "%.2200s", dir);
    t->rtol = 1e-3;
    t->atol = 1e-7;
}

static void scan_root(runner *r, const char *root) {
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "conformance: cannot open %s\n", root);
        exit(2);
    }
    struct dirent *c;
    while ((c = readdir(d))) {
        if (c->d_name[0] == '.') continue;
        char cat[1024];
        snprintf(cat, sizeof(cat), "%s/%s", root, c->d_name);
        if (!is_dir(cat)) continue;
        DIR *dd = opendir(cat);
        struct dirent *e;
        while (dd && (e = readdir(dd))) {
            if (e->d_name[0] == '.') continue;
            char dir[2100], model[2200];
            snprintf(dir, sizeof(dir), "%s/%s", cat, e->d_name);
            snprintf(model, sizeof(model), "%s/model.onnx", dir);
            if (access(model, R_OK) != 0) continue;
            char id[600];
            snprintf(id, sizeof(id), "%.255s/%.255s", c->d_name, e->d_name);
            if (r->filter && !strstr(id, r->filter)) continue;
            add_test(r, c->d_name, e->d_name, dir);
        }
        if (dd) closedir(dd);
    }
    closedir(d);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    return s;
}

/* A list of test ids, one per line; '#' starts a comment (a reason). Sorted for bsearch. */
static void read_list(const char *path, char ***out, size_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "conformance: cannot read %s\n", path);
        exit(2);
    }
    char line[512];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        char *s = trim(line);
        char *hash = strchr(s, '#');
        if (hash) *hash = '\0';
        s = trim(s);
        if (!*s) continue;
        if (*n_out == cap) {
            cap = cap ? cap * 2 : 1024;
            *out = realloc(*out, cap * sizeof(char *));
        }
        (*out)[(*n_out)++] = strdup(s);
    }
    fclose(f);
    if (*n_out) qsort(*out, *n_out, sizeof(char *), cmp_str);
}

static int on_list(char **list, size_t n, const char *id) {
    return n && bsearch(&id, list, n, sizeof(char *), cmp_str) != NULL;
}

/* tolerances.txt: "category/test rtol atol  # reason" */
static void read_tolerances(runner *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char id[256];
        double rt, at;
        if (sscanf(line, "%255s %lf %lf", id, &rt, &at) != 3) continue;
        for (size_t i = 0; i < r->n; i++)
            if (strcmp(r->tests[i].id, id) == 0) r->tests[i].rtol = rt, r->tests[i].atol = at;
    }
    fclose(f);
}

/* ---- one test, in a child process ---- */

/* The op of a test: the op type of the last node of the main graph. */
static void test_op(const char *model, char *op, size_t len) {
    kiln_model *m = NULL;
    kiln_error err;
    snprintf(op, len, "?");
    if (kiln_model_load_file(&kiln_default_allocator, model, NULL, &m, &err) == KILN_OK) {
        if (m->graph->n_nodes) snprintf(op, len, "%s", m->graph->nodes[m->graph->n_nodes - 1]->op_type);
        kiln_model_destroy(m);
    }
}

/* The op of a model with exactly one node, else "". */
static void single_op(const char *model, char *op, size_t len) {
    kiln_model *m = NULL;
    kiln_error err;
    snprintf(op, len, "%s", "");
    if (kiln_model_load_file(&kiln_default_allocator, model, NULL, &m, &err) == KILN_OK) {
        if (m->graph->n_nodes == 1) snprintf(op, len, "%s", m->graph->nodes[0]->op_type);
        kiln_model_destroy(m);
    }
}

/* --optimize: the optimizer level of every session (-1: the session default, all). */
static int opt_level = -1;

static int run_one(const test_case *t, char *msg, size_t ml) {
    char model[2400], op[64];
    snprintf(model, sizeof(model), "%s/model.onnx", t->dir);
    single_op(model, op, sizeof(op));
    kiln_env *env;
    kiln_error err = {0};
    if (kiln_env_create(&env, &err) != KILN_OK) return R_FAIL;
    kiln_session *s = NULL;
    kiln_session_options *so = NULL;
    if (opt_level >= 0 && (kiln_session_options_create(&so, &err) != KILN_OK ||
                           kiln_session_options_set_optimization_level(so, (kiln_opt_level)opt_level, &err) != KILN_OK)) {
        kiln_session_options_destroy(so);
        kiln_env_destroy(env);
        return R_FAIL;
    }
    kiln_status cst = kiln_session_create(env, model, so, &s, &err);
    kiln_session_options_destroy(so);
    if (cst != KILN_OK) {
        snprintf(msg, ml, "%s", err.msg);
        kiln_env_destroy(env);
        return err.status == KILN_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
    }
    DIR *d = opendir(t->dir);
    char *sets[64];
    int n_sets = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n_sets < 64)
        if (strncmp(e->d_name, "test_data_set_", 14) == 0) sets[n_sets++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(sets, (size_t)n_sets, sizeof(char *), cmp_str);
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    /* A float to fixed-point Cast compares only the elements the spec defines (undefined.h). */
    int cast_undefined = ni >= 1 && no == 1 &&
                         undefined_cast_applies(op, kiln_io_dtype(kiln_session_input(s, 0)),
                                                kiln_io_dtype(kiln_session_output(s, 0)));
    int result = n_sets ? R_PASS : R_FAIL;
    if (!n_sets) snprintf(msg, ml, "no test_data_set");
    for (int k = 0; k < n_sets && result == R_PASS; k++) {
        kiln_tensor *in[64] = {0}, *out[64] = {0};
        char path[2700];
        if (ni > 64 || no > 64) {
            snprintf(msg, ml, "too many inputs/outputs");
            result = R_FAIL;
            break;
        }
        for (size_t i = 0; i < ni && result == R_PASS; i++) {
            snprintf(path, sizeof(path), "%s/%s/input_%zu.pb", t->dir, sets[k], i);
            if (kiln_tensor_load_proto(env, path, kiln_io_kind(kiln_session_input(s, i)), &in[i], &err) != KILN_OK) {
                snprintf(msg, ml, "%s", err.msg);
                result = R_FAIL;
            }
        }
        /* Twice: the first run records sizes and builds the memory plan, the second runs on the
         * planned arena (reused, uninitialized memory), so both paths are checked. */
        for (int rep = 0; rep < 2 && result == R_PASS; rep++) {
            for (size_t i = 0; i < no; i++) {
                kiln_tensor_destroy(out[i]);
                out[i] = NULL;
            }
            if (kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err) != KILN_OK) {
                snprintf(msg, ml, "run %d: %.470s", rep + 1, err.msg);
                result = err.status == KILN_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
            }
            for (size_t i = 0; i < no && result == R_PASS; i++) {
                snprintf(path, sizeof(path), "%s/%s/output_%zu.pb", t->dir, sets[k], i);
                kiln_tensor *want = NULL;
                if (kiln_tensor_load_proto(env, path, kiln_io_kind(kiln_session_output(s, i)), &want, &err) != KILN_OK) {
                    snprintf(msg, ml, "%s", err.msg);
                    result = R_FAIL;
                    break;
                }
                char why[400];
                size_t skipped = 0;
                int same = cast_undefined ? undefined_cast_compare(in[0], want, out[i], &skipped, why, sizeof(why))
                                          : tool_compare(want, out[i], t->rtol, t->atol, why, sizeof(why));
                if (!same) {
                    snprintf(msg, ml, "%s run %d: output '%s': %s", sets[k], rep + 1,
                             kiln_io_name(kiln_session_output(s, i)), why);
                    result = R_FAIL;
                }
                kiln_tensor_destroy(want);
            }
        }
        for (size_t i = 0; i < ni; i++) kiln_tensor_destroy(in[i]);
        for (size_t i = 0; i < no; i++) kiln_tensor_destroy(out[i]);
    }
    for (int k = 0; k < n_sets; k++) free(sets[k]);
    kiln_session_destroy(s);
    kiln_env_destroy(env);
    return result;
}

/* ---- process pool ---- */

typedef struct slot {
    pid_t pid;
    int fd;
    size_t test;
    double start;
    char buf[1024];
    size_t len;
} slot;

static void start(runner *r, slot *sl, size_t i) {
    int p[2];
    if (pipe(p) != 0) abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        char msg[512] = "", op[64];
        char model[2400];
        snprintf(model, sizeof(model), "%s/model.onnx", r->tests[i].dir);
        test_op(model, op, sizeof(op));
        int res = run_one(&r->tests[i], msg, sizeof(msg));
        for (char *c = msg; *c; c++)
            if (*c == '\n') *c = ' ';
        dprintf(p[1], "%d\t%s\t%s\n", res, op, msg);
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    sl->pid = pid;
    sl->fd = p[0];
    sl->test = i;
    sl->start = tool_now_ms();
    sl->len = 0;
}

static void finish(runner *r, slot *sl, int status, int timed_out) {
    test_case *t = &r->tests[sl->test];
    t->ms = tool_now_ms() - sl->start;
    sl->buf[sl->len] = '\0';
    int res = -1;
    char *tab1 = strchr(sl->buf, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    if (timed_out) {
        t->result = R_TIMEOUT;
        snprintf(t->msg, sizeof(t->msg), "killed after %d s", r->timeout_s);
    } else if (!WIFEXITED(status) || !tab2) {
        t->result = R_CRASH;
        snprintf(t->msg, sizeof(t->msg), "child died (%s %d)", WIFSIGNALED(status) ? "signal" : "status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else {
        res = atoi(sl->buf);
        *tab2 = '\0';
        snprintf(t->op, sizeof(t->op), "%s", tab1 + 1);
        snprintf(t->msg, sizeof(t->msg), "%s", trim(tab2 + 1));
        t->result = res >= 0 && res < R_COUNT ? res : R_CRASH;
    }
    close(sl->fd);
    sl->pid = 0;
}

static void run_all(runner *r) {
    slot *slots = calloc((size_t)r->jobs, sizeof(slot));
    size_t next = 0, done = 0;
    while (done < r->n) {
        for (int j = 0; j < r->jobs && next < r->n; j++)
            if (!slots[j].pid) start(r, &slots[j], next++);
        struct pollfd pf[64];
        int np = 0;
        for (int j = 0; j < r->jobs; j++)
            if (slots[j].pid) pf[np++] = (struct pollfd){slots[j].fd, POLLIN, 0};
        poll(pf, (nfds_t)np, 100);
        for (int j = 0; j < r->jobs; j++) {
            slot *sl = &slots[j];
            if (!sl->pid) continue;
            ssize_t got;
            while ((got = read(sl->fd, sl->buf + sl->len, sizeof(sl->buf) - 1 - sl->len)) > 0) sl->len += (size_t)got;
            int status;
            pid_t w = waitpid(sl->pid, &status, WNOHANG);
            if (w == sl->pid) {
                while ((got = read(sl->fd, sl->buf + sl->len, sizeof(sl->buf) - 1 - sl->len)) > 0) sl->len += (size_t)got;
                finish(r, sl, status, 0);
                done++;
            } else if (tool_now_ms() - sl->start > r->timeout_s * 1000.0) {
                kill(sl->pid, SIGKILL);
                waitpid(sl->pid, &status, 0);
                finish(r, sl, status, 1);
                done++;
            }
        }
    }
    free(slots);
}

/* ---- report ---- */

typedef struct op_row {
    char op[64];
    int count[R_COUNT];
} op_row;

int main(int argc, char **argv) {
    runner r = {0};
    r.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    r.timeout_s = 10;
    const char *expected = NULL, *tolerances = NULL, *write_expected = NULL, *reasons = NULL;
    const char *roots[16];
    int n_roots = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--expected") == 0 && v) expected = v, i++;
        else if (strcmp(a, "--tolerances") == 0 && v) tolerances = v, i++;
        else if (strcmp(a, "--reasons") == 0 && v) reasons = v, i++;
        else if (strcmp(a, "--write-expected") == 0 && v) write_expected = v, i++;
        else if (strcmp(a, "--jobs") == 0 && v) r.jobs = atoi(v), i++;
        else if (strcmp(a, "--timeout") == 0 && v) r.timeout_s = atoi(v), i++;
        else if (strcmp(a, "--filter") == 0 && v) r.filter = v, i++;
        else if (strcmp(a, "--verbose") == 0) r.verbose = 1;
        else if (strcmp(a, "--optimize") == 0 && v) {
            static const char *const levels[] = {"disabled", "basic", "extended", "all"};
            for (int k = 0; k < 4; k++)
                if (strcmp(v, levels[k]) == 0) opt_level = k;
            if (opt_level < 0) {
                fprintf(stderr, "kiln-conformance: --optimize takes disabled, basic, extended or all\n");
                return 2;
            }
            i++;
        }
        else if (a[0] != '-' && n_roots < 16) roots[n_roots++] = a;
        else {
            fprintf(stderr, "usage: kiln-conformance [--expected F] [--tolerances F] [--jobs N] [--timeout S] "
                            "[--reasons F] [--verbose] [--write-expected F] [--filter S] [--optimize LEVEL] ROOT...\n");
            return 2;
        }
    }
    if (r.jobs < 1) r.jobs = 1;
    if (r.jobs > 64) r.jobs = 64;
    for (int i = 0; i < n_roots; i++) scan_root(&r, roots[i]);
    qsort(r.tests, r.n, sizeof(test_case), cmp_test);
    if (expected) read_list(expected, &r.expected, &r.n_expected);
    if (reasons) read_list(reasons, &r.reasons, &r.n_reasons);
    if (tolerances) read_tolerances(&r, tolerances);
    for (size_t i = 0; i < r.n; i++) {
        const char *id = r.tests[i].id;
        r.tests[i].expected = on_list(r.expected, r.n_expected, id);
    }
    /* Expected tests that no longer exist are errors too: the list only grows with real tests. */
    int missing = 0;
    for (size_t k = 0; k < r.n_expected && !r.filter; k++) {
        int found = 0;
        for (size_t i = 0; i < r.n && !found; i++) found = strcmp(r.tests[i].id, r.expected[k]) == 0;
        if (!found) {
            printf("MISSING %s (on the expected-pass list, not found)\n", r.expected[k]);
            missing++;
        }
    }

    double t0 = tool_now_ms();
    run_all(&r);
    double total_s = (tool_now_ms() - t0) / 1000.0;

    op_row *ops = calloc(r.n + 1, sizeof(op_row));
    size_t n_ops = 0;
    int totals[R_COUNT] = {0}, regressions = 0, new_passes = 0, unexplained = 0;
    char cats[16][64];
    int cat_counts[16][R_COUNT];
    int n_cats = 0;
    memset(cat_counts, 0, sizeof(cat_counts));
    for (size_t i = 0; i < r.n; i++) {
        test_case *t = &r.tests[i];
        totals[t->result]++;
        size_t k = 0;
        while (k < n_ops && strcmp(ops[k].op, t->op) != 0) k++;
        if (k == n_ops) snprintf(ops[n_ops++].op, sizeof(ops[0].op), "%s", t->op);
        ops[k].count[t->result]++;
        char cat[64];
        snprintf(cat, sizeof(cat), "%.*s", (int)(strchr(t->id, '/') - t->id), t->id);
        int c = 0;
        while (c < n_cats && strcmp(cats[c], cat) != 0) c++;
        if (c == n_cats && n_cats < 16) snprintf(cats[n_cats++], sizeof(cats[0]), "%s", cat);
        if (c < 16) cat_counts[c][t->result]++;
        if (t->expected && t->result != R_PASS) {
            printf("REGRESSION %s: %s: %s\n", t->id, result_names[t->result], t->msg);
            regressions++;
        } else if (!t->expected && t->result == R_PASS) {
            new_passes++;
            if (r.verbose) printf("NEW PASS %s\n", t->id);
        } else if (r.verbose && t->result != R_PASS) {
            printf("%-11s %s: %s\n", result_names[t->result], t->id, t->msg);
        }
        if (t->result == R_CRASH || t->result == R_TIMEOUT) printf("%s %s: %s\n", result_names[t->result], t->id, t->msg);
        /* With --reasons, every test that does not pass must be on that list with its reason. */
        if (reasons && t->result != R_PASS && !on_list(r.reasons, r.n_reasons, t->id)) {
            printf("NO REASON %s: %s: %s (add it to %s with a one-line reason)\n", t->id, result_names[t->result], t->msg,
                   reasons);
            unexplained++;
        } else if (reasons && t->result == R_PASS && on_list(r.reasons, r.n_reasons, t->id)) {
            printf("PASSES NOW %s (remove it from %s)\n", t->id, reasons);
        }
    }
    printf("\n%-28s %6s %6s %6s %6s\n", "op", "pass", "fail", "unsup", "crash");
    for (size_t k = 0; k < n_ops; k++)
        printf("%-28s %6d %6d %6d %6d\n", ops[k].op, ops[k].count[R_PASS], ops[k].count[R_FAIL],
               ops[k].count[R_UNSUPPORTED], ops[k].count[R_CRASH] + ops[k].count[R_TIMEOUT]);
    printf("\n%-20s %6s %6s %6s %6s %6s\n", "category", "total", "pass", "fail", "unsup", "crash");
    for (int c = 0; c < n_cats; c++) {
        int tot = 0;
        for (int k = 0; k < R_COUNT; k++) tot += cat_counts[c][k];
        printf("%-20s %6d %6d %6d %6d %6d\n", cats[c], tot, cat_counts[c][R_PASS], cat_counts[c][R_FAIL],
               cat_counts[c][R_UNSUPPORTED], cat_counts[c][R_CRASH] + cat_counts[c][R_TIMEOUT]);
    }
    printf("\nTOTAL %zu tests: %d pass (%.1f%%), %d fail, %d unsupported, %d crash, %d timeout in %.1f s\n", r.n,
           totals[R_PASS], r.n ? 100.0 * totals[R_PASS] / (double)r.n : 0.0, totals[R_FAIL], totals[R_UNSUPPORTED],
           totals[R_CRASH], totals[R_TIMEOUT], total_s);
    printf("expected-pass list: %zu tests, %d regressions, %d missing; %d passing tests not on the list\n", r.n_expected,
           regressions, missing, new_passes);
    if (reasons) printf("not-passing list: %zu tests with reasons; %d tests not passing without one\n", r.n_reasons, unexplained);
    if (write_expected) {
        FILE *f = fopen(write_expected, "w");
        if (!f) return 2;
        fprintf(f, "# Tests that must pass (tests/onnx/conformance.c fails CI otherwise). Only grows.\n");
        for (size_t i = 0; i < r.n; i++)
            if (r.tests[i].result == R_PASS || r.tests[i].expected) fprintf(f, "%s\n", r.tests[i].id);
        fclose(f);
        printf("wrote %s\n", write_expected);
    }
    free(ops);
    for (size_t k = 0; k < r.n_expected; k++) free(r.expected[k]);
    free(r.expected);
    for (size_t k = 0; k < r.n_reasons; k++) free(r.reasons[k]);
    free(r.reasons);
    free(r.tests);
    return regressions || missing || unexplained || totals[R_CRASH] || totals[R_TIMEOUT] ? 1 : 0;
}
