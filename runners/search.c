/* datafree search CONFIG: AutoReCon's generator search (thesis Algorithm 4).
 *
 * The supernet generator (generators/autorecon.h) is trained against the
 * frozen teacher with the reconstruction loss L_G = CE + beta * L_BNS, every
 * mixed edge weighted by a Gumbel-softmax sample of its alpha. Per epoch:
 * T1 batches update the weights (Adam, alpha frozen), then V1 fresh batches
 * update alpha (Adam, weights frozen), or the two alternate batch by batch.
 * Afterwards every edge takes its argmax op (no node left without input)
 * and the run folder gets genotype.json, alpha.svg (softmax(alpha) per edge
 * over epochs), generator.dot (and .svg when Graphviz's `dot` exists),
 * metrics.jsonl (alpha per edge every epoch), result.json. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "generators/autorecon.h"
#include "generators/gdfq.h"
#include "generators/recon.h"
#include "nn/evaluate.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/optim.h"
#include "search/cost.h"
#include "search/derive.h"
#include "search/gumbel.h"
#include "search/plot.h"

typedef struct search_cfg {
    const char *teacher, *out_dir;
    float scale;
    int latent;
    int epochs, t1, v1, batch, per_step;
    srch_gumbel gs;
    srch_tau_kind tau_kind;
    float tau0, tau1;
    float w_lr, w_b1, w_b2, a_lr, a_b1, a_b2, a_wd, bns_beta;
    int seed, threads;
    /* search.cost: a MACs budget (budget_gdfq: the GDFQ generator's MACs at
     * the same width), the hinge penalty's weight in the arch loss */
    int budget_gdfq;
    double budget;
    float cost_weight;
} search_cfg;

static int pick(const char *v, const char *path, const char *const *names, int n, int *out, nn_err *e)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return *out = i, NN_OK;
    char list[200] = "";
    size_t l = 0;
    for (int i = 0; i < n; i++) l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
    return nn_fail(e, "%s: '%s' is not one of %s", path, v, list);
}

