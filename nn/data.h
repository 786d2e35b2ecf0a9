/* Datasets held in memory as uint8 images [N, C, H, W] plus labels, read
 * from IDX (MNIST/Fashion-MNIST, gzip or raw), the CIFAR-10/100 binary
 * format, or an image folder (one sub-folder per class). Batches are made
 * as normalised float NCHW with optional random crop and flip. */
#ifndef NN_DATA_H
#define NN_DATA_H

#include "core.h"

typedef struct nn_dataset {
    int n, c, h, w, num_classes;
    uint8_t *images;
    int *labels;
    char desc[600]; /* "IDX /usr/share/.../t10k-images-idx3-ubyte.gz" */
} nn_dataset;

/* path: a folder or file in one of the formats above; split "train"/"test". */
int nn_dataset_load(const char *path, const char *split, nn_dataset *d, nn_err *e);
int nn_dataset_load_idx(const char *images, const char *labels, nn_dataset *d, nn_err *e);
int nn_dataset_load_cifar(const char **files, int nfiles, int cifar100, nn_dataset *d, nn_err *e);
int nn_dataset_load_folder(const char *dir, nn_dataset *d, nn_err *e);
void nn_dataset_free(nn_dataset *d);
/* Keep the first n samples (for quick runs). */
void nn_dataset_truncate(nn_dataset *d, int n);
/* Drop the first k samples: evaluating on the training images a run's
 * train_limit left out (a held-out validation split) without copying files. */
int nn_dataset_skip(nn_dataset *d, int k, nn_err *e);

typedef struct nn_augment {
    int crop_pad; /* random crop of the original size after zero padding */
    int hflip;    /* random horizontal flip */
} nn_augment;

/* Fill out [n, C, H, W] with (x/255 - mean) / std of samples idx[0..n),
 * labels too (if not NULL). rng may be NULL when aug is NULL. */
void nn_dataset_batch(const nn_dataset *d, const int *idx, int n, const float *mean, const float *std,
                      const nn_augment *aug, nn_rng *rng, float *out, int *labels);

#endif
