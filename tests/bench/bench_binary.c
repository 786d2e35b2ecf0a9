/* Bit-packed binary conv inference vs our float32 conv (nn_conv2d) of the
 * same shape, in the same run: a 3x3 conv, 64 -> 64 channels, 32x32, batch
 * 64 (the NASB issue's shape), single thread by default. The binary time
 * includes everything an inference layer does: binarize and pack the float
 * input, the XNOR-popcount conv, and BN folded to a per-channel affine
 * (a * dot + b, float out, Bi-Real's real-valued path) or to a threshold
 * (the next layer's sign bits). AVX-512 VPOPCNTDQ path (where the CPU has
 * it) and the portable scalar-popcount path.
 * Usage: build/bench_binary [THREADS] [BATCH] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/bin_kernels.h"
#include "nn/evaluate.h"
#include "nn/ops.h"

enum { Cc = 64, O = 64, H = 32, W = 32, K = 3 };

static double bin_layer(const float *x, int N, const uint64_t *wp, const int32_t *corr, const float *a, const float *b,
                        int portable, int threshold, uint64_t *xp, int32_t *dot, float *y, uint64_t *bits)
{
    const double t0 = nn_now();
    for (int n = 0; n < N; n++) {
        df_bin_pack(x + (size_t)n * Cc * H * W, Cc, H, W, 1, xp);
        df_bin_conv(xp, Cc, H, W, 1, wp, corr, O, K, 1, 1, H, W, portable, dot);
        if (threshold) { /* sign(a dot + b) >= 0  <=>  dot >= -b / a (a > 0 here) */
            memset(bits, 0, sizeof(uint64_t) * H * W);
            for (int o = 0; o < O; o++) {
                const float tau = -b[o] / a[o];
                const int32_t *d = dot + (size_t)o * H * W;
                for (int p = 0; p < H * W; p++) bits[p] |= (uint64_t)((float)d[p] >= tau) << o;
            }
        } else {
            for (int o = 0; o < O; o++) {
                const int32_t *d = dot + (size_t)o * H * W;
                float *yo = y + ((size_t)n * O + o) * H * W;
                for (int p = 0; p < H * W; p++) yo[p] = a[o] * (float)d[p] + b[o];
            }
        }
    }
    return nn_now() - t0;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 1, N = argc > 2 ? atoi(argv[2]) : 64, reps = 5;
    nn_ctx c;
    nn_ctx_init(&c, threads, 512u << 20);
    c.grad_enabled = 0;
    nn_rng r;
    nn_rng_seed(&r, 1);
    nn_tensor *x = nn_new4(&c, N, Cc, H, W), *w = nn_new4(&c, O, Cc, K, K);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(&r);
    for (size_t i = 0; i < w->numel; i++) w->data[i] = nn_rng_normal(&r);
    uint64_t *wp = malloc(sizeof(uint64_t) * O * K * K), *xp = malloc(sizeof(uint64_t) * df_bin_plane(H, W, 1)),
             *bits = malloc(sizeof(uint64_t) * H * W);
    int32_t *corr = malloc(sizeof(int32_t) * O * K * K), *dot = malloc(sizeof(int32_t) * O * H * W);
    float *y = malloc(sizeof(float) * N * O * H * W), a[O], b[O];
    for (int o = 0; o < O; o++) a[o] = 0.01f + 0.001f * o, b[o] = 0.1f * (o % 5) - 0.2f;
    df_bin_pack_weights(w->data, O, Cc, K, wp, corr);
    /* the inputs outlive the context resets below */
    float *xs = malloc(sizeof(float) * x->numel), *ws = malloc(sizeof(float) * w->numel);
    memcpy(xs, x->data, x->numel * sizeof(float));
    memcpy(ws, w->data, w->numel * sizeof(float));
    double tf = 1e30, tv = 1e30, tp = 1e30, tvt = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        nn_ctx_reset(&c);
        nn_tensor *xx = nn_new4(&c, N, Cc, H, W), *ww = nn_new4(&c, O, Cc, K, K);
        memcpy(xx->data, xs, (size_t)N * Cc * H * W * sizeof(float));
        memcpy(ww->data, ws, (size_t)O * Cc * K * K * sizeof(float));
        double t0 = nn_now();
        nn_conv2d(&c, xx, ww, NULL, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1});
        const double t = nn_now() - t0;
        tf = t < tf ? t : tf;
        double u = bin_layer(xs, N, wp, corr, a, b, 0, 0, xp, dot, y, bits);
        tv = u < tv ? u : tv;
        u = bin_layer(xs, N, wp, corr, a, b, 0, 1, xp, dot, y, bits);
        tvt = u < tvt ? u : tvt;
        u = bin_layer(xs, N, wp, corr, a, b, 1, 0, xp, dot, y, bits);
        tp = u < tp ? u : tp;
    }
    const double bmacs = (double)N * O * H * W * Cc * K * K;
    printf("3x3 conv %d -> %d, %dx%d, batch %d; float conv %d thread(s), binary 1 thread; best of %d\n", Cc, O, H, W, N,
           nn_threads(&c), reps);
    printf("float32 conv (nn_conv2d):        %8.2f ms\n", 1e3 * tf);
    if (df_bin_have_vpopcnt()) {
        printf("binary, AVX-512 VPOPCNTDQ, BN affine out: %8.2f ms  %.2fx  (%.0f Gbit-MAC/s)\n", 1e3 * tv, tf / tv,
               bmacs / tv / 1e9);
        printf("binary, AVX-512 VPOPCNTDQ, BN threshold: %8.2f ms  %.2fx\n", 1e3 * tvt, tf / tvt);
    } else {
        printf("binary, AVX-512 VPOPCNTDQ: not on this CPU\n");
    }
    printf("binary, portable popcount, BN affine out: %8.2f ms  %.2fx  (%.0f Gbit-MAC/s)\n", 1e3 * tp, tf / tp,
           bmacs / tp / 1e9);
    printf("{\"float_ms\":%.3f,\"vpopcnt_ms\":%.3f,\"vpopcnt_threshold_ms\":%.3f,\"portable_ms\":%.3f,"
           "\"ratio_vpopcnt\":%.2f,\"ratio_portable\":%.2f}\n",
           1e3 * tf, df_bin_have_vpopcnt() ? 1e3 * tv : 0.0, df_bin_have_vpopcnt() ? 1e3 * tvt : 0.0, 1e3 * tp,
           df_bin_have_vpopcnt() ? tf / tv : 0.0, tf / tp);
    free(wp), free(xp), free(bits), free(corr), free(dot), free(y), free(xs), free(ws);
    return 0;
}
