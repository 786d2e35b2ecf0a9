/* datafree reconstruct / datafree quantize: data-free reconstruction and
 * quantization-aware fine-tuning, one loop for every data source.
 *
 * Each iteration takes a batch from the source:
 *   generator  z ~ N(0, 1), y ~ U{classes}, x = G(z | y); G takes one Adam
 *              step on L_G = CE(T(x), y) + beta * L_BNS (GDFQ)
 *   dataset    synthetic images from `datafree reconstruct` (ZeroQ's
 *              distilled data, or a trained generator's samples)
 *   real       the training set (real-data QAT: the upper bound)
 * then the quantized student (BN in eval mode, as GDFQ) sees the same batch:
 * its activation ranges observe it during the first calib_epochs, and after
 * warmup_epochs it takes an SGD step on CE(S(x), y) + alpha T^2 KL. With
 * fine_tune off it only calibrates (naive PTQ: the lower bound). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compress/kd.h"
#include "compress/quant.h"
#include "generators/autorecon.h"
#include "generators/gdfq.h"
#include "generators/recon.h"
#include "nn/evaluate.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/onnx.h"
#include "nn/optim.h"

enum { SRC_GENERATOR, SRC_DATASET, SRC_REAL, SRC_DISTILL };

typedef struct dfq_cfg {
    int reconstruct; /* the command */
    const char *teacher, *data_path, *dataset_file, *gen_file, *label;
    int train_limit, test_limit;
    nn_augment aug;
    cmp_quant_cfg q;
    int source;
    int gen_width, gen_latent, gen_cond_bn, gen_train, gen_autorecon;
    const char *gen_genotype;
    float gen_scale;
    float gen_lr, gen_beta1, gen_beta2, bns_beta;
    int epochs, iters, batch, warmup_epochs, calib_epochs, fine_tune, eval_every, eval_batch;
    int bn_recal; /* student BN statistics re-estimated in calibration-only epochs (-1: when it has adder layers) */
    float s_lr, s_momentum, s_wd, s_min_lr;
    int s_nesterov;
    nn_sched_kind s_sched;
    int s_mil[8], s_nmil;
    cmp_kd kd;
    int samples, grid_cols; /* reconstruct: dataset size, grid columns per class */
    int dist_iters;         /* reconstruct with ZeroQ distillation */
    float dist_lr;
    int seed, threads;
    float mean[4], std[4]; /* $.preprocess: for teachers that carry none (ONNX) */
    int nmean, nstd;
    const char *out_dir, *export_path, *table;
} dfq_cfg;

static int parse_source(const char *s, int *out, nn_err *e)
{
    static const char *names[] = {"generator", "dataset", "real", "distill"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return NN_OK;
        }
    return nn_fail(e, "$.source.type: '%s' is not one of generator, dataset, real, distill", s);
}

