#ifndef NN_EVALUATE_H
#define NN_EVALUATE_H

#include "data.h"
#include "graph.h"

typedef struct nn_eval_result {
    double accuracy, loss;
    int n;
    double seconds;
} nn_eval_result;

/* Accuracy and mean cross-entropy of g (eval mode, no tape) on d. Input
 * preprocessing comes from the graph. Uses c's arena (reset per batch). */
int nn_evaluate(nn_graph *g, nn_ctx *c, const nn_dataset *d, int batch, nn_eval_result *r, nn_err *e);
/* Dataset and graph must agree on input shape and classes. */
int nn_check_data_fits(const nn_graph *g, const nn_dataset *d, nn_err *e);
double nn_now(void); /* monotonic seconds */
/* The CPU in words for benchmark output ("AuthenticAMD family 0x19 model
 * 0x11: AMD EPYC"; "unknown CPU" off x86): ratios against a peer differ
 * by microarchitecture, so every timing says which one gave it. Printable
 * ASCII without quotes or backslashes, so JSON can hold it unescaped. */
void nn_cpu_desc(char *buf, size_t n);

#endif
