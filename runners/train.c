/* datafree train CONFIG.json: supervised training with a run folder,
 * per-epoch evaluation, checkpoints and bit-identical --resume. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/evaluate.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/ops.h"
#include "nn/optim.h"
#include "compress/kd.h"
#include "gensrc.h"

typedef struct train_cfg {
    const cJSON *model;
    const char *data_path;
    float mean[4], std[4];
    int nmean, nstd;
    nn_augment aug;
    int train_limit, test_limit;
    int epochs, batch, eval_batch, threads, seed;
    float smoothing, clip;
    nn_optim_kind okind;
    float lr, momentum, wd, beta1, beta2;
    int nesterov, decay_all;
    nn_sched_kind skind;
    float warmup_epochs, min_lr, gamma;
    int milestones[8], nmil;
    const char *out_dir, *export_path;
    /* source real with a teacher: KD on the real batches */
    const char *teacher_path;
    cmp_kd kd;
    /* source generator (gsrc.gen_path set): batches G(z, y) from a
     * reconstructed generator, KD against its teacher (data-free training) */
    run_gensrc gsrc;
} train_cfg;

static int parse_config(const cJSON *j, const char *file, train_cfg *c, nn_err *e)
{
    static const char *const top[] = {"model", "data", "train", "optim", "schedule", "output", "source", NULL};
    static const char *const ksrc[] = {"type", "teacher", "kd", NULL}; /* real; generator: run_gensrc_parse */
    static const char *const kdata[] = {"path", "mean", "std", "augment", "train_limit", "test_limit", NULL};
    static const char *const kaug[] = {"crop_pad", "hflip", NULL};
    static const char *const ktrain[] = {"epochs", "batch_size", "eval_batch_size", "threads", "seed",
                                         "label_smoothing", "grad_clip", NULL};
    static const char *const kopt[] = {"type", "lr", "momentum", "nesterov", "weight_decay", "decay_all",
                                       "beta1", "beta2", NULL};
    static const char *const ksch[] = {"type", "warmup_epochs", "min_lr", "milestones", "gamma", NULL};
    static const char *const kout[] = {"dir", "export", NULL};
    memset(c, 0, sizeof *c);
    c->epochs = 1;
    c->batch = 128;
    c->eval_batch = 500;
    c->seed = 1;
    c->okind = NN_SGD;
    c->lr = 0.1f;
    c->momentum = 0.9f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->decay_all = 1;
    c->skind = NN_SCHED_COSINE;
    c->gamma = 0.1f;
    for (int i = 0; i < 4; i++) c->std[i] = 1.0f;
    int failed;
    if (!cJSON_IsObject(j)) return nn_fail(e, "%s: the config must be a JSON object", file);
    if (nn_json_check_keys(j, "$", top, e)) return NN_ERR;
    c->model = nn_json_obj(j, "$", "model", 1, e, &failed);
    if (failed) return NN_ERR;
    const cJSON *d = nn_json_obj(j, "$", "data", 1, e, &failed);
    if (failed) return NN_ERR;
    if (nn_json_check_keys(d, "$.data", kdata, e) || nn_json_str(d, "$.data", "path", 1, &c->data_path, e) ||
        nn_json_floats(d, "$.data", "mean", 0, c->mean, 4, &c->nmean, e) ||
        nn_json_floats(d, "$.data", "std", 0, c->std, 4, &c->nstd, e) ||
        nn_json_int(d, "$.data", "train_limit", 0, &c->train_limit, e) ||
        nn_json_int(d, "$.data", "test_limit", 0, &c->test_limit, e))
        return NN_ERR;
    for (int i = 0; i < c->nstd; i++)
        if (c->std[i] <= 0.0f) return nn_fail(e, "$.data.std[%d]: must be positive", i);
    const cJSON *a = nn_json_obj(d, "$.data", "augment", 0, e, &failed);
    if (failed) return NN_ERR;
    if (a && (nn_json_check_keys(a, "$.data.augment", kaug, e) ||
              nn_json_int(a, "$.data.augment", "crop_pad", 0, &c->aug.crop_pad, e) ||
              nn_json_bool(a, "$.data.augment", "hflip", 0, &c->aug.hflip, e)))
        return NN_ERR;
    const cJSON *t = nn_json_obj(j, "$", "train", 1, e, &failed);
    if (failed) return NN_ERR;
    if (nn_json_check_keys(t, "$.train", ktrain, e) || nn_json_int(t, "$.train", "epochs", 1, &c->epochs, e) ||
        nn_json_int(t, "$.train", "batch_size", 0, &c->batch, e) ||
        nn_json_int(t, "$.train", "eval_batch_size", 0, &c->eval_batch, e) ||
        nn_json_int(t, "$.train", "threads", 0, &c->threads, e) || nn_json_int(t, "$.train", "seed", 0, &c->seed, e) ||
        nn_json_float(t, "$.train", "label_smoothing", 0, &c->smoothing, e) ||
        nn_json_float(t, "$.train", "grad_clip", 0, &c->clip, e))
        return NN_ERR;
    if (c->epochs < 1) return nn_fail(e, "$.train.epochs: must be >= 1");
    if (c->batch < 1 || c->eval_batch < 1) return nn_fail(e, "$.train.batch_size: must be >= 1");
    if (c->smoothing < 0.0f || c->smoothing >= 1.0f) return nn_fail(e, "$.train.label_smoothing: must be in [0, 1)");
    if (c->aug.crop_pad < 0) return nn_fail(e, "$.data.augment.crop_pad: must be >= 0");
    const cJSON *o = nn_json_obj(j, "$", "optim", 1, e, &failed);
    if (failed) return NN_ERR;
    const char *ot = "sgd";
    if (nn_json_check_keys(o, "$.optim", kopt, e) || nn_json_str(o, "$.optim", "type", 0, &ot, e) ||
        nn_json_float(o, "$.optim", "lr", 1, &c->lr, e) || nn_json_float(o, "$.optim", "momentum", 0, &c->momentum, e) ||
        nn_json_bool(o, "$.optim", "nesterov", 0, &c->nesterov, e) ||
        nn_json_float(o, "$.optim", "weight_decay", 0, &c->wd, e) ||
        nn_json_bool(o, "$.optim", "decay_all", 0, &c->decay_all, e) ||
        nn_json_float(o, "$.optim", "beta1", 0, &c->beta1, e) || nn_json_float(o, "$.optim", "beta2", 0, &c->beta2, e))
        return NN_ERR;
    if (!strcmp(ot, "sgd"))
        c->okind = NN_SGD;
    else if (!strcmp(ot, "adam"))
        c->okind = NN_ADAM;
    else if (!strcmp(ot, "adamw"))
        c->okind = NN_ADAMW;
    else
        return nn_fail(e, "$.optim.type: '%s' is not one of sgd, adam, adamw", ot);
    if (c->lr <= 0.0f) return nn_fail(e, "$.optim.lr: must be > 0");
    const cJSON *s = nn_json_obj(j, "$", "schedule", 0, e, &failed);
    if (failed) return NN_ERR;
    if (s) {
        const char *st = "cosine";
        if (nn_json_check_keys(s, "$.schedule", ksch, e) || nn_json_str(s, "$.schedule", "type", 0, &st, e) ||
            nn_json_float(s, "$.schedule", "warmup_epochs", 0, &c->warmup_epochs, e) ||
            nn_json_float(s, "$.schedule", "min_lr", 0, &c->min_lr, e) ||
            nn_json_ints(s, "$.schedule", "milestones", 0, c->milestones, 8, &c->nmil, e) ||
            nn_json_float(s, "$.schedule", "gamma", 0, &c->gamma, e))
            return NN_ERR;
        if (nn_sched_parse(st, &c->skind))
            return nn_fail(e, "$.schedule.type: '%s' is not one of cosine, multistep, constant", st);
        if (c->skind == NN_SCHED_MULTISTEP && !c->nmil)
            return nn_fail(e, "$.schedule.milestones: required for a multistep schedule (epochs)");
    }
    const cJSON *src = nn_json_obj(j, "$", "source", 0, e, &failed);
    if (failed) return NN_ERR;
    c->kd.temperature = 20.0f, c->kd.alpha = 1.0f;
    if (src) {
        const char *type = "real";
        if (nn_json_str(src, "$.source", "type", 1, &type, e)) return NN_ERR;
        if (!strcmp(type, "generator")) {
            if (run_gensrc_parse(src, &c->gsrc, e)) return NN_ERR;
            c->teacher_path = c->gsrc.teacher_path, c->kd = c->gsrc.kd;
        } else if (!strcmp(type, "real")) { /* optional: KD from a teacher on the real batches */
            if (cJSON_GetObjectItem(src, "generator") || cJSON_GetObjectItem(src, "batches_per_epoch") ||
                cJSON_GetObjectItem(src, "update"))
                return nn_fail(e, "$.source: generator, batches_per_epoch and update are for type generator");
            if (nn_json_check_keys(src, "$.source", ksrc, e) ||
                nn_json_str(src, "$.source", "teacher", 0, &c->teacher_path, e) || run_parse_kd(src, &c->kd, e))
                return NN_ERR;
            if (cJSON_GetObjectItem(src, "kd") && !c->teacher_path)
                return nn_fail(e, "$.source.kd: needs $.source.teacher");
        } else {
            return nn_fail(e, "$.source.type: '%s' is not one of real, generator", type);
        }
    }
    const cJSON *out = nn_json_obj(j, "$", "output", 1, e, &failed);
    if (failed) return NN_ERR;
    if (nn_json_check_keys(out, "$.output", kout, e) || nn_json_str(out, "$.output", "dir", 1, &c->out_dir, e) ||
        nn_json_str(out, "$.output", "export", 0, &c->export_path, e))
        return NN_ERR;
    return NN_OK;
}

