/* datafree export --model M --target c[,...] --out DIR: a quantized model
 * lowered to integers (compress/lower.h) and written as code. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compress/export.h"

static const char *export_help =
    "usage: datafree export --model MODEL.json --target c|cuda|hls|onnx-qdq|qonnx[,...] --out DIR\n"
    "                       [--hls-reuse R] [--json]\n\n"
    "Lowers a quantized model (the model.json of `datafree quantize`) to the integer\n"
    "program of the reference interpreter (`datafree eval --integer` runs the same\n"
    "integers) and writes one folder per target under DIR:\n"
    "  c     standalone C99 (libc only, no malloc): model.c, model.h, main.c and a\n"
    "        Makefile whose default target builds ./infer IMAGES LABELS [--threads T]\n"
    "        [--logits FILE] (IDX files; prints {\"accuracy\", \"images_per_s\"})\n"
    "  cuda  CUDA (model.cu, main.cu): one thread per output value, batch-parallel;\n"
    "        `make` builds ./infer with nvcc, `make emu` the same code with g++\n"
    "  hls   Vitis-HLS-style C++ (a DATAFLOW process per layer over hls::stream\n"
    "        FIFOs, line buffers, ROM weights) with a g++ shim, a C-simulation\n"
    "        testbench (`make` builds ./infer IMAGES LABELS, also ./csim), a README\n"
    "        and estimate.json\n"
    "        (multipliers, adder units, BRAM, cycles per frame, per layer)\n"
    "  onnx-qdq  QDQ ONNX (int8 weights behind DequantizeLinear, activations as\n"
    "        Clip -> QuantizeLinear -> DequantizeLinear): for ONNX Runtime, TensorRT\n"
    "  qonnx QONNX Quant nodes (qonnx.custom_op.general): for FINN, hls4ml\n"
    "Options: --hls-reuse R  HLS: cycles each multiplier is reused per output value\n"
    "        (hls4ml's reuse factor; 1, the default, is every tap in parallel)\n"
    "A binary network (sign activations, binary convs) exports to c only: bit-packed\n"
    "XNOR-popcount convs and float loops elsewhere, the numbers of `eval --binary`.\n"
    "An adder network needs power-of-two grids (quantize with quant.pot: true).\n"
    "A target's folder is written under a temporary name and renamed into place;\n"
    "unknown targets and models without an integer form are refused (naming the\n"
    "node) before anything is written.\n";

int run_export(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(export_help, stdout);
        return 0;
    }
    const char *model = NULL, *target = NULL, *out = NULL, *reuse = NULL;
    int json = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (run_opt(argc, argv, &i, "--model", &model, &bad) || run_opt(argc, argv, &i, "--target", &target, &bad) ||
                 run_opt(argc, argv, &i, "--out", &out, &bad) || run_opt(argc, argv, &i, "--hls-reuse", &reuse, &bad)) {
            if (bad) return 2;
        } else
            return run_usage_error("export", "unexpected argument %s", argv[i]);
    }
    if (!model || !target || !out) return run_usage_error("export", "--model, --target and --out are required");
    cmp_export_opts eo = {0};
    if (reuse) {
        if (run_parse_int(reuse, 1, 1 << 20, &eo.hls_reuse))
            return run_usage_error("export", "--hls-reuse: a positive integer, not '%s'", reuse);
    }
    char tl[400];
    snprintf(tl, sizeof tl, "%s", target);
    const char *names[16];
    int n = 0;
    for (char *t = strtok(tl, ","); t && n < 16; t = strtok(NULL, ",")) names[n++] = t;
    nn_err e = {0};
    nn_graph *g = run_load_model(model, &e);
    if (!g) return run_error(e.msg);
    const int binary = cmp_graph_is_binary(g); /* bit-packed C, no integer lowering */
    int_graph *ig = binary ? NULL : cmp_lower(g, &e);
    int rc = (!binary && !ig) || cmp_export(g, ig, &eo, names, n, out, &e);
    if (rc) {
        char m[1300];
        snprintf(m, sizeof m, "%s: %s", model, e.msg);
        run_error(m);
    } else if (json) {
        printf("{\"model\":\"%s\",\"out\":\"%s\",\"targets\":\"%s\",\"int_nodes\":%d}\n", model, out, target, ig ? ig->n : 0);
    } else {
        for (int i = 0; i < n; i++) printf("wrote %s/%s/\n", out, names[i]);
    }
    cmp_int_free(ig);
    nn_graph_free(g);
    return rc;
}
