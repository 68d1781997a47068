/* 2-D pooling (1-D as H = 1), one output element per work-item. Global pooling is a window over
 * the whole image. POOL_AVG_PAD counts padding inside the padded image in the divisor. */
__kernel void k_pool(__global const T *x, ulong xo, __global T *y, ulong yo, int total, int IH, int IW, int OH, int OW,
                     int KH, int KW, int sh, int sw, int ph, int pw, int phe, int pwe, int dh, int dw, int mode) {
    int i = get_global_id(0);
    if (i >= total) return;
    int ow = i % OW, t = i / OW;
    int oh = t % OH, nc = t / OH;
    __global const T *p = x + xo + (ulong)nc * IH * IW;
    int hs = oh * sh - ph, ws = ow * sw - pw;
    float acc = mode == POOL_MAX ? -INFINITY : 0.0f;
    int cnt = 0;
    for (int kh = 0; kh < KH; kh++) {
        int ih = hs + kh * dh;
        if (ih < 0 || ih >= IH) continue;
        for (int kw = 0; kw < KW; kw++) {
            int iw = ws + kw * dw;
            if (iw < 0 || iw >= IW) continue;
            float v = LD(p, ih * IW + iw);
            if (mode == POOL_MAX) acc = (isnan(v) || v > acc) ? v : acc;
            else acc += v;
            cnt++;
        }
    }
    if (mode == POOL_AVG) acc = cnt ? acc / (float)cnt : 0.0f;
    if (mode == POOL_AVG_PAD) {
        int he = min(hs + KH, IH + phe), we = min(ws + KW, IW + pwe);
        acc /= (float)((he - hs) * (we - ws));
    }
    ST(y + yo, i, acc);
}

/* One work-item per image plane: the mean or max of IHW elements (GlobalAveragePool and
 * GlobalMaxPool). */
__kernel void k_global_pool(__global const T *x, ulong xo, __global T *y, ulong yo, int planes, int hw, int is_max) {
    int i = get_global_id(0);
    if (i >= planes) return;
    __global const T *p = x + xo + (ulong)i * hw;
    float acc = is_max ? -INFINITY : 0.0f;
    for (int j = 0; j < hw; j++) {
        float v = LD(p, j);
        acc = is_max ? ((isnan(v) || v > acc) ? v : acc) : acc + v;
    }
    ST(y + yo, i, is_max ? acc : acc / (float)hw);
}
