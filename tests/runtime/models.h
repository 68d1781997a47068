/* SPDX-License-Identifier: MIT */
/* Models and helpers shared by the runtime suites: a small CNN with a symbolic batch whose
 * graph exercises in-place reuse, aliases, scratch and two outputs, and its inputs. */
#ifndef KILN_TESTS_RUNTIME_MODELS_H
#define KILN_TESTS_RUNTIME_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "common/model_builder.h"
#include "kiln.h"

/* X [N,4,8,8] -> Conv 3x3 (8 ch) -> Relu -> Conv 3x3 -> Add(., relu) -> Sigmoid -> Flatten
 *   -> Gemm [N,10] = output "y";   Flatten -> Reshape [N,8,64] -> Mul(., 0.5) = output "z".
 * `batch` > 0 fixes N, else N is the symbol "N". The builder owns the bytes. */
mb *rt_cnn_model(int64_t batch);
#define RT_CNN_Y 10   /* y elements per image */
#define RT_CNN_Z 512  /* z elements per image */
#define RT_CNN_X 256  /* x elements per image */

/* Deterministic input data for image batch `n`, seeded. */
void rt_fill(float *x, size_t count, uint32_t seed);

/* Largest |a - b| / (1 + |b|) over `n` floats. */
double rt_max_diff(const float *a, const float *b, size_t n);

#endif
