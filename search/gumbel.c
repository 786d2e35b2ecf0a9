#include "gumbel.h"

#include <math.h>

nn_tensor *srch_gumbel_softmax(nn_ctx *c, nn_tensor *alpha, srch_gumbel gs, nn_rng *rng)
{
    NN_ASSERT(alpha->ndim == 2 && gs.tau > 0.0f);
    const int R = alpha->shape[0], K = alpha->shape[1];
    nn_tensor *g = nn_new2(c, R, K); /* a constant: no gradient */
    for (int r = 0; r < R; r++)
        for (int k = 0; k < K; k++) {
            if (gs.per_batch && r > 0) {
                g->data[(size_t)r * K + k] = g->data[k];
                continue;
            }
            float u = nn_rng_uniform(rng);
            u = u < 1e-12f ? 1e-12f : u;
            g->data[(size_t)r * K + k] = -logf(-logf(u) + 1e-20f);
        }
    nn_tensor *p = gs.form == SRCH_GUMBEL_SEED ? nn_softmax(c, alpha) : nn_log_softmax(c, alpha);
    return nn_softmax(c, nn_scale(c, nn_add(c, p, g), 1.0f / gs.tau));
}

float srch_tau(srch_tau_kind k, float tau0, float tau1, float decay, int epoch, int epochs)
{
    switch (k) {
    case SRCH_TAU_EXP: return tau0 * powf(decay, (float)epoch);
    case SRCH_TAU_LINEAR: return epochs > 1 ? tau0 + (tau1 - tau0) * (float)epoch / (float)(epochs - 1) : tau0;
    default: return tau0;
    }
}
