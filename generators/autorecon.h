/* AutoReCon's generator search space (thesis Figure 8.2, as read in
 * shared/reference/seed_zhu.md §1.2) and the generators built from it.
 *
 * GDFQ's stem and head around 3 blocks of 5 nodes (AdversarialNAS cells):
 *   stem   z [latent] * E[y] -> linear -> reshape [C, H0, W0] -> BN
 *   block  N1 =up=> N2, N1 =up=> N3;  N2, N3 -> N4;  N2, N3, N4 -> N5
 *          (N5 of block b is N1 of block b+1; a node is the sum of its edges)
 *   cross  B1-N4 -> B2-N4, B2-N4 -> B3-N4, B1-N4 -> B3-N4
 *   head   conv3x3 -> tanh -> BN(affine off)   (GDFQ's)
 * Edges and their candidates (Table 8.1):
 *   normal {conv1x1, conv3x3, conv5x5, dil3x3, dil5x5, identity, none}
 *          each conv is conv(k, dilation) -> BN(eps 0.8) -> LeakyReLU(0.2),
 *          GDFQ's conv block
 *   up     {nearest, bilinear}: x2 upsampling (then a 1x1 conv block where
 *          the channels change)
 *   cross  {nearest, bilinear, none}: upsampling to the target's size
 *          (then a 1x1 conv block where the channels change)
 * Channels: C = round(128 s) in blocks 1-2, C/2 in block 3 (GDFQ's 128, 128,
 * 64 at s = 1). Resolution: H0 = H/4 for outputs under 64 pixels, H/8 from
 * 64 up; only the last 2 (3) blocks double it. The input edges of a block
 * that does not upsample are normal edges, so every candidate differs.
 * 24 edges in all; node ids 0..12 (block b: N1..N5 = 4b..4b+4). */
#ifndef GEN_AUTORECON_H
#define GEN_AUTORECON_H

#include "nn/graph.h"
#include "search/derive.h"

#define GEN_AR_EDGES 24
#define GEN_AR_NODES 13

typedef struct gen_ar_space {
    int c, h, w, num_classes, latent;
    float scale;    /* base channels = round(128 * scale) */
    int up_blocks;  /* blocks that double the resolution (2 or 3) */
    int ne;
    srch_edge edges[GEN_AR_EDGES];
} gen_ar_space;

/* The space for an output of C x H x W; H and W multiples of 4 (of 8 from 64 up). */
int gen_ar_space_init(gen_ar_space *s, int c, int h, int w, int num_classes, int latent, float scale, nn_err *e);

/* The supernet: every edge a mix node over its candidates (alpha [1, K],
 * initialised 1e-3 * N(0, 1)); mix_node[i] is edge i's node index. */
nn_graph *gen_ar_supernet(const gen_ar_space *s, uint64_t seed, int *mix_node, nn_err *e);
/* The generator a genotype describes: every edge its chosen op (edges
 * absent from the genotype or "none" dropped), nodes no path to the output
 * uses pruned. The genotype must fit the space (errors name the edge). */
nn_graph *gen_ar_derived(const gen_ar_space *s, const srch_genotype *gt, uint64_t seed, nn_err *e);

/* MACs per image of every edge's candidates (alpha's layout: cost[o + j] for
 * edge i's op j), read off the supernet's nodes, and of what every
 * architecture computes (stem, head): the input of srch_cost_* (search/cost.h). */
void gen_ar_op_macs(const gen_ar_space *s, const nn_graph *supernet, double *cost, double *fixed);

/* The genotype as a Graphviz DOT picture (nodes, kept edges with their ops). */
int gen_ar_write_dot(const gen_ar_space *s, const srch_genotype *gt, const char *path, nn_err *e);

/* PyTorch's default init, as GDFQ's official code leaves it: conv and linear
 * U(+-1/sqrt(fan_in)) for weights and biases, label embedding N(0, 1). */
void gen_init_pytorch_default(nn_graph *g, uint64_t seed);

#endif