static int parse_config(const cJSON *j, dfq_cfg *c, int reconstruct, nn_err *e)
{
    static const char *const top[] = {"teacher", "data",    "quant", "source", "generator", "schedule", "student",
                                      "kd",      "samples", "seed",  "threads", "output",   "label",    "preprocess",
                                      NULL};
    static const char *const kpre[] = {"mean", "std", NULL};
    static const char *const kdata[] = {"path", "train_limit", "test_limit", "augment", NULL};
    static const char *const ksrc[] = {"type", "file", "iterations", "lr", NULL};
    static const char *const kgen[] = {"type", "width", "latent", "cond_bn", "lr", "beta1", "beta2", "bns_beta", "train",
                                       "file", "genotype", "scale", NULL};
    static const char *const ksch[] = {"epochs", "iters_per_epoch", "batch_size", "warmup_epochs", "calib_epochs",
                                       "fine_tune", "eval_every", "eval_batch_size", "bn_recalibrate", NULL};
    static const char *const kstu[] = {"lr", "momentum", "nesterov", "weight_decay", "schedule", "milestones",
                                       "min_lr", NULL};
    static const char *const kkd[] = {"temperature", "alpha", "reduction", NULL};
    static const char *const kout[] = {"dir", "export", "table", NULL};
    static const char *const kaug[] = {"crop_pad", "hflip", NULL};
    memset(c, 0, sizeof *c);
    c->reconstruct = reconstruct;
    cmp_quant_defaults(&c->q);
    c->gen_width = 128, c->gen_latent = 100, c->gen_train = 1, c->gen_scale = 1.0f;
    c->gen_lr = 1e-3f, c->gen_beta1 = 0.5f, c->gen_beta2 = 0.999f, c->bns_beta = 0.1f;
    c->epochs = 1, c->iters = 200, c->batch = 200, c->warmup_epochs = 0, c->calib_epochs = 4, c->fine_tune = 1;
    c->eval_every = 1, c->eval_batch = 500, c->bn_recal = -1;
    c->s_lr = 1e-4f, c->s_momentum = 0.9f, c->s_wd = 1e-4f, c->s_nesterov = 1, c->s_sched = NN_SCHED_CONST;
    c->kd = (cmp_kd){.temperature = 20.0f, .alpha = 1.0f, .batchmean = 0};
    c->samples = 1000, c->grid_cols = 10, c->dist_iters = 500, c->dist_lr = 0.25f;
    c->seed = 1;
    int failed;
    if (!cJSON_IsObject(j)) return nn_fail(e, "the config must be a JSON object");
    if (nn_json_check_keys(j, "$", top, e) || nn_json_str(j, "$", "teacher", 1, &c->teacher, e) ||
        nn_json_int(j, "$", "seed", 0, &c->seed, e) || nn_json_int(j, "$", "threads", 0, &c->threads, e) ||
        nn_json_int(j, "$", "samples", 0, &c->samples, e) || nn_json_str(j, "$", "label", 0, &c->label, e))
        return NN_ERR;
    const cJSON *d = nn_json_obj(j, "$", "data", !reconstruct, e, &failed);
    if (failed) return NN_ERR;
    if (d) {
        if (nn_json_check_keys(d, "$.data", kdata, e) || nn_json_str(d, "$.data", "path", 1, &c->data_path, e) ||
            nn_json_int(d, "$.data", "train_limit", 0, &c->train_limit, e) ||
            nn_json_int(d, "$.data", "test_limit", 0, &c->test_limit, e))
            return NN_ERR;
        const cJSON *a = nn_json_obj(d, "$.data", "augment", 0, e, &failed);
        if (failed) return NN_ERR;
        if (a && (nn_json_check_keys(a, "$.data.augment", kaug, e) ||
                  nn_json_int(a, "$.data.augment", "crop_pad", 0, &c->aug.crop_pad, e) ||
                  nn_json_bool(a, "$.data.augment", "hflip", 0, &c->aug.hflip, e)))
            return NN_ERR;
    }
    const cJSON *pp = nn_json_obj(j, "$", "preprocess", 0, e, &failed);
    if (failed) return NN_ERR;
    if (pp && (nn_json_check_keys(pp, "$.preprocess", kpre, e) ||
               nn_json_floats(pp, "$.preprocess", "mean", 1, c->mean, 4, &c->nmean, e) ||
               nn_json_floats(pp, "$.preprocess", "std", 1, c->std, 4, &c->nstd, e)))
        return NN_ERR;
    for (int i = 0; i < c->nstd; i++)
        if (!(c->std[i] > 0.0f)) return nn_fail(e, "$.preprocess.std[%d]: must be > 0", i);
    const cJSON *q = nn_json_obj(j, "$", "quant", 0, e, &failed);
    if (failed || (q && cmp_quant_parse(q, "$.quant", &c->q, e))) return NN_ERR;
    const cJSON *s = nn_json_obj(j, "$", "source", 1, e, &failed);
    if (failed) return NN_ERR;
    const char *st = NULL;
    if (nn_json_check_keys(s, "$.source", ksrc, e) || nn_json_str(s, "$.source", "type", 1, &st, e) ||
        parse_source(st, &c->source, e) || nn_json_str(s, "$.source", "file", c->source == SRC_DATASET, &c->dataset_file, e) ||
        nn_json_int(s, "$.source", "iterations", 0, &c->dist_iters, e) ||
        nn_json_float(s, "$.source", "lr", 0, &c->dist_lr, e))
        return NN_ERR;
    if (reconstruct && c->source != SRC_GENERATOR && c->source != SRC_DISTILL)
        return nn_fail(e, "$.source.type: reconstruct makes data from a generator or by distillation");
    if (!reconstruct && c->source == SRC_DISTILL)
        return nn_fail(e, "$.source.type: distill with `datafree reconstruct`, then quantize from its dataset file");
    if (c->source == SRC_REAL && !c->data_path) return nn_fail(e, "$.data.path: the real source needs the dataset");
    const cJSON *g = nn_json_obj(j, "$", "generator", 0, e, &failed);
    if (failed) return NN_ERR;
    if (g && (nn_json_check_keys(g, "$.generator", kgen, e) ||
              nn_json_int(g, "$.generator", "width", 0, &c->gen_width, e) ||
              nn_json_int(g, "$.generator", "latent", 0, &c->gen_latent, e) ||
              nn_json_bool(g, "$.generator", "cond_bn", 0, &c->gen_cond_bn, e) ||
              nn_json_float(g, "$.generator", "lr", 0, &c->gen_lr, e) ||
              nn_json_float(g, "$.generator", "beta1", 0, &c->gen_beta1, e) ||
              nn_json_float(g, "$.generator", "beta2", 0, &c->gen_beta2, e) ||
              nn_json_float(g, "$.generator", "bns_beta", 0, &c->bns_beta, e) ||
              nn_json_bool(g, "$.generator", "train", 0, &c->gen_train, e) ||
              nn_json_str(g, "$.generator", "file", 0, &c->gen_file, e) ||
              nn_json_str(g, "$.generator", "genotype", 0, &c->gen_genotype, e) ||
              nn_json_float(g, "$.generator", "scale", 0, &c->gen_scale, e)))
        return NN_ERR;
    if (g) {
        const char *gt = "gdfq";
        if (nn_json_str(g, "$.generator", "type", 0, &gt, e)) return NN_ERR;
        if (!strcmp(gt, "autorecon"))
            c->gen_autorecon = 1;
        else if (strcmp(gt, "gdfq"))
            return nn_fail(e, "$.generator.type: '%s' is not one of gdfq (GDFQ's generator), autorecon (a searched "
                              "genotype)", gt);
        if (c->gen_autorecon && !c->gen_genotype)
            return nn_fail(e, "$.generator.genotype: required for an autorecon generator (genotype.json of `datafree search`)");
        if (!c->gen_autorecon && (c->gen_genotype || cJSON_GetObjectItem(g, "scale")))
            return nn_fail(e, "$.generator: genotype and scale are for type autorecon (gdfq's size is width)");
    }
    const cJSON *sc = nn_json_obj(j, "$", "schedule", 1, e, &failed);
    if (failed) return NN_ERR;
    if (nn_json_check_keys(sc, "$.schedule", ksch, e) || nn_json_int(sc, "$.schedule", "epochs", 1, &c->epochs, e) ||
        nn_json_int(sc, "$.schedule", "iters_per_epoch", 0, &c->iters, e) ||
        nn_json_int(sc, "$.schedule", "batch_size", 0, &c->batch, e) ||
        nn_json_int(sc, "$.schedule", "warmup_epochs", 0, &c->warmup_epochs, e) ||
        nn_json_int(sc, "$.schedule", "calib_epochs", 0, &c->calib_epochs, e) ||
        nn_json_bool(sc, "$.schedule", "fine_tune", 0, &c->fine_tune, e) ||
        nn_json_int(sc, "$.schedule", "eval_every", 0, &c->eval_every, e) ||
        nn_json_int(sc, "$.schedule", "eval_batch_size", 0, &c->eval_batch, e) ||
        nn_json_bool(sc, "$.schedule", "bn_recalibrate", 0, &c->bn_recal, e))
        return NN_ERR;
    if (c->epochs < 1 || c->iters < 1 || c->batch < 1 || c->eval_batch < 1)
        return nn_fail(e, "$.schedule: epochs, iters_per_epoch and batch_size must be >= 1");
    if (c->warmup_epochs < 0 || c->calib_epochs < 0) return nn_fail(e, "$.schedule: negative epoch counts");
    const cJSON *so = nn_json_obj(j, "$", "student", 0, e, &failed);
    if (failed) return NN_ERR;
    if (so) {
        const char *sk = "constant";
        if (nn_json_check_keys(so, "$.student", kstu, e) || nn_json_float(so, "$.student", "lr", 0, &c->s_lr, e) ||
            nn_json_float(so, "$.student", "momentum", 0, &c->s_momentum, e) ||
            nn_json_bool(so, "$.student", "nesterov", 0, &c->s_nesterov, e) ||
            nn_json_float(so, "$.student", "weight_decay", 0, &c->s_wd, e) ||
            nn_json_str(so, "$.student", "schedule", 0, &sk, e) ||
            nn_json_ints(so, "$.student", "milestones", 0, c->s_mil, 8, &c->s_nmil, e) ||
            nn_json_float(so, "$.student", "min_lr", 0, &c->s_min_lr, e))
            return NN_ERR;
        if (nn_sched_parse(sk, &c->s_sched))
            return nn_fail(e, "$.student.schedule: '%s' is not one of constant, cosine, multistep", sk);
        if (c->s_sched == NN_SCHED_MULTISTEP && !c->s_nmil)
            return nn_fail(e, "$.student.milestones: required for a multistep schedule (epochs)");
    }
    const cJSON *k = nn_json_obj(j, "$", "kd", 0, e, &failed);
    if (failed) return NN_ERR;
    if (k) {
        const char *red = "mean";
        if (nn_json_check_keys(k, "$.kd", kkd, e) || nn_json_float(k, "$.kd", "temperature", 0, &c->kd.temperature, e) ||
            nn_json_float(k, "$.kd", "alpha", 0, &c->kd.alpha, e) || nn_json_str(k, "$.kd", "reduction", 0, &red, e))
            return NN_ERR;
        if (!strcmp(red, "batchmean"))
            c->kd.batchmean = 1;
        else if (strcmp(red, "mean"))
            return nn_fail(e, "$.kd.reduction: '%s' is not one of mean (GDFQ), batchmean", red);
        if (c->kd.temperature <= 0.0f) return nn_fail(e, "$.kd.temperature: must be > 0");
    }
    const cJSON *o = nn_json_obj(j, "$", "output", 1, e, &failed);
    if (failed) return NN_ERR;
    if (nn_json_check_keys(o, "$.output", kout, e) || nn_json_str(o, "$.output", "dir", 1, &c->out_dir, e) ||
        nn_json_str(o, "$.output", "export", 0, &c->export_path, e) ||
        nn_json_str(o, "$.output", "table", 0, &c->table, e))
        return NN_ERR;
    if (c->samples < 1) return nn_fail(e, "$.samples: must be >= 1");
    return NN_OK;
}

