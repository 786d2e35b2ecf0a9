/* AdderNet's adder convolution (shared/reference/seed_adder.md §1.2-1.5):
 *   forward  Y[b,t,oh,ow] = - sum_{k,i,j} | X~[b,k,oh*s+i*d-p, ow*s+j*d-p] - F[t,k,i,j] |
 *            with X~ zero-padded, so a padded tap costs -|F| (the reference code's
 *            semantics, not 0 as in a conv); unbiased
 *   dF       sum_{b,oh,ow} G * (X~ - F)          (the full-precision gradient, eq. 3.4)
 *   dX       sum_{t,i,j} G * HT(F - X)           (HardTanh-clipped, eq. 3.5)
 *   ALR      dF scaled to eta * sqrt(numel(F)) / ||dF||_2 inside the backward, as
 *            the official code does (eta 0.2 there); eta <= 0 turns it off.
 * Per image and group: im2col (padded taps 0, so |0 - F| comes out of the
 * same sum), then an "L1 GEMM" y[o][p] = -sum_k |col[k][p] - w[o][k]|
 * (as 2 sum min - sums: AVX-512 8 outputs x 32 pixels, AVX2 4 x 16 over
 * packed strips, chosen at run time) for the forward, the clipped
 * counterpart for dcol (col2im'd into dX), and for dF the identity
 * sum_p G (col - w) = G col^T - w sum_p G: one sgemm. Batch-parallel on the
 * pool; each worker accumulates its own dF, summed at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

#include "../blas.h"
#include "../ops.h"
#include "conv_direct.h"
#include "im2col.h"

/* Kernel sets, chosen per call: the best the CPU has (__builtin_cpu_supports),
 * or DATAFREE_ADDER_ISA=portable|avx2|avx512 (tests and benchmarks compare
 * them; a set the CPU lacks falls back to the next one down). */
enum { ISA_PORTABLE, ISA_AVX2, ISA_AVX512 };

static int adder_isa(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") ? ISA_AVX512
               : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? ISA_AVX2 : ISA_PORTABLE;
    }
    const char *e = getenv("DATAFREE_ADDER_ISA");
    int want = have;
    if (e) want = !strcmp(e, "portable") ? ISA_PORTABLE : !strcmp(e, "avx2") ? ISA_AVX2 : ISA_AVX512;
    return want < have ? want : have;
}

const char *nn_adder_isa_name(void)
{
    static const char *names[] = {"portable", "avx2", "avx512"};
    return names[adder_isa()];
}

#define TGT_AVX512 __attribute__((target("avx512f")))
#define TGT_AVX2 __attribute__((target("avx2,fma")))

/* M[o][p] = sum_k min(col[k][p], w[o][k]) for R (<= 8, constant after
 * inlining) rows x 32 pixels in 2R zmm accumulators; masked pixel tail. The
 * accumulation is an fma by 1 (exact, the same as an add): on CPUs whose min
 * and add share pipes (AMD's) the min and the accumulate then issue in
 * parallel, 5.5 -> 3.6 ms at 16x28x28 on an AMD EPYC with direct_min512. */
TGT_AVX512 static inline __attribute__((always_inline)) void min_rows512(const float *w, int R, int K, const float *col,
                                                                          int P, float *m)
{
    for (int p0 = 0; p0 < P; p0 += 32) {
        const uint32_t lanes = nn_block32_lanes(P, p0);
        const __mmask16 m0 = (__mmask16)lanes, m1 = (__mmask16)(lanes >> 16);
        __m512 a[8][2];
        const __m512 one = _mm512_set1_ps(1.0f);
        for (int j = 0; j < 8; j++)
            if (j < R) a[j][0] = a[j][1] = _mm512_setzero_ps();
        const float *c = col + p0;
        for (int k = 0; k < K; k++, c += P) {
            const __m512 x0 = _mm512_maskz_loadu_ps(m0, c), x1 = _mm512_maskz_loadu_ps(m1, c + 16);
            for (int j = 0; j < 8; j++)
                if (j < R) {
                    const __m512 v = _mm512_set1_ps(w[(size_t)j * K + k]);
                    a[j][0] = _mm512_fmadd_ps(_mm512_min_ps(x0, v), one, a[j][0]);
                    a[j][1] = _mm512_fmadd_ps(_mm512_min_ps(x1, v), one, a[j][1]);
                }
        }
        for (int j = 0; j < 8; j++)
            if (j < R) {
                _mm512_mask_storeu_ps(m + (size_t)j * P + p0, m0, a[j][0]);
                if (m1) _mm512_mask_storeu_ps(m + (size_t)j * P + p0 + 16, m1, a[j][1]);
            }
    }
}

