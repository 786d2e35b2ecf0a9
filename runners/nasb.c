/* datafree nasb CONFIG: NASB's three stages (seed 003 ch. 4) in one run
 * folder, each resumable:
 *   search/      the binary supernet (search/nasb.h) on a proxy split of the
 *                training set: per step an alpha step on a validation batch
 *                (two sampled paths per edge, Adam) then a weight step on a
 *                training batch (one path, momentum SGD), ProxylessNAS binary
 *                gates; alpha per edge and the ops sampled every epoch
 *                (alpha.jsonl, alpha.svg),
 *                genotype_v<N>.json per derivation variant, the cells as DOT
 *                (and SVG where Graphviz is installed)
 *   v<N>/pretrain/  the derived network in full precision (sign -> hardtanh,
 *                or tanh with pretrain_sign; real weights): a `datafree train` run
 *   v<N>/finetune/  binarized, initialised from the pretrained weights, Adam
 *                with weight decay 0 (the thesis's stage 3): a train run
 * With "model": {"zoo": "bireal_resnet20"} (or any binary zoo model) there is
 * no search: the same two training stages, for a baseline at the same budget. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "search/cost.h"
#include "compress/kd.h"
#include "gensrc.h"
#include "nn/data.h"
#include "nn/evaluate.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/optim.h"
#include "search/gates.h"
#include "search/nasb.h"
#include "search/plot.h"

static const char *nasb_help =
    "usage: datafree nasb CONFIG.json [--resume] [--threads T] [--stop-after N] [--json]\n\n"
    "NASB: searches binary cells on a binary ResNet-20 (Bi-Real backbone, a NAS\n"
    "cell of 15 mixed edges x 10 ops per group, ProxylessNAS binary gates), derives\n"
    "one network per variant (1 NASB: one predecessor per node; 2: 4 ops for the\n"
    "output node; 3: variant 1's cells in two parallel branches, summed; 4: 4 ops\n"
    "per node, no identity; 5: 8 ops for the output node, 6 for the others),\n"
    "pretrains each in full precision and finetunes it binarized\n"
    "(Adam, weight decay 0). Run folder (output.dir): search/ (ckpt, metrics.jsonl,\n"
    "alpha.jsonl (alphas and sampled ops per edge and epoch), alpha.svg,\n"
    "genotype_v<N>.json, cell<C>_v<N>.dot/.svg), then\n"
    "v<N>/pretrain/ and v<N>/finetune/ (train runs: model.json, metrics.jsonl).\n"
    "With model {zoo: bireal_resnet20}, no search: the same two training stages.\n\n"
    "  --resume        continue every stage from its checkpoint; a finished search\n"
    "                  whose checkpoint is gone derives (new variants too) from the\n"
    "                  alphas its alpha.jsonl logged after the last epoch. A stage\n"
    "                  goes on (or is skipped, finished) only under the config it\n"
    "                  ran with (its stage.json; paths inside the run folder taken\n"
    "                  relative to it): a changed one is refused, naming the key\n"
    "  --threads T     worker threads (default: all cores)\n"
    "  --stop-after N  stop after N search epochs of this invocation\n"
    "  --json          print the result as one JSON object\n\n"
    "Config keys: data {path, mean, std, train_limit, test_limit, augment}, model\n"
    "{zoo, or zoo nasb_resnet20 with a genotype} (a baseline instead of the\n"
    "search), search {epochs 4, batch_size 64,\n"
    "val_fraction 0.5, seed 1, weights (SGD) {lr 0.01, momentum 0.9, weight_decay\n"
    "5e-4}, arch (Adam) {lr 0.03, beta1 0.5, beta2 0.999, weight_decay 1e-3},\n"
    "flops_budget (derived networks at most this times the backbone's Flops,\n"
    "cheaper ops traded in by least alpha per Flop saved), flops_fill (true:\n"
    "then, while it fits the budget, move edges to ops of more alpha)},\n"
    "variants [1, 4, ...], pretrain and finetune {train,\n"
    "optim, schedule, source} (as in datafree train, checked before the search;\n"
    "e.g. source {type real, teacher, kd}: that stage distilled from a teacher;\n"
    "in finetune, teacher \"pretrain\" is each variant's own pretrained model),\n"
    "source {type generator, generator,\n"
    "teacher, batches_per_epoch, kd, update} (data-free NASB: every stage's batches\n"
    "from a generator reconstructed from the teacher, GDFQ's KD loss,\n"
    "batches_per_epoch (default 100) fresh batches per epoch for each of the\n"
    "search's two steps; the whole source block is checked before the search;\n"
    "update {lr, beta1, beta2, bns_beta, adversarial}: each stage trains the\n"
    "generator on against its network, as in datafree train; the training split\n"
    "is never read, data.path's test split only for evaluation), backbone_from (a\n"
    "trained ResNet-20's model.json: the pretraining starts the stem, fc, the\n"
    "downsampling and the 6 backbone convs per group from its 18 convs in order,\n"
    "the NAS ops afresh; e.g. the teacher of a data-free run), bconv_relu (true:\n"
    "every binary conv of the derived networks as Conv -> ReLU -> BN, the order\n"
    "seed 003 pretrains and finetunes NASB in; the genotypes say so), pretrain_sign\n"
    "(hardtanh, the default, as Bi-Real: what the sign activations become in the\n"
    "full-precision pretraining; tanh as seed 003's NASB), output {dir}.\n"
    "See configs/nasb/.\n";

typedef struct {
    const char *data, *out;
    int train_limit, epochs, batch, seed, variants[5], nvar;
    float val_fraction, w_lr, w_mom, w_wd, a_lr, a_b1, a_b2, a_wd, mean[4], std[4];
    float flops_budget; /* derived networks' Flops at most this times the backbone's (0: no budget) */
    int flops_fill;     /* 1: after trading down to the budget, spend what it leaves (srch_fill_budget) */
    int nmean, nstd;
    int bconv_relu; /* derived networks' binary convs as Conv -> ReLU -> BN (seed 003's order) */
    const char *pretrain_sign; /* what sign becomes in the pretraining: hardtanh (NULL) or tanh */
    const cJSON *root, *data_j, *pretrain, *finetune, *model, *source;
    const char *backbone_from; /* a trained ResNet-20 (model.json) the pretraining's backbone starts from */
    /* source generator (gsrc.gen_path set): data-free NASB; gsrc.batches
     * weight (and alpha) batches per search epoch, and the generator trains
     * on during the search too with $.source.update */
    run_gensrc gsrc;
} nasb_cfg;

