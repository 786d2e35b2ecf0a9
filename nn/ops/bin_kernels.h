/* Bit-packed binary convolution (XNOR-popcount), plain C99 plus AVX-512
 * VPOPCNTDQ and AVX2 paths chosen at run time (GCC/Clang target attributes
 * and __builtin_cpu_supports; SSE2, which every x86-64 CPU has, in the
 * scalar packer), header-only so the C exporter can embed it.
 *
 * A binary conv is a GEMM of bits. Each output pixel p gets a column of
 * Kw 64-bit words holding its k*k taps, S bits per tap: bit t*S + c is 1
 * where the input sign of channel c at tap t is +1 (not x < 0, the sign
 * op's convention: 0, -0 and NaN are +1). S is 16 or 32 for C <= 16 or
 * 32 channels, else C rounded up to 64, so a tap never straddles a word
 * and few bits are wasted: a 16-channel 3x3 conv needs 3 words per pixel,
 * not 9. Weights sign(w) pack the same way, one row of Kw words per output
 * channel. Then
 *
 *   y[o][p] = k*k*C - 2 popcount(col[p] ^ row[o])
 *
 * (unused bits are 0 on both sides and never mismatch). Three steps per
 * image: df_bin_pack (signs into zero-bordered planes, S bits per pixel),
 * df_bin_im2col (the columns, [Kw][P] so 8 pixels are one vector), and the
 * popcount GEMM; stride and dilation live only in the im2col.
 *
 * Padding: a tap outside the image reads the zero border, i.e. -1 in every
 * channel, and adds C - 2 popcount(w_tap) where the float conv adds 0. The
 * output pixels fall into a few border classes (which taps they lose: the
 * corners, edges and the interior); per channel and class that sum is one
 * table entry (from 2-D prefix sums over the taps), subtracted where the
 * integers become the layer's floats: in the vector GEMM's epilogue as a
 * permute of the channel's table by the lanes' classes. */
#ifndef DF_BIN_KERNELS_H
#define DF_BIN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DF_BIN_X86 1
#endif

typedef struct df_bin_geom {
    int C, H, W, k, stride, pad, dil, OH, OW;
    int P;      /* output pixels */
    int rb, Bp; /* output rows per block, and its pixels rounded up to 16 (columns per block) */
    int S;      /* bits per tap: 16, 32 or a multiple of 64 */
    int es, nq; /* bytes per packed chunk (2, 4, 8), chunk planes (S / 64 for S >= 64) */
    int Kw;     /* 64-bit words per column: ceil(k * k * S / 64) */
    int Hp, Wp; /* the bordered planes */
    /* 1: the vector path writes its float output with non-temporal stores.
     * 0 from df_bin_geometry; a caller sets it when the layer's input and
     * output over the whole batch crowd the last-level cache
     * (df_bin_stream_worth): the output is evicted before the next layer
     * reads it anyway, and streaming skips the read for ownership of every
     * line. Only 64-byte aligned full vectors stream. */
    int stream;
} df_bin_geom;

static inline df_bin_geom df_bin_geometry(int C, int H, int W, int k, int stride, int pad, int dil)
{
    df_bin_geom g;
    g.C = C, g.H = H, g.W = W, g.k = k, g.stride = stride, g.pad = pad, g.dil = dil;
    g.OH = (H + 2 * pad - dil * (k - 1) - 1) / stride + 1;
    g.OW = (W + 2 * pad - dil * (k - 1) - 1) / stride + 1;
    g.P = g.OH * g.OW;
    g.S = C <= 16 ? 16 : C <= 32 ? 32 : 64 * ((C + 63) / 64);
    g.es = g.S >= 64 ? 8 : g.S / 8, g.nq = g.S >= 64 ? g.S / 64 : 1;
    g.Kw = (k * k * g.S + 63) / 64;
    /* blocks of rows whose columns fill about 32 KB (L1): long runs of
     * output per channel, which the store prefetchers need when the output
     * goes to memory (64-pixel blocks were 1.7x slower on 64x32x32) */
    const int bpix = 4096 / g.Kw > 64 ? 4096 / g.Kw : 64;
    g.rb = g.OW >= bpix ? 1 : bpix / g.OW;
    if (g.rb > g.OH) g.rb = g.OH;
    g.Bp = (g.rb * g.OW + 15) & ~15;
    g.Hp = H + 2 * pad, g.Wp = W + 2 * pad;
    g.stream = 0;
    return g;
}

/* 1: a layer that reads in_bytes and writes out_bytes over the batch is
 * worth streaming (df_bin_geom.stream): together they are over half the
 * last-level cache of llc_bytes. `bench_binary chain` measures it (3
 * chained 64x32x32 layers, the next image prefetched): with a 32 MiB LLC,
 * plain / streamed 0.96-1.00x at 2 MiB in + out, 1.01-1.08x at 4-8 MiB,
 * 1.07-1.15x from 12 MiB on. Below half the LLC the gain is small and was
 * measured between binary convs only (a float op after one reads without
 * the prefetch); a whole Bi-Real ResNet-20 at batch 128 (12.8 MiB a layer)
 * showed no difference either way. */
static inline int df_bin_stream_worth(size_t in_bytes, size_t out_bytes, size_t llc_bytes)
{
    return in_bytes + out_bytes > llc_bytes / 2;
}
/* scratch sizes, in bytes for the planes and in words or ints otherwise */
static inline size_t df_bin_xp_bytes(const df_bin_geom *g) { return (size_t)g->nq * g->Hp * g->Wp * g->es; }
static inline size_t df_bin_col_words(const df_bin_geom *g) { return (size_t)g->Kw * g->Bp; }
static inline size_t df_bin_wp_words(const df_bin_geom *g, int O) { return (size_t)O * g->Kw; }
static inline size_t df_bin_cps_ints(const df_bin_geom *g, int O) { return (size_t)O * (g->k + 1) * (g->k + 1); }
/* 1: the vector GEMM reads this geometry's packed planes in place, with
 * no im2col (df_bin_src): stride 1, whole 64-bit chunks (S >= 64), output
 * rows of whole 8-pixel vectors, at most DF_BIN_MAXTAP words per column. */
#define DF_BIN_MAXTAP 64
static inline int df_bin_direct(const df_bin_geom *g)
{
    return g->S >= 64 && g->stride == 1 && g->OW % 8 == 0 && g->Kw <= DF_BIN_MAXTAP;
}
/* tap [Kw]: where word kq of an output pixel's column sits in the planes,
 * relative to the pixel's own position (chunk plane kq % nq of tap kq / nq) */
static inline void df_bin_taps(const df_bin_geom *g, int32_t *tap)
{
    for (int kq = 0; kq < g->Kw; kq++) {
        const int t = kq / g->nq, q = kq % g->nq;
        tap[kq] = q * g->Hp * g->Wp + t / g->k * g->dil * g->Wp + t % g->k * g->dil;
    }
}

/* The share of the next image's float input (next; NULL: none) that the
 * vector paths prefetch during block blk of output rows: its first cache
 * line in *pf (NULL when none) and the count of lines. */
static inline size_t df_bin_pf_part(const df_bin_geom *g, const float *next, int blk, const char **pf)
{
    const size_t lines = ((size_t)g->C * g->H * g->W * sizeof(float) + 63) / 64;
    const size_t blocks = (size_t)((g->OH + g->rb - 1) / g->rb), chunk = (lines + blocks - 1) / blocks;
    const size_t done = (size_t)blk * chunk;
    *pf = next && done < lines ? (const char *)next + done * 64 : NULL;
    return *pf ? (lines - done < chunk ? lines - done : chunk) : 0;
}

static inline int df_bin_have_vpopcnt(void);

/* the chunk of plane q at bordered position i (es bytes, zero-extended) */
static inline uint64_t df_bin_chunk(const void *xp, const df_bin_geom *g, int q, size_t i)
{
    const size_t at = (size_t)q * g->Hp * g->Wp + i;
    return g->es == 2 ? ((const uint16_t *)xp)[at] : g->es == 4 ? ((const uint32_t *)xp)[at] : ((const uint64_t *)xp)[at];
}

