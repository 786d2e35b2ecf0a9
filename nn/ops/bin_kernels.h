/* Bit-packed binary convolution (XNOR-popcount), plain C99 plus an optional
 * AVX-512 VPOPCNTDQ path chosen at run time (GCC/Clang target attributes
 * and __builtin_cpu_supports), header-only so the C exporter can embed it.
 *
 * A tensor of signs [C][H][W] (+1 where x >= 0, the sign op's convention)
 * is packed as Cw = ceil(C/64) word planes [Cw][H + 2 pad][W + 2 pad]: bit
 * c % 64 of plane c / 64 is 1 for +1; the border and the bits past C are 0.
 * Weights sign(w) [O][C][k][k] pack as [O][Cw][k * k] the same way.
 *
 *   y[o][p] = sum over taps inside the image of sum_c sign(x) sign(w)
 *
 * (padded taps contribute 0: the float simulation pads sign(x) with zeros).
 * A tap's sum is C - 2 popcount(x ^ w); the kernels run every tap on the
 * zero-bordered planes, where a border tap gives C - 2 popcount(w) instead
 * of 0, and subtract that per-(o, tap) constant (df_bin_pack_weights' corr)
 * at the few outputs whose window leaves the image. */
#ifndef DF_BIN_KERNELS_H
#define DF_BIN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DF_BIN_X86 1
#endif

static inline int df_bin_words(int C) { return (C + 63) / 64; }
static inline size_t df_bin_plane(int H, int W, int pad) { return (size_t)(H + 2 * pad) * (size_t)(W + 2 * pad); }

static inline int df_bin_have_vpopcnt(void);

#ifdef DF_BIN_X86
/* Per channel and 16 pixels: one compare gives their sign bits as a mask,
 * and two masked ors set the channel's bit in the 8-pixel words. */
__attribute__((target("avx512f"))) static void df_bin_pack_avx512(const float *x, int C, int H, int W, int pad,
                                                                   uint64_t *xp)
{
    const int Wp = W + 2 * pad;
    const size_t pl = df_bin_plane(H, W, pad);
    for (int c = 0; c < C; c++) {
        uint64_t *d0 = xp + (size_t)(c / 64) * pl + (size_t)pad * Wp + pad;
        const __m512i bit = _mm512_set1_epi64((long long)((uint64_t)1 << (c % 64)));
        const float *s = x + (size_t)c * H * W;
        for (int h = 0; h < H; h++) {
            uint64_t *d = d0 + (size_t)h * Wp;
            const float *r = s + (size_t)h * W;
            for (int w = 0; w < W; w += 16) {
                const int n = W - w < 16 ? W - w : 16;
                const __mmask16 m = (__mmask16)((1u << n) - 1);
                const __mmask16 ge = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, r + w), _mm512_setzero_ps(), _CMP_GE_OQ);
                const __mmask8 lo = (__mmask8)(ge & 0xff), hi = (__mmask8)(ge >> 8);
                _mm512_mask_storeu_epi64(d + w, lo, _mm512_or_si512(_mm512_maskz_loadu_epi64(lo, d + w), bit));
                if (n > 8) _mm512_mask_storeu_epi64(d + w + 8, hi, _mm512_or_si512(_mm512_maskz_loadu_epi64(hi, d + w + 8), bit));
            }
        }
    }
}
#endif

/* Signs of x [C][H][W] into Cw zero-bordered planes (xp: Cw * df_bin_plane);
 * scalar: 1 forces the plain loops (tests). */
static inline void df_bin_pack_any(const float *x, int C, int H, int W, int pad, int scalar, uint64_t *xp)
{
    const int Wp = W + 2 * pad, Cw = df_bin_words(C);
    const size_t pl = df_bin_plane(H, W, pad);
    memset(xp, 0, (size_t)Cw * pl * sizeof(uint64_t));
#ifdef DF_BIN_X86
    if (!scalar && df_bin_have_vpopcnt()) {
        df_bin_pack_avx512(x, C, H, W, pad, xp);
        return;
    }
#endif
    (void)scalar;
    for (int c = 0; c < C; c++) {
        uint64_t *d = xp + (size_t)(c / 64) * pl + (size_t)pad * Wp + pad;
        const uint64_t bit = (uint64_t)1 << (c % 64);
        const float *s = x + (size_t)c * H * W;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) d[(size_t)h * Wp + w] |= s[(size_t)h * W + w] >= 0.0f ? bit : 0;
    }
}
static inline void df_bin_pack(const float *x, int C, int H, int W, int pad, uint64_t *xp)
{
    df_bin_pack_any(x, C, H, W, pad, 0, xp);
}

/* sign(w) [O][C][k][k] into wp [O][Cw][k*k]; corr [O][k*k] = C - 2 popcount of
 * the tap's words (what a zero-border tap adds). */