TGT_AVX512 static int min_avx512(const float *w, int O, int K, const float *col, int P, float *m, float *pk)
{
    (void)pk;
    int o0 = 0;
    for (; o0 + 8 <= O; o0 += 8) min_rows512(w + (size_t)o0 * K, 8, K, col, P, m + (size_t)o0 * P);
    for (; o0 < O; o0++) min_rows512(w + (size_t)o0 * K, 1, K, col, P, m + (size_t)o0 * P);
    return O;
}

/* AVX2: 4 outputs x NV*8 pixels (NV = 2 or 1) in 4*NV ymm accumulators, over
 * a packed strip (cs: K x 16, contiguous) and packed weights (wp: 4 outputs
 * interleaved per tap), so both streams are sequential and the strip stays in
 * L1 while every output group passes over it. */
TGT_AVX2 static inline __attribute__((always_inline)) void min_tile2(const float *wp, int K, const float *cs, int NV,
                                                                      float *out /* 4 x 16 */)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    const __m256 one = _mm256_set1_ps(1.0f); /* accumulate by fma, as min_rows512 */
    for (int k = 0; k < K; k++, cs += 16, wp += 4) {
        const __m256 x0 = _mm256_loadu_ps(cs);
        const __m256 v0 = _mm256_broadcast_ss(wp), v1 = _mm256_broadcast_ss(wp + 1), v2 = _mm256_broadcast_ss(wp + 2),
                     v3 = _mm256_broadcast_ss(wp + 3);
        a0 = _mm256_fmadd_ps(_mm256_min_ps(x0, v0), one, a0);
        a1 = _mm256_fmadd_ps(_mm256_min_ps(x0, v1), one, a1);
        a2 = _mm256_fmadd_ps(_mm256_min_ps(x0, v2), one, a2);
        a3 = _mm256_fmadd_ps(_mm256_min_ps(x0, v3), one, a3);
        if (NV == 2) {
            const __m256 x1 = _mm256_loadu_ps(cs + 8);
            b0 = _mm256_fmadd_ps(_mm256_min_ps(x1, v0), one, b0);
            b1 = _mm256_fmadd_ps(_mm256_min_ps(x1, v1), one, b1);
            b2 = _mm256_fmadd_ps(_mm256_min_ps(x1, v2), one, b2);
            b3 = _mm256_fmadd_ps(_mm256_min_ps(x1, v3), one, b3);
        }
    }
    _mm256_storeu_ps(out, a0), _mm256_storeu_ps(out + 16, a1), _mm256_storeu_ps(out + 32, a2);
    _mm256_storeu_ps(out + 48, a3);
    if (NV == 2) {
        _mm256_storeu_ps(out + 8, b0), _mm256_storeu_ps(out + 24, b1), _mm256_storeu_ps(out + 40, b2);
        _mm256_storeu_ps(out + 56, b3);
    }
}