/* ---- a synthetic dataset file: images (normalised), labels, teacher logits ---- */

typedef struct synth_set {
    int n, c, h, w, k;
    float *images, *labels_f, *logits;
} synth_set;

static void synth_free(synth_set *s)
{
    free(s->images);
    free(s->labels_f);
    free(s->logits);
    memset(s, 0, sizeof *s);
}

static int synth_save(const char *path, const synth_set *s, const char *meta, nn_err *e)
{
    nn_st_tensor ts[3] = {{"images", 4, {s->n, s->c, s->h, s->w}, s->images},
                          {"labels", 1, {s->n}, s->labels_f},
                          {"teacher_logits", 2, {s->n, s->k}, s->logits}};
    return nn_st_write(path, ts, 3, meta, e);
}

static int synth_load(const char *path, synth_set *s, nn_err *e)
{
    nn_st_file f;
    if (nn_st_open(&f, path, e)) return NN_ERR;
    int nd, sh[4], shl[4], shk[4];
    const float *im = nn_st_get(&f, "images", &nd, sh, e);
    const float *lb = im ? nn_st_get(&f, "labels", &nd, shl, e) : NULL;
    const float *lg = lb ? nn_st_get(&f, "teacher_logits", &nd, shk, e) : NULL;
    if (!lg) {
        nn_st_close(&f);
        return NN_ERR;
    }
    s->n = sh[0], s->c = sh[1], s->h = sh[2], s->w = sh[3], s->k = shk[1];
    size_t ni = (size_t)s->n * s->c * s->h * s->w;
    s->images = nn_xmalloc(ni * sizeof(float));
    s->labels_f = nn_xmalloc((size_t)s->n * sizeof(float));
    s->logits = nn_xmalloc((size_t)s->n * s->k * sizeof(float));
    memcpy(s->images, im, ni * sizeof(float));
    memcpy(s->labels_f, lb, (size_t)s->n * sizeof(float));
    memcpy(s->logits, lg, (size_t)s->n * s->k * sizeof(float));
    nn_st_close(&f);
    return NN_OK;
}

static int argmax(const float *r, int k)
{
    int b = 0;
    for (int i = 1; i < k; i++)
        if (r[i] > r[b]) b = i;
    return b;
}

/* ---- the results table: one row per config, replaced on rerun ---- */

static int table_upsert(const char *path, const char *key, const char *row, nn_err *e)
{
    static const char *header =
        "| run | method | bits | source | fine-tune budget | seed | top-1 % | Δ vs teacher (pt) | wall time | config |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n";
    size_t len = 0;
    char *old = nn_file_exists(path) ? nn_read_file(path, &len, e) : NULL;
    if (nn_file_exists(path) && !old) return NN_ERR;
    size_t cap = len + strlen(header) + strlen(row) + 8;
    char *out = nn_xmalloc(cap), prefix[300];
    snprintf(prefix, sizeof prefix, "| %s |", key);
    size_t k = 0;
    int done = 0;
    if (!old) {
        k += (size_t)snprintf(out, cap, "%s", header);
    } else {
        for (char *p = old; *p;) {
            char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            if (!strncmp(p, prefix, strlen(prefix))) {
                k += (size_t)snprintf(out + k, cap - k, "%s\n", row);
                done = 1;
            } else {
                memcpy(out + k, p, l);
                out[k + l] = '\n';
                k += l + 1;
            }
            p += l + (nl ? 1 : 0);
        }
        /* a new row goes after the last table row */
    }
    if (!done && old && !strstr(out, "| run | method |")) { /* a file with prose but no table yet */
        k = (size_t)(k && out[k - 1] != '\n' ? snprintf(out + k, cap - k, "\n") + k : k);
        k += (size_t)snprintf(out + k, cap - k, "\n%s%s\n", header, row);
        done = 1;
    }
    if (!done) {
        if (old) { /* insert after the last line that starts with '|' */
            char *last = NULL;
            for (char *p = out; p < out + k;) {
                char *nl = memchr(p, '\n', (size_t)(out + k - p));
                if (*p == '|') last = nl ? nl + 1 : out + k;
                p = nl ? nl + 1 : out + k;
            }
            size_t at = last ? (size_t)(last - out) : k, rl = strlen(row);
            char *n2 = nn_xmalloc(k + rl + 2);
            memcpy(n2, out, at);
            memcpy(n2 + at, row, rl);
            n2[at + rl] = '\n';
            memcpy(n2 + at + rl + 1, out + at, k - at);
            free(out);
            out = n2;
            k += rl + 1;
        } else {
            k += (size_t)snprintf(out + k, cap - k, "%s\n", row);
        }
    }
    int rc = nn_write_file_atomic(path, out, k, e);
    free(out);
    free(old);
    return rc;
}

/* ---- ZeroQ-style distillation: optimise pixels against BN statistics ---- */

