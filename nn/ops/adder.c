/* AdderNet's adder convolution (shared/reference/seed_adder.md §1.2-1.5):
 *   forward  Y[b,t,oh,ow] = - sum_{k,i,j} | X~[b,k,oh*s+i*d-p, ow*s+j*d-p] - F[t,k,i,j] |
 *            with X~ zero-padded, so a padded tap costs -|F| (the reference code's
 *            semantics, not 0 as in a conv); unbiased
 *   dF       sum_{b,oh,ow} G * (X~ - F)          (the full-precision gradient, eq. 3.4)
 *   dX       sum_{t,i,j} G * HT(F - X)           (HardTanh-clipped, eq. 3.5)
 *   ALR      dF scaled to eta * sqrt(numel(F)) / ||dF||_2 inside the backward, as
 *            the official code does (eta 0.2 there); eta <= 0 turns it off.
 * Per image and group: im2col (padded taps 0, so |0 - F| comes out of the
 * same sum), then an "L1 GEMM" y[o][p] = -sum_k |col[k][p] - w[o][k]|
 * (as 2 sum min - sums: AVX-512 8 outputs x 32 pixels, AVX2 4 x 16 in
 * registers) for the forward, the clipped
 * counterpart for dcol (col2im'd into dX), and for dF the identity
 * sum_p G (col - w) = G col^T - w sum_p G: one sgemm. Batch-parallel on the
 * pool; each worker accumulates its own dF, summed at the end. */
#include <math.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "../blas.h"
#include "../ops.h"
#include "im2col.h"


#ifdef __AVX512F__
/* M[o][p] = sum_k min(col[k][p], w[o][k]) for R (<= 8, constant after
 * inlining) rows x 32 pixels in 2R zmm accumulators; masked pixel tail. */
static inline __attribute__((always_inline)) void min_rows(const float *w, int R, int K, const float *col, int P,
                                                            float *m)
{
    for (int p0 = 0; p0 < P; p0 += 32) {
        const int n0 = P - p0 >= 16 ? 16 : P - p0, n1 = P - p0 - 16 >= 16 ? 16 : P - p0 - 16 > 0 ? P - p0 - 16 : 0;
        const __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
        __m512 a[8][2];
        for (int j = 0; j < 8; j++)
            if (j < R) a[j][0] = a[j][1] = _mm512_setzero_ps();
        const float *c = col + p0;
        for (int k = 0; k < K; k++, c += P) {
            const __m512 x0 = _mm512_maskz_loadu_ps(m0, c), x1 = _mm512_maskz_loadu_ps(m1, c + 16);
            for (int j = 0; j < 8; j++)
                if (j < R) {
                    const __m512 v = _mm512_set1_ps(w[(size_t)j * K + k]);
                    a[j][0] = _mm512_add_ps(a[j][0], _mm512_min_ps(x0, v));
                    a[j][1] = _mm512_add_ps(a[j][1], _mm512_min_ps(x1, v));
                }
        }
        for (int j = 0; j < 8; j++)
            if (j < R) {
                _mm512_mask_storeu_ps(m + (size_t)j * P + p0, m0, a[j][0]);
                if (n1) _mm512_mask_storeu_ps(m + (size_t)j * P + p0 + 16, m1, a[j][1]);
            }
    }
}
#endif

/* y[o][p] = -sum_k |col[k][p] - w[o][k]|, by |a - b| = a + b - 2 min(a, b):
 * y = 2 sum_k min(col, w) - sum_k col[k][p] - sum_k w[o][k], so the inner
 * loop is a min and an add where the direct form needs a sub, an abs and an
 * add. sx: P floats of scratch. Exact for values on a power-of-two grid
 * (the quantized model's), within float rounding otherwise. */