/* pk: 16 K + O K floats. Returns the rows done (a multiple of 4). */
TGT_AVX2 static int min_avx2(const float *w, int O, int K, const float *col, int P, float *m, float *pk)
{
    const int O4 = O & ~3;
    if (!O4) return 0;
    float *cs = pk, *wp = pk + (size_t)16 * K;
    for (int g = 0; g < O4 / 4; g++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < 4; j++) wp[((size_t)g * K + k) * 4 + j] = w[(size_t)(4 * g + j) * K + k];
    float out[64];
    for (int p0 = 0; p0 < P; p0 += 16) {
        const int n = P - p0 < 16 ? P - p0 : 16, NV = n > 8 ? 2 : 1;
        for (int k = 0; k < K; k++) { /* the strip, zero-padded to the tile */
            const float *c = col + (size_t)k * P + p0;
            float *d = cs + (size_t)k * 16;
            if (n == 16) {
                _mm256_storeu_ps(d, _mm256_loadu_ps(c));
                _mm256_storeu_ps(d + 8, _mm256_loadu_ps(c + 8));
            } else {
                for (int q = 0; q < n; q++) d[q] = c[q];
                for (int q = n; q < 16; q++) d[q] = 0.0f;
            }
        }
        for (int g = 0; g < O4 / 4; g++) {
            float *y = m + (size_t)4 * g * P + p0;
            if (n == 16) {
                min_tile2(wp + (size_t)g * K * 4, K, cs, 2, out);
                for (int j = 0; j < 4; j++) {
                    _mm256_storeu_ps(y + (size_t)j * P, _mm256_loadu_ps(out + 16 * j));
                    _mm256_storeu_ps(y + (size_t)j * P + 8, _mm256_loadu_ps(out + 16 * j + 8));
                }
            } else {
                if (NV == 2) min_tile2(wp + (size_t)g * K * 4, K, cs, 2, out);
                else min_tile2(wp + (size_t)g * K * 4, K, cs, 1, out);
                for (int j = 0; j < 4; j++) memcpy(y + (size_t)j * P, out + 16 * j, (size_t)n * sizeof(float));
            }
        }
    }
    return O4;
}

/* y[o][p] = -sum_k |col[k][p] - w[o][k]|, by |a - b| = a + b - 2 min(a, b):
 * y = 2 sum_k min(col, w) - sum_k col[k][p] - sum_k w[o][k], so the inner
 * loop is a min and an add where the direct form needs a sub, an abs and an
 * add. sx: P floats of scratch, pk: the packing scratch (16 K + O K floats).
 * Exact for values on a power-of-two grid (the quantized model's), within
 * float rounding otherwise (each kernel set sums over k in the same order). */
static void l1_fwd(int isa, const float *w, int O, int K, const float *col, int P, float *y, float *sx, float *pk)
{
    for (int p = 0; p < P; p++) sx[p] = 0.0f;
    for (int k = 0; k < K; k++) {
        const float *c = col + (size_t)k * P;
        for (int p = 0; p < P; p++) sx[p] += c[p];
    }
    int o0 = isa == ISA_AVX512 ? min_avx512(w, O, K, col, P, y, pk) : isa == ISA_AVX2 ? min_avx2(w, O, K, col, P, y, pk) : 0;
    for (; o0 < O; o0++) { /* portable (and depthwise) path: the compiler vectorizes over p */
        float *yr = y + (size_t)o0 * P;
        for (int p = 0; p < P; p++) yr[p] = 0.0f;
        for (int k = 0; k < K; k++) {
            const float wv = w[(size_t)o0 * K + k], *c = col + (size_t)k * P;
            for (int p = 0; p < P; p++) yr[p] += c[p] < wv ? c[p] : wv;
        }
    }
    for (int o = 0; o < O; o++) {
        float sw = 0.0f;
        for (int k = 0; k < K; k++) sw += w[(size_t)o * K + k];
        float *yr = y + (size_t)o * P;
        for (int p = 0; p < P; p++) yr[p] = 2.0f * yr[p] - sx[p] - sw;
    }
}

/* AVX-512, stride 1 and "same" width (ResNet's 3x3 convs): the L1 GEMM
 * straight from the image, no im2col. conv_direct.c's plan gives each tap a
 * flat offset and k-masks per 32-pixel block (zero in the padding, as im2col
 * would write), wp is its packing [O/8][taps][C][8]; sw[o] = sum_k w[o][k].
 * 8 outputs x 32 pixels in 16 zmm; the accumulation is an fma by 1 (exact,
 * the same as an add) so that on CPUs whose min and add share pipes (AMD's)
 * the min and the accumulate issue in parallel. sx: P floats of scratch. */
