/* The integer kernels of the IntGraph, in plain C99 (stdint only). The
 * reference interpreter (compress/intgraph.c) includes this file, and the C
 * exporter copies it verbatim into the generated model.c, so the exported
 * code and the interpreter compute the same integers by construction.
 *
 * Semantics (one image at a time, tensors int32 in C x H x W order):
 *   conv     y[o][p] = sum over valid taps of w[o][i][kh][kw] * (x[i][p'] - zp)
 *            (padded taps contribute 0: padding holds the zero point); codes
 *            and weights must fit int16 (they do up to 8 bits)
 *   sum_hw   y[c]    = sum over p of (x[c][p] - zp)
 *   linear   y[o]    = sum_i w[o][i] * (x[i] - zp)
 *   requant  y[c][p] = clamp((sum_t x_t[c][p] * m_t[c] + k[c]) >> sh, lo, hi)
 *            in int64; k holds the constant and 2^(sh-1), so the shift
 *            (arithmetic: floor) rounds half up
 *   maxpool  on codes (the dequantization is increasing), padding ignored
 *   adder    y[o][p] = -sum over taps of |((x[i][p'] - zp) << xsh) - w[o][i][kh][kw]|
 *            (padded taps hold x = zp, so they contribute -|w|, as AdderNet's
 *            zero padding does); operands and differences fit int16
 *
 * A conv whose weights fit int8 and whose input codes fit uint8 also carries
 * its weights in a byte layout (df_conv_qtaps); where the CPU has AVX-512
 * VNNI, df_conv takes that path: sum w * x over raw codes by vpdpbusd (exact
 * in int32), minus zp * sum w (padded taps hold zp, so they cancel). The
 * integers are the same as the pair path's by algebra, not by rounding. */
#ifndef DF_INT_KERNELS_H
#define DF_INT_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define DF_HAVE_VNNI 1
#endif

#define DF_MAX_TERMS 8

/* A conv's taps come in pairs of input channels: tap pair kk = (kh * k + kw)
 * * Cp + cp holds channels 2cp and 2cp + 1 (Cp = ceil(C/groups / 2); an odd
 * channel count gets a zero channel). Weights are [O][df_conv_taps] in that
 * order (cmp_lower writes them so). */
static inline int df_conv_pairs(int C, int groups) { return (C / groups + 1) / 2; }
static inline int df_conv_taps(int C, int groups, int k) { return 2 * df_conv_pairs(C, groups) * k * k; }
/* int32 values of scratch a conv needs: the pair-interleaved input of one
 * group and its im2col. */
static inline size_t df_conv_scratch(int C, int groups, int k, int H, int W, int OH, int OW)
{
    const size_t cp = (size_t)df_conv_pairs(C, groups);
    return cp * H * W + cp * k * k * OH * OW;
}
/* The byte layout: taps in quads of input channels, quad kq = (kh * k + kw)
 * * Cq + cq holds channels 4cq .. 4cq + 3 (missing channels weigh 0); weights
 * are int8 [O][df_conv_qtaps]. Its scratch fits in df_conv_scratch. */
static inline int df_conv_quads(int C, int groups) { return (C / groups + 3) / 4; }
static inline int df_conv_qtaps(int C, int groups, int k) { return 4 * df_conv_quads(C, groups) * k * k; }
/* Pair-layout weights (values in -128..127) into the byte layout (zeroed). */
static inline void df_conv_pairs_to_quads(const int16_t *w, int O, int C, int groups, int k, int8_t *wq)
{
    const int cg = C / groups, Cp = df_conv_pairs(C, groups), Cq = df_conv_quads(C, groups);
    const size_t Kp = (size_t)df_conv_taps(C, groups, k), Kq = (size_t)df_conv_qtaps(C, groups, k);
    memset(wq, 0, (size_t)O * Kq);
    for (int o = 0; o < O; o++)
        for (int t = 0; t < k * k; t++)
            for (int ic = 0; ic < cg; ic++)
                wq[o * Kq + ((size_t)t * Cq + ic / 4) * 4 + ic % 4] = (int8_t)w[o * Kp + ((size_t)t * Cp + ic / 2) * 2 + ic % 2];
}

