/* The reconstruction loss of GDFQ/AutoReCon (thesis Eq. 8.1 with GDFQ's
 * weight): images x go through the frozen teacher (eval mode) with the BNS
 * hook on every BN;
 *     L_G = CE(teacher(x), y) + beta * L_BNS
 * Gradients flow to x only (freeze the teacher with nn_graph_set_trainable). */
#ifndef GEN_RECON_H
#define GEN_RECON_H

#include "nn/graph.h"

typedef struct gen_recon_out {
    nn_tensor *loss, *logits; /* logits: the teacher's, [N, K] */
    float ce, bns;
} gen_recon_out;

/* labels NULL: no CE term (ZeroQ's distilled data). */
void gen_recon_loss(nn_ctx *c, nn_graph *teacher, nn_tensor *x, const int *labels, float beta, gen_recon_out *o);

/* Write images ([N, C, H, W] in the teacher's normalised space) as a PNG
 * grid of `cols` columns, undoing mean/std and clamping to [0, 1]. */
int gen_write_png_grid(const char *path, const float *images, int n, int c, int h, int w, int cols,
                       const float *mean, const float *std, nn_err *e);

#endif