static void l1_fwd(const float *w, int O, int K, const float *col, int P, float *y, float *sx)
{
    for (int p = 0; p < P; p++) sx[p] = 0.0f;
    for (int k = 0; k < K; k++) {
        const float *c = col + (size_t)k * P;
        for (int p = 0; p < P; p++) sx[p] += c[p];
    }
    int o0 = 0;
#if defined(__AVX512F__)
    for (; o0 + 8 <= O; o0 += 8) min_rows(w + (size_t)o0 * K, 8, K, col, P, y + (size_t)o0 * P);
    for (; o0 < O; o0++) min_rows(w + (size_t)o0 * K, 1, K, col, P, y + (size_t)o0 * P);
#elif defined(__AVX2__)
    for (; o0 + 4 <= O; o0 += 4) {
        const float *w0 = w + (size_t)o0 * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        int p0 = 0;
        for (; p0 + 16 <= P; p0 += 16) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            const float *c = col + p0;
            for (int k = 0; k < K; k++, c += P) {
                const __m256 x0 = _mm256_loadu_ps(c), x1 = _mm256_loadu_ps(c + 8);
                __m256 v = _mm256_broadcast_ss(w0 + k);
                a0 = _mm256_add_ps(a0, _mm256_min_ps(x0, v));
                b0 = _mm256_add_ps(b0, _mm256_min_ps(x1, v));
                v = _mm256_broadcast_ss(w1 + k);
                a1 = _mm256_add_ps(a1, _mm256_min_ps(x0, v));
                b1 = _mm256_add_ps(b1, _mm256_min_ps(x1, v));
                v = _mm256_broadcast_ss(w2 + k);
                a2 = _mm256_add_ps(a2, _mm256_min_ps(x0, v));
                b2 = _mm256_add_ps(b2, _mm256_min_ps(x1, v));
                v = _mm256_broadcast_ss(w3 + k);
                a3 = _mm256_add_ps(a3, _mm256_min_ps(x0, v));
                b3 = _mm256_add_ps(b3, _mm256_min_ps(x1, v));
            }
            float *y0 = y + (size_t)o0 * P + p0;
            _mm256_storeu_ps(y0, a0);
            _mm256_storeu_ps(y0 + 8, b0);
            _mm256_storeu_ps(y0 + P, a1);
            _mm256_storeu_ps(y0 + P + 8, b1);
            _mm256_storeu_ps(y0 + 2 * P, a2);
            _mm256_storeu_ps(y0 + 2 * P + 8, b2);
            _mm256_storeu_ps(y0 + 3 * P, a3);
            _mm256_storeu_ps(y0 + 3 * P + 8, b3);
        }
        for (int j = 0; j < 4; j++) { /* pixel tail */
            float *yr = y + (size_t)(o0 + j) * P;
            for (int p = p0; p < P; p++) yr[p] = 0.0f;
            for (int k = 0; k < K; k++) {
                const float wv = w[(size_t)(o0 + j) * K + k], *c = col + (size_t)k * P;
                for (int p = p0; p < P; p++) yr[p] += fminf(c[p], wv);
            }
        }
    }
#endif
    for (; o0 < O; o0++) { /* portable (and depthwise) path: the compiler vectorizes over p */
        float *yr = y + (size_t)o0 * P;
        for (int p = 0; p < P; p++) yr[p] = 0.0f;
        for (int k = 0; k < K; k++) {
            const float wv = w[(size_t)o0 * K + k], *c = col + (size_t)k * P;
            for (int p = 0; p < P; p++) yr[p] += c[p] < wv ? c[p] : wv;
        }
    }
    for (int o = 0; o < O; o++) {
        float sw = 0.0f;
        for (int k = 0; k < K; k++) sw += w[(size_t)o * K + k];
        float *yr = y + (size_t)o * P;
        for (int p = 0; p < P; p++) yr[p] = 2.0f * yr[p] - sx[p] - sw;
    }
}

#ifdef __AVX512F__
/* R (<= 4) taps x 32 pixels of dcol, by clamp(w - x, -1, 1) = min(max(w, x - 1), x + 1) - x:
 * a max, a min and an fma per output channel; the "- x" part is x * sum_o G
 * (gs), taken once at the end. */
