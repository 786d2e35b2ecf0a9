/* Linear (fully connected) and embedding lookup. */
#include <string.h>

#include "../blas.h"
#include "../ops.h"

static void linear_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *x = node->in[0], *w = node->in[1], *b = node->nin > 2 ? node->in[2] : NULL, *y = node->out;
    const int N = y->shape[0], O = y->shape[1], Fin = w->shape[1];
    if (x->requires_grad) /* dx[N, Fin] += dy[N, O] * W[O, Fin] */
        nn_sgemm(0, 0, N, Fin, O, 1.0f, y->grad, O, w->data, Fin, 1.0f, nn_grad(c, x), Fin);
    if (w->requires_grad) /* dW[O, Fin] += dy^T[O, N] * x[N, Fin] */
        nn_sgemm(1, 0, O, Fin, N, 1.0f, y->grad, O, x->data, Fin, 1.0f, nn_grad(c, w), Fin);
    if (b && b->requires_grad) {
        float *gb = nn_grad(c, b);
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) gb[o] += y->grad[(size_t)n * O + o];
    }
}

nn_tensor *nn_linear(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_tensor *b)
{
    const int N = x->shape[0], O = w->shape[0], Fin = w->shape[1];
    if ((size_t)N * Fin != x->numel) {
        char s[64];
        nn_abort(__FILE__, __LINE__, "linear: input %s does not have %d features per sample",
                 nn_shape_str(x, s, sizeof s), Fin);
    }
    nn_tensor *y = nn_new2(c, N, O);
    for (int n = 0; n < N; n++)
        if (b)
            memcpy(y->data + (size_t)n * O, b->data, (size_t)O * sizeof(float));
    nn_sgemm(0, 1, N, O, Fin, 1.0f, x->data, Fin, w->data, Fin, b ? 1.0f : 0.0f, y->data, O);
    nn_tensor *in[3] = {x, w, b};
    nn_record(c, "linear", linear_backward, y, b ? 3 : 2, in);
    return y;
}

static void embedding_backward(nn_ctx *c, nn_node *node)
{
    nn_tensor *t = node->in[0], *y = node->out;
    const int *idx = node->saved;
    const int N = y->shape[0], D = y->shape[1];
    float *g = nn_grad(c, t);
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) g[(size_t)idx[n] * D + d] += y->grad[(size_t)n * D + d];
}

nn_tensor *nn_embedding(nn_ctx *c, const int *idx, int n, nn_tensor *table)
{
    const int D = table->shape[1];
    nn_tensor *y = nn_new2(c, n, D);
    int *saved = nn_arena_alloc(&c->arena, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= table->shape[0])
            nn_abort(__FILE__, __LINE__, "embedding: index %d outside [0, %d)", idx[i], table->shape[0]);
        saved[i] = idx[i];
        memcpy(y->data + (size_t)i * D, table->data + (size_t)idx[i] * D, (size_t)D * sizeof(float));
    }
    nn_tensor *in[1] = {table};
    nn_node *node = nn_record(c, "embedding", embedding_backward, y, 1, in);
    if (node) node->saved = saved;
    return y;
}
