/* Bit-packed binary conv inference vs our float32 conv (nn_conv2d) of the
 * same shape, in the same run: a 3x3 conv, 64 -> 64 channels, 32x32, batch
 * 64 (the NASB issue's shape), then the three stage shapes of a binary
 * ResNet-20 on 28x28 inputs (16x28x28, 32x14x14, 64x7x7), single thread by
 * default. The binary time includes everything an inference layer does:
 * binarize and pack the float input, im2col (where the GEMM cannot read
 * the packed planes in place), the XNOR-popcount GEMM, the border fix, and
 * BN folded to a per-channel affine (a * dot + b, float out, Bi-Real's
 * real-valued path) or to a threshold (the next layer's sign bits), over
 * the batch as nn/graph.c runs it (the next image prefetched, the output
 * streamed when the batch crowds the last-level cache). AVX-512 VPOPCNTDQ path (where the CPU has it), the AVX2 path
 * (nibble-lookup popcounts; scalar pack and im2col, as on a CPU without
 * AVX-512) and the portable scalar-popcount path. Each time is the best of 5;
 * each shape's time split into its steps (VPOPCNTDQ, where present, and
 * portable). The first line names the CPU (nn_cpu_desc): the ratios
 * differ by microarchitecture. With VPOPCNTDQ, the first shape also gets
 * the core clock (clock_ghz), the cycles per xor + vpopcntq + add of 8
 * words (vpopcnt_cycles) and from them its GEMM's port bound.
 * Usage: build/bench_binary [THREADS [BATCH]], or build/bench_binary chain
 * (the streamed-output rule's measurement: bench_chain). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/bin_kernels.h"
#include "nn/evaluate.h"
#include "nn/ops.h"

enum { K = 3 };

typedef struct {
    const df_bin_geom *g;
    int O, N;
    const uint64_t *wp;
    const int32_t *cls, *tab;
    int ncls;
    const float *a, *b;
    void *xp;
    uint64_t *col, *bits;
    int32_t *dot;
    float *y;
} layer;

static double bin_layer(const layer *L, const float *x, int isa, int threshold)
{
    const df_bin_geom *g = L->g;
    const int P = g->P, O = L->O;
    const double t0 = nn_now();
    for (int n = 0; n < L->N; n++) {
        const float *xn = x + (size_t)n * g->C * g->H * g->W;
        if (threshold) {
            df_bin_conv(xn, g, L->wp, L->cls, L->tab, L->ncls, O, isa, L->xp, L->col, L->dot); /* sign(a dot + b) >= 0  <=>  dot >= -b / a (a > 0 here) */
            memset(L->bits, 0, sizeof(uint64_t) * P);
            for (int o = 0; o < O; o++) {
                const float tau = -L->b[o] / L->a[o];
                const int32_t *d = L->dot + (size_t)o * P;
                for (int p = 0; p < P; p++) L->bits[p] |= (uint64_t)((float)d[p] >= tau) << (o % 64);
            }
        } else { /* the vector GEMM writes the affine's floats itself */
            df_bin_conv_float_next(xn, n + 1 < L->N ? xn + (size_t)g->C * g->H * g->W : NULL, g, L->wp, L->cls, L->tab,
                                   L->ncls, L->a, L->b, O, isa, L->xp, L->col, L->y + (size_t)n * O * P);
        }
    }
    return nn_now() - t0;
}

#ifdef DF_BIN_X86
/* The core clock in GHz, from a chain of dependent 64-bit imuls (3 cycles
 * each on the Intel and AMD cores we draw; the VMs show no cycle counter,
 * and /proc/cpuinfo's MHz is the base clock): the best of 5 runs of 3 M. */
__attribute__((noinline)) static double clock_ghz(void)
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t v = 3;
        const double t0 = nn_now();
        for (int i = 0; i < 250000; i++)
            __asm__ volatile("imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
                             "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
                             "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0"
                             : "+r"(v));
        const double t = nn_now() - t0;
        best = t < best ? t : best;
    }
    return 3.0 * 3e6 / best / 1e9;
}

