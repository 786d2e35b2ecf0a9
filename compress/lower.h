/* Integer lowering: a quantized Graph (cmp_quantize_graph's form, calibrated)
 * becomes an IntGraph, a straight-line program over int32 tensors whose
 * kernels are compress/int_kernels.h. The reference interpreter here
 * defines the integer semantics; every exporter reproduces it.
 *
 * How the float graph maps (everything exact except the one rounding of
 * each requantisation, done in int64 fixed point):
 *   - an activation code q with step d and zero point zp stands for (q - zp) d
 *     (fake_quant's grid: asymmetric codes 0..2^b-1, symmetric -qmax..qmax);
 *   - a quantized conv/linear weight is Wint * dw[channel] with Wint the
 *     integer the fake quantizer rounds to (int16), so conv gives an int32
 *     accumulator standing for acc * dw * d;
 *   - BN, bias, residual adds and the next fake_quant fold into one
 *     requantisation: sum of (int32 tensor * per-channel multiplier) plus a
 *     per-channel constant, shifted, clamped (ReLU is the clamp at the zero
 *     point). Multipliers keep 28 significant bits;
 *   - the network input is the uint8 pixel p: the float model's
 *     (p/255 - mean)/std = a p + b enters the first conv as a * conv(p) plus
 *     b * conv(1) (a constant tensor: the taps inside the image), so the
 *     border is exact too;
 *   - global average pooling is an int32 sum (its 1/HW goes into the next
 *     multiplier), max pooling works on codes;
 *   - logits are int32 in units of 2^-16;
 *   - an adder layer -sum |x - w| needs x and w on power-of-two grids
 *     (quant.pot; seed 002): with steps 2^ex and 2^ew and e = min, it is
 *     2^e * -sum |(q - zp) << (ex - e) - (w << (ew - e))| (the weights are
 *     stored shifted), an int32 term like a conv's; the BN after it folds
 *     into the next requantisation (not into the weights: |x - w| is not
 *     linear, the thesis's reason to keep BN in float; after the integer
 *     sum it is one per-channel multiplier like any other).
 * Refused, naming the node: float (unquantized) conv/linear weights, an
 * uncalibrated fake_quant, a conv whose input is not quantized, ops without
 * an integer form. */
#ifndef CMP_LOWER_H
#define CMP_LOWER_H

#include <stdint.h>

#include "int_kernels.h"
#include "nn/graph.h"

typedef enum { INT_INPUT, INT_CONST, INT_CONV, INT_SUM_HW, INT_LINEAR, INT_REQUANT, INT_MAXPOOL, INT_ADDER } int_op;

typedef struct int_node {
    int_op op;
    char name[NN_NAME_LEN + 16];
    int in;          /* input tensor (node index) */
    int c, h, w;     /* output shape (vectors: h = w = 1) */
    /* conv / adder / linear / sum_hw / maxpool */
    int k, stride, pad, dil, groups, zp;
    int xsh;         /* adder: the input's shift onto the common power-of-two grid */
    int16_t *wt;     /* conv, adder [O][df_conv_taps] in the kernels' tap order, linear [O][IN] */
    int8_t *wq;      /* conv: NULL, or wt as int8 [O][df_conv_qtaps] when the weights fit int8 and
                        the input codes fit 0..255 (the kernels' byte path) */
    /* requant */
    int nterms, term[DF_MAX_TERMS], sh;
    int64_t *m[DF_MAX_TERMS], *kc; /* per channel */
    int32_t lo, hi;
    /* const */
    int32_t *data;
} int_node;

typedef struct int_graph {
    char name[NN_NAME_LEN];
    int n, cap;
    int_node *nodes;
    int in_c, in_h, in_w, num_classes;
    int output;
    double logit_scale; /* one logit unit, as a float logit (2^-16) */
} int_graph;

int_graph *cmp_lower(const nn_graph *q, nn_err *e);
void cmp_int_free(int_graph *g);

/* Run one image (uint8 pixels, C x H x W) to num_classes int32 logits.
 * scratch: cmp_int_scratch_size(g) int32 values. */
size_t cmp_int_scratch_size(const int_graph *g);
size_t cmp_int_conv_scratch(const int_graph *g); /* the largest conv's im2col, in int32 */
void cmp_int_run(const int_graph *g, const uint8_t *pixels, int32_t *scratch, int32_t *logits);

/* Accuracy of the integer path on a dataset (threads over images); logits
 * of every image into all_logits (n x classes) when not NULL. */
struct nn_dataset;
double cmp_int_accuracy(const int_graph *g, const struct nn_dataset *d, int threads, int32_t *all_logits);

#endif