static inline __attribute__((always_inline)) void clip_rows(const float *w, const float *G, int O, int K, int R,
                                                             const float *col, int P, const float *gs, float *dcol)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int p0 = 0; p0 < P; p0 += 32) {
        const int n0 = P - p0 >= 16 ? 16 : P - p0, n1 = P - p0 - 16 >= 16 ? 16 : P - p0 - 16 > 0 ? P - p0 - 16 : 0;
        const __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
        __m512 lo[4][2], hi[4][2], a[4][2];
        for (int r = 0; r < 4; r++)
            if (r < R)
                for (int h = 0; h < 2; h++) {
                    const __m512 x = _mm512_maskz_loadu_ps(h ? m1 : m0, col + (size_t)r * P + p0 + 16 * h);
                    lo[r][h] = _mm512_sub_ps(x, one);
                    hi[r][h] = _mm512_add_ps(x, one);
                    a[r][h] = _mm512_setzero_ps();
                }
        for (int o = 0; o < O; o++) {
            const float *g = G + (size_t)o * P + p0;
            const __m512 g0 = _mm512_maskz_loadu_ps(m0, g), g1 = _mm512_maskz_loadu_ps(m1, g + 16);
            for (int r = 0; r < 4; r++)
                if (r < R) {
                    const __m512 v = _mm512_set1_ps(w[(size_t)o * K + r]);
                    a[r][0] = _mm512_fmadd_ps(g0, _mm512_min_ps(_mm512_max_ps(v, lo[r][0]), hi[r][0]), a[r][0]);
                    a[r][1] = _mm512_fmadd_ps(g1, _mm512_min_ps(_mm512_max_ps(v, lo[r][1]), hi[r][1]), a[r][1]);
                }
        }
        const __m512 s0 = _mm512_maskz_loadu_ps(m0, gs + p0), s1 = _mm512_maskz_loadu_ps(m1, gs + p0 + 16);
        for (int r = 0; r < 4; r++)
            if (r < R) {
                const float *c = col + (size_t)r * P + p0;
                float *d = dcol + (size_t)r * P + p0;
                _mm512_mask_storeu_ps(d, m0, _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m0, c), s0, a[r][0]));
                if (n1) _mm512_mask_storeu_ps(d + 16, m1, _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m1, c + 16), s1, a[r][1]));
            }
    }
}
#endif

/* dcol[k][p] = sum_o G[o][p] * clamp(w[o][k] - col[k][p], -1, 1); gs: P floats */
static void l1_bwd_col(const float *w, const float *G, int O, int K, const float *col, int P, float *dcol, float *gs)
{
    int k0 = 0;
#if defined(__AVX512F__)
    for (int p = 0; p < P; p++) gs[p] = 0.0f;
    for (int o = 0; o < O; o++)
        for (int p = 0; p < P; p++) gs[p] += G[(size_t)o * P + p];
    for (; k0 + 4 <= K; k0 += 4) clip_rows(w + k0, G, O, K, 4, col + (size_t)k0 * P, P, gs, dcol + (size_t)k0 * P);
    for (; k0 < K; k0++) clip_rows(w + k0, G, O, K, 1, col + (size_t)k0 * P, P, gs, dcol + (size_t)k0 * P);
#elif defined(__AVX2__)
    const __m256 one = _mm256_set1_ps(1.0f), mone = _mm256_set1_ps(-1.0f);
    for (; k0 + 2 <= K; k0 += 2) {
        int p0 = 0;
        for (; p0 + 16 <= P; p0 += 16) {
            const float *c0 = col + (size_t)k0 * P + p0, *c1 = c0 + P;
            const __m256 x00 = _mm256_loadu_ps(c0), x01 = _mm256_loadu_ps(c0 + 8), x10 = _mm256_loadu_ps(c1),
                         x11 = _mm256_loadu_ps(c1 + 8);
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
            for (int o = 0; o < O; o++) {
                const float *g = G + (size_t)o * P + p0;
                const __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8);
                const __m256 v0 = _mm256_broadcast_ss(w + (size_t)o * K + k0), v1 = _mm256_broadcast_ss(w + (size_t)o * K + k0 + 1);
                a00 = _mm256_fmadd_ps(g0, _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(v0, x00), mone), one), a00);
                a01 = _mm256_fmadd_ps(g1, _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(v0, x01), mone), one), a01);
                a10 = _mm256_fmadd_ps(g0, _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(v1, x10), mone), one), a10);
                a11 = _mm256_fmadd_ps(g1, _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(v1, x11), mone), one), a11);
            }
            float *d0 = dcol + (size_t)k0 * P + p0;
            _mm256_storeu_ps(d0, a00);
            _mm256_storeu_ps(d0 + 8, a01);
            _mm256_storeu_ps(d0 + P, a10);
            _mm256_storeu_ps(d0 + P + 8, a11);
        }
        for (int kk = k0; kk < k0 + 2; kk++) { /* pixel tail */
            float *d = dcol + (size_t)kk * P;
            const float *c = col + (size_t)kk * P;
            for (int p = p0; p < P; p++) d[p] = 0.0f;
            for (int o = 0; o < O; o++) {
                const float wv = w[(size_t)o * K + kk], *g = G + (size_t)o * P;
                for (int p = p0; p < P; p++) {
                    const float t = wv - c[p];
                    d[p] += g[p] * (t < -1.0f ? -1.0f : t > 1.0f ? 1.0f : t);
                }
            }
        }
    }
