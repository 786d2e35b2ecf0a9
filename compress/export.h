/* Exporters: an IntGraph as code for other toolchains. Each writes into an
 * existing (temporary) folder; cmp_export puts each target's folder into
 * place by rename, so a failed export leaves nothing half-written. */
#ifndef CMP_EXPORT_H
#define CMP_EXPORT_H

#include "compress/lower.h"

/* Knobs of the targets (zero: the default). */
typedef struct cmp_export_opts {
    int hls_reuse; /* HLS: cycles each multiplier/adder unit is reused per output value (hls4ml's reuse
                      factor): a conv layer gets ceil(taps / reuse) units and takes H*W*C*reuse
                      cycles; 1 (default) is every tap of an output in parallel */
} cmp_export_opts;

/* Every target gets the quantized Graph, its lowering and the knobs. */
/* Standalone C99: model.c/model.h, main.c (./infer), Makefile, README.md. */
int cmp_export_c(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e);
/* QDQ ONNX (model.onnx, README.md): what ONNX Runtime and TensorRT run. */
int cmp_export_onnx_qdq(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e);
/* Vitis-HLS-style C++ (model.cpp, hls_stream.h shim, tb.cpp C-sim testbench,
 * Makefile building ./csim, estimate.json). */
int cmp_export_hls(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e);
/* CUDA (model.cu, main.cu, Makefile: `make` with nvcc, `make emu` with g++). */
int cmp_export_cuda(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e);
/* QONNX (model.onnx with Quant nodes, README.md): for FINN and hls4ml. */
int cmp_export_qonnx(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e);

/* Binary networks (sign activations, binary convs): the c target without
 * an IntGraph (g NULL in cmp_export): bit-packed convs, float elsewhere. */
int cmp_graph_is_binary(const nn_graph *g);
int cmp_export_c_binary(const nn_graph *g, const char *dir, nn_err *e);
/* main.c (./infer) and the Makefile of the c target, shared by both forms. */
int cmp_write_c_main(const char *dir, nn_err *e);

/* Targets by name ("c", "cuda", "hls", "onnx-qdq", "qonnx"); out/<target>/ for each. Unknown names
 * are refused before anything is written. */
int cmp_export(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *const *targets, int n,
               const char *out, nn_err *e);

/* For the code emitters: a static const C array of int8/int16/int32/int64 values
 * (elem_size 1, 2, 4 or 8), and a requant bound as C source (INT32_MIN spelled out). */
#include <stdio.h>
void cmp_put_array(FILE *f, const char *type, const char *name, const void *v, size_t n, int elem_size);
const char *cmp_c_int32(int32_t v, char *buf, size_t n);

#endif