static int parse_config(const cJSON *j, search_cfg *c, nn_err *e)
{
    static const char *const top[] = {"teacher", "space", "search", "seed", "threads", "output", NULL};
    static const char *const kspace[] = {"scale", "latent", NULL};
    static const char *const ksearch[] = {"epochs", "weight_batches", "arch_batches", "batch_size", "alternate",
                                          "gumbel", "weights", "arch", "bns_beta", "cost", NULL};
    static const char *const kcost[] = {"budget", "weight", NULL};
    static const char *const kgum[] = {"form", "noise", "schedule", "tau_start", "tau_end", NULL};
    static const char *const kopt[] = {"lr", "beta1", "beta2", "weight_decay", NULL};
    static const char *const kout[] = {"dir", NULL};
    static const char *const alts[] = {"block", "step"}, *const forms[] = {"standard", "seed"},
                             *const noises[] = {"example", "batch"}, *const scheds[] = {"constant", "exponential", "linear"};
    *c = (search_cfg){.scale = 0.5f, .latent = 100, .epochs = 10, .t1 = 40, .v1 = 20, .batch = 32,
                      .gs = {SRCH_GUMBEL_SEED, 5.0f, 0}, .tau_kind = SRCH_TAU_EXP, .tau0 = 5.0f, .tau1 = 0.1f,
                      .w_lr = 1e-3f, .w_b1 = 0.5f, .w_b2 = 0.999f, .a_lr = 3e-3f, .a_b1 = 0.5f, .a_b2 = 0.999f,
                      .a_wd = 1e-4f, .bns_beta = 0.1f, .seed = 1, .cost_weight = 0.0f};
    int failed, v;
    const char *s;
    if (!cJSON_IsObject(j)) return nn_fail(e, "the config must be a JSON object");
    if (nn_json_check_keys(j, "$", top, e) || nn_json_str(j, "$", "teacher", 1, &c->teacher, e) ||
        nn_json_int(j, "$", "seed", 0, &c->seed, e) || nn_json_int(j, "$", "threads", 0, &c->threads, e))
        return NN_ERR;
    const cJSON *sp = nn_json_obj(j, "$", "space", 0, e, &failed);
    if (failed || (sp && (nn_json_check_keys(sp, "$.space", kspace, e) ||
                          nn_json_float(sp, "$.space", "scale", 0, &c->scale, e) ||
                          nn_json_int(sp, "$.space", "latent", 0, &c->latent, e))))
        return NN_ERR;
    const cJSON *se = nn_json_obj(j, "$", "search", 1, e, &failed);
    if (failed || nn_json_check_keys(se, "$.search", ksearch, e) ||
        nn_json_int(se, "$.search", "epochs", 0, &c->epochs, e) ||
        nn_json_int(se, "$.search", "weight_batches", 0, &c->t1, e) ||
        nn_json_int(se, "$.search", "arch_batches", 0, &c->v1, e) ||
        nn_json_int(se, "$.search", "batch_size", 0, &c->batch, e) ||
        nn_json_float(se, "$.search", "bns_beta", 0, &c->bns_beta, e))
        return NN_ERR;
    if (c->epochs < 1 || c->t1 < 0 || c->v1 < 0 || c->batch < 2 || c->t1 + c->v1 < 1)
        return nn_fail(e, "$.search: needs epochs >= 1, batch_size >= 2 and some weight or arch batches");
    s = NULL;
    if (nn_json_str(se, "$.search", "alternate", 0, &s, e) ||
        (s && pick(s, "$.search.alternate", alts, 2, &c->per_step, e)))
        return NN_ERR;
    const cJSON *gu = nn_json_obj(se, "$.search", "gumbel", 0, e, &failed);
    if (failed) return NN_ERR;
    if (gu) {
        if (nn_json_check_keys(gu, "$.search.gumbel", kgum, e) ||
            nn_json_float(gu, "$.search.gumbel", "tau_start", 0, &c->tau0, e) ||
            nn_json_float(gu, "$.search.gumbel", "tau_end", 0, &c->tau1, e))
            return NN_ERR;
        s = NULL;
        if (nn_json_str(gu, "$.search.gumbel", "form", 0, &s, e) ||
            (s && pick(s, "$.search.gumbel.form", forms, 2, &v, e)))
            return NN_ERR;
        if (s) c->gs.form = v ? SRCH_GUMBEL_SEED : SRCH_GUMBEL_STANDARD;
        s = NULL;
        if (nn_json_str(gu, "$.search.gumbel", "noise", 0, &s, e) ||
            (s && pick(s, "$.search.gumbel.noise", noises, 2, &c->gs.per_batch, e)))
            return NN_ERR;
        s = NULL;
        if (nn_json_str(gu, "$.search.gumbel", "schedule", 0, &s, e) ||
            (s && pick(s, "$.search.gumbel.schedule", scheds, 3, &v, e)))
            return NN_ERR;
        if (s) c->tau_kind = v == 0 ? SRCH_TAU_CONST : v == 1 ? SRCH_TAU_EXP : SRCH_TAU_LINEAR;
        if (!(c->tau0 > 0.0f) || !(c->tau1 > 0.0f)) return nn_fail(e, "$.search.gumbel: temperatures must be > 0");
    }
    const cJSON *co = nn_json_obj(se, "$.search", "cost", 0, e, &failed);
    if (failed) return NN_ERR;
    if (co) {
        const cJSON *b = cJSON_GetObjectItem(co, "budget");
        if (nn_json_check_keys(co, "$.search.cost", kcost, e) ||
            nn_json_float(co, "$.search.cost", "weight", 0, &c->cost_weight, e))
            return NN_ERR;
        if (cJSON_IsString(b) && !strcmp(b->valuestring, "gdfq"))
            c->budget_gdfq = 1;
        else if (cJSON_IsNumber(b) && b->valuedouble > 0)
            c->budget = b->valuedouble;
        else
            return nn_fail(e, "$.search.cost.budget: needs \"gdfq\" or a number of MACs per image > 0");
        if (!(c->cost_weight >= 0.0f)) return nn_fail(e, "$.search.cost.weight: needs a number >= 0");
    }
    const char *opath[2] = {"$.search.weights", "$.search.arch"};
    float *ov[2][4] = {{&c->w_lr, &c->w_b1, &c->w_b2, NULL}, {&c->a_lr, &c->a_b1, &c->a_b2, &c->a_wd}};
    for (int k = 0; k < 2; k++) {
        const cJSON *o = nn_json_obj(se, "$.search", k ? "arch" : "weights", 0, e, &failed);
        if (failed) return NN_ERR;
        if (!o) continue;
        if (nn_json_check_keys(o, opath[k], kopt, e)) return NN_ERR;
        for (int q = 0; q < 4; q++) {
            if (!ov[k][q]) {
                if (cJSON_GetObjectItem(o, kopt[q])) return nn_fail(e, "%s.%s: not used for the weights", opath[k], kopt[q]);
                continue;
            }
            if (nn_json_float(o, opath[k], kopt[q], 0, ov[k][q], e)) return NN_ERR;
        }
    }
    const cJSON *o = nn_json_obj(j, "$", "output", 1, e, &failed);
    if (failed || nn_json_check_keys(o, "$.output", kout, e) || nn_json_str(o, "$.output", "dir", 1, &c->out_dir, e))
        return NN_ERR;
    return NN_OK;
}

