/* Quantization protocols: which layers get how many bits, and the graph
 * transform that applies one to a float model. Every choice the
 * literature disagrees on is a field here, and cmp_quant_to_json writes them
 * all into results files. Defaults are GDFQ's protocol: asymmetric, weights
 * per output channel, every conv/linear at the same bits (first and last
 * included), activations quantized after every ReLU/ReLU6 with an EMA range
 * (beta 0.9), the network input and the FC input not quantized, BN kept
 * (not folded). */
#ifndef CMP_QUANT_H
#define CMP_QUANT_H

#include <cjson/cJSON.h>

#include "nn/graph.h"

typedef struct cmp_quant_cfg {
    int wbits, abits;
    int first_bits, last_bits; /* weight bits of the first and last conv/linear (0: wbits) */
    int w_symmetric, a_symmetric;
    int per_channel;           /* weights per output channel */
    int quant_input;           /* fake-quantize the network input (abits) */
    int quant_fc_input;        /* fake-quantize the last linear's input (abits) */
    int bn_fold;               /* fold BN into the preceding conv before quantizing */
    float ema_beta;
    int freeze_after;          /* observer updates before ranges freeze (-1: never) */
    int pot;                   /* power-of-two steps, zero point 0, for weights (per_channel as set) and
                                  activations: seed 002's fixed point; adder layers need it for integers */
    int adder_weight_max;      /* adder weights from their max |w| (1) or the least-squared-error
                                  power-of-two range (0, the default: "adder_weight_range": "mse") */
} cmp_quant_cfg;

void cmp_quant_defaults(cmp_quant_cfg *q);
/* Object with optional keys wbits, abits, first_bits, last_bits,
 * w_symmetric, a_symmetric, per_channel, quant_input, quant_fc_input,
 * bn_fold, ema_beta, freeze_after, pot, adder_weight_range ("mse" | "max"). */
int cmp_quant_parse(const cJSON *o, const char *path, cmp_quant_cfg *q, nn_err *e);
cJSON *cmp_quant_to_json(const cmp_quant_cfg *q);
/* "w4a4" (or "w4a4_f8l8" when first/last differ) into buf. */
const char *cmp_quant_tag(const cmp_quant_cfg *q, char *buf, size_t n);

/* A new graph: fp with BN folded (if asked), weight bits on every conv and
 * linear, fake_quant nodes after every ReLU/ReLU6 (and on the input and the
 * FC input if asked), parameters copied. The fake_quant nodes start
 * uncalibrated (pass-through) until a forward with observe set. */
nn_graph *cmp_quantize_graph(const nn_graph *fp, const cmp_quant_cfg *q, nn_err *e);
/* Forget every activation range (for re-calibration). */
void cmp_reset_ranges(nn_graph *g);

#endif
