/* Format detection and batch assembly. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../data.h"
#include "../io.h"

void nn_dataset_free(nn_dataset *d)
{
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

void nn_dataset_truncate(nn_dataset *d, int n)
{
    if (n > 0 && n < d->n) d->n = n;
}

int nn_dataset_skip(nn_dataset *d, int k, nn_err *e)
{
    if (k < 0) return nn_fail(e, "cannot skip %d samples: a count >= 0", k);
    if (k >= d->n) return nn_fail(e, "cannot skip %d of %d samples: at least one must remain", k, d->n);
    size_t img = (size_t)d->c * d->h * d->w;
    memmove(d->images, d->images + (size_t)k * img, (size_t)(d->n - k) * img);
    memmove(d->labels, d->labels + k, (size_t)(d->n - k) * sizeof *d->labels);
    d->n -= k;
    return 0;
}

static int first_existing(char *out, size_t n, const char *dir, const char *const *names)
{
    for (const char *const *p = names; *p; p++) {
        snprintf(out, n, "%s/%s", dir, *p);
        if (nn_file_exists(out)) return 1;
    }
    return 0;
}

int nn_dataset_load(const char *path, const char *split, nn_dataset *d, nn_err *e)
{
    memset(d, 0, sizeof *d);
    int test = !strcmp(split, "test");
    if (strcmp(split, "train") && !test) return nn_fail(e, "split '%s': expected 'train' or 'test'", split);
    if (!nn_file_exists(path)) return nn_fail(e, "%s: no such file or folder", path);
    char img[1024], lab[1024];
    if (!nn_is_dir(path)) {
        size_t L = strlen(path);
        if (strstr(path, "images-idx3-ubyte")) {
            /* the matching labels file sits beside it */
            snprintf(lab, sizeof lab, "%s", path);
            char *p = strstr(lab, "images-idx3-ubyte");
            char tail[64];
            snprintf(tail, sizeof tail, "%s", p + strlen("images-idx3-ubyte"));
            snprintf(p, sizeof lab - (size_t)(p - lab), "labels-idx1-ubyte%s", tail);
            return nn_dataset_load_idx(path, lab, d, e);
        }
        if (L > 4 && !strcmp(path + L - 4, ".bin")) {
            const char *f[1] = {path};
            return nn_dataset_load_cifar(f, 1, 0, d, e);
        }
        return nn_fail(e, "%s: not a dataset I can read (an IDX *-images-idx3-ubyte[.gz] file, a CIFAR .bin file, "
                          "or a folder)", path);
    }
    const char *idx_img[] = {test ? "t10k-images-idx3-ubyte.gz" : "train-images-idx3-ubyte.gz",
                             test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte", NULL};
    const char *idx_lab[] = {test ? "t10k-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte.gz",
                             test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte", NULL};
    if (first_existing(img, sizeof img, path, idx_img)) {
        if (!first_existing(lab, sizeof lab, path, idx_lab))
            return nn_fail(e, "%s: found %s but no labels file beside it", path, img);
        return nn_dataset_load_idx(img, lab, d, e);
    }
    /* CIFAR-10: data_batch_1..5.bin / test_batch.bin; CIFAR-100: train.bin / test.bin */
    snprintf(img, sizeof img, "%s/%s", path, test ? "test_batch.bin" : "data_batch_1.bin");
    if (nn_file_exists(img)) {
        char names[5][1024];
        const char *files[5];
        int nf = 0;
        if (test) {
            snprintf(names[0], sizeof names[0], "%s/test_batch.bin", path);
            files[nf++] = names[0];
        } else
            for (int b = 1; b <= 5; b++) {
                snprintf(names[nf], sizeof names[nf], "%s/data_batch_%d.bin", path, b);
                if (!nn_file_exists(names[nf])) return nn_fail(e, "%s: missing (CIFAR-10 has 5 training batches)", names[nf]);
                files[nf] = names[nf];
                nf++;
            }
        return nn_dataset_load_cifar(files, nf, 0, d, e);
    }
    snprintf(img, sizeof img, "%s/%s.bin", path, split);
    if (nn_file_exists(img)) {
        const char *f[1] = {img};
        return nn_dataset_load_cifar(f, 1, 1, d, e); /* CIFAR-100 names its files train.bin/test.bin */
    }
    snprintf(img, sizeof img, "%s/%s", path, split);
    if (nn_is_dir(img)) return nn_dataset_load_folder(img, d, e);
    return nn_dataset_load_folder(path, d, e);
}

void nn_dataset_batch(const nn_dataset *d, const int *idx, int n, const float *mean, const float *std,
                      const nn_augment *aug, nn_rng *rng, float *out, int *labels)
{
    const int C = d->c, H = d->h, W = d->w;
    const size_t plane = (size_t)H * W;
    float scale[4], shift[4];
    for (int c = 0; c < C && c < 4; c++) {
        scale[c] = 1.0f / (255.0f * std[c]);
        shift[c] = -mean[c] / std[c];
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *src = d->images + (size_t)idx[i] * C * plane;
        float *dst = out + (size_t)i * C * plane;
        if (labels) labels[i] = d->labels[idx[i]];
        int dy = 0, dx = 0, flip = 0;
        if (aug && aug->crop_pad > 0) {
            dy = (int)nn_rng_below(rng, (uint32_t)(2 * aug->crop_pad + 1)) - aug->crop_pad;
            dx = (int)nn_rng_below(rng, (uint32_t)(2 * aug->crop_pad + 1)) - aug->crop_pad;
        }
        if (aug && aug->hflip) flip = nn_rng_below(rng, 2);
        for (int c = 0; c < C; c++) {
            const float sc = scale[c < 4 ? c : 3], sh = shift[c < 4 ? c : 3];
            const uint8_t *s = src + c * plane;
            float *o = dst + c * plane;
            for (int y = 0; y < H; y++) {
                int sy = y + dy;
                for (int x = 0; x < W; x++) {
                    int sx = (flip ? W - 1 - x : x) + dx;
                    /* zero padding in pixel space, then normalised */
                    float v = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? (float)s[sy * W + sx] : 0.0f;
                    o[y * W + x] = v * sc + sh;
                }
            }
        }
    }
}
