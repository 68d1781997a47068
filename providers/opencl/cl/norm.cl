/* Softmax / LogSoftmax along one axis: the tensor viewed as [outer, len, inner]; one work-item per
 * (outer, inner) line. */
__kernel void k_softmax(__global const T *x, ulong xo, __global T *y, ulong yo, int lines, int len, int inner, int is_log) {
    int i = get_global_id(0);
    if (i >= lines) return;
    int o = i / inner, in = i % inner;
    ulong base = (ulong)o * len * inner + in;
    __global const T *p = x + xo + base;
    __global T *q = y + yo + base;
    float mx = -INFINITY;
    for (int j = 0; j < len; j++) mx = fmax(mx, LD(p, j * inner));
    float sum = 0.0f;
    for (int j = 0; j < len; j++) sum += exp(LD(p, j * inner) - mx);
    float ls = log(sum);
    for (int j = 0; j < len; j++) {
        float v = LD(p, j * inner) - mx;
        ST(q, j * inner, is_log ? v - ls : exp(v) / sum);
    }
}

/* LayerNormalization over the last `len` elements of each of `rows` rows, with scale and optional
 * bias of `len` elements; the optional Mean and InvStdDev outputs (float) get one value per row. */
__kernel void k_layernorm(__global const T *x, ulong xo, __global const T *g, ulong go, __global const T *b, ulong bo,
                          int has_b, __global T *y, ulong yo, __global float *mo, ulong moo, __global float *iv, ulong ivo,
                          int rows, int len, float eps) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const T *p = x + xo + (ulong)r * len;
    __global T *q = y + yo + (ulong)r * len;
    float mean = 0.0f;
    for (int j = 0; j < len; j++) mean += LD(p, j);
    mean /= (float)len;
    float var = 0.0f;
    for (int j = 0; j < len; j++) {
        float d = LD(p, j) - mean;
        var += d * d;
    }
    float inv = 1.0f / sqrt(var / (float)len + eps);
    if (mo) mo[moo + r] = mean;
    if (iv) iv[ivo + r] = inv;
    for (int j = 0; j < len; j++) {
        float v = (LD(p, j) - mean) * inv * LD(g + go, j);
        if (has_b) v += LD(b + bo, j);
        ST(q, j, v);
    }
}

/* Reduce*: one work-item per output element. The input's dims split into kept dims (kd, with
 * input strides ks) and reduced dims (rd, rs); `count` reduced elements per output. */
__kernel void k_reduce(__global const T *x, ulong xo, __global T *y, ulong yo, int n_out, int nk, int8 kd, int8 ks, int nr,
                       int8 rd, int8 rs, int count, int op) {
    int o = get_global_id(0);
    if (o >= n_out) return;
    int d1[8], s1[8], d2[8], s2[8];
    vstore8(kd, 0, d1);
    vstore8(ks, 0, s1);
    vstore8(rd, 0, d2);
    vstore8(rs, 0, s2);
    __global const T *p = x + xo + nd_offset(o, nk, d1, s1);
    float acc = op == RED_MAX ? -INFINITY : (op == RED_MIN ? INFINITY : (op == RED_PROD ? 1.0f : 0.0f));
    float mx = -INFINITY;
    if (op == RED_LOGSUMEXP)
        for (int r = 0; r < count; r++) mx = fmax(mx, LD(p, nd_offset(r, nr, d2, s2)));
    for (int r = 0; r < count; r++) {
        float v = LD(p, nd_offset(r, nr, d2, s2));
        switch (op) {
        case RED_MAX: acc = (isnan(v) || v > acc) ? v : acc; break;
        case RED_MIN: acc = (isnan(v) || v < acc) ? v : acc; break;
        case RED_PROD: acc *= v; break;
        case RED_L1: acc += fabs(v); break;
        case RED_L2:
        case RED_SUMSQUARE: acc += v * v; break;
        case RED_LOGSUMEXP: acc += exp(v - mx); break;
        default: acc += v; break;
        }
    }
    if (op == RED_MEAN) acc /= (float)count;
    if (op == RED_L2) acc = sqrt(acc);
    if (op == RED_LOGSUM) acc = log(acc);
    if (op == RED_LOGSUMEXP) acc = count ? log(acc) + mx : -INFINITY;
    ST(y + yo, o, acc);
}
