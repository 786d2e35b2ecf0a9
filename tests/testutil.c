#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "nn/data.h"
#include "nn/graph.h"
#include "nn/io.h"

nn_ctx TU_CTX;

int tu_ctx_setup(void **state)
{
    (void)state;
    nn_ctx_init(&TU_CTX, 2, 1 << 20);
    return 0;
}

int tu_ctx_teardown(void **state)
{
    (void)state;
    nn_ctx_free(&TU_CTX);
    return 0;
}

nn_tensor *tu_tensor(int ndim, const int *shape)
{
    nn_tensor *t = calloc(1, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    t->numel = nn_shape_numel(ndim, shape);
    t->data = calloc(t->numel, sizeof(float));
    t->grad = calloc(t->numel, sizeof(float));
    t->requires_grad = 1;
    t->is_param = 1;
    return t;
}

nn_tensor *tu_randn(int ndim, const int *shape, nn_rng *r, float scale)
{
    nn_tensor *t = tu_tensor(ndim, shape);
    for (size_t i = 0; i < t->numel; i++) t->data[i] = scale * nn_rng_normal(r);
    return t;
}

void tu_free(nn_tensor *t)
{
    if (!t) return;
    free(t->data);
    free(t->grad);
    free(t);
}

void tu_close(const float *a, const float *b, size_t n, float atol, float rtol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= atol + rtol * fabsf(b[i]))) {
            print_error("%s: element %zu: got %.7g, expected %.7g (|diff| %.3g)\n", what, i, a[i], b[i], d);
            fail();
        }
    }
}

static double weighted_sum(const nn_tensor *y, const float *R)
{
    double s = 0.0;
    for (size_t i = 0; i < y->numel; i++) s += (double)y->data[i] * R[i];
    return s;
}

void tu_gradcheck(nn_ctx *c, tu_fn f, nn_tensor **in, int nin, void *arg, float eps, float atol, float rtol,
                  int max_elems, const char *what)
{
    nn_rng r;
    nn_rng_seed(&r, 99);
    /* analytic */
    nn_ctx_reset(c);
    for (int k = 0; k < nin; k++)
        if (in[k]->requires_grad) memset(in[k]->grad, 0, in[k]->numel * sizeof(float));
    c->grad_enabled = 1;
    nn_tensor *y = f(c, in, arg);
    float *R = malloc(y->numel * sizeof(float));
    for (size_t i = 0; i < y->numel; i++) R[i] = nn_rng_normal(&r);
    nn_tensor *rt = nn_view(c, R, y->ndim, y->shape);
    nn_tensor *loss = nn_sum(c, nn_mul(c, y, rt));
    nn_backward(c, loss);
    char label[200];
    for (int k = 0; k < nin; k++) {
        if (!in[k]->requires_grad) continue;
        float *ana = malloc(in[k]->numel * sizeof(float));
        memcpy(ana, in[k]->grad, in[k]->numel * sizeof(float));
        size_t n = in[k]->numel, step = n > (size_t)max_elems ? n / (size_t)max_elems : 1;
        for (size_t i = 0; i < n; i += step) {
            float keep = in[k]->data[i];
            c->grad_enabled = 0;
            in[k]->data[i] = keep + eps;
            nn_ctx_reset(c);
            double lp = weighted_sum(f(c, in, arg), R);
            in[k]->data[i] = keep - eps;
            nn_ctx_reset(c);
            double lm = weighted_sum(f(c, in, arg), R);
            in[k]->data[i] = keep;
            c->grad_enabled = 1;
            float num = (float)((lp - lm) / (2.0 * eps));
            snprintf(label, sizeof label, "%s: d/d input %d", what, k);
            float d = fabsf(ana[i] - num);
            if (!(d <= atol + rtol * fabsf(num))) {
                print_error("%s: element %zu: analytic %.7g, numeric %.7g\n", label, i, ana[i], num);
                fail();
            }
        }
        free(ana);
    }
    free(R);
    nn_ctx_reset(c);
}

const char *tu_bin(void)
{
    const char *b = getenv("DATAFREE_BIN");
    return b ? b : "build/datafree";
}

const char *tu_fmnist(void)
{
    const char *d = getenv("DATAFREE_FMNIST");
    if (!d) d = "/usr/share/datasets/fashion-mnist";
    char p[512];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", d);
    return nn_file_exists(p) ? d : NULL;
}