/* A stage's source.teacher "pretrain" names the same network's pretrained
 * model: the source's teacher item when it says so, else NULL. */
#define NASB_OWN_TEACHER "pretrain"

static const cJSON *own_teacher(const cJSON *source)
{
    const cJSON *t = cJSON_GetObjectItem(source, "teacher");
    return cJSON_IsString(t) && !strcmp(t->valuestring, NASB_OWN_TEACHER) ? t : NULL;
}

/* A stage block as a `datafree train` config: model, the run's data, the
 * block's own keys (train, optim, schedule, and a source of its own), the
 * run's source, output dir. model NULL: an empty object (checks only).
 * A teacher NASB_OWN_TEACHER becomes own_pretrain (the variant's
 * v<N>/pretrain/model.json): the finetuning distilled from its own
 * full-precision twin, which one fixed path cannot say for several
 * variants; without own_pretrain (the parse-time check) it stays a word. */
static cJSON *stage_config(const nasb_cfg *cfg, const cJSON *stage, const cJSON *model, const char *dir,
                           const char *own_pretrain)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "model", model ? cJSON_Duplicate(model, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(c, "data", cJSON_Duplicate(cfg->data_j, 1));
    const cJSON *x;
    cJSON_ArrayForEach(x, stage) cJSON_AddItemToObject(c, x->string, cJSON_Duplicate(x, 1));
    if (cfg->source) cJSON_AddItemToObject(c, "source", cJSON_Duplicate(cfg->source, 1));
    cJSON *src = cJSON_GetObjectItem(c, "source");
    if (own_pretrain && own_teacher(src)) cJSON_ReplaceItemInObject(src, "teacher", cJSON_CreateString(own_pretrain));
    cJSON *o = cJSON_AddObjectToObject(c, "output");
    cJSON_AddStringToObject(o, "dir", dir);
    return c;
}