/* Cycles per xor + vpopcntq + add of 8 words (one 512-bit vector each),
 * 8 independent sums in registers, at the clock above: the rate no GEMM
 * doing those three per vector of column words can beat. */
__attribute__((target("avx512f,avx512vpopcntdq"), noinline)) static double vpopcnt_cycles(double ghz)
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        __m512i a0 = _mm512_set1_epi64(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        const __m512i x = _mm512_set1_epi64(0x123456789abcdefll), w = _mm512_set1_epi64(0x0f0f0f0f0f0f0f0fll);
        const double t0 = nn_now();
        for (int i = 0; i < 250000; i++) /* asm, so that the compiler keeps every xor in the loop */
            __asm__ volatile("vpxorq %9, %8, %%zmm16\n\tvpopcntq %%zmm16, %%zmm16\n\tvpaddq %%zmm16, %0, %0\n\t"
                             "vpxorq %9, %8, %%zmm17\n\tvpopcntq %%zmm17, %%zmm17\n\tvpaddq %%zmm17, %1, %1\n\t"
                             "vpxorq %9, %8, %%zmm18\n\tvpopcntq %%zmm18, %%zmm18\n\tvpaddq %%zmm18, %2, %2\n\t"
                             "vpxorq %9, %8, %%zmm19\n\tvpopcntq %%zmm19, %%zmm19\n\tvpaddq %%zmm19, %3, %3\n\t"
                             "vpxorq %9, %8, %%zmm20\n\tvpopcntq %%zmm20, %%zmm20\n\tvpaddq %%zmm20, %4, %4\n\t"
                             "vpxorq %9, %8, %%zmm21\n\tvpopcntq %%zmm21, %%zmm21\n\tvpaddq %%zmm21, %5, %5\n\t"
                             "vpxorq %9, %8, %%zmm22\n\tvpopcntq %%zmm22, %%zmm22\n\tvpaddq %%zmm22, %6, %6\n\t"
                             "vpxorq %9, %8, %%zmm23\n\tvpopcntq %%zmm23, %%zmm23\n\tvpaddq %%zmm23, %7, %7"
                             : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7)
                             : "v"(x), "v"(w)
                             : "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23");
        const double t = nn_now() - t0;
        volatile long long sink = _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)),
                                                                           _mm512_add_epi64(_mm512_add_epi64(a4, a5), _mm512_add_epi64(a6, a7))));
        (void)sink;
        best = t < best ? t : best;
    }
    return best * ghz * 1e9 / (8.0 * 250000);
}
#endif

#ifdef DF_BIN_X86
/* Where the VPOPCNTDQ layer's time goes: df_bin_conv_float's three steps
 * timed one by one over the batch (best of 5 each): sign + pack of the
 * float input, im2col of the bits, the popcount GEMM with its float
 * epilogue. */
static void vpopcnt_steps(const layer *L, const float *x)
{
    const df_bin_geom *g = L->g;
    double best[3] = {1e30, 1e30, 1e30};
    for (int rep = 0; rep < 5; rep++) {
        double t[3] = {0, 0, 0};
        const size_t chw = (size_t)g->C * g->H * g->W;
        int32_t tap[DF_BIN_MAXTAP];
        const int direct = df_bin_direct(g); /* as df_bin_conv_float_next: no im2col then */
        if (direct) df_bin_taps(g, tap);
        for (int n = 0; n < L->N; n++) {
            double t0 = nn_now();
            df_bin_pack_any(x + (size_t)n * chw, g, 0, L->xp);
            t[0] += nn_now() - t0;
            for (int oh0 = 0, blk = 0; oh0 < g->OH; oh0 += g->rb, blk++) {
                const int nr = g->OH - oh0 < g->rb ? g->OH - oh0 : g->rb, at = oh0 * g->OW;
                const char *pf; /* the next image's, as df_bin_conv_float_next */
                const size_t np = df_bin_pf_part(g, n + 1 < L->N ? x + (size_t)(n + 1) * chw : NULL, blk, &pf);
                t0 = nn_now();
                if (!direct) df_bin_im2col_any(L->xp, g, oh0, nr, 0, L->col);
                const double t1 = nn_now();
                const df_bin_src src = {L->col, g->Bp, L->xp, direct ? tap : NULL, g->OW, g->Wp, oh0};
                df_bin_gemm_vpopcnt_f(&src, g->Kw, L->wp, L->O, nr * g->OW, g->P, g->k * g->k * g->C, L->cls + at, L->tab,
                                      L->ncls, L->a, L->b, g->stream, pf, np,
                                      L->y + (size_t)n * L->O * g->P + at);
                t[1] += t1 - t0, t[2] += nn_now() - t1;
            }
        }
        for (int i = 0; i < 3; i++) best[i] = t[i] < best[i] ? t[i] : best[i];
    }
    printf("  vpopcnt steps: sign + pack %.2f ms, im2col %.2f ms%s, popcount GEMM + float epilogue %.2f ms\n", 1e3 * best[0],
           1e3 * best[1], df_bin_direct(g) ? " (none: the GEMM reads the packed planes in place)" : "", 1e3 * best[2]);
}
#endif