/* im2col over 32-bit words (a pair of int16 or a quad of uint8 channels):
 * colw[(kh * k + kw) * Cw + cw][oh * OW + ow], taps outside the image = fill. */
static inline void df_im2col_words(const int32_t *xw, int Cw, int H, int W, int k, int stride, int pad, int dil, int OH,
                                   int OW, int32_t fill, int32_t *colw)
{
    const int P = OH * OW, HW = H * W;
    for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++) {
            /* the output columns whose tap lands inside the row */
            const int off = kw * dil - pad;
            int ow0 = 0, ow1 = OW;
            while (ow0 < OW && ow0 * stride + off < 0) ow0++;
            while (ow1 > ow0 && (ow1 - 1) * stride + off >= W) ow1--;
            for (int cw = 0; cw < Cw; cw++) {
                int32_t *c = colw + (size_t)((kh * k + kw) * Cw + cw) * P;
                const int32_t *xi = xw + (size_t)cw * HW;
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh * stride + kh * dil - pad;
                    int32_t *cr = c + (size_t)oh * OW;
                    /* plain loops: rows are short, and rep movs costs more than it moves */
                    if (ih < 0 || ih >= H) {
                        for (int ow = 0; ow < OW; ow++) cr[ow] = fill;
                        continue;
                    }
                    const int32_t *xr = xi + (size_t)ih * W + off;
                    for (int ow = 0; ow < ow0; ow++) cr[ow] = fill;
                    if (stride == 1)
                        for (int ow = ow0; ow < ow1; ow++) cr[ow] = xr[ow];
                    else
                        for (int ow = ow0; ow < ow1; ow++) cr[ow] = xr[ow * stride];
                    for (int ow = ow1; ow < OW; ow++) cr[ow] = fill;
                }
            }
        }
}

/* Group input x (cg channels) as int16 pairs ((x - zp) << xsh; an odd last
 * channel pairs with 0) at scratch, and their im2col after it (padding 0):
 * the pair layout shared by the conv and adder kernels. */
static inline void df_im2col_pairs(const int32_t *x, int cg, int H, int W, int zp, int xsh, int k, int stride, int pad,
                                   int dil, int OH, int OW, int32_t *scratch)
{
    const int Cp = (cg + 1) / 2, HW = H * W;
    int16_t *xp = (int16_t *)scratch;
    for (int cp = 0; cp < Cp; cp++) {
        const int32_t *x0 = x + (size_t)(2 * cp) * HW, *x1 = 2 * cp + 1 < cg ? x0 + HW : NULL;
        int16_t *d = xp + (size_t)cp * HW * 2;
        for (int i = 0; i < HW; i++) {
            d[2 * i] = (int16_t)((x0[i] - zp) * (1 << xsh));
            d[2 * i + 1] = (int16_t)(x1 ? (x1[i] - zp) * (1 << xsh) : 0);
        }
    }
    df_im2col_words(scratch, Cp, H, W, k, stride, pad, dil, OH, OW, 0, scratch + (size_t)Cp * HW);
}

#ifdef DF_HAVE_VNNI
/* R (<= 8, a constant after inlining) output rows x 32 pixels per tile, in
 * 2R zmm accumulators; masked loads and stores cover the pixel tail. A word
 * of w and of col is a quad of int8 x uint8 (vpdpbusd) or, with pairs, a
 * pair of int16 x int16 (vpdpwssd): exact int32 sums either way. */
