/* SPDX-License-Identifier: MIT */
/* rt-bench: Kiln's kernel and model benchmarking tool (docs/rt-bench.md). */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kernels/config/cpu.h"
#include "kernels/config/gemm-config.h"
#include "kernels/config/qgemm-config.h"
#include "kernels/gemm/gemm.h"
#include "refs.h"

static const char usage[] =
    "usage: rt-bench gemm [--m M --n N --k K] [--trans-a] [--trans-b] [--dtype f32|u8s8|s8s8|bf16]\n"
    "       rt-bench conv|dwconv --input N,C,H,W [--filter M,KH,KW] [--stride S] [--pad P] [--dilation D] [--group G]\n"
    "       rt-bench pool [max|avg] --input N,C,H,W [--filter 0,KH,KW] [--stride S] [--pad P]\n"
    "       rt-bench unary exp|tanh|sigmoid|erf|gelu [--n N]\n"
    "       rt-bench softmax|layernorm [--shape A,B,..] [--axis X]; transpose [--shape ..] [--perm ..];\n"
    "                reduce [sum|mean|max] [--shape ..] [--axis X]\n"
    "       rt-bench peak | suite resnet50|mobilenetv2|bert | shapes MODEL.onnx [--dim NAME=N] [--list]\n"
    "       rt-bench model MODEL.onnx [--threads 1,2] [--optimize L] [--compare ort,openvino] [--processes N] [--dim NAME=N] [--int-max N]\n"
    "common: [--threads 1,2] [--isa LEVEL] [--min-time S] [--min-reps N] [--no-refs] [--check] [--clock auto|wall|cpu] [--json|--csv] [--dry-run]\n";

static void header(const rb_args *a) {
    if (a->format != RB_TABLE) return;
    const kiln_cpu_info *c = kiln_cpu();
    printf("# cpu: %s; kernel level %s (detected %s); packed f32 GEMM: %s; u8s8 GEMM: %s; kiln_f32_gemm: %s; "
           "oneDNN: %s; OpenBLAS: %s\n",
           c->brand, kiln_isa_name(c->level), kiln_isa_name(c->detected), kiln_f32_gemm_config_get()->name,
           kiln_qgemm_config_get()->name, kiln_f32_gemm_variant(), rb_dnnl_version(),
           rb_have_blas() ? "yes" : "not built");
    printf("# clock: %s at 1 thread, %s above (--clock)\n", rb_clock_name(a, 1), rb_clock_name(a, 2));
}

int main(int argc, char **argv) {
    rb_args a;
    char err[256];
    int rc = rb_parse_args(argc, argv, &a, err, sizeof(err));
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return RB_OK;
    }
    if (rc) {
        fprintf(stderr, "rt-bench: %s (rt-bench --help for usage)\n", err);
        return rc;
    }
    if (a.isa) {
        int isa = kiln_isa_parse(a.isa);
        if (isa < 0) {
            fprintf(stderr, "rt-bench: unknown --isa level: %s (scalar, avx2, avxvnni, avx512, avx512vnni, amx)\n", a.isa);
            return RB_USAGE;
        }
        kiln_cpu_set_cap(isa);
        if ((int)kiln_cpu()->level < isa)
            fprintf(stderr, "rt-bench: --isa %s: this CPU reaches only %s\n", a.isa, kiln_isa_name(kiln_cpu()->level));
    }
    if (a.dry_run && strcmp(a.command, "suite") && strcmp(a.command, "shapes")) {
        rb_print_args(&a);
        return RB_OK;
    }
    if (!strcmp(a.command, "peak")) return rb_cmd_peak(&a);
    if (!strcmp(a.command, "suite")) return header(&a), rb_cmd_suite(&a);
    if (!strcmp(a.command, "shapes")) return rb_cmd_shapes(&a);
    if (!strcmp(a.command, "model")) return rb_cmd_model(&a);
    header(&a);
    rb_rows rows = {0};
    rc = !strcmp(a.command, "gemm") ? rb_cmd_gemm(&a, &rows) : rb_cmd_graph(&a, &rows);
    if (rows.n) {
        rb_rows_finish(&rows);
        rb_output_rows(&rows, a.format, stdout);
    }
    rb_rows_free(&rows);
    return rc;
}