char TU_OUT[65536];

int tu_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    size_t n = fread(TU_OUT, 1, sizeof TU_OUT - 1, p);
    TU_OUT[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tu_write_text(const char *path, const char *text)
{
    nn_err e;
    assert_int_equal(nn_write_file_atomic(path, text, strlen(text), &e), NN_OK);
}

void tu_refuses(const char *cmd, const char *path, const char *config, const char *needle)
{
    tu_write_text(path, config);
    assert_int_equal(tu_sh("%s %s %s", tu_bin(), cmd, path), 1);
    if (!strstr(TU_OUT, needle)) {
        print_error("datafree %s %s said\n%s\nwithout '%s'\n", cmd, path, TU_OUT, needle);
        fail();
    }
}

double tu_out_number(const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(TU_OUT, k);
    return p ? atof(p + strlen(k)) : -1.0;
}

/* The first n test images and labels as raw IDX files. */
void tu_write_idx_subset(const char *data, int n, const char *img, const char *lab)
{
    nn_dataset d;
    nn_err e = {0};
    assert_int_equal(nn_dataset_load(data, "test", &d, &e), 0);
    const size_t per = (size_t)d.c * d.h * d.w;
    FILE *f = fopen(img, "wb"), *g = fopen(lab, "wb");
    assert_non_null(f);
    assert_non_null(g);
    const unsigned char hi[16] = {0, 0, 8, 3, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                                  (unsigned char)n, 0, 0, 0, (unsigned char)d.h, 0, 0, 0, (unsigned char)d.w};
    const unsigned char hl[8] = {0, 0, 8, 1, hi[4], hi[5], hi[6], hi[7]};
    fwrite(hi, 1, 16, f);
    fwrite(d.images, 1, per * (size_t)n, f);
    fwrite(hl, 1, 8, g);
    for (int i = 0; i < n; i++) fputc(d.labels[i], g);
    fclose(f);
    fclose(g);
    nn_dataset_free(&d);
}

nn_tensor *tu_eval_input(nn_rng *r, int n, int c, int h, int w)
{
    nn_ctx_reset(&TU_CTX);
    TU_CTX.training = 0;
    TU_CTX.grad_enabled = 0;
    nn_tensor *x = nn_new4(&TU_CTX, n, c, h, w);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = nn_rng_normal(r);
    return x;
}

void tu_check_exported_logits(nn_graph *g, const char *images, const char *logits, int n)
{
    nn_err e = {0};
    size_t len = 0;
    unsigned char *img = (unsigned char *)nn_read_file(images, NULL, &e);
    int32_t *lg = (int32_t *)nn_read_file(logits, &len, &e);
    assert_non_null(img);
    assert_non_null(lg);
    const int K = g->num_classes, H = g->in_shape[1], W = g->in_shape[2];
    assert_int_equal(len, sizeof(int32_t) * (size_t)n * K);
    nn_ctx_reset(&TU_CTX);
    TU_CTX.training = 0;
    TU_CTX.grad_enabled = 0;
    nn_tensor *x = nn_new4(&TU_CTX, n, 1, H, W);
    for (size_t i = 0; i < x->numel; i++) x->data[i] = ((float)img[16 + i] / 255.0f - g->mean[0]) / g->std[0]; /* as model.c */
    nn_fwd_opts po = {.binary_packed = 1};
    nn_tensor *y = nn_graph_forward(g, &TU_CTX, x, &po);
    double range = 0, worst = 0;
    for (int i = 0; i < n * K; i++) {
        range = fmax(range, fabs(y->data[i]));
        worst = fmax(worst, fabs(lg[i] / 65536.0 - y->data[i]));
    }
    print_message("exported vs bit-packed logits: largest difference %.3g, largest logit %.3g\n", worst, range);
    assert_true(range > 0 && worst < 0.02 * range);
    free(img), free(lg);
}

nn_graph *tu_graph_json(const char *json)
{
    nn_err e = {0};
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    nn_graph *g = nn_graph_from_json(j, "$", &e);
    cJSON_Delete(j);
    if (!g) {
        print_error("graph does not build: %s\n", e.msg);
        fail();
    }
    return g;
}