static inline __attribute__((always_inline)) void df_vnni_rows(const void *w, int R, int Kw, const int32_t *col, int P,
                                                                const int32_t *corr, int pairs, int32_t *y)
{
    for (int p0 = 0; p0 < P; p0 += 32) {
        const int n0 = P - p0 >= 16 ? 16 : P - p0, n1 = P - p0 - 16 >= 16 ? 16 : P - p0 - 16 > 0 ? P - p0 - 16 : 0;
        const __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
        __m512i a[8][2];
        for (int j = 0; j < 8; j++)
            if (j < R) a[j][0] = a[j][1] = _mm512_setzero_si512();
        const int32_t *c = col + p0;
        for (int kw = 0; kw < Kw; kw++, c += P) {
            const __m512i x0 = _mm512_maskz_loadu_epi32(m0, c), x1 = _mm512_maskz_loadu_epi32(m1, c + 16);
            for (int j = 0; j < 8; j++)
                if (j < R) {
                    int32_t q;
                    memcpy(&q, (const char *)w + ((size_t)j * Kw + kw) * 4, 4);
                    const __m512i v = _mm512_set1_epi32(q);
                    if (pairs) {
                        a[j][0] = _mm512_dpwssd_epi32(a[j][0], x0, v);
                        a[j][1] = _mm512_dpwssd_epi32(a[j][1], x1, v);
                    } else {
                        a[j][0] = _mm512_dpbusd_epi32(a[j][0], x0, v);
                        a[j][1] = _mm512_dpbusd_epi32(a[j][1], x1, v);
                    }
                }
        }
        for (int j = 0; j < 8; j++)
            if (j < R) {
                const __m512i cj = _mm512_set1_epi32(corr ? corr[j] : 0);
                _mm512_mask_storeu_epi32(y + (size_t)j * P + p0, m0, _mm512_sub_epi32(a[j][0], cj));
                if (n1) _mm512_mask_storeu_epi32(y + (size_t)j * P + p0 + 16, m1, _mm512_sub_epi32(a[j][1], cj));
            }
    }
}
#endif

/* y[o][p] = sum_t w[o][t] * col[t][p] over tap pairs: col holds pairs
 * (t, t+1) next to each other for every p, so both paths multiply int16 by
 * int16 into int32 pair sums (AVX2: vpmaddwd), the same integers either way. */
