/* Adder layer vs our float conv of the same shape, in the same run: forward
 * and training step (forward + backward), on ResNet-20's three stage shapes
 * at batch 64, and against a naive loop of the defining formula (the
 * speed-up the kernels buy). Usage: build/bench_adder [THREADS] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/evaluate.h"
#include "nn/ops.h"
#include "nn/ops/conv_direct.h"

static double time_op(nn_ctx *c, nn_tensor *x, nn_tensor *w, int adder, int train, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        nn_ctx_reset(c);
        c->grad_enabled = train;
        const double t0 = nn_now();
        nn_tensor *y = adder ? nn_adder_conv2d(c, x, w, (nn_adder_attr){1, 1, 1, 1, 0.2f})
                             : nn_conv2d(c, x, w, NULL, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1});
        if (train) nn_backward(c, nn_sum(c, y));
        const double t = nn_now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static double naive_forward(const nn_tensor *x, const nn_tensor *w, float *y)
{
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], O = w->shape[0];
    const double t0 = nn_now();
    for (int b = 0; b < N; b++)
        for (int o = 0; o < O; o++)
            for (int h = 0; h < H; h++)
                for (int v = 0; v < W; v++) {
                    float s = 0;
                    for (int k = 0; k < C; k++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                const int ih = h + i - 1, iw = v + j - 1;
                                const float xv = ih >= 0 && ih < H && iw >= 0 && iw < W
                                                     ? x->data[(((size_t)b * C + k) * H + ih) * W + iw] : 0.0f;
                                s += fabsf(xv - w->data[(((size_t)o * C + k) * 3 + i) * 3 + j]);
                            }
                    y[(((size_t)b * O + o) * H + h) * W + v] = -s;
                }
    return nn_now() - t0;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 1;
    nn_ctx c;
    nn_ctx_init(&c, threads, 512u << 20);
    const int shapes[3][2] = {{16, 28}, {32, 14}, {64, 7}};
    /* the kernel sets measured: the CPU's best, or what DATAFREE_CONV_ISA / DATAFREE_ADDER_ISA ask for */
    printf("batch 64, %d thread(s); best of 5; times in ms; kernels: conv direct %s, adder %s\n", nn_threads(&c),
           nn_conv_direct_isa_name(), nn_adder_isa_name());
    printf("%-14s %9s %9s %7s %9s %9s %7s %9s %7s\n", "layer", "conv fwd", "adder fwd", "ratio", "conv step",
           "adder step", "ratio", "naive fwd", "speedup");
    for (int s = 0; s < 3; s++) {
        const int C = shapes[s][0], H = shapes[s][1], N = 64;
        nn_rng r;
        nn_rng_seed(&r, 1);
        nn_tensor x = {0}, w = {0};
        x.ndim = 4, x.shape[0] = N, x.shape[1] = C, x.shape[2] = H, x.shape[3] = H;
        x.numel = (size_t)N * C * H * H;
        w.ndim = 4, w.shape[0] = C, w.shape[1] = C, w.shape[2] = 3, w.shape[3] = 3;
        w.numel = (size_t)C * C * 9;
        x.data = malloc(x.numel * sizeof(float)), x.grad = calloc(x.numel, sizeof(float));
        w.data = malloc(w.numel * sizeof(float)), w.grad = calloc(w.numel, sizeof(float));
        x.requires_grad = w.requires_grad = 1;
        w.is_param = x.is_param = 1;
        for (size_t i = 0; i < x.numel; i++) x.data[i] = nn_rng_normal(&r);
        for (size_t i = 0; i < w.numel; i++) w.data[i] = nn_rng_normal(&r);
        const double cf = time_op(&c, &x, &w, 0, 0, 5), af = time_op(&c, &x, &w, 1, 0, 5);
        const double ct = time_op(&c, &x, &w, 0, 1, 5), at = time_op(&c, &x, &w, 1, 1, 5);
        float *y = malloc(x.numel * sizeof(float));
        const double nf = naive_forward(&x, &w, y);
        char name[32];
        snprintf(name, sizeof name, "%dx%dx%d 3x3", C, H, H);
        printf("%-14s %9.2f %9.2f %6.2fx %9.2f %9.2f %6.2fx %9.1f %6.1fx\n", name, 1e3 * cf, 1e3 * af, af / cf,
               1e3 * ct, 1e3 * at, at / ct, 1e3 * nf, nf / af);
        free(y), free(x.data), free(x.grad), free(w.data), free(w.grad);
    }
    nn_ctx_free(&c);
    return 0;
}
