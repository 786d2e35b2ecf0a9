/* nn_tanh (act.c's own formula, vectorized) against libm's tanhf over the
 * same inputs, in the same run, 1 thread: the op a tanh-pretrained NASB
 * network and the GDFQ/AutoReCon generators run at every sign or output.
 * Inputs N(0, 2^2), about what a BN output scaled by the stand-in sees.
 * Usage: build/bench_act [MILLIONS (default 8)] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/evaluate.h"
#include "nn/ops.h"

int main(int argc, char **argv)
{
    const int n = (argc > 1 ? atoi(argv[1]) : 8) << 20;
    if (n <= 0) {
        fprintf(stderr, "usage: bench_act [MILLIONS]\n");
        return 2;
    }
    nn_ctx c;
    nn_ctx_init(&c, 1, (size_t)n * sizeof(float) + (64u << 20));
    float *x = malloc((size_t)n * sizeof *x), *ref = malloc((size_t)n * sizeof *ref);
    if (!x || !ref) return 1;
    nn_rng r;
    nn_rng_seed(&r, 1);
    for (int i = 0; i < n; i++) x[i] = 2.0f * nn_rng_normal(&r);
    double best_ours = 1e30, best_libm = 1e30;
    const nn_tensor *y = NULL;
    for (int rep = 0; rep < 5; rep++) {
        nn_ctx_reset(&c);
        double t0 = nn_now();
        y = nn_tanh(&c, nn_view(&c, x, 1, (int[]){n}));
        double t = nn_now() - t0;
        best_ours = t < best_ours ? t : best_ours;
        t0 = nn_now();
        for (int i = 0; i < n; i++) ref[i] = tanhf(x[i]);
        t = nn_now() - t0;
        best_libm = t < best_libm ? t : best_libm;
    }
    long worst = 0;
    for (int i = 0; i < n; i++) {
        int32_t a, b;
        memcpy(&a, &y->data[i], 4);
        memcpy(&b, &ref[i], 4);
        const long d = labs((long)a - (long)b);
        worst = d > worst ? d : worst;
    }
    printf("tanh over %d floats, 1 thread, best of 5: nn_tanh %.2f ms, libm tanhf %.2f ms (%.2fx); largest difference "
           "%ld ulp\n",
           n, 1e3 * best_ours, 1e3 * best_libm, best_libm / best_ours, worst);
    printf("{\"n\":%d,\"nn_tanh_ms\":%.3f,\"tanhf_ms\":%.3f,\"ratio\":%.2f,\"max_ulp_vs_tanhf\":%ld}\n", n, 1e3 * best_ours,
           1e3 * best_libm, best_libm / best_ours, worst);
    free(x);
    free(ref);
    nn_ctx_free(&c);
    return 0;
}
