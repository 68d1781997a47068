/* y = f(x) for the unary functions of ocl_act.h. */
__kernel void k_unary(__global const T *x, ulong xo, __global T *y, ulong yo, int n, int op, float a, float b) {
    int i = get_global_id(0);
    if (i >= n) return;
    ST(y + yo, i, act(LD(x + xo, i), op, a, b));
}

float binop(float a, float b, int op) {
    switch (op) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    case BIN_DIV: return a / b;
    case BIN_POW: return pow(a, b);
    case BIN_MAX: return (isnan(a) || isnan(b)) ? NAN : fmax(a, b);
    case BIN_MIN: return (isnan(a) || isnan(b)) ? NAN : fmin(a, b);
    case BIN_PRELU: return a < 0.0f ? a * b : a;
    default: return a;
    }
}

/* y = act(a op b) with numpy broadcasting: the output's dims and each operand's strides (0 along
 * broadcast dims). same != 0: both operands have the output's shape. */
__kernel void k_binary(__global const T *a, ulong ao, __global const T *b, ulong bo, __global T *y, ulong yo,
                       int n, int rank, int8 dims, int8 sa, int8 sb, int same, int op, int act_op, float p0, float p1) {
    int i = get_global_id(0);
    if (i >= n) return;
    int ia = i, ib = i;
    if (!same) {
        int d[8], s1[8], s2[8];
        vstore8(dims, 0, d);
        vstore8(sa, 0, s1);
        vstore8(sb, 0, s2);
        ia = nd_offset(i, rank, d, s1);
        ib = nd_offset(i, rank, d, s2);
    }
    ST(y + yo, i, act(binop(LD(a + ao, ia), LD(b + bo, ib), op), act_op, p0, p1));
}

/* Inference BatchNormalization, y = act(x * scale[c] + shift[c]) with scale and shift folded on
 * the device from the four parameters. */
__kernel void k_batchnorm(__global const T *x, ulong xo, __global const T *g, ulong go, __global const T *bb, ulong bo,
                          __global const T *m, ulong mo, __global const T *v, ulong vo, __global T *y, ulong yo,
                          int n, int c, int hw, float eps, int act_op, float p0, float p1) {
    int i = get_global_id(0);
    if (i >= n) return;
    int ch = (i / hw) % c;
    float s = LD(g + go, ch) / sqrt(LD(v + vo, ch) + eps);
    float r = (LD(x + xo, i) - LD(m + mo, ch)) * s + LD(bb + bo, ch);
    ST(y + yo, i, act(r, act_op, p0, p1));
}
