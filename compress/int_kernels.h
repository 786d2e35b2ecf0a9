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
 *   maxpool  on codes (the dequantization is increasing), padding ignored */
#ifndef DF_INT_KERNELS_H
#define DF_INT_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
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

/* y[o][p] = sum_t w[o][t] * col[t][p] over tap pairs: col holds pairs
 * (t, t+1) next to each other for every p, so both paths multiply int16 by
 * int16 into int32 pair sums (AVX2: vpmaddwd), the same integers either way. */
static inline void df_gemm_pairs(const int16_t *w, int O, int Kp, const int16_t *col, int P, int32_t *y)
{
    const int K2 = Kp / 2;
    int o0 = 0;
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

/* w: [O][df_conv_taps] int16; scratch: df_conv_scratch int32 values. */
static inline void df_conv(const int32_t *x, int C, int H, int W, int zp, const int16_t *w, int O, int k, int stride,
                           int pad, int dil, int groups, int OH, int OW, int32_t *scratch, int32_t *y)
{
    const int cg = C / groups, og = O / groups, Cp = df_conv_pairs(C, groups), Kp = df_conv_taps(C, groups, k);
    const int P = OH * OW, HW = H * W;
    int16_t *xp = (int16_t *)scratch;                  /* [Cp][H][W][2]: x - zp, channels in pairs */
    int32_t *colw = scratch + (size_t)Cp * HW;          /* [Cp * k * k][P] pairs, as int32 words */
    const int32_t *xw = scratch;
    for (int g = 0; g < groups; g++) {
        for (int cp = 0; cp < Cp; cp++) {
            const int32_t *x0 = x + (size_t)(g * cg + 2 * cp) * HW, *x1 = 2 * cp + 1 < cg ? x0 + HW : NULL;
            int16_t *d = xp + (size_t)cp * HW * 2;
            for (int i = 0; i < HW; i++) {
                d[2 * i] = (int16_t)(x0[i] - zp);
                d[2 * i + 1] = (int16_t)(x1 ? x1[i] - zp : 0);
            }
        }
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                /* the output columns whose tap lands inside the row */
                const int off = kw * dil - pad;
                int ow0 = 0, ow1 = OW;
                while (ow0 < OW && ow0 * stride + off < 0) ow0++;
                while (ow1 > ow0 && (ow1 - 1) * stride + off >= W) ow1--;
                for (int cp = 0; cp < Cp; cp++) {
                    int32_t *c = colw + (size_t)((kh * k + kw) * Cp + cp) * P;
                    const int32_t *xi = xw + (size_t)cp * HW;
                    for (int oh = 0; oh < OH; oh++) {
                        const int ih = oh * stride + kh * dil - pad;
                        int32_t *cr = c + (size_t)oh * OW;
                        /* plain loops: rows are short, and rep movs costs more than it moves */
                        if (ih < 0 || ih >= H) {
                            for (int ow = 0; ow < OW; ow++) cr[ow] = 0;
                            continue;
                        }
                        const int32_t *xr = xi + (size_t)ih * W + off;
                        for (int ow = 0; ow < ow0; ow++) cr[ow] = 0;
                        if (stride == 1)
                            for (int ow = ow0; ow < ow1; ow++) cr[ow] = xr[ow];
                        else
                            for (int ow = ow0; ow < ow1; ow++) cr[ow] = xr[ow * stride];
                        for (int ow = ow1; ow < OW; ow++) cr[ow] = 0;
                    }
                }
            }
        df_gemm_pairs(w + (size_t)g * og * Kp, og, Kp, (const int16_t *)colw, P, y + (size_t)g * og * P);
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
