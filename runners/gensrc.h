/* Data-free batches for `datafree train` and `datafree nasb`: images
 * G(z, y) for sampled labels y from a reconstructed generator, and the
 * teacher's logits on them. The training split is never read.
 *
 * Frozen (no $.source.update) the generator is only sampled. With
 * $.source.update it keeps training while the network learns from it: before
 * each batch one Adam step on
 *     L_G = CE(T(x), y) + bns_beta * L_BNS(T, x) - adversarial * |S(x) - T(x)|_1
 * GDFQ's reconstruction loss plus DFAD's adversarial term (Fang et al. 2019),
 * which moves the images to where the network S still disagrees with the
 * teacher T; a frozen generator's narrow output is what a network trained from
 * scratch overfits. The step's images then train S. */
#ifndef RUN_GENSRC_H
#define RUN_GENSRC_H

#include <cjson/cJSON.h>

#include "compress/kd.h"
#include "nn/graph.h"
#include "nn/optim.h"

typedef struct run_gensrc {
    const char *gen_path, *teacher_path; /* $.source.generator, $.source.teacher */
    int batches;                         /* $.source.batches_per_epoch (default 100) */
    cmp_kd kd;                           /* $.source.kd: the network's loss against the teacher */
    nn_graph *gen, *teacher;
    nn_optim opt;
    int update;
    float lr, beta1, beta2, bns_beta, adversarial;
    double ce, bns, gap; /* sums of the generator's losses times batch size since the last reset */
    long seen;
} run_gensrc;

/* A $.source of type generator, every key checked: generator, teacher
 * (required), batches_per_epoch, kd {temperature, alpha}, update {lr, beta1,
 * beta2, bns_beta, adversarial} (absent: frozen). The one parser of this
 * block for datafree train and datafree nasb. The paths point into source:
 * keep it until run_gensrc_open. */
int run_gensrc_parse(const cJSON *source, run_gensrc *s, nn_err *e);
/* $.source.kd {temperature, alpha} into kd (GDFQ's T 20, alpha 1 if absent). */
int run_parse_kd(const cJSON *source, cmp_kd *kd, nn_err *e);
/* Load the generator and its teacher (both checked: the generator's images
 * must have the teacher's input shape). */
int run_gensrc_open(run_gensrc *s, nn_err *e);
/* One batch of n: labels drawn uniformly, images into x[n*C*H*W] and the
 * teacher's logits into tl[n*K]. With update, the generator first takes its
 * step against `student` run with `so` (NULL student: no adversarial term),
 * the student in training mode, so its BN running statistics see the batch
 * here and again in its own step.
 * Resets c's tape; the student's gradients are left dirty (zero them). */
void run_gensrc_batch(run_gensrc *s, nn_ctx *c, nn_graph *student, const nn_fwd_opts *so, int n, nn_rng *r,
                      int *labels, float *x, float *tl);
/* The generator's state beside a run's own checkpoint: DIR/generator_ckpt.safetensors
 * (nothing when frozen). Load returns NN_OK when there is none to load. */
int run_gensrc_save(const run_gensrc *s, const char *dir, int epoch, nn_err *e);
int run_gensrc_load(run_gensrc *s, const char *dir, nn_err *e);
/* `,"g_ce":..,"g_bns":..,"g_gap":..` for a metrics line (empty when frozen), then reset the sums. */
void run_gensrc_metrics(run_gensrc *s, char *buf, size_t size);
void run_gensrc_free(run_gensrc *s);

#endif