static inline void df_bin_pack_weights(const float *w, int O, int C, int k, uint64_t *wp, int32_t *corr)
{
    const int Cw = df_bin_words(C), kk = k * k;
    memset(wp, 0, (size_t)O * Cw * kk * sizeof(uint64_t));
    for (int o = 0; o < O; o++) {
        for (int c = 0; c < C; c++)
            for (int t = 0; t < kk; t++)
                if (w[((size_t)o * C + c) * kk + t] >= 0.0f) wp[((size_t)o * Cw + c / 64) * kk + t] |= (uint64_t)1 << (c % 64);
        for (int t = 0; t < kk; t++) {
            int pc = 0;
            for (int q = 0; q < Cw; q++) pc += __builtin_popcountll(wp[((size_t)o * Cw + q) * kk + t]);
            corr[(size_t)o * kk + t] = C - 2 * pc;
        }
    }
}

/* The border fix-up: outputs whose window leaves the image lose the
 * zero-border taps' constants. One output plane at a time (the planes are
 * 4 KB apart at 32x32: walking o innermost thrashes one cache set), and only
 * the rows and columns whose windows cross the border. */
static inline void df_bin_border(const int32_t *corr, int O, int H, int W, int k, int stride, int pad, int dil, int OH,
                                 int OW, int32_t *y)
{
    const int kk = k * k, span = (k - 1) * dil;
    int owL = 0, owR = OW;
    while (owL < OW && owL * stride - pad < 0) owL++;
    while (owR > owL && (owR - 1) * stride - pad + span >= W) owR--;
    for (int o = 0; o < O; o++) {
        const int32_t *co = corr + (size_t)o * kk;
        int32_t *yo = y + (size_t)o * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const int h0 = oh * stride - pad, rows_in = h0 >= 0 && h0 + span < H;
            for (int ow = 0; ow < OW; ow++) {
                if (rows_in && ow == owL && owR > owL) ow = owR; /* skip the interior of the row */
                if (ow >= OW) break;
                const int w0 = ow * stride - pad;
                int32_t fix = 0;
                for (int kh = 0; kh < k; kh++) {
                    const int ih = h0 + kh * dil, rin = ih >= 0 && ih < H;
                    for (int kw = 0; kw < k; kw++) {
                        const int iw = w0 + kw * dil;
                        if (!rin || iw < 0 || iw >= W) fix += co[kh * k + kw];
                    }
                }
                yo[(size_t)oh * OW + ow] -= fix;
            }
        }
    }
}

/* Every tap on the bordered planes, one output at a time (scalar popcount). */
static inline __attribute__((always_inline)) void df_bin_conv_loops(const uint64_t *xp, int C, int H, int W, int pad, const uint64_t *wp, int O, int k,
                                        int stride, int dil, int OH, int OW, int32_t *y)
{
    const int Cw = df_bin_words(C), Wp = W + 2 * pad, kk = k * k;
    const size_t pl = df_bin_plane(H, W, pad);
    for (int o = 0; o < O; o++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int mis = 0;
                for (int q = 0; q < Cw; q++) {
                    const uint64_t *xq = xp + (size_t)q * pl, *wq = wp + ((size_t)o * Cw + q) * kk;
                    for (int kh = 0; kh < k; kh++)
                        for (int kw = 0; kw < k; kw++)
                            mis += __builtin_popcountll(xq[(size_t)(oh * stride + kh * dil) * Wp + ow * stride + kw * dil] ^
                                                        wq[kh * k + kw]);
                }
                y[((size_t)o * OH + oh) * OW + ow] = kk * C - 2 * mis;
            }
}

#ifdef DF_BIN_X86
/* the same loops with the popcnt instruction (any x86-64 CPU since 2008) */
__attribute__((target("popcnt"))) static void df_bin_conv_popcnt(const uint64_t *xp, int C, int H, int W, int pad,
                                                                 const uint64_t *wp, int O, int k, int stride, int dil,
                                                                 int OH, int OW, int32_t *y)
{
    df_bin_conv_loops(xp, C, H, W, pad, wp, O, k, stride, dil, OH, OW, y);
}
#endif

/* The portable path: scalar popcount, the instruction where the CPU has it. */
static inline void df_bin_conv_portable(const uint64_t *xp, int C, int H, int W, int pad, const uint64_t *wp, int O, int k,
                                        int stride, int dil, int OH, int OW, int32_t *y)
{
#ifdef DF_BIN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) {
        df_bin_conv_popcnt(xp, C, H, W, pad, wp, O, k, stride, dil, OH, OW, y);
        return;
    }
#endif
    df_bin_conv_loops(xp, C, H, W, pad, wp, O, k, stride, dil, OH, OW, y);
}

#ifdef DF_BIN_X86
/* R (<= 8, a constant after inlining) output channels x 16 output columns
 * (stride 1): per tap two loads of 8 consecutive words, xor with each
 * channel's broadcast weight word, vpopcntq, add; masks cover the tail. */
