/* From architecture parameters to a discrete architecture (a genotype).
 * A supernet is a DAG of nodes joined by edges; each edge holds candidate
 * ops and one alpha per op. Derivation rules:
 *   ARGMAX    every edge takes its argmax op; an edge whose argmax is "none"
 *             is dropped
 *   TOPK      every node keeps its k incoming edges with the strongest
 *             non-"none" op (DARTS); each takes its best non-"none" op
 *   ONE_PRED  TOPK with k = 1
 * and always: no node without an input (a node whose incoming edges were all
 * dropped keeps its strongest non-"none" edge). */
#ifndef SRCH_DERIVE_H
#define SRCH_DERIVE_H

#include <cjson/cJSON.h>

#include "nn/core.h"

#define SRCH_MAX_OPS 16
#define SRCH_MAX_EDGES 256

typedef struct srch_edge {
    int from, to;
    int nops;
    const char *ops[SRCH_MAX_OPS]; /* names; "none" means no connection */
} srch_edge;

typedef struct srch_choice {
    int from, to;
    char op[32];
} srch_choice;

typedef struct srch_genotype {
    int n;
    int branches; /* parallel copies of every cell, summed (NASB V3); 1 elsewhere */
    int bconv_relu; /* NASB: a ReLU between every binary conv and its BN (seed 003's Conv -> ReLU -> BN) */
    srch_choice e[SRCH_MAX_EDGES];
} srch_genotype;

#define SRCH_MAX_BRANCHES 4

typedef enum { SRCH_DERIVE_ARGMAX, SRCH_DERIVE_TOPK, SRCH_DERIVE_ONE_PRED } srch_rule;

/* alpha: the edges' parameters concatenated (edge i's nops values in order). */
int srch_derive(const srch_edge *edges, int ne, const float *alpha, srch_rule rule, int k, srch_genotype *g,
                nn_err *e);

/* {"format": "datafree.genotype", "edges": [{"from": 0, "to": 1, "op": "conv3x3"}, ...]},
 * "branches": B when B > 1 and "bconv_relu": true when set */
cJSON *srch_genotype_to_json(const srch_genotype *g);
int srch_genotype_from_json(const cJSON *j, const char *path, srch_genotype *g, nn_err *e);
int srch_genotype_save(const srch_genotype *g, const char *file, nn_err *e);
int srch_genotype_load(const char *file, srch_genotype *g, nn_err *e);

#endif