TGT_AVX512 static void direct_min512(const nn_direct_plan *pl, const float *x, const float *wp, const float *sw,
                                     float *y, float *sx)
{
    const int C = pl->C, KK = pl->KK, P = pl->OH * pl->OW, HW = pl->H * pl->W;
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    for (int b = 0; b < pl->nblk; b++) { /* sx[p] = sum of the taps' inputs (zeros included) */
        const int p0 = 32 * b;
        const uint32_t lanes = nn_block32_lanes(P, p0);
        __m512 s0 = _mm512_setzero_ps(), s1 = s0;
        const uint16_t *mb = pl->kmask + (size_t)b * KK * 2;
        for (int k = 0; k < KK; k++) {
            const float *xk = x + p0 + pl->off[k];
            for (int c = 0; c < C; c++) {
                s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(mb[2 * k], xk + (size_t)c * HW));
                s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(mb[2 * k + 1], xk + (size_t)c * HW + 16));
            }
        }
        _mm512_mask_storeu_ps(sx + p0, (__mmask16)lanes, s0);
        if (lanes >> 16) _mm512_mask_storeu_ps(sx + p0 + 16, (__mmask16)(lanes >> 16), s1);
    }
    for (int ob = 0; ob < pl->OC / 8; ob++) {
        const float *wb = wp + (size_t)ob * KK * C * 8;
        float *yb = y + (size_t)ob * 8 * P;
        for (int b = 0; b < pl->nblk; b++) {
            const int p0 = 32 * b;
            const uint32_t lanes = nn_block32_lanes(P, p0);
            const __mmask16 t0 = (__mmask16)lanes, t1 = (__mmask16)(lanes >> 16);
            __m512 a[8][2];
            for (int o = 0; o < 8; o++) a[o][0] = a[o][1] = _mm512_setzero_ps();
            const uint16_t *mb = pl->kmask + (size_t)b * KK * 2;
            for (int k = 0; k < KK; k++) {
                const __mmask16 m0 = mb[2 * k], m1 = mb[2 * k + 1];
                const float *xk = x + p0 + pl->off[k], *wk = wb + (size_t)k * C * 8;
                for (int c = 0; c < C; c++) {
                    const float *xc = xk + (size_t)c * HW, *wc = wk + 8 * c;
                    const __m512 x0 = _mm512_maskz_loadu_ps(m0, xc), x1 = _mm512_maskz_loadu_ps(m1, xc + 16);
                    for (int o = 0; o < 8; o++) {
                        const __m512 v = _mm512_set1_ps(wc[o]);
                        a[o][0] = _mm512_fmadd_ps(_mm512_min_ps(x0, v), one, a[o][0]);
                        a[o][1] = _mm512_fmadd_ps(_mm512_min_ps(x1, v), one, a[o][1]);
                    }
                }
            }
            const __m512 x0 = _mm512_maskz_loadu_ps(t0, sx + p0), x1 = _mm512_maskz_loadu_ps(t1, sx + p0 + 16);
            for (int o = 0; o < 8; o++) { /* y = 2 sum min - sum x - sum w */
                const __m512 v = _mm512_set1_ps(sw[8 * ob + o]);
                float *yo = yb + (size_t)o * P + p0;
                _mm512_mask_storeu_ps(yo, t0, _mm512_sub_ps(_mm512_fmsub_ps(two, a[o][0], x0), v));
                if (t1) _mm512_mask_storeu_ps(yo + 16, t1, _mm512_sub_ps(_mm512_fmsub_ps(two, a[o][1], x1), v));
            }
        }
    }
}

/* R (<= 4) taps x 32 pixels of dcol, by clamp(w - x, -1, 1) = min(max(w, x - 1), x + 1) - x:
 * a max, a min and an fma per output channel; the "- x" part is x * sum_o G
 * (gs), taken once at the end. */
