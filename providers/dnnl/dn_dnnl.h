/* SPDX-License-Identifier: MIT */
/* oneDNN's C API through a table filled by dlopen (dn_load.c): the plugin does not link libdnnl,
 * so it can choose how OpenMP waits before libgomp starts (docs/dnnl.md, "Threads"), and a
 * machine without libdnnl gets a clear load error instead of a failed dlopen of the plugin.
 * Every file of the plugin includes this header instead of dnnl.h; calls read as usual. */
#ifndef KILN_DNNL_DN_DNNL_H
#define KILN_DNNL_DN_DNNL_H

#include <dnnl.h>

#define DN_DNNL_FUNCS(X) \
    X(dnnl_binary_desc_init) \
    X(dnnl_dilated_convolution_forward_desc_init) \
    X(dnnl_eltwise_forward_desc_init) \
    X(dnnl_engine_create) \
    X(dnnl_engine_destroy) \
    X(dnnl_matmul_desc_init) \
    X(dnnl_memory_create) \
    X(dnnl_memory_desc_equal) \
    X(dnnl_memory_desc_get_size) \
    X(dnnl_memory_desc_init_by_strides) \
    X(dnnl_memory_desc_init_by_tag) \
    X(dnnl_memory_destroy) \
    X(dnnl_memory_get_memory_desc) \
    X(dnnl_memory_set_data_handle) \
    X(dnnl_pooling_v2_forward_desc_init) \
    X(dnnl_post_ops_append_binary) \
    X(dnnl_post_ops_append_eltwise) \
    X(dnnl_post_ops_append_sum) \
    X(dnnl_post_ops_create) \
    X(dnnl_post_ops_destroy) \
    X(dnnl_primitive_attr_create) \
    X(dnnl_primitive_attr_destroy) \
    X(dnnl_primitive_attr_set_post_ops) \
    X(dnnl_primitive_create) \
    X(dnnl_primitive_desc_create) \
    X(dnnl_primitive_desc_destroy) \
    X(dnnl_primitive_desc_query_md) \
    X(dnnl_primitive_destroy) \
    X(dnnl_primitive_execute) \
    X(dnnl_reorder_primitive_desc_create) \
    X(dnnl_set_verbose) \
    X(dnnl_softmax_v2_forward_desc_init) \
    X(dnnl_stream_create) \
    X(dnnl_stream_destroy) \
    X(dnnl_stream_wait) \
    X(dnnl_version) \
    X(dnnl_batch_normalization_forward_desc_init) \
    X(dnnl_layer_normalization_forward_desc_init) \
    X(dnnl_lrn_forward_desc_init) \
    X(dnnl_concat_primitive_desc_create) \
    X(dnnl_reduction_desc_init) \
    X(dnnl_primitive_attr_set_fpmath_mode) \
    X(dnnl_dilated_deconvolution_forward_desc_init)

typedef struct dn_dnnl_api {
#define DN_X(f) __typeof__(f) *f;
    DN_DNNL_FUNCS(DN_X)
#undef DN_X
    void (*omp_set_num_threads)(int);
    int (*omp_get_max_threads)(void);
} dn_dnnl_api;

extern dn_dnnl_api dn_dnnl;

/* Loads libdnnl once per process; 0 with a message in `why` when it cannot. */
int dn_dnnl_load(char *why, size_t len);

#ifndef DN_DNNL_NO_REDIRECT
#define dnnl_binary_desc_init dn_dnnl.dnnl_binary_desc_init
#define dnnl_dilated_convolution_forward_desc_init dn_dnnl.dnnl_dilated_convolution_forward_desc_init
#define dnnl_eltwise_forward_desc_init dn_dnnl.dnnl_eltwise_forward_desc_init
#define dnnl_engine_create dn_dnnl.dnnl_engine_create
#define dnnl_engine_destroy dn_dnnl.dnnl_engine_destroy
#define dnnl_matmul_desc_init dn_dnnl.dnnl_matmul_desc_init
#define dnnl_memory_create dn_dnnl.dnnl_memory_create
#define dnnl_memory_desc_equal dn_dnnl.dnnl_memory_desc_equal
#define dnnl_memory_desc_get_size dn_dnnl.dnnl_memory_desc_get_size
#define dnnl_memory_desc_init_by_strides dn_dnnl.dnnl_memory_desc_init_by_strides
#define dnnl_memory_desc_init_by_tag dn_dnnl.dnnl_memory_desc_init_by_tag
#define dnnl_memory_destroy dn_dnnl.dnnl_memory_destroy
#define dnnl_memory_get_memory_desc dn_dnnl.dnnl_memory_get_memory_desc
#define dnnl_memory_set_data_handle dn_dnnl.dnnl_memory_set_data_handle
#define dnnl_pooling_v2_forward_desc_init dn_dnnl.dnnl_pooling_v2_forward_desc_init
#define dnnl_post_ops_append_binary dn_dnnl.dnnl_post_ops_append_binary
#define dnnl_post_ops_append_eltwise dn_dnnl.dnnl_post_ops_append_eltwise
#define dnnl_post_ops_append_sum dn_dnnl.dnnl_post_ops_append_sum
#define dnnl_post_ops_create dn_dnnl.dnnl_post_ops_create
#define dnnl_post_ops_destroy dn_dnnl.dnnl_post_ops_destroy
#define dnnl_primitive_attr_create dn_dnnl.dnnl_primitive_attr_create
#define dnnl_primitive_attr_destroy dn_dnnl.dnnl_primitive_attr_destroy
#define dnnl_primitive_attr_set_post_ops dn_dnnl.dnnl_primitive_attr_set_post_ops
#define dnnl_primitive_create dn_dnnl.dnnl_primitive_create
#define dnnl_primitive_desc_create dn_dnnl.dnnl_primitive_desc_create
#define dnnl_primitive_desc_destroy dn_dnnl.dnnl_primitive_desc_destroy
#define dnnl_primitive_desc_query_md dn_dnnl.dnnl_primitive_desc_query_md
#define dnnl_primitive_destroy dn_dnnl.dnnl_primitive_destroy
#define dnnl_primitive_execute dn_dnnl.dnnl_primitive_execute
#define dnnl_reorder_primitive_desc_create dn_dnnl.dnnl_reorder_primitive_desc_create
#define dnnl_set_verbose dn_dnnl.dnnl_set_verbose
#define dnnl_softmax_v2_forward_desc_init dn_dnnl.dnnl_softmax_v2_forward_desc_init
#define dnnl_stream_create dn_dnnl.dnnl_stream_create
#define dnnl_stream_destroy dn_dnnl.dnnl_stream_destroy
#define dnnl_stream_wait dn_dnnl.dnnl_stream_wait
#define dnnl_version dn_dnnl.dnnl_version
#define dnnl_batch_normalization_forward_desc_init dn_dnnl.dnnl_batch_normalization_forward_desc_init
#define dnnl_layer_normalization_forward_desc_init dn_dnnl.dnnl_layer_normalization_forward_desc_init
#define dnnl_lrn_forward_desc_init dn_dnnl.dnnl_lrn_forward_desc_init
#define dnnl_concat_primitive_desc_create dn_dnnl.dnnl_concat_primitive_desc_create
#define dnnl_reduction_desc_init dn_dnnl.dnnl_reduction_desc_init
#define dnnl_primitive_attr_set_fpmath_mode dn_dnnl.dnnl_primitive_attr_set_fpmath_mode
#define dnnl_dilated_deconvolution_forward_desc_init dn_dnnl.dnnl_dilated_deconvolution_forward_desc_init
#endif
#endif
