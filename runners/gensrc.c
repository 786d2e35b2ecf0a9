#include "gensrc.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "generators/recon.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/ops.h"

int run_parse_kd(const cJSON *source, cmp_kd *kd, nn_err *e)
{
    static const char *const kk[] = {"temperature", "alpha", NULL};
    kd->temperature = 20.0f, kd->alpha = 1.0f, kd->batchmean = 0;
    int failed = 0;
    const cJSON *k = nn_json_obj(source, "$.source", "kd", 0, e, &failed);
    if (failed || (k && (nn_json_check_keys(k, "$.source.kd", kk, e) ||
                         nn_json_float(k, "$.source.kd", "temperature", 0, &kd->temperature, e) ||
                         nn_json_float(k, "$.source.kd", "alpha", 0, &kd->alpha, e))))
        return NN_ERR;
    return NN_OK;
}

int run_gensrc_parse(const cJSON *source, run_gensrc *s, nn_err *e)
{
    static const char *const ks[] = {"type", "generator", "teacher", "batches_per_epoch", "kd", "update", NULL};
    static const char *const ku[] = {"lr", "beta1", "beta2", "bns_beta", "adversarial", NULL};
    memset(s, 0, sizeof *s);
    s->batches = 100;
    /* GDFQ's generator optimiser and loss weight; DFAD's adversarial weight */
    s->lr = 1e-3f, s->beta1 = 0.5f, s->beta2 = 0.999f, s->bns_beta = 0.1f, s->adversarial = 1.0f;
    if (nn_json_check_keys(source, "$.source", ks, e) ||
        nn_json_str(source, "$.source", "generator", 1, &s->gen_path, e) ||
        nn_json_str(source, "$.source", "teacher", 1, &s->teacher_path, e) ||
        nn_json_int(source, "$.source", "batches_per_epoch", 0, &s->batches, e) || run_parse_kd(source, &s->kd, e))
        return NN_ERR;
    if (s->batches < 1) return nn_fail(e, "$.source.batches_per_epoch: must be >= 1");
    int failed = 0;
    const cJSON *u = nn_json_obj(source, "$.source", "update", 0, e, &failed);
    if (failed) return NN_ERR;
    if (!u) return NN_OK;
    if (nn_json_check_keys(u, "$.source.update", ku, e) || nn_json_float(u, "$.source.update", "lr", 0, &s->lr, e) ||
        nn_json_float(u, "$.source.update", "beta1", 0, &s->beta1, e) ||
        nn_json_float(u, "$.source.update", "beta2", 0, &s->beta2, e) ||
        nn_json_float(u, "$.source.update", "bns_beta", 0, &s->bns_beta, e) ||
        nn_json_float(u, "$.source.update", "adversarial", 0, &s->adversarial, e))
        return NN_ERR;
    if (!(s->lr > 0.0f)) return nn_fail(e, "$.source.update.lr: must be > 0");
    if (s->adversarial < 0.0f || s->bns_beta < 0.0f) return nn_fail(e, "$.source.update: weights must be >= 0");
    s->update = 1;
    return NN_OK;
}

int run_gensrc_open(run_gensrc *s, nn_err *e)
{
    s->gen = nn_graph_load(s->gen_path, e);
    if (!s->gen) return NN_ERR;
    s->teacher = run_load_model(s->teacher_path, e);
    if (!s->teacher) return NN_ERR;
    const nn_gnode *o = &s->gen->nodes[s->gen->output];
    if (o->ndim != 3 || memcmp(o->shape, s->teacher->in_shape, 3 * sizeof(int)))
        return nn_fail(e, "$.source.generator: its images do not have the teacher's input shape");
    nn_graph_set_trainable(s->teacher, 0);
    nn_graph_set_trainable(s->gen, s->update);
    if (s->update) {
        nn_optim_init(&s->opt, NN_ADAM, s->gen);
        s->opt.beta1 = s->beta1, s->opt.beta2 = s->beta2;
    }
    return NN_OK;
}

