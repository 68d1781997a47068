/* SPDX-License-Identifier: MIT */
/* rt-bench's shared types: the parsed command line, one result row, and the table of cases.
 * A benchmarked implementation is one rb_impl entry (name, role, dtype, ISA, adapter functions);
 * a new Kiln kernel is one more entry in a family's table (cases_gemm.c, cases_graph.c). */
#ifndef KILN_RT_BENCH_H
#define KILN_RT_BENCH_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Exit codes, as rt-run's (docs/rt-run.md): 1 a result does not match (a wrong kernel),
 * 2 usage, 3 a model cannot be loaded, 4 a run failed. */
enum { RB_OK = 0, RB_MISMATCH = 1, RB_USAGE = 2, RB_LOAD = 3, RB_RUN = 4 };

#define RB_MAX_THREADS 16
#define RB_MAX_DIMS 8

typedef enum rb_format { RB_TABLE = 0, RB_JSON, RB_CSV } rb_format;

typedef struct rb_args {
    const char *command;          /* gemm, conv, dwconv, pool, unary, softmax, layernorm, transpose, reduce,
                                     peak, suite, shapes, model */
    const char *op;               /* unary OP, pool max|avg, reduce sum|mean|max, suite NAME, MODEL path */
    /* gemm */
    int64_t m, n, k;
    int trans_a, trans_b;         /* --trans-a (f32 only: Gemm transA), --trans-b */
    const char *dtype;            /* f32, u8s8, s8s8, bf16 */
    /* conv family: input N,C,H,W; filter M,KH,KW; stride, pad, dilation, group */
    int64_t input[4];
    int has_input;
    int64_t filter[3];
    int has_filter;
    int64_t stride[2], pad[2], dilation[2], group;
    /* unary/softmax/layernorm/transpose/reduce */
    int64_t count;                /* --n: elements (unary) */
    int64_t shape[RB_MAX_DIMS];   /* --shape A,B,...: softmax, layernorm, transpose, reduce, pool */
    int rank;
    int64_t perm[RB_MAX_DIMS];
    int perm_rank;
    int64_t axis;
    /* common */
    int threads[RB_MAX_THREADS];
    int n_threads;
    const char *isa;              /* --isa: caps kiln_cpu() (KILN_CPU_ISA) */
    double min_time;              /* seconds of timed runs per case (at least) */
    int min_reps;                 /* timed runs per case (at least) */
    rb_format format;
    int dry_run;                  /* print what would run, time nothing */
    int list_only;                /* shapes: extract and print, time nothing */
    int no_refs;                  /* kernel cases: Kiln only */
    int check_only;               /* kernel cases: run the correctness gate, time nothing */
    int clock;                    /* 0 auto (CPU time at 1 thread, else wall), 1 wall, 2 cpu */
    /* shapes / model */
    const char *dim_names[16];
    int64_t dim_values[16];
    int n_dims;
    const char *optimize;         /* --optimize: disabled|basic|extended|all (model mode); NULL: default */
    const char *compare;          /* --compare as given: "ort", "openvino", "ort,openvino" */
    int cmp_ort, cmp_ov;          /* which references --compare names */
    int processes;                /* model mode: processes per runtime */
    int int_max;                  /* model mode: integer inputs in [0, int_max) (1..4; default 4) */
    int child;                    /* model mode: internal child process */
    int profile_ops;              /* model mode child: report the top ops (profiled session) */
    const char *inputs_dir;       /* model mode child: DIR/<i>.npy feeds input i */
    const char *python;           /* model mode: interpreter for ort_run.py */
    const char *ort_script;
    const char *ov_python;        /* model mode: interpreter for ov_run.py (.venv-openvino) */
    const char *ov_script;
} rb_args;

/* Parses argv (argv[0] is the program). On a usage error writes one line to `err` and returns
 * RB_USAGE. */
int rb_parse_args(int argc, char **argv, rb_args *a, char *err, size_t err_size);
/* Writes the parsed arguments as one JSON object (for --dry-run and the parsing test). */
void rb_print_args(const rb_args *a);

typedef enum rb_role { RB_KILN = 0, RB_REF, RB_NAIVE } rb_role;

/* One timed implementation of one case. */
typedef struct rb_row {
    char group[96];       /* the case: "gemm f32 m=..,n=..,k=.." */
    char impl[48];        /* kiln_f32_gemm, cblas_sgemm, ... */
    rb_role role;
    char isa[16];
    int threads;
    double flops;         /* per run (0 for memory-bound cases) */
    double bytes;         /* per run, for GB/s */
    int memory_bound;
    double median_s, min_s, p90_s;
    int reps;
    double rate;          /* GFLOP/s or GB/s from the median */
    double pct_peak;      /* of the measured peak for `threads` threads; < 0 unknown */
    double max_err;       /* vs the naive reference */
    double ratio;         /* Kiln rows: best reference median / this median (> 1 faster); < 0 none */
    const char *clock;    /* "cpu" or "wall" (NULL: not timed) */
    char note[96];
} rb_row;

typedef struct rb_rows {
    rb_row *v;
    size_t n, cap;
} rb_rows;

rb_row *rb_rows_add(rb_rows *r);
void rb_rows_free(rb_rows *r);

/* Sets `ratio` on every Kiln row (the best non-naive reference of the same group and threads,
 * else the naive one) and `pct_peak` from the measured peak. */
