/* datafree run PIPELINE: chains the stages search -> quantize -> export (any
 * subset, always in that order), each stage's output the next one's input:
 * the searched genotype becomes the quantize stage's generator, the
 * quantized model the export stage's input. Every stage runs in its own
 * folder under output.dir with its resolved config written beside it
 * (DIR/<stage>.json: what to rerun alone); a finished stage is skipped and
 * an unfinished one resumes from its checkpoint, so rerunning the pipeline
 * after a crash continues where it stopped; either only under the config the
 * stage ran with (run_same_config). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compress/export.h"
#include "nn/evaluate.h"
#include "nn/io.h"
#include "nn/json.h"

static const char *pipeline_help =
    "usage: datafree run PIPELINE.json [--threads T] [--json]\n\n"
    "Runs the pipeline's stages in order: search (AutoReCon generator search),\n"
    "quantize (data-free quantization; with a search stage its generator is the\n"
    "searched one), export (the quantized model lowered to integers and written as\n"
    "code into output.dir/export/<target>/: {\"targets\": [\"c\"]} is the default). Each\n"
    "stage object is that command's config without teacher and output (taken\n"
    "from the pipeline); finished stages are skipped and unfinished ones resume,\n"
    "both only under the config they ran with (DIR/<stage>.json): a changed one is\n"
    "refused, naming the key (delete the stage's folder to run it again).\n"
    "Ends with a summary: accuracy of the teacher and the compressed model, size,\n"
    "time per stage and where the files are.\n\n"
    "Config keys: teacher, data {path, ...} (for quantize), stages {search,\n"
    "quantize, export {targets}}, output {dir}. Example: configs/quickstart.json.\n";

/* A stage's config: its object with the pipeline's teacher, data and output. */
static int write_stage(const cJSON *stage, const cJSON *root, const char *dir, const char *name, char *cfg_path,
                       size_t n, const char *genotype, int resumed, nn_err *e)
{
    cJSON *c = cJSON_Duplicate(stage, 1);
    const cJSON *t = cJSON_GetObjectItem(root, "teacher"), *d = cJSON_GetObjectItem(root, "data");
    if (!cJSON_GetObjectItem(c, "teacher")) cJSON_AddItemToObject(c, "teacher", cJSON_Duplicate(t, 1));
    if (d && !strcmp(name, "quantize") && !cJSON_GetObjectItem(c, "data"))
        cJSON_AddItemToObject(c, "data", cJSON_Duplicate(d, 1));
    if (cJSON_GetObjectItem(c, "output")) {
        cJSON_Delete(c);
        return nn_fail(e, "$.stages.%s.output: set by the pipeline (%s/%s)", name, dir, name);
    }
    char od[1100];
    snprintf(od, sizeof od, "%s/%s", dir, name);
    cJSON *o = cJSON_AddObjectToObject(c, "output");
    cJSON_AddStringToObject(o, "dir", od);
    if (genotype) { /* the searched generator */
        cJSON *g = cJSON_GetObjectItem(c, "generator");
        if (!g) g = cJSON_AddObjectToObject(c, "generator");
        const cJSON *ty = cJSON_GetObjectItem(g, "type");
        if (ty && (!cJSON_IsString(ty) || strcmp(ty->valuestring, "autorecon"))) {
            cJSON_Delete(c);
            return nn_fail(e, "$.stages.quantize.generator.type: a pipeline with a search stage quantizes with the "
                              "searched generator (autorecon); drop the search stage to use another");
        }
        if (!ty) cJSON_AddStringToObject(g, "type", "autorecon");
        cJSON_DeleteItemFromObject(g, "genotype");
        cJSON_AddStringToObject(g, "genotype", genotype);
    }
    snprintf(cfg_path, n, "%s/%s.json", dir, name);
    char sub[64];
    snprintf(sub, sizeof sub, "/%s", name);
    const int rc = run_keep_config(cfg_path, c, resumed, dir, sub, od, e);
    cJSON_Delete(c);
    return rc;
}

static double json_num(const char *file, const char *key)
{
    nn_err e = {0};
    cJSON *j = nn_json_load(file, &e);
    const cJSON *v = j ? cJSON_GetObjectItem(j, key) : NULL;
    double r = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    cJSON_Delete(j);
    return r;
}

/* Bytes of a model's parameters as deployed: quantized weights at their
 * bits, everything else (biases, BN) as float32. */
static double model_bytes(const nn_graph *g)
{
    double b = 0;
    for (int i = 0; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        for (int k = 0; k < NN_MAX_NODE_PARAMS; k++) {
            if (n->param[k] < 0 || (n->op == NN_OP_FAKE_QUANT && k == 1)) continue; /* observer state: not deployed */
            if (k > 0 && n->param[k] == n->param[0]) continue;
            const nn_param *p = &g->params[n->param[k]];
            const int q = k == 0 && (n->op == NN_OP_CONV || n->op == NN_OP_LINEAR) ? n->qbits : 0;
            b += q ? (double)p->t.numel * q / 8.0 : (double)p->t.numel * 4.0;
        }
    }
    return b;
}

