#include "kd.h"

nn_tensor *cmp_kd_loss(nn_ctx *c, nn_tensor *student, nn_tensor *teacher, const int *labels, cmp_kd k)
{
    nn_tensor *ce = nn_cross_entropy(c, student, labels, 0.0f);
    if (k.alpha == 0.0f) return ce;
    const float T = k.temperature, K = (float)student->shape[1];
    nn_tensor *kl = nn_kl_div(c, student, teacher, T);
    return nn_add(c, ce, nn_scale(c, kl, k.alpha * T * T / (k.batchmean ? 1.0f : K)));
}
