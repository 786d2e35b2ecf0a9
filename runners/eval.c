/* datafree eval --model MODEL --data DATASET: accuracy on a dataset. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compress/lower.h"
#include "nn/evaluate.h"
#include "nn/io.h"

static const char *eval_help =
    "usage: datafree eval --model MODEL.json --data DATASET [--split test|train]\n"
    "                     [--batch N] [--threads T] [--skip K] [--limit N] [--mean M[,M..]] [--std S[,S..]]\n"
    "                     [--integer [--logits FILE] | --binary] [--json]\n\n"
    "Accuracy and mean cross-entropy of a model on a dataset, using the input\n"
    "preprocessing (mean/std) stored with the model. DATASET is a folder or file:\n"
    "IDX (e.g. /usr/share/datasets/fashion-mnist), CIFAR binary, or an image\n"
    "folder with one sub-folder per class. MODEL may be an ONNX file; it carries\n"
    "no preprocessing, so give --mean/--std per channel (pixels scaled to [0, 1]\n"
    "first); they override a model.json's too. --json prints one object:\n"
    "{\"accuracy\": ..., \"loss\": ..., \"n\": ..., \"seconds\": ..., ...}\n\n"
    "  --skip K        leave out the split's first K images, then --limit N keeps\n"
    "                  the next N: e.g. --split train --skip 30000 evaluates on the\n"
    "                  training images a run with data.train_limit 30000 never saw\n"
    "  --integer       also lower the quantized model to integers (compress/lower.h)\n"
    "                  and run the reference interpreter: its accuracy, the fake-quant\n"
    "                  accuracy and their top-1 agreement\n"
    "  --logits FILE   with --integer: the int32 logits of every image (raw,\n"
    "                  little-endian, n x classes, units of 2^-16)\n"
    "  --binary        a binary network also through bit-packed inference\n"
    "                  (XNOR-popcount on packed signs): its accuracy, images/s\n"
    "                  next to the float simulation's, and whether every logit is\n"
    "                  the same\n";

/* The integer path next to the fake-quant one: accuracies and agreement. */
static int eval_integer(nn_graph *g, nn_ctx *c, const nn_dataset *d, const char *model, int json, const char *logits_path,
                        nn_err *e)
{
    int_graph *ig = cmp_lower(g, e);
    if (!ig) return NN_ERR;
    const int K = g->num_classes, per = d->c * d->h * d->w, B = 250;
    int32_t *lg = nn_xmalloc((size_t)d->n * K * sizeof(int32_t));
    double t0 = nn_now();
    const double iacc = cmp_int_accuracy(ig, d, nn_threads(c), lg);
    const double isec = nn_now() - t0;
    /* the fake-quant model's predictions, image by image */
    float *x = nn_xmalloc((size_t)B * per * sizeof(float));
    int *idx = nn_xmalloc((size_t)B * sizeof(int)), *lab = nn_xmalloc((size_t)B * sizeof(int));
    long agree = 0, fcorrect = 0;
    double absdiff = 0; /* mean |integer logit - float logit| */
    for (int off = 0; off < d->n; off += B) {
        const int n = d->n - off < B ? d->n - off : B;
        for (int i = 0; i < n; i++) idx[i] = off + i;
        nn_dataset_batch(d, idx, n, g->mean, g->std, NULL, NULL, x, lab);
        nn_ctx_reset(c);
        c->training = 0;
        c->grad_enabled = 0;
        nn_tensor *y = nn_graph_forward(g, c, nn_view(c, x, 4, (int[]){n, d->c, d->h, d->w}), NULL);
        for (int i = 0; i < n; i++) {
            int bf = 0, bi = 0;
            for (int k = 1; k < K; k++) {
                bf = y->data[(size_t)i * K + k] > y->data[(size_t)i * K + bf] ? k : bf;
                bi = lg[(size_t)(off + i) * K + k] > lg[(size_t)(off + i) * K + bi] ? k : bi;
            }
            agree += bf == bi;
            for (int k = 0; k < K; k++)
                absdiff += fabs(lg[(size_t)(off + i) * K + k] * ig->logit_scale - y->data[(size_t)i * K + k]);
            fcorrect += bf == lab[i];
        }
    }
    free(x);
    free(idx);
    free(lab);
    int rc = NN_OK;
    if (logits_path) rc = nn_write_file_atomic(logits_path, lg, (size_t)d->n * K * sizeof(int32_t), e);
    if (!rc) {
        const double facc = (double)fcorrect / d->n, ag = (double)agree / d->n;
        if (json)
            printf("{\"accuracy\":%.5f,\"integer_accuracy\":%.5f,\"fake_quant_accuracy\":%.5f,\"top1_agreement\":%.5f,"
                   "\"mean_abs_logit_diff\":%.6f,\"n\":%d,\"integer_seconds\":%.3f,\"int_nodes\":%d,\"model\":\"%s\"}\n",
                   iacc, iacc, facc, ag, absdiff / ((double)d->n * K), d->n, isec, ig->n, model);
        else
            printf("%s (%d images): integer path %.2f%%, fake-quant %.2f%% (%+.2f pt), top-1 agreement %.2f%%, "
                   "mean |logit difference| %.2g (integer: %d nodes, %.1fs)\n",
                   g->name, d->n, 100 * iacc, 100 * facc, 100 * (iacc - facc), 100 * ag, absdiff / ((double)d->n * K),
                   ig->n, isec);
    }
    free(lg);
    cmp_int_free(ig);
    return rc;
}