#ifdef DF_BIN_X86
/* As many popcnt instructions as the GEMM's (one per output and column
 * word), each of a word loaded from col, summed per output: no xor, no
 * weights, 6 pixels of one channel at a time. The floor under any scalar
 * GEMM that counts every xor'ed word with popcnt. */
static inline __attribute__((always_inline)) int popcnt_floor_kw(const uint64_t *col, int Bp, int Kw, int O, int np,
                                                                  int32_t *y)
{
    int sum = 0;
    for (int o = 0; o < O; o++) {
        int p = 0;
        for (; p + 6 <= np; p += 6) {
            int a[6] = {0, 0, 0, 0, 0, 0};
            for (int kq = 0; kq < Kw; kq++)
                for (int i = 0; i < 6; i++) a[i] += __builtin_popcountll(col[(size_t)kq * Bp + p + i]);
            for (int i = 0; i < 6; i++) y[p + i] = a[i];
        }
        for (; p < np; p++)
            for (int kq = 0; kq < Kw; kq++) sum += __builtin_popcountll(col[(size_t)kq * Bp + p]);
    }
    return sum;
}

/* with the word count a literal where df_bin_gemm_kw has it one */
__attribute__((target("popcnt"), noinline)) static int popcnt_floor(const uint64_t *col, int Bp, int Kw, int O, int np,
                                                                    int32_t *y)
{
    switch (Kw) {
    case 1: return popcnt_floor_kw(col, Bp, 1, O, np, y);
    case 3: return popcnt_floor_kw(col, Bp, 3, O, np, y);
    case 5: return popcnt_floor_kw(col, Bp, 5, O, np, y);
    case 9: return popcnt_floor_kw(col, Bp, 9, O, np, y);
    default: return popcnt_floor_kw(col, Bp, Kw, O, np, y);
    }
}
#endif

/* The portable path's steps, as df_bin_conv_scalar runs them (best of 5
 * each): scalar sign + pack, scalar im2col, the popcount GEMM with its
 * float epilogue, and the GEMM again writing only its integer sums, the
 * part no epilogue or pack work can take off (float_ms / that is this
 * path's ceiling against the float conv); and, on x86, popcnt_floor over
 * the same columns. */