static int parse(const cJSON *root, nasb_cfg *c, nn_err *e)
{
    static const char *const keys[] = {"data",   "model",  "search",        "variants", "pretrain", "finetune",
                                       "output", "source", "backbone_from", "bconv_relu", "pretrain_sign", NULL};
    static const char *const kd[] = {"path", "mean", "std", "train_limit", "test_limit", "augment", NULL};
    static const char *const ks[] = {"epochs", "batch_size", "val_fraction", "seed", "weights", "arch", "flops_budget",
                                     "flops_fill", NULL};
    static const char *const kw[] = {"lr", "momentum", "weight_decay", NULL};
    static const char *const ka[] = {"lr", "beta1", "beta2", "weight_decay", NULL};
    memset(c, 0, sizeof *c);
    c->root = root;
    c->epochs = 4, c->batch = 64, c->seed = 1, c->val_fraction = 0.5f;
    /* weights 0.01: at 0.05 the first real search diverged; alphas 0.03: at 3e-3 two
     * epochs left them near uniform (configs/nasb/trials/README.md) */
    c->w_lr = 0.01f, c->w_mom = 0.9f, c->w_wd = 5e-4f, c->a_lr = 3e-2f, c->a_b1 = 0.5f, c->a_b2 = 0.999f, c->a_wd = 1e-3f;
    c->variants[0] = 1, c->nvar = 1;
    int failed = 0;
    const cJSON *d = nn_json_obj(root, "$", "data", 1, e, &failed), *o, *s, *w, *a;
    if (failed || nn_json_check_keys(root, "$", keys, e) || nn_json_check_keys(d, "$.data", kd, e) ||
        nn_json_str(d, "$.data", "path", 1, &c->data, e) || nn_json_int(d, "$.data", "train_limit", 0, &c->train_limit, e) ||
        nn_json_floats(d, "$.data", "mean", 0, c->mean, 4, &c->nmean, e) ||
        nn_json_floats(d, "$.data", "std", 0, c->std, 4, &c->nstd, e))
        return NN_ERR;
    c->data_j = d;
    o = nn_json_obj(root, "$", "output", 1, e, &failed);
    if (failed || nn_json_str(o, "$.output", "dir", 1, &c->out, e)) return NN_ERR;
    c->model = cJSON_GetObjectItem(root, "model");
    if (nn_json_str(root, "$", "backbone_from", 0, &c->backbone_from, e) ||
        nn_json_bool(root, "$", "bconv_relu", 0, &c->bconv_relu, e) ||
        nn_json_str(root, "$", "pretrain_sign", 0, &c->pretrain_sign, e))
        return NN_ERR;
    if (c->pretrain_sign && strcmp(c->pretrain_sign, "hardtanh") && strcmp(c->pretrain_sign, "tanh"))
        return nn_fail(e, "$.pretrain_sign: '%s' is not one of hardtanh, tanh", c->pretrain_sign);
    if (c->pretrain_sign && c->model && cJSON_GetObjectItem(c->model, "float_sign"))
        return nn_fail(e, "$.pretrain_sign: the pretraining's model gets it; drop $.model.float_sign");
    if (c->bconv_relu && c->model)
        return nn_fail(e, "$.bconv_relu: for the search's derived networks (a baseline: a genotype with \"bconv_relu\": true)");
    if (c->backbone_from) {
        const char *z = NULL;
        if (c->model && (cJSON_GetObjectItem(c->model, "init_from") || nn_json_str(c->model, "$.model", "zoo", 0, &z, e) ||
                         !z || strcmp(z, "bireal_resnet20")))
            return nn_fail(e, "$.backbone_from: for the search's networks or model {zoo: bireal_resnet20} (no init_from)");
        /* loaded whole now (graph and weights, about 1 MB), so that a bad file fails before the
         * search; the mapping is ResNet-20's: another network would load only in part */
        nn_err le = {0};
        nn_graph *bg = nn_graph_load(c->backbone_from, &le);
        if (!bg) return nn_fail(e, "$.backbone_from: %s", le.msg);
        const int ok = !strcmp(bg->name, "resnet20");
        if (!ok) nn_fail(e, "$.backbone_from: '%s' is a %s network, not a resnet20", c->backbone_from, bg->name);
        nn_graph_free(bg);
        if (!ok) return NN_ERR;
    }
    s = nn_json_obj(root, "$", "search", 0, e, &failed);
    if (failed) return NN_ERR;
    if (s) {
        w = nn_json_obj(s, "$.search", "weights", 0, e, &failed);
        if (failed) return NN_ERR;
        a = nn_json_obj(s, "$.search", "arch", 0, e, &failed);
        if (failed || nn_json_check_keys(s, "$.search", ks, e) || nn_json_int(s, "$.search", "epochs", 0, &c->epochs, e) ||
            nn_json_int(s, "$.search", "batch_size", 0, &c->batch, e) || nn_json_int(s, "$.search", "seed", 0, &c->seed, e) ||
            nn_json_float(s, "$.search", "val_fraction", 0, &c->val_fraction, e) ||
            nn_json_float(s, "$.search", "flops_budget", 0, &c->flops_budget, e) ||
            nn_json_bool(s, "$.search", "flops_fill", 0, &c->flops_fill, e) ||
            (w && (nn_json_check_keys(w, "$.search.weights", kw, e) || nn_json_float(w, "$.search.weights", "lr", 0, &c->w_lr, e) ||
                   nn_json_float(w, "$.search.weights", "momentum", 0, &c->w_mom, e) ||
                   nn_json_float(w, "$.search.weights", "weight_decay", 0, &c->w_wd, e))) ||
            (a && (nn_json_check_keys(a, "$.search.arch", ka, e) || nn_json_float(a, "$.search.arch", "lr", 0, &c->a_lr, e) ||
                   nn_json_float(a, "$.search.arch", "beta1", 0, &c->a_b1, e) ||
                   nn_json_float(a, "$.search.arch", "beta2", 0, &c->a_b2, e) ||
                   nn_json_float(a, "$.search.arch", "weight_decay", 0, &c->a_wd, e))))
            return NN_ERR;
    }
    const cJSON *v = cJSON_GetObjectItem(root, "variants");
    if (v) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > 5)
            return nn_fail(e, "$.variants: an array of 1 to 5 of 1, 2, 3, 4, 5");
        c->nvar = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, v)
        {
            const int k = cJSON_IsNumber(x) ? x->valueint : -1;
            if (k < 1 || k > 5)
                return nn_fail(e, "$.variants[%d]: %d is not a derivation variant (1 to 5)", c->nvar, k);
            c->variants[c->nvar++] = k;
        }
    }
    if (c->epochs < 1 || c->batch < 2 || !(c->val_fraction > 0.0f && c->val_fraction < 1.0f))
        return nn_fail(e, "$.search: epochs >= 1, batch_size >= 2, val_fraction in (0, 1)");
    if (c->flops_budget != 0.0f && !(c->flops_budget >= 1.0f))
        return nn_fail(e, "$.search.flops_budget: %g (a ratio to the backbone's Flops, >= 1; 0 or absent: none)",
                       (double)c->flops_budget);
    if (c->flops_fill && c->flops_budget == 0.0f)
        return nn_fail(e, "$.search.flops_fill: true needs a $.search.flops_budget to fill");
    c->source = cJSON_GetObjectItem(root, "source");
    if (c->source) { /* a generator source checked in full here, before the search (a real one by the train stages) */
        const char *type = NULL;
        if (nn_json_str(c->source, "$.source", "type", 1, &type, e)) return NN_ERR;
        if (!strcmp(type, "generator") && run_gensrc_parse(c->source, &c->gsrc, e)) return NN_ERR;
    }
    c->pretrain = cJSON_GetObjectItem(root, "pretrain");
    c->finetune = cJSON_GetObjectItem(root, "finetune");
    if (!c->pretrain || !c->finetune) return nn_fail(e, "$.pretrain and $.finetune are required");
    /* each stage block becomes a train config (stage_config), checked by train's
     * own parser now, so that a typo fails before the search, not after it */
    const cJSON *stages[2] = {c->pretrain, c->finetune};
    for (int i = 0; i < 2; i++) {
        const char *at = i ? "$.finetune" : "$.pretrain";
        if (!cJSON_IsObject(stages[i])) return nn_fail(e, "%s: an object {train, optim, schedule, source}", at);
        const cJSON *src = cJSON_GetObjectItem(stages[i], "source");
        if (c->source && src)
            return nn_fail(e, "%s.source: $.source already feeds every stage; give one or the other", at);
        if (!i && own_teacher(src))
            return nn_fail(e, "$.pretrain.source.teacher: \"" NASB_OWN_TEACHER "\" is the pretraining's own "
                              "output; only $.finetune can be distilled from it");
        cJSON *sc = stage_config(c, stages[i], c->model, c->out, NULL);
        nn_err te;
        const int bad = run_train_check(sc, &te);
        cJSON_Delete(sc);
        if (bad) return nn_fail(e, "%s, as a train config: %s", at, te.msg);
    }
    return NN_OK;
}