static inline void df_gemm_pairs(const int16_t *w, int O, int Kp, const int16_t *col, int P, int32_t *y)
{
    const int K2 = Kp / 2;
    int o0 = 0;
#ifdef DF_HAVE_VNNI
    for (; o0 + 8 <= O; o0 += 8) df_vnni_rows(w + (size_t)o0 * Kp, 8, K2, (const int32_t *)col, P, NULL, 1, y + (size_t)o0 * P);
    for (; o0 < O; o0++) df_vnni_rows(w + (size_t)o0 * Kp, 1, K2, (const int32_t *)col, P, NULL, 1, y + (size_t)o0 * P);
#endif
#ifdef __AVX2__
    for (; o0 + 4 <= O; o0 += 4) {
        const int16_t *w0 = w + (size_t)o0 * Kp, *w1 = w0 + Kp, *w2 = w1 + Kp, *w3 = w2 + Kp;
        int p0 = 0;
        for (; p0 + 16 <= P; p0 += 16) { /* 4 outputs x 16 pixels in 8 registers */
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            const int16_t *c = col + (size_t)p0 * 2;
            for (int kk = 0; kk < K2; kk++, c += (size_t)P * 2) {
                const __m256i x0 = _mm256_loadu_si256((const __m256i *)c), x1 = _mm256_loadu_si256((const __m256i *)(c + 16));
                int32_t q0, q1, q2, q3;
                memcpy(&q0, w0 + 2 * kk, 4);
                memcpy(&q1, w1 + 2 * kk, 4);
                memcpy(&q2, w2 + 2 * kk, 4);
                memcpy(&q3, w3 + 2 * kk, 4);
                const __m256i v0 = _mm256_set1_epi32(q0), v1 = _mm256_set1_epi32(q1), v2 = _mm256_set1_epi32(q2),
                              v3 = _mm256_set1_epi32(q3);
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x0, v0));
                b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(x1, v0));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x0, v1));
                b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(x1, v1));
                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(x0, v2));
                b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(x1, v2));
                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(x0, v3));
                b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(x1, v3));
            }
            int32_t *y0 = y + (size_t)o0 * P + p0;
            _mm256_storeu_si256((__m256i *)y0, a0);
            _mm256_storeu_si256((__m256i *)(y0 + 8), b0);
            _mm256_storeu_si256((__m256i *)(y0 + P), a1);
            _mm256_storeu_si256((__m256i *)(y0 + P + 8), b1);
            _mm256_storeu_si256((__m256i *)(y0 + 2 * P), a2);
            _mm256_storeu_si256((__m256i *)(y0 + 2 * P + 8), b2);
            _mm256_storeu_si256((__m256i *)(y0 + 3 * P), a3);
            _mm256_storeu_si256((__m256i *)(y0 + 3 * P + 8), b3);
        }
        for (; p0 + 8 <= P; p0 += 8) {
            __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
            for (int kk = 0; kk < K2; kk++) {
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(col + ((size_t)kk * P + p0) * 2));
                int32_t q0, q1, q2, q3;
                memcpy(&q0, w0 + 2 * kk, 4);
                memcpy(&q1, w1 + 2 * kk, 4);
                memcpy(&q2, w2 + 2 * kk, 4);
                memcpy(&q3, w3 + 2 * kk, 4);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(xv, _mm256_set1_epi32(q0)));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(xv, _mm256_set1_epi32(q1)));
                acc2 = _mm256_add_epi32(acc2, _mm256_madd_epi16(xv, _mm256_set1_epi32(q2)));
                acc3 = _mm256_add_epi32(acc3, _mm256_madd_epi16(xv, _mm256_set1_epi32(q3)));
            }
            _mm256_storeu_si256((__m256i *)(y + (size_t)(o0 + 0) * P + p0), acc0);
            _mm256_storeu_si256((__m256i *)(y + (size_t)(o0 + 1) * P + p0), acc1);
            _mm256_storeu_si256((__m256i *)(y + (size_t)(o0 + 2) * P + p0), acc2);
            _mm256_storeu_si256((__m256i *)(y + (size_t)(o0 + 3) * P + p0), acc3);
        }
        for (; p0 < P; p0++)
            for (int j = 0; j < 4; j++) {
                int32_t s = 0;
                const int16_t *wr = w0 + (size_t)j * Kp;
                for (int kk = 0; kk < K2; kk++)
                    s += wr[2 * kk] * col[((size_t)kk * P + p0) * 2] + wr[2 * kk + 1] * col[((size_t)kk * P + p0) * 2 + 1];
                y[(size_t)(o0 + j) * P + p0] = s;
            }
    }
#endif
    for (; o0 < O; o0++) {
        const int16_t *wr = w + (size_t)o0 * Kp;
        int32_t *yr = y + (size_t)o0 * P;
        for (int p = 0; p < P; p++) yr[p] = 0;
        for (int kk = 0; kk < K2; kk++) {
            const int32_t a = wr[2 * kk], b = wr[2 * kk + 1];
            const int16_t *c = col + (size_t)kk * P * 2;
            for (int p = 0; p < P; p++) yr[p] += a * c[2 * p] + b * c[2 * p + 1];
        }
    }
}

#ifdef DF_HAVE_VNNI
/* y[o][p] = sum_q dot4(w[o][q], col[q][p]) - zp * sum w[o]: col holds uint8
 * codes four to a word, w int8. */
static inline void df_gemm_q8(const int8_t *w, int O, int Kq, const int32_t *col, int P, int zp, int32_t *y)
{
    int32_t corr[8];
    for (int o0 = 0; o0 < O; o0 += 8) {
        const int R = O - o0 >= 8 ? 8 : O - o0;
        for (int j = 0; j < R; j++) {
            int32_t s = 0;
            for (int t = 0; t < 4 * Kq; t++) s += w[(size_t)(o0 + j) * 4 * Kq + t];
            corr[j] = s * zp;
        }
        const int8_t *wr = w + (size_t)o0 * 4 * Kq;
        int32_t *yr = y + (size_t)o0 * P;
        if (R == 8)
            df_vnni_rows(wr, 8, Kq, col, P, corr, 0, yr);
        else
            for (int j = 0; j < R; j++) df_vnni_rows(wr + (size_t)j * 4 * Kq, 1, Kq, col, P, corr + j, 0, yr + (size_t)j * P);
    }
}
#endif

