/* Forward (and some backward) results against PyTorch, from the vectors
 * made by tests/vectors/make_parity.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io.h"
#include "nn/optim.h"
#include "testutil.h"

static nn_ctx C;
static nn_st_file F;

static int setup(void **s)
{
    (void)s;
    nn_err e;
    nn_ctx_init(&C, 2, 1 << 20);
    if (nn_st_open(&F, "tests/vectors/parity.safetensors", &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    nn_st_close(&F);
    nn_ctx_free(&C);
    return 0;
}

/* A context tensor holding a copy of the named vector. */
static nn_tensor *vec(const char *name, int grad)
{
    nn_err e;
    int nd, sh[4];
    const float *d = nn_st_get(&F, name, &nd, sh, &e);
    if (!d) {
        print_error("%s\n", e.msg);
        fail();
    }
    if (nd == 0) {
        nd = 1;
        sh[0] = 1;
    }
    nn_tensor *t = nn_new(&C, nd, sh);
    memcpy(t->data, d, t->numel * sizeof(float));
    if (grad) {
        t->requires_grad = 1;
        t->is_param = 1;
        t->grad = nn_arena_zeros(&C.arena, t->numel);
    }
    return t;
}

static void expect(const nn_tensor *got, const char *name, float atol, float rtol)
{
    nn_tensor *want = vec(name, 0);
    assert_int_equal(got->numel, want->numel);
    tu_close(got->data, want->data, got->numel, atol, rtol, name);
}

static void expect_grad(const nn_tensor *got, const char *name, float atol, float rtol)
{
    nn_tensor *want = vec(name, 0);
    assert_int_equal(got->numel, want->numel);
    tu_close(got->grad, want->data, got->numel, atol, rtol, name);
}

static void test_conv(void **s)
{
    (void)s;
    const char *names[] = {"conv_s1", "conv_s2", "conv_dil", "conv_grp", "conv_dw", "conv_k5", "conv_1x1", "conv_k1s2",
                           "conv_d16", "conv_d16dil", "conv_d16k5", "conv_d16tail", "conv_chunk1"};
    char k[64];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        nn_ctx_reset(&C);
        snprintf(k, sizeof k, "%s.attr", names[i]);
        nn_tensor *at = vec(k, 0);
        nn_conv_attr a = {.stride = (int)at->data[0], .pad = (int)at->data[1], .dilation = (int)at->data[2], .groups = (int)at->data[3]};
        int bias = (int)at->data[4];
        snprintf(k, sizeof k, "%s.x", names[i]);
        nn_tensor *x = vec(k, 1);
        snprintf(k, sizeof k, "%s.w", names[i]);
        nn_tensor *w = vec(k, 1), *b = NULL;
        if (bias) {
            snprintf(k, sizeof k, "%s.b", names[i]);
            b = vec(k, 1);
        }
        /* x goes through an intermediate so the fresh-dx path runs too */
        nn_tensor *xi = nn_scale(&C, x, 1.0f);
        nn_tensor *y = nn_conv2d(&C, xi, w, b, a);
        snprintf(k, sizeof k, "%s.y", names[i]);
        expect(y, k, 1e-4f, 1e-4f);
        snprintf(k, sizeof k, "%s.dy", names[i]);
        nn_tensor *dy = vec(k, 0);
        nn_tensor *loss = nn_sum(&C, nn_mul(&C, y, dy));
        nn_backward(&C, loss);
        snprintf(k, sizeof k, "%s.dx", names[i]);
        expect_grad(x, k, 1e-4f, 1e-4f);
        snprintf(k, sizeof k, "%s.dw", names[i]);
        expect_grad(w, k, 1e-4f, 1e-4f);
        if (b) {
            snprintf(k, sizeof k, "%s.db", names[i]);
            expect_grad(b, k, 1e-4f, 1e-4f);
        }
    }
}

