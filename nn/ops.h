/* Differentiable ops. Each computes its forward now and records its backward
 * on the context's tape. Shapes are NCHW for images and [N, K] for vectors.
 * Shape errors here are programmer errors (graphs are shape-checked when
 * they are built), so they abort with a message. */
#ifndef NN_OPS_H
#define NN_OPS_H

#include "tape.h"

/* ---- convolution and dense ---- */
typedef struct nn_conv_attr {
    int stride, pad, dilation, groups;
    /* epilogue, applied per image while the output is in cache: */
    int relu;      /* ReLU on the output (only without a tape: it has no backward) */
    double *stats; /* if set: [2*OC] = per-channel mean and biased variance of the output */
} nn_conv_attr;

/* x [N,C,H,W], w [OC, C/groups, KH, KW], b [OC] or NULL */
nn_tensor *nn_conv2d(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_tensor *b, nn_conv_attr a);
int nn_conv_out(int in, int k, int stride, int pad, int dil);
/* AdderNet: y = -sum |x~ - w| over each window (padding costs -|w|), no bias;
 * backward: full-precision weight gradient scaled by ALR (alr_eta > 0:
 * eta sqrt(numel w) / ||dw||), HardTanh-clipped input gradient (nn/ops/adder.c). */
typedef struct nn_adder_attr {
    int stride, pad, dilation, groups;
    float alr_eta;
} nn_adder_attr;
nn_tensor *nn_adder_conv2d(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_adder_attr a);
/* The adder kernel set in use: "avx512", "avx2" or "portable" (the best the CPU
 * has; DATAFREE_ADDER_ISA=portable|avx2|avx512 asks for a lower one). */
const char *nn_adder_isa_name(void);
/* Binary networks (nn/ops/binary.c): weights s * sign(w) with s = mean |w|
 * per layer or per output channel, backward s * dy (scaled STE);
 * activations sign(x) (+1 at 0), backward ApproxSign (approx = 1) or the
 * clipped STE (approx = 0). */
nn_tensor *nn_binarize_weight(nn_ctx *c, nn_tensor *w, int per_channel);
/* sign(W) with the scales s (per output channel: O values, equal per layer)
 * into scale, and the identity backward: a conv of the signs scaled by s
 * afterwards has the same gradients as the conv of s * sign(W) (the scaled
 * STE above) and integer sums before the one multiplication by s, the
 * arithmetic of bit-packed inference. */
nn_tensor *nn_sign_weight(nn_ctx *c, nn_tensor *w, int per_channel, float *scale);
nn_tensor *nn_sign(nn_ctx *c, nn_tensor *x, int approx);
/* x [N, in] (or any shape flattened per sample), w [out, in], b [out] or NULL */
nn_tensor *nn_linear(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_tensor *b);
/* idx [N] into table [num, dim] -> [N, dim] */
nn_tensor *nn_embedding(nn_ctx *c, const int *idx, int n, nn_tensor *table);

/* ---- normalisation ---- */
typedef struct nn_bn_attr {
    float eps, momentum;
    int relu;            /* fuse a ReLU on the output */
    const double *stats; /* training: x's per-channel mean and biased variance, if already known */
    /* eval without a tape: y = BN(x) + residual (x's shape), then the ReLU:
     * the numbers of a BN then an add, in one pass */
    const nn_tensor *residual;
} nn_bn_attr;
/* gamma/beta may be NULL (affine off). In training mode uses batch stats and
 * updates running_mean/var (unbiased var, as PyTorch); in eval uses them. */
nn_tensor *nn_batchnorm(nn_ctx *c, nn_tensor *x, nn_tensor *gamma, nn_tensor *beta, float *running_mean,
                        float *running_var, nn_bn_attr a);
/* Per-class affine: y[n,c] = x[n,c] * gamma[label[n], c] + beta[label[n], c]
 * (categorical conditional BN = nn_batchnorm without affine, then this). */
nn_tensor *nn_class_affine(nn_ctx *c, nn_tensor *x, const int *labels, nn_tensor *gamma, nn_tensor *beta);
/* Per-channel mean and biased variance of x [N,C,H,W] over N,H,W, both
 * differentiable: out [2, C] (row 0 mean, row 1 var). Used by BN hooks. */