#ifdef DF_BIN_X86
/* bit c of a 32-bit lane, loaded as a broadcast (a load, where a broadcast
 * from a register would take the shuffle port the compares need) */
static const uint32_t df_bin_bit32[32] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,  1u << 8,  1u << 9,  1u << 10,
    1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15, 1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21,
    1u << 22, 1u << 23, 1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

/* The vector packer. Chunk i: pixels [16 i, 16 i + 16) of the image
 * taken as one run (NCHW rows are contiguous), every channel's compare
 * mask or'ed as its bit into 16 32-bit lanes, channels 0-31 of a plane in
 * lo and 32-63 in hi, the two interleaved into 64-bit chunks once per 16
 * pixels: two vector ops per channel and 16 pixels, where or'ing each
 * channel into the bordered planes (8 channels at a time, for 64-channel
 * planes the masks split in two) took five, three of them on the
 * compare's port (bench_binary 1 64 on a Xeon, 64x32x32, against
 * 7d0d258: sign + pack 0.51-0.52 -> 0.35-0.39 ms). The 16 chunks go to their bordered places by
 * one masked store per row they touch, each store's address set back by
 * the lanes before it (masked-off lanes touch no memory). Writing them
 * unbordered and moving the rows after was as fast on 32x32 and slower in
 * whole 28x28 networks (a memmove call per row). Packing the next image
 * between the GEMM's tiles instead, from a cold input, was slower (tried
 * outside the repository). */
static inline int df_bin_pack_chunks(const df_bin_geom *g) { return (g->H * g->W + 15) / 16; }

__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void
df_bin_pack_chunk_avx512(const float *x, const df_bin_geom *g, void *xp, int i, int h, int w)
{
    const int W = g->W, HW = g->H * W, es = g->es, p = 16 * i, n = HW - p < 16 ? HW - p : 16;
    const size_t pl = (size_t)g->Hp * g->Wp;
    const __mmask16 m = (__mmask16)(n == 16 ? 0xffff : (1u << n) - 1);
    const __m512i i0 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i i1 = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int q = 0; q < g->nq; q++) {
        const int c0 = q * 64, c1 = g->C < c0 + 32 ? g->C : c0 + 32, c2 = g->C < c0 + 64 ? g->C : c0 + 64;
        const float *s = x + (size_t)c0 * HW + p;
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        for (int c = c0; c < c1; c++, s += HW) {
            const __mmask16 ge = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, s), _mm512_setzero_ps(), _CMP_NLT_UQ);
            lo = _mm512_mask_or_epi32(lo, ge, lo, _mm512_set1_epi32((int)df_bin_bit32[c - c0]));
        }
        for (int c = c1; c < c2; c++, s += HW) {
            const __mmask16 ge = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, s), _mm512_setzero_ps(), _CMP_NLT_UQ);
            hi = _mm512_mask_or_epi32(hi, ge, hi, _mm512_set1_epi32((int)df_bin_bit32[c - c1]));
        }
        const __m512i w0 = _mm512_permutex2var_epi32(lo, i0, hi), w1 = _mm512_permutex2var_epi32(lo, i1, hi);
        int hh = h, ww = w;
        for (int k = 0; k < n;) { /* lanes [k, k + seg) to row hh from column ww */
            const int seg = W - ww < n - k ? W - ww : n - k;
            const __mmask16 sm = (__mmask16)(((1u << seg) - 1) << k);
            const size_t at = (size_t)q * pl + (size_t)(hh + g->pad) * g->Wp + g->pad + ww - k; /* lane 0's place */
            if (es == 8) {
                uint64_t *o = (uint64_t *)xp + at;
                _mm512_mask_storeu_epi64(o, (__mmask8)(sm & 0xff), w0);
                _mm512_mask_storeu_epi64(o + 8, (__mmask8)(sm >> 8), w1);
            } else if (es == 4) {
                _mm512_mask_storeu_epi32((uint32_t *)xp + at, sm, lo);
            } else {
                _mm256_mask_storeu_epi16((uint16_t *)xp + at, sm, _mm512_cvtepi32_epi16(lo));
            }
            k += seg, hh++, ww = 0;
        }
    }
}

/* the border cells of the planes zeroed: the packer writes every other
 * cell, so the planes need no clearing before */
static inline void df_bin_pack_border(const df_bin_geom *g, void *xp)
{
    const int pad = g->pad, Wp = g->Wp, Hp = g->Hp, es = g->es;
    if (!pad) return;
    for (int q = 0; q < g->nq; q++) {
        char *d = (char *)xp + (size_t)q * Hp * Wp * es;
        memset(d, 0, (size_t)pad * Wp * es);
        memset(d + (size_t)(Hp - pad) * Wp * es, 0, (size_t)pad * Wp * es);
        for (int r = pad; r < Hp - pad; r++) /* a pad's cells: a few bytes each, no memset call */
            for (int j = 0; j < pad * es; j++) d[(size_t)r * Wp * es + j] = d[((size_t)r * Wp + Wp - pad) * es + j] = 0;
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void df_bin_pack_avx512(const float *x, const df_bin_geom *g, void *xp)
{
    df_bin_pack_border(g, xp);
    for (int i = 0, h = 0, w = 0; i < df_bin_pack_chunks(g); i++) { /* (h, w): pixel 16 i's row and column */
        df_bin_pack_chunk_avx512(x, g, xp, i, h, w);
        for (w += 16; w >= g->W; w -= g->W) h++;
    }
}
#endif

/* 1 where the sign op gives +1: not v < 0, so 0, -0 and NaN are +1 (as
 * nn_sign, nn_sign_weight and the exported f_sign); every packer's bit */
static inline int df_bin_pos(float v) { return !(v < 0.0f); }

/* a [64] transposed as a 64 x 64 bit matrix: bit i of a[c] becomes bit c
 * of a[i]. Six rounds swap ever smaller blocks (Hacker's Delight); each
 * round's loops have literal bounds, so they unroll and vectorize (the
 * book's single loop nest ran at one operation per cycle). */
static inline __attribute__((always_inline)) void df_bin_t64_round(uint64_t a[64], int j, uint64_t m)
{
    for (int b = 0; b < 64; b += 2 * j)
        for (int k = b; k < b + j; k++) {
            const uint64_t t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k + j] ^= t, a[k] ^= t << j;
        }
}
static inline void df_bin_transpose64(uint64_t a[64])
{
    df_bin_t64_round(a, 32, 0x00000000FFFFFFFFull);
    df_bin_t64_round(a, 16, 0x0000FFFF0000FFFFull);
    df_bin_t64_round(a, 8, 0x00FF00FF00FF00FFull);
    df_bin_t64_round(a, 4, 0x0F0F0F0F0F0F0F0Full);
    df_bin_t64_round(a, 2, 0x3333333333333333ull);
    df_bin_t64_round(a, 1, 0x5555555555555555ull);
}

/* bit w (w < n <= 64): df_bin_pos(r[w]); on x86 by SSE2 (every
 * x86-64 CPU has it): 16 at a time, four compares' masks packed to bytes
 * for one pmovmskb, then 4 at a time by movmskps */
static inline uint64_t df_bin_signs64(const float *r, int n)
{
    uint64_t m = 0;
    int w = 0;
#ifdef DF_BIN_X86
    const __m128 z = _mm_setzero_ps();
    for (; w + 16 <= n; w += 16) {
        const __m128i a = _mm_castps_si128(_mm_cmpnlt_ps(_mm_loadu_ps(r + w), z));
        const __m128i b = _mm_castps_si128(_mm_cmpnlt_ps(_mm_loadu_ps(r + w + 4), z));
        const __m128i c = _mm_castps_si128(_mm_cmpnlt_ps(_mm_loadu_ps(r + w + 8), z));
        const __m128i d = _mm_castps_si128(_mm_cmpnlt_ps(_mm_loadu_ps(r + w + 12), z));
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d))) << w;
    }
    for (; w + 4 <= n; w += 4) m |= (uint64_t)_mm_movemask_ps(_mm_cmpnlt_ps(_mm_loadu_ps(r + w), z)) << w;
#endif
    for (; w < n; w++) m |= (uint64_t)df_bin_pos(r[w]) << w;
    return m;
}

