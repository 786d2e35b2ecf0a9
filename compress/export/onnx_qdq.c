/* The onnx-qdq target: the quantized Graph as QDQ ONNX (nn_onnx_save_qdq).
 * It takes the float input the float model takes ((pixel/255 - mean)/std)
 * and rounds where the fake-quant model rounds, in float, as ONNX Runtime
 * does; the integer exports round in fixed point, so the two agree on top-1
 * except at near-ties (tests/ort/eval_qdq.js measures it). */
#include <stdio.h>
#include <string.h>

#include "compress/export.h"
#include "nn/io.h"
#include "nn/onnx.h"

int cmp_export_onnx_qdq(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e)
{
    (void)g, (void)o;
    char path[1200], readme[1600];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (nn_onnx_save_qdq(q, path, e)) return NN_ERR;
    int k = snprintf(readme, sizeof readme,
                     "# %s as QDQ ONNX, exported by `datafree export --target onnx-qdq`\n\n"
                     "Opset 13. Input `input`: float [N, %d, %d, %d], the image preprocessed as the model\n"
                     "was trained: (pixel / 255 - mean) / std with mean %g, std %g (first channel).\n"
                     "Weights are int8 codes behind per-channel DequantizeLinear; every activation\n"
                     "quantizer is Clip -> QuantizeLinear -> DequantizeLinear (uint8 codes; the Clip\n"
                     "keeps sub-8-bit ranges). Output: the float logits.\n",
                     q->name, q->in_shape[0], q->in_shape[1], q->in_shape[2], q->mean[0], q->std[0]);
    snprintf(path, sizeof path, "%s/README.md", dir);
    return nn_write_file_atomic(path, readme, (size_t)k, e);
}

int cmp_export_qonnx(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e)
{
    (void)g, (void)o;
    char path[1200], readme[1200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (nn_onnx_save_qonnx(q, path, e)) return NN_ERR;
    int k = snprintf(readme, sizeof readme,
                     "# %s as QONNX, exported by `datafree export --target qonnx`\n\n"
                     "Opset 13 plus domain qonnx.custom_op.general (FINN, hls4ml): float weights and\n"
                     "activations behind `Quant` nodes (scale, zeropt, bitwidth; signed weight codes,\n"
                     "unsigned activation codes, rounding half to even). Input as the float model's:\n"
                     "(pixel / 255 - mean) / std, mean %g, std %g.\n",
                     q->name, q->mean[0], q->std[0]);
    snprintf(path, sizeof path, "%s/README.md", dir);
    return nn_write_file_atomic(path, readme, (size_t)k, e);
}
