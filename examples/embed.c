/* SPDX-License-Identifier: MIT */
/* Embedding Kiln: load a model, feed every input with ones, run, print each output's first values.
 *   embed MODEL.onnx
 * Build against an installed Kiln:  cc embed.c $(pkg-config --cflags --libs kiln) */
#include <kiln.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    kiln_error err;
    kiln_env *env = NULL;
    kiln_session *s = NULL;
    kiln_tensor *in[16] = {0}, *out[16] = {0};
    int rc = 1;
    if (kiln_env_create(&env, &err) != KILN_OK || kiln_session_create(env, argv[1], NULL, &s, &err) != KILN_OK) goto done;
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    if (ni > 16 || no > 16) goto done;
    for (size_t i = 0; i < ni; i++) {
        const kiln_io_info *io = kiln_session_input(s, i);
        int64_t dims[KILN_MAX_RANK];
        int32_t rank = kiln_io_rank(io) < 0 ? 0 : kiln_io_rank(io);
        for (int32_t d = 0; d < rank; d++) dims[d] = kiln_io_dim(io, d) < 0 ? 1 : kiln_io_dim(io, d); /* symbolic: 1 */
        if (kiln_tensor_create(env, kiln_io_dtype(io), dims, rank, &in[i], &err) != KILN_OK) goto done;
        if (kiln_io_dtype(io) == KILN_DTYPE_FLOAT)
            for (int64_t k = 0; k < kiln_tensor_element_count(in[i]); k++) ((float *)kiln_tensor_data(in[i]))[k] = 1.0f;
    }
    if (kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, &err) != KILN_OK) goto done;
    for (size_t i = 0; i < no; i++) {
        printf("%s: %s, %lld elements", kiln_io_name(kiln_session_output(s, i)), kiln_dtype_name(kiln_tensor_dtype(out[i])),
               (long long)kiln_tensor_element_count(out[i]));
        if (kiln_tensor_dtype(out[i]) == KILN_DTYPE_FLOAT)
            for (int64_t k = 0; k < kiln_tensor_element_count(out[i]) && k < 4; k++)
                printf("%s%g", k ? ", " : " [", ((const float *)kiln_tensor_data_const(out[i]))[k]);
        printf("%s\n", kiln_tensor_dtype(out[i]) == KILN_DTYPE_FLOAT && kiln_tensor_element_count(out[i]) ? ", ...]" : "");
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "embed: %s: %s\n", kiln_status_string((kiln_status)err.status), err.msg);
    for (size_t i = 0; i < 16; i++) kiln_tensor_destroy(in[i]), kiln_tensor_destroy(out[i]);
    kiln_session_destroy(s);
    kiln_env_destroy(env);
    return rc;
}