TGT_AVX512 static inline __attribute__((always_inline)) void clip_rows512(const float *w, const float *G, int O, int K,
                                                                           int R, const float *col, int P,
                                                                           const float *gs, float *dcol)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int p0 = 0; p0 < P; p0 += 32) {
        const uint32_t lanes = nn_block32_lanes(P, p0);
        const __mmask16 m0 = (__mmask16)lanes, m1 = (__mmask16)(lanes >> 16);
        __m512 lo[4][2], hi[4][2], a[4][2];
        for (int r = 0; r < 4; r++)
            if (r < R)
                for (int h = 0; h < 2; h++) {
                    const __m512 x = _mm512_maskz_loadu_ps(h ? m1 : m0, col + (size_t)r * P + p0 + 16 * h);
                    lo[r][h] = _mm512_sub_ps(x, one);
                    hi[r][h] = _mm512_add_ps(x, one);
                    a[r][h] = _mm512_setzero_ps();
                }
        for (int o = 0; o < O; o++) {
            const float *g = G + (size_t)o * P + p0;
            const __m512 g0 = _mm512_maskz_loadu_ps(m0, g), g1 = _mm512_maskz_loadu_ps(m1, g + 16);
            for (int r = 0; r < 4; r++)
                if (r < R) {
                    const __m512 v = _mm512_set1_ps(w[(size_t)o * K + r]);
                    a[r][0] = _mm512_fmadd_ps(g0, _mm512_min_ps(_mm512_max_ps(v, lo[r][0]), hi[r][0]), a[r][0]);
                    a[r][1] = _mm512_fmadd_ps(g1, _mm512_min_ps(_mm512_max_ps(v, lo[r][1]), hi[r][1]), a[r][1]);
                }
        }
        const __m512 s0 = _mm512_maskz_loadu_ps(m0, gs + p0), s1 = _mm512_maskz_loadu_ps(m1, gs + p0 + 16);
        for (int r = 0; r < 4; r++)
            if (r < R) {
                const float *c = col + (size_t)r * P + p0;
                float *d = dcol + (size_t)r * P + p0;
                _mm512_mask_storeu_ps(d, m0, _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m0, c), s0, a[r][0]));
                if (m1) _mm512_mask_storeu_ps(d + 16, m1, _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m1, c + 16), s1, a[r][1]));
            }
    }
}

TGT_AVX512 static int clip_avx512(const float *w, const float *G, int O, int K, const float *col, int P, float *dcol,
                                  const float *gs, float *pk)
{
    (void)pk;
    int k0 = 0;
    for (; k0 + 4 <= K; k0 += 4) clip_rows512(w + k0, G, O, K, 4, col + (size_t)k0 * P, P, gs, dcol + (size_t)k0 * P);
    for (; k0 < K; k0++) clip_rows512(w + k0, G, O, K, 1, col + (size_t)k0 * P, P, gs, dcol + (size_t)k0 * P);
    return K;
}

/* AVX2: 2 taps x NV*8 pixels; the taps' x - 1 and x + 1 held in registers
 * (8 ymm), 4 accumulators; G's strip packed (O x 16) and w packed tap-pair
 * major (wt: [K/2][O][2]) so the o loop reads both sequentially. */
TGT_AVX2 static inline __attribute__((always_inline)) void clip_tile2(const float *wt, const float *gp, int O,
                                                                       const float *c0, const float *c1, int NV,
                                                                       float *out /* 2 x 16 */)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 x00 = _mm256_loadu_ps(c0), x10 = _mm256_loadu_ps(c1);
    const __m256 x01 = NV == 2 ? _mm256_loadu_ps(c0 + 8) : x00, x11 = NV == 2 ? _mm256_loadu_ps(c1 + 8) : x10;
    const __m256 l00 = _mm256_sub_ps(x00, one), h00 = _mm256_add_ps(x00, one), l01 = _mm256_sub_ps(x01, one),
                 h01 = _mm256_add_ps(x01, one), l10 = _mm256_sub_ps(x10, one), h10 = _mm256_add_ps(x10, one),
                 l11 = _mm256_sub_ps(x11, one), h11 = _mm256_add_ps(x11, one);
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
    for (int o = 0; o < O; o++, gp += 16, wt += 2) {
        const __m256 g0 = _mm256_loadu_ps(gp), v0 = _mm256_broadcast_ss(wt), v1 = _mm256_broadcast_ss(wt + 1);
        a00 = _mm256_fmadd_ps(g0, _mm256_min_ps(_mm256_max_ps(v0, l00), h00), a00);
        a10 = _mm256_fmadd_ps(g0, _mm256_min_ps(_mm256_max_ps(v1, l10), h10), a10);
        if (NV == 2) {
            const __m256 g1 = _mm256_loadu_ps(gp + 8);
            a01 = _mm256_fmadd_ps(g1, _mm256_min_ps(_mm256_max_ps(v0, l01), h01), a01);
            a11 = _mm256_fmadd_ps(g1, _mm256_min_ps(_mm256_max_ps(v1, l11), h11), a11);
        }
    }
    _mm256_storeu_ps(out, a00), _mm256_storeu_ps(out + 16, a10);
    if (NV == 2) _mm256_storeu_ps(out + 8, a01), _mm256_storeu_ps(out + 24, a11);
}

