/* Direct convolution for stride 1 with output width == input width (the
 * "same" convs of ResNets, and the transposed conv that computes their
 * input gradient). On the flattened plane, output pixel p reads input pixel
 * p + off(tap) for a constant offset, so a vector of x is one masked load
 * (lanes that fall into the padding or wrap to the next row are masked off;
 * masked lanes do not fault): no im2col, no packing of the input.
 * AVX2 + FMA: 4 output channels x 16 pixels in 8 ymm accumulators (with
 * inputs and masks, 13 of 16 registers); AVX-512: 8 output channels x 32
 * pixels in 16 of the 32 zmm registers, k-masks instead of lane-mask
 * vectors (when the channel count is a multiple of 8). Chosen at run time
 * (DATAFREE_CONV_ISA=avx2 asks for the lower set, DATAFREE_NO_DIRECT for
 * none); conv.c falls back to im2col + sgemm. */
#include <stdlib.h>
#include <string.h>

#include "conv_direct.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define VW 8 /* floats per vector (AVX2) */
#define PV 2 /* pixel vectors per block */
#define OB 4 /* output channels per block (AVX2) */
#define VW5 16 /* AVX-512: floats per vector, */
#define OB5 8  /* and output channels per block */

enum { DIRECT_NONE = NN_DIRECT_NONE, DIRECT_AVX2 = NN_DIRECT_AVX2, DIRECT_AVX512 = NN_DIRECT_AVX512 };

/* The CPU's features once; the environment each call (tests switch it). */
static int direct_isa(void)
{
#ifdef HAVE_X86
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? DIRECT_NONE
               : __builtin_cpu_supports("avx512f")                                ? DIRECT_AVX512
                                                                                  : DIRECT_AVX2;
    }
    if (getenv("DATAFREE_NO_DIRECT")) return DIRECT_NONE;
    const char *e = getenv("DATAFREE_CONV_ISA");
    const int want = e && !strcmp(e, "avx2") ? DIRECT_AVX2 : DIRECT_AVX512;
    return want < have ? want : have;
#else
    return DIRECT_NONE;
#endif
}

int nn_conv_direct_cpu(void) { return direct_isa() != DIRECT_NONE; }

const char *nn_conv_direct_isa_name(void)
{
    static const char *names[] = {"none", "avx2", "avx512"};
    return names[direct_isa()];
}

int nn_conv_direct_fits(int C, int H, int W, int OC, int OH, int OW, int KH, int KW, int stride, int pad, int dil,
                        int groups)
{
    (void)C;
    (void)H;
    (void)OH;
    return nn_conv_direct_cpu() && groups == 1 && stride == 1 && OW == W && OC % OB == 0 && KH * KW <= 64 &&
           2 * pad == dil * (KW - 1);
}

size_t nn_conv_direct_plan_bytes(int OH, int OW, int KH, int KW)
{
    const size_t P = (size_t)OH * OW, nb = (P + PV * VW - 1) / (PV * VW), nb5 = (P + PV * VW5 - 1) / (PV * VW5);
    const size_t m2 = nb * PV * (size_t)(KH * KW) * VW * sizeof(int32_t), m5 = nb5 * PV * (size_t)(KH * KW) * sizeof(uint16_t);
    return sizeof(nn_direct_plan) + (m2 > m5 ? m2 : m5) + 64; /* one of the two mask layouts, in one place */
}

