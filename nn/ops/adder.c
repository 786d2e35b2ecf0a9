/* AdderNet's adder convolution (shared/reference/seed_adder.md §1.2-1.5):
 *   forward  Y[b,t,oh,ow] = - sum_{k,i,j} | X~[b,k,oh*s+i*d-p, ow*s+j*d-p] - F[t,k,i,j] |
 *            with X~ zero-padded, so a padded tap costs -|F| (the reference code's
 *            semantics, not 0 as in a conv); unbiased
 *   dF       sum_{b,oh,ow} G * (X~ - F)          (the full-precision gradient, eq. 3.4)
 *   dX       sum_{t,i,j} G * HT(F - X)           (HardTanh-clipped, eq. 3.5)
 *   ALR      dF scaled to eta * sqrt(numel(F)) / ||dF||_2 inside the backward, as
 *            the official code does (eta 0.2 there); eta <= 0 turns it off.
 * Batch-parallel on the pool: each worker takes whole images, and for dF
 * accumulates into its own buffer, summed at the end. */
#include <math.h>
#include <string.h>

#include "../ops.h"

typedef struct {
    nn_tensor *x, *w, *y;
    nn_adder_attr a;
    int OH, OW;
    float *dw_part; /* [nth][numel(w)] for the weight gradient */
} adder_job;

/* the input index of tap (i, j) at output (oh, ow), or -1 in the padding */
static inline int tap(int o, int k, const nn_adder_attr *a, int n)
{
    const int v = o * a->stride + k * a->dilation - a->pad;
    return v >= 0 && v < n ? v : -1;
}

static void adder_fwd_run(void *arg, int ith, int nth)
{
    adder_job *j = arg;
    const nn_tensor *x = j->x, *w = j->w;
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int O = w->shape[0], cg = w->shape[1], K = w->shape[2], og = O / j->a.groups;
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t b = lo; b < hi; b++)
        for (int t = 0; t < O; t++) {
            const int g = t / og;
            const float *ft = w->data + (size_t)t * cg * K * K;
            float *yo = j->y->data + ((size_t)b * O + t) * j->OH * j->OW;
            for (int oh = 0; oh < j->OH; oh++)
                for (int ow = 0; ow < j->OW; ow++) {
                    float s = 0.0f;
                    for (int k = 0; k < cg; k++) {
                        const float *xk = x->data + ((size_t)b * C + g * cg + k) * H * W;
                        for (int i = 0; i < K; i++) {
                            const int ih = tap(oh, i, &j->a, H);
                            for (int jj = 0; jj < K; jj++) {
                                const int iw = tap(ow, jj, &j->a, W);
                                const float xv = ih >= 0 && iw >= 0 ? xk[(size_t)ih * W + iw] : 0.0f;
                                s += fabsf(xv - ft[((size_t)k * K + i) * K + jj]);
                            }
                        }
                    }
                    yo[(size_t)oh * j->OW + ow] = -s;
                }
        }
}

typedef struct {
    adder_job *j;
    float *gx; /* NULL if x needs no gradient */
    int want_dw;
} adder_bwd_job;

static void adder_bwd_run(void *arg, int ith, int nth)
{
    adder_bwd_job *bj = arg;
    adder_job *j = bj->j;
    const nn_tensor *x = j->x, *w = j->w, *y = j->y;
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int O = w->shape[0], cg = w->shape[1], K = w->shape[2], og = O / j->a.groups;
    float *dw = bj->want_dw ? j->dw_part + (size_t)ith * w->numel : NULL;
    if (dw) memset(dw, 0, w->numel * sizeof(float));
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t b = lo; b < hi; b++)
        for (int t = 0; t < O; t++) {
            const int g = t / og;
            const float *ft = w->data + (size_t)t * cg * K * K;
            const float *go = y->grad + ((size_t)b * O + t) * j->OH * j->OW;
            for (int oh = 0; oh < j->OH; oh++)
                for (int ow = 0; ow < j->OW; ow++) {
                    const float gv = go[(size_t)oh * j->OW + ow];
                    if (gv == 0.0f) continue;
                    for (int k = 0; k < cg; k++) {
                        const size_t xoff = ((size_t)b * C + g * cg + k) * H * W;
                        for (int i = 0; i < K; i++) {
                            const int ih = tap(oh, i, &j->a, H);
                            for (int jj = 0; jj < K; jj++) {
                                const int iw = tap(ow, jj, &j->a, W);
                                const size_t fi = ((size_t)k * K + i) * K + jj;
                                const int in = ih >= 0 && iw >= 0;
                                const float xv = in ? x->data[xoff + (size_t)ih * W + iw] : 0.0f, d = xv - ft[fi];
                                if (dw) dw[(size_t)t * cg * K * K + fi] += gv * d;
                                if (bj->gx && in) { /* HT(F - X) = -clamp(d, -1, 1) */
                                    const float h = d < -1.0f ? -1.0f : d > 1.0f ? 1.0f : d;
                                    bj->gx[xoff + (size_t)ih * W + iw] -= gv * h;
                                }
                            }
                        }
                    }
                }
        }
}

typedef struct {
    adder_job j;
} adder_saved;

static void adder_backward(nn_ctx *c, nn_node *node)
{
    adder_saved *s = node->saved;
    adder_job *j = &s->j;
    nn_tensor *x = node->in[0], *w = node->in[1];
    const int nth = nn_threads(c), want_dw = w->requires_grad;
    /* input gradients of different images never overlap: one buffer, split by image */
    adder_bwd_job bj = {j, x->requires_grad ? nn_grad(c, x) : NULL, want_dw};
    if (want_dw) j->dw_part = nn_arena_floats(&c->arena, (size_t)nth * w->numel);
    nn_pool_run(c->pool, adder_bwd_run, &bj);
    if (!want_dw) return;
    float *gw = nn_grad(c, w), *sum = j->dw_part;
    for (int t = 1; t < nth; t++)
        for (size_t i = 0; i < w->numel; i++) sum[i] += j->dw_part[(size_t)t * w->numel + i];
    float scale = 1.0f;
    if (j->a.alr_eta > 0.0f) {
        double n2 = 0;
        for (size_t i = 0; i < w->numel; i++) n2 += (double)sum[i] * sum[i];
        const double nrm = sqrt(n2) < 1e-12 ? 1e-12 : sqrt(n2);
        scale = (float)(j->a.alr_eta * sqrt((double)w->numel) / nrm);
    }
    for (size_t i = 0; i < w->numel; i++) gw[i] += scale * sum[i];
}

nn_tensor *nn_adder_conv2d(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_adder_attr a)
{
    NN_ASSERT(x->ndim == 4 && w->ndim == 4 && w->shape[2] == w->shape[3] && a.groups >= 1);
    NN_ASSERT(x->shape[1] == w->shape[1] * a.groups && w->shape[0] % a.groups == 0);
    const int OH = nn_conv_out(x->shape[2], w->shape[2], a.stride, a.pad, a.dilation);
    const int OW = nn_conv_out(x->shape[3], w->shape[3], a.stride, a.pad, a.dilation);
    nn_tensor *y = nn_new4(c, x->shape[0], w->shape[0], OH, OW);
    adder_job j = {x, w, y, a, OH, OW, NULL};
    nn_pool_run(c->pool, adder_fwd_run, &j);
    nn_tensor *in[2] = {x, w};
    nn_node *node = nn_record(c, "adder_conv2d", adder_backward, y, 2, in);
    if (node) {
        adder_saved *s = nn_arena_alloc(&c->arena, sizeof *s);
        s->j = j;
        node->saved = s;
    }
    return y;
}
