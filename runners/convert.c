/* datafree convert IN OUT: model.json <-> ONNX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compress/adder.h"
#include "compress/binarize.h"
#include "nn/onnx.h"

static const char *convert_help =
    "usage: datafree convert IN OUT [--mean M[,M..]] [--std S[,S..]] [--to-adder [--alr ETA]]\n"
    "                        [--to-binary [--keep LIST] [--weight-scale layer|channel] [--act-ste]]\n\n"
    "Converts a float model between datafree's model.json (+ model.safetensors)\n"
    "and ONNX (opset 13), by the extensions: IN.onnx -> OUT.json imports (give\n"
    "the input preprocessing with --mean/--std, pixels scaled to [0, 1] first);\n"
    "IN.json -> OUT.onnx exports (ONNX stores no preprocessing).\n\n"
    "  --to-adder     turn the CNN into its AdderNet counterpart: every conv but\n"
    "                 the first becomes an adder layer (weights N(0, 1), ready to\n"
    "                 train); first conv, BN and classifier keep their values\n"
    "  --alr ETA      the adder layers' adaptive learning-rate eta (default 0.2)\n"
    "  --to-binary    turn the CNN into a binary network: binary weights s*sign(W)\n"
    "                 (scaled STE) and a sign activation (ApproxSign backward) in\n"
    "                 front of every conv/linear not kept; all values kept, so a\n"
    "                 binarized finetune (datafree train) can start from them\n"
    "  --keep LIST    layers that stay full precision, comma-separated of first,\n"
    "                 last, downsample (1x1 stride > 1), 1x1, none (default:\n"
    "                 first,last,downsample)\n"
    "  --weight-scale layer (default) or channel: s = mean |W| per layer or per\n"
    "                 output channel\n"
    "  --act-ste      clipped straight-through backward for the signs instead of\n"
    "                 ApproxSign\n";

int run_convert(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(convert_help, stdout);
        return 0;
    }
    const char *in = NULL, *out = NULL, *mean_s = NULL, *std_s = NULL, *alr_s = "0.2", *keep_s = NULL, *scale_s = NULL;
    int bad = 0, to_adder = 0, to_binary = 0, act_ste = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--to-adder"))
            to_adder = 1;
        else if (!strcmp(argv[i], "--to-binary"))
            to_binary = 1;
        else if (!strcmp(argv[i], "--act-ste"))
            act_ste = 1;
        else if (run_opt(argc, argv, &i, "--keep", &keep_s, &bad) ||
                 run_opt(argc, argv, &i, "--weight-scale", &scale_s, &bad) ||
                 run_opt(argc, argv, &i, "--alr", &alr_s, &bad) || run_opt(argc, argv, &i, "--mean", &mean_s, &bad) || run_opt(argc, argv, &i, "--std", &std_s, &bad)) {
            if (bad) return 2;
        } else if (argv[i][0] == '-')
            return run_usage_error("convert", "unknown option %s", argv[i]);
        else if (!in)
            in = argv[i];
        else if (!out)
            out = argv[i];
        else
            return run_usage_error("convert", "more than two paths given");
    }
    if (!in || !out) return run_usage_error("convert", "need IN and OUT");
    if (to_adder && to_binary) return run_usage_error("convert", "--to-adder and --to-binary exclude each other");
    if (!to_binary && (keep_s || scale_s || act_ste))
        return run_usage_error("convert", "--keep, --weight-scale and --act-ste go with --to-binary");
    cmp_bin_opts bo = cmp_bin_defaults();
    if (keep_s) {
        bo.keep_first = bo.keep_last = bo.keep_downsample = 0;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", keep_s);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            if (!strcmp(t, "first"))
                bo.keep_first = 1;
            else if (!strcmp(t, "last"))
                bo.keep_last = 1;
            else if (!strcmp(t, "downsample"))
                bo.keep_downsample = 1;
            else if (!strcmp(t, "1x1"))
                bo.keep_1x1 = 1;
            else if (strcmp(t, "none"))
                return run_usage_error("convert", "--keep: '%s' is not one of first, last, downsample, 1x1, none", t);
        }
    }
    if (scale_s && strcmp(scale_s, "layer") && strcmp(scale_s, "channel"))
        return run_usage_error("convert", "--weight-scale: '%s' is not one of layer, channel", scale_s);
    bo.per_channel = scale_s && !strcmp(scale_s, "channel");
    bo.ste = act_ste;
    nn_err e;
    nn_graph *g = run_load_model(in, &e);
    if (!g) return run_error(e.msg);
    if ((mean_s && run_parse_channels(mean_s, g->in_shape[0], g->mean, 0, &e)) ||
        (std_s && run_parse_channels(std_s, g->in_shape[0], g->std, 1, &e))) {
        nn_graph_free(g);
        return run_usage_error("convert", "%s", e.msg);
    }
    if (to_adder || to_binary) { /* one transform: the new graph replaces the loaded one */
        int nb = 0;
        nn_graph *t = to_adder ? cmp_to_adder(g, (float)atof(alr_s), 1, &e) : cmp_binarize(g, &bo, &nb, &e);
        nn_graph_free(g);
        if (!t) {
            char m[1300];
            snprintf(m, sizeof m, "%s: %s", in, e.msg);
            return run_error(m);
        }
        g = t;
        if (to_binary)
            printf("binarized %d layers (weights s*sign(W), s per %s; sign activations, %s backward)\n", nb,
                   bo.per_channel ? "output channel" : "layer", bo.ste ? "clipped-STE" : "ApproxSign");
    }
    int rc = nn_onnx_is_path(out) ? nn_onnx_save(g, out, &e) : nn_graph_save(g, out, &e);
    if (rc) run_error(e.msg);
    else printf("wrote %s (%d nodes, %zu parameters)\n", out, g->n - 1, nn_graph_num_trainable(g));
    nn_graph_free(g);
    return rc ? 1 : 0;
}
