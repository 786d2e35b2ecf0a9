/* datafree inspect MODEL: layers, shapes, parameter count, MACs. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *inspect_help =
    "usage: datafree inspect MODEL [--input CxHxW] [--classes K] [--json]\n\n"
    "MODEL is a model.json (with its .safetensors beside it) or a zoo name\n"
    "(resnet20, resnet32, resnet56, vgg_small, mobilenetv2, densenet_bc,\n"
    "addresnet20, ds_addresnet20, bireal_resnet20, xnor_resnet20), built for\n"
    "--input (default 1x28x28) and --classes (default 10). Prints every node\n"
    "with its op, inputs, output shape, parameters and MACs per sample; adder\n"
    "networks add their additions, binary networks their cost as NASB counts it\n"
    "(memory = 32 x real params + 1 x binary weights bits, Flops = real MACs +\n"
    "binary MACs / 64), per node in --json.\n";

static size_t node_params(const nn_graph *g, const nn_gnode *n)
{
    size_t s = 0;
    for (int k = 0; k < NN_MAX_NODE_PARAMS; k++)
        if (n->param[k] >= 0 && g->params[n->param[k]].trainable) s += g->params[n->param[k]].t.numel;
    return s;
}

/* "w4 per-channel asym" for quantized weights, "a4 asym [lo, hi]" for an
 * activation quantizer (or "uncalibrated"); 0 when the node is float. */
static int quant_desc(const nn_graph *g, const nn_gnode *n, char *buf, size_t len)
{
    if ((n->op == NN_OP_CONV || n->op == NN_OP_LINEAR) && n->qbits)
        return snprintf(buf, len, "w%d %s %s", n->qbits, n->qperch ? "per-channel" : "per-tensor",
                        n->qsym ? "sym" : "asym") > 0;
    if (n->op != NN_OP_FAKE_QUANT) return 0;
    const float *r = g->params[n->param[0]].t.data, *obs = g->params[n->param[1]].t.data;
    if (obs[0] <= 0.0f) return snprintf(buf, len, "a%d %s uncalibrated", n->qbits, n->qsym ? "sym" : "asym") > 0;
    return snprintf(buf, len, "a%d %s [%.4g, %.4g]", n->qbits, n->qsym ? "sym" : "asym", r[0], r[1]) > 0;
}

int run_inspect(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(inspect_help, stdout);
        return 0;
    }
    const char *model = NULL, *input = NULL, *classes_s = "10";
    int json = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (run_opt(argc, argv, &i, "--input", &input, &bad) ||
                 run_opt(argc, argv, &i, "--classes", &classes_s, &bad)) {
            if (bad) return 2;
        } else if (argv[i][0] == '-')
            return run_usage_error("inspect", "unknown option %s", argv[i]);
        else
            model = argv[i];
    }
    if (!model) return run_usage_error("inspect", "no model given");
    nn_err e;
    nn_graph *g = run_model_arg(model, input, atoi(classes_s), &e);
    if (!g) return run_error(e.msg);
    char in_s[64];
    if (g->in_ndim == 3)
        snprintf(in_s, sizeof in_s, "%d,%d,%d", g->in_shape[0], g->in_shape[1], g->in_shape[2]);
    else
        snprintf(in_s, sizeof in_s, "%d", g->in_shape[0]);
    if (json) {
        double mb, fl, bm;
        nn_graph_cost(g, &mb, &fl, &bm);
        printf("{\"name\":\"%s\",\"input\":[%s],\"params\":%zu,\"macs\":%.0f,\"adds\":%.0f,\"binary_macs\":%.0f,"
               "\"memory_bits\":%.0f,\"flops\":%.0f,\"nodes\":[",
               g->name, in_s, nn_graph_num_trainable(g), nn_graph_macs(g), nn_graph_adds(g), bm, mb, fl);
        for (int i = 1; i < g->n; i++) {
            const nn_gnode *n = &g->nodes[i];
            printf("%s{\"name\":\"%s\",\"op\":\"%s\",\"shape\":[", i > 1 ? "," : "", n->name, nn_op_name(n->op));
            for (int d = 0; d < n->ndim; d++) printf(d ? ",%d" : "%d", n->shape[d]);
            double nb, nf, nbm;
            nn_graph_node_cost(g, i, &nb, &nf, &nbm);
            printf("],\"params\":%zu,\"macs\":%.0f,\"memory_bits\":%.0f,\"flops\":%.0f%s", node_params(g, n),
                   nn_graph_node_macs(g, i), nb, nf, n->wbin ? ",\"binary\":true" : "");
            char q[64] = "";
            if (quant_desc(g, n, q, sizeof q)) printf(",\"quant\":\"%s\"", q);
            printf("}");
        }
        printf("]}\n");
    } else {
        for (char *p = in_s; *p; p++)
            if (*p == ',') *p = 'x';
        printf("%s: input %s, %d nodes\n\n", g->name, in_s, g->n - 1);
        printf("%-24s %-18s %-24s %-16s %10s %12s  %s\n", "node", "op", "inputs", "output", "params", "MACs", "quant");
        for (int i = 1; i < g->n; i++) {
            const nn_gnode *n = &g->nodes[i];
            char ins[128] = "", shp[48] = "";
            size_t k = 0;
            for (int j = 0; j < n->nin; j++)
                k += (size_t)snprintf(ins + k, sizeof ins - k, "%s%s", j ? "," : "", g->nodes[n->in[j]].name);
            if (n->ndim == 3)
                snprintf(shp, sizeof shp, "%dx%dx%d", n->shape[0], n->shape[1], n->shape[2]);
            else
                snprintf(shp, sizeof shp, "%d", n->shape[0]);
            char q[64] = "";
            quant_desc(g, n, q, sizeof q);
            printf("%-24s %-18s %-24.24s %-16s %10zu %12.0f  %s\n", n->name, nn_op_name(n->op), ins, shp,
                   node_params(g, n), nn_graph_node_macs(g, i), q);
        }
        printf("\ntrainable parameters: %zu (%.1f KiB as float32)\n", nn_graph_num_trainable(g),
               nn_graph_num_trainable(g) * 4.0 / 1024);
        printf("MACs per sample: %.2f M\n", nn_graph_macs(g) / 1e6);
        if (nn_graph_adds(g) > 0)
            printf("additions of the adder layers per sample: %.2f M (2 per tap; MACs above are the conv/linear layers)\n",
                   nn_graph_adds(g) / 1e6);
        double mb, fl, bm;
        nn_graph_cost(g, &mb, &fl, &bm);
        if (bm > 0)
            printf("binary: %.2f M binary MACs; memory %.3f Mbit (32 x real params + 1 x binary weights), "
                   "Flops %.3e (real MACs + binary MACs / 64)\n",
                   bm / 1e6, mb / 1e6, fl);
    }
    nn_graph_free(g);
    return 0;
}
