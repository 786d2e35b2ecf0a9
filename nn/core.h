/* Core types of the nn framework: errors, tensors, arena, thread pool, RNG.
 * Everything else in nn/ builds on these. */
#ifndef NN_CORE_H
#define NN_CORE_H

#include <stddef.h>
#include <stdint.h>

/* ---- errors ------------------------------------------------------------ */

/* Functions that can fail on user input return NN_OK or NN_ERR and fill an
 * nn_err with a message that names the file, JSON path, node or shape. */
enum { NN_OK = 0, NN_ERR = -1 };

typedef struct nn_err {
    char msg[1024];
} nn_err;

int nn_fail(nn_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Invariants (programmer errors) abort with a location, never user input. */
#define NN_ASSERT(x)                                                        \
    do {                                                                    \
        if (!(x)) nn_abort(__FILE__, __LINE__, "assertion failed: %s", #x); \
    } while (0)
void nn_abort(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

void *nn_xmalloc(size_t n);        /* aborts on OOM */
void *nn_xcalloc(size_t n, size_t sz);
void *nn_xrealloc(void *p, size_t n);
char *nn_xstrdup(const char *s);

/* ---- arena ------------------------------------------------------------- */

/* A bump allocator for one step's activations and temporaries. Chunks are
 * merged into one on reset, so after the first step nothing is malloc'ed. */
typedef struct nn_arena {
    char *base;
    size_t cap, used;
    struct nn_arena_chunk *extra; /* overflow chunks of this step */
    size_t extra_bytes;
    size_t peak;
    long mallocs; /* number of malloc calls made, for the no-malloc test */
} nn_arena;

void nn_arena_init(nn_arena *a, size_t cap);
void nn_arena_free(nn_arena *a);
void *nn_arena_alloc(nn_arena *a, size_t bytes);   /* 64-byte aligned */
float *nn_arena_floats(nn_arena *a, size_t n);
float *nn_arena_zeros(nn_arena *a, size_t n);
void nn_arena_reset(nn_arena *a);

/* ---- thread pool ------------------------------------------------------- */

/* A fixed pool. nn_pool_run calls fn(arg, ith, nth) for ith in [0, nth) on
 * nth workers (the caller is worker 0) and returns when all are done. */
typedef void (*nn_task_fn)(void *arg, int ith, int nth);
typedef struct nn_pool nn_pool;

nn_pool *nn_pool_create(int nthreads);
void nn_pool_destroy(nn_pool *p);
int nn_pool_size(const nn_pool *p);
void nn_pool_run(nn_pool *p, nn_task_fn fn, void *arg);
/* Static split of [0, n) for worker ith of nth. */
static inline void nn_split(size_t n, int ith, int nth, size_t *lo, size_t *hi)
{
    size_t q = n / (size_t)nth, r = n % (size_t)nth;
    *lo = (size_t)ith * q + ((size_t)ith < r ? (size_t)ith : r);
    *hi = *lo + q + ((size_t)ith < r ? 1 : 0);
}
/* Number of threads to use when the user says 0 ("auto"). */
int nn_default_threads(void);

/* ---- RNG --------------------------------------------------------------- */

/* xoshiro256** seeded by splitmix64: reproducible across platforms. */
typedef struct nn_rng {
    uint64_t s[4];
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_u64(nn_rng *r);
float nn_rng_uniform(nn_rng *r);           /* [0, 1) */
float nn_rng_normal(nn_rng *r);            /* N(0, 1) */
uint32_t nn_rng_below(nn_rng *r, uint32_t n);
void nn_rng_shuffle(nn_rng *r, int *idx, int n);

/* ---- tensors ----------------------------------------------------------- */

#define NN_MAX_DIMS 4

typedef struct nn_tensor {
    int ndim;
    int shape[NN_MAX_DIMS];
    size_t numel;
    float *data;
    float *grad;        /* NULL until a gradient flows into it */
    int requires_grad;  /* leaf parameter, or produced from one */
    int is_param;       /* grad buffer is persistent, never reallocated */
} nn_tensor;

/* Shape helpers. A tensor of ndim < 4 is read as trailing dims missing. */
static inline int nn_dim(const nn_tensor *t, int i) { return i < t->ndim ? t->shape[i] : 1; }
size_t nn_shape_numel(int ndim, const int *shape);
int nn_same_shape(const nn_tensor *a, const nn_tensor *b);
/* "[128, 16, 28, 28]" into buf */
const char *nn_shape_str(const nn_tensor *t, char *buf, size_t n);

/* Bytes of the last-level cache that core 0 shares (Linux sysfs; in a VM
 * the C library's sysconf reports the host's total, 12x too much on an
 * EPYC here), 32 MiB when neither says. */
size_t nn_llc_bytes(void);

#endif
