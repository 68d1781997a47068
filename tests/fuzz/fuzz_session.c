/* SPDX-License-Identifier: MIT */
/* libFuzzer harness over the public API: each input is a serialized model, loaded with
 * kiln_session_create_from_buffer under a memory limit, run once on inputs of its declared shapes
 * (unknown dims 1) filled from the input's own bytes, with a deadline, and freed. A crash, a
 * sanitizer report, a leak, a timeout or an allocation over libFuzzer's malloc limit is a
 * finding (docs/testing.md, "Fuzzing"). Built only with -Dfuzzing=true and clang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

/* What one model may take: small enough that libFuzzer's own limits never see a model that
 * Kiln should have refused. */
#define FUZZ_MEMORY_LIMIT (256ull << 20)
#define FUZZ_MAX_INPUT_ELEMENTS (1 << 20)
#define FUZZ_RUN_MS 2000

static kiln_env *env;
static kiln_session_options *opts;
static kiln_run_options *run_opts;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (kiln_env_create(&env, NULL) != KILN_OK || kiln_session_options_create(&opts, NULL) != KILN_OK ||
        kiln_session_options_set_memory_limit(opts, FUZZ_MEMORY_LIMIT, NULL) != KILN_OK ||
        kiln_session_options_set_intra_op_threads(opts, 1, NULL) != KILN_OK || kiln_run_options_create(&run_opts, NULL) != KILN_OK)
        abort();
    kiln_env_set_logger(env, KILN_LOG_NONE, NULL, NULL);
    kiln_run_options_set_timeout_ms(run_opts, FUZZ_RUN_MS);
    return 0;
}

/* A value for input `io`, or NULL when the model's declaration cannot be fed. */
static kiln_tensor *make_input(const kiln_io_info *io, const uint8_t *data, size_t size) {
    kiln_dtype dt = kiln_io_dtype(io);
    kiln_tensor *t = NULL;
    switch (kiln_io_kind(io)) {
    case KILN_VALUE_SEQUENCE:
        return kiln_sequence_create(env, dt ? dt : KILN_DTYPE_FLOAT, NULL, 0, &t, NULL) == KILN_OK ? t : NULL;
    case KILN_VALUE_OPTIONAL:
        return kiln_optional_create(env, dt ? dt : KILN_DTYPE_FLOAT, NULL, &t, NULL) == KILN_OK ? t : NULL;
    case KILN_VALUE_TENSOR:
        break;
    default:
        return NULL;
    }
    int32_t rank = kiln_io_rank(io);
    if (rank < 0) rank = 1;
    int64_t dims[KILN_MAX_RANK] = {0}, count = 1;
    for (int32_t d = 0; d < rank && d < KILN_MAX_RANK; d++) {
        dims[d] = kiln_io_dim(io, d) >= 0 ? kiln_io_dim(io, d) : 1;
        if (dims[d] > FUZZ_MAX_INPUT_ELEMENTS) return NULL;
        if (dims[d] > 0) count *= dims[d];
        if (count > FUZZ_MAX_INPUT_ELEMENTS) return NULL;
    }
    if (kiln_tensor_create(env, dt, dims, rank, &t, NULL) != KILN_OK) return NULL;
    if (dt != KILN_DTYPE_STRING && size) {
        uint8_t *p = kiln_tensor_data(t);
        size_t n = kiln_tensor_byte_size(t);
        for (size_t i = 0; i < n; i++) p[i] = data[(i * 131u) % size];
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kiln_session *s = NULL;
    if (kiln_session_create_from_buffer(env, data, size, opts, &s, NULL) != KILN_OK) return 0;
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    kiln_tensor **in = calloc(ni + 1, sizeof(*in)), **out = calloc(no + 1, sizeof(*out));
    int ok = in && out;
    for (size_t i = 0; ok && i < ni; i++) ok = (in[i] = make_input(kiln_session_input(s, i), data, size)) != NULL;
    if (ok) kiln_session_run_with_options(s, run_opts, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, NULL);
    for (size_t i = 0; in && i < ni; i++) kiln_tensor_destroy(in[i]);
    for (size_t i = 0; out && i < no; i++) kiln_tensor_destroy(out[i]);
    free(in);
    free(out);
    kiln_session_destroy(s);
    return 0;
}