static void portable_steps(const layer *L, const float *x, double float_s)
{
    const df_bin_geom *g = L->g;
    const size_t chw = (size_t)g->C * g->H * g->W;
    double best[5] = {1e30, 1e30, 1e30, 1e30, 1e30};
    volatile int sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t[5] = {0, 0, 0, 0, 0};
        for (int n = 0; n < L->N; n++) {
            double t0 = nn_now();
            df_bin_pack_any(x + (size_t)n * chw, g, 1, L->xp);
            t[0] += nn_now() - t0;
            for (int oh0 = 0; oh0 < g->OH; oh0 += g->rb) {
                const int nr = g->OH - oh0 < g->rb ? g->OH - oh0 : g->rb, np = nr * g->OW;
                const size_t at = (size_t)oh0 * g->OW;
                const df_bin_out of = {NULL, L->cls + at, L->tab, L->ncls, L->a, L->b, L->y + (size_t)n * L->O * g->P + at};
                const df_bin_out oi = {L->dot + at, NULL, NULL, 0, NULL, NULL, NULL};
                t0 = nn_now();
                df_bin_im2col_any(L->xp, g, oh0, nr, 1, L->col);
                const double t1 = nn_now();
                for (int pass = 0; pass < 2; pass++) {
                    const double t2 = nn_now();
                    df_bin_gemm_scalar(L->col, g, L->wp, L->O, np, pass ? &oi : &of);
                    t[2 + pass] += nn_now() - t2;
                }
                t[1] += t1 - t0;
#ifdef DF_BIN_X86
                const double t3 = nn_now();
                sink += popcnt_floor(L->col, g->Bp, g->Kw, L->O, np, L->dot);
                t[4] += nn_now() - t3;
#endif
            }
        }
        for (int i = 0; i < 5; i++) best[i] = t[i] < best[i] ? t[i] : best[i];
    }
    printf("  portable steps: sign + pack %.2f ms, im2col %.2f ms, popcount GEMM + float epilogue %.2f ms "
           "(integer sums alone %.2f ms: at most %.2fx the float conv on this path",
           1e3 * best[0], 1e3 * best[1], 1e3 * best[2], 1e3 * best[3], float_s / best[3]);
#ifdef DF_BIN_X86
    printf("; as many popcnts of loaded words alone %.2f ms: %.2fx", 1e3 * best[4], float_s / best[4]);
#endif
    printf(")\n");
    (void)sink;
}

/* 64-byte aligned buffers, as the runtime's arena (nn/core.c) gives every
 * tensor: malloc's 16-byte alignment splits every vector store across two
 * cache lines */
static void *amalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) {
        fprintf(stderr, "bench_binary: out of memory\n");
        exit(1);
    }
    return p;
}