/* ---- checkpoints: params + optimiser state + position, one safetensors ---- */

static int save_ckpt(const char *dir, const nn_graph *g, const nn_optim *o, int epoch, long step, nn_err *e)
{
    int n = g->np + 2;
    nn_st_tensor *ts = nn_xcalloc((size_t)n, sizeof *ts);
    for (int i = 0; i < g->np; i++) {
        ts[i].name = g->params[i].name;
        ts[i].ndim = g->params[i].t.ndim;
        memcpy(ts[i].shape, g->params[i].t.shape, sizeof ts[i].shape);
        ts[i].data = g->params[i].t.data;
    }
    int k = g->np;
    ts[k] = (nn_st_tensor){"__optim.m", 1, {(int)o->n}, o->m};
    k++;
    if (o->v) ts[k++] = (nn_st_tensor){"__optim.v", 1, {(int)o->n}, o->v};
    char meta[256], path[1100];
    snprintf(meta, sizeof meta, "{\"epoch\":\"%d\",\"step\":\"%ld\",\"optim_t\":\"%ld\"}", epoch, step, o->t);
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    int rc = nn_st_write(path, ts, k, meta, e);
    free(ts);
    return rc;
}

static int load_ckpt(const char *dir, nn_graph *g, nn_optim *o, int *epoch, long *step, nn_err *e)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    if (nn_graph_load_params(g, path, e)) return NN_ERR;
    nn_st_file f;
    if (nn_st_open(&f, path, e)) return NN_ERR;
    int nd, sh[4];
    const float *m = nn_st_get(&f, "__optim.m", &nd, sh, e);
    const float *v = o->v ? nn_st_get(&f, "__optim.v", &nd, sh, e) : NULL;
    const char *ep = nn_st_meta(&f, "epoch"), *st = nn_st_meta(&f, "step"), *ot = nn_st_meta(&f, "optim_t");
    if (!m || (o->v && !v) || !ep || !st || !ot || (size_t)sh[0] != o->n) {
        if (!m || (o->v && !v)) {
            nn_st_close(&f);
            return NN_ERR;
        }
        nn_st_close(&f);
        return nn_fail(e, "%s: checkpoint does not match this config's model or optimiser", path);
    }
    memcpy(o->m, m, o->n * sizeof(float));
    if (v) memcpy(o->v, v, o->n * sizeof(float));
    *epoch = atoi(ep);
    *step = atol(st);
    o->t = atol(ot);
    nn_st_close(&f);
    return NN_OK;
}