/* pk: 16 O + O K + 32 floats. Returns the taps done (a multiple of 2). */
TGT_AVX2 static int clip_avx2(const float *w, const float *G, int O, int K, const float *col, int P, float *dcol,
                              const float *gs, float *pk)
{
    const int K2 = K & ~1;
    if (!K2) return 0;
    float *gp = pk, *wt = pk + (size_t)16 * O, *cz = wt + (size_t)O * K;
    for (int t = 0; t < K2 / 2; t++)
        for (int o = 0; o < O; o++) {
            wt[((size_t)t * O + o) * 2] = w[(size_t)o * K + 2 * t];
            wt[((size_t)t * O + o) * 2 + 1] = w[(size_t)o * K + 2 * t + 1];
        }
    float out[32];
    for (int p0 = 0; p0 < P; p0 += 16) {
        const int n = P - p0 < 16 ? P - p0 : 16, NV = n > 8 ? 2 : 1;
        for (int o = 0; o < O; o++) {
            const float *g = G + (size_t)o * P + p0;
            float *d = gp + (size_t)o * 16;
            for (int q = 0; q < 16; q++) d[q] = q < n ? g[q] : 0.0f;
        }
        for (int t = 0; t < K2 / 2; t++) {
            const float *c0 = col + (size_t)2 * t * P + p0, *c1 = c0 + P;
            if (n < 16) { /* a zero-padded copy of the two taps' pixels */
                for (int q = 0; q < 16; q++) cz[q] = q < n ? c0[q] : 0.0f, cz[16 + q] = q < n ? c1[q] : 0.0f;
                c0 = cz, c1 = cz + 16;
            }
            if (NV == 2) clip_tile2(wt + (size_t)t * O * 2, gp, O, c0, c1, 2, out);
            else clip_tile2(wt + (size_t)t * O * 2, gp, O, c0, c1, 1, out);
            for (int r = 0; r < 2; r++) { /* the "- x sum_o G" part */
                const float *c = r ? c1 : c0;
                float *d = dcol + (size_t)(2 * t + r) * P + p0;
                for (int q = 0; q < n; q++) d[q] = out[16 * r + q] - c[q] * gs[p0 + q];
            }
        }
    }
    return K2;
}

/* dcol[k][p] = sum_o G[o][p] * clamp(w[o][k] - col[k][p], -1, 1); gs: P
 * floats (sum_o G), pk: the packing scratch (16 O + O K + 32 floats) */
static void l1_bwd_col(int isa, const float *w, const float *G, int O, int K, const float *col, int P, float *dcol,
                       float *gs, float *pk)
{
    int k0 = 0;
    if (isa != ISA_PORTABLE) {
        for (int p = 0; p < P; p++) gs[p] = 0.0f;
        for (int o = 0; o < O; o++)
            for (int p = 0; p < P; p++) gs[p] += G[(size_t)o * P + p];
        k0 = isa == ISA_AVX512 ? clip_avx512(w, G, O, K, col, P, dcol, gs, pk) : clip_avx2(w, G, O, K, col, P, dcol, gs, pk);
    }
    for (; k0 < K; k0++) {
        float *d = dcol + (size_t)k0 * P;
        const float *c = col + (size_t)k0 * P;
        for (int p = 0; p < P; p++) d[p] = 0.0f;
        for (int o = 0; o < O; o++) {
            const float wv = w[(size_t)o * K + k0], *g = G + (size_t)o * P;
            for (int p = 0; p < P; p++) { /* two selects the compiler turns into max and min */
                float t = wv - c[p];
                t = t < -1.0f ? -1.0f : t;
                t = t > 1.0f ? 1.0f : t;
                d[p] += g[p] * t;
            }
        }
    }
}

typedef struct {
    nn_tensor *x, *w, *y;
    nn_adder_attr a;
    int OH, OW;
    float *scratch;  /* per worker: col (+ dcol) */
    size_t per;      /* floats of scratch per worker */
    float *dw_part;  /* [nth][numel(w) + O]: weight gradient and sum of G per output */
    float *gx;       /* input gradient, or NULL */
    int want_dw;
    /* forward without im2col (direct_min512), when the geometry allows it */
    nn_direct_plan *plan;
    float *wp, *sw;  /* weights packed for it, and their sums per output */
} adder_job;