/* one shape: prints a line and returns the vector path's ratio */
static void bench_shape(nn_ctx *c, int Cc, int H, int W, int N, int first)
{
    const int O = Cc, reps = 5;
    nn_rng r;
    nn_rng_seed(&r, 1);
    df_bin_geom g = df_bin_geometry(Cc, H, W, K, 1, 1, 1);
    const size_t nx = (size_t)N * Cc * H * W, nw = (size_t)O * Cc * K * K;
    g.stream = df_bin_stream_worth(sizeof(float) * nx, sizeof(float) * (size_t)N * O * g.P, nn_llc_bytes()); /* as nn/graph.c */
    float *xs = amalloc(sizeof(float) * nx), *ws = malloc(sizeof(float) * nw), *a = malloc(sizeof(float) * O),
          *b = malloc(sizeof(float) * O);
    for (size_t i = 0; i < nx; i++) xs[i] = nn_rng_normal(&r);
    for (size_t i = 0; i < nw; i++) ws[i] = nn_rng_normal(&r);
    for (int o = 0; o < O; o++) a[o] = 0.01f + 0.001f * o, b[o] = 0.1f * (o % 5) - 0.2f;
    layer L = {.g = &g, .O = O, .N = N, .a = a, .b = b};
    uint64_t *wp = malloc(sizeof(uint64_t) * df_bin_wp_words(&g, O));
    L.ncls = df_bin_classes(&g, NULL);
    int32_t *cps = malloc(sizeof(int32_t) * df_bin_cps_ints(&g, O)), *cls = malloc(sizeof(int32_t) * g.P),
            *tab = malloc(sizeof(int32_t) * O * L.ncls);
    df_bin_pack_weights(ws, O, &g, wp, cps);
    df_bin_classes(&g, cls);
    df_bin_class_table(cps, O, &g, L.ncls, tab);
    L.wp = wp, L.cls = cls, L.tab = tab;
    L.xp = amalloc(df_bin_xp_bytes(&g));
    L.col = amalloc(sizeof(uint64_t) * df_bin_col_words(&g));
    L.bits = amalloc(sizeof(uint64_t) * g.P);
    L.dot = amalloc(sizeof(int32_t) * (size_t)O * g.P);
    L.y = amalloc(sizeof(float) * (size_t)N * O * g.P);
    double tf = 1e30, tv = 1e30, tp = 1e30, tvt = 1e30, t2 = 1e30;
    const int vp = df_bin_have_vpopcnt(), a2 = df_bin_have_avx2();
    for (int rep = 0; rep < reps; rep++) {
        nn_ctx_reset(c);
        nn_tensor *xx = nn_new4(c, N, Cc, H, W), *ww = nn_new4(c, O, Cc, K, K);
        memcpy(xx->data, xs, nx * sizeof(float));
        memcpy(ww->data, ws, nw * sizeof(float));
        double t0 = nn_now();
        nn_conv2d(c, xx, ww, NULL, (nn_conv_attr){.stride = 1, .pad = 1, .dilation = 1, .groups = 1});
        const double t = nn_now() - t0;
        tf = t < tf ? t : tf;
        double u = bin_layer(&L, xs, DF_BIN_ISA_BEST, 0);
        tv = u < tv ? u : tv;
        u = bin_layer(&L, xs, DF_BIN_ISA_BEST, 1);
        tvt = u < tvt ? u : tvt;
        if (a2) {
            u = bin_layer(&L, xs, DF_BIN_ISA_AVX2, 0);
            t2 = u < t2 ? u : t2;
        }
        u = bin_layer(&L, xs, DF_BIN_ISA_SCALAR, 0);
        tp = u < tp ? u : tp;
    }
    const double bmacs = (double)N * O * g.P * Cc * K * K;
    printf("%s%d -> %d, %dx%d: float %.2f ms; vpopcnt %.2f ms (%.2fx, %.0f Gbit-MAC/s), threshold %.2f ms (%.2fx); "
           "avx2 %.2f ms (%.2fx); portable %.2f ms (%.2fx)\n",
           first ? "" : "  ", Cc, O, H, W, 1e3 * tf, vp ? 1e3 * tv : 0.0, vp ? tf / tv : 0.0, vp ? bmacs / tv / 1e9 : 0.0,
           vp ? 1e3 * tvt : 0.0, vp ? tf / tvt : 0.0, a2 ? 1e3 * t2 : 0.0, a2 ? tf / t2 : 0.0, 1e3 * tp, tf / tp);
#ifdef DF_BIN_X86
    if (vp) vpopcnt_steps(&L, xs);
    if (vp && first) { /* what the ports allow this shape's GEMM: one xor + vpopcntq + add per 8 column words */
        const double ghz = clock_ghz(), cyc = vpopcnt_cycles(ghz), vecs = (double)N * O * g.P * g.Kw / 8.0;
        printf("  clock %.2f GHz (a chain of dependent imuls), xor + vpopcntq + add %.2f cycles per 8 words: "
               "the GEMM's port bound %.2f ms without its epilogue\n", ghz, cyc, 1e3 * vecs * cyc / (ghz * 1e9));
    }
#endif
    portable_steps(&L, xs, tf);
    if (first)
        printf("{\"float_ms\":%.3f,\"vpopcnt_ms\":%.3f,\"vpopcnt_threshold_ms\":%.3f,\"avx2_ms\":%.3f,\"portable_ms\":%.3f,"
               "\"ratio_vpopcnt\":%.2f,\"ratio_avx2\":%.2f,\"ratio_portable\":%.2f}\n",
               1e3 * tf, vp ? 1e3 * tv : 0.0, vp ? 1e3 * tvt : 0.0, a2 ? 1e3 * t2 : 0.0, 1e3 * tp, vp ? tf / tv : 0.0,
               a2 ? tf / t2 : 0.0, tf / tp);
    free(xs), free(ws), free(a), free(b), free(wp), free(cps), free(cls), free(tab), free(L.xp), free(L.col), free(L.bits), free(L.dot), free(L.y);
}

/* `chain`: what df_bin_stream_worth's rule rests on. Three 64x32x32
 * layers chained (each reads the previous one's output) at batches 4-96,
 * with the output streamed and plain, the vector path as nn/graph.c runs
 * it (the next image prefetched); best of 5 each. */
