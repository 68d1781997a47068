/* SPDX-License-Identifier: MIT */
/* I/O binding with OpenCL device buffers: Conv+Relu (conv_relu.onnx from make_test_models.py) with
 * its input and output bound to tensors in "opencl:device" memory. The result must equal the CPU
 * provider's, and runs must copy nothing (the bound tensors replace the host<->device copies; the
 * weights were uploaded once at session creation).
 *   test-opencl-binding PROVIDER MODEL */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static int fails;
#define CHECK(c, ...)                                  \
    do {                                               \
        if (!(c)) {                                    \
            printf("not ok - " __VA_ARGS__);           \
            printf(" (%s:%d)\n", __FILE__, __LINE__);  \
            fails++;                                   \
        }                                              \
    } while (0)

static long long copy_calls(kiln_session *s) {
    static char buf[1 << 16];
    size_t need = 0;
    kiln_error err;
    if (kiln_session_partition_report(s, buf, sizeof(buf), &need, &err) != KILN_OK) return -1;
    const char *p = strstr(buf, "\"name\":\"opencl\"");
    p = p ? strstr(p, "\"copy_calls\":") : NULL;
    return p ? atoll(p + 13) : -1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test-opencl-binding PROVIDER MODEL\n");
        return 2;
    }
    kiln_error err;
    kiln_env *env = NULL;
    kiln_session_options *opts = NULL;
    kiln_session *dev = NULL, *cpu = NULL;
    if (kiln_env_create(&env, &err) != KILN_OK || kiln_session_options_create(&opts, &err) != KILN_OK ||
        kiln_session_options_append_provider(opts, argv[1], NULL, &err) != KILN_OK ||
        kiln_session_create(env, argv[2], opts, &dev, &err) != KILN_OK || kiln_session_create(env, argv[2], NULL, &cpu, &err) != KILN_OK) {
        printf("not ok - setup: %s\n", err.msg);
        return 1;
    }
    const int64_t xd[4] = {1, 4, 8, 8}, yd[4] = {1, 8, 8, 8};
    kiln_tensor *x = NULL, *y_ref = NULL, *y = NULL, *x_dev = NULL, *y_dev = NULL;
    kiln_binding *b = NULL;
    int ok = kiln_tensor_create(env, KILN_DTYPE_FLOAT, xd, 4, &x, &err) == KILN_OK &&
             kiln_tensor_create(env, KILN_DTYPE_FLOAT, yd, 4, &y, &err) == KILN_OK;
    CHECK(ok, "host tensors: %s", err.msg);
    float *xp = kiln_tensor_data(x);
    for (int i = 0; i < 256; i++) xp[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    const kiln_tensor *in[1] = {x};
    CHECK(kiln_session_run(cpu, NULL, in, 1, NULL, &y_ref, 1, &err) == KILN_OK, "CPU run: %s", err.msg);
    CHECK(kiln_session_tensor_create(dev, "opencl:device", KILN_DTYPE_FLOAT, xd, 4, &x_dev, &err) == KILN_OK, "device x: %s", err.msg);
    CHECK(kiln_session_tensor_create(dev, "opencl:device", KILN_DTYPE_FLOAT, yd, 4, &y_dev, &err) == KILN_OK, "device y: %s", err.msg);
    kiln_tensor *bad = NULL;
    CHECK(kiln_session_tensor_create(dev, "opencl:nothing", KILN_DTYPE_FLOAT, yd, 4, &bad, &err) != KILN_OK && !bad,
          "an unknown memory kind is refused");
    if (fails) return 1;
    CHECK(kiln_session_tensor_copy(dev, x, x_dev, &err) == KILN_OK, "copy to the device: %s", err.msg);
    CHECK(kiln_binding_create(dev, &b, &err) == KILN_OK && kiln_binding_bind_input(b, "x", x_dev, &err) == KILN_OK &&
              kiln_binding_bind_output(b, "y", y_dev, &err) == KILN_OK,
          "binding: %s", err.msg);
    CHECK(kiln_session_run_binding(dev, b, &err) == KILN_OK, "first bound run: %s", err.msg);
    long long before = copy_calls(dev);
    for (int r = 0; r < 3; r++) CHECK(kiln_session_run_binding(dev, b, &err) == KILN_OK, "bound run: %s", err.msg);
    long long after = copy_calls(dev);
    if (after != before) {
        static char rep[1 << 16];
        size_t need = 0;
        if (kiln_session_partition_report(dev, rep, sizeof(rep), &need, &err) == KILN_OK) printf("# %s\n", rep);
    }
    CHECK(before >= 0 && after == before, "bound runs copy nothing (copy calls %lld before, %lld after)", before, after);
    CHECK(kiln_session_tensor_copy(dev, y_dev, y, &err) == KILN_OK, "copy from the device: %s", err.msg);
    const float *r = kiln_tensor_data_const(y_ref), *o = kiln_tensor_data_const(y);
    double worst = 0;
    for (int i = 0; i < 512; i++) worst = fmax(worst, fabs((double)r[i] - (double)o[i]));
    CHECK(worst < 1e-4, "the device result equals the CPU provider's (max |diff| %g)", worst);
    if (!fails) printf("ok - bound device buffers: result equals the CPU's (max |diff| %g), %lld copy calls per 3 runs\n", worst, after - before);
    kiln_binding_destroy(b);
    kiln_tensor_destroy(x_dev);
    kiln_tensor_destroy(y_dev);
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(y);
    kiln_tensor_destroy(y_ref);
    kiln_session_destroy(dev);
    kiln_session_destroy(cpu);
    kiln_session_options_destroy(opts);
    kiln_env_destroy(env);
    return fails ? 1 : 0;
}