void nn_conv_direct_plan(nn_direct_plan *pl, int C, int H, int W, int OC, int OH, int OW, int KH, int KW, int pad,
                         int dil)
{
    pl->C = C;
    pl->H = H;
    pl->W = W;
    pl->OC = OC;
    pl->OH = OH;
    pl->OW = OW;
    pl->KK = KH * KW;
    pl->isa = direct_isa();
    if (pl->isa == DIRECT_AVX512 && OC % OB5) pl->isa = DIRECT_AVX2;
    pl->ob = pl->isa == DIRECT_AVX512 ? OB5 : OB;
    const int P = OH * OW, vw = pl->isa == DIRECT_AVX512 ? VW5 : VW;
    pl->nblk = (P + PV * vw - 1) / (PV * vw);
    /* lane masks after the struct, 32-byte aligned: AVX2 [block][tap][PV][VW]
     * lanes of 0 / -1, AVX-512 [block][tap][PV] k-masks */
    uintptr_t m = ((uintptr_t)(pl + 1) + 31) & ~(uintptr_t)31;
    pl->mask = (int32_t *)m;
    pl->kmask = (uint16_t *)m;
    for (int kh = 0; kh < KH; kh++)
        for (int kw = 0; kw < KW; kw++) {
            const int k = kh * KW + kw, dh = kh * dil - pad, dw = kw * dil - pad;
            pl->off[k] = dh * W + dw;
            for (int b = 0; b < pl->nblk; b++)
                for (int v = 0; v < PV; v++) {
                    unsigned bits = 0;
                    for (int j = 0; j < vw; j++) {
                        int p = (b * PV + v) * vw + j, oh = p / OW, ow = p % OW, ih = oh + dh, iw = ow + dw;
                        int ok = p < P && ih >= 0 && ih < H && iw >= 0 && iw < W;
                        if (vw == VW) pl->mask[(((size_t)b * pl->KK + k) * PV + v) * VW + j] = ok ? -1 : 0;
                        bits |= (unsigned)ok << j;
                    }
                    if (vw == VW5) pl->kmask[((size_t)b * pl->KK + k) * PV + v] = (uint16_t)bits;
                }
        }
}

