/* SPDX-License-Identifier: MIT */
/* The fused ops' epilogue (kiln_epilogue.h): bias, residual, activation, in this order. */
#include "providers/cpu/ops/kiln_epilogue.h"

#include <string.h>

#include "kernels/f32-vmath/f32-vmath.h"

static float act1(float x, const kiln_cpu_epilogue *ep) {
    switch (ep->act) {
    case KILN_CPU_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case KILN_CPU_ACT_LEAKY_RELU: return x >= 0.0f ? x : ep->p0 * x;
    case KILN_CPU_ACT_CLIP: return x < ep->p0 ? ep->p0 : x > ep->p1 ? ep->p1 : x;
    case KILN_CPU_ACT_HARD_SIGMOID: {
        float v = ep->p0 * x + ep->p1;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case KILN_CPU_ACT_HARD_SWISH: {
        float v = x / 6.0f + 0.5f;
        return x * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
    }
    default: return x;
    }
}

void kiln_cpu_epilogue_apply(float *y, size_t rows, size_t cols, const kiln_cpu_epilogue *ep) {
    for (size_t r = 0; r < rows; r++) {
        float *yr = y + r * cols;
        if (ep->bias) {
            if (ep->bias_per_row) {
                float b = ep->bias[r];
                for (size_t c = 0; c < cols; c++) yr[c] += b;
            } else {
                for (size_t c = 0; c < cols; c++) yr[c] += ep->bias[c];
            }
        }
        if (ep->residual) {
            const float *zr = ep->residual + r * cols;
            for (size_t c = 0; c < cols; c++) yr[c] += zr[c];
        }
        /* One plain loop per activation, so that each vectorizes. */
        switch (ep->act) {
        case KILN_CPU_ACT_NONE: break;
        case KILN_CPU_ACT_RELU:
            for (size_t c = 0; c < cols; c++) yr[c] = yr[c] > 0.0f ? yr[c] : 0.0f;
            break;
        case KILN_CPU_ACT_CLIP: {
            float lo = ep->p0, hi = ep->p1;
            for (size_t c = 0; c < cols; c++) {
                float v = yr[c] < lo ? lo : yr[c];
                yr[c] = v > hi ? hi : v;
            }
            break;
        }
        case KILN_CPU_ACT_LEAKY_RELU: {
            float a = ep->p0;
            for (size_t c = 0; c < cols; c++) yr[c] = yr[c] >= 0.0f ? yr[c] : a * yr[c];
            break;
        }
        /* exp-based activations: the vectorized kernels of kernels/f32-vmath */
        case KILN_CPU_ACT_SIGMOID: kiln_f32_vmath()->sigmoid(cols, yr, yr); break;
        case KILN_CPU_ACT_TANH: kiln_f32_vmath()->tanh(cols, yr, yr); break;
        case KILN_CPU_ACT_GELU: kiln_f32_vmath()->gelu(cols, yr, yr); break;
        case KILN_CPU_ACT_GELU_TANH: kiln_f32_vmath()->gelu_tanh(cols, yr, yr); break;
        default:
            for (size_t c = 0; c < cols; c++) yr[c] = act1(yr[c], ep);
            break;
        }
    }
}

typedef struct epi_job {
    float *y;
    size_t cols;
    const kiln_cpu_epilogue *ep;
} epi_job;

static void epi_range(void *arg, size_t begin, size_t end) {
    const epi_job *j = arg;
    kiln_cpu_epilogue ep = *j->ep;
    if (ep.bias && ep.bias_per_row) ep.bias += begin;
    if (ep.residual) ep.residual += begin * j->cols;
    kiln_cpu_epilogue_apply(j->y + begin * j->cols, end - begin, j->cols, &ep);
}

void kiln_cpu_epilogue_run(kiln_kernel_ctx *ctx, float *y, size_t rows, size_t cols, const kiln_cpu_epilogue *ep) {
    if (!ep->bias && !ep->residual && ep->act == KILN_CPU_ACT_NONE) return;
    epi_job j = {y, cols, ep};
    uint64_t per_row = (uint64_t)cols * (ep->act >= KILN_CPU_ACT_SIGMOID && ep->act != KILN_CPU_ACT_HARD_SIGMOID ? 8 : 1);
    cpu_parallel_for(ctx, rows, cpu_grain(per_row), epi_range, &j);
}

kiln_status kiln_cpu_epilogue_read(const cpu_node *n, kiln_cpu_epilogue *ep, kiln_error *err) {
    static const struct {
        const char *name;
        int act;
        uint32_t n_params;
    } acts[] = {{"", KILN_CPU_ACT_NONE, 0},           {"Relu", KILN_CPU_ACT_RELU, 0},     {"LeakyRelu", KILN_CPU_ACT_LEAKY_RELU, 1},
                {"Clip", KILN_CPU_ACT_CLIP, 2},       {"Sigmoid", KILN_CPU_ACT_SIGMOID, 0}, {"HardSigmoid", KILN_CPU_ACT_HARD_SIGMOID, 2},
                {"HardSwish", KILN_CPU_ACT_HARD_SWISH, 0}, {"Tanh", KILN_CPU_ACT_TANH, 0}, {"Gelu", KILN_CPU_ACT_GELU, 0},
                {"GeluTanh", KILN_CPU_ACT_GELU_TANH, 0}};
    const char *name = cpu_attr_str(n, "activation", "");
    uint32_t cnt = 0;
    const float *params = cpu_attr_floats(n, "activation_params", &cnt);
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        if (strcmp(acts[i].name, name) != 0) continue;
        if (cnt != acts[i].n_params)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "activation '%s' takes %u activation_params, got %u", name, acts[i].n_params,
                            cnt);
        ep->act = acts[i].act;
        ep->p0 = cnt > 0 ? params[0] : 0.0f;
        ep->p1 = cnt > 1 ? params[1] : 0.0f;
        return KILN_OK;
    }
    return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown activation '%s' (docs/kiln-ops.md lists them)", name);
}
