/* CNN -> binary network (seed 003 ch. 4's binarizers on any Graph): chosen
 * convs and linears get binary weights s * sign(W) (s = mean |W| per layer
 * or per output channel, scaled-STE backward) and a sign activation in front
 * of them (ApproxSign or clipped-STE backward; one sign per tensor, shared by
 * the layers that read it; after a ReLU it reads the ReLU's input, since
 * sign(relu(x)) is +1 everywhere). Which layers stay full precision is the caller's
 * choice; the usual one keeps the first conv, the classifier and the
 * downsampling shortcuts. */
#ifndef CMP_BINARIZE_H
#define CMP_BINARIZE_H

#include "nn/graph.h"

typedef struct cmp_bin_opts {
    int keep_first;     /* the first conv stays real-valued */
    int keep_last;      /* the last conv/linear (the classifier) stays */
    int keep_downsample; /* 1x1 convs with stride > 1 (downsampling shortcuts) stay */
    int keep_1x1;       /* every 1x1 conv stays */
    int per_channel;    /* weight scale per output channel (else per layer) */
    int ste;            /* activations: clipped STE backward (else ApproxSign) */
} cmp_bin_opts;

/* The defaults above: keep first, last and downsampling; s per layer; ApproxSign. */
cmp_bin_opts cmp_bin_defaults(void);

/* A new graph with every parameter and BN statistic of cnn (binarized layers
 * start from their real weights, as binary training usually does); *nbin gets
 * the number of binarized layers. An error if none is left to binarize, or
 * for a quantized model. */
nn_graph *cmp_binarize(const nn_graph *cnn, const cmp_bin_opts *o, int *nbin, nn_err *e);

#endif
