/* ONNX import: a protobuf wire-format decoder for the subset of onnx.proto
 * that CNNs use, and the mapping of an ONNX graph (opsets 11 to 17) onto the
 * Graph IR. Every malformed input (truncated, wrong wire type, lengths past
 * the end, unknown op, missing initializer) is an error naming the field or
 * node; nothing is trusted. An ONNX file carries no input preprocessing:
 * the graph gets mean 0, std 1 until the caller sets them. */
#ifndef NN_ONNX_H
#define NN_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

/* From a file; external tensor data is looked up beside it. */
nn_graph *nn_onnx_load(const char *path, nn_err *e);
/* From memory (dir: where external data files live, or NULL to refuse them). */
nn_graph *nn_onnx_parse(const uint8_t *buf, size_t len, const char *dir, nn_err *e);
/* Write a float graph as ONNX (opset 13, parameters inline); quantized
 * nodes and generator-only ops are errors. Preprocessing is not part of
 * ONNX and is not written. */
int nn_onnx_save(const nn_graph *g, const char *path, nn_err *e);
/* A quantized graph as QDQ ONNX: weights as int8 codes behind per-channel
 * DequantizeLinear, every fake_quant as Clip -> QuantizeLinear ->
 * DequantizeLinear (uint8, or int8 when symmetric), float ops between (what
 * ONNX Runtime and TensorRT consume). */
int nn_onnx_save_qdq(const nn_graph *g, const char *path, nn_err *e);
/* QONNX (FINN, hls4ml): float weights and activations behind Quant nodes
 * (domain qonnx.custom_op.general: scale, zeropt, bitwidth, signed). */
int nn_onnx_save_qonnx(const nn_graph *g, const char *path, nn_err *e);
/* Does the path name an ONNX file (by its extension)? */
int nn_onnx_is_path(const char *path);

#endif