static void test_batchnorm(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    nn_tensor *x = vec("bn.x", 0), *g = vec("bn.gamma", 0), *b = vec("bn.beta", 0);
    nn_tensor *rm = vec("bn.rm0", 0), *rv = vec("bn.rv0", 0);
    float rm0[3], rv0[3];
    memcpy(rm0, rm->data, sizeof rm0);
    memcpy(rv0, rv->data, sizeof rv0);
    C.training = 1;
    nn_tensor *y = nn_batchnorm(&C, x, g, b, rm->data, rv->data, (nn_bn_attr){.eps = 1e-5f, .momentum = 0.1f, .relu = 0});
    expect(y, "bn.y_train", 1e-5f, 1e-4f);
    expect(rm, "bn.rm1", 1e-6f, 1e-5f);
    expect(rv, "bn.rv1", 1e-6f, 1e-5f);
    memcpy(rm->data, rm0, sizeof rm0);
    memcpy(rv->data, rv0, sizeof rv0);
    C.training = 0;
    y = nn_batchnorm(&C, x, g, b, rm->data, rv->data, (nn_bn_attr){.eps = 1e-5f, .momentum = 0.1f, .relu = 0});
    C.training = 1;
    expect(y, "bn.y_eval", 1e-5f, 1e-4f);
}

static void test_pooling(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    nn_tensor *x = vec("pool.x", 0);
    expect(nn_maxpool2d(&C, x, (nn_pool_attr){3, 2, 1, 1}), "pool.max_k3s2p1", 0, 0);
    expect(nn_maxpool2d(&C, x, (nn_pool_attr){2, 2, 0, 1}), "pool.max_k2s2p0", 0, 0);
    expect(nn_avgpool2d(&C, x, (nn_pool_attr){3, 2, 1, 1}), "pool.avg_k3s2p1_incl", 1e-6f, 1e-5f);
    expect(nn_avgpool2d(&C, x, (nn_pool_attr){3, 2, 1, 0}), "pool.avg_k3s2p1_excl", 1e-6f, 1e-5f);
    expect(nn_global_avgpool(&C, x), "pool.gap", 1e-6f, 1e-5f);
}

static void test_upsample(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    nn_tensor *x = vec("up.x", 1);
    expect(nn_upsample_nearest(&C, x, 2), "up.nearest", 0, 0);
    nn_tensor *y = nn_upsample_bilinear(&C, x, 2);
    expect(y, "up.bilinear", 1e-6f, 1e-5f);
    nn_backward(&C, nn_sum(&C, nn_mul(&C, y, vec("up.bilinear_dy", 0))));
    expect_grad(x, "up.bilinear_dx", 1e-5f, 1e-5f);
}

static void test_losses(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    nn_tensor *z = vec("loss.z", 0), *t = vec("loss.t", 0), *lf = vec("loss.labels", 0);
    int labels[8];
    for (size_t i = 0; i < lf->numel; i++) labels[i] = (int)lf->data[i];
    expect(nn_softmax(&C, z), "loss.softmax", 1e-6f, 1e-5f);
    expect(nn_log_softmax(&C, z), "loss.log_softmax", 1e-5f, 1e-5f);
    expect(nn_cross_entropy(&C, z, labels, 0.0f), "loss.ce", 1e-5f, 1e-5f);
    expect(nn_cross_entropy(&C, z, labels, 0.1f), "loss.ce_ls", 1e-5f, 1e-5f);
    expect(nn_kl_div(&C, z, t, 4.0f), "loss.kl_T4", 1e-6f, 1e-5f);
}