/* Mixing weights for every mix node: a Gumbel-softmax sample of its alpha. */
typedef struct mix_state {
    srch_gumbel gs;
    nn_rng *rng;
} mix_state;

static nn_tensor *gumbel_weights(void *user, nn_ctx *c, const nn_graph *g, int node, nn_tensor *alpha, int batch)
{
    (void)g, (void)node;
    mix_state *m = user;
    nn_tensor *a = m->gs.per_batch ? alpha : nn_repeat_rows(c, alpha, batch);
    return srch_gumbel_softmax(c, a, m->gs, m->rng);
}

/* alpha of every edge, concatenated in edge order (srch_derive's layout) */
static void gather_alpha(const nn_graph *g, const gen_ar_space *s, const int *mix, float *out)
{
    for (int i = 0, o = 0; i < s->ne; i++) {
        const nn_tensor *a = &g->params[g->nodes[mix[i]].param[0]].t;
        memcpy(out + o, a->data, (size_t)s->edges[i].nops * sizeof(float));
        o += s->edges[i].nops;
    }
}

static const char *search_help =
    "usage: datafree search CONFIG.json [--resume] [--threads T] [--stop-after N] [--json]\n\n"
    "Searches the generator architecture for data-free compression (AutoReCon):\n"
    "the supernet of generators/autorecon.h (3 blocks x 5 nodes, 24 mixed edges)\n"
    "is trained against the teacher's BN statistics and labels (L_G = CE +\n"
    "beta L_BNS) with Gumbel-softmax edge weights; per epoch, weight batches then\n"
    "arch batches (alternate: block), or one of each in turn (step). Every edge\n"
    "then takes its argmax op. With search.cost, a MACs budget: the arch loss\n"
    "adds weight * max(0, E[MACs] / budget - 1) (E under softmax(alpha)), and\n"
    "derivation moves argmax edges to cheaper ops until the generator fits the\n"
    "budget (\"gdfq\": GDFQ's generator at the same width). Writes to output.dir: genotype.json (the input of\n"
    "a quantize config's generator {type: autorecon, genotype}), alpha.svg,\n"
    "generator.dot (+ generator.svg when Graphviz is installed), metrics.jsonl\n"
    "(losses and alpha per edge every epoch), ckpt.safetensors, result.json.\n\n"
    "  --resume        continue from the run folder's checkpoint, only under the\n"
    "                  config.json it ran with (another is refused, naming the key)\n"
    "  --threads T     worker threads (default: threads, else all cores)\n"
    "  --stop-after N  stop after N epochs of this invocation (resume later)\n"
    "  --json          print the result as one JSON object\n\n"
    "Config keys: teacher, space {scale (base channels 128*scale), latent},\n"
    "search {epochs, weight_batches, arch_batches, batch_size, alternate\n"
    "block|step, gumbel {form seed|standard, noise example|batch, schedule\n"
    "exponential|linear|constant, tau_start, tau_end}, weights {lr, beta1,\n"
    "beta2}, arch {lr, beta1, beta2, weight_decay}, bns_beta, cost {budget\n"
    "gdfq|MACs, weight (default 0: the budget binds at derivation only)}}, seed,\n"
    "threads,\n"
    "output {dir}. See configs/autorecon/ for examples.\n";