nn_tensor *nn_channel_moments(nn_ctx *c, nn_tensor *x);

/* ---- activations ---- */
nn_tensor *nn_relu(nn_ctx *c, nn_tensor *x);
nn_tensor *nn_relu6(nn_ctx *c, nn_tensor *x);
nn_tensor *nn_leaky_relu(nn_ctx *c, nn_tensor *x, float slope);
nn_tensor *nn_tanh(nn_ctx *c, nn_tensor *x);
nn_tensor *nn_sigmoid(nn_ctx *c, nn_tensor *x);
nn_tensor *nn_hardtanh(nn_ctx *c, nn_tensor *x, float lo, float hi);
/* clamp(alpha*x + beta, 0, 1) (ONNX HardSigmoid; PyTorch's is alpha 1/6, beta 1/2) */
nn_tensor *nn_hardsigmoid(nn_ctx *c, nn_tensor *x, float alpha, float beta);
nn_tensor *nn_hardswish(nn_ctx *c, nn_tensor *x); /* x * relu6(x + 3) / 6 */

/* ---- pooling and resampling ---- */
typedef struct nn_pool_attr {
    int kernel, stride, pad;
    int count_include_pad; /* avg pool only; PyTorch's default is 1 */
} nn_pool_attr;
nn_tensor *nn_maxpool2d(nn_ctx *c, nn_tensor *x, nn_pool_attr a);
nn_tensor *nn_avgpool2d(nn_ctx *c, nn_tensor *x, nn_pool_attr a);
nn_tensor *nn_global_avgpool(nn_ctx *c, nn_tensor *x); /* -> [N, C] */
nn_tensor *nn_upsample_nearest(nn_ctx *c, nn_tensor *x, int scale);
/* align_corners = False, as PyTorch's default */
nn_tensor *nn_upsample_bilinear(nn_ctx *c, nn_tensor *x, int scale);

/* ---- structure and arithmetic ---- */
nn_tensor *nn_add(nn_ctx *c, nn_tensor *a, nn_tensor *b);
nn_tensor *nn_add_relu(nn_ctx *c, nn_tensor *a, nn_tensor *b); /* relu(a + b), fused */
nn_tensor *nn_mul(nn_ctx *c, nn_tensor *a, nn_tensor *b);
nn_tensor *nn_scale(nn_ctx *c, nn_tensor *x, float s);
nn_tensor *nn_sum(nn_ctx *c, nn_tensor *x);   /* -> [1] */
nn_tensor *nn_concat(nn_ctx *c, nn_tensor **xs, int n); /* along dim 1 */
nn_tensor *nn_reshape(nn_ctx *c, nn_tensor *x, int ndim, const int *shape);
nn_tensor *nn_flatten(nn_ctx *c, nn_tensor *x); /* -> [N, rest] */
/* A mixed edge's output: y[n] = sum_j w[n, j] * xs[j][n] with w [N, k]
 * (weights per example) or [1, k] (per batch); k < NN_MAX_INPUTS. A NULL
 * xs[j] is a zero candidate (not computed: "none", or a path not sampled). */
nn_tensor *nn_mix(nn_ctx *c, nn_tensor **xs, int k, nn_tensor *w);
/* [1, K] -> [n, K], every row a copy (gradients summed back): per-example
 * architecture weights from one alpha row. */
nn_tensor *nn_repeat_rows(nn_ctx *c, nn_tensor *x, int n);
/* y = x * scale[c] + shift[c] along dim 1 (constants folded from imported
 * models: normalisation inside the network, Mul/Sub/Div by constants) */
nn_tensor *nn_channel_affine(nn_ctx *c, nn_tensor *x, nn_tensor *scale, nn_tensor *shift);

/* ---- softmax and losses (rows of [N, K]) ---- */
nn_tensor *nn_softmax(nn_ctx *c, nn_tensor *x);
nn_tensor *nn_log_softmax(nn_ctx *c, nn_tensor *x);
/* mean over rows; smoothing spreads eps over all K classes, as PyTorch */
nn_tensor *nn_cross_entropy(nn_ctx *c, nn_tensor *logits, const int *labels, float smoothing);
/* KL(softmax(t/T) || softmax(s/T)), summed over classes, mean over rows
 * (PyTorch's kl_div(..., reduction='batchmean')). The T^2 factor is the
 * caller's. Gradients flow to both inputs when they need them. */
