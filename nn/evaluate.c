#include "evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

double nn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void nn_cpu_desc(char *buf, size_t n)
{
    snprintf(buf, n, "unknown CPU");
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d, r[12] = {0};
    char vendor[13] = {0}, brand[49] = {0};
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    /* family and model with their extended fields (Intel SDM, CPUID leaf 1) */
    const unsigned fam = (a >> 8 & 0xf) + ((a >> 8 & 0xf) == 0xf ? (a >> 20 & 0xff) : 0);
    const unsigned model = (a >> 4 & 0xf) | ((a >> 8 & 0xf) >= 0x6 ? (a >> 12 & 0xf0) : 0);
    for (unsigned i = 0; i < 3; i++)
        if (!__get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3])) break;
    memcpy(brand, r, 48);
    const char *s = brand;
    while (*s == ' ') s++;
    snprintf(buf, n, "%s family 0x%x model 0x%x%s%s", vendor, fam, model, *s ? ": " : "", s);
    for (char *t = buf + strlen(buf); t > buf && t[-1] == ' '; t--) t[-1] = 0;
    for (char *t = buf; *t; t++) /* printed into JSON as is: no quote, backslash or control byte */
        if (*t == '"' || *t == '\\' || (unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e) *t = '?';
#endif
}

int nn_check_data_fits(const nn_graph *g, const nn_dataset *d, nn_err *e)
{
    if (g->in_ndim != 3)
        return nn_fail(e, "model '%s' takes a vector of %d values, not images (a generator?)", g->name, g->in_shape[0]);
    if (d->c != g->in_shape[0] || d->h != g->in_shape[1] || d->w != g->in_shape[2])
        return nn_fail(e, "data is %dx%dx%d (%s) but model '%s' takes %dx%dx%d", d->c, d->h, d->w, d->desc, g->name,
                       g->in_shape[0], g->in_shape[1], g->in_shape[2]);
    const nn_gnode *out = &g->nodes[g->output];
    if (out->ndim != 1 || out->shape[0] < d->num_classes)
        return nn_fail(e, "model '%s' has %d outputs but the data has %d classes", g->name,
                       out->ndim == 1 ? out->shape[0] : -1, d->num_classes);
    return NN_OK;
}

int nn_evaluate(nn_graph *g, nn_ctx *c, const nn_dataset *d, int batch, nn_eval_result *r, nn_err *e)
{
    if (nn_check_data_fits(g, d, e)) return NN_ERR;
    const int grad = c->grad_enabled, train = c->training;
    c->grad_enabled = 0;
    c->training = 0;
    double t0 = nn_now(), loss = 0.0;
    long correct = 0;
    int *idx = nn_xmalloc((size_t)batch * sizeof(int)), *lab = nn_xmalloc((size_t)batch * sizeof(int));
    for (int s = 0; s < d->n; s += batch) {
        int n = d->n - s < batch ? d->n - s : batch;
        for (int i = 0; i < n; i++) idx[i] = s + i;
        nn_ctx_reset(c);
        nn_tensor *x = nn_new4(c, n, d->c, d->h, d->w);
        nn_dataset_batch(d, idx, n, g->mean, g->std, NULL, NULL, x->data, lab);
        nn_tensor *y = nn_graph_forward(g, c, x, NULL);
        const int K = y->shape[1];
        for (int i = 0; i < n; i++) {
            const float *row = y->data + (size_t)i * K;
            int best = 0;
            float m = row[0];
            for (int k = 1; k < K; k++)
                if (row[k] > m) m = row[best = k];
            correct += best == lab[i];
            double se = 0.0;
            for (int k = 0; k < K; k++) se += exp((double)row[k] - m);
            loss += -(row[lab[i]] - m - log(se));
        }
    }
    nn_ctx_reset(c);
    free(idx);
    free(lab);
    c->grad_enabled = grad;
    c->training = train;
    r->n = d->n;
    r->accuracy = d->n ? (double)correct / d->n : 0.0;
    r->loss = d->n ? loss / d->n : 0.0;
    r->seconds = nn_now() - t0;
    return NN_OK;
}
