/* The datafree binary end to end: config errors name their JSON path and
 * leave nothing behind, --resume reproduces an uninterrupted run bit for
 * bit, a short real Fashion-MNIST run learns, eval --json agrees, and every
 * command's --help works. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io.h"
#include "testutil.h"

#define OUT TU_OUT
#define sh tu_sh
#define write_text tu_write_text

/* A small but real config on the IDX fixture or Fashion-MNIST. */
static void config(const char *path, const char *data, const char *outdir, int epochs, int limit, const char *extra)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"model\":{\"zoo\":\"resnet20\"},\"data\":{\"path\":\"%s\",\"mean\":[0.286],\"std\":[0.353],"
             "\"augment\":{\"crop_pad\":2,\"hflip\":true},\"train_limit\":%d,\"test_limit\":500},"
             "\"train\":{\"epochs\":%d,\"batch_size\":64,\"seed\":3,\"threads\":2%s},"
             "\"optim\":{\"type\":\"sgd\",\"lr\":0.1,\"momentum\":0.9,\"weight_decay\":5e-4},"
             "\"schedule\":{\"type\":\"cosine\"},\"output\":{\"dir\":\"%s\"}}",
             data, limit, epochs, extra, outdir);
    write_text(path, buf);
}

static void expect_config_error(const char *json, const char *needle)
{
    write_text("/tmp/datafree_bad.json", json);
    sh("rm -rf /tmp/datafree_bad_run");
    int rc = sh("%s train /tmp/datafree_bad.json", tu_bin());
    if (rc == 0 || !strstr(OUT, needle)) {
        print_error("exit %d, output:\n%s\nexpected it to contain: %s\n", rc, OUT, needle);
        fail();
    }
    assert_false(nn_file_exists("/tmp/datafree_bad_run")); /* nothing half-written */
}

static void test_config_errors(void **s)
{
    (void)s;
    const char *ok_data = "\"data\":{\"path\":\"/usr/share/datasets/fashion-mnist\"}";
    const char *rest = "\"optim\":{\"lr\":0.1},\"output\":{\"dir\":\"/tmp/datafree_bad_run\"}";
    char j[1024];
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\"},%s,\"train\":{\"epochs\":1,\"epchs\":2},%s}", ok_data, rest);
    expect_config_error(j, "$.train.epchs: unknown key");
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\"},%s,\"train\":{\"epochs\":\"two\"},%s}", ok_data, rest);
    expect_config_error(j, "$.train.epochs: expected an integer");
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\"},\"data\":{\"path\":\"/nonexistent/fm\"},\"train\":{\"epochs\":1},%s}", rest);
    expect_config_error(j, "$.data.path: /nonexistent/fm: no such file or folder");
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\"},%s,\"train\":{\"epochs\":1},\"optim\":{\"type\":\"sgdd\",\"lr\":0.1},"
             "\"output\":{\"dir\":\"/tmp/datafree_bad_run\"}}", ok_data);
    expect_config_error(j, "$.optim.type: 'sgdd' is not one of");
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\",\"file\":\"x.json\"},%s,\"train\":{\"epochs\":1},%s}", ok_data, rest);
    expect_config_error(j, "$.model: give exactly one of");
    snprintf(j, sizeof j, "{\"model\":{\"graph\":{\"input\":[1,28,28],\"nodes\":[{\"name\":\"c\",\"op\":\"conv2d\","
             "\"out_channels\":4,\"kernel\":31}]}},%s,\"train\":{\"epochs\":1},%s}", ok_data, rest);
    if (tu_fmnist()) expect_config_error(j, "$.model.graph: node 'c': kernel 31");
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\",\"init_rename\":{\"a.\":\"b.\"}},%s,\"train\":{\"epochs\":1},%s}",
             ok_data, rest);
    expect_config_error(j, "$.model.init_rename: only with \"init_from\"");
    snprintf(j, sizeof j, "{\"model\":{\"zoo\":\"resnet20\",\"init_from\":\"m.json\",\"init_rename\":{\"a.\":3}},%s,"
             "\"train\":{\"epochs\":1},%s}", ok_data, rest);
    expect_config_error(j, "$.model.init_rename.a.: a file-name prefix string");
    expect_config_error("{\"model\": {\"zoo\": \"resnet20\"},\n \"data\": }", "datafree_bad.json:2: invalid JSON");
    assert_int_equal(sh("%s train /tmp/does_not_exist.json", tu_bin()), 1);
    assert_non_null(strstr(OUT, "/tmp/does_not_exist.json: cannot open"));
    assert_int_equal(sh("%s train", tu_bin()), 2);
    assert_int_equal(sh("%s frobnicate", tu_bin()), 2);
}