int run_search(int argc, char **argv)
{
    if (run_has_help(argc, argv)) {
        fputs(search_help, stdout);
        return 0;
    }
    run_args ra;
    int urc = run_parse_run_args("search", argc, argv, &ra);
    if (urc) return urc;
    nn_err e = {0};
    char m[1400], path[1200], metrics[1200], ckpt[1200];
    cJSON *root = nn_json_load(ra.config, &e);
    if (!root) return run_error(e.msg);
    search_cfg cfg;
    if (parse_config(root, &cfg, &e)) {
        snprintf(m, sizeof m, "%s: %s", ra.config, e.msg);
        cJSON_Delete(root);
        return run_error(m);
    }
    if (ra.threads) cfg.threads = ra.threads;
    int rc = 1, have_ctx = 0, mix[GEN_AR_EDGES], *labels = NULL, total_ops = 0;
    float *history = NULL, *pgrad = NULL;
    double *opcost = NULL, fixed = 0, budget = cfg.budget;
    nn_graph *teacher = NULL, *gen = NULL;
    nn_optim wopt = {0}, aopt = {0};
    nn_ctx ctx;
    gen_ar_space sp;
    teacher = run_load_model(cfg.teacher, &e);
    if (!teacher || teacher->in_ndim != 3) {
        snprintf(m, sizeof m, "$.teacher: %s", teacher ? "needs an image classifier" : e.msg);
        run_error(m);
        goto out;
    }
    nn_graph_set_trainable(teacher, 0);
    if (gen_ar_space_init(&sp, teacher->in_shape[0], teacher->in_shape[1], teacher->in_shape[2], teacher->num_classes,
                          cfg.latent, cfg.scale, &e) ||
        !(gen = gen_ar_supernet(&sp, (uint64_t)cfg.seed, mix, &e))) {
        snprintf(m, sizeof m, "$.space: %s", e.msg);
        run_error(m);
        goto out;
    }
    for (int i = 0; i < sp.ne; i++) total_ops += sp.edges[i].nops;
    opcost = nn_xmalloc((size_t)total_ops * sizeof(double));
    pgrad = nn_xmalloc((size_t)total_ops * sizeof(float));
    gen_ar_op_macs(&sp, gen, opcost, &fixed);
    if (cfg.budget_gdfq) {
        nn_graph *gd = gen_gdfq_build(sp.c, sp.h, sp.w, sp.num_classes, sp.latent, (int)lroundf(128.0f * cfg.scale), 0, 1,
                                      &e);
        if (!gd) {
            snprintf(m, sizeof m, "$.search.cost.budget: %s", e.msg);
            run_error(m);
            goto out;
        }
        budget = nn_graph_macs(gd);
        nn_graph_free(gd);
    }
    nn_optim_init(&wopt, NN_ADAM, gen);
    wopt.group = NN_GROUP_WEIGHTS, wopt.beta1 = cfg.w_b1, wopt.beta2 = cfg.w_b2;
    nn_optim_init(&aopt, NN_ADAM, gen);
    aopt.group = NN_GROUP_ARCH, aopt.beta1 = cfg.a_b1, aopt.beta2 = cfg.a_b2, aopt.weight_decay = cfg.a_wd;
    if (run_start_dir(cfg.out_dir, root, ra.resume, &e)) {
        run_error(e.msg);
        goto out;
    }
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", cfg.out_dir);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.safetensors", cfg.out_dir);
    /* the checkpoint keeps the supernet with both optimisers' states */
    run_ckpt_part parts[2] = {{"supernet", gen, &wopt}, {"arch", gen, &aopt}};
    int start = 0;
    history = nn_xcalloc((size_t)cfg.epochs * total_ops, sizeof(float));
    if (ra.resume && nn_file_exists(ckpt)) {
        if (run_ckpt_load(ckpt, parts, 2, &start, &e)) {
            run_error(e.msg);
            goto out;
        }
        run_trim_metrics(metrics, start);
        /* alpha history for the plot, from the metrics lines */
        size_t len;
        char *buf = nn_read_file(metrics, &len, &e);
        for (char *ln = buf ? strtok(buf, "\n") : NULL; ln; ln = strtok(NULL, "\n")) {
            cJSON *jl = cJSON_Parse(ln), *ep = jl ? cJSON_GetObjectItem(jl, "epoch") : NULL;
            cJSON *al = jl ? cJSON_GetObjectItem(jl, "alpha") : NULL;
            if (cJSON_IsNumber(ep) && ep->valueint >= 1 && ep->valueint <= start && cJSON_GetArraySize(al) == total_ops)
                for (int q = 0; q < total_ops; q++)
                    history[(size_t)(ep->valueint - 1) * total_ops + q] = (float)cJSON_GetArrayItem(al, q)->valuedouble;
            cJSON_Delete(jl);
        }
        free(buf);
        if (!ra.json) printf("resuming %s at epoch %d\n", cfg.out_dir, start + 1);
    } else {
        remove(metrics);
    }
    nn_ctx_init(&ctx, cfg.threads, 512u << 20);
    have_ctx = 1;
    if (getenv("DATAFREE_PROFILE")) nn_profile_enable(&ctx);
    labels = nn_xmalloc((size_t)cfg.batch * sizeof(int));
    const int K = teacher->num_classes;
    if (!ra.json)
        printf("search: AutoReCon generator supernet (scale %g: %.2f M weights, %.0f M MACs/image, %d edges) "
               "against %s; %d epochs x (%d weight + %d arch batches of %d), %s Gumbel form, noise per %s, %d threads\n",
               cfg.scale, (double)(gen->train_len - (size_t)total_ops) / 1e6, nn_graph_macs(gen) / 1e6, sp.ne,
               teacher->name, cfg.epochs, cfg.t1, cfg.v1, cfg.batch, cfg.gs.form == SRCH_GUMBEL_SEED ? "the seed's" : "standard",
               cfg.gs.per_batch ? "batch" : "example", nn_threads(&ctx));
    if (!ra.json && budget > 0)
        printf("search: MACs budget %.1f M/image%s (penalty weight %g); the cheapest generator %.1f M, every op %.1f M\n",
               budget / 1e6, cfg.budget_gdfq ? " (GDFQ's generator at this width)" : "", (double)cfg.cost_weight,
               fixed / 1e6, (nn_graph_macs(gen)) / 1e6);
    run_progress prog;
    run_progress_init(&prog, ra.json);
    int epochs_run = 0, last = start;
    double total = 0;
    float *alpha = nn_xmalloc((size_t)total_ops * sizeof(float));
    for (int epoch = start; epoch < cfg.epochs; epoch++) {
        if (ra.stop_after && epochs_run >= ra.stop_after) break;
        nn_rng rng;
        nn_rng_seed(&rng, (uint64_t)cfg.seed * 1000003ULL + (uint64_t)epoch);
        const float decay = cfg.epochs > 1 ? powf(cfg.tau1 / cfg.tau0, 1.0f / (float)(cfg.epochs - 1)) : 1.0f;
        mix_state ms = {cfg.gs, &rng};
        ms.gs.tau = srch_tau(cfg.tau_kind, cfg.tau0, cfg.tau1, decay, epoch, cfg.epochs);
        double t0 = nn_now(), sum[2][2] = {{0}}, pen_sum = 0; /* [weight|arch][ce|bns] */
        int cnt[2] = {0}, steps = cfg.per_step ? (cfg.t1 > cfg.v1 ? cfg.t1 : cfg.v1) : cfg.t1 + cfg.v1;
        for (int st = 0; st < steps; st++) {
            for (int ph = 0; ph < 2; ph++) { /* 0: weights, 1: arch */
                int doit = cfg.per_step ? (ph ? st < cfg.v1 : st < cfg.t1) : (ph ? st >= cfg.t1 : st < cfg.t1);
                if (!doit) continue;
                nn_ctx_reset(&ctx);
                ctx.training = 1;
                ctx.grad_enabled = 1;
                nn_graph_set_trainable_group(gen, NN_GROUP_WEIGHTS, !ph);
                nn_graph_set_trainable_group(gen, NN_GROUP_ARCH, ph);
                nn_tensor *z = nn_new2(&ctx, cfg.batch, cfg.latent);
                for (size_t i = 0; i < z->numel; i++) z->data[i] = nn_rng_normal(&rng);
                for (int i = 0; i < cfg.batch; i++) labels[i] = (int)(nn_rng_u64(&rng) % (uint64_t)K);
                nn_fwd_opts go = {.labels = labels, .mix_weights = gumbel_weights, .mix_user = &ms};
                nn_tensor *x = nn_graph_forward(gen, &ctx, z, &go);
                gen_recon_out ro;
                gen_recon_loss(&ctx, teacher, x, labels, cfg.bns_beta, &ro);
                if (!isfinite(ro.loss->data[0])) {
                    run_progress_done(&prog);
                    snprintf(m, sizeof m, "reconstruction loss is %g at epoch %d (lower $.search.weights.lr)",
                             ro.loss->data[0], epoch + 1);
                    run_error(m);
                    goto out_loop;
                }
                nn_graph_zero_grad(gen);
                nn_backward(&ctx, ro.loss);
                if (ph && budget > 0 && cfg.cost_weight > 0) { /* the budget's hinge, added to alpha's gradient */
                    gather_alpha(gen, &sp, mix, alpha);
                    memset(pgrad, 0, (size_t)total_ops * sizeof(float));
                    pen_sum += srch_cost_penalty(sp.edges, sp.ne, alpha, opcost, fixed, budget, cfg.cost_weight, pgrad);
                    for (int i = 0, o = 0; i < sp.ne; o += sp.edges[i++].nops) {
                        nn_tensor *a = &gen->params[gen->nodes[mix[i]].param[0]].t;
                        for (int q = 0; q < sp.edges[i].nops; q++) a->grad[q] += pgrad[o + q];
                    }
                }
                if (ph)
                    nn_optim_step(&aopt, gen, cfg.a_lr);
                else
                    nn_optim_step(&wopt, gen, cfg.w_lr);
                sum[ph][0] += ro.ce, sum[ph][1] += ro.bns, cnt[ph]++;
            }
            const double el = nn_now() - t0, per = el / (st + 1);
            const double eta = per * ((double)(cfg.epochs - epoch - 1) * steps + (steps - st - 1));
            run_progress_line(&prog, "search epoch %d/%d batch %d/%d tau %.3f | W: ce %.3f bns %.4f | A: ce %.3f bns %.4f | ETA %.0fm%02.0fs",
                              epoch + 1, cfg.epochs, st + 1, steps, ms.gs.tau, cnt[0] ? sum[0][0] / cnt[0] : 0.0,
                              cnt[0] ? sum[0][1] / cnt[0] : 0.0, cnt[1] ? sum[1][0] / cnt[1] : 0.0,
                              cnt[1] ? sum[1][1] / cnt[1] : 0.0, floor(eta / 60), fmod(eta, 60));
        }
        run_progress_done(&prog);
        const double secs = nn_now() - t0;
        total += secs;
        gather_alpha(gen, &sp, mix, alpha);
        memcpy(history + (size_t)epoch * total_ops, alpha, (size_t)total_ops * sizeof(float));
        if (run_ckpt_save(ckpt, parts, 2, epoch + 1, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        cJSON *jl = cJSON_CreateObject();
        cJSON_AddNumberToObject(jl, "epoch", epoch + 1);
        cJSON_AddNumberToObject(jl, "tau", ms.gs.tau);
        cJSON_AddNumberToObject(jl, "w_ce", cnt[0] ? sum[0][0] / cnt[0] : 0);
        cJSON_AddNumberToObject(jl, "w_bns", cnt[0] ? sum[0][1] / cnt[0] : 0);
        cJSON_AddNumberToObject(jl, "a_ce", cnt[1] ? sum[1][0] / cnt[1] : 0);
        cJSON_AddNumberToObject(jl, "a_bns", cnt[1] ? sum[1][1] / cnt[1] : 0);
        cJSON_AddNumberToObject(jl, "expected_macs", srch_cost_expected(sp.edges, sp.ne, alpha, opcost, fixed));
        if (budget > 0) cJSON_AddNumberToObject(jl, "budget_penalty", cnt[1] ? pen_sum / cnt[1] : 0);
        cJSON_AddNumberToObject(jl, "epoch_seconds", secs);
        cJSON_AddItemToObject(jl, "alpha", cJSON_CreateFloatArray(alpha, total_ops));
        char *ls = cJSON_PrintUnformatted(jl);
        run_append_line(metrics, ls);
        free(ls);
        cJSON_Delete(jl);
        if (!ra.json)
            printf("epoch %d/%d  tau %.3f  weights: ce %.3f bns %.4f  arch: ce %.3f bns %.4f  E[MACs] %.1f M  %.0fs\n",
                   epoch + 1, cfg.epochs, ms.gs.tau, cnt[0] ? sum[0][0] / cnt[0] : 0, cnt[0] ? sum[0][1] / cnt[0] : 0,
                   cnt[1] ? sum[1][0] / cnt[1] : 0, cnt[1] ? sum[1][1] / cnt[1] : 0,
                   srch_cost_expected(sp.edges, sp.ne, alpha, opcost, fixed) / 1e6, secs);
        epochs_run++;
        last = epoch + 1;
    }
    if (last < cfg.epochs) {
        if (ra.json)
            printf("{\"epochs_done\":%d,\"epochs\":%d,\"complete\":false,\"run_dir\":\"%s\"}\n", last, cfg.epochs, cfg.out_dir);
        else
            printf("stopped after epoch %d of %d; continue with --resume\n", last, cfg.epochs);
        rc = 0;
        goto out_loop;
    }
    /* ---- derive and write ---- */
    {
        gather_alpha(gen, &sp, mix, alpha);
        srch_genotype gt;
        if (budget > 0 ? srch_derive_budget(sp.edges, sp.ne, alpha, opcost, fixed, budget, &gt, &e)
                       : srch_derive(sp.edges, sp.ne, alpha, SRCH_DERIVE_ARGMAX, 0, &gt, &e)) {
            run_error(e.msg);
            goto out_loop;
        }
        nn_graph *der = gen_ar_derived(&sp, &gt, (uint64_t)cfg.seed, &e);
        if (!der) {
            run_error(e.msg);
            goto out_loop;
        }
        const double dparams = (double)der->train_len, dmacs = nn_graph_macs(der);
        nn_graph_free(der);
        cJSON *gj = srch_genotype_to_json(&gt);
        cJSON *sj = cJSON_AddObjectToObject(gj, "space");
        cJSON_AddStringToObject(sj, "kind", "autorecon_generator");
        cJSON_AddNumberToObject(sj, "scale", cfg.scale);
        cJSON_AddItemToObject(sj, "output", cJSON_CreateIntArray(teacher->in_shape, 3));
        cJSON_AddNumberToObject(sj, "gumbel_form_seed", cfg.gs.form == SRCH_GUMBEL_SEED);
        cJSON_AddNumberToObject(sj, "noise_per_batch", cfg.gs.per_batch);
        char *gs = cJSON_Print(gj);
        cJSON_Delete(gj);
        snprintf(path, sizeof path, "%s/genotype.json", cfg.out_dir);
        int w = nn_write_file_atomic(path, gs, strlen(gs), &e);
        free(gs);
        snprintf(path, sizeof path, "%s/alpha.svg", cfg.out_dir);
        if (!w) w = srch_plot_alpha_svg(path, sp.edges, sp.ne, history, cfg.epochs, &e);
        char dot[1200];
        snprintf(dot, sizeof dot, "%s/generator.dot", cfg.out_dir);
        if (!w) w = gen_ar_write_dot(&sp, &gt, dot, &e);
        if (w) {
            run_error(e.msg);
            goto out_loop;
        }
        int have_svg = 0;
        if (!system("command -v dot >/dev/null 2>&1")) {
            char cmd[2600];
            snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o '%s/generator.svg'", dot, cfg.out_dir);
            have_svg = !system(cmd);
        }
        const double run_seconds = run_sum_metric(metrics, "epoch_seconds"); /* over all invocations */
        cJSON *r = cJSON_CreateObject();
        snprintf(path, sizeof path, "%s/genotype.json", cfg.out_dir);
        cJSON_AddStringToObject(r, "genotype", path);
        cJSON_AddNumberToObject(r, "edges_kept", gt.n);
        cJSON_AddNumberToObject(r, "generator_params", dparams);
        cJSON_AddNumberToObject(r, "generator_macs", dmacs);
        if (budget > 0) cJSON_AddNumberToObject(r, "budget_macs", budget);
        cJSON_AddNumberToObject(r, "scale", cfg.scale);
        cJSON_AddNumberToObject(r, "epochs", cfg.epochs);
        cJSON_AddNumberToObject(r, "run_seconds", run_seconds);
        cJSON_AddNumberToObject(r, "threads", nn_threads(&ctx));
        cJSON_AddStringToObject(r, "run_dir", cfg.out_dir);
        char *rs = cJSON_Print(r), *flat = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        char rpath[1300];
        snprintf(rpath, sizeof rpath, "%s/result.json", cfg.out_dir);
        w = nn_write_file_atomic(rpath, rs, strlen(rs), &e);
        if (ra.json && !w) printf("%s\n", flat);
        free(rs);
        free(flat);
        if (w) {
            run_error(e.msg);
            goto out_loop;
        }
        if (!ra.json) {
            printf("derived generator: %d of %d edges kept, %.2f M parameters, %.1f M MACs/image", gt.n, sp.ne,
                   dparams / 1e6, dmacs / 1e6);
            if (budget > 0) printf(" (budget %.1f M)", budget / 1e6);
            printf("; search %.1f min\n", run_seconds / 60);
            for (int i = 0; i < gt.n; i++) printf("  %2d -> %2d  %s\n", gt.e[i].from, gt.e[i].to, gt.e[i].op);
            printf("wrote %s/genotype.json, alpha.svg, generator.dot%s\n", cfg.out_dir, have_svg ? ", generator.svg" : "");
        }
    }
    rc = 0;
out_loop:
    free(alpha);
out:
    free(labels);
    free(history);
    free(opcost);
    free(pgrad);
    if (have_ctx && ctx.prof) nn_profile_print(&ctx, stderr);
    if (have_ctx) nn_ctx_free(&ctx);
    nn_optim_free(&wopt);
    nn_optim_free(&aopt);
    nn_graph_free(gen);
    nn_graph_free(teacher);
    cJSON_Delete(root);
    return rc;
}
