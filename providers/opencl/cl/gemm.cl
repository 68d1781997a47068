/* Tiled matrix products with local memory. A work-group computes a TS x TS tile of Y; each of its
 * TS x (TS / WPT) work-items keeps WPT results of one column in registers. TS and WPT are chosen
 * per device by the host and given as build options. Operands are read through strides, so
 * transposed operands and broadcast biases need no copy. */
#ifndef TS
#define TS 16
#endif
#ifndef WPT
#define WPT 4
#endif
#define RTS (TS / WPT)

/* Y[b] = act(alpha * A[b] B[b] + beta * C[b]); b runs over up to 4 broadcast batch dims. */
__kernel __attribute__((reqd_work_group_size(TS, RTS, 1)))
void k_gemm(int M, int N, int K, __global const T *A, ulong ao, int sam, int sak, __global const T *B, ulong bo, int sbk,
            int sbn, __global const T *C, ulong co, int scm, int scn, int has_c, float alpha, float beta, __global T *Y,
            ulong yo, int nb, int4 bd, int4 bsa, int4 bsb, int4 bsc, int act_op, float p0, float p1) {
    __local float As[TS][TS + 1];
    __local float Bs[TS][TS + 1];
    int tn = get_local_id(0), tm = get_local_id(1);
    int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    int batch = get_global_id(2);
    int d[4], s1[4], s2[4], s3[4];
    vstore4(bd, 0, d);
    vstore4(bsa, 0, s1);
    vstore4(bsb, 0, s2);
    vstore4(bsc, 0, s3);
    A += ao + nd_offset(batch, nb, d, s1);
    B += bo + nd_offset(batch, nb, d, s2);
    C += co + nd_offset(batch, nb, d, s3);
    Y += yo + (ulong)batch * M * N;
    float acc[WPT];
    for (int w = 0; w < WPT; w++) acc[w] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TS) {
        for (int w = 0; w < WPT; w++) {
            int r = tm + w * RTS;
            int am = m0 + r, ak = k0 + tn;
            As[tn][r] = (am < M && ak < K) ? LD(A, am * sam + ak * sak) : 0.0f;
            int bk = k0 + r, bn = n0 + tn;
            Bs[r][tn] = (bk < K && bn < N) ? LD(B, bk * sbk + bn * sbn) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TS; kk++) {
            float b = Bs[kk][tn];
            for (int w = 0; w < WPT; w++) acc[w] = fma(As[kk][tm + w * RTS], b, acc[w]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    int n = n0 + tn;
    if (n >= N) return;
    for (int w = 0; w < WPT; w++) {
        int m = m0 + tm + w * RTS;
        if (m >= M) continue;
        float v = alpha * acc[w];
        if (has_c) v += beta * LD(C, m * scm + n * scn);
        ST(Y, m * N + n, act(v, act_op, p0, p1));
    }
}

/* 2-D convolution as an implicit GEMM per (image, group): Y[m, p] = sum_k W[m, k] X~[k, p] where
 * k runs over (input channel, kh, kw) and p over output pixels; X~ is gathered from the input on
 * the fly (no im2col buffer). The weights are [OC, ICg * KH * KW]. */
__kernel __attribute__((reqd_work_group_size(TS, RTS, 1)))
void k_conv_gemm(__global const T *X, ulong xo, __global const T *W, ulong wo, __global const T *Bias, ulong bo, int has_b,
                 __global T *Y, ulong yo, int IC, int IH, int IW, int OC, int OH, int OW, int G, int KH, int KW, int sh,
                 int sw, int ph, int pw, int dh, int dw, int act_op, float p0, float p1) {
    __local float As[TS][TS + 1];
    __local float Bs[TS][TS + 1];
    int tn = get_local_id(0), tm = get_local_id(1);
    int n0 = get_group_id(0) * TS, m0 = get_group_id(1) * TS;
    int z = get_global_id(2);
    int g = z % G, img = z / G;
    int M = OC / G, ICg = IC / G, KHW = KH * KW, K = ICg * KHW, N = OH * OW;
    X += xo + ((ulong)img * IC + (ulong)g * ICg) * IH * IW;
    W += wo + (ulong)g * M * K;
    Y += yo + ((ulong)img * OC + (ulong)g * M) * N;
    float acc[WPT];
    for (int w = 0; w < WPT; w++) acc[w] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TS) {
        for (int w = 0; w < WPT; w++) {
            int r = tm + w * RTS;
            int am = m0 + r, ak = k0 + tn;
            As[tn][r] = (am < M && ak < K) ? LD(W, am * K + ak) : 0.0f;
            int bk = k0 + r, bn = n0 + tn;
            float v = 0.0f;
            if (bk < K && bn < N) {
                int ci = bk / KHW, rr = bk % KHW;
                int ih = (bn / OW) * sh - ph + (rr / KW) * dh;
                int iw = (bn % OW) * sw - pw + (rr % KW) * dw;
                if (ih >= 0 && ih < IH && iw >= 0 && iw < IW) v = LD(X, (ci * IH + ih) * IW + iw);
            }
            Bs[r][tn] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TS; kk++) {
            float b = Bs[kk][tn];
            for (int w = 0; w < WPT; w++) acc[w] = fma(As[kk][tm + w * RTS], b, acc[w]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    int n = n0 + tn;
    if (n >= N) return;
    for (int w = 0; w < WPT; w++) {
        int m = m0 + tm + w * RTS;
        if (m >= M) continue;
        float v = acc[w] + (has_b ? LD(Bias + bo, g * M + m) : 0.0f);
        ST(Y, m * N + n, act(v, act_op, p0, p1));
    }
}

/* Direct convolution, one output element per work-item: depthwise and other convolutions whose
 * reduction is too short for a tile. */
__kernel void k_conv_direct(__global const T *X, ulong xo, __global const T *W, ulong wo, __global const T *Bias, ulong bo,
                            int has_b, __global T *Y, ulong yo, int total, int IC, int IH, int IW, int OC, int OH, int OW,
                            int G, int KH, int KW, int sh, int sw, int ph, int pw, int dh, int dw, int act_op, float p0,
                            float p1) {
    int i = get_global_id(0);
    if (i >= total) return;
    int ow = i % OW, t = i / OW;
    int oh = t % OH;
    t /= OH;
    int oc = t % OC, img = t / OC;
    int M = OC / G, ICg = IC / G, g = oc / M;
    __global const T *x = X + xo + ((ulong)img * IC + (ulong)g * ICg) * IH * IW;
    __global const T *w = W + wo + (ulong)oc * ICg * KH * KW;
    float acc = has_b ? LD(Bias + bo, oc) : 0.0f;
    int ih0 = oh * sh - ph, iw0 = ow * sw - pw;
    for (int c = 0; c < ICg; c++)
        for (int kh = 0; kh < KH; kh++) {
            int ih = ih0 + kh * dh;
            if (ih < 0 || ih >= IH) continue;
            for (int kw = 0; kw < KW; kw++) {
                int iw = iw0 + kw * dw;
                if (iw < 0 || iw >= IW) continue;
                acc = fma(LD(x, (c * IH + ih) * IW + iw), LD(w, (c * KH + kh) * KW + kw), acc);
            }
        }
    ST(Y + yo, i, act(acc, act_op, p0, p1));
}
