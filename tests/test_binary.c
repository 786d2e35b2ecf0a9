/* Binarizers (nn/ops/binary.c) against their defining formulas, and binary
 * layers in the Graph IR (JSON attributes, forward/backward through them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nn/graph.h"
#include "testutil.h"

#define C TU_CTX

static void test_binarize_weight(void **s)
{
    (void)s;
    nn_rng r;
    nn_rng_seed(&r, 8);
    for (int perch = 0; perch < 2; perch++) {
        nn_tensor *w = tu_randn(4, (int[]){3, 2, 3, 3}, &r, 0.5f);
        w->data[4] = 0.0f; /* sign(0) = +1 */
        nn_ctx_reset(&C);
        C.grad_enabled = 1;
        memset(w->grad, 0, w->numel * sizeof(float));
        nn_tensor *b = nn_binarize_weight(&C, w, perch);
        nn_tensor *G = nn_new(&C, 4, w->shape);
        for (size_t i = 0; i < G->numel; i++) G->data[i] = (float)((int)(i % 5) - 2);
        nn_backward(&C, nn_sum(&C, nn_mul(&C, b, G)));
        const size_t per = perch ? 18 : w->numel;
        for (size_t i = 0; i < w->numel; i++) {
            const size_t c0 = perch ? (i / per) * per : 0;
            double sc = 0;
            for (size_t k = c0; k < c0 + per; k++) sc += fabs(w->data[k]);
            sc /= (double)per;
            const double want = sc * (w->data[i] < 0 ? -1.0 : 1.0);
            assert_true(fabs(b->data[i] - want) < 1e-6);
            assert_true(fabs(w->grad[i] - sc * G->data[i]) < 1e-5); /* scaled STE */
        }
        tu_free(w);
    }
}

static void test_sign_approx(void **s)
{
    (void)s;
    const float xs[] = {-1.5f, -1.0f, -0.75f, -0.25f, 0.0f, 0.25f, 0.75f, 1.0f, 1.5f};
    const int n = 9;
    for (int approx = 0; approx < 2; approx++) {
        nn_tensor *x = tu_tensor(2, (int[]){1, n});
        memcpy(x->data, xs, sizeof xs);
        memset(x->grad, 0, n * sizeof(float));
        nn_ctx_reset(&C);
        C.grad_enabled = 1;
        nn_tensor *y = nn_sign(&C, x, approx);
        nn_backward(&C, nn_sum(&C, y));
        for (int i = 0; i < n; i++) {
            const float v = xs[i];
            assert_true(y->data[i] == (v < 0 ? -1.0f : 1.0f));
            const float want = approx ? (v >= -1 && v < 0 ? 2 + 2 * v : (v >= 0 && v < 1 ? 2 - 2 * v : 0))
                                      : (fabsf(v) <= 1 ? 1.0f : 0.0f);
            if (fabsf(x->grad[i] - want) > 1e-6f) {
                print_error("%s at %g: gradient %g, formula %g\n", approx ? "ApproxSign" : "STE", v, x->grad[i], want);
                fail();
            }
        }
        tu_free(x);
    }
}

/* A binary conv block as JSON: round trip, and gradients reach the float
 * weights through the binarizer and the input through the sign. */
static void test_binary_graph(void **s)
{
    (void)s;
    const char *js = "{\"input\":[2,6,6],\"num_classes\":3,\"nodes\":["
                     "{\"name\":\"s\",\"op\":\"sign\"},"
                     "{\"name\":\"c\",\"op\":\"conv2d\",\"out_channels\":4,\"kernel\":3,\"padding\":1,"
                     "\"binary_weights\":\"channel\"},"
                     "{\"name\":\"bn\",\"op\":\"batchnorm\"},{\"name\":\"gap\",\"op\":\"global_avgpool\"},"
                     "{\"name\":\"fc\",\"op\":\"linear\",\"out_features\":3}]}";
    nn_err e = {0};
    cJSON *j = cJSON_Parse(js);
    nn_graph *g = nn_graph_from_json(j, "$", &e);
    cJSON_Delete(j);
    assert_non_null(g);
    nn_graph_init_params(g, 1, NN_INIT_KAIMING);
    assert_int_equal(g->nodes[nn_graph_find(g, "c")].wbin, 2);
    assert_int_equal(g->nodes[nn_graph_find(g, "s")].approx, 1);
    cJSON *out = nn_graph_to_json(g);
    char *txt = cJSON_PrintUnformatted(out);
    assert_non_null(strstr(txt, "\"binary_weights\":\"channel\""));
    assert_non_null(strstr(txt, "\"approx\":true"));
    free(txt);
    cJSON_Delete(out);
    nn_graph_set_trainable(g, 1);
    nn_ctx_reset(&C);
    C.training = 1;
    C.grad_enabled = 1;
    nn_rng r;
    nn_rng_seed(&r, 2);
    nn_tensor *x = tu_randn(4, (int[]){2, 2, 6, 6}, &r, 0.6f);
    memset(x->grad, 0, x->numel * sizeof(float));
    nn_tensor *y = nn_graph_forward(g, &C, x, NULL);
    int labels[2] = {0, 2};
    nn_graph_zero_grad(g);
    nn_backward(&C, nn_cross_entropy(&C, y, labels, 0.0f));
    const nn_param *w = nn_graph_param(g, "c.weight");
    double gw = 0, gx = 0;
    for (size_t i = 0; i < w->t.numel; i++) gw += fabs(w->t.grad[i]);
    for (size_t i = 0; i < x->numel; i++) gx += fabs(x->grad[i]);
    assert_true(gw > 0 && gx > 0);
    nn_graph_free(g);
    tu_free(x);
    /* a bad value names its path */
    j = cJSON_Parse("{\"input\":[1,4,4],\"num_classes\":2,\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\","
                    "\"out_channels\":2,\"kernel\":3,\"binary_weights\":\"bit\"}]}");
    assert_null(nn_graph_from_json(j, "$", &e));
    assert_non_null(strstr(e.msg, "binary_weights"));
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_binarize_weight), cmocka_unit_test(test_sign_approx),
                                       cmocka_unit_test(test_binary_graph)};
    return cmocka_run_group_tests(tests, tu_ctx_setup, tu_ctx_teardown);
}