#endif
    for (; k0 < K; k0++) {
        float *d = dcol + (size_t)k0 * P;
        const float *c = col + (size_t)k0 * P;
        for (int p = 0; p < P; p++) d[p] = 0.0f;
        for (int o = 0; o < O; o++) {
            const float wv = w[(size_t)o * K + k0], *g = G + (size_t)o * P;
            for (int p = 0; p < P; p++) {
                const float t = wv - c[p];
                d[p] += g[p] * (t < -1.0f ? -1.0f : t > 1.0f ? 1.0f : t);
            }
        }
    }
}

typedef struct {
    nn_tensor *x, *w, *y;
    nn_adder_attr a;
    int OH, OW;
    float *scratch;  /* per worker: col (+ dcol) */
    size_t per;      /* floats of scratch per worker */
    float *dw_part;  /* [nth][numel(w) + O]: weight gradient and sum of G per output */
    float *gx;       /* input gradient, or NULL */
    int want_dw;
} adder_job;

static void adder_fwd_run(void *arg, int ith, int nth)
{
    adder_job *j = arg;
    const nn_tensor *x = j->x, *w = j->w;
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int O = w->shape[0], cg = w->shape[1], k = w->shape[2], G = j->a.groups, og = O / G;
    const int K = cg * k * k, P = j->OH * j->OW;
    float *col = j->scratch + (size_t)ith * j->per, *sx = col + (size_t)K * P;
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t b = lo; b < hi; b++)
        for (int g = 0; g < G; g++) {
            nn_im2col_plane(x->data + ((size_t)b * C + (size_t)g * cg) * H * W, col, cg, H, W, k, j->a.stride,
                            j->a.pad, j->a.dilation, j->OH, j->OW);
            l1_fwd(w->data + (size_t)g * og * K, og, K, col, P, j->y->data + ((size_t)b * O + (size_t)g * og) * P, sx);
        }
}