__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"), always_inline)) static inline void
df_bin_tile(const uint64_t *xp, int Cw, size_t pl, int Wp, const uint64_t *wp, int kk, int k, int dil, int R, int oh,
            int ow0, int OW, int OH, int base, int32_t *y)
{
    const int n0 = OW - ow0 < 8 ? OW - ow0 : 8, n1 = OW - ow0 - 8 <= 0 ? 0 : OW - ow0 - 8 < 8 ? OW - ow0 - 8 : 8;
    const __mmask8 m0 = (__mmask8)((1u << n0) - 1), m1 = (__mmask8)((1u << n1) - 1);
    __m512i a[8][2];
    for (int j = 0; j < 8; j++)
        if (j < R) a[j][0] = a[j][1] = _mm512_setzero_si512();
    for (int q = 0; q < Cw; q++)
        for (int kh = 0; kh < k; kh++) {
            const uint64_t *row = xp + (size_t)q * pl + (size_t)(oh + kh * dil) * Wp + ow0;
            for (int kw = 0; kw < k; kw++) {
                const __m512i x0 = _mm512_maskz_loadu_epi64(m0, row + kw * dil),
                              x1 = _mm512_maskz_loadu_epi64(m1, row + kw * dil + 8);
                const uint64_t *wt = wp + (size_t)q * kk + kh * k + kw;
                for (int j = 0; j < 8; j++)
                    if (j < R) {
                        const __m512i v = _mm512_set1_epi64((long long)wt[(size_t)j * Cw * kk]);
                        a[j][0] = _mm512_add_epi64(a[j][0], _mm512_popcnt_epi64(_mm512_xor_si512(x0, v)));
                        a[j][1] = _mm512_add_epi64(a[j][1], _mm512_popcnt_epi64(_mm512_xor_si512(x1, v)));
                    }
            }
        }
    const __m512i b = _mm512_set1_epi64(base);
    for (int j = 0; j < 8; j++)
        if (j < R) {
            int32_t *yr = y + ((size_t)j * OH + oh) * OW + ow0;
            _mm256_mask_storeu_epi32(yr, m0, _mm512_cvtepi64_epi32(_mm512_sub_epi64(b, _mm512_slli_epi64(a[j][0], 1))));
            if (n1)
                _mm256_mask_storeu_epi32(yr + 8, m1,
                                         _mm512_cvtepi64_epi32(_mm512_sub_epi64(b, _mm512_slli_epi64(a[j][1], 1))));
        }
}

__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"))) static void
df_bin_conv_vpopcnt(const uint64_t *xp, int C, int H, int W, int pad, const uint64_t *wp, int O, int k, int dil, int OH,
                    int OW, int32_t *y)
{
    const int Cw = df_bin_words(C), Wp = W + 2 * pad, kk = k * k, base = kk * C;
    const size_t pl = df_bin_plane(H, W, pad);
    int o0 = 0;
    for (; o0 + 8 <= O; o0 += 8)
        for (int oh = 0; oh < OH; oh++)
            for (int ow0 = 0; ow0 < OW; ow0 += 16)
                df_bin_tile(xp, Cw, pl, Wp, wp + (size_t)o0 * Cw * kk, kk, k, dil, 8, oh, ow0, OW, OH, base,
                            y + (size_t)o0 * OH * OW);
    for (; o0 < O; o0++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow0 = 0; ow0 < OW; ow0 += 16)
                df_bin_tile(xp, Cw, pl, Wp, wp + (size_t)o0 * Cw * kk, kk, k, dil, 1, oh, ow0, OW, OH, base,
                            y + (size_t)o0 * OH * OW);
}
#endif

/* 1: the AVX-512 VPOPCNTDQ path exists on this CPU (and in this build). */
static inline int df_bin_have_vpopcnt(void)
{
#ifdef DF_BIN_X86
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl");
    }
    return have;
#else
    return 0;
#endif
}

/* y [O][OH][OW] (int32 sums of sign products); xp from df_bin_pack with this
 * pad; wp, corr from df_bin_pack_weights. portable: 1 forces the scalar
 * path (benchmarks, tests). */
static inline void df_bin_conv(const uint64_t *xp, int C, int H, int W, int pad, const uint64_t *wp, const int32_t *corr,
                               int O, int k, int stride, int dil, int OH, int OW, int portable, int32_t *y)
{
#ifdef DF_BIN_X86
    if (!portable && stride == 1 && df_bin_have_vpopcnt())
        df_bin_conv_vpopcnt(xp, C, H, W, pad, wp, O, k, dil, OH, OW, y);
    else
#endif
        df_bin_conv_portable(xp, C, H, W, pad, wp, O, k, stride, dil, OH, OW, y);
    (void)portable;
    df_bin_border(corr, O, H, W, k, stride, pad, dil, OH, OW, y);
}

#endif