static int distill(dfq_cfg *cfg, nn_graph *teacher, nn_ctx *ctx, synth_set *s, int start, const char *ckpt,
                   const char *meta, int json, nn_err *e)
{
    const int B = cfg->batch, per = s->c * s->h * s->w;
    float *m = nn_xcalloc((size_t)B * per, sizeof(float)), *v = nn_xcalloc((size_t)B * per, sizeof(float));
    float *grad = nn_xcalloc((size_t)B * per, sizeof(float));
    run_progress prog;
    run_progress_init(&prog, json);
    double t0 = nn_now();
    for (int off = start; off < s->n; off += B) {
        const int n = s->n - off < B ? s->n - off : B;
        nn_rng rng;
        nn_rng_seed(&rng, (uint64_t)cfg->seed * 7919ULL + (uint64_t)off);
        float *x = s->images + (size_t)off * per;
        for (size_t i = 0; i < (size_t)n * per; i++) x[i] = nn_rng_normal(&rng);
        memset(m, 0, (size_t)n * per * sizeof(float));
        memset(v, 0, (size_t)n * per * sizeof(float));
        gen_recon_out o = {0};
        for (int it = 0; it < cfg->dist_iters; it++) {
            nn_ctx_reset(ctx);
            ctx->grad_enabled = 1;
            int sh[4] = {n, s->c, s->h, s->w};
            nn_tensor *xt = nn_view(ctx, x, 4, sh);
            memset(grad, 0, (size_t)n * per * sizeof(float));
            xt->grad = grad;
            xt->requires_grad = 1;
            xt->is_param = 1;
            gen_recon_loss(ctx, teacher, xt, NULL, 1.0f, &o);
            nn_backward(ctx, o.loss);
            /* Adam on the pixels, cosine-decayed step */
            const float lr = 0.5f * cfg->dist_lr * (1.0f + cosf((float)M_PI * (float)it / (float)cfg->dist_iters));
            const float b1 = 0.9f, b2 = 0.999f, c1 = 1.0f - powf(b1, (float)(it + 1)), c2 = 1.0f - powf(b2, (float)(it + 1));
            for (size_t i = 0; i < (size_t)n * per; i++) {
                m[i] = b1 * m[i] + (1.0f - b1) * grad[i];
                v[i] = b2 * v[i] + (1.0f - b2) * grad[i] * grad[i];
                x[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + 1e-8f);
            }
            run_progress_line(&prog, "distill images %d-%d of %d, iteration %d/%d, BNS loss %.3g, %.0fs", off + 1,
                              off + n, s->n, it + 1, cfg->dist_iters, o.bns, nn_now() - t0);
        }
        /* labels: the teacher's own predictions (ZeroQ has none) */
        nn_ctx_reset(ctx);
        ctx->grad_enabled = 0;
        ctx->training = 0;
        int sh[4] = {n, s->c, s->h, s->w};
        nn_tensor *lg = nn_graph_forward(teacher, ctx, nn_view(ctx, x, 4, sh), NULL);
        memcpy(s->logits + (size_t)off * s->k, lg->data, (size_t)n * s->k * sizeof(float));
        for (int i = 0; i < n; i++) s->labels_f[off + i] = (float)argmax(lg->data + (size_t)i * s->k, s->k);
        char line[200];
        snprintf(line, sizeof line, "{\"done\":\"%d\"}", off + n);
        (void)meta;
        synth_set part = *s;
        if (synth_save(ckpt, &part, line, e)) break; /* images so far; a resume continues after them */
        if (!json) {
            run_progress_done(&prog);
            printf("distilled %d/%d images, final BNS loss %.3g\n", off + n, s->n, o.bns);
        }
    }
    free(m);
    free(v);
    free(grad);
    return e->msg[0] ? NN_ERR : NN_OK;
}

/* n images from the generator (BN in train mode, as GDFQ samples), labels
 * cycling over the classes, with the teacher's logits. */
static void sample_generator(nn_graph *gen, nn_graph *teacher, nn_ctx *ctx, const dfq_cfg *cfg, int n_total,
                             synth_set *syn)
{
    const int C = teacher->in_shape[0], H = teacher->in_shape[1], W = teacher->in_shape[2], K = teacher->num_classes;
    const int per = C * H * W;
    synth_free(syn);
    *syn = (synth_set){n_total, C, H, W, K, nn_xcalloc((size_t)n_total * per, sizeof(float)),
                       nn_xcalloc((size_t)n_total, sizeof(float)), nn_xcalloc((size_t)n_total * K, sizeof(float))};
    int *labels = nn_xmalloc((size_t)cfg->batch * sizeof(int));
    nn_rng rng;
    nn_rng_seed(&rng, (uint64_t)cfg->seed * 31337ULL);
    for (int off = 0; off < n_total; off += cfg->batch) {
        const int n = n_total - off < cfg->batch ? n_total - off : cfg->batch;
        nn_ctx_reset(ctx);
        ctx->training = 1;
        ctx->grad_enabled = 0;
        nn_tensor *z = nn_new(ctx, 2, (int[]){n, gen->in_shape[0]});
        for (size_t i = 0; i < z->numel; i++) z->data[i] = nn_rng_normal(&rng);
        for (int i = 0; i < n; i++) labels[i] = (off + i) % K;
        nn_fwd_opts go = {.labels = labels};
        nn_tensor *x = nn_graph_forward(gen, ctx, z, &go);
        ctx->training = 0;
        nn_tensor *t = nn_graph_forward(teacher, ctx, x, NULL);
        memcpy(syn->images + (size_t)off * per, x->data, (size_t)n * per * sizeof(float));
        memcpy(syn->logits + (size_t)off * K, t->data, (size_t)n * K * sizeof(float));
        for (int i = 0; i < n; i++) syn->labels_f[off + i] = (float)labels[i];
    }
    free(labels);
}

/* grid.png: one row per class, the first `cols` samples of each label. */
static int write_grid(const dfq_cfg *cfg, const nn_graph *teacher, const synth_set *syn, nn_err *e)
{
    char path[1200];
    const int K = syn->k, per = syn->c * syn->h * syn->w, cols = cfg->grid_cols;
    float *g = nn_xcalloc((size_t)K * cols * per, sizeof(float));
    for (int k = 0; k < K; k++) {
        int got = 0;
        for (int i = 0; i < syn->n && got < cols; i++)
            if ((int)syn->labels_f[i] == k)
                memcpy(g + ((size_t)k * cols + got++) * per, syn->images + (size_t)i * per, (size_t)per * sizeof(float));
    }
    snprintf(path, sizeof path, "%s/grid.png", cfg->out_dir);
    int w = gen_write_png_grid(path, g, K * cols, syn->c, syn->h, syn->w, cols, teacher->mean, teacher->std, e);
    free(g);
    return w;
}

/* reconstruct's outputs: dataset.safetensors, grid.png (one row per class). */
static int finish_reconstruct(const dfq_cfg *cfg, const nn_graph *teacher, const synth_set *syn, double secs, int json,
                              nn_err *e)
{
    char path[1200];
    const int K = syn->k;
    snprintf(path, sizeof path, "%s/dataset.safetensors", cfg->out_dir);
    if (synth_save(path, syn, NULL, e)) return NN_ERR;
    if (write_grid(cfg, teacher, syn, e)) return NN_ERR;
    long agree = 0;
    for (int i = 0; i < syn->n; i++) agree += argmax(syn->logits + (size_t)i * K, K) == (int)syn->labels_f[i];
    const char *src = cfg->source == SRC_DISTILL ? "distill" : "generator";
    if (json)
        printf("{\"source\":\"%s\",\"samples\":%d,\"teacher_agreement\":%.5f,\"seconds\":%.1f,\"run_dir\":\"%s\"}\n",
               src, syn->n, (double)agree / syn->n, secs, cfg->out_dir);
    else
        printf("wrote %d synthetic images (%s; the teacher predicts their label for %.1f%%): %s/grid.png, "
               "%s/dataset.safetensors, in %.0fs\n",
               syn->n, src, 100.0 * agree / syn->n, cfg->out_dir, cfg->out_dir, secs);
    return NN_OK;
}