/* Bit-packed binary inference next to the float simulation of the same
 * network: the same logits to the bit, and their speeds. */
static int eval_binary(nn_graph *g, nn_ctx *c, const nn_dataset *d, int batch, const char *model, int json)
{
    const int K = g->num_classes, per = d->c * d->h * d->w;
    float *x = nn_xmalloc((size_t)batch * per * sizeof(float)), *yf = nn_xmalloc((size_t)batch * K * sizeof(float));
    int *idx = nn_xmalloc((size_t)batch * sizeof(int)), *lab = nn_xmalloc((size_t)batch * sizeof(int));
    long same = 0, agree = 0, cf = 0, cp = 0;
    double tf = 0, tp = 0, maxd = 0;
    for (int off = 0; off < d->n; off += batch) {
        const int n = d->n - off < batch ? d->n - off : batch;
        for (int i = 0; i < n; i++) idx[i] = off + i;
        nn_dataset_batch(d, idx, n, g->mean, g->std, NULL, NULL, x, lab);
        for (int pass = 0; pass < 2; pass++) {
            nn_ctx_reset(c);
            c->training = 0;
            c->grad_enabled = 0;
            nn_fwd_opts o = {.binary_packed = pass};
            const double t0 = nn_now();
            nn_tensor *y = nn_graph_forward(g, c, nn_view(c, x, 4, (int[]){n, d->c, d->h, d->w}), &o);
            *(pass ? &tp : &tf) += nn_now() - t0;
            if (!pass) {
                memcpy(yf, y->data, (size_t)n * K * sizeof(float));
                continue;
            }
            for (int i = 0; i < n; i++) {
                int bf = 0, bp = 0, eq = 1;
                for (int k = 0; k < K; k++) {
                    const float a = yf[(size_t)i * K + k], b = y->data[(size_t)i * K + k];
                    eq &= a == b;
                    maxd = fabs(a - b) > maxd ? fabs(a - b) : maxd;
                    if (k) bf = a > yf[(size_t)i * K + bf] ? k : bf, bp = b > y->data[(size_t)i * K + bp] ? k : bp;
                }
                same += eq, agree += bf == bp, cf += bf == lab[i], cp += bp == lab[i];
            }
        }
    }
    free(x), free(yf), free(idx), free(lab);
    if (json)
        printf("{\"accuracy\":%.5f,\"binary_accuracy\":%.5f,\"float_sim_accuracy\":%.5f,\"top1_agreement\":%.5f,"
               "\"logits_identical\":%.5f,\"max_abs_logit_diff\":%g,\"binary_images_per_s\":%.1f,"
               "\"float_images_per_s\":%.1f,\"speedup\":%.2f,\"threads\":%d,\"n\":%d,\"model\":\"%s\"}\n",
               (double)cp / d->n, (double)cp / d->n, (double)cf / d->n, (double)agree / d->n, (double)same / d->n, maxd,
               d->n / tp, d->n / tf, tf / tp, nn_threads(c), d->n, model);
    else
        printf("%s (%d images): bit-packed %.2f%% at %.0f img/s, float simulation %.2f%% at %.0f img/s (%.2fx); "
               "identical logits on %.2f%% of images, top-1 agreement %.2f%%\n",
               g->name, d->n, 100.0 * cp / d->n, d->n / tp, 100.0 * cf / d->n, d->n / tf, tf / tp, 100.0 * same / d->n,
               100.0 * agree / d->n);
    return NN_OK;
}

