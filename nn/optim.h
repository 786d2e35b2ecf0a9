/* Optimisers over a graph's parameter blob (one flat loop each, llm.c
 * style) and learning-rate schedules. */
#ifndef NN_OPTIM_H
#define NN_OPTIM_H

#include "graph.h"

typedef enum { NN_SGD, NN_ADAM, NN_ADAMW } nn_optim_kind;

typedef struct nn_optim {
    nn_optim_kind kind;
    float momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
    int decay_all; /* 1: weight decay on every parameter (PyTorch's default); 0: conv/linear weights only */
    int group;     /* nn_param_group: which parameters a step updates (NN_GROUP_ALL by default) */
    float *m, *v;  /* state, same layout as the trainable blob */
    size_t n;
    long t;
} nn_optim;

void nn_optim_init(nn_optim *o, nn_optim_kind kind, const nn_graph *g);
void nn_optim_free(nn_optim *o);
void nn_optim_step(nn_optim *o, nn_graph *g, float lr);
/* Global L2 norm of all gradients; scales them down to max_norm if larger
 * (max_norm <= 0: only measure). */
float nn_grad_clip(nn_graph *g, float max_norm);
/* 0 if every gradient is finite; otherwise 1 and the first bad param's name. */
int nn_grad_nonfinite(const nn_graph *g, const char **param);

typedef enum { NN_SCHED_CONST, NN_SCHED_COSINE, NN_SCHED_MULTISTEP } nn_sched_kind;
typedef struct nn_sched {
    nn_sched_kind kind;
    float lr, min_lr, gamma, warmup_start;
    long warmup_steps, total_steps;
    long milestones[8]; /* steps */
    int nmilestones;
} nn_sched;

/* "constant" | "cosine" | "multistep" -> kind; -1 if unknown. */
int nn_sched_parse(const char *name, nn_sched_kind *out);

/* Learning rate for a 0-based step: linear warmup, then the schedule. */
float nn_sched_lr(const nn_sched *s, long step);

#endif