static void write_cell_dots(const srch_genotype *gt, const char *dir, int variant)
{
    for (int c = 0; c < NASB_CELLS; c++) {
        char path[1300], cmd[2800];
        snprintf(path, sizeof path, "%s/cell%d_v%d.dot", dir, c + 1, variant);
        FILE *f = fopen(path, "w");
        if (!f) continue;
        fprintf(f, "digraph cell%d {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", c + 1);
        for (int k = 0; k < NASB_NODES; k++) fprintf(f, "  n%d [label=\"node %d\"];\n", k, k);
        for (int k = 1; k < NASB_NODES; k++) fprintf(f, "  n%d -> n%d [label=\"backbone bconv3x3\", style=dashed];\n", k - 1, k);
        for (int q = 0; q < gt->n; q++)
            if (gt->e[q].to / NASB_NODES == c)
                fprintf(f, "  n%d -> n%d [label=\"%s\"];\n", gt->e[q].from % NASB_NODES, gt->e[q].to % NASB_NODES,
                        gt->e[q].op);
        fprintf(f, "}\n");
        fclose(f);
        if (!system("command -v dot >/dev/null 2>&1")) {
            snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o '%s/cell%d_v%d.svg'", path, dir, c + 1, variant);
            if (system(cmd)) fprintf(stderr, "datafree: dot could not draw %s\n", path);
        }
    }
}

/* alpha.jsonl's first `epochs` lines into history [epochs][ea] (each
 * line's alphas, edge after edge); returns how many whole lines fit this
 * supernet (ea alphas), stopping at the first that does not. One reader for
 * the alpha plot and for deriving a finished search whose checkpoint is
 * gone (committed run folders keep the log, not the 24 MB checkpoint). */
static int alpha_log_read(const char *alog, int epochs, int ea, float *history)
{
    FILE *f = fopen(alog, "r");
    if (!f) return 0;
    char *buf = malloc(1 << 20);
    int ep = 0, ok = 1;
    while (ok && ep < epochs && fgets(buf, 1 << 20, f)) {
        cJSON *j = cJSON_Parse(buf), *arr = j ? cJSON_GetObjectItem(j, "alpha") : NULL, *row;
        int k = 0;
        cJSON_ArrayForEach(row, arr)
        {
            const cJSON *v;
            cJSON_ArrayForEach(v, row) if (k++ < ea) history[(size_t)ep * ea + k - 1] = (float)v->valuedouble;
        }
        cJSON_Delete(j);
        ok = k == ea;
        ep += ok;
    }
    free(buf);
    fclose(f);
    return ep;
}

/* The search's own config (search/stage.json): what its supernet and alphas
 * came from, and the derivation's flops_budget. */
static cJSON *search_record(const nasb_cfg *cfg, const char *dir)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "data", cJSON_Duplicate(cfg->data_j, 1));
    const cJSON *s = cJSON_GetObjectItem(cfg->root, "search");
    if (s) cJSON_AddItemToObject(c, "search", cJSON_Duplicate(s, 1));
    if (cfg->source) cJSON_AddItemToObject(c, "source", cJSON_Duplicate(cfg->source, 1));
    cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "output"), "dir", dir);
    return c;
}

