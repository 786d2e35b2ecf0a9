/* Uniform k-bit fake quantization (quantize then dequantize, in float), the
 * building block of quantization-aware fine-tuning. Two forms:
 *   asymmetric (ZeroQ/GDFQ): s = (2^k-1)/max(hi-lo, 1e-8), z = rnd(s*lo) + 2^(k-1),
 *       q = clamp(rnd(s*x - z), -2^(k-1), 2^(k-1)-1),  x^ = (q + z)/s
 *   symmetric: s = (2^(k-1)-1)/max(max(|lo|,|hi|), 1e-8),
 *       q = clamp(rnd(s*x), -(2^(k-1)-1), 2^(k-1)-1),   x^ = q/s
 * rnd rounds half to even (as torch.round). Ranges are per tensor (nch = 1)
 * or per channel along dim 0 (output channels of a weight). Backward is the
 * straight-through estimator: identity, or identity inside [lo, hi] only
 * ("clipped"). */
#ifndef CMP_QUANT_H
#define CMP_QUANT_H

#include "nn/ops.h"

typedef struct cmp_qspec {
    int bits;       /* 2..8 (up to 16 accepted) */
    int symmetric;  /* 0: asymmetric (GDFQ), 1: symmetric */
    int clip_ste;   /* 0: plain STE (GDFQ), 1: zero gradient outside [lo, hi] */
} cmp_qspec;

/* lo/hi: nch values each. */
nn_tensor *cmp_fake_quant(nn_ctx *c, nn_tensor *x, cmp_qspec q, int nch, const float *lo, const float *hi);
/* Per-channel (dim 0) min and max of a weight tensor into lo/hi [nch]. */
void cmp_minmax(const nn_tensor *w, int nch, float *lo, float *hi);
/* One value through the quantizer (the reference the tests and exporters use). */
float cmp_quant_value(float x, cmp_qspec q, float lo, float hi);

/* Activation range observer: exponential moving average of batch min/max
 * with bias correction, frozen after `freeze_after` updates (GDFQ freezes
 * after its warm-up epochs). */
typedef struct cmp_range_ema {
    float lo, hi;
    float beta;       /* GDFQ: 0.9 */
    double lo_acc, hi_acc, beta_t;
    long updates, freeze_after; /* freeze_after < 0: never */
} cmp_range_ema;

void cmp_range_ema_init(cmp_range_ema *r, float beta, long freeze_after);
void cmp_range_ema_update(cmp_range_ema *r, const nn_tensor *x);

#endif