/* The scalar packer for 64-bit chunks (more than 32 channels): the signs
 * of 64 pixels in a row of the image (a strip; rows run on into the
 * next) of each of a plane's 64 channels as one word, channel after
 * channel, each reading a group of strips in one run; then per strip the
 * 64 x 64 bits transposed into the strip's chunks. Against or'ing each
 * sign into its chunk in memory, bench_binary's portable sign + pack
 * (Zen 4): 64x32x32 1.03-1.12 -> 0.69-1.01 ms, 64x7x7 0.10 -> 0.03 ms.
 * 16 strips: 8 KiB of stack. */
#define DF_BIN_PACK_STRIPS 16
static inline void df_bin_pack64(const float *x, const df_bin_geom *g, void *xp)
{
    const int HW = g->H * g->W, ns = (HW + 63) / 64;
    uint64_t s[DF_BIN_PACK_STRIPS][64];
    for (int q = 0; q < g->nq; q++)
        for (int s0 = 0; s0 < ns; s0 += DF_BIN_PACK_STRIPS) {
            const int s1 = ns - s0 < DF_BIN_PACK_STRIPS ? ns : s0 + DF_BIN_PACK_STRIPS;
            for (int c = 0; c < 64; c++) {
                const int cc = q * 64 + c;
                const float *r = x + (size_t)cc * HW;
                for (int i = s0; i < s1; i++)
                    s[i - s0][c] = cc < g->C ? df_bin_signs64(r + (size_t)i * 64, HW - i * 64 < 64 ? HW - i * 64 : 64) : 0;
            }
            uint64_t *d = (uint64_t *)xp + (size_t)q * g->Hp * g->Wp;
            int h = s0 * 64 / g->W, w = s0 * 64 % g->W;
            for (int i = s0; i < s1; i++) {
                df_bin_transpose64(s[i - s0]);
                const int n = HW - i * 64 < 64 ? HW - i * 64 : 64;
                for (int j = 0; j < n; j++) {
                    d[(size_t)(h + g->pad) * g->Wp + g->pad + w] = s[i - s0][j];
                    if (++w == g->W) w = 0, h++;
                }
            }
        }
}

/* Signs of x [C][H][W] into the bordered chunk planes (df_bin_xp_bytes);
 * scalar: 1 forces the plain loops (tests). */
static inline void df_bin_pack_any(const float *x, const df_bin_geom *g, int scalar, void *xp)
{
#ifdef DF_BIN_X86
    if (!scalar && df_bin_have_vpopcnt()) {
        df_bin_pack_avx512(x, g, xp);
        return;
    }
#endif
    memset(xp, 0, df_bin_xp_bytes(g));
    (void)scalar;
    if (g->es == 8) {
        df_bin_pack64(x, g, xp);
        return;
    }
    for (int c = 0; c < g->C; c++) { /* branch-free: the signs are coin flips to a predictor */
        const int b = c % 64;
        for (int h = 0; h < g->H; h++) {
            const float *r = x + ((size_t)c * g->H + h) * g->W;
            const size_t at = (size_t)(c / 64) * g->Hp * g->Wp + (size_t)(h + g->pad) * g->Wp + g->pad;
            if (g->es == 2) {
                uint16_t *d = (uint16_t *)xp + at;
                for (int w = 0; w < g->W; w++) d[w] |= (uint16_t)((unsigned)df_bin_pos(r[w]) << b);
            } else if (g->es == 4) {
                uint32_t *d = (uint32_t *)xp + at;
                for (int w = 0; w < g->W; w++) d[w] |= (uint32_t)df_bin_pos(r[w]) << b;
            } else {
                uint64_t *d = (uint64_t *)xp + at;
                for (int w = 0; w < g->W; w++) d[w] |= (uint64_t)df_bin_pos(r[w]) << b;
            }
        }
    }
}
static inline void df_bin_pack(const float *x, const df_bin_geom *g, void *xp) { df_bin_pack_any(x, g, 0, xp); }

/* Word kq of the columns of output row oh: the taps whose bits it holds
 * (taps kq * 64 / S ... for S < 64, or chunk plane kq % nq of tap kq / nq). */
static inline void df_bin_im2col_row(const void *xp, const df_bin_geom *g, int kq, int oh, uint64_t *dst)
{
    const int k = g->k, st = g->stride, OW = g->OW, per = g->S < 64 ? 64 / g->S : 1;
    for (int ow = 0; ow < OW; ow++) dst[ow] = 0;
    for (int j = 0; j < per; j++) {
        const int t = g->S < 64 ? kq * per + j : kq / g->nq, q = g->S < 64 ? 0 : kq % g->nq;
        if (t >= k * k) break;
        const int sh = g->S < 64 ? j * g->S : 0;
        const size_t row = (size_t)(oh * st + t / k * g->dil) * g->Wp + (size_t)(t % k) * g->dil;
        for (int ow = 0; ow < OW; ow++) dst[ow] |= df_bin_chunk(xp, g, q, row + (size_t)ow * st) << sh;
    }
}

#ifdef DF_BIN_X86
/* stride 1: 8 consecutive chunks of a row zero-extended to 8 words per load */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void df_bin_im2col_avx512(const void *xp, const df_bin_geom *g,
                                                                                     int oh0, int nr, uint64_t *col)
{
    const int k = g->k, OW = g->OW, Wp = g->Wp, dil = g->dil, S = g->S, nq = g->nq, es = g->es, Kw = g->Kw, Bp = g->Bp;
    const int per = S < 64 ? 64 / S : 1;
    const size_t pl = (size_t)g->Hp * Wp;
    for (int kq = 0; kq < Kw; kq++) {
        /* the word's taps: where each reads in the planes and its shift, out
         * of the pixel loops (their divisions were a third of the 16-channel
         * 28x28 layer's time) */
        size_t off[4];
        __m128i sh[4];
        int nt = 0;
        for (int j = 0; j < per; j++) {
            const int t = S < 64 ? kq * per + j : kq / nq, q = S < 64 ? 0 : kq % nq;
            if (t >= k * k) break;
            off[nt] = (size_t)q * pl + (size_t)(t / k * dil) * Wp + (size_t)(t % k) * dil;
            sh[nt++] = _mm_cvtsi32_si128(S < 64 ? j * S : 0);
        }
        for (int r = 0; r < nr; r++) {
            uint64_t *dst = col + (size_t)kq * Bp + (size_t)r * OW;
            const size_t row = (size_t)(oh0 + r) * Wp;
            for (int ow = 0; ow < OW; ow += 8) {
                const __mmask8 m = (__mmask8)(OW - ow >= 8 ? 0xff : (1u << (OW - ow)) - 1);
                __m512i acc = _mm512_setzero_si512();
                for (int j = 0; j < nt; j++) {
                    const size_t at = row + off[j] + ow;
                    __m512i v;
                    if (es == 2)
                        v = _mm512_cvtepu16_epi64(_mm_maskz_loadu_epi16(m, (const uint16_t *)xp + at));
                    else if (es == 4)
                        v = _mm512_cvtepu32_epi64(_mm256_maskz_loadu_epi32(m, (const uint32_t *)xp + at));
                    else
                        v = _mm512_maskz_loadu_epi64(m, (const uint64_t *)xp + at);
                    acc = _mm512_or_si512(acc, _mm512_sll_epi64(v, sh[j]));
                }
                _mm512_mask_storeu_epi64(dst + ow, m, acc);
            }
        }
    }
}
#endif

/* The columns of output rows [oh0, oh0 + nr) into col [Kw][Bp]; the
 * columns past the last pixel are zero. */
static inline void df_bin_im2col_any(const void *xp, const df_bin_geom *g, int oh0, int nr, int scalar, uint64_t *col)
{
    for (int kq = 0; kq < g->Kw; kq++)
        for (int p = nr * g->OW; p < g->Bp; p++) col[(size_t)kq * g->Bp + p] = 0;
#ifdef DF_BIN_X86
    if (!scalar && g->stride == 1 && df_bin_have_vpopcnt()) {
        df_bin_im2col_avx512(xp, g, oh0, nr, col);
        return;
    }
#endif
    (void)scalar;
    for (int kq = 0; kq < g->Kw; kq++)
        for (int r = 0; r < nr; r++) df_bin_im2col_row(xp, g, kq, oh0 + r, col + (size_t)kq * g->Bp + (size_t)r * g->OW);
}