static void adder_fwd_run(void *arg, int ith, int nth)
{
    adder_job *j = arg;
    const nn_tensor *x = j->x, *w = j->w;
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int O = w->shape[0], cg = w->shape[1], k = w->shape[2], G = j->a.groups, og = O / G;
    const int K = cg * k * k, P = j->OH * j->OW;
    float *col = j->scratch + (size_t)ith * j->per, *sx = col + (size_t)K * P, *pk = sx + P;
    const int isa = adder_isa();
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    if (j->plan) {
        for (size_t b = lo; b < hi; b++)
            direct_min512(j->plan, x->data + (size_t)b * C * H * W, j->wp, j->sw, j->y->data + (size_t)b * O * P, col);
        return;
    }
    for (size_t b = lo; b < hi; b++)
        for (int g = 0; g < G; g++) {
            nn_im2col_plane(x->data + ((size_t)b * C + (size_t)g * cg) * H * W, col, cg, H, W, k, j->a.stride,
                            j->a.pad, j->a.dilation, j->OH, j->OW);
            l1_fwd(isa, w->data + (size_t)g * og * K, og, K, col, P, j->y->data + ((size_t)b * O + (size_t)g * og) * P, sx,
                   pk);
        }
}

static void adder_bwd_run(void *arg, int ith, int nth)
{
    adder_job *j = arg;
    const nn_tensor *x = j->x, *w = j->w, *y = j->y;
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int O = w->shape[0], cg = w->shape[1], k = w->shape[2], G = j->a.groups, og = O / G;
    const int K = cg * k * k, P = j->OH * j->OW;
    float *col = j->scratch + (size_t)ith * j->per, *dcol = col + (size_t)K * P, *gs = dcol + (size_t)K * P,
          *pk = gs + P;
    const int isa = adder_isa();
    float *dw = j->want_dw ? j->dw_part + (size_t)ith * (w->numel + (size_t)O) : NULL, *gsum = dw ? dw + w->numel : NULL;
    if (dw) memset(dw, 0, (w->numel + (size_t)O) * sizeof(float));
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t b = lo; b < hi; b++)
        for (int g = 0; g < G; g++) {
            const size_t xo = ((size_t)b * C + (size_t)g * cg) * H * W;
            const float *gy = y->grad + ((size_t)b * O + (size_t)g * og) * P, *wg = w->data + (size_t)g * og * K;
            nn_im2col_plane(x->data + xo, col, cg, H, W, k, j->a.stride, j->a.pad, j->a.dilation, j->OH, j->OW);
            if (dw) { /* sum_p G (col - w) = G col^T - w sum_p G */
                nn_sgemm(0, 1, og, K, P, 1.0f, gy, P, col, P, 1.0f, dw + (size_t)g * og * K, K);
                for (int o = 0; o < og; o++) {
                    double s = 0;
                    for (int p = 0; p < P; p++) s += gy[(size_t)o * P + p];
                    gsum[g * og + o] += (float)s;
                }
            }
            if (j->gx) {
                l1_bwd_col(isa, wg, gy, og, K, col, P, dcol, gs, pk);
                nn_col2im_plane(dcol, j->gx + xo, cg, H, W, k, j->a.stride, j->a.pad, j->a.dilation, j->OH, j->OW);
            }
        }
}

typedef struct {
    adder_job j;
} adder_saved;