void nn_conv_direct_pack(const nn_direct_plan *pl, const float *w, float *wp)
{
    /* [OC][C][KK] -> [OC/ob][KK][C][ob]: the inner loop walks channels */
    const int C = pl->C, KK = pl->KK, ob = pl->ob;
    for (int o = 0; o < pl->OC; o++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < KK; k++)
                wp[(((size_t)(o / ob) * KK + k) * C + c) * ob + o % ob] = w[((size_t)o * C + c) * KK + k];
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static void direct_avx2(const nn_direct_plan *pl, const float *x,
                                                             const float *wp, const float *bias, float *y,
                                                             int accumulate)
{
    const int C = pl->C, KK = pl->KK, P = pl->OH * pl->OW, HW = pl->H * pl->W;
    for (int ob = 0; ob < pl->OC / OB; ob++) {
        const float *wb = wp + (size_t)ob * KK * C * OB;
        float *yb = y + (size_t)ob * OB * P;
        for (int b = 0; b < pl->nblk; b++) {
            const int p0 = b * PV * VW;
            __m256i st[PV];
            for (int v = 0; v < PV; v++) {
                int32_t lanes[VW];
                for (int j = 0; j < VW; j++) lanes[j] = p0 + v * VW + j < P ? -1 : 0;
                st[v] = _mm256_loadu_si256((const __m256i *)lanes);
            }
            __m256 acc[OB][PV];
            for (int o = 0; o < OB; o++)
                for (int v = 0; v < PV; v++)
                    acc[o][v] = accumulate ? _mm256_maskload_ps(yb + (size_t)o * P + p0 + v * VW, st[v])
                                           : _mm256_set1_ps(bias ? bias[ob * OB + o] : 0.0f);
            const int32_t *mb = pl->mask + (size_t)b * KK * PV * VW;
            for (int k = 0; k < KK; k++) {
                const __m256i m0 = _mm256_load_si256((const __m256i *)(mb + (k * PV + 0) * VW));
                const __m256i m1 = _mm256_load_si256((const __m256i *)(mb + (k * PV + 1) * VW));
                const float *xk = x + p0 + pl->off[k];
                const float *wk = wb + (size_t)k * C * OB;
                for (int c = 0; c < C; c++) {
                    const float *xc = xk + (size_t)c * HW;
                    const __m256 x0 = _mm256_maskload_ps(xc, m0);
                    const __m256 x1 = _mm256_maskload_ps(xc + VW, m1);
                    const float *wc = wk + c * OB;
                    for (int o = 0; o < OB; o++) {
                        const __m256 wv = _mm256_broadcast_ss(wc + o);
                        acc[o][0] = _mm256_fmadd_ps(wv, x0, acc[o][0]);
                        acc[o][1] = _mm256_fmadd_ps(wv, x1, acc[o][1]);
                    }
                }
            }
            for (int o = 0; o < OB; o++)
                for (int v = 0; v < PV; v++) _mm256_maskstore_ps(yb + (size_t)o * P + p0 + v * VW, st[v], acc[o][v]);
        }
    }
}

__attribute__((target("avx512f"))) static void direct_avx512(const nn_direct_plan *pl, const float *x,
                                                             const float *wp, const float *bias, float *y,
                                                             int accumulate)
{
    const int C = pl->C, KK = pl->KK, P = pl->OH * pl->OW, HW = pl->H * pl->W;
    for (int ob = 0; ob < pl->OC / OB5; ob++) {
        const float *wb = wp + (size_t)ob * KK * C * OB5;
        float *yb = y + (size_t)ob * OB5 * P;
        for (int b = 0; b < pl->nblk; b++) {
            const int p0 = b * PV * VW5;
            const uint32_t lanes = nn_block32_lanes(P, p0);
            const __mmask16 s0 = (__mmask16)lanes, s1 = (__mmask16)(lanes >> 16);
            __m512 acc[OB5][PV];
            for (int o = 0; o < OB5; o++) {
                const float *yo = yb + (size_t)o * P + p0;
                const __m512 b0 = _mm512_set1_ps(bias ? bias[ob * OB5 + o] : 0.0f);
                acc[o][0] = accumulate ? _mm512_maskz_loadu_ps(s0, yo) : b0;
                acc[o][1] = accumulate ? _mm512_maskz_loadu_ps(s1, yo + VW5) : b0;
            }
            const uint16_t *mb = pl->kmask + (size_t)b * KK * PV;
            for (int k = 0; k < KK; k++) {
                const __mmask16 m0 = mb[k * PV], m1 = mb[k * PV + 1];
                const float *xk = x + p0 + pl->off[k];
                const float *wk = wb + (size_t)k * C * OB5;
                for (int c = 0; c < C; c++) {
                    const float *xc = xk + (size_t)c * HW;
                    const __m512 x0 = _mm512_maskz_loadu_ps(m0, xc), x1 = _mm512_maskz_loadu_ps(m1, xc + VW5);
                    const float *wc = wk + c * OB5;
                    for (int o = 0; o < OB5; o++) {
                        const __m512 wv = _mm512_set1_ps(wc[o]);
                        acc[o][0] = _mm512_fmadd_ps(wv, x0, acc[o][0]);
                        acc[o][1] = _mm512_fmadd_ps(wv, x1, acc[o][1]);
                    }
                }
            }
            for (int o = 0; o < OB5; o++) {
                _mm512_mask_storeu_ps(yb + (size_t)o * P + p0, s0, acc[o][0]);
                if (s1) _mm512_mask_storeu_ps(yb + (size_t)o * P + p0 + VW5, s1, acc[o][1]);
            }
        }
    }
}
#endif

void nn_conv_direct(const nn_direct_plan *pl, const float *x, const float *wp, const float *bias, float *y,
                    int accumulate)
{
#ifdef HAVE_X86
    if (pl->isa == DIRECT_AVX512) direct_avx512(pl, x, wp, bias, y, accumulate);
    else direct_avx2(pl, x, wp, bias, y, accumulate);
#else
    (void)pl;
    (void)x;
    (void)wp;
    (void)bias;
    (void)y;
    (void)accumulate;
    nn_abort(__FILE__, __LINE__, "direct conv needs x86 AVX2");
#endif
}