void rb_rows_finish(rb_rows *r);

/* Output of kernel rows in the chosen format. */
void rb_output_rows(const rb_rows *r, rb_format f, FILE *out);

/* Timing: runs fn until `min_time` seconds and `min_reps` runs are both reached (capped at 60 s
 * and 100000 runs); returns the median, min and p90 of single runs. The clock is the calling
 * thread's CPU time when `threads` is 1 and --clock is auto or cpu (a one-thread case runs on
 * the calling thread only, and CPU time ignores the time a shared machine's scheduler took
 * away), else the wall clock (CLOCK_MONOTONIC). */
typedef void (*rb_run_fn)(void *ctx);
void rb_time(const rb_args *a, int threads, rb_run_fn fn, void *ctx, double *median, double *min, double *p90,
             int *reps);
/* "cpu" or "wall": the clock rb_time uses for `threads`. */
const char *rb_clock_name(const rb_args *a, int threads);
/* Now, in seconds, on the clock rb_time uses for `threads`. */
double rb_clock_now(const rb_args *a, int threads);
double rb_now(void);

/* Thread counts of the reference libraries (OpenBLAS, oneDNN's OpenMP). */
void rb_set_ref_threads(int n);
void rb_set_blas_threads(int n);

/* Peak figures (peak.c): measured once per process on first use. */
typedef struct rb_peak {
    double fma_gflops[3];     /* per core: 128, 256, 512-bit FMA (0: not available) */
    double vnni_gops[2];      /* per core: vpdpbusd ymm, zmm (int8 ops/s: 2 per multiply-add) */
    double amx_gops;          /* per core: tdpbusd (0: not permitted/present) */
    double f32_gflops;        /* the best FMA figure: the f32 peak per core */
    double int8_gops;         /* the best int8 figure per core */
    double read_gbs[16];      /* read bandwidth per working set */
    size_t read_bytes[16];
    int n_read;
    double dram_gbs;          /* the largest working set's figure */
} rb_peak;
const rb_peak *rb_peak_get(void);
int rb_cmd_peak(const rb_args *a);

/* Commands. Each returns an exit code. */
int rb_cmd_gemm(const rb_args *a, rb_rows *rows);
int rb_cmd_graph(const rb_args *a, rb_rows *rows);        /* conv, dwconv, pool, unary, softmax, ... */
int rb_cmd_suite(const rb_args *a);
int rb_cmd_shapes(const rb_args *a);
int rb_cmd_model(const rb_args *a);

/* A conv shape for suites and shapes extraction. */
typedef struct rb_conv_shape {
    int64_t n, c, h, w, m, kh, kw, sh, sw, ph, pw, dh, dw, group;
} rb_conv_shape;
int rb_bench_conv_shape(const rb_args *base, const rb_conv_shape *s, rb_rows *rows);
int rb_bench_gemm_shape(const rb_args *base, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                        const char *dtype, rb_rows *rows);

/* The node cases beyond 2-D Conv and plain GEMMs (cases_nodes.c): Conv of any spatial rank
 * 1..3 (any pads), ConvTranspose, QLinearConv, and MatMul with a batched B. Each is a one-node
 * model run through the public API, i.e. the CPU provider's own op code (providers/cpu/ops/
 * conv.c, conv_transpose.c, qlinear.c, gemm.c) with the kernels it calls, checked first
 * against a naive loop. */
#define RB_MAX_SPATIAL 3
typedef struct rb_convnd_shape {
    int transpose;            /* ConvTranspose */
    int quant;                /* QLinearConv: 8-bit x, w, y */
    int x_signed, w_signed;   /* QLinearConv: int8 (1) or uint8 (0) */
    int nsp;                  /* spatial rank, 1..3 */
    int64_t n, c, m, group;   /* m: output channels */
    int64_t in[RB_MAX_SPATIAL], k[RB_MAX_SPATIAL], stride[RB_MAX_SPATIAL], dil[RB_MAX_SPATIAL];
    int64_t pad_b[RB_MAX_SPATIAL], pad_e[RB_MAX_SPATIAL];
    int64_t out_pad[RB_MAX_SPATIAL]; /* ConvTranspose output_padding */
} rb_convnd_shape;
/* Output extent of spatial axis d (0 when the shape is empty or invalid). */
int64_t rb_convnd_out(const rb_convnd_shape *s, int d);
int rb_bench_convnd_shape(const rb_args *base, const rb_convnd_shape *s, rb_rows *rows);
/* MatMul of A [batch_a, m, k] and B [batch_b, k, n], batch_a == batch_b or one of them 1
 * (broadcast), both graph inputs (B an activation, as in attention). */
int rb_bench_batched_matmul(const rb_args *base, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k,
                            rb_rows *rows);

/* The correctness gate: KILN_BENCH_INJECT_WRONG=1 (or a matching impl name) makes the Kiln
 * implementations return a deliberately wrong result, so the gate's refusal can be tested. */
int rb_inject_wrong(const char *impl);

/* The peak-relevant unit of a dtype: 0 f32, 1 int8. */
double rb_peak_for(int int8, int threads, int memory_bound, double bytes);

/* The kiln_opt_level (abi/kiln.h) of an --optimize name, or -1 when it is none. */
int rb_opt_level(const char *name);

#endif