nn_tensor *nn_kl_div(nn_ctx *c, nn_tensor *student, nn_tensor *teacher, float T);
nn_tensor *nn_mse(nn_ctx *c, nn_tensor *a, nn_tensor *b); /* mean */
nn_tensor *nn_l1(nn_ctx *c, nn_tensor *a, nn_tensor *b);  /* mean */

/* ---- uniform k-bit fake quantization (quantize, then dequantize in float) ----
 *   asymmetric (ZeroQ/GDFQ): s = (2^k-1)/max(hi-lo, 1e-8), z = rnd(s*lo) + 2^(k-1),
 *       q = clamp(rnd(s*x - z), -2^(k-1), 2^(k-1)-1),  x^ = (q + z)/s
 *   symmetric: s = (2^(k-1)-1)/max(max(|lo|,|hi|), 1e-8),
 *       q = clamp(rnd(s*x), -(2^(k-1)-1), 2^(k-1)-1),   x^ = q/s
 * rnd rounds half to even (as torch.round). Ranges are per tensor (nch = 1)
 * or per channel along dim 0 (output channels of a weight). Backward is the
 * straight-through estimator: identity, or identity inside [lo, hi] only
 * ("clipped"). */
typedef struct nn_qspec {
    int bits;      /* 2..16 */
    int symmetric; /* 0: asymmetric (GDFQ), 1: symmetric */
    int clip_ste;  /* 0: plain STE (GDFQ), 1: zero gradient outside [lo, hi] */
    int pot;       /* power-of-two step, zero point 0 (seed 002's fixed point; overrides symmetric):
                      codes 0..2^bits-1 when lo >= 0, else -2^(bits-1)..2^(bits-1)-1 */
    int mse;       /* weights on a power-of-two grid: the step of least squared error among the
                      covering one and 6 finer ones (outliers clipped), not the covering one */
} nn_qspec;
/* The power-of-two grid of [lo, hi]: the smallest step 2^e whose code range
 * covers the larger magnitude; codes in [*qlo, *qhi]. */
float nn_quant_pot_step(int bits, float lo, float hi, int *qlo, int *qhi);
/* lo/hi: nch values each. */
nn_tensor *nn_fake_quant(nn_ctx *c, nn_tensor *x, nn_qspec q, int nch, const float *lo, const float *hi);
/* Per-channel (dim 0) min and max of a tensor into lo/hi [nch]. */
void nn_minmax(const nn_tensor *w, int nch, float *lo, float *hi);
/* One value through the quantizer (the reference the tests and exporters use). */
float nn_quant_value(float x, nn_qspec q, float lo, float hi);
/* The integers behind a fake-quantized weight (the same float arithmetic as
 * nn_quant_value, ranges per output channel or per tensor): code v per
 * element, zero point zw and step per output channel, so that the value is
 * (v + zw) * step (symmetric: zw = 0). v fits the bits, v + zw fits int16. */
void nn_quant_weight_codes(const nn_tensor *w, nn_qspec q, int per_channel, int16_t *v, int *zw, double *step);
/* The range [lo, hi] per channel (nch: 1 or w's output channels) that a
 * weight is fake-quantized from: its min and max, or with q.pot && q.mse the
 * range whose power-of-two step gives the least squared error. */
void nn_quant_weight_range(const nn_tensor *w, nn_qspec q, int nch, float *lo, float *hi);
/* Activation range observer, state in obs[3] = {updates, lo_acc, hi_acc}:
 * an exponential moving average (beta) of batch min/max, bias-corrected as
 * Adam's moments, written to range[2] = {lo, hi}; no update once `updates`
 * reaches freeze_after (< 0: never frozen). */
void nn_range_observe(const nn_tensor *x, float beta, long freeze_after, float *obs, float *range);

/* Run fn over [0, n) split across the pool (helper for elementwise kernels). */
typedef void (*nn_range_fn)(void *arg, size_t lo, size_t hi);
void nn_parallel_range(nn_ctx *c, size_t n, nn_range_fn fn, void *arg);

#endif
