/* datafree bench: training-step and inference images/s of a model on
 * random inputs (data loading excluded), and peak memory. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/evaluate.h"
#include "nn/optim.h"

static const char *bench_help =
    "usage: datafree bench --model MODEL [--batch N] [--input CxHxW] [--classes K]\n"
    "                      [--threads T] [--steps S] [--warmup W] [--binary] [--json]\n\n"
    "Times S training steps (forward, cross-entropy, backward, SGD momentum\n"
    "update) and S inference passes (eval mode, no tape) of MODEL (a model.json\n"
    "or a zoo name) on random inputs of --input (default 1x28x28) after W warm-up\n"
    "steps, and reports images/s for each plus the peak resident memory, after a\n"
    "line naming the CPU (vendor, family, model from cpuid; \"cpu\" with --json).\n"
    "With DATAFREE_PROFILE=1 in the environment, prints time per op to stderr,\n"
    "one table for training and one for inference (warm-up steps included).\n"
    "--binary (a network with binary convs): also times inference with those\n"
    "convs as XNOR-popcount on bit-packed signs (the same logits as the float\n"
    "simulation, see datafree eval --binary) and reports its images/s and its\n"
    "speed-up over the float simulation measured in the same run.\n";

int run_bench(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(bench_help, stdout);
        return 0;
    }
    const char *model = NULL, *input = NULL, *batch_s = "128", *threads_s = "0", *steps_s = "20", *warm_s = "3",
               *classes_s = "10";
    int json = 0, bad = 0, binary = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--binary"))
            binary = 1;
        else if (run_opt(argc, argv, &i, "--model", &model, &bad) || run_opt(argc, argv, &i, "--input", &input, &bad) ||
                 run_opt(argc, argv, &i, "--batch", &batch_s, &bad) ||
                 run_opt(argc, argv, &i, "--threads", &threads_s, &bad) ||
                 run_opt(argc, argv, &i, "--steps", &steps_s, &bad) ||
                 run_opt(argc, argv, &i, "--warmup", &warm_s, &bad) ||
                 run_opt(argc, argv, &i, "--classes", &classes_s, &bad)) {
            if (bad) return 2;
        } else
            return run_usage_error("bench", "unexpected argument %s", argv[i]);
    }
    if (!model) return run_usage_error("bench", "--model is required");
    int batch = atoi(batch_s), steps = atoi(steps_s), warm = atoi(warm_s);
    if (batch < 1 || steps < 1 || warm < 0) return run_usage_error("bench", "--batch and --steps must be >= 1");
    nn_err e;
    nn_graph *g = run_model_arg(model, input, atoi(classes_s), &e);
    if (!g) return run_error(e.msg);
    if (g->in_ndim != 3 || g->nodes[g->output].ndim != 1) {
        nn_graph_free(g);
        return run_usage_error("bench", "bench measures classifiers (image in, class scores out)");
    }
    if (input) {
        int c, h, w;
        if (run_parse_input(input, &c, &h, &w) || c != g->in_shape[0] || h != g->in_shape[1] || w != g->in_shape[2]) {
            nn_graph_free(g);
            return run_usage_error("bench", "--input %s does not match the model's input %dx%dx%d", input,
                                   g->in_shape[0], g->in_shape[1], g->in_shape[2]);
        }
    }
    if (binary) {
        int nbin = 0;
        for (int i = 0; i < g->n; i++) nbin += g->nodes[i].op == NN_OP_CONV && g->nodes[i].wbin;
        if (!nbin) {
            nn_graph_free(g);
            return run_usage_error("bench", "--binary: %s has no binary convs", model);
        }
    }
    nn_ctx c;
    nn_ctx_init(&c, atoi(threads_s), 64 << 20);
    if (getenv("DATAFREE_PROFILE")) nn_profile_enable(&c);
    nn_optim opt;
    nn_optim_init(&opt, NN_SGD, g);
    opt.weight_decay = 5e-4f;
    const int K = g->nodes[g->output].shape[0];
    int *labels = nn_xmalloc((size_t)batch * sizeof(int));
    float *xs = nn_xmalloc((size_t)batch * g->in_shape[0] * g->in_shape[1] * g->in_shape[2] * sizeof(float));
    nn_rng r;
    nn_rng_seed(&r, 7);
    size_t xn = (size_t)batch * g->in_shape[0] * g->in_shape[1] * g->in_shape[2];
    for (size_t i = 0; i < xn; i++) xs[i] = nn_rng_normal(&r);
    for (int i = 0; i < batch; i++) labels[i] = (int)nn_rng_below(&r, (uint32_t)K);
    /* phases: 0 training, 1 inference, 2 bit-packed inference (--binary) */
    double t[3] = {0.0, 0.0, 0.0};
    long mallocs_after_warmup = 0;
    for (int phase = 0; phase < 2 + binary; phase++) {
        c.training = phase == 0;
        c.grad_enabled = phase == 0;
        const nn_fwd_opts fo = {.binary_packed = phase == 2};
        for (int s = 0; s < warm + steps; s++) {
            nn_ctx_reset(&c); /* the first reset after warm-up may still grow the arena */
            if (s == warm) {
                if (phase == 0) mallocs_after_warmup = c.arena.mallocs;
                t[phase] = nn_now();
            }
            nn_tensor *x = nn_new4(&c, batch, g->in_shape[0], g->in_shape[1], g->in_shape[2]);
            memcpy(x->data, xs, xn * sizeof(float));
            nn_tensor *y = nn_graph_forward(g, &c, x, &fo);
            if (phase == 0) {
                nn_tensor *loss = nn_cross_entropy(&c, y, labels, 0.0f);
                nn_graph_zero_grad(g);
                nn_backward(&c, loss);
                nn_optim_step(&opt, g, 0.01f);
            }
        }
        t[phase] = nn_now() - t[phase];
        if (c.prof) { /* one table per phase: the inference path differs (BN folded, no tape) */
            fprintf(stderr, "%s (%d warm-up + %d steps):\n",
                    phase == 0 ? "training" : phase == 1 ? "inference" : "bit-packed inference", warm, steps);
            nn_profile_print(&c, stderr);
            memset(c.prof, 0, sizeof *c.prof);
        }
    }
    long arena_mallocs = c.arena.mallocs - mallocs_after_warmup;
    double train_ips = (double)batch * steps / t[0], inf_ips = (double)batch * steps / t[1];
    double bin_ips = binary ? (double)batch * steps / t[2] : 0.0;
    double gflops = 3.0 * 2.0 * nn_graph_macs(g) * train_ips / 1e9;
    char cpu[128];
    nn_cpu_desc(cpu, sizeof cpu);
    if (json)
        printf("{\"cpu\":\"%s\",\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"steps\":%d,\"train_images_per_s\":%.1f,"
               "\"infer_images_per_s\":%.1f,\"train_gflops\":%.1f,\"peak_rss_mib\":%.1f,\"arena_peak_mib\":%.1f,"
               "\"arena_mallocs_after_warmup\":%ld",
               cpu, g->name, batch, nn_threads(&c), steps, train_ips, inf_ips, gflops, run_peak_rss_mib(),
               c.arena.peak / 1048576.0, arena_mallocs);
    if (json && binary)
        printf(",\"binary_infer_images_per_s\":%.1f,\"binary_speedup\":%.2f", bin_ips, bin_ips / inf_ips);
    if (json)
        printf("}\n");
    else
        printf("%s\n%s batch %d, %d threads: train %.1f img/s (%.1f GFLOP/s), inference %.1f img/s, peak RSS %.0f MiB\n",
               cpu, g->name, batch, nn_threads(&c), train_ips, gflops, inf_ips, run_peak_rss_mib());
    if (!json && binary)
        printf("bit-packed inference %.1f img/s: %.2fx the float simulation\n", bin_ips, bin_ips / inf_ips);
    free(labels);
    free(xs);
    nn_optim_free(&opt);
    nn_ctx_free(&c);
    nn_graph_free(g);
    return 0;
}