void run_gensrc_batch(run_gensrc *s, nn_ctx *c, nn_graph *student, const nn_fwd_opts *so, int n, nn_rng *r,
                      int *labels, float *x, float *tl)
{
    const int K = s->teacher->num_classes;
    nn_ctx_reset(c);
    nn_tensor *z = nn_new2(c, n, s->gen->in_shape[0]);
    for (size_t i = 0; i < z->numel; i++) z->data[i] = nn_rng_normal(r);
    for (int i = 0; i < n; i++) labels[i] = (int)(nn_rng_u64(r) % (uint64_t)K);
    nn_fwd_opts go = {.labels = labels};
    nn_tensor *img, *t;
    if (!s->update) { /* sampled only, without a tape */
        c->training = 0;
        c->grad_enabled = 0;
        img = nn_graph_forward(s->gen, c, z, &go);
        t = nn_graph_forward(s->teacher, c, img, NULL);
    } else {
        c->training = 1; /* the generator's BN on batch statistics, as GDFQ trains it */
        c->grad_enabled = 1;
        img = nn_graph_forward(s->gen, c, z, &go);
        gen_recon_out ro;
        gen_recon_loss(c, s->teacher, img, labels, s->bns_beta, &ro);
        t = ro.logits;
        nn_tensor *loss = ro.loss;
        float gap = 0.0f;
        if (student && s->adversarial > 0.0f) {
            /* the student as it trains (batch statistics), its gradient to the images only used */
            nn_tensor *sl = nn_graph_forward(student, c, img, so);
            nn_tensor *d = nn_l1(c, sl, t);
            gap = d->data[0];
            loss = nn_add(c, loss, nn_scale(c, d, -s->adversarial));
        }
        nn_graph_zero_grad(s->gen);
        nn_backward(c, loss);
        nn_optim_step(&s->opt, s->gen, s->lr);
        s->ce += ro.ce * n, s->bns += ro.bns * n, s->gap += gap * n, s->seen += n;
    }
    memcpy(x, img->data, img->numel * sizeof(float));
    memcpy(tl, t->data, (size_t)n * K * sizeof(float));
    nn_ctx_reset(c);
}

static void ckpt_path(char *buf, size_t size, const char *dir) { snprintf(buf, size, "%s/generator_ckpt.safetensors", dir); }

int run_gensrc_save(const run_gensrc *s, const char *dir, int epoch, nn_err *e)
{
    if (!s->update) return NN_OK;
    char path[1200];
    ckpt_path(path, sizeof path, dir);
    run_ckpt_part p = {"generator", s->gen, (nn_optim *)&s->opt};
    return run_ckpt_save(path, &p, 1, epoch, e);
}

int run_gensrc_load(run_gensrc *s, const char *dir, nn_err *e)
{
    if (!s->update) return NN_OK;
    char path[1200];
    ckpt_path(path, sizeof path, dir);
    if (!nn_file_exists(path)) return NN_OK;
    int epoch;
    run_ckpt_part p = {"generator", s->gen, &s->opt};
    return run_ckpt_load(path, &p, 1, &epoch, e);
}

void run_gensrc_metrics(run_gensrc *s, char *buf, size_t size)
{
    buf[0] = 0;
    if (!s->update || !s->seen) return;
    const double n = (double)s->seen;
    snprintf(buf, size, ",\"g_ce\":%.5f,\"g_bns\":%.5f,\"g_gap\":%.5f", s->ce / n, s->bns / n, s->gap / n);
    s->ce = s->bns = s->gap = 0.0, s->seen = 0;
}

void run_gensrc_free(run_gensrc *s)
{
    if (s->update) nn_optim_free(&s->opt);
    nn_graph_free(s->gen);
    nn_graph_free(s->teacher);
    s->gen = s->teacher = NULL;
}