static const char *quantize_help =
    "usage: datafree quantize CONFIG.json [--resume] [--threads T] [--stop-after N] [--json]\n"
    "       datafree reconstruct CONFIG.json [same options]\n\n"
    "quantize: fake-quantizes the teacher by the config's protocol (quant {...})\n"
    "and fine-tunes it by knowledge distillation on batches from the source:\n"
    "  generator  GDFQ's generator trained against the teacher's BN statistics\n"
    "  dataset    a synthetic dataset file written by `datafree reconstruct`\n"
    "  real       the real training set (real-data QAT, the upper bound)\n"
    "schedule.fine_tune false only calibrates the activation ranges (naive PTQ).\n"
    "Writes a run folder (output.dir): config.json, metrics.jsonl (one line per\n"
    "epoch), ckpt.safetensors (every epoch), model.json + model.safetensors (the\n"
    "quantized model: `datafree eval` runs it), result.json and table.md; with\n"
    "output.table, the row is also put into that markdown table (replacing the\n"
    "row of the same run), and output.export gets a copy of the model.\n\n"
    "reconstruct: trains the generator (source generator), or distils images\n"
    "(source distill: ZeroQ, pixels optimised against the BN statistics), and\n"
    "writes grid.png (one row per class), dataset.safetensors (images, labels,\n"
    "teacher logits: a `dataset` source for quantize) and, for a generator,\n"
    "generator.json + generator.safetensors.\n\n"
    "  --resume        continue from the run folder's checkpoint, only under the\n"
    "                  config.json it ran with (another is refused, naming the key)\n"
    "  --threads T     worker threads (default: threads, else all cores)\n"
    "  --stop-after N  stop after N epochs of this invocation (resume later)\n"
    "  --json          print the result as one JSON object\n\n"
    "Config keys: teacher (model.json), data {path, train_limit, test_limit,\n"
    "augment}, quant {wbits, abits, first_bits, last_bits, w_symmetric,\n"
    "a_symmetric, per_channel, quant_input, quant_fc_input, bn_fold, ema_beta,\n"
    "freeze_after, pot, adder_weight_range mse|max}, source {type, file, iterations, lr}, generator {width,\n"
    "latent, cond_bn, lr, beta1, beta2, bns_beta, train, file}, schedule {epochs,\n"
    "iters_per_epoch, batch_size, warmup_epochs, calib_epochs, fine_tune,\n"
    "eval_every, eval_batch_size, bn_recalibrate}, student {lr, momentum, nesterov, weight_decay,\n"
    "schedule constant|cosine|multistep, milestones, min_lr}, kd {temperature,\n"
    "alpha, reduction mean|batchmean}, preprocess {mean, std} (for an ONNX teacher),\n"
    "samples, seed, threads, label, output\n"
    "{dir, export, table}. Defaults are GDFQ's; see configs/dfq/ for examples.\n";

