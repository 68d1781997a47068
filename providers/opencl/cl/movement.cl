/* Data movement. k_copy_nd moves a box of `dims` from strided source to strided target: it is
 * Transpose (permuted source strides), Slice (strides times steps), Expand (stride 0), one piece
 * of Concat or Split (an offset and the whole tensor's strides) and a plain copy. */
__kernel void k_copy_nd(__global const T *x, ulong xo, __global T *y, ulong yo, int n, int rank, int8 dims, int8 xs, int8 ys) {
    int i = get_global_id(0);
    if (i >= n) return;
    int d[8], s1[8], s2[8];
    vstore8(dims, 0, d);
    vstore8(xs, 0, s1);
    vstore8(ys, 0, s2);
    y[yo + nd_offset(i, rank, d, s2)] = x[xo + nd_offset(i, rank, d, s1)];
}

/* Gather along an axis: x viewed as [outer, len, inner], indices (int32 or int64, negative counting
 * from the end) of n_idx elements. An index out of range sets *bad and writes 0. */
__kernel void k_gather(__global const T *x, ulong xo, __global const void *idx, ulong io, int idx64, __global T *y, ulong yo,
                       int total, int len, int n_idx, int inner, __global int *bad) {
    int i = get_global_id(0);
    if (i >= total) return;
    int in = i % inner, t = i / inner;
    int j = t % n_idx, o = t / n_idx;
    long k = idx64 ? ((__global const long *)idx)[io + j] : (long)((__global const int *)idx)[io + j];
    if (k < 0) k += len;
    if (k < 0 || k >= len) {
        *bad = 1;
        y[yo + i] = (T)0;
        return;
    }
    y[yo + i] = x[xo + ((ulong)o * len + (ulong)k) * inner + in];
}

/* out_f: the resized length as the spec defines it for the coordinate transform (input length
 * times scale when scales are given, which need not be a whole number). */
float rs_coord(int xr, float scale, int in_len, int out_len, float out_f, int ctm) {
    switch (ctm) {
    case RS_PYTORCH_HALF_PIXEL: return out_f > 1.0f ? ((float)xr + 0.5f) / scale - 0.5f : 0.0f;
    case RS_ALIGN_CORNERS: return out_f == 1.0f ? 0.0f : (float)xr * (float)(in_len - 1) / (out_f - 1.0f);
    case RS_ASYMMETRIC: return (float)xr / scale;
    case RS_TF_HALF_PIXEL_NN: return ((float)xr + 0.5f) / scale;
    case RS_HALF_PIXEL_SYM: {
        float adj = (float)out_len / (scale * (float)in_len);
        float center = (float)in_len / 2.0f;
        return center * (1.0f - adj) + ((float)xr + 0.5f) / scale - 0.5f;
    }
    default: return ((float)xr + 0.5f) / scale - 0.5f;
    }
}

int rs_nearest(float c, int mode, int in_len) {
    int r;
    switch (mode) {
    case RS_NEAR_ROUND_CEIL: r = (int)floor(c + 0.5f); break;
    case RS_NEAR_FLOOR: r = (int)floor(c); break;
    case RS_NEAR_CEIL: r = (int)ceil(c); break;
    default: r = (c - floor(c) == 0.5f) ? (int)floor(c) : (int)round(c); break;
    }
    return clamp(r, 0, in_len - 1);
}

/* Resize, one output element per work-item. Nearest: every dim is mapped. Linear: the last two
 * dims are interpolated (the host checks the other scales are 1). */
__kernel void k_resize(__global const T *x, ulong xo, __global T *y, ulong yo, int n, int rank, int8 idims, int8 odims,
                       float8 scales, float8 olen, int ctm, int nearest_mode, int linear) {
    int i = get_global_id(0);
    if (i >= n) return;
    int id[8], od[8], c[8];
    float sc[8], of[8];
    vstore8(olen, 0, of);
    vstore8(idims, 0, id);
    vstore8(odims, 0, od);
    vstore8(scales, 0, sc);
    int t = i;
    for (int k = rank - 1; k >= 0; k--) {
        c[k] = t % od[k];
        t /= od[k];
    }
    if (!linear) {
        int off = 0;
        for (int k = 0; k < rank; k++) {
            int ic = od[k] == id[k] && sc[k] == 1.0f ? c[k] : rs_nearest(rs_coord(c[k], sc[k], id[k], od[k], of[k], ctm), nearest_mode, id[k]);
            off = off * id[k] + ic;
        }
        y[yo + i] = x[xo + off];
        return;
    }
    int base = 0;
    for (int k = 0; k < rank - 2; k++) base = base * id[k] + c[k];
    int H = id[rank - 2], W = id[rank - 1];
    base *= H * W;
    float fh = clamp(rs_coord(c[rank - 2], sc[rank - 2], H, od[rank - 2], of[rank - 2], ctm), 0.0f, (float)(H - 1));
    float fw = clamp(rs_coord(c[rank - 1], sc[rank - 1], W, od[rank - 1], of[rank - 1], ctm), 0.0f, (float)(W - 1));
    int h0 = (int)floor(fh), w0 = (int)floor(fw);
    int h1 = min(h0 + 1, H - 1), w1 = min(w0 + 1, W - 1);
    float ah = fh - (float)h0, aw = fw - (float)w0;
    __global const T *p = x + xo + base;
    float v = (1.0f - ah) * ((1.0f - aw) * LD(p, h0 * W + w0) + aw * LD(p, h0 * W + w1)) +
              ah * ((1.0f - aw) * LD(p, h1 * W + w0) + aw * LD(p, h1 * W + w1));
    ST(y + yo, i, v);
}