/* Stage 1. Returns 0 done, 1 stopped early (--stop-after), -1 failed. */
static int search_stage(const nasb_cfg *cfg, const run_args *ra, const char *dir)
{
    nn_err e = {0};
    char path[1300], metrics[1300], alog[1300], m[1600];
    snprintf(path, sizeof path, "%s/genotype_v%d.json", dir, cfg->variants[0]);
    char ck[1300];
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", dir);
    snprintf(alog, sizeof alog, "%s/alpha.jsonl", dir);
    const int done = nn_file_exists(path);
    { /* what the search ran with, beside its logs; a finished one's left as it was */
        cJSON *sc = search_record(cfg, dir);
        char saved[1300];
        snprintf(saved, sizeof saved, "%s/stage.json", dir);
        const int resumed = ra->resume && (nn_file_exists(ck) || nn_file_exists(alog));
        const int bad = done ? run_same_config(saved, sc, cfg->out, "/search", dir, &e)
                             : nn_mkdirs(dir, &e) || run_keep_config(saved, sc, resumed, cfg->out, "/search", dir, &e);
        cJSON_Delete(sc);
        if (bad) return run_error(e.msg), -1;
    }
    if (done) return 0; /* finished */
    nn_dataset d = {0};
    nn_graph *g = NULL;
    run_gensrc gsrc = cfg->gsrc, *gen = NULL;
    int C, H, W, K;
    if (cfg->gsrc.gen_path) { /* data-free: images and targets from the generator and its teacher; no data read */
        gen = &gsrc;
        if (run_gensrc_open(gen, &e)) {
            run_error(e.msg);
            run_gensrc_free(gen);
            return -1;
        }
        C = gen->teacher->in_shape[0], H = gen->teacher->in_shape[1], W = gen->teacher->in_shape[2];
        K = gen->teacher->num_classes;
    } else {
        if (nn_dataset_load(cfg->data, "train", &d, &e)) return run_error(e.msg), -1;
        if (cfg->train_limit > 0) nn_dataset_truncate(&d, cfg->train_limit);
        C = d.c, H = d.h, W = d.w, K = d.num_classes;
    }
    g = nasb_build(C, H, W, K, 1, NULL, &e);
    int rc = -1, start = 0, logged = 0, nt, nv, *perm = NULL, *lab = NULL, stopped = 0;
    float *history = NULL, *xbuf = NULL, *tbuf = NULL;
    srch_gates gs = {0};
    nn_optim wopt = {0}, aopt = {0};
    nn_ctx ctx;
    int have_ctx = 0;
    if (!g || srch_gates_init(&gs, g, &e)) {
        run_error(e.msg);
        goto out;
    }
    for (int c = 0; c < C; c++) {
        g->mean[c] = cfg->nmean ? cfg->mean[cfg->nmean > c ? c : 0] : 0.0f;
        g->std[c] = cfg->nstd ? cfg->std[cfg->nstd > c ? c : 0] : 1.0f;
    }
    nn_graph_init_params(g, (uint64_t)cfg->seed, NN_INIT_KAIMING);
    nn_optim_init(&wopt, NN_SGD, g);
    wopt.group = NN_GROUP_WEIGHTS, wopt.momentum = cfg->w_mom, wopt.weight_decay = cfg->w_wd;
    nn_optim_init(&aopt, NN_ADAM, g);
    aopt.group = NN_GROUP_ARCH, aopt.beta1 = cfg->a_b1, aopt.beta2 = cfg->a_b2, aopt.weight_decay = cfg->a_wd;
    int ea = 0; /* the alphas of all edges */
    for (int q = 0; q < gs.nmix; q++) ea += g->nodes[gs.node[q]].candidates;
    history = calloc((size_t)cfg->epochs * (size_t)ea, sizeof(float));
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(alog, sizeof alog, "%s/alpha.jsonl", dir);
    /* an updated generator's state goes with the search's */
    run_ckpt_part parts[3] = {{"supernet.", g, &wopt}, {"arch.", g, &aopt}, {"generator.", gen ? gen->gen : NULL, gen ? &gen->opt : NULL}};
    const int nparts = gen && gen->update ? 3 : 2;
    if (ra->resume && nn_file_exists(path)) {
        if (run_ckpt_load(path, parts, nparts, &start, &e)) {
            run_error(e.msg);
            goto out;
        }
        run_trim_metrics(metrics, start);
        run_trim_metrics(alog, start);
        if (!ra->json) printf("resuming the NASB search at epoch %d\n", start + 1);
    } else if (ra->resume && (logged = alpha_log_read(alog, cfg->epochs, ea, history)) == cfg->epochs) {
        start = cfg->epochs; /* finished, checkpoint gone: derive from the logged alphas */
        for (int q = 0, o = 0; q < gs.nmix; q++) {
            nn_tensor *a = &g->params[g->nodes[gs.node[q]].param[0]].t;
            memcpy(a->data, history + (size_t)(cfg->epochs - 1) * ea + o, a->numel * sizeof(float));
            o += (int)a->numel;
        }
        if (!ra->json) printf("the NASB search finished (%s, no checkpoint): deriving from its last alphas\n", alog);
    } else {
        if (ra->resume && nn_file_exists(alog) && !ra->json)
            printf("no search checkpoint, and %s holds %d of %d epochs: searching from the start\n", alog, logged,
                   cfg->epochs);
        remove(metrics), remove(alog);
    }
    /* the proxy split: a fixed shuffle, the last val_fraction for alpha
     * (data-free: fresh generator batches for both, source.batches_per_epoch) */
    perm = malloc(sizeof(int) * (size_t)(d.n + 1));
    lab = malloc(sizeof(int) * (size_t)cfg->batch);
    xbuf = malloc(sizeof(float) * (size_t)cfg->batch * C * H * W);
    tbuf = malloc(sizeof(float) * (size_t)cfg->batch * K);
    for (int i = 0; i < d.n; i++) perm[i] = i;
    nn_rng sr;
    nn_rng_seed(&sr, (uint64_t)cfg->seed * 7919ULL);
    nn_rng_shuffle(&sr, perm, d.n);
    nv = (int)((float)d.n * cfg->val_fraction), nt = d.n - nv;
    const int steps = gen ? cfg->gsrc.batches : nt / cfg->batch < nv / cfg->batch ? nt / cfg->batch : nv / cfg->batch;
    if (steps < 1) {
        run_error("nasb: the proxy split is smaller than one batch (raise data.train_limit)");
        goto out;
    }
    nn_ctx_init(&ctx, ra->threads, 256u << 20);
    have_ctx = 1;
    if (!ra->json && gen)
        printf("NASB search, data-free: supernet %d nodes, %d mixed edges x %d ops, %zu weights; batches from the "
               "generator %s (%s), KD from %s; %d epochs x %d steps, batch %d, %d threads\n",
               g->n, gs.nmix, NASB_NOPS, nn_graph_num_trainable(g), cfg->gsrc.gen_path,
               gen->update ? "trained on, adversarially" : "frozen", cfg->gsrc.teacher_path, cfg->epochs, steps,
               cfg->batch, nn_threads(&ctx));
    else if (!ra->json)
        printf("NASB search: supernet %d nodes, %d mixed edges x %d ops, %zu weights; %d train / %d val images, "
               "%d epochs x %d steps, batch %d, %d threads\n",
               g->n, gs.nmix, NASB_NOPS, nn_graph_num_trainable(g), nt, nv, cfg->epochs, steps, cfg->batch,
               nn_threads(&ctx));
    run_progress prog;
    run_progress_init(&prog, ra->json);
    const nn_augment *aug = NULL;
    int ran = 0;
    for (int epoch = start; epoch < cfg->epochs; epoch++) {
        if (ra->stop_after && ran >= ra->stop_after) {
            stopped = 1;
            break;
        }
        nn_rng r;
        nn_rng_seed(&r, (uint64_t)cfg->seed * 1000003ULL + (uint64_t)epoch);
        nn_rng_shuffle(&r, perm, nt);          /* the training half */
        nn_rng_shuffle(&r, perm + nt, nv);     /* the validation half */
        double t0 = nn_now(), ls[2] = {0}, lc[2] = {0};
        srch_gates_reset_counts(&gs);
        for (int st = 0; st < steps; st++) {
            for (int ph = 1; ph >= 0; ph--) { /* 1: alpha on validation, then 0: weights on training */
                nn_ctx_reset(&ctx);
                nn_graph_set_trainable_group(g, NN_GROUP_WEIGHTS, !ph);
                nn_graph_set_trainable_group(g, NN_GROUP_ARCH, ph);
                nn_fwd_opts fo = {.mix_weights = srch_gates_weights, .mix_user = &gs, .active = gs.active};
                nn_tensor *x, *tl = NULL;
                /* an updated generator's adversarial step runs against this step's sampled path; a
                 * frozen generator's batch is drawn first, as before the update option existed */
                if (gen && gen->update) srch_gates_sample(&gs, g, ph ? 2 : 1, &r);
                if (gen) { /* G(z, y) and the teacher's logits */
                    run_gensrc_batch(gen, &ctx, g, &fo, cfg->batch, &r, lab, xbuf, tbuf);
                    x = nn_view(&ctx, xbuf, 4, (int[]){cfg->batch, C, H, W});
                    tl = nn_view(&ctx, tbuf, 2, (int[]){cfg->batch, K});
                } else {
                    x = nn_new4(&ctx, cfg->batch, C, H, W);
                    nn_dataset_batch(&d, perm + (ph ? nt : 0) + st * cfg->batch, cfg->batch, g->mean, g->std, aug, &r,
                                     x->data, lab);
                }
                if (!(gen && gen->update)) srch_gates_sample(&gs, g, ph ? 2 : 1, &r);
                ctx.training = 1;
                ctx.grad_enabled = 1;
                nn_tensor *y = nn_graph_forward(g, &ctx, x, &fo);
                nn_tensor *loss = tl ? cmp_kd_loss(&ctx, y, tl, lab, cfg->gsrc.kd) : nn_cross_entropy(&ctx, y, lab, 0.0f);
                if (!isfinite(loss->data[0])) {
                    run_progress_done(&prog);
                    snprintf(m, sizeof m, "nasb: search loss is %g at epoch %d (lower $.search.weights.lr)", loss->data[0],
                             epoch + 1);
                    run_error(m);
                    goto out;
                }
                nn_graph_zero_grad(g);
                nn_backward(&ctx, loss);
                if (ph) {
                    srch_gates_alpha_grad(&gs, g);
                    nn_optim_step(&aopt, g, cfg->a_lr);
                } else {
                    nn_optim_step(&wopt, g, cfg->w_lr);
                }
                ls[ph] += loss->data[0];
                const int K = y->shape[1];
                for (int i = 0; i < cfg->batch; i++) {
                    int b = 0;
                    for (int k = 1; k < K; k++) b = y->data[(size_t)i * K + k] > y->data[(size_t)i * K + b] ? k : b;
                    lc[ph] += b == lab[i];
                }
            }
            const double per = (nn_now() - t0) / (st + 1);
            run_progress_line(&prog, "search epoch %d/%d step %d/%d | W: loss %.3f acc %.1f%% | A: loss %.3f | ETA %.0fm%02.0fs",
                              epoch + 1, cfg->epochs, st + 1, steps, ls[0] / (st + 1), 100.0 * lc[0] / ((st + 1.0) * cfg->batch),
                              ls[1] / (st + 1), floor(per * (steps - st - 1 + (double)(cfg->epochs - epoch - 1) * steps) / 60),
                              fmod(per * (steps - st - 1 + (double)(cfg->epochs - epoch - 1) * steps), 60));
        }
        run_progress_done(&prog);
        const double secs = nn_now() - t0;
        char line[600];
        snprintf(line, sizeof line,
                 "{\"epoch\":%d,\"train_loss\":%.5f,\"train_acc\":%.5f,\"val_loss\":%.5f,\"val_acc\":%.5f,\"epoch_seconds\":%.1f}",
                 epoch + 1, ls[0] / steps, lc[0] / ((double)steps * cfg->batch), ls[1] / steps,
                 lc[1] / ((double)steps * cfg->batch), secs);
        run_append_line(metrics, line);
        if (!ra->json)
            printf("search epoch %d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%%  %.0fs\n", epoch + 1, cfg->epochs,
                   ls[0] / steps, 100.0 * lc[0] / ((double)steps * cfg->batch), ls[1] / steps,
                   100.0 * lc[1] / ((double)steps * cfg->batch), secs);
        /* alpha per edge, and how often each op was sampled this epoch: in the
         * weight steps (the path whose weights trained) and the alpha steps */
        cJSON *aj = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(aj, "alpha");
        cJSON *sw = cJSON_AddArrayToObject(aj, "sampled"), *sa = cJSON_AddArrayToObject(aj, "sampled_alpha");
        cJSON_AddNumberToObject(aj, "epoch", epoch + 1);
        double top_p = 0, top_w = 0; /* per edge, the largest softmax and the most sampled op's share, summed */
        for (int q = 0; q < gs.nmix; q++) {
            const nn_tensor *a = &g->params[g->nodes[gs.node[q]].param[0]].t;
            cJSON *row = cJSON_CreateArray(), *row_w = cJSON_CreateArray(), *row_a = cJSON_CreateArray();
            double z = 0, amax = -INFINITY;
            int cmax = 0, ctot = 0;
            for (size_t k = 0; k < a->numel; k++) {
                cJSON_AddItemToArray(row, cJSON_CreateNumber(a->data[k]));
                cJSON_AddItemToArray(row_w, cJSON_CreateNumber(gs.sampled[q][0][k]));
                cJSON_AddItemToArray(row_a, cJSON_CreateNumber(gs.sampled[q][1][k]));
                amax = a->data[k] > amax ? a->data[k] : amax;
                cmax = gs.sampled[q][0][k] > cmax ? gs.sampled[q][0][k] : cmax, ctot += gs.sampled[q][0][k];
            }
            for (size_t k = 0; k < a->numel; k++) z += exp(a->data[k] - amax);
            top_p += 1.0 / z, top_w += ctot ? (double)cmax / ctot : 0.0;
            cJSON_AddItemToArray(arr, row);
            cJSON_AddItemToArray(sw, row_w);
            cJSON_AddItemToArray(sa, row_a);
        }
        if (!ra->json && gs.nmix)
            printf("  paths: the most sampled op's share of an edge's weight steps %.3f, the largest softmax(alpha) %.3f "
                   "(means over %d edges)\n",
                   top_w / gs.nmix, top_p / gs.nmix, gs.nmix);
        char *txt = cJSON_PrintUnformatted(aj);
        cJSON_Delete(aj);
        run_append_line(alog, txt);
        free(txt);
        if (run_ckpt_save(path, parts, nparts, epoch + 1, &e)) {
            run_error(e.msg);
            goto out;
        }
        ran++;
    }
    if (stopped) {
        if (!ra->json) printf("stopped after %d search epoch(s); continue with --resume\n", ran);
        rc = 1;
        goto out;
    }
    { /* derive, from the final alphas; the history for the plot from alpha.jsonl */
        float *alpha = malloc(sizeof(float) * (size_t)ea);
        int o = 0;
        for (int q = 0; q < gs.nmix; q++) {
            const nn_tensor *a = &g->params[g->nodes[gs.node[q]].param[0]].t;
            memcpy(alpha + o, a->data, a->numel * sizeof(float));
            o += (int)a->numel;
        }
        const int ep = alpha_log_read(alog, cfg->epochs, ea, history);
        srch_edge edges[NASB_CELLS * NASB_EDGES_PER_CELL];
        const int ne = nasb_edges(edges);
        snprintf(m, sizeof m, "%s/alpha.svg", dir);
        int bad = srch_plot_alpha_svg(m, edges, ne, history, ep, &e);
        double cost[NASB_CELLS * NASB_EDGES_PER_CELL * NASB_NOPS], cv[NASB_CELLS * NASB_EDGES_PER_CELL * NASB_NOPS], fixed = 0;
        if (!bad) bad = nasb_op_costs(g, 1, cost, &fixed, &e);
        for (int v = cfg->nvar - 1; v >= 0 && !bad; v--) { /* variants[0] last: its file marks the stage done */
            srch_genotype gt;
            bad = nasb_derive(alpha, cfg->variants[v], &gt, &e);
            gt.bconv_relu = cfg->bconv_relu;
            if (!bad && cfg->flops_budget > 0) { /* V3's branches each pay the backbone units and the ops */
                srch_genotype bare = {.n = 0, .branches = gt.branches};
                nn_graph *bb = nasb_build(C, H, W, K, 1, &bare, &e);
                double mem, fb = 0, bm;
                if (bb) nn_graph_cost(bb, &mem, &fb, &bm);
                nn_graph_free(bb);
                for (int k = 0; k < ne * NASB_NOPS; k++) cv[k] = cost[k] * gt.branches;
                const char *forbid = cfg->variants[v] == 4 ? "identity" : NULL; /* V4: no identity */
                bad = !bb || srch_fit_budget(edges, ne, alpha, cv, fb, cfg->flops_budget * fixed, forbid, &gt, &e);
                if (!bad && cfg->flops_fill) srch_fill_budget(edges, ne, alpha, cv, fb, cfg->flops_budget * fixed, forbid, &gt);
            }
            if (bad) break;
            nn_graph *dn = nasb_build(C, H, W, K, 1, &gt, &e);
            double mem, fl = 0, bm;
            if (dn) nn_graph_cost(dn, &mem, &fl, &bm);
            nn_graph_free(dn);
            if (!ra->json)
                printf("variant %d: %.4g Flops, %.2fx the backbone's %.4g%s\n", cfg->variants[v], fl, fl / fixed, fixed,
                       cfg->flops_budget > 0 ? " (within $.search.flops_budget)" : "");
            write_cell_dots(&gt, dir, cfg->variants[v]);
            snprintf(m, sizeof m, "%s/genotype_v%d.json", dir, cfg->variants[v]);
            bad = srch_genotype_save(&gt, m, &e);
        }
        free(alpha);
        if (bad) {
            run_error(e.msg);
            goto out;
        }
    }
    rc = 0;
out:
    if (have_ctx) nn_ctx_free(&ctx);
    nn_optim_free(&wopt);
    nn_optim_free(&aopt);
    srch_gates_free(&gs);
    free(history), free(perm), free(lab), free(xbuf), free(tbuf);
    nn_graph_free(g);
    if (gen) run_gensrc_free(gen);
    nn_dataset_free(&d);
    return rc;
}

