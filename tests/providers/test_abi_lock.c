/* SPDX-License-Identifier: MIT */
/* The ABI lock: sizes and member offsets of every struct of provider ABI 1.x as released, on
 * LP64 targets, checked at compile time (so an accidental change fails the build), compiled as
 * C99 with -Wpedantic (so the header stays plain C). A new minor version appends members: add
 * their lines and update the sizes, never change an offset. */
#include <stddef.h>
#include <stdint.h>

#include "kiln_provider.h"

#define LOCK_CAT2(a, b) a##b
#define LOCK_CAT(a, b) LOCK_CAT2(a, b)
/* C99 has no _Static_assert: a negative array size stops the build. */
#define LOCK(cond) typedef char LOCK_CAT(abi_lock_line_, __LINE__)[(cond) ? 1 : -1]
#define SIZE(type, n) LOCK(sizeof(type) == (n))
#define AT(type, member, n) LOCK(offsetof(type, member) == (n))

#if UINTPTR_MAX == UINT64_MAX && (defined(__x86_64__) || defined(__aarch64__))
#define LOCKED 1
LOCK(KILN_ABI_VERSION == 0x00010002u);
LOCK(KILN_ABI_VERSION_MIN == 0x00010000u);
LOCK(KILN_MAX_RANK == 16);
LOCK(KILN_ERROR_MSG_MAX == 512);
SIZE(kiln_error, 516);
LOCK(KILN_CLAIM_NO == 0 && KILN_CLAIM_KERNEL == 1 && KILN_CLAIM_KERNEL_INSIST == 2);
LOCK(KILN_NODE_F_SHAPE_ONLY == 1 && KILN_NODE_F_CLAIMED == 2 && KILN_NODE_F_SUBGRAPH == 4);
LOCK(KILN_GROUP_INSIST == 1);
LOCK(KILN_DEVICE_CAP_STREAMS == 1 && KILN_DEVICE_CAP_CONCURRENT_RUNS == 2 && KILN_DEVICE_CAP_ASYNC_COMPUTE == 4);
LOCK(KILN_MEM_KIND_F_PINNED_HOST == 1);
LOCK(KILN_DEVICE_CPU == 0 && KILN_DEVICE_GPU == 1 && KILN_DEVICE_NPU == 2 && KILN_DEVICE_ACCELERATOR == 3 &&
     KILN_DEVICE_OTHER == 4);
LOCK(KILN_ERR_PROVIDER == 7 && KILN_ERR_INTERNAL == 9 && KILN_ERR_TIMEOUT == 10);

SIZE(kiln_abi_header, 8);
AT(kiln_abi_header, struct_size, 0);
AT(kiln_abi_header, abi_version, 4);

SIZE(kiln_value_desc, 64);
AT(kiln_value_desc, hdr, 0);
AT(kiln_value_desc, kind, 8);
AT(kiln_value_desc, dtype, 12);
AT(kiln_value_desc, rank, 16);
AT(kiln_value_desc, mem_kind, 20);
AT(kiln_value_desc, dims, 24);
AT(kiln_value_desc, data, 32);
AT(kiln_value_desc, offset, 40);
AT(kiln_value_desc, count, 48);
AT(kiln_value_desc, items, 56);

SIZE(kiln_value_info, 168);
AT(kiln_value_info, hdr, 0);
AT(kiln_value_info, name, 8);
AT(kiln_value_info, present, 16);
AT(kiln_value_info, kind, 20);
AT(kiln_value_info, dtype, 24);
AT(kiln_value_info, rank, 28);
AT(kiln_value_info, dims, 32);
AT(kiln_value_info, constant, 160);

SIZE(kiln_host_api, 408); /* 368 in 1.0; 1.1 appended thread_count (376); 1.2 log_ctx..device_scratch */
AT(kiln_host_api, hdr, 0);
AT(kiln_host_api, log, 8);
AT(kiln_host_api, alloc, 16);
AT(kiln_host_api, free, 24);
AT(kiln_host_api, node_name, 32);
AT(kiln_host_api, node_op_type, 40);
AT(kiln_host_api, node_domain, 48);
AT(kiln_host_api, node_opset, 56);
AT(kiln_host_api, node_input_count, 64);
AT(kiln_host_api, node_output_count, 72);
AT(kiln_host_api, node_input_info, 80);
AT(kiln_host_api, node_output_info, 88);
AT(kiln_host_api, node_attr_count, 96);
AT(kiln_host_api, node_attr_at, 104);
AT(kiln_host_api, node_attr, 112);
AT(kiln_host_api, attr_name, 120);
AT(kiln_host_api, attr_type, 128);
AT(kiln_host_api, attr_int, 136);
AT(kiln_host_api, attr_float, 144);
AT(kiln_host_api, attr_string, 152);
AT(kiln_host_api, attr_count, 160);
AT(kiln_host_api, attr_ints, 168);
AT(kiln_host_api, attr_floats, 176);
AT(kiln_host_api, attr_tensor, 184);
AT(kiln_host_api, alloc_output, 192);
AT(kiln_host_api, alloc_sequence, 200);
AT(kiln_host_api, alloc_item, 208);
AT(kiln_host_api, set_output_none, 216);
AT(kiln_host_api, set_string, 224);
AT(kiln_host_api, scratch, 232);
AT(kiln_host_api, parallel_for, 240);
AT(kiln_host_api, run_subgraph, 248);
AT(kiln_host_api, node_index, 256);
AT(kiln_host_api, node_flags, 264);
AT(kiln_host_api, node_host_inputs, 272);
AT(kiln_host_api, node_producer, 280);
AT(kiln_host_api, graph_name, 288);
AT(kiln_host_api, graph_node_count, 296);
AT(kiln_host_api, graph_node_at, 304);
AT(kiln_host_api, graph_input_count, 312);
AT(kiln_host_api, graph_input_info, 320);
AT(kiln_host_api, graph_output_count, 328);
AT(kiln_host_api, graph_output_info, 336);
AT(kiln_host_api, claim_group, 344);
AT(kiln_host_api, now_ns, 352);
AT(kiln_host_api, trace, 360);
AT(kiln_host_api, thread_count, 368); /* 1.1 */
AT(kiln_host_api, log_ctx, 376);      /* 1.2 */
AT(kiln_host_api, set_error, 384);
AT(kiln_host_api, dtype_size, 392);
AT(kiln_host_api, device_scratch, 400);