static void bench_chain(void)
{
    enum { C = 64, H = 32 };
    nn_rng r;
    nn_rng_seed(&r, 3);
    df_bin_geom g = df_bin_geometry(C, H, H, K, 1, 1, 1);
    float *w = malloc(sizeof(float) * C * C * K * K), a[C];
    for (int i = 0; i < C * C * K * K; i++) w[i] = nn_rng_normal(&r);
    for (int o = 0; o < C; o++) a[o] = 0.01f + 0.001f * o;
    uint64_t *wp = malloc(sizeof(uint64_t) * df_bin_wp_words(&g, C));
    const int ncls = df_bin_classes(&g, NULL);
    int32_t *cps = malloc(sizeof(int32_t) * df_bin_cps_ints(&g, C)), *cls = malloc(sizeof(int32_t) * g.P),
            *tab = malloc(sizeof(int32_t) * C * ncls);
    df_bin_pack_weights(w, C, &g, wp, cps);
    df_bin_classes(&g, cls);
    df_bin_class_table(cps, C, &g, ncls, tab);
    void *xp = amalloc(df_bin_xp_bytes(&g));
    uint64_t *col = amalloc(sizeof(uint64_t) * df_bin_col_words(&g));
    printf("3 chained 64x32x32 layers, last-level cache %zu MiB (the rule streams above half of it):\n", nn_llc_bytes() >> 20);
    static const int batches[] = {4, 8, 16, 24, 32, 40, 48, 64, 96};
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        const int N = batches[bi];
        const size_t per = (size_t)C * g.P, nx = (size_t)N * per;
        float *buf[4];
        for (int k = 0; k < 4; k++) buf[k] = amalloc(sizeof(float) * nx);
        for (size_t i = 0; i < nx; i++) buf[0][i] = nn_rng_normal(&r);
        double best[2] = {1e30, 1e30};
        for (int rep = 0; rep < 5; rep++)
            for (int st = 0; st < 2; st++) {
                g.stream = st;
                const double t0 = nn_now();
                for (int l = 0; l < 3; l++)
                    for (int n = 0; n < N; n++)
                        df_bin_conv_float_next(buf[l] + n * per, n + 1 < N ? buf[l] + (n + 1) * per : NULL, &g, wp, cls, tab, ncls,
                                               a, NULL, C, DF_BIN_ISA_BEST, xp, col, buf[l + 1] + n * per);
                const double t = nn_now() - t0;
                best[st] = t < best[st] ? t : best[st];
            }
        printf("  batch %2d, input + output %5.1f MiB: plain %.3f ms, streamed %.3f ms (%.2fx)%s\n", N,
               2.0 * sizeof(float) * nx / (1 << 20), 1e3 * best[0], 1e3 * best[1], best[0] / best[1],
               df_bin_stream_worth(sizeof(float) * nx, sizeof(float) * nx, nn_llc_bytes()) ? "  <- streamed" : "");
        for (int k = 0; k < 4; k++) free(buf[k]);
    }
    free(w), free(wp), free(cps), free(cls), free(tab), free(xp), free(col);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "chain")) {
        bench_chain();
        return 0;
    }
    if ((argc > 1 && atoi(argv[1]) < 1) || (argc > 2 && atoi(argv[2]) < 1)) {
        fprintf(stderr, "usage: bench_binary [THREADS [BATCH]] | bench_binary chain\n");
        return 2;
    }
    const int threads = argc > 1 ? atoi(argv[1]) : 1, N = argc > 2 ? atoi(argv[2]) : 64;
    nn_ctx c;
    nn_ctx_init(&c, threads, 512u << 20);
    c.grad_enabled = 0;
    char cpu[128];
    nn_cpu_desc(cpu, sizeof cpu);
    printf("%s\n3x3 convs, batch %d; float conv %d thread(s), binary 1 thread; best of 5; AVX-512 VPOPCNTDQ %s\n", cpu, N,
           nn_threads(&c), df_bin_have_vpopcnt() ? "present" : "absent (vector columns 0)");
    bench_shape(&c, 64, 32, 32, N, 1);
    printf("binary ResNet-20 stage shapes (28x28 input):\n");
    bench_shape(&c, 16, 28, 28, N, 0);
    bench_shape(&c, 32, 14, 14, N, 0);
    bench_shape(&c, 64, 7, 7, N, 0);
    nn_ctx_free(&c);
    return 0;
}