/* sign(w) [O][C][k][k] into wp [O][Kw] (bit t*S + c) and cps [O][k+1][k+1],
 * the 2-D prefix sums over taps of corr = C - 2 popcount(w_tap), what a tap
 * in the zero border adds. */
static inline void df_bin_pack_weights(const float *w, int O, const df_bin_geom *g, uint64_t *wp, int32_t *cps)
{
    const int C = g->C, k = g->k, kk = k * k, kp = k + 1;
    memset(wp, 0, df_bin_wp_words(g, O) * sizeof(uint64_t));
    for (int o = 0; o < O; o++) {
        int32_t *cp = cps + (size_t)o * kp * kp;
        for (int i = 0; i < kp * kp; i++) cp[i] = 0;
        for (int t = 0; t < kk; t++) {
            int pos = 0;
            for (int c = 0; c < C; c++)
                if (df_bin_pos(w[((size_t)o * C + c) * kk + t])) {
                    const int bit = t * g->S + c;
                    wp[(size_t)o * g->Kw + bit / 64] |= (uint64_t)1 << (bit % 64);
                    pos++;
                }
            cp[(t / k + 1) * kp + t % k + 1] = C - 2 * pos;
        }
        for (int i = 1; i < kp; i++)
            for (int j = 1; j < kp; j++) cp[i * kp + j] += cp[(i - 1) * kp + j] + cp[i * kp + j - 1] - cp[(i - 1) * kp + j - 1];
    }
}

/* the taps [lo, hi] of one axis that land inside [0, n) for output index i */
static inline void df_bin_valid(int i, int st, int pad, int dil, int k, int n, int *lo, int *hi)
{
    const int a = i * st - pad;
    if (dil == 1) /* no division */
        *lo = a >= 0 ? 0 : -a, *hi = n - 1 - a;
    else
        *lo = a >= 0 ? 0 : (-a + dil - 1) / dil, *hi = n - 1 - a < 0 ? -1 : (n - 1 - a) / dil;
    if (*hi > k - 1) *hi = k - 1;
}

/* Border classes: along an axis the valid tap range [lo, hi] only shrinks
 * as the output index grows, so equal ranges form runs (a few at each end,
 * one long interior run). A pixel's class is (row run, column run); every
 * pixel of a class loses the same taps. */
#define DF_BIN_MAXRUN 64
static inline int df_bin_runs(int nout, int st, int pad, int dil, int k, int nin, int *lo, int *hi)
{
    int n = 0, l, h;
    for (int i = 0; i < nout; i++) {
        df_bin_valid(i, st, pad, dil, k, nin, &l, &h);
        if (n && l == lo[n - 1] && h == hi[n - 1]) continue;
        if (n == DF_BIN_MAXRUN) return -1;
        lo[n] = l, hi[n] = h, n++;
    }
    return n;
}

/* The number of classes (-1: over DF_BIN_MAXRUN runs on an axis, never
 * for a sane padding), and with cls [P] each output pixel's class. */
static inline int df_bin_classes(const df_bin_geom *g, int32_t *cls)
{
    int rlo[DF_BIN_MAXRUN], rhi[DF_BIN_MAXRUN], clo[DF_BIN_MAXRUN], chi[DF_BIN_MAXRUN], l, h;
    const int nr = df_bin_runs(g->OH, g->stride, g->pad, g->dil, g->k, g->H, rlo, rhi);
    const int nc = df_bin_runs(g->OW, g->stride, g->pad, g->dil, g->k, g->W, clo, chi);
    if (nr < 0 || nc < 0) return -1;
    for (int oh = 0, r = 0; cls && oh < g->OH; oh++) {
        df_bin_valid(oh, g->stride, g->pad, g->dil, g->k, g->H, &l, &h);
        while (l != rlo[r] || h != rhi[r]) r++;
        for (int ow = 0, c = 0; ow < g->OW; ow++) {
            df_bin_valid(ow, g->stride, g->pad, g->dil, g->k, g->W, &l, &h);
            while (l != clo[c] || h != chi[c]) c++;
            cls[(size_t)oh * g->OW + ow] = r * nc + c;
        }
    }
    return nr * nc;
}

/* tab [O][ncls]: what the border taps of each class add for channel o
 * (all taps' corrections less the rectangle of valid ones, from cps). */
static inline void df_bin_class_table(const int32_t *cps, int O, const df_bin_geom *g, int ncls, int32_t *tab)
{
    int rlo[DF_BIN_MAXRUN], rhi[DF_BIN_MAXRUN], clo[DF_BIN_MAXRUN], chi[DF_BIN_MAXRUN];
    const int k = g->k, kp = k + 1, nr = df_bin_runs(g->OH, g->stride, g->pad, g->dil, k, g->H, rlo, rhi);
    const int nc = df_bin_runs(g->OW, g->stride, g->pad, g->dil, k, g->W, clo, chi);
    for (int o = 0; o < O; o++) {
        const int32_t *cp = cps + (size_t)o * kp * kp;
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < nc && r * nc + c < ncls; c++) {
                const int lh = rlo[r], hh = rhi[r], lw = clo[c], hw = chi[c];
                const int32_t in = lh > hh || lw > hw ? 0
                                   : cp[(hh + 1) * kp + hw + 1] - cp[lh * kp + hw + 1] - cp[(hh + 1) * kp + lw] + cp[lh * kp + lw];
                tab[(size_t)o * ncls + r * nc + c] = cp[k * kp + k] - in;
            }
    }
}

/* y [O][P] -= what the border taps added (cls, tab, ncls from the above) */
static inline void df_bin_fix_border(const int32_t *cls, const int32_t *tab, int ncls, int O, const df_bin_geom *g, int32_t *y)
{
    for (int o = 0; o < O; o++)
        for (int p = 0; p < g->P; p++) y[(size_t)o * g->P + p] -= tab[(size_t)o * ncls + cls[p]];
}

/* Where the scalar GEMM writes a block: the int32 sums (y; f NULL), or the
 * layer's floats f = a * (sum - what the border taps added) + b (fb NULL:
 * + 0.0f, which also turns -0 into +0 as a float conv's zero bias does;
 * cls: the block's pixel classes). Pointers at the block's first pixel, P
 * apart per channel. */
typedef struct df_bin_out {
    int32_t *y;
    const int32_t *cls, *tab;
    int ncls;
    const float *fa, *fb;
    float *f;
} df_bin_out;

/* Keeps x in a register as it is at this point: without it GCC reorders
 * the popcount sums of a tile into trees whose partial sums it spills. */
#if defined(__GNUC__) || defined(__clang__)
#define DF_BIN_KEEP(x) __asm__("" : "+r"(x))
#else
#define DF_BIN_KEEP(x) (void)0
#endif

/* pixels per int tile of the scalar GEMM (df_bin_gemm_loops) */
#define DF_BIN_EPI 96

/* The sums of R (<= 4, a literal after inlining) output channels from w
 * (rows Kw words apart) over pixels [p0, p1) of the block, written to
 * t[j][p - p0]: a pixel at a time, each column word loaded once for the R
 * popcounts of its xors with the channels' weight words. Of the tiles
 * tried outside the repository on the 64x32x32 layer (1-4 channels x 1-4
 * pixels, the columns also pixel-major), 4 x 1 was among the fastest at
 * 3, 5 and 9 words; 2 x 3, the one before, left GCC short of registers. */
static inline __attribute__((always_inline)) void df_bin_gemm_tile(const uint64_t *col, int Bp, int Kw, const uint64_t *w, int R,
                                                                   int p0, int p1, int base, int32_t t[4][DF_BIN_EPI])
{
    for (int p = p0; p < p1; p++) {
        uint64_t a[4] = {0, 0, 0, 0};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 9 /* all of a literal Kw <= 9, which GCC's own limits stopped short of at R = 4 */
#endif
        for (int kq = 0; kq < Kw; kq++) {
            const uint64_t x = col[(size_t)kq * Bp + p];
            for (int j = 0; j < R; j++) {
                a[j] += (uint64_t)__builtin_popcountll(x ^ w[(size_t)j * Kw + kq]);
                DF_BIN_KEEP(a[j]);
            }
        }
        for (int j = 0; j < R; j++) t[j][p - p0] = base - 2 * (int32_t)a[j];
    }
}