/* model's init_from and init_rename for a backbone from a ResNet-20
 * (layer<s>.<b>.{a,b}: each block's two convs and their BNs, its
 * downsampling, stem and fc): its 18 convs become the chain of binary
 * convs one after the other, in the NASB cells (cell<s>.n0, then
 * n1..n5.backbone; a V3 cell's second branch starts afresh) or in Bi-Real's
 * layers (layer<s>.0..5). The shortcuts differ (one conv here, two there;
 * hardtanh for ReLU), so this is a start, not the ResNet-20's function. */
static void add_backbone_init(cJSON *model, const char *from, int bireal)
{
    cJSON_AddStringToObject(model, "init_from", from);
    cJSON *r = cJSON_AddObjectToObject(model, "init_rename");
    char gk[64], fk[64];
    cJSON_AddStringToObject(r, "stem.", "stem.");
    cJSON_AddStringToObject(r, "fc.", "fc.");
    for (int c = 1; c <= NASB_CELLS; c++)
        for (int k = 0; k < NASB_NODES; k++) { /* 6 convs per group: node 0 and the 5 backbone nodes */
            if (bireal)
                snprintf(gk, sizeof gk, "layer%d.%d.", c, k);
            else if (k == 0)
                snprintf(gk, sizeof gk, "cell%d.n0.", c);
            else
                snprintf(gk, sizeof gk, "cell%d.n%d.backbone.", c, k);
            snprintf(fk, sizeof fk, "layer%d.%d.%c.", c, k / 2, k % 2 ? 'b' : 'a');
            cJSON_AddStringToObject(r, gk, fk);
            if (k == 0 && c > 1) { /* the downsampling shortcut (longer prefix than the unit's) */
                snprintf(gk + strlen(gk), sizeof gk - strlen(gk), "down.");
                snprintf(fk, sizeof fk, "layer%d.0.down.", c);
                cJSON_AddStringToObject(r, gk, fk);
            }
        }
}