static void adder_bwd_run(void *arg, int ith, int nth)
{
    adder_job *j = arg;
    const nn_tensor *x = j->x, *w = j->w, *y = j->y;
    const int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int O = w->shape[0], cg = w->shape[1], k = w->shape[2], G = j->a.groups, og = O / G;
    const int K = cg * k * k, P = j->OH * j->OW;
    float *col = j->scratch + (size_t)ith * j->per, *dcol = col + (size_t)K * P;
    float *dw = j->want_dw ? j->dw_part + (size_t)ith * (w->numel + (size_t)O) : NULL, *gsum = dw ? dw + w->numel : NULL;
    if (dw) memset(dw, 0, (w->numel + (size_t)O) * sizeof(float));
    size_t lo, hi;
    nn_split((size_t)N, ith, nth, &lo, &hi);
    for (size_t b = lo; b < hi; b++)
        for (int g = 0; g < G; g++) {
            const size_t xo = ((size_t)b * C + (size_t)g * cg) * H * W;
            const float *gy = y->grad + ((size_t)b * O + (size_t)g * og) * P, *wg = w->data + (size_t)g * og * K;
            nn_im2col_plane(x->data + xo, col, cg, H, W, k, j->a.stride, j->a.pad, j->a.dilation, j->OH, j->OW);
            if (dw) { /* sum_p G (col - w) = G col^T - w sum_p G */
                nn_sgemm(0, 1, og, K, P, 1.0f, gy, P, col, P, 1.0f, dw + (size_t)g * og * K, K);
                for (int o = 0; o < og; o++) {
                    double s = 0;
                    for (int p = 0; p < P; p++) s += gy[(size_t)o * P + p];
                    gsum[g * og + o] += (float)s;
                }
            }
            if (j->gx) {
                l1_bwd_col(wg, gy, og, K, col, P, dcol, dcol + (size_t)K * P);
                nn_col2im_plane(dcol, j->gx + xo, cg, H, W, k, j->a.stride, j->a.pad, j->a.dilation, j->OH, j->OW);
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
    const int nth = nn_threads(c), O = w->shape[0];
    const size_t K = w->numel / (size_t)O, P = (size_t)j->OH * j->OW;
    j->want_dw = w->requires_grad;
    j->gx = x->requires_grad ? nn_grad(c, x) : NULL; /* images never overlap: one buffer */
    j->per = (2 * K + 1) * P; /* col, dcol, and l1_bwd_col's sum of G */
    j->scratch = nn_arena_floats(&c->arena, (size_t)nth * j->per);
    if (j->want_dw) j->dw_part = nn_arena_floats(&c->arena, (size_t)nth * (w->numel + (size_t)O));
    nn_pool_run(c->pool, adder_bwd_run, j);
    if (!j->want_dw) return;
    float *sum = j->dw_part;
    const size_t stride = w->numel + (size_t)O;
    for (int t = 1; t < nth; t++)
        for (size_t i = 0; i < stride; i++) sum[i] += j->dw_part[(size_t)t * stride + i];
    for (int o = 0; o < O; o++) /* - w * sum_p G */
        for (size_t q = 0; q < K; q++) sum[(size_t)o * K + q] -= w->data[(size_t)o * K + q] * sum[w->numel + (size_t)o];
    float scale = 1.0f;
    if (j->a.alr_eta > 0.0f) {
        double n2 = 0;
        for (size_t i = 0; i < w->numel; i++) n2 += (double)sum[i] * sum[i];
        const double nrm = sqrt(n2) < 1e-12 ? 1e-12 : sqrt(n2);
        scale = (float)(j->a.alr_eta * sqrt((double)w->numel) / nrm);
    }
    float *gw = nn_grad(c, w);
    for (size_t i = 0; i < w->numel; i++) gw[i] += scale * sum[i];
}

nn_tensor *nn_adder_conv2d(nn_ctx *c, nn_tensor *x, nn_tensor *w, nn_adder_attr a)
{
    NN_ASSERT(x->ndim == 4 && w->ndim == 4 && w->shape[2] == w->shape[3] && a.groups >= 1);
    NN_ASSERT(x->shape[1] == w->shape[1] * a.groups && w->shape[0] % a.groups == 0);
    const int OH = nn_conv_out(x->shape[2], w->shape[2], a.stride, a.pad, a.dilation);
    const int OW = nn_conv_out(x->shape[3], w->shape[3], a.stride, a.pad, a.dilation);
    nn_tensor *y = nn_new4(c, x->shape[0], w->shape[0], OH, OW);
    const int nth = nn_threads(c);
    /* per worker: col, and the column sums of l1_fwd */
    adder_job j = {x, w, y, a, OH, OW, NULL, (w->numel / (size_t)w->shape[0] + 1) * (size_t)OH * OW, NULL, NULL, 0};
    j.scratch = nn_arena_floats(&c->arena, (size_t)nth * j.per);
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
