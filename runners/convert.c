/* datafree convert IN OUT: model.json <-> ONNX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compress/adder.h"
#include "nn/onnx.h"

static const char *convert_help =
    "usage: datafree convert IN OUT [--mean M[,M..]] [--std S[,S..]] [--to-adder [--alr ETA]]\n\n"
    "Converts a float model between datafree's model.json (+ model.safetensors)\n"
    "and ONNX (opset 13), by the extensions: IN.onnx -> OUT.json imports (give\n"
    "the input preprocessing with --mean/--std, pixels scaled to [0, 1] first);\n"
    "IN.json -> OUT.onnx exports (ONNX stores no preprocessing).\n\n"
    "  --to-adder     turn the CNN into its AdderNet counterpart: every conv but\n"
    "                 the first becomes an adder layer (weights N(0, 1), ready to\n"
    "                 train); first conv, BN and classifier keep their values\n"
    "  --alr ETA      the adder layers' adaptive learning-rate eta (default 0.2)\n";

int run_convert(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(convert_help, stdout);
        return 0;
    }
    const char *in = NULL, *out = NULL, *mean_s = NULL, *std_s = NULL, *alr_s = "0.2";
    int bad = 0, to_adder = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--to-adder"))
            to_adder = 1;
        else if (run_opt(argc, argv, &i, "--alr", &alr_s, &bad) || run_opt(argc, argv, &i, "--mean", &mean_s, &bad) || run_opt(argc, argv, &i, "--std", &std_s, &bad)) {
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
    nn_err e;
    nn_graph *g = run_load_model(in, &e);
    if (!g) return run_error(e.msg);
    if ((mean_s && run_parse_channels(mean_s, g->in_shape[0], g->mean, 0, &e)) ||
        (std_s && run_parse_channels(std_s, g->in_shape[0], g->std, 1, &e))) {
        nn_graph_free(g);
        return run_usage_error("convert", "%s", e.msg);
    }
    if (to_adder) {
        nn_graph *a = cmp_to_adder(g, (float)atof(alr_s), 1, &e);
        nn_graph_free(g);
        if (!a) {
            char m[1300];
            snprintf(m, sizeof m, "%s: %s", in, e.msg);
            return run_error(m);
        }
        g = a;
    }
    int rc = nn_onnx_is_path(out) ? nn_onnx_save(g, out, &e) : nn_graph_save(g, out, &e);
    if (rc) run_error(e.msg);
    else printf("wrote %s (%d nodes, %zu parameters)\n", out, g->n - 1, nn_graph_num_trainable(g));
    nn_graph_free(g);
    return rc ? 1 : 0;
}
