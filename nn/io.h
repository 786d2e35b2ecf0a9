/* File helpers: whole-file reads, atomic writes (temp + rename), folders,
 * and the safetensors format (little-endian u64 header length, JSON header,
 * raw data), read and written as the reference implementation does. */
#ifndef NN_IO_H
#define NN_IO_H

#include <stdio.h>

#include "core.h"

char *nn_read_file(const char *path, size_t *len, nn_err *e); /* NUL-terminated */
int nn_write_file_atomic(const char *path, const void *data, size_t len, nn_err *e);
/* Open path.tmp for writing; nn_atomic_commit fsyncs, closes and renames. */
FILE *nn_atomic_open(const char *path, nn_err *e);
int nn_atomic_commit(FILE *f, const char *path, nn_err *e);
int nn_mkdirs(const char *path, nn_err *e);
int nn_file_exists(const char *path);
int nn_is_dir(const char *path);

typedef struct nn_st_tensor {
    const char *name;
    int ndim;
    int shape[4];
    const float *data;
} nn_st_tensor;

/* metadata: NULL or a flat JSON object of string values. */
int nn_st_write(const char *path, const nn_st_tensor *ts, int n, const char *metadata_json, nn_err *e);

typedef struct nn_st_file {
    char *buf;
    size_t len;
    struct cJSON *header;
    size_t data_off;
    char path[512];
} nn_st_file;

int nn_st_open(nn_st_file *f, const char *path, nn_err *e);
/* F32 data of a named tensor, or NULL with e filled (missing, dtype, range). */
const float *nn_st_get(nn_st_file *f, const char *name, int *ndim, int shape[4], nn_err *e);
/* String metadata value or NULL. */
const char *nn_st_meta(nn_st_file *f, const char *key);
void nn_st_close(nn_st_file *f);

#endif
