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

/* The same product for CPU devices (PoCL and other CPU OpenCL runtimes), where local memory and
 * barriers cost more than they save: each work-item keeps a 4 x 8 block of Y in registers and
 * streams rows of B with 8-wide loads. Same arguments as k_gemm; no work-group size required. */
#ifdef KILN_HALF
#define LD8(p, i) vload_half8(0, (const __global half *)(p) + (i))
#else
#define LD8(p, i) vload8(0, (p) + (i))
#endif
__kernel void k_gemm_cpu(int M, int N, int K, __global const T *A, ulong ao, int sam, int sak, __global const T *B, ulong bo,
                         int sbk, int sbn, __global const T *C, ulong co, int scm, int scn, int has_c, float alpha, float beta,
                         __global T *Y, ulong yo, int nb, int4 bd, int4 bsa, int4 bsb, int4 bsc, int act_op, float p0, float p1) {
    int n0 = get_global_id(0) * 8, m0 = get_global_id(1) * 4;
    if (n0 >= N || m0 >= M) return;
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
    float8 acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
    int mr[4];
    for (int r = 0; r < 4; r++) mr[r] = min(m0 + r, M - 1); /* rows past M repeat the last; not stored */
    if (n0 + 8 <= N && sbn == 1) {
        for (int k = 0; k < K; k++) {
            float8 b = LD8(B, k * sbk + n0);
            acc0 = fma((float8)(LD(A, mr[0] * sam + k * sak)), b, acc0);
            acc1 = fma((float8)(LD(A, mr[1] * sam + k * sak)), b, acc1);
            acc2 = fma((float8)(LD(A, mr[2] * sam + k * sak)), b, acc2);
            acc3 = fma((float8)(LD(A, mr[3] * sam + k * sak)), b, acc3);
        }
    } else {
        for (int k = 0; k < K; k++) {
            float bv[8];
            for (int j = 0; j < 8; j++) bv[j] = n0 + j < N ? LD(B, k * sbk + (n0 + j) * sbn) : 0.0f;
            float8 b = vload8(0, bv);
            acc0 = fma((float8)(LD(A, mr[0] * sam + k * sak)), b, acc0);
            acc1 = fma((float8)(LD(A, mr[1] * sam + k * sak)), b, acc1);
            acc2 = fma((float8)(LD(A, mr[2] * sam + k * sak)), b, acc2);
            acc3 = fma((float8)(LD(A, mr[3] * sam + k * sak)), b, acc3);
        }
    }
    float out[4][8];
    vstore8(acc0, 0, out[0]);
    vstore8(acc1, 0, out[1]);
    vstore8(acc2, 0, out[2]);
    vstore8(acc3, 0, out[3]);
    for (int r = 0; r < 4 && m0 + r < M; r++)
        for (int j = 0; j < 8 && n0 + j < N; j++) {
            int m = m0 + r, n = n0 + j;
            float v = alpha * out[r][j];
            if (has_c) v += beta * LD(C, m * scm + n * scn);
            ST(Y, m * N + n, act(v, act_op, p0, p1));
        }
}

/* Convolution for CPU devices, same arguments as k_conv_gemm: each work-item computes 4 output
 * channels x 8 consecutive output pixels of one (image, group) in registers. Pointwise
 * convolutions (1x1, stride 1, no padding) read 8 pixels with one vector load. */
__kernel void k_conv_cpu(__global const T *X, ulong xo, __global const T *W, ulong wo, __global const T *Bias, ulong bo, int has_b,
                         __global T *Y, ulong yo, int IC, int IH, int IW, int OC, int OH, int OW, int G, int KH, int KW, int sh,
                         int sw, int ph, int pw, int dh, int dw, int act_op, float p0, float p1) {
    int M = OC / G, ICg = IC / G, KHW = KH * KW, N = OH * OW;
    int n0 = get_global_id(0) * 8, m0 = get_global_id(1) * 4;
    if (n0 >= N || m0 >= M) return;
    int z = get_global_id(2);
    int g = z % G, img = z / G;
    X += xo + ((ulong)img * IC + (ulong)g * ICg) * IH * IW;
    W += wo + (ulong)g * M * ICg * KHW;
    Y += yo + ((ulong)img * OC + (ulong)g * M) * N;
    int mr[4];
    for (int r = 0; r < 4; r++) mr[r] = min(m0 + r, M - 1);
    int K = ICg * KHW;
    float8 acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
    if (KHW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && n0 + 8 <= N) {
        int HW = IH * IW;
        for (int c = 0; c < ICg; c++) {
            float8 b = LD8(X, c * HW + n0);
            acc0 = fma((float8)(LD(W, mr[0] * K + c)), b, acc0);
            acc1 = fma((float8)(LD(W, mr[1] * K + c)), b, acc1);
            acc2 = fma((float8)(LD(W, mr[2] * K + c)), b, acc2);
            acc3 = fma((float8)(LD(W, mr[3] * K + c)), b, acc3);
        }
    } else {
        int bh[8], bw[8];
        for (int j = 0; j < 8; j++) {
            int n = min(n0 + j, N - 1);
            bh[j] = (n / OW) * sh - ph;
            bw[j] = (n % OW) * sw - pw;
        }
        for (int c = 0; c < ICg; c++)
            for (int kh = 0; kh < KH; kh++)
                for (int kw = 0; kw < KW; kw++) {
                    float bv[8];
                    for (int j = 0; j < 8; j++) {
                        int ih = bh[j] + kh * dh, iw = bw[j] + kw * dw;
                        bv[j] = (ih >= 0 && ih < IH && iw >= 0 && iw < IW) ? LD(X, (c * IH + ih) * IW + iw) : 0.0f;
                    }
                    float8 b = vload8(0, bv);
                    int k = (c * KH + kh) * KW + kw;
                    acc0 = fma((float8)(LD(W, mr[0] * K + k)), b, acc0);
                    acc1 = fma((float8)(LD(W, mr[1] * K + k)), b, acc1);
                    acc2 = fma((float8)(LD(W, mr[2] * K + k)), b, acc2);
                    acc3 = fma((float8)(LD(W, mr[3] * K + k)), b, acc3);
                }
    }
    float out[4][8];
    vstore8(acc0, 0, out[0]);
    vstore8(acc1, 0, out[1]);
    vstore8(acc2, 0, out[2]);
    vstore8(acc3, 0, out[3]);
    for (int r = 0; r < 4 && m0 + r < M; r++) {
        float bias = has_b ? LD(Bias + bo, g * M + m0 + r) : 0.0f;
        for (int j = 0; j < 8 && n0 + j < N; j++) ST(Y, (m0 + r) * N + n0 + j, act(out[r][j] + bias, act_op, p0, p1));
    }
}
