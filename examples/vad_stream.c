/* SPDX-License-Identifier: MIT */
/* Streaming voice-activity detection with Silero VAD v5: audio goes in chunk by chunk, the
 * model's recurrent state goes from each chunk's output straight into the next chunk's input.
 * The pattern every streaming or decoder user (KV caches included) can copy:
 *   - one I/O binding made once, the inputs and outputs bound to tensors that wrap your buffers;
 *   - two state buffers: chunk k reads state A and writes state B, chunk k+1 reads B and writes
 *     A (rebinding swaps two pointers: nothing is copied);
 *   - after the first chunks Kiln has planned the model (its If branches too), and a chunk
 *     allocates nothing.
 *   vad_stream silero_vad_v5.onnx [AUDIO.raw]
 * AUDIO.raw: mono 16 kHz float32 samples (little-endian). Without it a synthetic signal (silence,
 * then a tone, then silence) is used. Prints the speech probability of each 32 ms chunk. */
#include <kiln.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHUNK 576 /* what Silero v5 reads at 16 kHz: the last 64 samples of the previous chunk, then 512 new */
#define NEW 512
#define CONTEXT (CHUNK - NEW)
#define STATE 256 /* 2 x 1 x 128 */

/* The next chunk: the previous chunk's last CONTEXT samples, then NEW samples from the file or
 * synthetic. Returns 0 at the end. */
static int next_chunk(FILE *f, long k, float *x) {
    memmove(x, x + NEW, CONTEXT * sizeof(float));
    x += CONTEXT;
    if (f) return fread(x, sizeof(float), NEW, f) == NEW;
    if (k >= 60) return 0;
    for (int i = 0; i < NEW; i++) {
        double t = (double)(k * NEW + i) / 16000.0;
        x[i] = k >= 20 && k < 40 ? (float)(0.4 * sin(2 * 3.14159265 * 220 * t) * (1 + 0.5 * sin(2 * 3.14159265 * 3 * t))) : 0.0f;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s silero_vad_v5.onnx [AUDIO.raw]\n", argv[0]);
        return 2;
    }
    FILE *audio = NULL;
    if (argc == 3 && !(audio = fopen(argv[2], "rb"))) {
        fprintf(stderr, "%s: cannot open %s\n", argv[0], argv[2]);
        return 2;
    }
    static float x[CHUNK], state[2][STATE];
    float prob = 0.0f;
    int64_t sr = 16000;
    kiln_error err;
    kiln_env *env = NULL;
    kiln_session_options *opts = NULL;
    kiln_session *s = NULL;
    kiln_binding *b = NULL;
    kiln_tensor *tx = NULL, *tsr = NULL, *tstate[2] = {NULL, NULL}, *tprob = NULL;
    int rc = 1;
    /* One thread: a chunk is a fraction of a millisecond of work, too little to share. */
    if (kiln_env_create(&env, &err) != KILN_OK || kiln_session_options_create(&opts, &err) != KILN_OK ||
        kiln_session_options_set_intra_op_threads(opts, 1, &err) != KILN_OK ||
        kiln_session_create(env, argv[1], opts, &s, &err) != KILN_OK)
        goto done;
    if (kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, CHUNK}, 2, x, sizeof(x), &tx, &err) != KILN_OK ||
        kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &sr, sizeof(sr), &tsr, &err) != KILN_OK ||
        kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 1, 128}, 3, state[0], sizeof(state[0]), &tstate[0],
                         &err) != KILN_OK ||
        kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 1, 128}, 3, state[1], sizeof(state[1]), &tstate[1],
                         &err) != KILN_OK ||
        kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, 1}, 2, &prob, sizeof(prob), &tprob, &err) != KILN_OK)
        goto done;
    if (kiln_binding_create(s, &b, &err) != KILN_OK || kiln_binding_bind_input(b, "input", tx, &err) != KILN_OK ||
        kiln_binding_bind_input(b, "sr", tsr, &err) != KILN_OK || kiln_binding_bind_output(b, "output", tprob, &err) != KILN_OK)
        goto done;
    long speech = 0, k = 0;
    for (; next_chunk(audio, k, x); k++) {
        int cur = (int)(k & 1);
        if (kiln_binding_bind_input(b, "state", tstate[cur], &err) != KILN_OK ||
            kiln_binding_bind_output(b, "stateN", tstate[!cur], &err) != KILN_OK ||
            kiln_session_run_binding(s, b, &err) != KILN_OK)
            goto done;
        speech += prob > 0.5f;
        printf("%6.3f s  %.3f %s\n", (double)k * NEW / 16000.0, prob, prob > 0.5f ? "speech" : "");
    }
    printf("%ld of %ld chunks speech\n", speech, k);
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s: %s\n", argv[0], err.msg);
    kiln_binding_destroy(b);
    kiln_tensor_destroy(tx);
    kiln_tensor_destroy(tsr);
    kiln_tensor_destroy(tstate[0]);
    kiln_tensor_destroy(tstate[1]);
    kiln_tensor_destroy(tprob);
    kiln_session_destroy(s);
    kiln_session_options_destroy(opts);
    kiln_env_destroy(env);
    if (audio) fclose(audio);
    return rc;
}