/* Beside an exported model.json, its training history: <stem>_metrics.jsonl */
static int export_metrics(const char *metrics, const char *export_json, nn_err *e)
{
    char dst[1100];
    snprintf(dst, sizeof dst, "%s", export_json);
    char *dot = strrchr(dst, '.');
    if (dot && dot > strrchr(dst, '/')) *dot = 0;
    strncat(dst, "_metrics.jsonl", sizeof dst - strlen(dst) - 1);
    size_t len;
    char *buf = nn_read_file(metrics, &len, e);
    if (!buf) return NN_ERR;
    int rc = nn_write_file_atomic(dst, buf, len, e);
    free(buf);
    return rc;
}

static const char *train_help =
    "usage: datafree train CONFIG.json [--resume] [--threads T] [--stop-after N] [--json]\n\n"
    "Trains the config's model on its dataset, evaluates on the test split after\n"
    "every epoch, and writes a run folder (output.dir): config.json, metrics.jsonl,\n"
    "progress.jsonl, ckpt.safetensors (after every epoch), model.json +\n"
    "model.safetensors (final). output.export, if set, gets a copy of the final model\n"
    "and its metrics (<export stem>_metrics.jsonl).\n\n"
    "  --resume        continue from the run folder's checkpoint; the result is the\n"
    "                  same as an uninterrupted run with the same thread count. A\n"
    "                  config other than the run's config.json is refused\n"
    "  --threads T     worker threads (default: train.threads, else all cores)\n"
    "  --stop-after N  stop after N epochs of this invocation (resume later)\n"
    "  --json          print the result as one JSON object\n\n"
    "Config keys: model {zoo|file|graph, init kaiming|xavier, genotype, precision\n"
    "float|binary, float_sign hardtanh|tanh (what sign becomes at precision float;\n"
    "default hardtanh), init_from (a model.json: its weights by name), init_rename\n"
    "{graph prefix: file prefix} (with init_from: a partial load under these\n"
    "renames, the rest left as initialised)}, data {path, mean, std, augment {crop_pad,\n"
    "hflip}, train_limit, test_limit}, train {epochs, batch_size, eval_batch_size,\n"
    "threads, seed, label_smoothing, grad_clip}, optim {type sgd|adam|adamw, lr,\n"
    "momentum, nesterov, weight_decay, decay_all, beta1, beta2}, schedule {type\n"
    "cosine|multistep|constant, warmup_epochs, min_lr, milestones, gamma},\n"
    "source {type real|generator, generator (generator.json of datafree reconstruct\n"
    "or quantize), teacher, batches_per_epoch, kd {temperature, alpha}, update {lr,\n"
    "beta1, beta2, bns_beta, adversarial}} (generator: data-free training on G(z, y)\n"
    "with GDFQ's student loss against the teacher, the real test split only\n"
    "evaluated; update: the generator keeps training, one Adam step per batch on\n"
    "CE + bns_beta BNS - adversarial |S - T|_1 (defaults 1e-3, 0.5, 0.999, 0.1, 1),\n"
    "written to DIR/generator.json; real with a teacher: the same loss on the real\n"
    "batches, i.e. KD, e.g. an adder network from its CNN), output {dir, export}.\n"
    "See configs/.\n";

