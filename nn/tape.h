/* Reverse-mode autodiff on a tape. Each op computes its forward at once and,
 * when a gradient may flow, records a node with a backward function and what
 * it saved. nn_backward walks the tape in reverse. A sampled subnet is simply
 * a different tape on the next step. */
#ifndef NN_TAPE_H
#define NN_TAPE_H

#include "core.h"

typedef struct nn_ctx nn_ctx;
typedef struct nn_node nn_node;
typedef void (*nn_backward_fn)(nn_ctx *c, nn_node *n);

#define NN_MAX_INPUTS 12

struct nn_node {
    nn_backward_fn backward;
    const char *op;            /* for messages */
    const char *label;         /* the graph node that recorded it, if any (profiling) */
    nn_tensor *out;
    nn_tensor *in[NN_MAX_INPUTS];
    int nin;
    void *saved;               /* op-specific, in the arena */
};

/* One context per training loop: the step arena, the pool, the tape. */
struct nn_ctx {
    nn_arena arena;
    nn_pool *pool;
    int grad_enabled; /* record backward nodes at all */
    int training;     /* BN uses batch statistics, dropout active */
    nn_node *tape;
    int tape_len, tape_cap;
    struct nn_profile *prof; /* NULL unless profiling (nn_profile_enable) */
    const char *label;       /* current graph node, copied into recorded nodes */
    int prof_by_label;       /* profile per graph node instead of per op kind */
};

/* Opt-in time per op kind, forward and backward, summed over steps. */
#define NN_PROFILE_MAX 256
typedef struct nn_profile {
    const char *op[NN_PROFILE_MAX];
    double fwd[NN_PROFILE_MAX], bwd[NN_PROFILE_MAX];
    long calls[NN_PROFILE_MAX];
    int n;
} nn_profile;
void nn_profile_enable(nn_ctx *c);
void nn_profile_add(nn_ctx *c, const char *op, double fwd_s, double bwd_s);
/* Print the table (sorted by total time) to f. */
void nn_profile_print(const nn_ctx *c, void *file);

void nn_ctx_init(nn_ctx *c, int nthreads, size_t arena_bytes);
void nn_ctx_free(nn_ctx *c);
/* Forget this step's tape and activations (parameters live elsewhere). */
void nn_ctx_reset(nn_ctx *c);
int nn_threads(const nn_ctx *c);

/* Tensors in the step arena. */
nn_tensor *nn_new(nn_ctx *c, int ndim, const int *shape);
nn_tensor *nn_new4(nn_ctx *c, int n, int ch, int h, int w);
nn_tensor *nn_new2(nn_ctx *c, int n, int k);
nn_tensor *nn_zeros_like(nn_ctx *c, const nn_tensor *t);
/* A header over existing memory (no copy). */
nn_tensor *nn_view(nn_ctx *c, float *data, int ndim, const int *shape);

/* Record a backward node if any input needs a gradient; returns it or NULL. */
nn_node *nn_record(nn_ctx *c, const char *op, nn_backward_fn bw, nn_tensor *out, int nin, nn_tensor **in);
/* The gradient buffer of t, zero-filled on first use. */
float *nn_grad(nn_ctx *c, nn_tensor *t);
/* For backward kernels whose input gradient is elementwise in the output
 * gradient: if `in` has no gradient yet and matches `out` in size, hand it
 * out's gradient buffer (dead once this node's backward runs) and return 1:
 * the kernel then overwrites in place. Otherwise return 0 (accumulate). */
int nn_grad_steal(nn_tensor *in, nn_tensor *out);
/* Seed d(loss)/d(loss) = 1 (loss must be a scalar) and run the tape, then
 * clear it: each recorded op is backpropagated at most once. Tensors stay
 * valid until nn_ctx_reset. */
void nn_backward(nn_ctx *c, nn_tensor *loss);

#endif
