/* Direct stride-1 "same"-width convolution kernel (see conv_direct.c). */
#ifndef NN_CONV_DIRECT_H
#define NN_CONV_DIRECT_H

#include <stdint.h>

#include "../core.h"

typedef struct nn_direct_plan {
    int C, H, W, OC, OH, OW, KK, nblk;
    int off[64];    /* flat input offset per tap (kernels up to 8x8) */
    int32_t *mask;  /* lane masks per (pixel block, tap), stored after the struct */
} nn_direct_plan;

/* Bytes to allocate for a plan (the struct plus its masks). */
size_t nn_conv_direct_plan_bytes(int OH, int OW, int KH, int KW);

int nn_conv_direct_cpu(void);
int nn_conv_direct_fits(int C, int H, int W, int OC, int OH, int OW, int KH, int KW, int stride, int pad, int dil,
                        int groups);
void nn_conv_direct_plan(nn_direct_plan *pl, int C, int H, int W, int OC, int OH, int OW, int KH, int KW, int pad,
                         int dil);
/* Weights [OC][C][KH*KW] into the kernel's layout [OC/4][KH*KW][C][4]. */
void nn_conv_direct_pack(const nn_direct_plan *pl, const float *w, float *wp);
/* One image: y[OC][OH*OW] = (accumulate ? y : bias) + conv(x[C][H*W]). */
void nn_conv_direct(const nn_direct_plan *pl, const float *x, const float *wp, const float *bias, float *y,
                    int accumulate);

#endif