int run_train_check(const cJSON *config, nn_err *e)
{
    train_cfg c;
    return parse_config(config, "$", &c, e);
}

int run_train(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(train_help, stdout);
        return 0;
    }
    run_args ra;
    int urc = run_parse_run_args("train", argc, argv, &ra);
    if (urc) return urc;
    const char *cfg_path = ra.config;
    const int resume = ra.resume, json = ra.json;
    nn_err e;
    cJSON *root = nn_json_load(cfg_path, &e);
    if (!root) return run_error(e.msg);
    train_cfg cfg;
    if (parse_config(root, cfg_path, &cfg, &e)) {
        cJSON_Delete(root);
        char m[1100];
        snprintf(m, sizeof m, "%s: %s", cfg_path, e.msg);
        return run_error(m);
    }
    if (ra.threads) cfg.threads = ra.threads;
    int stop_after = ra.stop_after;

    int rc = 1;
    nn_dataset train = {0}, test = {0};
    nn_graph *g = NULL, *teacher = NULL;
    run_gensrc *gs = NULL;
    nn_optim opt = {0};
    nn_ctx ctx;
    int have_ctx = 0;
    /* data-free (a generator source) never opens the training split: a user
     * without the data has only the test split, for evaluation */
    if ((!cfg.gsrc.gen_path && nn_dataset_load(cfg.data_path, "train", &train, &e)) ||
        nn_dataset_load(cfg.data_path, "test", &test, &e)) {
        char m[1100];
        snprintf(m, sizeof m, "$.data.path: %s", e.msg);
        run_error(m);
        goto out;
    }
    nn_dataset_truncate(&train, cfg.train_limit);
    nn_dataset_truncate(&test, cfg.test_limit);
    const nn_dataset *shp = cfg.gsrc.gen_path ? &test : &train; /* the input shape and classes */
    if ((cfg.nmean && cfg.nmean != shp->c) || (cfg.nstd && cfg.nstd != shp->c)) {
        fprintf(stderr, "datafree: $.data.mean/std: need one value per channel (%d)\n", shp->c);
        goto out;
    }
    g = run_model_from_config(cfg.model, "$.model", shp->c, shp->h, shp->w, shp->num_classes, (uint64_t)cfg.seed, &e);
    if (!g) {
        run_error(e.msg);
        goto out;
    }
    for (int i = 0; i < cfg.nmean; i++) g->mean[i] = cfg.mean[i];
    for (int i = 0; i < cfg.nstd; i++) g->std[i] = cfg.std[i];
    if (nn_check_data_fits(g, shp, &e)) {
        run_error(e.msg);
        goto out;
    }
    if (cfg.gsrc.gen_path) { /* data-free: the generator and the teacher it was reconstructed from */
        gs = &cfg.gsrc;
        if (run_gensrc_open(gs, &e) || nn_check_data_fits(gs->teacher, &test, &e)) {
            run_error(e.msg);
            goto out;
        }
        if (memcmp(gs->teacher->in_shape, g->in_shape, 3 * sizeof(int))) {
            run_error("$.source.generator: its images do not have the model's input shape");
            goto out;
        }
    } else if (cfg.teacher_path) { /* KD on real data: the teacher sees the student's batches as they are */
        teacher = run_load_model(cfg.teacher_path, &e);
        if (!teacher || nn_check_data_fits(teacher, &train, &e)) {
            char m[1100];
            snprintf(m, sizeof m, "$.source.teacher: %s", e.msg);
            run_error(m);
            goto out;
        }
        if (teacher->num_classes != g->num_classes || memcmp(teacher->mean, g->mean, sizeof g->mean) ||
            memcmp(teacher->std, g->std, sizeof g->std)) {
            run_error("$.source.teacher: its classes or preprocessing (mean, std) differ from the model's; KD needs "
                      "both to see the same images");
            goto out;
        }
        nn_graph_set_trainable(teacher, 0);
    }
    nn_optim_init(&opt, cfg.okind, g);
    opt.momentum = cfg.momentum;
    opt.nesterov = cfg.nesterov;
    opt.weight_decay = cfg.wd;
    opt.decay_all = cfg.decay_all;
    opt.beta1 = cfg.beta1;
    opt.beta2 = cfg.beta2;

    const long steps_per_epoch = gs ? gs->batches : (train.n + cfg.batch - 1) / cfg.batch;
    nn_sched sched = {.kind = cfg.skind,
                      .lr = cfg.lr,
                      .min_lr = cfg.min_lr,
                      .gamma = cfg.gamma,
                      .warmup_start = cfg.lr * 0.01f,
                      .warmup_steps = (long)(cfg.warmup_epochs * (float)steps_per_epoch),
                      .total_steps = steps_per_epoch * cfg.epochs,
                      .nmilestones = cfg.nmil};
    for (int i = 0; i < cfg.nmil; i++) sched.milestones[i] = cfg.milestones[i] * steps_per_epoch;

    char path[1200], metrics[1200], progress[1200];
    if (run_start_dir(cfg.out_dir, root, resume, &e)) { /* a resume only under its config.json */
        run_error(e.msg);
        goto out;
    }
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", cfg.out_dir);
    snprintf(progress, sizeof progress, "%s/progress.jsonl", cfg.out_dir);
    int start_epoch = 0;
    long step = 0;
    snprintf(path, sizeof path, "%s/ckpt.safetensors", cfg.out_dir);
    if (resume && nn_file_exists(path)) {
        if (load_ckpt(cfg.out_dir, g, &opt, &start_epoch, &step, &e) || (gs && run_gensrc_load(gs, cfg.out_dir, &e))) {
            run_error(e.msg);
            goto out;
        }
        run_trim_metrics(metrics, start_epoch);
        if (!json) printf("resuming %s at epoch %d (step %ld)\n", cfg.out_dir, start_epoch + 1, step);
    } else {
        if (resume && !json) printf("no checkpoint in %s: starting from scratch\n", cfg.out_dir);
        remove(metrics);
        remove(progress);
    }
    nn_ctx_init(&ctx, cfg.threads, 64 << 20);
    have_ctx = 1;
    if (!json && gs)
        printf("train %s data-free: batches from the generator %s (%s), KD from %s (T %g, alpha %g); %d test images, "
               "%d epochs x %ld steps, batch %d, %d threads, %zu params\n",
               g->name, cfg.gsrc.gen_path, gs->update ? "trained on, adversarially" : "frozen", cfg.teacher_path,
               cfg.kd.temperature, cfg.kd.alpha, test.n, cfg.epochs, steps_per_epoch, cfg.batch, nn_threads(&ctx),
               nn_graph_num_trainable(g));
    else if (!json && teacher)
        printf("train %s on %s with KD from %s (T %g, alpha %g): %d train / %d test images, %d epochs x %ld steps, "
               "batch %d, %d threads, %zu params\n",
               g->name, train.desc, cfg.teacher_path, cfg.kd.temperature, cfg.kd.alpha, train.n, test.n, cfg.epochs,
               steps_per_epoch, cfg.batch, nn_threads(&ctx), nn_graph_num_trainable(g));
    else if (!json)
        printf("train %s on %s: %d train / %d test images, %d epochs x %ld steps, batch %d, %d threads, %zu params\n",
               g->name, train.desc, train.n, test.n, cfg.epochs, steps_per_epoch, cfg.batch, nn_threads(&ctx),
               nn_graph_num_trainable(g));

    int *perm = nn_xmalloc((size_t)(train.n + 1) * sizeof(int)), *labels = nn_xmalloc((size_t)cfg.batch * sizeof(int));
    float *xbuf = NULL, *tbuf = NULL; /* a generator batch, kept across the tape reset */
    if (gs) {
        xbuf = nn_xmalloc((size_t)cfg.batch * g->in_shape[0] * g->in_shape[1] * g->in_shape[2] * sizeof(float));
        tbuf = nn_xmalloc((size_t)cfg.batch * g->num_classes * sizeof(float));
    }
    run_progress prog;
    run_progress_init(&prog, json);
    nn_eval_result ev = {0};
    double train_time = 0.0;
    int epochs_run = 0, last_epoch = start_epoch;
    for (int epoch = start_epoch; epoch < cfg.epochs; epoch++) {
        if (stop_after && epochs_run >= stop_after) break;
        /* Per-epoch RNG: resuming at any epoch replays the same stream. */
        nn_rng rng;
        nn_rng_seed(&rng, (uint64_t)cfg.seed * 1000003ULL + (uint64_t)epoch);
        for (int i = 0; i < train.n; i++) perm[i] = i;
        nn_rng_shuffle(&rng, perm, train.n);
        double t0 = nn_now(), loss_sum = 0.0;
        long correct = 0, seen = 0;
        float lr = 0.0f;
        for (long s = 0; s < steps_per_epoch; s++, step++) {
            int off = (int)(s * cfg.batch), n = gs ? cfg.batch : train.n - off < cfg.batch ? train.n - off : cfg.batch;
            nn_ctx_reset(&ctx);
            nn_tensor *x, *tlog = NULL;
            if (gs) { /* G(z, y) for sampled labels and the teacher's logits on it (a generator step first, if updated) */
                run_gensrc_batch(gs, &ctx, g, NULL, n, &rng, labels, xbuf, tbuf);
                x = nn_view(&ctx, xbuf, 4, (int[]){n, g->in_shape[0], g->in_shape[1], g->in_shape[2]});
                tlog = nn_view(&ctx, tbuf, 2, (int[]){n, g->num_classes});
            } else {
                x = nn_new4(&ctx, n, train.c, train.h, train.w);
                nn_dataset_batch(&train, perm + off, n, g->mean, g->std, &cfg.aug, &rng, x->data, labels);
                if (teacher) { /* KD on real data: the teacher's logits, without a tape */
                    ctx.training = 0;
                    ctx.grad_enabled = 0;
                    tlog = nn_graph_forward(teacher, &ctx, x, NULL);
                }
            }
            ctx.training = 1;
            ctx.grad_enabled = 1;
            nn_tensor *logits = nn_graph_forward(g, &ctx, x, NULL);
            /* with a teacher (data-free, or KD on real data): GDFQ's student loss, CE on the
             * labels + alpha T^2 KL to the teacher; else CE on the labels */
            nn_tensor *loss = tlog ? cmp_kd_loss(&ctx, logits, tlog, labels, cfg.kd)
                                   : nn_cross_entropy(&ctx, logits, labels, cfg.smoothing);
            if (!isfinite(loss->data[0])) {
                fprintf(stderr, "\ndatafree: loss is %f at epoch %d step %ld: training diverged (lower $.optim.lr, "
                                "or set $.train.grad_clip)\n", loss->data[0], epoch + 1, s + 1);
                goto out_loop;
            }
            nn_graph_zero_grad(g);
            nn_backward(&ctx, loss);
            const char *badp = NULL;
            if (nn_grad_nonfinite(g, &badp)) {
                fprintf(stderr, "\ndatafree: gradient of %s is not finite at epoch %d step %ld (lower $.optim.lr, "
                                "or set $.train.grad_clip)\n", badp, epoch + 1, s + 1);
                goto out_loop;
            }
            if (cfg.clip > 0.0f) nn_grad_clip(g, cfg.clip);
            lr = nn_sched_lr(&sched, step);
            nn_optim_step(&opt, g, lr);
            loss_sum += loss->data[0] * n;
            const int K = logits->shape[1];
            for (int i = 0; i < n; i++) {
                const float *r = logits->data + (size_t)i * K;
                int b = 0;
                for (int k = 1; k < K; k++)
                    if (r[k] > r[b]) b = k;
                correct += b == labels[i];
            }
            seen += n;
            double el = nn_now() - t0, ips = seen / (el > 0 ? el : 1e-9);
            const double eta = (nn_now() - t0) / (double)(s + 1) *
                               (double)((cfg.epochs - epoch - 1) * steps_per_epoch + steps_per_epoch - s - 1);
            char gl[96] = ""; /* a generator trained on: its losses so far this epoch */
            if (gs && gs->update && gs->seen)
                snprintf(gl, sizeof gl, " | G ce %.3f gap %.3f", gs->ce / (double)gs->seen, gs->gap / (double)gs->seen);
            run_progress_line(&prog, "epoch %d/%d step %ld/%ld loss %.4f acc %.2f%% lr %.4g%s %.0f img/s ETA %.0fm%02.0fs",
                              epoch + 1, cfg.epochs, s + 1, steps_per_epoch, loss_sum / seen, 100.0 * correct / seen,
                              lr, gl, ips, floor(eta / 60), fmod(eta, 60));
            if ((s + 1) % 50 == 0 || s + 1 == steps_per_epoch) {
                char line[300];
                snprintf(line, sizeof line,
                         "{\"epoch\":%d,\"step\":%ld,\"loss\":%.5f,\"acc\":%.5f,\"lr\":%.6g,\"images_per_s\":%.1f}",
                         epoch + 1, s + 1, loss_sum / seen, (double)correct / seen, lr, ips);
                run_append_line(progress, line);
            }
        }
        double ep_time = nn_now() - t0;
        train_time += ep_time;
        if (nn_evaluate(g, &ctx, &test, cfg.eval_batch, &ev, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        run_progress_done(&prog);
        char line[600], gm[200] = "";
        if (gs) run_gensrc_metrics(gs, gm, sizeof gm);
        snprintf(line, sizeof line,
                 "{\"epoch\":%d,\"train_loss\":%.5f,\"train_acc\":%.5f,\"test_loss\":%.5f,\"test_acc\":%.5f,"
                 "\"lr\":%.6g,\"epoch_seconds\":%.1f,\"images_per_s\":%.1f%s}",
                 epoch + 1, loss_sum / seen, (double)correct / seen, ev.loss, ev.accuracy, lr, ep_time,
                 seen / ep_time, gm);
        /* Checkpoint first (the generator's, then the run's), then the metrics
         * line: a resume trims lines past it. A crash between the two
         * checkpoints resumes with the generator one epoch further on. */
        if ((gs && run_gensrc_save(gs, cfg.out_dir, epoch + 1, &e)) || save_ckpt(cfg.out_dir, g, &opt, epoch + 1, step, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        run_append_line(metrics, line);
        if (!json)
            printf("epoch %d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.0fs (%.0f img/s)\n", epoch + 1,
                   cfg.epochs, loss_sum / seen, 100.0 * correct / seen, ev.loss, 100.0 * ev.accuracy, ep_time,
                   seen / ep_time);
        fflush(stdout);
        epochs_run++;
        last_epoch = epoch + 1;
    }
    if (last_epoch < cfg.epochs) {
        if (!json) printf("stopped after epoch %d of %d; continue with --resume\n", last_epoch, cfg.epochs);
    } else {
        if (epochs_run == 0 && nn_evaluate(g, &ctx, &test, cfg.eval_batch, &ev, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        snprintf(path, sizeof path, "%s/model.json", cfg.out_dir);
        char gpath[1200];
        snprintf(gpath, sizeof gpath, "%s/generator.json", cfg.out_dir);
        if (nn_graph_save(g, path, &e) || (cfg.export_path && nn_graph_save(g, cfg.export_path, &e)) ||
            (gs && gs->update && nn_graph_save(gs->gen, gpath, &e)) ||
            (cfg.export_path && export_metrics(metrics, cfg.export_path, &e))) {
            run_error(e.msg);
            goto out_loop;
        }
        if (!json) printf("final test accuracy %.2f%%; model written to %s\n", 100.0 * ev.accuracy, path);
    }
    if (json) {
        printf("{\"model\":\"%s\",\"epochs_done\":%d,\"epochs\":%d,\"test_accuracy\":%.5f,\"test_loss\":%.5f,"
               "\"train_seconds\":%.1f,\"run_dir\":\"%s\",\"complete\":%s}\n",
               g->name, last_epoch, cfg.epochs, ev.accuracy, ev.loss, train_time, cfg.out_dir,
               last_epoch >= cfg.epochs ? "true" : "false");
    }
    rc = 0;
out_loop:
    free(perm);
    free(labels);
    free(xbuf);
    free(tbuf);
out:
    if (have_ctx) nn_ctx_free(&ctx);
    nn_optim_free(&opt);
    nn_graph_free(g);
    if (gs) run_gensrc_free(gs);
    nn_graph_free(teacher);
    nn_dataset_free(&train);
    nn_dataset_free(&test);
    cJSON_Delete(root);
    return rc;
}
