/* NASB (seed 003 ch. 4, shared/reference/seed_zhu_core.md): a binary
 * ResNet-20 (Bi-Real backbone: a real-valued shortcut around every binary
 * conv) whose three groups each carry a NAS-convolutional cell.
 *
 * Cell of a group (its six binary convs): node 0 is the output of the
 * group's first (possibly downsampling) unit; node j = 1..5 is
 *     backbone unit j (node j-1)  +  sum over i < j of edge(i, j)(node i),
 * an edge choosing one of the 10 ops of Table 4.1 (zero as "none"); the
 * group's output is its last node. (ResNet-18's 5-node cell spans a group
 * of 4 convs; ResNet-20's groups have 6, and node 0 after the first unit
 * keeps every edge at one resolution and width: an adaptation, stated.)
 * Node ids for genotypes: cell c, node k -> c * NASB_NODES + k.
 *
 * nasb_build makes the supernet (genotype NULL: every edge a mix node over
 * the 10 candidates, alpha [1, 10] per edge) or a derived network (only the
 * genotype's (edge, op) pairs, summed into their nodes; nodes 1..5 of every
 * cell built genotype.branches times and summed; with genotype.bconv_relu
 * every binary conv, backbone's and ops', as Conv -> ReLU -> BN, the order
 * seed 003 trains NASB's networks in; the search's supernet has none, as
 * there). */
#ifndef SRCH_NASB_H
#define SRCH_NASB_H

#include "nn/graph.h"
#include "search/derive.h"

#define NASB_NODES 6
#define NASB_CELLS 3
#define NASB_NOPS 10
#define NASB_EDGES_PER_CELL (NASB_NODES * (NASB_NODES - 1) / 2)

/* Table 4.1 in candidate order; "zero" last (the mix node's trailing none). */
extern const char *const nasb_ops[NASB_NOPS];

/* The edges of every cell, in the supernet's mix-node order (for
 * srch_derive); returns their count. */
int nasb_edges(srch_edge *edges);

/* C x H x W input, classes outputs; wbin 1 (weight scale per layer) or 2. */
nn_graph *nasb_build(int C, int H, int W, int classes, int wbin, const srch_genotype *geno, nn_err *e);

/* Derivation (seed 003 §4.3): variant 1 NASB (one predecessor per node, one
 * op per edge, ops ranked by alpha, zero excluded); 2 V2 (the output node
 * keeps 4 ops); 3 V3 (variant 1's cells in two parallel binary branches, each
 * with its own weights, from the group's first unit and summed at the
 * group's end: genotype "branches": 2); 4 V4 (every node keeps 4 ops, identity excluded); 5 V5 (8 ops
 * for the output node, 6 for the others). A node's k ops are its k
 * strongest (edge, op) pairs by softmax weight. */
int nasb_derive(const float *alpha, int variant, srch_genotype *g, nn_err *e);

/* NASB's cost (Flops = real MACs + binary MACs / 64) of every (edge, op) of
 * the supernet, in alpha's layout: what the op adds to a derived network;
 * *fixed: what every derived network pays (the Bi-Real backbone, stem and
 * head, i.e. bireal_resnet20). For srch_fit_budget. */
int nasb_op_costs(const nn_graph *supernet, int wbin, double *cost, double *fixed, nn_err *e);

#endif