/* The tile's sums (t: pixels [p0, p1) of channels o ... o + R - 1) out
 * to the block: as they are (y), or as the layer's floats (f). The float
 * epilogue goes by runs of pixels of one border class (in a row of a 3x3
 * conv: the first pixel, the interior, the last), so that within a run
 * the class's correction is one number and the loop vectorizes
 * (bench_binary 1 64, 64x32x32 on a Zen 4: the portable path 13.1 ->
 * 12.7-13.0 ms against a gather per pixel, the tile change included). */
static inline __attribute__((always_inline)) void df_bin_tile_out(int32_t t[4][DF_BIN_EPI], int o, int R, int p0, int p1, int P,
                                                                  int32_t *y, float *f, const int32_t *cls, const int32_t *tab,
                                                                  int ncls, const float *fa, const float *fb)
{
    if (!f) {
        for (int j = 0; j < R; j++) memcpy(y + (size_t)(o + j) * P + p0, t[j], sizeof(int32_t) * (size_t)(p1 - p0));
        return;
    }
    for (int p = p0; p < p1;) {
        const int32_t k = cls[p];
        int e = p + 1;
        while (e < p1 && cls[e] == k) e++;
        for (int j = 0; j < R; j++) {
            const int32_t c = tab[(size_t)(o + j) * ncls + k], *s = t[j] - p0;
            const float a = fa[o + j], b = fb ? fb[o + j] : 0.0f;
            float *d = f + (size_t)(o + j) * P;
            for (int q = p; q < e; q++) d[q] = (float)(s[q] - c) * a + b;
        }
        p = e;
    }
}

/* The GEMM of one block (np pixels) with scalar popcounts, 4 output
 * channels at a time (then 1 for the rest): the sums of DF_BIN_EPI pixels
 * go to a small int tile first, then out (df_bin_tile_out); inside the
 * popcount loops the float epilogue ran short of registers. The output's
 * fields are copied to locals first: stores to y (int32) could alias
 * ncls, and the compiler would reload them. */
static inline __attribute__((always_inline)) void df_bin_gemm_loops(const uint64_t *col, int Bp, int Kw, const uint64_t *wp,
                                                                    int O, int np, int P, int base, const df_bin_out *out)
{
    int32_t *const y = out->y;
    float *const f = out->f;
    const int32_t *const cls = out->cls, *const tab = out->tab;
    const int ncls = out->ncls;
    const float *const fa = out->fa, *const fb = out->fb;
    int32_t t[4][DF_BIN_EPI];
    for (int o = 0; o < O;) {
        const int R = O - o >= 4 ? 4 : 1;
        for (int p0 = 0; p0 < np; p0 += DF_BIN_EPI) {
            const int p1 = np - p0 < DF_BIN_EPI ? np : p0 + DF_BIN_EPI;
            if (R == 4)
                df_bin_gemm_tile(col, Bp, Kw, wp + (size_t)o * Kw, 4, p0, p1, base, t);
            else
                df_bin_gemm_tile(col, Bp, Kw, wp + (size_t)o * Kw, 1, p0, p1, base, t);
            df_bin_tile_out(t, o, R, p0, p1, P, y, f, cls, tab, ncls, fa, fb);
        }
        o += R;
    }
}

/* df_bin_gemm_loops with the word count a literal where it is a common
 * one (3x3 taps of 16, 32 and 64 channels: 3, 5 and 9 words; 1x1: 1), so
 * the compiler unrolls the word loop: its control was 4 of the 30
 * instructions per 6 words, and bench_binary's 64x32x32 GEMM writing
 * integer sums went from 9.07 to 7.64 ms unrolled. */
static inline __attribute__((always_inline)) void df_bin_gemm_kw(const uint64_t *col, int Bp, int Kw, const uint64_t *wp, int O,
                                                                 int np, int P, int base, const df_bin_out *out)
{
    switch (Kw) {
    case 1: df_bin_gemm_loops(col, Bp, 1, wp, O, np, P, base, out); break;
    case 3: df_bin_gemm_loops(col, Bp, 3, wp, O, np, P, base, out); break;
    case 5: df_bin_gemm_loops(col, Bp, 5, wp, O, np, P, base, out); break;
    case 9: df_bin_gemm_loops(col, Bp, 9, wp, O, np, P, base, out); break;
    default: df_bin_gemm_loops(col, Bp, Kw, wp, O, np, P, base, out);
    }
}

#ifdef DF_BIN_X86
/* the same loops with the popcnt instruction (any x86-64 CPU since 2008) */
__attribute__((target("popcnt"))) static void df_bin_gemm_popcnt(const uint64_t *col, int Bp, int Kw, const uint64_t *wp,
                                                                 int O, int np, int P, int base, const df_bin_out *out)
{
    df_bin_gemm_kw(col, Bp, Kw, wp, O, np, P, base, out);
}

/* The tile loop every vector GEMM shares: TILE(o0, R, p0) for output
 * channels [o0, o0 + R) and the PX pixels from p0 of the block's np, R =
 * RMAX while RMAX channels are left, then 1; R is a literal in each call,
 * so an always_inline tile specializes its channel loops to it. */
#define DF_BIN_TILES(O, RMAX, np, PX, TILE)                                      \
    do {                                                                         \
        int o0_ = 0;                                                             \
        for (; o0_ + (RMAX) <= (O); o0_ += (RMAX))                               \
            for (int p0_ = 0; p0_ < (np); p0_ += (PX)) TILE(o0_, RMAX, p0_);     \
        for (; o0_ < (O); o0_++)                                                 \
            for (int p0_ = 0; p0_ < (np); p0_ += (PX)) TILE(o0_, 1, p0_);        \
    } while (0)

/* Where the vector GEMM reads the column words of a block (output rows
 * oh0 ...): im2col's columns col [Kw][Bp] (tap NULL), or, in place, the
 * packed planes xp with word kq of output pixel (oh, ow) at
 * xp + (oh * Wp + ow) + tap[kq] (df_bin_direct: stride 1, whole 64-bit
 * chunks, rows of whole vectors), which saves the im2col's copy. */
typedef struct df_bin_src {
    const uint64_t *col;
    int Bp;
    const uint64_t *xp;
    const int32_t *tap;
    int OW, Wp, oh0;
} df_bin_src;

/* R (<= 8, a constant after inlining) output channels x 16 pixels: per
 * word two loads of 8 pixels, xor with each channel's broadcast weight
 * word, vpopcntq, add; the mismatch counts in a[j][0..1]. */
__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"), always_inline)) static inline void
df_bin_tile_acc(const df_bin_src *s, int direct, int Kw, const uint64_t *wp, int R, int p0, int np, __m512i a[8][2])
{
    const uint64_t *c0, *c1;
    if (direct) { /* each half's first pixel in the planes; a half past the block reads the first again */
        const int q1 = p0 + 8 < np ? p0 + 8 : p0;
        c0 = s->xp + (size_t)(s->oh0 + p0 / s->OW) * s->Wp + p0 % s->OW;
        c1 = s->xp + (size_t)(s->oh0 + q1 / s->OW) * s->Wp + q1 % s->OW;
    } else {
        c0 = s->col + p0, c1 = c0 + 8;
    }
    { /* the first word sets the sums: no zeroing, no adds */
        const size_t off = direct ? (size_t)s->tap[0] : 0;
        const __m512i x0 = _mm512_loadu_si512(c0 + off), x1 = _mm512_loadu_si512(c1 + off);
        for (int j = 0; j < 8; j++)
            if (j < R) {
                const __m512i v = _mm512_set1_epi64((long long)wp[(size_t)j * Kw]);
                a[j][0] = _mm512_popcnt_epi64(_mm512_xor_si512(x0, v));
                a[j][1] = _mm512_popcnt_epi64(_mm512_xor_si512(x1, v));
            }
    }
    for (int kq = 1; kq < Kw; kq++) {
        const size_t off = direct ? (size_t)s->tap[kq] : (size_t)kq * s->Bp;
        const __m512i x0 = _mm512_loadu_si512(c0 + off), x1 = _mm512_loadu_si512(c1 + off);
        for (int j = 0; j < 8; j++)
            if (j < R) {
                const __m512i v = _mm512_set1_epi64((long long)wp[(size_t)j * Kw + kq]);
                a[j][0] = _mm512_add_epi64(a[j][0], _mm512_popcnt_epi64(_mm512_xor_si512(x0, v)));
                a[j][1] = _mm512_add_epi64(a[j][1], _mm512_popcnt_epi64(_mm512_xor_si512(x1, v)));
            }
    }
}