int run_pipeline(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(pipeline_help, stdout);
        return 0;
    }
    const char *cfg = NULL, *threads = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (run_opt(argc, argv, &i, "--threads", &threads, &bad)) {
            if (bad) return 2;
        } else if (argv[i][0] == '-')
            return run_usage_error("run", "unknown option '%s'", argv[i]);
        else if (!cfg)
            cfg = argv[i];
        else
            return run_usage_error("run", "one pipeline config, got '%s' too", argv[i]);
    }
    if (!cfg) return run_usage_error("run", "needs PIPELINE.json");
    nn_err e = {0};
    char m[1400];
    cJSON *root = nn_json_load(cfg, &e);
    if (!root) return run_error(e.msg);
    static const char *const top[] = {"teacher", "data", "stages", "output", NULL};
    static const char *const kst[] = {"search", "quantize", "export", NULL};
    static const char *const kout[] = {"dir", NULL};
    const char *dir = NULL, *teacher = NULL;
    int failed = 0, rc = 1;
    const cJSON *st = NULL, *out = NULL;
    if (!cJSON_IsObject(root) || nn_json_check_keys(root, "$", top, &e) ||
        nn_json_str(root, "$", "teacher", 1, &teacher, &e) || !(st = nn_json_obj(root, "$", "stages", 1, &e, &failed)) ||
        nn_json_check_keys(st, "$.stages", kst, &e) || !(out = nn_json_obj(root, "$", "output", 1, &e, &failed)) ||
        nn_json_check_keys(out, "$.output", kout, &e) || nn_json_str(out, "$.output", "dir", 1, &dir, &e)) {
        snprintf(m, sizeof m, "%s: %s", cfg, e.msg[0] ? e.msg : "the config must be a JSON object");
        cJSON_Delete(root);
        return run_error(m);
    }
    const char *names[3] = {"search", "quantize", "export"};
    const cJSON *stage[3];
    for (int k = 0; k < 3; k++) {
        stage[k] = cJSON_GetObjectItem(st, names[k]);
        if (stage[k] && !cJSON_IsObject(stage[k])) {
            snprintf(m, sizeof m, "%s: $.stages.%s: expected an object", cfg, names[k]);
            cJSON_Delete(root);
            return run_error(m);
        }
    }
    if (!stage[0] && !stage[1] && !stage[2]) {
        snprintf(m, sizeof m, "%s: $.stages: no stage (search, quantize, export)", cfg);
        cJSON_Delete(root);
        return run_error(m);
    }
    const char *targets[16] = {"c"};
    int ntargets = 1;
    cmp_export_opts eopts = {0};
    if (stage[2]) {
        static const char *const kexp[] = {"targets", "hls_reuse", NULL};
        const cJSON *tl = cJSON_GetObjectItem(stage[2], "targets");
        if (nn_json_check_keys(stage[2], "$.stages.export", kexp, &e) ||
            nn_json_int(stage[2], "$.stages.export", "hls_reuse", 0, &eopts.hls_reuse, &e) ||
            (tl && (!cJSON_IsArray(tl) || cJSON_GetArraySize(tl) < 1 || cJSON_GetArraySize(tl) > 16))) {
            snprintf(m, sizeof m, "%s: %s", cfg, e.msg[0] ? e.msg : "$.stages.export.targets: an array of 1 to 16 target names");
            cJSON_Delete(root);
            return run_error(m);
        }
        if (tl) {
            ntargets = 0;
            const cJSON *t;
            cJSON_ArrayForEach(t, tl)
            {
                if (!cJSON_IsString(t)) {
                    snprintf(m, sizeof m, "%s: $.stages.export.targets[%d]: expected a target name", cfg, ntargets);
                    cJSON_Delete(root);
                    return run_error(m);
                }
                targets[ntargets++] = t->valuestring;
            }
        }
    }
    if (nn_mkdirs(dir, &e)) {
        cJSON_Delete(root);
        return run_error(e.msg);
    }
    char path[1200], genotype[1200], done[1200], model[1200];
    const double t_all = nn_now();
    snprintf(genotype, sizeof genotype, "%s/search/genotype.json", dir);
    snprintf(model, sizeof model, "%s/quantize/model.json", dir);
    for (int k = 0; k < 3; k++) {
        if (!stage[k]) continue;
        double t0 = nn_now();
        if (k == 2) {
            if (!nn_file_exists(model)) {
                snprintf(m, sizeof m, "export: no quantized model at %s (run the quantize stage first)", model);
                run_error(m);
                goto out;
            }
            char edir[1200];
            snprintf(edir, sizeof edir, "%s/export", dir);
            nn_graph *g = run_load_model(model, &e);
            int_graph *ig = g ? cmp_lower(g, &e) : NULL;
            const int bad = !ig || cmp_export(g, ig, &eopts, targets, ntargets, edir, &e);
            cmp_int_free(ig);
            nn_graph_free(g);
            if (bad) {
                snprintf(m, sizeof m, "export: %s", e.msg);
                run_error(m);
                goto out;
            }
            if (!json) printf("== export: %s/%s/ (%.1fs)\n", edir, targets[0], nn_now() - t0);
            continue;
        }
        char ckpt[1300];
        snprintf(done, sizeof done, "%s/%s/%s", dir, names[k], k == 0 ? "genotype.json" : "result.json");
        snprintf(ckpt, sizeof ckpt, "%s/%s/ckpt.safetensors", dir, names[k]);
        if (write_stage(stage[k], root, dir, names[k], path, sizeof path, k == 1 && stage[0] ? genotype : NULL,
                        nn_file_exists(done) || nn_file_exists(ckpt), &e)) {
            snprintf(m, sizeof m, "%s: %s", cfg, e.msg);
            run_error(m);
            goto out;
        }
        if (k == 1 && stage[0] && !nn_file_exists(genotype)) {
            run_error("quantize: the search stage has not written its genotype");
            goto out;
        }
        if (nn_file_exists(done)) {
            if (!json) printf("== %s: done already (%s); skipped\n", names[k], done);
            continue;
        }
        if (!json) printf("== %s: %s\n", names[k], path);
        char *av[8];
        int ac = 0;
        av[ac++] = (char *)names[k];
        av[ac++] = path;
        av[ac++] = "--resume";
        if (threads) av[ac++] = "--threads", av[ac++] = (char *)threads;
        av[ac] = NULL;
        int r = k == 0 ? run_search(ac, av) : run_quantize(ac, av);
        if (r) {
            snprintf(m, sizeof m, "stage %s failed (rerun the pipeline to resume it)", names[k]);
            run_error(m);
            goto out;
        }
        if (!json) printf("== %s: finished in %.1f min\n", names[k], (nn_now() - t0) / 60);
    }
    /* ---- summary ---- */
    {
        char qres[1200], sres[1200];
        snprintf(qres, sizeof qres, "%s/quantize/result.json", dir);
        snprintf(sres, sizeof sres, "%s/search/result.json", dir);
        const double tacc = json_num(qres, "teacher_accuracy"), qacc = json_num(qres, "test_accuracy");
        double tbytes = -1, qbytes = -1;
        nn_graph *tg = run_load_model(teacher, &e), *qg = nn_file_exists(model) ? run_load_model(model, &e) : NULL;
        if (tg) tbytes = model_bytes(tg);
        if (qg) qbytes = model_bytes(qg);
        nn_graph_free(tg);
        nn_graph_free(qg);
        const double s_search = json_num(sres, "run_seconds"), s_quant = json_num(qres, "run_seconds");
        const double wall = nn_now() - t_all;
        if (json) {
            printf("{\"teacher_accuracy\":%.5f,\"accuracy\":%.5f,\"teacher_kib\":%.1f,\"model_kib\":%.1f,"
                   "\"search_seconds\":%.1f,\"quantize_seconds\":%.1f,\"wall_seconds\":%.1f,\"run_dir\":\"%s\"}\n",
                   tacc, qacc, tbytes / 1024, qbytes / 1024, s_search, s_quant, wall, dir);
        } else {
            printf("\n== summary (%s)\n", dir);
            if (tacc >= 0)
                printf("  accuracy: teacher %.2f%%, compressed %.2f%% (%+.2f pt) on the test set\n", 100 * tacc,
                       100 * qacc, 100 * (qacc - tacc));
            if (qbytes >= 0)
                printf("  size: %.1f KiB of parameters (teacher %.1f KiB as float32)\n", qbytes / 1024, tbytes / 1024);
            printf("  time: this invocation %.1f min", wall / 60);
            if (s_search >= 0) printf("; search %.1f min", s_search / 60);
            if (s_quant >= 0) printf("; quantize %.1f min (epochs)", s_quant / 60);
            printf("\n");
            if (stage[0]) printf("  genotype: %s (alpha.svg, generator.dot beside it)\n", genotype);
            if (stage[1]) printf("  quantized model: %s (datafree eval --model it)\n", model);
            if (stage[2]) {
                printf("  export:");
                for (int t = 0; t < ntargets; t++) printf(" %s/export/%s/", dir, targets[t]);
                printf(" (cd there && make && ./infer IMAGES LABELS)\n");
            }
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}
