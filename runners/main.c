/* datafree: one binary, one command per file in runners/. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"train", run_train, "train a model from a JSON config (run folder, checkpoints, --resume)"},
    {"eval", run_eval, "accuracy of a model on a dataset"},
    {"inspect", run_inspect, "layers, shapes, parameters and MACs of a model"},
    {"reconstruct", run_reconstruct, "synthetic data from a teacher: GDFQ generator or ZeroQ distillation"},
    {"search", run_search, "search the generator architecture (AutoReCon) against a teacher"},
    {"quantize", run_quantize, "data-free (or real-data) quantization with KD fine-tuning, or naive PTQ"},
    {"nasb", run_nasb, "NASB: search binary cells, pretrain and finetune the binary network (or a baseline)"},
    {"run", run_pipeline, "a pipeline config: search -> quantize -> export, resumable by stage"},
    {"export", run_export, "a quantized (or binary) model as deployable code: C, CUDA, HLS C++, QDQ ONNX, QONNX"},
    {"convert", run_convert, "model.json <-> ONNX; a CNN into its AdderNet counterpart"},
    {"bench", run_bench, "training-step and inference images/s of a model"},
};

static void usage(FILE *f)
{
    fprintf(f, "datafree: data-free compression of CNNs, in C\n\n"
               "usage: datafree <command> [options]    (datafree <command> --help for its options)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nEvery command takes --json and then prints one JSON object on stdout.\n"
               "Environment: DATAFREE_THREADS sets the default thread count.\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress reaches logs line by line */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "datafree: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