static void test_help(void **s)
{
    (void)s;
    assert_int_equal(sh("%s --help", tu_bin()), 0);
    assert_non_null(strstr(OUT, "commands:"));
    const char *cmds[] = {"train", "eval", "inspect", "bench", "reconstruct", "quantize", "convert"};
    for (int i = 0; i < (int)(sizeof cmds / sizeof *cmds); i++) {
        assert_int_equal(sh("%s %s --help", tu_bin(), cmds[i]), 0);
        assert_non_null(strstr(OUT, "usage: datafree"));
    }
    /* numeric options are whole numbers in range, refused (exit 2, naming the value) before any file is read */
    const char *bad[][2] = {{"eval --model m.json --data d --skip abc", "--skip needs a number >= 0, not 'abc'"},
                            {"eval --model m.json --data d --skip -3", "--skip needs a number >= 0, not '-3'"},
                            {"eval --model m.json --data d --limit 5x", "--limit needs a number >= 0, not '5x'"},
                            {"eval --model m.json --data d --batch 0", "--batch needs a number >= 1, not '0'"},
                            {"eval --model m.json --data d --threads ''", "--threads needs a number from 0"},
                            {"train c.json --threads 2x", "--threads needs a number from 1 to 1024, not '2x'"},
                            {"train c.json --stop-after 0", "--stop-after needs a number >= 1, not '0'"}};
    for (int i = 0; i < (int)(sizeof bad / sizeof *bad); i++) {
        assert_int_equal(sh("%s %s", tu_bin(), bad[i][0]), 2);
        if (!strstr(OUT, bad[i][1])) {
            print_error("datafree %s: expected '%s' in:\n%s\n", bad[i][0], bad[i][1], OUT);
            fail();
        }
    }
}

/* Two epochs straight vs one epoch, stop, --resume: identical weights. */
static void test_resume_identical(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    config("/tmp/datafree_rA.json", data, "/tmp/datafree_runA", 2, 384, "");
    config("/tmp/datafree_rB.json", data, "/tmp/datafree_runB", 2, 384, "");
    sh("rm -rf /tmp/datafree_runA /tmp/datafree_runB");
    assert_int_equal(sh("%s train /tmp/datafree_rA.json", tu_bin()), 0);
    assert_int_equal(sh("%s train /tmp/datafree_rB.json --stop-after 1", tu_bin()), 0);
    assert_non_null(strstr(OUT, "continue with --resume"));
    assert_false(nn_file_exists("/tmp/datafree_runB/model.safetensors"));
    /* resumed under another config: refused, naming the key (the schedule would mix two runs) */
    config("/tmp/datafree_rC.json", data, "/tmp/datafree_runB", 3, 384, "");
    assert_int_equal(sh("%s train /tmp/datafree_rC.json --resume", tu_bin()), 1);
    assert_non_null(strstr(OUT, "/tmp/datafree_runB was run under another config ($.train.epochs: 2 then, 3 now"));
    assert_int_equal(sh("%s train /tmp/datafree_rB.json --resume", tu_bin()), 0);
    assert_non_null(strstr(OUT, "resuming"));
    nn_err e;
    size_t la, lb;
    char *a = nn_read_file("/tmp/datafree_runA/model.safetensors", &la, &e);
    char *b = nn_read_file("/tmp/datafree_runB/model.safetensors", &lb, &e);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    /* metrics: one line per epoch, no duplicates after the resume */
    char *m = nn_read_file("/tmp/datafree_runB/metrics.jsonl", &la, &e);
    int lines = 0;
    for (size_t i = 0; i < la; i++) lines += m[i] == '\n';
    assert_int_equal(lines, 2);
    free(m);
}

/* One epoch on 6000 real images must learn: a broken pipeline stays near
 * 10 %. Then eval --json on the written model agrees with training. */