/* w: [O][df_conv_taps] int16; wq: NULL or the same weights as int8
 * [O][df_conv_qtaps] (then the input codes must lie in 0..255); scratch:
 * df_conv_scratch int32 values. */
static inline void df_conv(const int32_t *x, int C, int H, int W, int zp, const int16_t *w, const int8_t *wq, int O,
                           int k, int stride, int pad, int dil, int groups, int OH, int OW, int32_t *scratch, int32_t *y)
{
    const int cg = C / groups, og = O / groups, Cp = df_conv_pairs(C, groups), Kp = df_conv_taps(C, groups, k);
    const int P = OH * OW, HW = H * W;
#ifdef DF_HAVE_VNNI
    if (wq) {
        const int Cq = df_conv_quads(C, groups), Kq4 = df_conv_qtaps(C, groups, k);
        uint8_t *xq = (uint8_t *)scratch; /* [Cq][H][W][4]: raw codes, channels in quads */
        int32_t *colw = scratch + (size_t)Cq * HW;
        for (int g = 0; g < groups; g++) {
            for (int cq = 0; cq < Cq; cq++) {
                uint8_t *d = xq + (size_t)cq * HW * 4;
                for (int j = 0; j < 4; j++) {
                    const int ic = 4 * cq + j;
                    const int32_t *xc = x + (size_t)(g * cg + ic) * HW;
                    if (ic < cg)
                        for (int i = 0; i < HW; i++) d[4 * i + j] = (uint8_t)xc[i];
                    else
                        for (int i = 0; i < HW; i++) d[4 * i + j] = (uint8_t)zp;
                }
            }
            df_im2col_words(scratch, Cq, H, W, k, stride, pad, dil, OH, OW, (int32_t)(0x01010101u * (uint32_t)zp), colw);
            df_gemm_q8(wq + (size_t)g * og * Kq4, og, Kq4 / 4, colw, P, zp, y + (size_t)g * og * P);
        }
        return;
    }
#else
    (void)wq;
#endif
    const int32_t *colw = scratch + (size_t)Cp * HW; /* [Cp * k * k][P] pairs, as int32 words */
    for (int g = 0; g < groups; g++) {
        df_im2col_pairs(x + (size_t)g * cg * HW, cg, H, W, zp, 0, k, stride, pad, dil, OH, OW, scratch);
        df_gemm_pairs(w + (size_t)g * og * Kp, og, Kp, (const int16_t *)colw, P, y + (size_t)g * og * P);
    }
}

#ifdef __AVX512BW__
/* R (<= 4) output rows x 32 pixels of the L1 sum, pairs of taps per word:
 * |col - w| in int16, pair sums into int32 (vpmaddwd by ones). */