/* The tile with int32 sums out (base - 2 mismatches), masked stores at the
 * block's tail. */
__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"), always_inline)) static inline void
df_bin_tile(const df_bin_src *s, int direct, int Kw, const uint64_t *wp, int R, int p0, int np, int P, int base, int32_t *y)
{
    const int n0 = np - p0 < 8 ? np - p0 : 8, n1 = np - p0 - 8 <= 0 ? 0 : np - p0 - 8 < 8 ? np - p0 - 8 : 8;
    const __mmask8 m0 = (__mmask8)((1u << n0) - 1), m1 = (__mmask8)((1u << n1) - 1);
    __m512i a[8][2];
    df_bin_tile_acc(s, direct, Kw, wp, R, p0, np, a);
    const __m512i b = _mm512_set1_epi64(base);
    for (int j = 0; j < 8; j++)
        if (j < R) {
            int32_t *yr = y + (size_t)j * P + p0;
            _mm256_mask_storeu_epi32(yr, m0, _mm512_cvtepi64_epi32(_mm512_sub_epi64(b, _mm512_slli_epi64(a[j][0], 1))));
            if (n1) _mm256_mask_storeu_epi32(yr + 8, m1, _mm512_cvtepi64_epi32(_mm512_sub_epi64(b, _mm512_slli_epi64(a[j][1], 1))));
        }
}

__attribute__((target("avx512f,avx512vl,avx512vpopcntdq"))) static void
df_bin_gemm_vpopcnt(const df_bin_src *s, int Kw, const uint64_t *wp, int O, int np, int P, int base, int32_t *y)
{
#define T(o0, R, p0) df_bin_tile(s, DIRECT, Kw, wp + (size_t)(o0) * Kw, R, p0, np, P, base, y + (size_t)(o0) * P)
    if (s->tap) {
        enum { DIRECT = 1 };
        DF_BIN_TILES(O, 8, np, 16, T);
    } else {
        enum { DIRECT = 0 };
        DF_BIN_TILES(O, 8, np, 16, T);
    }
#undef T
}

/* The same tile with the layer's float output in its epilogue: y = a *
 * (sum - what the border taps added) + b, the border correction of each
 * lane a permute of the channel's class table by the lanes' classes (<= 32
 * classes; a gather beyond), so the integers never reach memory. */
__attribute__((target("avx512f,avx512vl,avx512dq,avx512vpopcntdq"), always_inline)) static inline void
df_bin_tile_f(const df_bin_src *s, int direct, int Kw, const uint64_t *wp, int R, int p0, int np, int P, int base,
              const int32_t *cls, const int32_t *tab, int ncls, int kind, const float *fa, const float *fb, int stream,
              float *out)
{
    const int n = np - p0 < 16 ? np - p0 : 16;
    const __mmask16 m = (__mmask16)((1u << n) - 1);
    __m512i a[8][2];
    df_bin_tile_acc(s, direct, Kw, wp, R, p0, np, a);
    const __m512i b = _mm512_set1_epi32(base), cl = n == 16 ? _mm512_loadu_si512(cls + p0) : _mm512_maskz_loadu_epi32(m, cls + p0);
    /* the low halves of the 16 64-bit counts, in pixel order: one two-source
     * permute, in place of two vpmovqd and an insert */
    const __m512i lo = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const int st = stream && n == 16 && !((uintptr_t)(out + p0) & 63) && !(P & 15);
    __m512 y[8];
    for (int j = 0; j < 8; j++)
        if (j < R) {
            const __m512i mis = _mm512_permutex2var_epi32(a[j][0], lo, a[j][1]);
            const int32_t *t = tab + (size_t)j * ncls;
            __m512i fix;
            if (kind == 1)
                fix = _mm512_permutexvar_epi32(cl, _mm512_maskz_loadu_epi32((__mmask16)((1u << ncls) - 1), t));
            else if (kind == 2)
                fix = _mm512_permutex2var_epi32(_mm512_loadu_si512(t), cl,
                                                _mm512_maskz_loadu_epi32((__mmask16)((1ull << (ncls - 16)) - 1), t + 16));
            else
                fix = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, cl, t, 4);
            const __m512i d = _mm512_sub_epi32(_mm512_sub_epi32(b, _mm512_slli_epi32(mis, 1)), fix);
            y[j] = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(fa[j])), _mm512_set1_ps(fb[j]));
        }
    /* the stores apart, each kind in a loop of its own: one test per tile,
     * where the compiler had kept two per channel */
    float *d = out + p0; /* one pointer stepped by P: GCC had made one per channel and kept them on the stack */
    DF_BIN_KEEP(d);
    if (st) {
        for (int j = 0; j < 8; j++)
            if (j < R) _mm512_stream_ps(d, y[j]), d += P;
    } else if (n == 16) {
        for (int j = 0; j < 8; j++)
            if (j < R) _mm512_storeu_ps(d, y[j]), d += P;
    } else {
        for (int j = 0; j < 8; j++)
            if (j < R) _mm512_mask_storeu_ps(d, m, y[j]), d += P;
    }
}

/* + 0.0f for a tile's channels where a layer has no b */
static const float df_bin_zero8[8] = {0, 0, 0, 0, 0, 0, 0, 0};

__attribute__((target("avx512f,avx512vl,avx512dq,avx512vpopcntdq"))) static void
df_bin_gemm_vpopcnt_f(const df_bin_src *s, int Kw, const uint64_t *wp, int O, int np, int P, int base,
                      const int32_t *cls, const int32_t *tab, int ncls, const float *fa, const float *fb, int stream,
                      const char *pf, size_t pf_lines, float *out)
{
    /* the pf_lines cache lines from pf into L2, a few after each tile, so
     * the loads overlap the popcounts instead of stalling a later pack */
    const char *pf_end = pf ? pf + pf_lines * 64 : pf;
    const size_t tiles = (size_t)((O + 7) / 8) * (size_t)((np + 15) / 16), per = (pf_lines + tiles - 1) / tiles;
#define T(o0, R, p0)                                                                                                   \
    do {                                                                                                               \
        df_bin_tile_f(s, DIRECT, KW, wp + (size_t)(o0) * KW, R, p0, np, P, base, cls, tab + (size_t)(o0) * ncls, ncls,  \
                      KIND, fa + (o0), fb ? fb + (o0) : df_bin_zero8, stream, out + (size_t)(o0) * P);                 \
        for (size_t i_ = 0; i_ < per && pf < pf_end; i_++, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);                   \
    } while (0)
    /* one instance per way of looking up the border fix and of reading the
     * columns, so that each tile's channel loop unrolls and its sums stay
     * in registers (one instance with the branches kept them on the stack:
     * 1.13x slower) */
#define KINDS()                                                                                                        \
    do {                                                                                                               \
        if (ncls <= 16) {                                                                                              \
            enum { KIND = 1 };                                                                                         \
            DF_BIN_TILES(O, 8, np, 16, T);                                                                             \
        } else if (ncls <= 32) {                                                                                       \
            enum { KIND = 2 };                                                                                         \
            DF_BIN_TILES(O, 8, np, 16, T);                                                                             \
        } else {                                                                                                       \
            enum { KIND = 3 };                                                                                         \
            DF_BIN_TILES(O, 8, np, 16, T);                                                                             \
        }                                                                                                              \
    } while (0)
    if (s->tap && Kw == 9) { /* 3x3 taps of 64 channels, bench_binary's first shape: a literal word count */
        enum { DIRECT = 1, KW = 9 };
        KINDS();
    } else if (s->tap) {
        enum { DIRECT = 1 };
        const int KW = Kw;
        KINDS();
    } else {
        enum { DIRECT = 0 };
        const int KW = Kw;
        KINDS();
    }
#undef KINDS
#undef T
    if (stream) _mm_sfence(); /* the streamed lines reach memory before anyone reads them */
}
#endif