/* Stages 2 and 3 as `datafree train` runs with generated configs. */
static int train_stage(const nasb_cfg *cfg, const run_args *ra, const cJSON *stage, const cJSON *model, const char *dir,
                       const char *own_pretrain, const char *what)
{
    char path[1300], model_json[1300], threads[16], ckpt[1300];
    snprintf(model_json, sizeof model_json, "%s/model.json", dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", dir);
    snprintf(path, sizeof path, "%s/stage.json", dir);
    nn_err e = {0};
    cJSON *c = stage_config(cfg, stage, model, dir, own_pretrain);
    const char *sub = dir + strlen(cfg->out); /* "/v1/pretrain" */
    const int done = nn_file_exists(model_json);
    /* a finished stage is skipped, its stage.json left as it was (a copied one names its first folder) */
    const int bad = done ? run_same_config(path, c, cfg->out, sub, dir, &e)
                         : nn_mkdirs(dir, &e) || run_keep_config(path, c, nn_file_exists(ckpt), cfg->out, sub, dir, &e);
    cJSON_Delete(c);
    if (bad) return run_error(e.msg), -1;
    if (done) return 0;
    if (!ra->json) printf("== %s: %s\n", what, dir);
    char *argv[8] = {"train", path};
    int argc = 2;
    if (nn_file_exists(ckpt)) argv[argc++] = "--resume";
    if (ra->threads) {
        snprintf(threads, sizeof threads, "%d", ra->threads);
        argv[argc++] = "--threads", argv[argc++] = threads;
    }
    if (ra->json) argv[argc++] = "--json";
    return run_train(argc, argv) ? -1 : 0;
}

int run_nasb(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(nasb_help, stdout);
        return 0;
    }
    run_args ra;
    int rc = run_parse_run_args("nasb", argc, argv, &ra);
    if (rc) return rc;
    nn_err e = {0};
    cJSON *root = nn_json_load(ra.config, &e);
    if (!root) return run_error(e.msg);
    nasb_cfg cfg;
    char m[1600], dir[1300];
    if (parse(root, &cfg, &e)) {
        snprintf(m, sizeof m, "%s: %s", ra.config, e.msg);
        cJSON_Delete(root);
        return run_error(m);
    }
    if (run_start_dir(cfg.out, root, 0, &e)) { /* its stages compare their own configs */
        cJSON_Delete(root);
        return run_error(e.msg);
    }
    rc = 1;
    const int nv = cfg.model ? 1 : cfg.nvar;
    if (!cfg.model) {
        snprintf(dir, sizeof dir, "%s/search", cfg.out);
        const int s = search_stage(&cfg, &ra, dir);
        if (s) {
            rc = s > 0 ? 0 : 1;
            goto out;
        }
    }
    for (int v = 0; v < nv; v++) {
        char sub[1300], geno[1300], pre[1300], fin[1300];
        if (cfg.model)
            snprintf(sub, sizeof sub, "%s", cfg.out);
        else
            snprintf(sub, sizeof sub, "%s/v%d", cfg.out, cfg.variants[v]);
        snprintf(geno, sizeof geno, "%s/search/genotype_v%d.json", cfg.out, cfg.variants[v]);
        snprintf(pre, sizeof pre, "%s/pretrain", sub);
        snprintf(fin, sizeof fin, "%s/finetune", sub);
        if (!cfg.model) { /* a genotype derived before $.bconv_relu changed would train the other network */
            srch_genotype gt;
            if (srch_genotype_load(geno, &gt, &e)) {
                run_error(e.msg);
                goto out;
            }
            if (gt.bconv_relu != cfg.bconv_relu) {
                snprintf(m, sizeof m, "nasb: %s was derived %s bconv_relu, the config says %s (remove the run folder's "
                         "search/genotype_v*.json to derive again)", geno, gt.bconv_relu ? "with" : "without",
                         cfg.bconv_relu ? "true" : "false");
                run_error(m);
                goto out;
            }
        }
        cJSON *mp = cfg.model ? cJSON_Duplicate(cfg.model, 1) : cJSON_CreateObject();
        if (!cfg.model) {
            cJSON_AddStringToObject(mp, "zoo", "nasb_resnet20");
            cJSON_AddStringToObject(mp, "genotype", geno);
        }
        cJSON *mf = cJSON_Duplicate(mp, 1);
        cJSON_AddStringToObject(mp, "precision", "float");
        if (cfg.pretrain_sign) cJSON_AddStringToObject(mp, "float_sign", cfg.pretrain_sign);
        if (cfg.backbone_from) add_backbone_init(mp, cfg.backbone_from, cfg.model != NULL);
        char pm[1400];
        snprintf(pm, sizeof pm, "%s/model.json", pre);
        cJSON_AddStringToObject(mf, "init_from", pm);
        char what[1400];
        snprintf(what, sizeof what, "pretrain (full precision, sign as %s%s%.1300s)",
                 cfg.pretrain_sign ? cfg.pretrain_sign : "hardtanh", cfg.backbone_from ? ", backbone from " : "",
                 cfg.backbone_from ? cfg.backbone_from : "");
        const int bad = train_stage(&cfg, &ra, cfg.pretrain, mp, pre, NULL, what) ||
                        train_stage(&cfg, &ra, cfg.finetune, mf, fin, pm, "finetune (binary)");
        cJSON_Delete(mp);
        cJSON_Delete(mf);
        if (bad) goto out;
    }
    if (ra.json) printf("{\"dir\":\"%s\"}\n", cfg.out);
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}