int run_eval(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(eval_help, stdout);
        return 0;
    }
    const char *model = NULL, *data = NULL, *split = "test", *batch_s = "500", *threads_s = "0", *limit_s = "0", *skip_s = "0";
    const char *mean_s = NULL, *std_s = NULL, *logits_path = NULL;
    int json = 0, bad = 0, integer = 0, binary = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--integer"))
            integer = 1;
        else if (!strcmp(argv[i], "--binary"))
            binary = 1;
        else if (run_opt(argc, argv, &i, "--logits", &logits_path, &bad) || run_opt(argc, argv, &i, "--model", &model, &bad) || run_opt(argc, argv, &i, "--data", &data, &bad) ||
                 run_opt(argc, argv, &i, "--split", &split, &bad) ||
                 run_opt(argc, argv, &i, "--batch", &batch_s, &bad) ||
                 run_opt(argc, argv, &i, "--threads", &threads_s, &bad) ||
                 run_opt(argc, argv, &i, "--limit", &limit_s, &bad) || run_opt(argc, argv, &i, "--skip", &skip_s, &bad) ||
                 run_opt(argc, argv, &i, "--mean", &mean_s, &bad) || run_opt(argc, argv, &i, "--std", &std_s, &bad)) {
            if (bad) return 2;
        } else
            return run_usage_error("eval", "unexpected argument %s", argv[i]);
    }
    if (!model || !data) return run_usage_error("eval", "--model and --data are required");
    int batch, threads, limit, skip;
    if (run_parse_int(batch_s, 1, INT_MAX, &batch)) return run_usage_error("eval", "--batch needs a number >= 1, not '%s'", batch_s);
    if (run_parse_int(threads_s, 0, 1024, &threads))
        return run_usage_error("eval", "--threads needs a number from 0 (all cores) to 1024, not '%s'", threads_s);
    if (run_parse_int(limit_s, 0, INT_MAX, &limit)) return run_usage_error("eval", "--limit needs a number >= 0, not '%s'", limit_s);
    if (run_parse_int(skip_s, 0, INT_MAX, &skip)) return run_usage_error("eval", "--skip needs a number >= 0, not '%s'", skip_s);
    nn_err e;
    nn_graph *g = run_load_model(model, &e);
    if (!g) return run_error(e.msg);
    if ((mean_s && run_parse_channels(mean_s, g->in_shape[0], g->mean, 0, &e)) ||
        (std_s && run_parse_channels(std_s, g->in_shape[0], g->std, 1, &e))) {
        nn_graph_free(g);
        return run_usage_error("eval", "%s", e.msg);
    }
    nn_dataset d;
    if (nn_dataset_load(data, split, &d, &e)) {
        nn_graph_free(g);
        return run_error(e.msg);
    }
    if (skip && nn_dataset_skip(&d, skip, &e)) {
        nn_dataset_free(&d);
        nn_graph_free(g);
        return run_usage_error("eval", "--skip: %s", e.msg);
    }
    nn_dataset_truncate(&d, limit);
    nn_ctx c;
    nn_ctx_init(&c, threads, 64 << 20);
    nn_eval_result r;
    int rc = nn_evaluate(g, &c, &d, batch, &r, &e);
    if (!rc && binary) {
        rc = eval_binary(g, &c, &d, batch, model, json);
        nn_ctx_free(&c);
        nn_dataset_free(&d);
        nn_graph_free(g);
        return rc ? 1 : 0;
    }
    if (!rc && integer) {
        rc = eval_integer(g, &c, &d, model, json, logits_path, &e);
        if (rc) run_error(e.msg);
        nn_ctx_free(&c);
        nn_dataset_free(&d);
        nn_graph_free(g);
        return rc ? 1 : 0;
    }
    if (rc)
        run_error(e.msg);
    else if (json)
        printf("{\"accuracy\":%.5f,\"loss\":%.5f,\"n\":%d,\"seconds\":%.3f,\"images_per_s\":%.1f,\"model\":\"%s\","
               "\"data\":\"%s\",\"split\":\"%s\"}\n",
               r.accuracy, r.loss, r.n, r.seconds, r.n / (r.seconds > 0 ? r.seconds : 1e-9), model, data, split);
    else
        printf("%s on %s (%s, %d images): accuracy %.2f%%, loss %.4f (%.1fs)\n", g->name, d.desc, split, r.n,
               100.0 * r.accuracy, r.loss, r.seconds);
    nn_ctx_free(&c);
    nn_dataset_free(&d);
    nn_graph_free(g);
    return rc ? 1 : 0;
}
