/* SPDX-License-Identifier: MIT */
/* 2-D fp32 max/average pooling, the loops of f32-pool-2d-tmpl.h compiled for avx2. */
#define POOL_NAME kiln_f32_pool_2d__avx2
#include "kernels/f32-pool/f32-pool-2d-tmpl.h"
