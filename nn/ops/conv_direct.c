/* Direct convolution for stride 1 with output width == input width (the
 * "same" convs of ResNets, and the transposed conv that computes their
 * input gradient). On the flattened plane, output pixel p reads input pixel
 * p + off(tap) for a constant offset, so an 8-pixel vector of x is one
 * masked load (lanes that fall into the padding or wrap to the next row are
 * masked off; masked lanes do not fault). 4 output channels x 16 pixels
 * accumulate in 8 ymm registers (with inputs and masks, 13 of 16): no im2col, no packing of the input.
 * AVX2 + FMA, chosen at run time; conv.c falls back to im2col + sgemm. */
#include <stdlib.h>
#include <string.h>

#include "conv_direct.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define VW 8 /* floats per vector */
#define PV 2 /* pixel vectors per block */
#define OB 4 /* output channels per block */

int nn_conv_direct_cpu(void)
{
#ifdef HAVE_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !getenv("DATAFREE_NO_DIRECT");
    }
    return cached;
#else
    return 0;
#endif
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
    size_t nvb = ((size_t)(OH * OW + VW - 1) / VW + PV - 1) / PV;
    return sizeof(nn_direct_plan) + nvb * PV * (size_t)(KH * KW) * VW * sizeof(int32_t) + 64;
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
    const int P = OH * OW, nv = (P + VW - 1) / VW;
    pl->nblk = (nv + PV - 1) / PV;
    /* lane masks after the struct, 32-byte aligned: [block][tap][PV][VW] */
    uintptr_t m = ((uintptr_t)(pl + 1) + 31) & ~(uintptr_t)31;
    pl->mask = (int32_t *)m;
    for (int kh = 0; kh < KH; kh++)
        for (int kw = 0; kw < KW; kw++) {
            const int k = kh * KW + kw, dh = kh * dil - pad, dw = kw * dil - pad;
            pl->off[k] = dh * W + dw;
            for (int b = 0; b < pl->nblk; b++)
                for (int v = 0; v < PV; v++)
                    for (int j = 0; j < VW; j++) {
                        int p = (b * PV + v) * VW + j, oh = p / OW, ow = p % OW, ih = oh + dh, iw = ow + dw;
                        int ok = p < P && ih >= 0 && ih < H && iw >= 0 && iw < W;
                        pl->mask[(((size_t)b * pl->KK + k) * PV + v) * VW + j] = ok ? -1 : 0;
                    }
        }
}

void nn_conv_direct_pack(const nn_direct_plan *pl, const float *w, float *wp)
{
    /* [OC][C][KK] -> [OC/4][KK][C][4]: the inner loop walks channels */
    const int C = pl->C, KK = pl->KK;
    for (int o = 0; o < pl->OC; o++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < KK; k++)
                wp[(((size_t)(o / OB) * KK + k) * C + c) * OB + o % OB] = w[((size_t)o * C + c) * KK + k];
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
#endif

void nn_conv_direct(const nn_direct_plan *pl, const float *x, const float *wp, const float *bias, float *y,
                    int accumulate)
{
#ifdef HAVE_X86
    direct_avx2(pl, x, wp, bias, y, accumulate);
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