static void adder_backward(nn_ctx *c, nn_node *node)
{
    adder_saved *s = node->saved;
    adder_job *j = &s->j;
    nn_tensor *x = node->in[0], *w = node->in[1];
    const int nth = nn_threads(c), O = w->shape[0];
    const size_t K = w->numel / (size_t)O, P = (size_t)j->OH * j->OW;
    j->want_dw = w->requires_grad;
    j->gx = x->requires_grad ? nn_grad(c, x) : NULL; /* images never overlap: one buffer */
    const size_t og = (size_t)O / (size_t)j->a.groups;
    j->per = (2 * K + 1) * P + 16 * og + og * K + 32; /* col, dcol, l1_bwd_col's sum of G and packing */
    j->scratch = nn_arena_floats(&c->arena, (size_t)nth * j->per);
    if (j->want_dw) j->dw_part = nn_arena_floats(&c->arena, (size_t)nth * (w->numel + (size_t)O));
    nn_pool_run(c->pool, adder_bwd_run, j);
    if (!j->want_dw) return;
    float *sum = j->dw_part;
    const size_t stride = w->numel + (size_t)O;
    for (int t = 1; t < nth; t++)
        for (size_t i = 0; i < stride; i++) sum[i] += j->dw_part[(size_t)t * stride + i];
    for (int o = 0; o < O; o++) /* - w * sum_p G */
        for (size_t q = 0; q < K; q++) sum[(size_t)o * K + q] -= w->data[(size_t)o * K + q] * sum[w->numel + (size_t)o];
    float scale = 1.0f;
    if (j->a.alr_eta > 0.0f) {
        double n2 = 0;
        for (size_t i = 0; i < w->numel; i++) n2 += (double)sum[i] * sum[i];
        const double nrm = sqrt(n2) < 1e-12 ? 1e-12 : sqrt(n2);
        scale = (float)(j->a.alr_eta * sqrt((double)w->numel) / nrm);
    }
    float *gw = nn_grad(c, w);
    for (size_t i = 0; i < w->numel; i++) gw[i] += scale * sum[i];
}

nn_tensor *nn_adder_conv2d(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_adder_attr a)
{
    NN_ASSERT(x->ndim == 4 && w->ndim == 4 && w->shape[2] == w->shape[3] && a.groups >= 1);
    NN_ASSERT(x->shape[1] == w->shape[1] * a.groups && w->shape[0] % a.groups == 0);
    const int OH = nn_conv_out(x->shape[2], w->shape[2], a.stride, a.pad, a.dilation);
    const int OW = nn_conv_out(x->shape[3], w->shape[3], a.stride, a.pad, a.dilation);
    nn_tensor *y = nn_new4(c, x->shape[0], w->shape[0], OH, OW);
    const int nth = nn_threads(c);
    /* per worker: col, the column sums of l1_fwd and its packing scratch */
    const size_t K = w->numel / (size_t)w->shape[0], og = (size_t)w->shape[0] / (size_t)a.groups;
    adder_job j = {x, w, y, a, OH, OW, NULL, (K + 1) * (size_t)OH * OW + (16 + og) * K, NULL, NULL, 0, NULL, NULL, NULL};
    const int C = x->shape[1], H = x->shape[2], W = x->shape[3], O = w->shape[0], k = w->shape[2];
    if (adder_isa() == ISA_AVX512 && nn_conv_direct_fits(C, H, W, O, OH, OW, k, k, a.stride, a.pad, a.dilation, a.groups)) {
        j.plan = nn_arena_alloc(&c->arena, nn_conv_direct_plan_bytes(OH, OW, k, k));
        nn_conv_direct_plan(j.plan, C, H, W, O, OH, OW, k, k, a.pad, a.dilation);
        if (j.plan->isa != NN_DIRECT_AVX512) {
            j.plan = NULL; /* its AVX-512 layout only (DATAFREE_CONV_ISA, or outputs not a multiple of 8) */
        } else {
            j.wp = nn_arena_floats(&c->arena, w->numel);
            j.sw = nn_arena_floats(&c->arena, (size_t)O);
            nn_conv_direct_pack(j.plan, w->data, j.wp);
            for (int o = 0; o < O; o++) {
                float s = 0.0f;
                for (size_t q = 0; q < K; q++) s += w->data[(size_t)o * K + q];
                j.sw[o] = s;
            }
        }
    }
    if (j.plan) j.per = (size_t)OH * OW; /* direct_min512 needs only the column sums */
    j.scratch = nn_arena_floats(&c->arena, (size_t)nth * j.per);
    nn_pool_run(c->pool, adder_fwd_run, &j);
    nn_tensor *in[2] = {x, w};
    nn_node *node = nn_record(c, "adder_conv2d", adder_backward, y, 2, in);
    if (node) {
        adder_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
        s->j = j;
        node->saved = s;
    }
    return y;
}
