/* im2col / col2im of nn/ops/conv.c for other window ops (adder layers):
 * x [C, H, W] <-> col [C*K*K, OH*OW], padded taps 0; col2im accumulates. */
#ifndef NN_OPS_IM2COL_H
#define NN_OPS_IM2COL_H

void nn_im2col_plane(const float *x, float *col, int C, int H, int W, int K, int stride, int pad, int dil, int OH,
                     int OW);
void nn_col2im_plane(const float *col, float *dx, int C, int H, int W, int K, int stride, int pad, int dil, int OH,
                     int OW);

#endif
