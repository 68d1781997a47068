/* Storage type T (float; with -DKILN_HALF, float16 bits held as ushort), loads and stores that
 * compute in float, and the elementwise functions. float16 is read and written only through
 * vload_half / vstore_half (core OpenCL C) and moved as ushort, so the program needs no
 * cl_khr_fp16 arithmetic; the provider still claims float16 only where the device reports
 * cl_khr_fp16 (docs/opencl.md). Buffers arrive as a cl_mem and an element offset: the host's
 * arena holds many tensors. */
#ifdef KILN_HALF
typedef ushort T;
#define LD(p, i) vload_half((i), (const __global half *)(p))
#define ST(p, i, v) vstore_half((v), (i), (__global half *)(p))
#else
typedef float T;
#define LD(p, i) ((p)[i])
#define ST(p, i, v) ((p)[i] = (v))
#endif

float act(float v, int op, float a, float b) {
    switch (op) {
    case ACT_NONE: return v;
    case ACT_RELU: return v > 0.0f ? v : 0.0f;
    case ACT_LEAKY: return v >= 0.0f ? v : a * v;
    case ACT_CLIP: return isnan(v) ? v : fmin(fmax(v, a), b);
    case ACT_SIGMOID: return v >= 0.0f ? 1.0f / (1.0f + exp(-v)) : exp(v) / (1.0f + exp(v));
    case ACT_TANH: return tanh(v);
    case ACT_HARDSIGMOID: return fmax(0.0f, fmin(1.0f, a * v + b));
    case ACT_HARDSWISH: return v * fmax(0.0f, fmin(1.0f, v / 6.0f + 0.5f));
    case ACT_ELU: return v >= 0.0f ? v : a * (exp(v) - 1.0f);
    case ACT_SELU: return v > 0.0f ? b * v : b * (a * exp(v) - a);
    case ACT_SOFTPLUS: return v > 20.0f ? v : log1p(exp(v));
    case ACT_SOFTSIGN: return v / (1.0f + fabs(v));
    case ACT_EXP: return exp(v);
    case ACT_LOG: return log(v);
    case ACT_ABS: return fabs(v);
    case ACT_NEG: return -v;
    case ACT_SQRT: return sqrt(v);
    case ACT_RECIP: return 1.0f / v;
    case ACT_FLOOR: return floor(v);
    case ACT_CEIL: return ceil(v);
    case ACT_ERF: return erf(v);
    case ACT_SIN: return sin(v);
    case ACT_COS: return cos(v);
    case ACT_GELU: return 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
    case ACT_GELU_TANH: return 0.5f * v * (1.0f + tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case ACT_ROUND: return rint(v);
    case ACT_SIGN: return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v);
    case ACT_MISH: return v * tanh(v > 20.0f ? v : log1p(exp(v)));
    case ACT_CELU: return fmax(0.0f, v) + fmin(0.0f, a * (exp(v / a) - 1.0f));
    case ACT_THRESHOLDED: return v > a ? v : 0.0f;
    case ACT_TAN: return tan(v);
    case ACT_ASIN: return asin(v);
    case ACT_ACOS: return acos(v);
    case ACT_ATAN: return atan(v);
    case ACT_SINH: return sinh(v);
    case ACT_COSH: return cosh(v);
    case ACT_ASINH: return asinh(v);
    case ACT_ACOSH: return acosh(v);
    case ACT_ATANH: return atanh(v);
    default: return v;
    }
}

/* Splits linear index i over `rank` dims (row-major) and returns the dot product of the
 * coordinates with strides s. */
int nd_offset(int i, int rank, const int *d, const int *s) {
    int off = 0;
    for (int k = rank - 1; k >= 0; k--) {
        int c = i % d[k];
        i /= d[k];
        off += c * s[k];
    }
    return off;
}
