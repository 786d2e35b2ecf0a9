/* Helpers for the cmocka tests: persistent tensors, closeness checks,
 * and a central finite-difference gradient checker (double accumulation). */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include "nn/ops.h"

/* One 2-thread context per test binary: cmocka group setup/teardown. */
extern nn_ctx TU_CTX;
int tu_ctx_setup(void **state);
int tu_ctx_teardown(void **state);

/* A malloc-backed tensor with its own gradient buffer (outlives ctx resets). */
nn_tensor *tu_tensor(int ndim, const int *shape);
nn_tensor *tu_randn(int ndim, const int *shape, nn_rng *r, float scale);
void tu_free(nn_tensor *t);
/* TU_CTX reset for inference (no tape, eval mode) and an n x c x h x w
 * batch of N(0, 1) draws from r in it: a forward pass's input. */
nn_tensor *tu_eval_input(nn_rng *r, int n, int c, int h, int w);
/* Fail (with the first offending index) unless |a-b| <= atol + rtol*|b|. */
void tu_close(const float *a, const float *b, size_t n, float atol, float rtol, const char *what);

/* Builds the function under test from its inputs; must return any tensor. */
typedef nn_tensor *(*tu_fn)(nn_ctx *c, nn_tensor **in, void *arg);
/* Checks d(sum(f(in) * R))/d(in[k]) for every input k with requires_grad,
 * on up to max_elems entries each, against central differences. */
void tu_gradcheck(nn_ctx *c, tu_fn f, nn_tensor **in, int nin, void *arg, float eps, float atol, float rtol,
                  int max_elems, const char *what);

/* Path of the datafree binary (set by CTest as DATAFREE_BIN). */
const char *tu_bin(void);
/* Fashion-MNIST folder, or NULL when the Debian package is not installed. */
const char *tu_fmnist(void);

/* Run a shell command with stdout+stderr captured into TU_OUT; the exit code. */
extern char TU_OUT[65536];
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tu_write_text(const char *path, const char *text);
/* Writes config to path and runs `datafree cmd path`: it must exit 1 with
 * needle (e.g. the JSON path at fault) in its output. */
void tu_refuses(const char *cmd, const char *path, const char *config, const char *needle);
/* The number after "key": in TU_OUT (-1 if absent). */
double tu_out_number(const char *key);
/* The first n images and labels of data's test split as raw IDX files. */
void tu_write_idx_subset(const char *data, int n, const char *img, const char *lab);
/* A graph from its JSON text (nn_graph_from_json at "$"); fails the test,
 * printing the error, if the text does not build. */
struct nn_graph;
struct nn_graph *tu_graph_json(const char *json);
/* The exported C's fixed-point logits (LOGITS from `infer IMAGES LABELS
 * --logits LOGITS`: n x classes int32, value * 65536) against g's own
 * bit-packed inference on the n 1-channel images of the IDX file IMAGES,
 * normalised as model.c does: within 2 % of the largest logit, which must
 * not be 0. Uses TU_CTX. */
void tu_check_exported_logits(struct nn_graph *g, const char *images, const char *logits, int n);

#endif
