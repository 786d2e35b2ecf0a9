/* Model zoo: builders that emit Graphs. Every model is also a model.json,
 * so a user can copy one and edit it. */
#ifndef NN_ZOO_H
#define NN_ZOO_H

#include "graph.h"

/* name: resnet20 | resnet32 | resnet56 | resnet18 | vgg_small | mobilenetv2 |
 * mobilenetv2_cifar | densenet_bc | addresnet20 | ds_addresnet20 |
 * add_mobilenetv2 | bireal_resnet20 | xnor_resnet20 | bireal_resnet18 |
 * xnor_resnet18.
 * Returns a finalized graph with parameters initialised from seed, or NULL
 * with e filled (unknown name, or input too small). */
nn_graph *nn_zoo_build(const char *name, int c, int h, int w, int num_classes, uint64_t seed, nn_err *e);
/* "resnet20, resnet32, ..." */
const char *nn_zoo_names(void);

#endif