static void test_learns_and_eval(void **s)
{
    (void)s;
    const char *data = tu_fmnist();
    if (!data) skip();
    config("/tmp/datafree_learn.json", data, "/tmp/datafree_learn", 1, 6000, "");
    sh("sed -i 's|\"dir\":\"/tmp/datafree_learn\"|\"dir\":\"/tmp/datafree_learn\",\"export\":\"/tmp/datafree_learn_export/m.json\"|' "
       "/tmp/datafree_learn.json");
    sh("rm -rf /tmp/datafree_learn /tmp/datafree_learn_export && mkdir -p /tmp/datafree_learn_export");
    assert_int_equal(sh("%s train /tmp/datafree_learn.json --json", tu_bin()), 0);
    double acc = -1;
    char *p = strstr(OUT, "\"test_accuracy\":");
    assert_non_null(p);
    acc = atof(p + strlen("\"test_accuracy\":"));
    if (acc < 0.70) {
        print_error("1 epoch on 6000 Fashion-MNIST images reached only %.3f test accuracy\n", acc);
        fail();
    }
    /* the export: model, parameters and training history */
    assert_true(nn_file_exists("/tmp/datafree_learn_export/m.json"));
    assert_true(nn_file_exists("/tmp/datafree_learn_export/m.safetensors"));
    assert_true(nn_file_exists("/tmp/datafree_learn_export/m_metrics.jsonl"));
    assert_int_equal(sh("%s eval --model /tmp/datafree_learn/model.json --data %s --limit 500 --json", tu_bin(), data), 0);
    p = strstr(OUT, "\"accuracy\":");
    assert_non_null(p);
    double acc2 = atof(p + strlen("\"accuracy\":"));
    assert_true(acc2 > acc - 1e-4 && acc2 < acc + 1e-4);
    /* --skip: the first 250 and the next 250 images average to the 500 (accuracy and the mean
     * loss, which differs between the halves unless --skip was ignored) */
    assert_non_null(p = strstr(OUT, "\"loss\":"));
    double loss2 = atof(p + strlen("\"loss\":")), half[2][2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(sh("%s eval --model /tmp/datafree_learn/model.json --data %s --skip %d --limit 250 --json", tu_bin(), data,
                            250 * k),
                         0);
        assert_non_null(strstr(OUT, "\"n\":250"));
        assert_non_null(p = strstr(OUT, "\"accuracy\":"));
        half[k][0] = atof(p + strlen("\"accuracy\":"));
        assert_non_null(p = strstr(OUT, "\"loss\":"));
        half[k][1] = atof(p + strlen("\"loss\":"));
    }
    assert_true(fabs((half[0][0] + half[1][0]) / 2 - acc2) < 1e-4);
    assert_true(fabs((half[0][1] + half[1][1]) / 2 - loss2) < 1e-4);
    assert_true(fabs(half[0][1] - half[1][1]) > 1e-4);
    assert_int_equal(sh("%s eval --model /tmp/datafree_learn/model.json --data %s --skip 10000", tu_bin(), data), 2);
    assert_non_null(strstr(OUT, "at least one must remain"));
    /* inspect and bench run on the written model */
    assert_int_equal(sh("%s inspect /tmp/datafree_learn/model.json --json", tu_bin()), 0);
    assert_non_null(strstr(OUT, "\"params\":272186"));
    assert_int_equal(sh("%s bench --model /tmp/datafree_learn/model.json --batch 16 --steps 2 --warmup 1 --json", tu_bin()), 0);
    assert_non_null(strstr(OUT, "\"arena_mallocs_after_warmup\":0")); /* no malloc on the hot path */
#if defined(__x86_64__)
    /* timings name their CPU: cpuid's vendor and family, not the fallback */
    assert_non_null(strstr(OUT, "\"cpu\":\""));
    assert_null(strstr(OUT, "unknown CPU"));
    assert_non_null(strstr(OUT, " family 0x"));
#endif
    /* divergence is caught with a clear message */
    config("/tmp/datafree_div.json", data, "/tmp/datafree_div", 1, 256, "");
    sh("sed -i 's/\"lr\":0.1/\"lr\":1e30/' /tmp/datafree_div.json");
    assert_int_equal(sh("%s train /tmp/datafree_div.json", tu_bin()), 1);
    if (!strstr(OUT, "training diverged") && !strstr(OUT, "is not finite")) {
        print_error("expected a divergence message, got:\n%s\n", OUT);
        fail();
    }
    /* eval errors: wrong data shape is named (a one-record CIFAR file) */
    unsigned char rec[3073] = {3};
    nn_err e;
    assert_int_equal(nn_write_file_atomic("/tmp/datafree_one.bin", rec, sizeof rec, &e), NN_OK);
    assert_int_equal(sh("%s eval --model /tmp/datafree_learn/model.json --data /tmp/datafree_one.bin", tu_bin()), 1);
    assert_non_null(strstr(OUT, "takes 1x28x28"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_help), cmocka_unit_test(test_config_errors),
                                       cmocka_unit_test(test_resume_identical), cmocka_unit_test(test_learns_and_eval)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