#ifdef DF_BIN_X86
/* AVX2 without VPOPCNTDQ: R (<= 4) output channels x 8 pixels; each xor's
 * popcount by two nibble lookups (vpshufb), summed as bytes for up to 31
 * words (8 a word: no overflow), then into 64-bit lanes by vpsadbw; the
 * mismatch counts of channel j in the 8 int32 lanes of mis[j]. */
__attribute__((target("avx2"), always_inline)) static inline void
df_bin_tile_avx2_acc(const uint64_t *col, int Bp, int Kw, const uint64_t *wp, int R, int p0, __m256i mis[4])
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
                                         3, 3, 4),
                  m4 = _mm256_set1_epi8(0x0f), z = _mm256_setzero_si256();
    __m256i sum[4][2];
    for (int j = 0; j < 4; j++) sum[j][0] = sum[j][1] = z;
    for (int k0 = 0; k0 < Kw; k0 += 31) {
        const int k1 = Kw < k0 + 31 ? Kw : k0 + 31;
        __m256i a[4][2];
        for (int j = 0; j < 4; j++) a[j][0] = a[j][1] = z;
        for (int kq = k0; kq < k1; kq++) {
            const uint64_t *c = col + (size_t)kq * Bp + p0;
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)c), x1 = _mm256_loadu_si256((const __m256i *)(c + 4));
            for (int j = 0; j < 4; j++)
                if (j < R) {
                    const __m256i v = _mm256_set1_epi64x((long long)wp[(size_t)j * Kw + kq]);
                    const __m256i t0 = _mm256_xor_si256(x0, v), t1 = _mm256_xor_si256(x1, v);
                    a[j][0] = _mm256_add_epi8(a[j][0], _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(t0, m4)),
                                                                       _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(t0, 4), m4))));
                    a[j][1] = _mm256_add_epi8(a[j][1], _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(t1, m4)),
                                                                       _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(t1, 4), m4))));
                }
        }
        for (int j = 0; j < 4; j++)
            if (j < R)
                for (int i = 0; i < 2; i++) sum[j][i] = _mm256_add_epi64(sum[j][i], _mm256_sad_epu8(a[j][i], z));
    }
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    for (int j = 0; j < 4; j++)
        if (j < R) { /* the 8 low halves of the two 64-bit sums */
            const __m256i lo = _mm256_permutevar8x32_epi32(sum[j][0], pick), hi = _mm256_permutevar8x32_epi32(sum[j][1], pick);
            mis[j] = _mm256_permute2x128_si256(lo, hi, 0x20);
        }
}

/* the tile with int32 sums out (base - 2 mismatches) */
__attribute__((target("avx2"), always_inline)) static inline void
df_bin_tile_avx2(const uint64_t *col, int Bp, int Kw, const uint64_t *wp, int R, int p0, int np, int P, int base, int32_t *y)
{
    __m256i mis[4];
    df_bin_tile_avx2_acc(col, Bp, Kw, wp, R, p0, mis);
    const int n = np - p0 < 8 ? np - p0 : 8;
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes), b = _mm256_set1_epi32(base);
    for (int j = 0; j < 4; j++)
        if (j < R) _mm256_maskstore_epi32((int *)(y + (size_t)j * P + p0), mask, _mm256_sub_epi32(b, _mm256_slli_epi32(mis[j], 1)));
}

__attribute__((target("avx2"))) static void df_bin_gemm_avx2(const uint64_t *col, int Bp, int Kw, const uint64_t *wp, int O,
                                                             int np, int P, int base, int32_t *y)
{
#define T(o0, R, p0) df_bin_tile_avx2(col, Bp, Kw, wp + (size_t)(o0) * Kw, R, p0, np, P, base, y + (size_t)(o0) * P)
    DF_BIN_TILES(O, 4, np, 8, T);
#undef T
}

/* The tile with the layer's float output, as the VPOPCNTDQ one: y = a *
 * (sum - what the border taps added) + b, the border fix gathered from the
 * channel's class table by the lanes' classes; mul and add apart, as
 * the scalar epilogue (AVX2 has no fused multiply-add). */
__attribute__((target("avx2"), always_inline)) static inline void
df_bin_tile_avx2_f(const uint64_t *col, int Bp, int Kw, const uint64_t *wp, int R, int p0, int np, int P, int base,
                   const int32_t *cls, const int32_t *tab, int ncls, int kind, const float *fa, const float *fb, int stream,
                   float *out)
{
    __m256i mis[4];
    df_bin_tile_avx2_acc(col, Bp, Kw, wp, R, p0, mis);
    const int n = np - p0 < 8 ? np - p0 : 8;
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes), b = _mm256_set1_epi32(base);
    const __m256i cl = _mm256_maskload_epi32(cls + p0, mask), up = _mm256_cmpgt_epi32(cl, _mm256_set1_epi32(7));
    const int st = stream && n == 8 && !((uintptr_t)(out + p0) & 31) && !(P & 7);
    for (int j = 0; j < 4; j++)
        if (j < R) {
            const int32_t *t = tab + (size_t)j * ncls;
            __m256i fix; /* up to 16 classes by two permutes (a gather is slower than the scalar pass it replaces) */
            if (kind == 1)
                fix = _mm256_permutevar8x32_epi32(_mm256_maskload_epi32(t, _mm256_cmpgt_epi32(_mm256_set1_epi32(ncls), lanes)), cl);
            else if (kind == 2)
                fix = _mm256_blendv_epi8(
                    _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)t), cl),
                    _mm256_permutevar8x32_epi32(_mm256_maskload_epi32(t + 8, _mm256_cmpgt_epi32(_mm256_set1_epi32(ncls - 8), lanes)), cl),
                    up);
            else
                fix = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), t, cl, mask, 4);
            const __m256i d = _mm256_sub_epi32(_mm256_sub_epi32(b, _mm256_slli_epi32(mis[j], 1)), fix);
            const __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(fa[j])),
                                           _mm256_set1_ps(fb[j]));
            float *dst = out + (size_t)j * P + p0;
            if (st)
                _mm256_stream_ps(dst, y);
            else
                _mm256_maskstore_ps(dst, mask, y);
        }
}

__attribute__((target("avx2"))) static void
df_bin_gemm_avx2_f(const uint64_t *col, int Bp, int Kw, const uint64_t *wp, int O, int np, int P, int base,
                   const int32_t *cls, const int32_t *tab, int ncls, const float *fa, const float *fb, int stream,
                   const char *pf, size_t pf_lines, float *out)
{
    const char *pf_end = pf ? pf + pf_lines * 64 : pf; /* as df_bin_gemm_vpopcnt_f */
    const size_t tiles = (size_t)((O + 3) / 4) * (size_t)((np + 7) / 8), per = (pf_lines + tiles - 1) / tiles;
#define T(o0, R, p0)                                                                                                   \
    do {                                                                                                               \
        df_bin_tile_avx2_f(col, Bp, Kw, wp + (size_t)(o0) * Kw, R, p0, np, P, base, cls, tab + (size_t)(o0) * ncls,     \
                           ncls, KIND, fa + (o0), fb ? fb + (o0) : df_bin_zero8, stream, out + (size_t)(o0) * P);      \
        for (size_t i_ = 0; i_ < per && pf < pf_end; i_++, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);                   \
    } while (0)
    if (ncls <= 8) { /* one instance per border-lookup kind, as df_bin_gemm_vpopcnt_f */
        enum { KIND = 1 };
        DF_BIN_TILES(O, 4, np, 8, T);
    } else if (ncls <= 16) {
        enum { KIND = 2 };
        DF_BIN_TILES(O, 4, np, 8, T);
    } else {
        enum { KIND = 3 };
        DF_BIN_TILES(O, 4, np, 8, T);
    }
#undef T
    if (stream) _mm_sfence();
}
#endif

