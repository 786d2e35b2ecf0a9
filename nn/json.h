/* Strict JSON field access: every error names the JSON path ("$.optim.lr")
 * and what was expected. Unknown keys are errors, so typos are caught. */
#ifndef NN_JSON_H
#define NN_JSON_H

#include <cjson/cJSON.h>

#include "core.h"

/* Each returns NN_OK, or NN_ERR with e filled. A missing optional key leaves
 * *out unchanged (callers pre-set defaults). */
int nn_json_int(const cJSON *o, const char *path, const char *key, int required, int *out, nn_err *e);
int nn_json_float(const cJSON *o, const char *path, const char *key, int required, float *out, nn_err *e);
int nn_json_bool(const cJSON *o, const char *path, const char *key, int required, int *out, nn_err *e);
int nn_json_str(const cJSON *o, const char *path, const char *key, int required, const char **out, nn_err *e);
/* Fixed-length numeric array (n = -1: any length up to max, count in *n_out). */
int nn_json_floats(const cJSON *o, const char *path, const char *key, int required, float *out, int max,
                   int *n_out, nn_err *e);
int nn_json_ints(const cJSON *o, const char *path, const char *key, int required, int *out, int max, int *n_out,
                 nn_err *e);
/* Object member that must be an object (NULL and no error when optional and absent). */
const cJSON *nn_json_obj(const cJSON *o, const char *path, const char *key, int required, nn_err *e, int *failed);
/* Fails on any key not in the NULL-terminated list. */
int nn_json_check_keys(const cJSON *o, const char *path, const char *const *allowed, nn_err *e);
/* Parse a file; error names the line. */
cJSON *nn_json_load(const char *file, nn_err *e);

#endif