static inline __attribute__((always_inline)) void df_l1_rows(const int16_t *w, int R, int K2, const int16_t *col, int P,
                                                              int32_t *y)
{
    const __m512i ones = _mm512_set1_epi16(1);
    for (int p0 = 0; p0 < P; p0 += 32) {
        const int n0 = P - p0 >= 16 ? 16 : P - p0, n1 = P - p0 - 16 >= 16 ? 16 : P - p0 - 16 > 0 ? P - p0 - 16 : 0;
        const __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
        __m512i a[4][2];
        for (int j = 0; j < 4; j++)
            if (j < R) a[j][0] = a[j][1] = _mm512_setzero_si512();
        const int32_t *c = (const int32_t *)col + p0;
        for (int kk = 0; kk < K2; kk++, c += P) {
            const __m512i x0 = _mm512_maskz_loadu_epi32(m0, c), x1 = _mm512_maskz_loadu_epi32(m1, c + 16);
            for (int j = 0; j < 4; j++)
                if (j < R) {
                    int32_t q;
                    memcpy(&q, w + ((size_t)j * K2 + kk) * 2, 4);
                    const __m512i v = _mm512_set1_epi32(q);
                    a[j][0] = _mm512_add_epi32(a[j][0], _mm512_madd_epi16(_mm512_abs_epi16(_mm512_sub_epi16(x0, v)), ones));
                    a[j][1] = _mm512_add_epi32(a[j][1], _mm512_madd_epi16(_mm512_abs_epi16(_mm512_sub_epi16(x1, v)), ones));
                }
        }
        for (int j = 0; j < 4; j++)
            if (j < R) {
                const __m512i z = _mm512_setzero_si512();
                _mm512_mask_storeu_epi32(y + (size_t)j * P + p0, m0, _mm512_sub_epi32(z, a[j][0]));
                if (n1) _mm512_mask_storeu_epi32(y + (size_t)j * P + p0 + 16, m1, _mm512_sub_epi32(z, a[j][1]));
            }
    }
}
#endif

#if defined(__AVX2__) && !defined(__AVX512BW__)
/* AVX2: 4 output rows x 16 pixels (8 ymm accumulators), the same int16
 * |col - w| and pair sums; pixel tail left to the loop below. */
static inline __attribute__((always_inline)) int df_l1_rows_avx2(const int16_t *w, int K2, const int16_t *col, int P,
                                                                  int32_t *y)
{
    const __m256i ones = _mm256_set1_epi16(1);
    int p0 = 0;
    for (; p0 + 16 <= P; p0 += 16) {
        __m256i a[4][2];
        for (int j = 0; j < 4; j++) a[j][0] = a[j][1] = _mm256_setzero_si256();
        const int32_t *c = (const int32_t *)col + p0;
        for (int kk = 0; kk < K2; kk++, c += P) {
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)c), x1 = _mm256_loadu_si256((const __m256i *)(c + 8));
            for (int j = 0; j < 4; j++) {
                int32_t q;
                memcpy(&q, w + ((size_t)j * K2 + kk) * 2, 4);
                const __m256i v = _mm256_set1_epi32(q);
                a[j][0] = _mm256_add_epi32(a[j][0], _mm256_madd_epi16(_mm256_abs_epi16(_mm256_sub_epi16(x0, v)), ones));
                a[j][1] = _mm256_add_epi32(a[j][1], _mm256_madd_epi16(_mm256_abs_epi16(_mm256_sub_epi16(x1, v)), ones));
            }
        }
        const __m256i z = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            _mm256_storeu_si256((__m256i *)(y + (size_t)j * P + p0), _mm256_sub_epi32(z, a[j][0]));
            _mm256_storeu_si256((__m256i *)(y + (size_t)j * P + p0 + 8), _mm256_sub_epi32(z, a[j][1]));
        }
    }
    return p0;
}
#endif

