/* Direct stride-1 "same"-width convolution kernel (see conv_direct.c). */
#ifndef NN_CONV_DIRECT_H
#define NN_CONV_DIRECT_H

#include <stdint.h>

#include "../core.h"

enum { NN_DIRECT_NONE, NN_DIRECT_AVX2, NN_DIRECT_AVX512 }; /* nn_direct_plan.isa */

typedef struct nn_direct_plan {
    int C, H, W, OC, OH, OW, KK, nblk;
    int isa, ob;     /* kernel set (fixed when planned) and output channels per block */
    int off[64];     /* flat input offset per tap (kernels up to 8x8) */
    int32_t *mask;   /* AVX2 lane masks per (pixel block, tap), stored after the struct */
    uint16_t *kmask; /* or AVX-512 k-masks, in the same place */
} nn_direct_plan;

/* The pixels that exist in a 32-pixel block starting at p0 of P (p0 < P):
 * bit j for pixel p0 + j; the low 16 bits are the first zmm's k-mask, the
 * high 16 the second's (every AVX-512 kernel's tail, here and in adder.c). */
static inline uint32_t nn_block32_lanes(int P, int p0)
{
    return P - p0 >= 32 ? 0xffffffffu : (1u << (P - p0)) - 1u;
}

/* Bytes to allocate for a plan (the struct plus its masks). */
size_t nn_conv_direct_plan_bytes(int OH, int OW, int KH, int KW);

int nn_conv_direct_cpu(void);
/* The kernel set a plan made now would use: "avx512", "avx2" or "none". */
const char *nn_conv_direct_isa_name(void);
int nn_conv_direct_fits(int C, int H, int W, int OC, int OH, int OW, int KH, int KW, int stride, int pad, int dil,
                        int groups);
void nn_conv_direct_plan(nn_direct_plan *pl, int C, int H, int W, int OC, int OH, int OW, int KH, int KW, int pad,
                         int dil);
/* Weights [OC][C][KH*KW] into the kernel's layout [OC/ob][KH*KW][C][ob]. */
void nn_conv_direct_pack(const nn_direct_plan *pl, const float *w, float *wp);
/* One image: y[OC][OH*OW] = (accumulate ? y : bias) + conv(x[C][H*W]). */
void nn_conv_direct(const nn_direct_plan *pl, const float *x, const float *wp, const float *bias, float *y,
                    int accumulate);

#endif
