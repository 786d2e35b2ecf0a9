/* libFuzzer target for the ONNX reader: any bytes must give a graph or an
 * error, never a crash, hang or sanitizer report. Build and run:
 *   bash tests/fuzz/run_fuzz_onnx.sh [SECONDS]      (default 600) */
#include <stddef.h>
#include <stdint.h>

#include "nn/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_err e;
    nn_graph *g = nn_onnx_parse(data, size, NULL, &e);
    nn_graph_free(g);
    return 0;
}
