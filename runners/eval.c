/* datafree eval --model MODEL --data DATASET: accuracy on a dataset. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/evaluate.h"

static const char *eval_help =
    "usage: datafree eval --model MODEL.json --data DATASET [--split test|train]\n"
    "                     [--batch N] [--threads T] [--limit N] [--mean M[,M..]] [--std S[,S..]] [--json]\n\n"
    "Accuracy and mean cross-entropy of a model on a dataset, using the input\n"
    "preprocessing (mean/std) stored with the model. DATASET is a folder or file:\n"
    "IDX (e.g. /usr/share/datasets/fashion-mnist), CIFAR binary, or an image\n"
    "folder with one sub-folder per class. MODEL may be an ONNX file; it carries\n"
    "no preprocessing, so give --mean/--std per channel (pixels scaled to [0, 1]\n"
    "first); they override a model.json's too. --json prints one object:\n"
    "{\"accuracy\": ..., \"loss\": ..., \"n\": ..., \"seconds\": ..., ...}\n";

int run_eval(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(eval_help, stdout);
        return 0;
    }
    const char *model = NULL, *data = NULL, *split = "test", *batch_s = "500", *threads_s = "0", *limit_s = "0";
    const char *mean_s = NULL, *std_s = NULL;
    int json = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (run_opt(argc, argv, &i, "--model", &model, &bad) || run_opt(argc, argv, &i, "--data", &data, &bad) ||
                 run_opt(argc, argv, &i, "--split", &split, &bad) ||
                 run_opt(argc, argv, &i, "--batch", &batch_s, &bad) ||
                 run_opt(argc, argv, &i, "--threads", &threads_s, &bad) ||
                 run_opt(argc, argv, &i, "--limit", &limit_s, &bad) ||
                 run_opt(argc, argv, &i, "--mean", &mean_s, &bad) || run_opt(argc, argv, &i, "--std", &std_s, &bad)) {
            if (bad) return 2;
        } else
            return run_usage_error("eval", "unexpected argument %s", argv[i]);
    }
    if (!model || !data) return run_usage_error("eval", "--model and --data are required");
    int batch = atoi(batch_s);
    if (batch < 1) return run_usage_error("eval", "--batch must be >= 1");
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
    nn_dataset_truncate(&d, atoi(limit_s));
    nn_ctx c;
    nn_ctx_init(&c, atoi(threads_s), 64 << 20);
    nn_eval_result r;
    int rc = nn_evaluate(g, &c, &d, batch, &r, &e);
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
