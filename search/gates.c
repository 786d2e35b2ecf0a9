#include "gates.h"

#include <math.h>

static void softmax(const float *a, int k, const int *only, int n, float *p)
{
    float m = -INFINITY, z = 0.0f;
    for (int i = 0; i < n; i++) m = a[only[i]] > m ? a[only[i]] : m;
    for (int i = 0; i < n; i++) z += p[i] = expf(a[only[i]] - m);
    for (int i = 0; i < n; i++) p[i] /= z;
    (void)k;
}

int srch_gate_sample(const float *alpha, int k, int npaths, nn_rng *r, int *paths)
{
    NN_ASSERT(k >= 1 && k <= 64 && (npaths == 1 || npaths == 2));
    if (npaths > k) npaths = k;
    int all[64];
    float p[64];
    for (int i = 0; i < k; i++) all[i] = i;
    softmax(alpha, k, all, k, p);
    for (int s = 0; s < npaths; s++) {
        float u = nn_rng_uniform(r), z = 0.0f;
        for (int i = 0; i < k; i++) z += (s == 1 && i == paths[0]) ? 0.0f : p[i];
        u *= z;
        int pick = -1;
        for (int i = 0; i < k; i++) {
            if (s == 1 && i == paths[0]) continue;
            pick = i;
            if (u < p[i]) break;
            u -= p[i];
        }
        paths[s] = pick;
    }
    return npaths;
}

void srch_gate_alpha_grad(const float *alpha, int k, const int *paths, int npaths, const float *dldg, float *dalpha)
{
    float p[2];
    softmax(alpha, k, paths, npaths, p);
    for (int i = 0; i < npaths; i++)
        for (int j = 0; j < npaths; j++) dalpha[paths[i]] += dldg[j] * p[j] * ((i == j ? 1.0f : 0.0f) - p[i]);
}