/* the kernel sets: isa 0 takes the best this CPU has, the others force one
 * (tests, benchmarks; one the CPU lacks falls back to the scalar path) */
enum { DF_BIN_ISA_BEST = 0, DF_BIN_ISA_SCALAR = 1, DF_BIN_ISA_AVX2 = 2 };

/* 1: the AVX-512 VPOPCNTDQ path exists on this CPU (and in this build). */
static inline int df_bin_have_vpopcnt(void)
{
#ifdef DF_BIN_X86
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq");
    }
    return have;
#else
    return 0;
#endif
}

/* 1: the AVX2 path exists on this CPU (and in this build). */
static inline int df_bin_have_avx2(void)
{
#ifdef DF_BIN_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

/* The scalar path's GEMM of one block: the popcount loops with the popcnt
 * instruction where the CPU has it. */
static inline void df_bin_gemm_scalar(const uint64_t *col, const df_bin_geom *g, const uint64_t *wp, int O, int np,
                                      const df_bin_out *out)
{
    const int base = g->k * g->k * g->C;
#ifdef DF_BIN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) {
        df_bin_gemm_popcnt(col, g->Bp, g->Kw, wp, O, np, g->P, base, out);
        return;
    }
#endif
    df_bin_gemm_kw(col, g->Bp, g->Kw, wp, O, np, g->P, base, out);
}

/* The scalar path over one image: pack, then per block of output rows
 * im2col and df_bin_gemm_scalar, writing out at the block's offset. */
static inline void df_bin_conv_scalar(const float *x, const df_bin_geom *g, const uint64_t *wp, int O, void *xp, uint64_t *col,
                                      const df_bin_out *out)
{
    df_bin_pack_any(x, g, 1, xp);
    for (int oh0 = 0; oh0 < g->OH; oh0 += g->rb) {
        const int nr = g->OH - oh0 < g->rb ? g->OH - oh0 : g->rb, np = nr * g->OW;
        const size_t at = (size_t)oh0 * g->OW;
        const df_bin_out ob = {out->y ? out->y + at : NULL, out->cls ? out->cls + at : NULL, out->tab, out->ncls, out->fa, out->fb,
                               out->f ? out->f + at : NULL};
        df_bin_im2col_any(xp, g, oh0, nr, 1, col);
        df_bin_gemm_scalar(col, g, wp, O, np, &ob);
    }
}

/* y [O][P] (P = OH * OW): the sums of sign products of the signs of x
 * [C][H][W] and the packed weights (wp from df_bin_pack_weights with this
 * geometry) over every tap, border taps included (df_bin_fix_border
 * takes those out). xp (df_bin_xp_bytes) and col (df_bin_col_words) are
 * scratch. isa: DF_BIN_ISA_*. */
static inline void df_bin_conv_raw(const float *x, const df_bin_geom *g, const uint64_t *wp, int O, int isa, void *xp,
                                   uint64_t *col, int32_t *y)
{
#ifdef DF_BIN_X86
    const int vec = isa == DF_BIN_ISA_BEST && df_bin_have_vpopcnt();
    const int avx2 = !vec && (isa == DF_BIN_ISA_BEST || isa == DF_BIN_ISA_AVX2) && df_bin_have_avx2();
    if (vec || avx2) {
        const int base = g->k * g->k * g->C, direct = vec && df_bin_direct(g);
        int32_t tap[DF_BIN_MAXTAP];
        if (direct) df_bin_taps(g, tap);
        df_bin_pack_any(x, g, !vec, xp);
        for (int oh0 = 0; oh0 < g->OH; oh0 += g->rb) {
            const int nr = g->OH - oh0 < g->rb ? g->OH - oh0 : g->rb, np = nr * g->OW;
            int32_t *yb = y + (size_t)oh0 * g->OW;
            if (!direct) df_bin_im2col_any(xp, g, oh0, nr, !vec, col);
            if (vec) {
                const df_bin_src src = {col, g->Bp, (const uint64_t *)xp, direct ? tap : NULL, g->OW, g->Wp, oh0};
                df_bin_gemm_vpopcnt(&src, g->Kw, wp, O, np, g->P, base, yb);
            } else {
                df_bin_gemm_avx2(col, g->Bp, g->Kw, wp, O, np, g->P, base, yb);
            }
        }
        return;
    }
#endif
    (void)isa;
    const df_bin_out o = {y, NULL, NULL, 0, NULL, NULL, NULL};
    df_bin_conv_scalar(x, g, wp, O, xp, col, &o);
}

/* y [O][P]: the conv of the signs, exactly as a float conv of them with
 * zero padding (cls, tab, ncls: df_bin_classes and df_bin_class_table). */
static inline void df_bin_conv(const float *x, const df_bin_geom *g, const uint64_t *wp, const int32_t *cls,
                               const int32_t *tab, int ncls, int O, int isa, void *xp, uint64_t *col, int32_t *y)
{
    df_bin_conv_raw(x, g, wp, O, isa, xp, col, y);
    df_bin_fix_border(cls, tab, ncls, O, g, y);
}

/* out [O][P] = a[o] * conv(signs)[o][p] + b[o] (b NULL: + 0.0f): a binary
 * layer's float output, computed in every path's GEMM epilogue. next: the
 * next image's input, which the vector paths prefetch (NULL: none). */
static inline void df_bin_conv_float_next(const float *x, const float *next, const df_bin_geom *g, const uint64_t *wp,
                                          const int32_t *cls, const int32_t *tab, int ncls, const float *a, const float *b,
                                          int O, int isa, void *xp, uint64_t *col, float *out)
{
#ifdef DF_BIN_X86
    if (isa == DF_BIN_ISA_BEST && df_bin_have_vpopcnt()) {
        int32_t tap[DF_BIN_MAXTAP];
        const int direct = df_bin_direct(g);
        if (direct) df_bin_taps(g, tap);
        df_bin_pack_any(x, g, 0, xp);
        for (int oh0 = 0, blk = 0; oh0 < g->OH; oh0 += g->rb, blk++) {
            const int nr = g->OH - oh0 < g->rb ? g->OH - oh0 : g->rb, at = oh0 * g->OW;
            const char *pf;
            const size_t n = df_bin_pf_part(g, next, blk, &pf);
            if (!direct) df_bin_im2col_any(xp, g, oh0, nr, 0, col);
            const df_bin_src src = {col, g->Bp, (const uint64_t *)xp, direct ? tap : NULL, g->OW, g->Wp, oh0};
            df_bin_gemm_vpopcnt_f(&src, g->Kw, wp, O, nr * g->OW, g->P, g->k * g->k * g->C, cls + at, tab, ncls, a, b,
                                  g->stream, pf, n, out + at);
        }
        return;
    }
    if ((isa == DF_BIN_ISA_BEST || isa == DF_BIN_ISA_AVX2) && df_bin_have_avx2()) { /* the same with AVX2 tiles */
        df_bin_pack_any(x, g, 1, xp);
        for (int oh0 = 0, blk = 0; oh0 < g->OH; oh0 += g->rb, blk++) {
            const int nr = g->OH - oh0 < g->rb ? g->OH - oh0 : g->rb, at = oh0 * g->OW;
            const char *pf;
            const size_t n = df_bin_pf_part(g, next, blk, &pf);
            df_bin_im2col_any(xp, g, oh0, nr, 1, col);
            df_bin_gemm_avx2_f(col, g->Bp, g->Kw, wp, O, nr * g->OW, g->P, g->k * g->k * g->C, cls + at, tab, ncls, a, b,
                               g->stream, pf, n, out + at);
        }
        return;
    }
#endif
    (void)next, (void)isa;
    const df_bin_out o = {NULL, cls, tab, ncls, a, b, out};
    df_bin_conv_scalar(x, g, wp, O, xp, col, &o);
}

static inline void df_bin_conv_float(const float *x, const df_bin_geom *g, const uint64_t *wp, const int32_t *cls,
                                     const int32_t *tab, int ncls, const float *a, const float *b, int O, int isa,
                                     void *xp, uint64_t *col, float *out)
{
    df_bin_conv_float_next(x, NULL, g, wp, cls, tab, ncls, a, b, O, isa, xp, col, out);
}

#endif
