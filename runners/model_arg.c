/* A model given on the command line: a model.json path, or a zoo name
 * (resnet20, ...) built for --input CxHxW and --classes K. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nn/io.h"
#include "nn/zoo.h"

int run_parse_input(const char *s, int *c, int *h, int *w)
{
    return sscanf(s, "%dx%dx%d", c, h, w) == 3 && *c > 0 && *h > 0 && *w > 0 ? 0 : -1;
}

nn_graph *run_model_arg(const char *model, const char *input, int classes, nn_err *e)
{
    if (nn_file_exists(model) || strchr(model, '/') || strstr(model, ".json") || strstr(model, ".onnx"))
        return run_load_model(model, e);
    int c = 1, h = 28, w = 28;
    if (input && run_parse_input(input, &c, &h, &w)) {
        nn_fail(e, "--input '%s': expected CxHxW, e.g. 1x28x28", input);
        return NULL;
    }
    return nn_zoo_build(model, c, h, w, classes, 1, e);
}