SIZE(kiln_kernel_ctx, 48); /* 40 in 1.0 and 1.1 */
AT(kiln_kernel_ctx, hdr, 0);
AT(kiln_kernel_ctx, n_inputs, 8);
AT(kiln_kernel_ctx, n_outputs, 12);
AT(kiln_kernel_ctx, inputs, 16);
AT(kiln_kernel_ctx, outputs, 24);
AT(kiln_kernel_ctx, host, 32);
AT(kiln_kernel_ctx, stream, 40); /* 1.2 */

SIZE(kiln_kernel, 40);
AT(kiln_kernel, hdr, 0);
AT(kiln_kernel, state, 8);
AT(kiln_kernel, compute, 16);
AT(kiln_kernel, release, 24);
AT(kiln_kernel, prepack, 32);

SIZE(kiln_device_info, 56);
AT(kiln_device_info, hdr, 0);
AT(kiln_device_info, id, 8);
AT(kiln_device_info, name, 16);
AT(kiln_device_info, type, 24);
AT(kiln_device_info, n_mem_kinds, 28);
AT(kiln_device_info, memory_total, 32);
AT(kiln_device_info, memory_free, 40);
AT(kiln_device_info, caps, 48);

SIZE(kiln_mem_kind_info, 24);
AT(kiln_mem_kind_info, hdr, 0);
AT(kiln_mem_kind_info, name, 8);
AT(kiln_mem_kind_info, alignment, 16);
AT(kiln_mem_kind_info, flags, 20);

SIZE(kiln_provider_params, 56);
AT(kiln_provider_params, hdr, 0);
AT(kiln_provider_params, host, 8);
AT(kiln_provider_params, host_ctx, 16);
AT(kiln_provider_params, device, 24);
AT(kiln_provider_params, n_options, 28);
AT(kiln_provider_params, option_keys, 32);
AT(kiln_provider_params, option_values, 40);
AT(kiln_provider_params, mem_kind_ids, 48);

SIZE(kiln_copy_region, 56);
AT(kiln_copy_region, hdr, 0);
AT(kiln_copy_region, src_kind, 8);
AT(kiln_copy_region, dst_kind, 12);
AT(kiln_copy_region, src, 16);
AT(kiln_copy_region, src_offset, 24);
AT(kiln_copy_region, dst, 32);
AT(kiln_copy_region, dst_offset, 40);
AT(kiln_copy_region, bytes, 48);

SIZE(kiln_event, 32);
AT(kiln_event, hdr, 0);
AT(kiln_event, state, 8);
AT(kiln_event, wait, 16);
AT(kiln_event, release, 24);

SIZE(kiln_stream, 48);
AT(kiln_stream, hdr, 0);
AT(kiln_stream, state, 8);
AT(kiln_stream, record, 16);
AT(kiln_stream, wait_event, 24);
AT(kiln_stream, synchronize, 32);
AT(kiln_stream, release, 40);

SIZE(kiln_provider, 120); /* 104 in 1.0 and 1.1 */
AT(kiln_provider, hdr, 0);
AT(kiln_provider, name, 8);
AT(kiln_provider, state, 16);
AT(kiln_provider, claim_node, 24);
AT(kiln_provider, create_kernel, 32);
AT(kiln_provider, release, 40);
AT(kiln_provider, mem_kind, 48);
AT(kiln_provider, claim_groups, 56);
AT(kiln_provider, compile_group, 64);
AT(kiln_provider, mem_alloc, 72);
AT(kiln_provider, mem_free, 80);
AT(kiln_provider, copy, 88);
AT(kiln_provider, create_stream, 96);
AT(kiln_provider, run_begin, 104); /* 1.2 */
AT(kiln_provider, run_end, 112);

SIZE(kiln_run_info, 56); /* 1.2 */
AT(kiln_run_info, hdr, 0);
AT(kiln_run_info, run_id, 8);
AT(kiln_run_info, signature, 16);
AT(kiln_run_info, planned, 24);
AT(kiln_run_info, replay_ok, 28);
AT(kiln_run_info, address_key, 32);
AT(kiln_run_info, stream, 40);
AT(kiln_run_info, status, 48);
AT(kiln_run_info, replayed, 52);

SIZE(kiln_provider_library, 72);
AT(kiln_provider_library, hdr, 0);
AT(kiln_provider_library, name, 8);
AT(kiln_provider_library, version, 16);
AT(kiln_provider_library, state, 24);
AT(kiln_provider_library, device_count, 32);
AT(kiln_provider_library, device_info, 40);
AT(kiln_provider_library, mem_kind_info, 48);
AT(kiln_provider_library, create_provider, 56);
AT(kiln_provider_library, release, 64);
#else
#define LOCKED 0
#endif

int main(void) {
    /* 77: skipped (meson) on targets whose layout this file does not record. */
    return LOCKED ? 0 : 77;
}
