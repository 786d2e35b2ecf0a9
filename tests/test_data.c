/* Data: IDX (gzip and raw), CIFAR binary, image folders, errors for bad
 * files, batch assembly (normalisation, crop, flip), and the real
 * Fashion-MNIST when the Debian package is installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "nn/data.h"
#include "nn/io.h"
#include "testutil.h"

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_bytes(const char *path, const void *buf, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, buf, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
    }
}

/* n images of h x w with pixel (i, y, x) = i*10 + y*w + x; label i % 3 */
static void write_idx(const char *dir, const char *prefix, int n, int h, int w, int gz)
{
    char p[256];
    size_t il = 16 + (size_t)n * h * w, ll = 8 + (size_t)n;
    unsigned char *ib = malloc(il), *lb = malloc(ll);
    be32(ib, 0x803);
    be32(ib + 4, (uint32_t)n);
    be32(ib + 8, (uint32_t)h);
    be32(ib + 12, (uint32_t)w);
    be32(lb, 0x801);
    be32(lb + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        lb[8 + i] = (unsigned char)(i % 3);
        for (int k = 0; k < h * w; k++) ib[16 + (size_t)i * h * w + k] = (unsigned char)(i * 10 + k);
    }
    const char *ext = gz ? ".gz" : "";
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, prefix, ext);
    write_bytes(p, ib, il, gz);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, prefix, ext);
    write_bytes(p, lb, ll, gz);
    free(ib);
    free(lb);
}

static void test_idx(void **s)
{
    (void)s;
    nn_err e;
    nn_mkdirs("/tmp/datafree_idx_gz", &e);
    nn_mkdirs("/tmp/datafree_idx_raw", &e);
    write_idx("/tmp/datafree_idx_gz", "train", 5, 3, 4, 1);
    write_idx("/tmp/datafree_idx_gz", "t10k", 2, 3, 4, 1);
    write_idx("/tmp/datafree_idx_raw", "t10k", 2, 3, 4, 0);
    nn_dataset d;
    assert_int_equal(nn_dataset_load("/tmp/datafree_idx_gz", "train", &d, &e), NN_OK);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.c * 100 + d.h * 10 + d.w, 134);
    assert_int_equal(d.images[2 * 12 + 5], 25);
    assert_int_equal(d.labels[4], 1);
    assert_int_equal(d.num_classes, 3);
    /* skip 2 then keep 2: images 2 and 3, labels 2 and 0 */
    assert_int_equal(nn_dataset_skip(&d, 2, &e), NN_OK);
    nn_dataset_truncate(&d, 2);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.images[0], 20);
    assert_int_equal(d.images[12 + 5], 35);
    assert_int_equal(d.labels[0] * 10 + d.labels[1], 20);
    assert_int_equal(d.num_classes, 3);
    assert_int_equal(nn_dataset_skip(&d, 2, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "at least one must remain"));
    assert_int_equal(nn_dataset_skip(&d, -1, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "a count >= 0"));
    assert_int_equal(d.n, 2);
    nn_dataset_free(&d);
    assert_int_equal(nn_dataset_load("/tmp/datafree_idx_raw", "test", &d, &e), NN_OK);
    assert_int_equal(d.n, 2);
    nn_dataset_free(&d);
    /* a file path works too; its labels are found beside it */
    assert_int_equal(nn_dataset_load("/tmp/datafree_idx_gz/t10k-images-idx3-ubyte.gz", "test", &d, &e), NN_OK);
    assert_int_equal(d.n, 2);
    nn_dataset_free(&d);
    /* truncation and bad magic are reported */
    FILE *f = fopen("/tmp/datafree_idx_raw/t10k-images-idx3-ubyte", "r+b");
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftruncate(fileno(f), 20), 0);
    fclose(f);
    assert_int_equal(nn_dataset_load("/tmp/datafree_idx_raw", "test", &d, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "truncated"));
    f = fopen("/tmp/datafree_idx_raw/t10k-images-idx3-ubyte", "wb");
    fwrite("garbage-garbage-garbage", 1, 23, f);
    fclose(f);
    assert_int_equal(nn_dataset_load("/tmp/datafree_idx_raw", "test", &d, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "not an IDX image file"));
    assert_int_equal(nn_dataset_load("/tmp/no/such/dir", "test", &d, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "no such file or folder"));
    assert_int_equal(nn_dataset_load("/tmp/datafree_idx_gz", "val", &d, &e), NN_ERR);
}

