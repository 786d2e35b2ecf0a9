#include "core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t nn_llc_bytes(void)
{
    static size_t llc;
    if (llc) return llc;
    size_t best = 0;
    for (int i = 0; i < 8; i++) { /* the highest level that answers */
        char path[80], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f) break;
        char *ok = fgets(buf, sizeof buf, f);
        fclose(f);
        char *end = NULL;
        const unsigned long long v = ok ? strtoull(buf, &end, 10) : 0;
        const size_t bytes = (size_t)v * (end && *end == 'M' ? 1u << 20 : end && *end == 'K' ? 1u << 10 : 1u);
        if (bytes > best) best = bytes;
    }
#ifdef _SC_LEVEL3_CACHE_SIZE
    if (!best) {
        const long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (v > 0) best = (size_t)v;
    }
#endif
    llc = best ? best : (size_t)32 << 20;
    return llc;
}

int nn_fail(nn_err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return NN_ERR;
}

void nn_abort(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "datafree: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *nn_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) nn_abort(__FILE__, __LINE__, "out of memory (%zu bytes)", n);
    return p;
}

void *nn_xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) nn_abort(__FILE__, __LINE__, "out of memory (%zu x %zu bytes)", n, sz);
    return p;
}

void *nn_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) nn_abort(__FILE__, __LINE__, "out of memory (%zu bytes)", n);
    return q;
}

char *nn_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = nn_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* ---- arena ---- */

struct nn_arena_chunk {
    struct nn_arena_chunk *next;
    size_t cap, used;
    char *mem;
};

#define ARENA_ALIGN 64

static void *aligned_block(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, ARENA_ALIGN, bytes ? bytes : ARENA_ALIGN))
        nn_abort(__FILE__, __LINE__, "out of memory (%zu bytes)", bytes);
    return p;
}

void nn_arena_init(nn_arena *a, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->cap = cap;
    a->base = cap ? aligned_block(cap) : NULL;
    if (cap) a->mallocs++;
}

void nn_arena_free(nn_arena *a)
{
    nn_arena_reset(a);
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *nn_arena_alloc(nn_arena *a, size_t bytes)
{
    bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->used + bytes <= a->cap) {
        void *p = a->base + a->used;
        a->used += bytes;
        if (a->used + a->extra_bytes > a->peak) a->peak = a->used + a->extra_bytes;
        return p;
    }
    /* Overflow: a chunk of its own; merged into the base block on reset. */
    struct nn_arena_chunk *c = nn_xmalloc(sizeof *c);
    c->mem = aligned_block(bytes);
    c->cap = c->used = bytes;
    c->next = a->extra;
    a->extra = c;
    a->extra_bytes += bytes;
    a->mallocs += 2;
    if (a->used + a->extra_bytes > a->peak) a->peak = a->used + a->extra_bytes;
    return c->mem;
}

float *nn_arena_floats(nn_arena *a, size_t n) { return nn_arena_alloc(a, n * sizeof(float)); }

float *nn_arena_zeros(nn_arena *a, size_t n)
{
    float *p = nn_arena_floats(a, n);
    memset(p, 0, n * sizeof(float));
    return p;
}

void nn_arena_reset(nn_arena *a)
{
    if (a->extra) {
        /* Grow the base block to this step's peak so the next step fits. */
        size_t need = a->peak + a->peak / 8;
        while (a->extra) {
            struct nn_arena_chunk *c = a->extra;
            a->extra = c->next;
            free(c->mem);
            free(c);
        }
        a->extra_bytes = 0;
        if (need > a->cap) {
            free(a->base);
            a->base = aligned_block(need);
            a->cap = need;
            a->mallocs++;
        }
    }
    a->used = 0;
}

/* ---- RNG ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nn_rng_u64(nn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

float nn_rng_uniform(nn_rng *r) { return (float)(nn_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float nn_rng_normal(nn_rng *r)
{
    /* Box-Muller; one value per call keeps the stream simple to reproduce. */
    double u1 = ((double)(nn_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(nn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n) { return (uint32_t)(((nn_rng_u64(r) >> 32) * (uint64_t)n) >> 32); }

void nn_rng_shuffle(nn_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)nn_rng_below(r, (uint32_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* ---- tensor helpers ---- */

size_t nn_shape_numel(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

int nn_same_shape(const nn_tensor *a, const nn_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *nn_shape_str(const nn_tensor *t, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %d" : "%d", t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

int nn_default_threads(void)
{
    const char *env = getenv("DATAFREE_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