/* y[o][p] = -sum_t |col[t][p] - w[o][t]| over tap pairs (the pair layout). */
static inline void df_gemm_l1(const int16_t *w, int O, int Kp, const int16_t *col, int P, int32_t *y)
{
    const int K2 = Kp / 2;
    int o0 = 0;
#ifdef __AVX512BW__
    for (; o0 + 4 <= O; o0 += 4) df_l1_rows(w + (size_t)o0 * Kp, 4, K2, col, P, y + (size_t)o0 * P);
    for (; o0 < O; o0++) df_l1_rows(w + (size_t)o0 * Kp, 1, K2, col, P, y + (size_t)o0 * P);
#elif defined(__AVX2__)
    for (; o0 + 4 <= O; o0 += 4) { /* the pixel tail of these rows by the loop of df_gemm_l1's last part */
        const int p0 = df_l1_rows_avx2(w + (size_t)o0 * Kp, K2, col, P, y + (size_t)o0 * P);
        for (int j = 0; j < 4; j++) {
            const int16_t *wr = w + (size_t)(o0 + j) * Kp;
            int32_t *yr = y + (size_t)(o0 + j) * P;
            for (int p = p0; p < P; p++) {
                int32_t s = 0;
                for (int kk = 0; kk < K2; kk++) {
                    const int32_t d0 = col[((size_t)kk * P + p) * 2] - wr[2 * kk], d1 = col[((size_t)kk * P + p) * 2 + 1] - wr[2 * kk + 1];
                    s += (d0 < 0 ? -d0 : d0) + (d1 < 0 ? -d1 : d1);
                }
                yr[p] = -s;
            }
        }
    }
#endif
    for (; o0 < O; o0++) {
        const int16_t *wr = w + (size_t)o0 * Kp;
        int32_t *yr = y + (size_t)o0 * P;
        for (int p = 0; p < P; p++) yr[p] = 0;
        for (int kk = 0; kk < K2; kk++) {
            const int32_t a = wr[2 * kk], b = wr[2 * kk + 1];
            const int16_t *c = col + (size_t)kk * P * 2;
            for (int p = 0; p < P; p++) {
                const int32_t d0 = c[2 * p] - a, d1 = c[2 * p + 1] - b;
                yr[p] -= (d0 < 0 ? -d0 : d0) + (d1 < 0 ? -d1 : d1);
            }
        }
    }
}

/* w: [O][df_conv_taps] int16 (already on the common grid); scratch:
 * df_conv_scratch int32 values. */
static inline void df_adder(const int32_t *x, int C, int H, int W, int zp, int xsh, const int16_t *w, int O, int k,
                            int stride, int pad, int dil, int groups, int OH, int OW, int32_t *scratch, int32_t *y)
{
    const int cg = C / groups, og = O / groups, Cp = df_conv_pairs(C, groups), Kp = df_conv_taps(C, groups, k);
    const int P = OH * OW, HW = H * W;
    const int32_t *colw = scratch + (size_t)Cp * HW;
    for (int g = 0; g < groups; g++) {
        df_im2col_pairs(x + (size_t)g * cg * HW, cg, H, W, zp, xsh, k, stride, pad, dil, OH, OW, scratch);
        df_gemm_l1(w + (size_t)g * og * Kp, og, Kp, (const int16_t *)colw, P, y + (size_t)g * og * P);
    }
}

static inline void df_sum_hw(const int32_t *x, int C, int P, int zp, int32_t *y)
{
    for (int c = 0; c < C; c++) {
        int32_t s = 0;
        for (int p = 0; p < P; p++) s += x[(size_t)c * P + p] - zp;
        y[c] = s;
    }
}

static inline void df_linear(const int32_t *x, int IN, int zp, const int16_t *w, int OUT, int32_t *y)
{
    for (int o = 0; o < OUT; o++) {
        int32_t s = 0;
        for (int i = 0; i < IN; i++) s += (int32_t)w[(size_t)o * IN + i] * (x[i] - zp);
        y[o] = s;
    }
}

static inline void df_requant(int nt, const int32_t *const *x, const int64_t *const *m, const int64_t *k, int C, int P, int sh,
                       int32_t lo, int32_t hi, int32_t *y)
{
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++) {
            int64_t acc = k[c];
            for (int t = 0; t < nt; t++) acc += (int64_t)x[t][(size_t)c * P + p] * m[t][c];
            acc >>= sh;
            y[(size_t)c * P + p] = acc < lo ? lo : acc > hi ? hi : (int32_t)acc;
        }
}

static inline void df_maxpool(const int32_t *x, int C, int H, int W, int k, int stride, int pad, int OH, int OW, int32_t *y)
{
    for (int c = 0; c < C; c++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int32_t best = INT32_MIN;
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++) {
                        const int ih = oh * stride + kh - pad, iw = ow * stride + kw - pad;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        const int32_t v = x[((size_t)c * H + ih) * W + iw];
                        best = v > best ? v : best;
                    }
                y[((size_t)c * OH + oh) * OW + ow] = best;
            }
}

#endif
