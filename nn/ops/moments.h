/* Per-channel batch moments, computed one way wherever a BN's statistics
 * come from: the conv epilogue that hands them to the BN after it, and the
 * BN computing its own. So a fused conv -> BN and the unfused pair give the
 * same mean and variance to the bit, and a ReLU right after cannot flip on
 * a rounding difference between the two (it did: a pre-ReLU value of
 * -1.6e-6 changed sign and moved a ResNet-20 gradient by 9 %).
 * Per image plane: mean and centred sum of squares in float; planes merged
 * (Chan et al.) in double, images grouped as nn_split(N, t, T) gives them to
 * T workers, group totals merged in worker order. */
#ifndef NN_OPS_MOMENTS_H
#define NN_OPS_MOMENTS_H

#include <stddef.h>

#include "../core.h"

/* Merge a group of n values with mean mb and centred sum of squares m2b
 * into the accumulator (na, ma, m2a). */
static inline void nn_moments_merge(double *na, double *ma, double *m2a, double n, double mb, double m2b)
{
    double nt = *na + n, d = mb - *ma;
    if (nt <= 0.0) return;
    *ma += d * n / nt;
    *m2a += m2b + d * d * *na * n / nt;
    *na = nt;
}

/* One plane of P values: its mean and centred sum of squares. */
static inline void nn_plane_moments(const float *y, size_t P, float *mb, float *m2)
{
    float s1 = 0.0f, s2 = 0.0f;
    for (size_t i = 0; i < P; i++) s1 += y[i];
    const float m = s1 / (float)P;
    for (size_t i = 0; i < P; i++) s2 += (y[i] - m) * (y[i] - m);
    *mb = m, *m2 = s2;
}

/* Mean and biased variance of channel ch of x [N, C, P], merged as above
 * for T workers. */
static inline void nn_channel_moments_T(const float *x, int N, int C, size_t P, size_t ch, int T, double *mean,
                                        double *var)
{
    double n = 0.0, m = 0.0, m2 = 0.0;
    for (int t = 0; t < T; t++) {
        size_t lo, hi;
        nn_split((size_t)N, t, T, &lo, &hi);
        double gn = 0.0, gm = 0.0, gm2 = 0.0;
        for (size_t i = lo; i < hi; i++) {
            float mb, pm2;
            nn_plane_moments(x + (i * (size_t)C + ch) * P, P, &mb, &pm2);
            nn_moments_merge(&gn, &gm, &gm2, (double)P, mb, pm2);
        }
        nn_moments_merge(&n, &m, &m2, gn, gm, gm2);
    }
    *mean = m;
    *var = n > 0.0 ? m2 / n : 0.0;
}

#endif