static void test_cifar(void **s)
{
    (void)s;
    nn_err e;
    nn_mkdirs("/tmp/datafree_cifar", &e);
    unsigned char rec[3073 * 2];
    for (int r = 0; r < 2; r++) {
        rec[r * 3073] = (unsigned char)(7 + r);
        for (int k = 0; k < 3072; k++) rec[r * 3073 + 1 + k] = (unsigned char)((k + r) & 255);
    }
    assert_int_equal(nn_write_file_atomic("/tmp/datafree_cifar/test_batch.bin", rec, sizeof rec, &e), NN_OK);
    nn_dataset d;
    assert_int_equal(nn_dataset_load("/tmp/datafree_cifar", "test", &d, &e), NN_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.c, 3);
    assert_int_equal(d.labels[1], 8);
    assert_int_equal(d.images[3072 + 1024], (1024 + 1) & 255); /* record 1, green plane, first pixel */
    nn_dataset_free(&d);
    assert_int_equal(nn_write_file_atomic("/tmp/datafree_cifar/test_batch.bin", rec, 3000, &e), NN_OK);
    assert_int_equal(nn_dataset_load("/tmp/datafree_cifar", "test", &d, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "not a whole number"));
}

static void test_folder(void **s)
{
    (void)s;
    nn_err e;
    const char *cls[2] = {"cat", "dog"};
    unsigned char px[6 * 5 * 3];
    char p[256];
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "/tmp/datafree_folder/%s", cls[c]);
        nn_mkdirs(p, &e);
        for (int i = 0; i < 2; i++) {
            for (int k = 0; k < 90; k++) px[k] = (unsigned char)(c * 100 + i * 10 + k % 3);
            snprintf(p, sizeof p, "/tmp/datafree_folder/%s/%d.png", cls[c], i);
            assert_true(stbi_write_png(p, 6, 5, 3, px, 6 * 3));
        }
    }
    nn_write_file_atomic("/tmp/datafree_folder/dog/notes.txt", "x", 1, &e); /* not an image: skipped */
    nn_dataset d;
    assert_int_equal(nn_dataset_load_folder("/tmp/datafree_folder", &d, &e), NN_OK);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.num_classes, 2);
    assert_int_equal(d.c, 3);
    assert_int_equal(d.h * 10 + d.w, 56);
    assert_int_equal(d.labels[3], 1);
    /* planar: record 3 (dog, 1), channel 2, pixel 0 = 100 + 10 + 2 */
    assert_int_equal(d.images[3 * 90 + 2 * 30], 112);
    nn_dataset_free(&d);
    /* an image of another size is an error that names it */
    unsigned char big[8 * 8 * 3] = {0};
    stbi_write_png("/tmp/datafree_folder/cat/9.png", 8, 8, 3, big, 24);
    assert_int_equal(nn_dataset_load_folder("/tmp/datafree_folder", &d, &e), NN_ERR);
    assert_non_null(strstr(e.msg, "9.png: 8x8"));
    remove("/tmp/datafree_folder/cat/9.png");
}

static void test_batch(void **s)
{
    (void)s;
    uint8_t img[2 * 3 * 3] = {0, 51, 102, 153, 204, 255, 10, 20, 30, /* ch 0 */
                              1, 2, 3, 4, 5, 6, 7, 8, 9};             /* ch 1 */
    int lab = 4;
    nn_dataset d = {.n = 1, .c = 2, .h = 3, .w = 3, .num_classes = 5, .images = img, .labels = &lab};
    float out[18], mean[2] = {0.5f, 0.0f}, std[2] = {0.5f, 1.0f};
    int idx = 0, l = -1;
    nn_dataset_batch(&d, &idx, 1, mean, std, NULL, NULL, out, &l);
    assert_int_equal(l, 4);
    assert_true(fabsf(out[0] + 1.0f) < 1e-6f && fabsf(out[5] - 1.0f) < 1e-6f);
    assert_true(fabsf(out[9] - 1.0f / 255.0f) < 1e-6f);
    /* flips and crops: over many draws, each output is one of the 5x5 x 2
     * shifted/flipped copies; the flipped, unshifted copy must appear */
    nn_augment aug = {1, 1};
    nn_rng r;
    nn_rng_seed(&r, 1);
    int seen_flip = 0;
    for (int t = 0; t < 200; t++) {
        nn_dataset_batch(&d, &idx, 1, mean, std, &aug, &r, out, NULL);
        float want[3] = {102, 51, 0}; /* first row reversed */
        int match = 1;
        for (int x = 0; x < 3; x++) match &= fabsf(out[x] - (want[x] / 255.0f - 0.5f) / 0.5f) < 1e-5f;
        seen_flip |= match;
    }
    assert_true(seen_flip);
}

static void test_fashion_mnist(void **s)
{
    (void)s;
    const char *dir = tu_fmnist();
    if (!dir) skip();
    nn_err e;
    nn_dataset d;
    assert_int_equal(nn_dataset_load(dir, "test", &d, &e), NN_OK);
    assert_int_equal(d.n, 10000);
    assert_int_equal(d.h, 28);
    assert_int_equal(d.num_classes, 10);
    int hist[10] = {0};
    for (int i = 0; i < d.n; i++) hist[d.labels[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(hist[k], 1000);
    nn_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_idx), cmocka_unit_test(test_cifar),
                                       cmocka_unit_test(test_folder), cmocka_unit_test(test_batch),
                                       cmocka_unit_test(test_fashion_mnist)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