/* Three optimiser steps on fixed gradients match torch.optim. */
static void test_optimizers(void **s)
{
    (void)s;
    nn_ctx_reset(&C);
    const char *names[4] = {"sgd", "sgd_nesterov", "adam", "adamw"};
    const nn_optim_kind kinds[4] = {NN_SGD, NN_SGD, NN_ADAM, NN_ADAMW};
    const float lrs[4] = {0.1f, 0.1f, 0.01f, 0.01f}, wds[4] = {5e-4f, 1e-2f, 1e-2f, 1e-2f};
    for (int k = 0; k < 4; k++) {
        nn_graph *g = nn_graph_new("p", 1, 1, 1, 10);
        nn_g_linear(g, "fc", 0, 10, 0); /* a 10x1 weight: 10 parameters */
        nn_err e;
        assert_int_equal(nn_graph_finalize(g, &e), NN_OK);
        memcpy(g->blob, vec("optim.p0", 0)->data, 10 * sizeof(float));
        nn_optim o;
        nn_optim_init(&o, kinds[k], g);
        o.weight_decay = wds[k];
        o.nesterov = k == 1;
        char key[32];
        for (int step = 0; step < 3; step++) {
            snprintf(key, sizeof key, "optim.g%d", step);
            memcpy(g->grad, vec(key, 0)->data, 10 * sizeof(float));
            nn_optim_step(&o, g, lrs[k]);
        }
        nn_tensor got = {.ndim = 1, .shape = {10}, .numel = 10, .data = g->blob};
        snprintf(key, sizeof key, "optim.%s", names[k]);
        expect(&got, key, 1e-6f, 1e-5f);
        nn_optim_free(&o);
        nn_graph_free(g);
    }
}

/* Schedules by formula, and global-norm clipping. */
static void test_schedules_and_clip(void **s)
{
    (void)s;
    nn_sched cos = {.kind = NN_SCHED_COSINE, .lr = 0.1f, .min_lr = 0.0f, .warmup_steps = 10, .warmup_start = 0.001f,
                    .total_steps = 110};
    assert_true(fabsf(nn_sched_lr(&cos, 0) - (0.001f + 0.099f * 0.1f)) < 1e-7f); /* warmup, linear */
    assert_true(fabsf(nn_sched_lr(&cos, 9) - 0.1f) < 1e-7f);
    assert_true(fabsf(nn_sched_lr(&cos, 10) - 0.1f) < 1e-7f);                       /* cosine starts at lr */
    assert_true(fabsf(nn_sched_lr(&cos, 60) - 0.05f) < 1e-6f);                      /* half way: lr / 2 */
    assert_true(fabsf(nn_sched_lr(&cos, 110)) < 1e-7f);
    nn_sched ms = {.kind = NN_SCHED_MULTISTEP, .lr = 0.1f, .gamma = 0.1f, .milestones = {5, 8}, .nmilestones = 2};
    assert_true(nn_sched_lr(&ms, 4) == 0.1f);
    assert_true(fabsf(nn_sched_lr(&ms, 5) - 0.01f) < 1e-8f && fabsf(nn_sched_lr(&ms, 8) - 0.001f) < 1e-9f);
    nn_graph *g = nn_graph_new("p", 1, 1, 1, 2);
    nn_g_linear(g, "fc", 0, 2, 0);
    nn_err e;
    assert_int_equal(nn_graph_finalize(g, &e), NN_OK);
    g->grad[0] = 3.0f;
    g->grad[1] = 4.0f;
    assert_true(fabsf(nn_grad_clip(g, 0.0f) - 5.0f) < 1e-6f); /* measure only */
    assert_true(g->grad[0] == 3.0f);
    nn_grad_clip(g, 1.0f);
    assert_true(fabsf(g->grad[0] - 0.6f) < 1e-5f && fabsf(g->grad[1] - 0.8f) < 1e-5f);
    const char *bad = NULL;
    assert_false(nn_grad_nonfinite(g, &bad));
    g->grad[1] = NAN;
    assert_true(nn_grad_nonfinite(g, &bad) && !strcmp(bad, "fc.weight"));
    nn_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv), cmocka_unit_test(test_batchnorm),
                                       cmocka_unit_test(test_pooling), cmocka_unit_test(test_upsample),
                                       cmocka_unit_test(test_losses), cmocka_unit_test(test_optimizers),
                                       cmocka_unit_test(test_schedules_and_clip)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