static int run_dfq(int argc, char **argv, int reconstruct)
{
    const char *cmd = reconstruct ? "reconstruct" : "quantize";
    if (run_has_help(argc, argv)) {
        fputs(quantize_help, stdout);
        return 0;
    }
    run_args ra;
    int urc = run_parse_run_args(cmd, argc, argv, &ra);
    if (urc) return urc;
    const char *cfg_path = ra.config;
    const int resume = ra.resume, json = ra.json;
    nn_err e = {0};
    cJSON *root = nn_json_load(cfg_path, &e);
    if (!root) return run_error(e.msg);
    dfq_cfg cfg;
    if (parse_config(root, &cfg, reconstruct, &e)) {
        cJSON_Delete(root);
        char m[1100];
        snprintf(m, sizeof m, "%s: %s", cfg_path, e.msg);
        return run_error(m);
    }
    if (ra.threads) cfg.threads = ra.threads;
    const int stop_after = ra.stop_after;

    int rc = 1, have_ctx = 0;
    nn_graph *teacher = NULL, *student = NULL, *gen = NULL;
    nn_optim sopt = {0}, gopt = {0};
    nn_dataset train = {0}, test = {0};
    synth_set syn = {0};
    nn_ctx ctx;
    int *labels = NULL, *perm = NULL;
    char path[1200], metrics[1200], ckpt[1200], m[1400];

    teacher = run_load_model(cfg.teacher, &e);
    if (!teacher) {
        snprintf(m, sizeof m, "$.teacher: %s", e.msg);
        run_error(m);
        goto out;
    }
    if (teacher->in_ndim != 3) {
        run_error("$.teacher: needs an image classifier");
        goto out;
    }
    if (cfg.nmean || cfg.nstd) {
        if (cfg.nmean != teacher->in_shape[0] || cfg.nstd != teacher->in_shape[0]) {
            snprintf(m, sizeof m, "$.preprocess: need %d mean and std values (one per input channel)", teacher->in_shape[0]);
            run_error(m);
            goto out;
        }
        memcpy(teacher->mean, cfg.mean, sizeof cfg.mean);
        memcpy(teacher->std, cfg.std, sizeof cfg.std);
    } else if (nn_onnx_is_path(cfg.teacher) && cfg.data_path) {
        run_error("$.preprocess: an ONNX teacher carries no input preprocessing; give {\"mean\": [...], \"std\": [...]} "
                  "(per channel, for pixels scaled to [0, 1])");
        goto out;
    }
    {
        int bns = 0;
        for (int i = 0; i < teacher->n; i++) bns += teacher->nodes[i].op == NN_OP_BN;
        if (!bns && (cfg.source == SRC_GENERATOR || cfg.source == SRC_DISTILL)) {
            snprintf(m, sizeof m,
                     "$.teacher: %s has no BatchNormalization layers, so there are no BN statistics to reconstruct "
                     "data from. If it was exported from PyTorch in eval mode, the exporter folded BN into the convs: "
                     "export with torch.onnx.export(..., training=torch.onnx.TrainingMode.TRAINING, "
                     "do_constant_folding=False)",
                     cfg.teacher);
            run_error(m);
            goto out;
        }
    }
    nn_graph_set_trainable(teacher, 0);
    const int C = teacher->in_shape[0], H = teacher->in_shape[1], W = teacher->in_shape[2], K = teacher->num_classes;
    if (cfg.data_path) {
        if ((cfg.source == SRC_REAL && nn_dataset_load(cfg.data_path, "train", &train, &e)) ||
            nn_dataset_load(cfg.data_path, "test", &test, &e)) {
            snprintf(m, sizeof m, "$.data.path: %s", e.msg);
            run_error(m);
            goto out;
        }
        nn_dataset_truncate(&train, cfg.train_limit);
        nn_dataset_truncate(&test, cfg.test_limit);
        if (nn_check_data_fits(teacher, &test, &e)) {
            run_error(e.msg);
            goto out;
        }
    }
    if (cfg.source == SRC_DATASET) {
        if (synth_load(cfg.dataset_file, &syn, &e)) {
            snprintf(m, sizeof m, "$.source.file: %s", e.msg);
            run_error(m);
            goto out;
        }
        if (syn.c != C || syn.h != H || syn.w != W || syn.k != K) {
            run_error("$.source.file: its images or classes do not match the teacher");
            goto out;
        }
    }
    if (cfg.source == SRC_GENERATOR) {
        if (cfg.gen_file) {
            gen = run_load_model(cfg.gen_file, &e);
            if (gen && (gen->in_ndim != 1 || gen->num_classes != K)) nn_fail(&e, "not a generator for this teacher");
        } else if (cfg.gen_autorecon) {
            gen_ar_space sp;
            srch_genotype gt;
            if (!gen_ar_space_init(&sp, C, H, W, K, cfg.gen_latent, cfg.gen_scale, &e) &&
                !srch_genotype_load(cfg.gen_genotype, &gt, &e))
                gen = gen_ar_derived(&sp, &gt, (uint64_t)cfg.seed, &e);
        } else
            gen = gen_gdfq_build(C, H, W, K, cfg.gen_latent, cfg.gen_width, cfg.gen_cond_bn, (uint64_t)cfg.seed, &e);
        if (!gen || e.msg[0]) {
            snprintf(m, sizeof m, "$.generator: %s", e.msg);
            run_error(m);
            goto out;
        }
        cfg.gen_latent = gen->in_shape[0];
        nn_graph_set_trainable(gen, cfg.gen_train);
        nn_optim_init(&gopt, NN_ADAM, gen);
        gopt.beta1 = cfg.gen_beta1;
        gopt.beta2 = cfg.gen_beta2;
    }
    if (!reconstruct) {
        student = cmp_quantize_graph(teacher, &cfg.q, &e);
        if (!student) {
            run_error(e.msg);
            goto out;
        }
        nn_graph_set_trainable(student, 1);
        if (cfg.bn_recal < 0) {
            cfg.bn_recal = 0;
            for (int i = 0; i < student->n; i++) cfg.bn_recal |= student->nodes[i].op == NN_OP_ADDER_CONV;
        }
        nn_optim_init(&sopt, NN_SGD, student);
        sopt.momentum = cfg.s_momentum;
        sopt.nesterov = cfg.s_nesterov;
        sopt.weight_decay = cfg.s_wd;
    }
    if (run_start_dir(cfg.out_dir, root, resume, &e)) {
        run_error(e.msg);
        goto out;
    }
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", cfg.out_dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", cfg.out_dir);
    nn_ctx_init(&ctx, cfg.threads, 256u << 20);
    have_ctx = 1;
    if (getenv("DATAFREE_PROFILE")) nn_profile_enable(&ctx);
    labels = nn_xmalloc((size_t)cfg.batch * sizeof(int));

    nn_eval_result tev = {0};
    if (test.n && nn_evaluate(teacher, &ctx, &test, cfg.eval_batch, &tev, &e)) {
        run_error(e.msg);
        goto out;
    }
    char tag[40];
    cmp_quant_tag(&cfg.q, tag, sizeof tag);

    /* ---- reconstruct by distillation: its own loop over image chunks ---- */
    if (reconstruct && cfg.source == SRC_DISTILL) {
        syn = (synth_set){cfg.samples, C, H, W, K, nn_xcalloc((size_t)cfg.samples * C * H * W, sizeof(float)),
                          nn_xcalloc((size_t)cfg.samples, sizeof(float)), nn_xcalloc((size_t)cfg.samples * K, sizeof(float))};
        int start = 0;
        if (resume && nn_file_exists(ckpt)) {
            synth_set old = {0};
            nn_st_file f;
            if (synth_load(ckpt, &old, &e) || nn_st_open(&f, ckpt, &e)) {
                run_error(e.msg);
                goto out;
            }
            const char *d = nn_st_meta(&f, "done");
            start = d ? atoi(d) : 0;
            nn_st_close(&f);
            if (old.n != syn.n || old.k != K) {
                synth_free(&old);
                run_error("the checkpoint was made with another samples count or teacher");
                goto out;
            }
            synth_free(&syn);
            syn = old;
            if (!json) printf("resuming distillation after %d of %d images\n", start, syn.n);
        }
        double t0 = nn_now();
        if (distill(&cfg, teacher, &ctx, &syn, start, ckpt, NULL, json, &e)) {
            run_error(e.msg);
            goto out;
        }
        if (finish_reconstruct(&cfg, teacher, &syn, nn_now() - t0, json, &e)) {
            run_error(e.msg);
            goto out;
        }
        rc = 0;
        goto out;
    }

    /* ---- the epoch loop (generator reconstruction and all fine-tuning) ---- */
    run_ckpt_part parts[2] = {{"student", student, student ? &sopt : NULL}, {"generator", gen, gen ? &gopt : NULL}};
    int start_epoch = 0;
    if (resume && nn_file_exists(ckpt)) {
        if (run_ckpt_load(ckpt, parts, 2, &start_epoch, &e)) {
            run_error(e.msg);
            goto out;
        }
        run_trim_metrics(metrics, start_epoch);
        if (!json) printf("resuming %s at epoch %d\n", cfg.out_dir, start_epoch + 1);
    } else {
        if (resume && !json) printf("no checkpoint in %s: starting from scratch\n", cfg.out_dir);
        remove(metrics);
    }
    const long ft_steps = (long)(cfg.epochs - cfg.warmup_epochs) * cfg.iters;
    nn_sched ssched = {.kind = cfg.s_sched, .lr = cfg.s_lr, .min_lr = cfg.s_min_lr, .gamma = 0.1f,
                       .total_steps = ft_steps > 0 ? ft_steps : 1, .nmilestones = cfg.s_nmil};
    for (int i = 0; i < cfg.s_nmil; i++) ssched.milestones[i] = (long)(cfg.s_mil[i] - cfg.warmup_epochs) * cfg.iters;
    const int src_n = cfg.source == SRC_DATASET ? syn.n : (cfg.source == SRC_REAL ? train.n : 0);
    if (src_n) perm = nn_xmalloc((size_t)src_n * sizeof(int));
    if (!json)
        printf("%s %s: teacher %s (%.2f%% on %d test images), source %s, %d epochs x %d iterations, batch %d, "
               "%d threads\n",
               cmd, reconstruct ? "generator" : tag, teacher->name, 100.0 * tev.accuracy, test.n,
               (const char *[]){"generator", "dataset", "real", "distill"}[cfg.source], cfg.epochs, cfg.iters,
               cfg.batch, nn_threads(&ctx));
    run_progress prog;
    run_progress_init(&prog, json);
    nn_eval_result ev = {0};
    int epochs_run = 0, last_epoch = start_epoch, evaluated = 0;
    const int per = C * H * W;
    float *xbuf = nn_xmalloc((size_t)cfg.batch * per * sizeof(float)), *tbuf = nn_xmalloc((size_t)cfg.batch * K * sizeof(float));
    for (int epoch = start_epoch; epoch < cfg.epochs; epoch++) {
        if (stop_after && epochs_run >= stop_after) break;
        nn_rng rng;
        nn_rng_seed(&rng, (uint64_t)cfg.seed * 1000003ULL + (uint64_t)epoch);
        if (src_n) {
            for (int i = 0; i < src_n; i++) perm[i] = i;
            nn_rng_shuffle(&rng, perm, src_n);
        }
        const int observe = student && epoch < cfg.calib_epochs;
        const int update = student && cfg.fine_tune && epoch >= cfg.warmup_epochs;
        double t0 = nn_now(), g_ce = 0, g_bns = 0, s_loss = 0;
        long s_correct = 0, seen = 0, pos = 0;
        for (int it = 0; it < cfg.iters; it++) {
            const int B = cfg.batch;
            int n = B;
            nn_ctx_reset(&ctx);
            if (cfg.source == SRC_GENERATOR) {
                int zs[2] = {B, cfg.gen_latent};
                nn_tensor *z = nn_new(&ctx, 2, zs);
                for (size_t i = 0; i < z->numel; i++) z->data[i] = nn_rng_normal(&rng);
                for (int i = 0; i < B; i++) labels[i] = (int)(nn_rng_u64(&rng) % (uint64_t)K);
                ctx.training = 1; /* the generator's BN uses batch statistics (GDFQ: G in train mode) */
                ctx.grad_enabled = cfg.gen_train;
                nn_fwd_opts go = {.labels = labels};
                nn_tensor *x = nn_graph_forward(gen, &ctx, z, &go);
                if (cfg.gen_train) {
                    gen_recon_out ro;
                    gen_recon_loss(&ctx, teacher, x, labels, cfg.bns_beta, &ro);
                    memcpy(tbuf, ro.logits->data, (size_t)B * K * sizeof(float));
                    nn_graph_zero_grad(gen);
                    nn_backward(&ctx, ro.loss);
                    nn_optim_step(&gopt, gen, cfg.gen_lr);
                    g_ce += ro.ce * B;
                    g_bns += ro.bns * B;
                } else {
                    ctx.training = 0;
                    ctx.grad_enabled = 0;
                    nn_tensor *t = nn_graph_forward(teacher, &ctx, x, NULL);
                    memcpy(tbuf, t->data, (size_t)B * K * sizeof(float));
                }
                memcpy(xbuf, x->data, (size_t)B * per * sizeof(float));
            } else {
                if (pos + n > src_n) { /* next pass over the set */
                    nn_rng_shuffle(&rng, perm, src_n);
                    pos = 0;
                }
                if (n > src_n) n = src_n;
                if (cfg.source == SRC_DATASET) {
                    for (int i = 0; i < n; i++) {
                        int s = perm[pos + i];
                        memcpy(xbuf + (size_t)i * per, syn.images + (size_t)s * per, (size_t)per * sizeof(float));
                        memcpy(tbuf + (size_t)i * K, syn.logits + (size_t)s * K, (size_t)K * sizeof(float));
                        labels[i] = (int)syn.labels_f[s];
                    }
                } else {
                    nn_dataset_batch(&train, perm + pos, n, teacher->mean, teacher->std, &cfg.aug, &rng, xbuf, labels);
                    ctx.training = 0;
                    ctx.grad_enabled = 0;
                    nn_tensor *t = nn_graph_forward(teacher, &ctx, nn_view(&ctx, xbuf, 4, (int[]){n, C, H, W}), NULL);
                    memcpy(tbuf, t->data, (size_t)n * K * sizeof(float));
                }
                pos += n;
            }
            if (observe || update) {
                nn_ctx_reset(&ctx);
                /* GDFQ keeps the student's BN in eval mode. Re-estimating its
                 * statistics while only calibrating absorbs the per-channel
                 * offsets that weight rounding puts on an adder layer's sum
                 * (sum |x - w| moves by the rounding of every large |w|) */
                ctx.training = observe && !update && cfg.bn_recal;
                ctx.grad_enabled = update;
                nn_tensor *x = nn_view(&ctx, xbuf, 4, (int[]){n, C, H, W});
                nn_fwd_opts so = {.observe = observe};
                nn_tensor *s = nn_graph_forward(student, &ctx, x, &so);
                for (int i = 0; i < n; i++) s_correct += argmax(s->data + (size_t)i * K, K) == labels[i];
                if (update) {
                    nn_tensor *t = nn_view(&ctx, tbuf, 2, (int[]){n, K});
                    nn_tensor *loss = cmp_kd_loss(&ctx, s, t, labels, cfg.kd);
                    if (!isfinite(loss->data[0])) {
                        fprintf(stderr, "\ndatafree: student loss is %f at epoch %d iteration %d (lower $.student.lr)\n",
                                loss->data[0], epoch + 1, it + 1);
                        goto out_loop;
                    }
                    nn_graph_zero_grad(student);
                    nn_backward(&ctx, loss);
                    const long step = (long)(epoch - cfg.warmup_epochs) * cfg.iters + it;
                    nn_optim_step(&sopt, student, nn_sched_lr(&ssched, step));
                    s_loss += loss->data[0] * n;
                }
            }
            seen += n;
            double el = nn_now() - t0, ips = seen / (el > 0 ? el : 1e-9);
            double eta = ((double)(cfg.epochs - epoch - 1) * cfg.iters * cfg.batch + (double)(cfg.iters - it - 1) * cfg.batch) / ips;
            run_progress_line(&prog, "epoch %d/%d iter %d/%d%s%s G ce %.3f bns %.3f | S loss %.4f acc %.1f%% | %.0f img/s ETA %.0fm%02.0fs",
                              epoch + 1, cfg.epochs, it + 1, cfg.iters, update ? " [fine-tune]" : "",
                              observe ? " [calib]" : "", g_ce / seen, g_bns / seen, s_loss / seen,
                              100.0 * s_correct / seen, ips, floor(eta / 60), fmod(eta, 60));
        }
        double ep_time = nn_now() - t0;
        const int last = epoch + 1 == cfg.epochs;
        evaluated = 0;
        if (student && test.n && (last || (cfg.eval_every > 0 && (epoch + 1) % cfg.eval_every == 0))) {
            if (nn_evaluate(student, &ctx, &test, cfg.eval_batch, &ev, &e)) {
                run_error(e.msg);
                goto out_loop;
            }
            evaluated = 1;
        }
        run_progress_done(&prog);
        if (run_ckpt_save(ckpt, parts, 2, epoch + 1, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        char line[600];
        int l = snprintf(line, sizeof line,
                         "{\"epoch\":%d,\"phase\":\"%s\",\"g_ce\":%.5f,\"g_bns\":%.5f,\"s_loss\":%.5f,\"s_batch_acc\":%.5f,"
                         "\"epoch_seconds\":%.1f,\"images_per_s\":%.1f",
                         epoch + 1, update ? "fine_tune" : (observe ? "calibrate" : "warmup"), g_ce / seen,
                         g_bns / seen, s_loss / seen, (double)s_correct / seen, ep_time, seen / ep_time);
        if (evaluated) l += snprintf(line + l, sizeof line - (size_t)l, ",\"test_acc\":%.5f,\"test_loss\":%.5f", ev.accuracy, ev.loss);
        snprintf(line + l, sizeof line - (size_t)l, "}");
        run_append_line(metrics, line);
        if (!json) {
            printf("epoch %d/%d  %s  G ce %.3f bns %.3f  S loss %.4f", epoch + 1, cfg.epochs,
                   update ? "fine-tune" : (observe ? "calibrate" : "warm-up"), g_ce / seen, g_bns / seen, s_loss / seen);
            if (evaluated) printf("  test acc %.2f%%", 100.0 * ev.accuracy);
            printf("  %.0fs\n", ep_time);
        }
        epochs_run++;
        last_epoch = epoch + 1;
    }
    if (last_epoch < cfg.epochs) {
        if (!json) printf("stopped after epoch %d of %d; continue with --resume\n", last_epoch, cfg.epochs);
        if (json) printf("{\"epochs_done\":%d,\"epochs\":%d,\"complete\":false,\"run_dir\":\"%s\"}\n", last_epoch, cfg.epochs, cfg.out_dir);
        rc = 0;
        goto out_loop;
    }
    /* ---- finished: outputs ---- */
    const double run_seconds = run_sum_metric(metrics, "epoch_seconds"); /* over all invocations */
    if (reconstruct) {
        snprintf(path, sizeof path, "%s/generator.json", cfg.out_dir);
        if (nn_graph_save(gen, path, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        sample_generator(gen, teacher, &ctx, &cfg, cfg.samples, &syn);
        free(xbuf);
        free(tbuf);
        xbuf = tbuf = NULL;
        if (finish_reconstruct(&cfg, teacher, &syn, run_seconds, json, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        rc = 0;
        goto out_loop;
    }
    if (gen) { /* what the student was trained on: the final generator and a grid of its images */
        sample_generator(gen, teacher, &ctx, &cfg, K * cfg.grid_cols, &syn);
        snprintf(path, sizeof path, "%s/generator.json", cfg.out_dir);
        if (nn_graph_save(gen, path, &e) || write_grid(&cfg, teacher, &syn, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
    }
    snprintf(path, sizeof path, "%s/model.json", cfg.out_dir);
    if (nn_graph_save(student, path, &e) || (cfg.export_path && nn_graph_save(student, cfg.export_path, &e))) {
        run_error(e.msg);
        goto out_loop;
    }
    {
        const char *src = (const char *[]){"generator", "dataset", "real", "distill"}[cfg.source];
        const char *method = cfg.label ? cfg.label
                             : !cfg.fine_tune ? "naive PTQ"
                             : cfg.source == SRC_REAL ? "real-data QAT"
                             : cfg.source == SRC_DATASET ? "synthetic dataset + KD fine-tuning"
                                                         : "GDFQ generator + KD fine-tuning";
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "method", method);
        cJSON_AddStringToObject(r, "bits", tag);
        cJSON_AddStringToObject(r, "source", src);
        cJSON_AddItemToObject(r, "protocol", cmp_quant_to_json(&cfg.q));
        if (gen) {
            cJSON *gj = cJSON_AddObjectToObject(r, "generator");
            cJSON_AddStringToObject(gj, "type", cfg.gen_file ? "file" : cfg.gen_autorecon ? "autorecon" : "gdfq");
            if (cfg.gen_file) cJSON_AddStringToObject(gj, "file", cfg.gen_file);
            if (cfg.gen_autorecon && !cfg.gen_file) {
                cJSON_AddStringToObject(gj, "genotype", cfg.gen_genotype);
                cJSON_AddNumberToObject(gj, "scale", cfg.gen_scale);
            } else if (!cfg.gen_file) {
                cJSON_AddNumberToObject(gj, "width", cfg.gen_width);
            }
            cJSON_AddNumberToObject(gj, "params", (double)gen->train_len);
            cJSON_AddNumberToObject(gj, "macs", nn_graph_macs(gen));
        }
        cJSON_AddNumberToObject(r, "teacher_accuracy", tev.accuracy);
        cJSON_AddNumberToObject(r, "test_accuracy", ev.accuracy);
        cJSON_AddNumberToObject(r, "delta_pt", 100.0 * (ev.accuracy - tev.accuracy));
        cJSON_AddNumberToObject(r, "test_images", test.n);
        cJSON_AddNumberToObject(r, "epochs", cfg.epochs);
        cJSON_AddNumberToObject(r, "iters_per_epoch", cfg.iters);
        cJSON_AddNumberToObject(r, "batch_size", cfg.batch);
        cJSON_AddNumberToObject(r, "warmup_epochs", cfg.warmup_epochs);
        cJSON_AddNumberToObject(r, "calib_epochs", cfg.calib_epochs);
        cJSON_AddBoolToObject(r, "fine_tune", cfg.fine_tune);
        cJSON_AddBoolToObject(r, "bn_recalibrate", cfg.bn_recal);
        cJSON_AddNumberToObject(r, "seed", cfg.seed);
        cJSON_AddNumberToObject(r, "threads", nn_threads(&ctx));
        cJSON_AddNumberToObject(r, "run_seconds", run_seconds);
        cJSON_AddStringToObject(r, "config", cfg_path);
        char *s = cJSON_Print(r);
        snprintf(path, sizeof path, "%s/result.json", cfg.out_dir);
        int w = nn_write_file_atomic(path, s, strlen(s), &e);
        if (json && !w) printf("%s\n", s);
        free(s);
        cJSON_Delete(r);
        if (w) {
            run_error(e.msg);
            goto out_loop;
        }
        char budget[200], row[1600], key[300];
        if (cfg.fine_tune)
            snprintf(budget, sizeof budget, "%d ep × %d it × %d (warm-up %d)", cfg.epochs, cfg.iters, cfg.batch, cfg.warmup_epochs);
        else
            snprintf(budget, sizeof budget, "none (calibration %d ep × %d it × %d)", cfg.calib_epochs, cfg.iters, cfg.batch);
        const char *base = strrchr(cfg_path, '/');
        snprintf(key, sizeof key, "%s", base ? base + 1 : cfg_path);
        char *dot = strrchr(key, '.');
        if (dot) *dot = 0;
        snprintf(row, sizeof row, "| %s | %s | %s | %s | %s | %d | %.2f | %+.2f | %.0f min | `%s` |", key, method, tag,
                 src, budget, cfg.seed, 100.0 * ev.accuracy, 100.0 * (ev.accuracy - tev.accuracy), run_seconds / 60.0,
                 cfg_path);
        snprintf(path, sizeof path, "%s/table.md", cfg.out_dir);
        remove(path);
        if (table_upsert(path, key, row, &e) || (cfg.table && table_upsert(cfg.table, key, row, &e))) {
            run_error(e.msg);
            goto out_loop;
        }
        if (!json)
            printf("%s %s: test accuracy %.2f%% (teacher %.2f%%, %+.2f pt) in %.1f min; model written to %s/model.json\n",
                   method, tag, 100.0 * ev.accuracy, 100.0 * tev.accuracy, 100.0 * (ev.accuracy - tev.accuracy),
                   run_seconds / 60.0, cfg.out_dir);
    }
    rc = 0;
out_loop:
    free(xbuf);
    free(tbuf);
out:
    free(labels);
    free(perm);
    if (have_ctx && ctx.prof) nn_profile_print(&ctx, stderr); /* DATAFREE_PROFILE=1 */
    if (have_ctx) nn_ctx_free(&ctx);
    nn_optim_free(&sopt);
    nn_optim_free(&gopt);
    nn_graph_free(student);
    nn_graph_free(gen);
    nn_graph_free(teacher);
    nn_dataset_free(&train);
    nn_dataset_free(&test);
    synth_free(&syn);
    cJSON_Delete(root);
    return rc;
}

int run_quantize(int argc, char **argv) { return run_dfq(argc, argv, 0); }
int run_reconstruct(int argc, char **argv) { return run_dfq(argc, argv, 1); }
