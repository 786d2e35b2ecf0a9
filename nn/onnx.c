/* ONNX -> Graph IR (see onnx.h). Two stages: decode the protobuf into small
 * structs that point into the file buffer (every length checked against
 * the end of its enclosing message), then walk the nodes in order, keeping
 * a table from ONNX value names to Graph nodes or constants. */
#include "onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* ---- protobuf wire format ---- */

typedef struct {
    const uint8_t *p, *end;
} pb;

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

static int pb_varint(pb *b, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return -1;
        uint8_t c = *b->p++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

static int pb_key(pb *b, uint32_t *field, int *wire)
{
    uint64_t k;
    if (pb_varint(b, &k) || (k >> 3) == 0 || (k >> 3) > 0x1fffffff) return -1;
    *field = (uint32_t)(k >> 3);
    *wire = (int)(k & 7);
    return 0;
}

static int pb_sub(pb *b, pb *sub)
{
    uint64_t n;
    if (pb_varint(b, &n) || n > (uint64_t)(b->end - b->p)) return -1;
    sub->p = b->p;
    sub->end = b->p + n;
    b->p += n;
    return 0;
}

static int pb_skip(pb *b, int wire)
{
    uint64_t v;
    pb s;
    switch (wire) {
    case PB_VARINT: return pb_varint(b, &v);
    case PB_I64:
        if (b->end - b->p < 8) return -1;
        b->p += 8;
        return 0;
    case PB_LEN: return pb_sub(b, &s);
    case PB_I32:
        if (b->end - b->p < 4) return -1;
        b->p += 4;
        return 0;
    default: return -1; /* groups (3, 4) are not used by onnx.proto */
    }
}

static float rd_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rd_u64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
    return u;
}

/* ---- decoded model ---- */

typedef struct {
    const char *s;
    size_t n;
} sv;

static int sv_eq(sv a, sv b) { return a.n == b.n && !memcmp(a.s, b.s, a.n); }

/* growable arrays */
#define VEC(T)                                                                                                         \
    struct {                                                                                                           \
        T *v;                                                                                                          \
        int n, cap;                                                                                                    \
    }
#define VPUSH(a, x)                                                                                                    \
    do {                                                                                                               \
        if ((a).n == (a).cap) {                                                                                        \
            (a).cap = (a).cap ? 2 * (a).cap : 8;                                                                       \
            (a).v = nn_xrealloc((a).v, (size_t)(a).cap * sizeof *(a).v);                                               \
        }                                                                                                              \
        (a).v[(a).n++] = (x);                                                                                          \
    } while (0)

enum { OX_FLOAT = 1, OX_INT32 = 6, OX_INT64 = 7, OX_DOUBLE = 11 };

typedef struct ox_tensor {
    sv name;
    int dtype, ndim;
    int64_t dims[8];
    sv raw;
    int has_raw, external;
    VEC(float) f;      /* float_data / double_data */
    VEC(int64_t) i;    /* int64_data / int32_data */
    sv location;       /* external data */
    int64_t offset, length;
} ox_tensor;

typedef struct ox_attr {
    sv name;
    int type;
    float f;
    int64_t i;
    sv s;
    ox_tensor *t;
    VEC(float) floats;
    VEC(int64_t) ints;
} ox_attr;

typedef struct ox_node {
    sv name, op, domain;
    VEC(sv) in;
    VEC(sv) out;
    VEC(ox_attr) attrs;
} ox_node;

typedef struct ox_vinfo {
    sv name;
    int ndim;
    int64_t dims[8];
} ox_vinfo;

typedef struct ox_model {
    int64_t ir_version, opset;
    VEC(ox_node) nodes;
    VEC(ox_tensor *) inits;
    VEC(ox_vinfo) inputs, outputs;
    VEC(ox_tensor *) all_tensors; /* for freeing */
} ox_model;

#define BAD(what) return nn_fail(e, "ONNX: %s: malformed (truncated or wrong wire type)", what)

static int dec_packed_or_one_f32(pb *b, int wire, void *vec_, int is_double)
{
    VEC(float) *vec = vec_;
    if (wire == PB_LEN) {
        pb s;
        if (pb_sub(b, &s)) return -1;
        const int w = is_double ? 8 : 4;
        if ((s.end - s.p) % w) return -1;
        for (; s.p < s.end; s.p += w) {
            float x;
            if (is_double) {
                uint64_t u = rd_u64(s.p);
                double d;
                memcpy(&d, &u, 8);
                x = (float)d;
            } else
                x = rd_f32(s.p);
            VPUSH(*vec, x);
        }
        return 0;
    }
    if (wire == (is_double ? PB_I64 : PB_I32)) {
        if (b->end - b->p < (is_double ? 8 : 4)) return -1;
        float x;
        if (is_double) {
            uint64_t u = rd_u64(b->p);
            double d;
            memcpy(&d, &u, 8);
            x = (float)d;
        } else
            x = rd_f32(b->p);
        b->p += is_double ? 8 : 4;
        VPUSH(*vec, x);
        return 0;
    }
    return -1;
}

static int dec_packed_or_one_varint(pb *b, int wire, void *vec_)
{
    VEC(int64_t) *vec = vec_;
    uint64_t v;
    if (wire == PB_LEN) {
        pb s;
        if (pb_sub(b, &s)) return -1;
        while (s.p < s.end) {
            if (pb_varint(&s, &v)) return -1;
            VPUSH(*vec, (int64_t)v);
        }
        return 0;
    }
    if (wire != PB_VARINT || pb_varint(b, &v)) return -1;
    VPUSH(*vec, (int64_t)v);
    return 0;
}

static int dec_string(pb *b, int wire, sv *out)
{
    pb s;
    if (wire != PB_LEN || pb_sub(b, &s)) return -1;
    out->s = (const char *)s.p;
    out->n = (size_t)(s.end - s.p);
    return 0;
}

static int dec_tensor(pb b, ox_model *m, ox_tensor **out, nn_err *e)
{
    ox_tensor *t = nn_xcalloc(1, sizeof *t);
    VPUSH(m->all_tensors, t);
    *out = t;
    VEC(int64_t) dims = {0};
    while (b.p < b.end) {
        uint32_t f;
        int w;
        uint64_t v = 0;
        if (pb_key(&b, &f, &w)) {
            free(dims.v);
            BAD("TensorProto");
        }
        int bad = 0;
        switch (f) {
        case 1: bad = dec_packed_or_one_varint(&b, w, &dims); break;
        case 2: bad = w != PB_VARINT || pb_varint(&b, &v), t->dtype = (int)v; break;
        case 4: bad = dec_packed_or_one_f32(&b, w, &t->f, 0); break;
        case 5:
        case 7: bad = dec_packed_or_one_varint(&b, w, &t->i); break;
        case 8: bad = dec_string(&b, w, &t->name); break;
        case 9:
            bad = dec_string(&b, w, &t->raw);
            t->has_raw = 1;
            break;
        case 10: bad = dec_packed_or_one_f32(&b, w, &t->f, 1); break;
        case 13: { /* external_data: key/value entries */
            pb s;
            sv key = {0}, val = {0};
            if (w != PB_LEN || pb_sub(&b, &s)) {
                bad = 1;
                break;
            }
            while (s.p < s.end && !bad) {
                uint32_t f2;
                int w2;
                if (pb_key(&s, &f2, &w2)) bad = 1;
                else if (f2 == 1) bad = dec_string(&s, w2, &key);
                else if (f2 == 2) bad = dec_string(&s, w2, &val);
                else bad = pb_skip(&s, w2);
            }
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(val.n < 31 ? val.n : 31), val.s ? val.s : "");
            if (sv_eq(key, (sv){"location", 8})) t->location = val;
            else if (sv_eq(key, (sv){"offset", 6})) t->offset = atoll(num);
            else if (sv_eq(key, (sv){"length", 6})) t->length = atoll(num);
            break;
        }
        case 14:
            bad = w != PB_VARINT || pb_varint(&b, &v);
            t->external = v == 1;
            break;
        default: bad = pb_skip(&b, w);
        }
        if (bad) {
            free(dims.v);
            BAD("TensorProto");
        }
    }
    if (dims.n > 8) {
        free(dims.v);
        return nn_fail(e, "ONNX: tensor '%.*s' has %d dimensions (at most 8)", (int)t->name.n, t->name.s, dims.n);
    }
    t->ndim = dims.n;
    uint64_t total = 1;
    for (int k = 0; k < dims.n; k++) {
        if (dims.v[k] >= 0 && dims.v[k] <= (1 << 30)) total *= (uint64_t)(dims.v[k] ? dims.v[k] : 1);
        if (total > ((uint64_t)1 << 31)) {
            free(dims.v);
            return nn_fail(e, "ONNX: tensor '%.*s' declares more than 2^31 elements", (int)t->name.n, t->name.s);
        }
        if (dims.v[k] < 0 || dims.v[k] > (1 << 30)) {
            const long long d = (long long)dims.v[k];
            free(dims.v);
            return nn_fail(e, "ONNX: tensor '%.*s' has dimension %lld", (int)t->name.n, t->name.s, d);
        }
        t->dims[k] = dims.v[k];
    }
    free(dims.v);
    return NN_OK;
}

static int dec_attr_inner(pb b, ox_model *m, ox_attr *a, nn_err *e)
{
    memset(a, 0, sizeof *a);
    while (b.p < b.end) {
        uint32_t f;
        int w, bad = 0;
        uint64_t v = 0;
        if (pb_key(&b, &f, &w)) BAD("AttributeProto");
        switch (f) {
        case 1: bad = dec_string(&b, w, &a->name); break;
        case 2:
            if (w != PB_I32 || b.end - b.p < 4) bad = 1;
            else {
                a->f = rd_f32(b.p);
                b.p += 4;
            }
            break;
        case 3: bad = w != PB_VARINT || pb_varint(&b, &v), a->i = (int64_t)v; break;
        case 4: bad = dec_string(&b, w, &a->s); break;
        case 5: {
            pb s;
            if (w != PB_LEN || pb_sub(&b, &s)) bad = 1;
            else if (dec_tensor(s, m, &a->t, e)) return NN_ERR;
            break;
        }
        case 7: bad = dec_packed_or_one_f32(&b, w, &a->floats, 0); break;
        case 8: bad = dec_packed_or_one_varint(&b, w, &a->ints); break;
        case 20: bad = w != PB_VARINT || pb_varint(&b, &v), a->type = (int)v; break;
        default: bad = pb_skip(&b, w);
        }
        if (bad) BAD("AttributeProto");
    }
    return NN_OK;
}

static void attr_free(ox_attr *a)
{
    free(a->floats.v);
    free(a->ints.v);
}

/* On an error the partial attribute's arrays are freed here. */
static int dec_attr(pb b, ox_model *m, ox_attr *a, nn_err *e)
{
    int rc = dec_attr_inner(b, m, a, e);
    if (rc) attr_free(a);
    return rc;
}

static void node_free(ox_node *n)
{
    for (int k = 0; k < n->attrs.n; k++) attr_free(&n->attrs.v[k]);
    free(n->in.v);
    free(n->out.v);
    free(n->attrs.v);
}

static int dec_node_inner(pb b, ox_model *m, ox_node *n, nn_err *e)
{
    memset(n, 0, sizeof *n);
    while (b.p < b.end) {
        uint32_t f;
        int w, bad = 0;
        sv s;
        if (pb_key(&b, &f, &w)) BAD("NodeProto");
        switch (f) {
        case 1:
            if (!(bad = dec_string(&b, w, &s))) VPUSH(n->in, s);
            break;
        case 2:
            if (!(bad = dec_string(&b, w, &s))) VPUSH(n->out, s);
            break;
        case 3: bad = dec_string(&b, w, &n->name); break;
        case 4: bad = dec_string(&b, w, &n->op); break;
        case 7: bad = dec_string(&b, w, &n->domain); break;
        case 5: {
            pb sub;
            ox_attr a;
            if (w != PB_LEN || pb_sub(&b, &sub)) bad = 1;
            else {
                if (dec_attr(sub, m, &a, e)) return NN_ERR;
                VPUSH(n->attrs, a);
            }
            break;
        }
        default: bad = pb_skip(&b, w);
        }
        if (bad) BAD("NodeProto");
    }
    return NN_OK;
}

/* ValueInfoProto: name and (if given) the tensor shape; symbolic dims are -1. */
static int dec_node(pb b, ox_model *m, ox_node *n, nn_err *e)
{
    int rc = dec_node_inner(b, m, n, e);
    if (rc) node_free(n);
    return rc;
}

static int dec_vinfo(pb b, ox_vinfo *vi, nn_err *e)
{
    memset(vi, 0, sizeof *vi);
    while (b.p < b.end) {
        uint32_t f;
        int w;
        if (pb_key(&b, &f, &w)) BAD("ValueInfoProto");
        if (f == 1) {
            if (dec_string(&b, w, &vi->name)) BAD("ValueInfoProto.name");
        } else if (f == 2) { /* TypeProto -> tensor_type (1) -> shape (2) -> dim (1) */
            pb tp, tt, sh, dim;
            if (w != PB_LEN || pb_sub(&b, &tp)) BAD("TypeProto");
            while (tp.p < tp.end) {
                uint32_t f2;
                int w2;
                if (pb_key(&tp, &f2, &w2)) BAD("TypeProto");
                if (f2 != 1) {
                    if (pb_skip(&tp, w2)) BAD("TypeProto");
                    continue;
                }
                if (w2 != PB_LEN || pb_sub(&tp, &tt)) BAD("TypeProto.tensor_type");
                while (tt.p < tt.end) {
                    uint32_t f3;
                    int w3;
                    if (pb_key(&tt, &f3, &w3)) BAD("TypeProto.tensor_type");
                    if (f3 != 2) {
                        if (pb_skip(&tt, w3)) BAD("TypeProto.tensor_type");
                        continue;
                    }
                    if (w3 != PB_LEN || pb_sub(&tt, &sh)) BAD("TensorShapeProto");
                    while (sh.p < sh.end) {
                        uint32_t f4;
                        int w4;
                        if (pb_key(&sh, &f4, &w4)) BAD("TensorShapeProto");
                        if (f4 != 1) {
                            if (pb_skip(&sh, w4)) BAD("TensorShapeProto");
                            continue;
                        }
                        if (w4 != PB_LEN || pb_sub(&sh, &dim)) BAD("TensorShapeProto.dim");
                        int64_t val = -1;
                        while (dim.p < dim.end) {
                            uint32_t f5;
                            int w5;
                            uint64_t v;
                            if (pb_key(&dim, &f5, &w5)) BAD("Dimension");
                            if (f5 == 1 && w5 == PB_VARINT) {
                                if (pb_varint(&dim, &v)) BAD("Dimension");
                                val = (int64_t)v;
                            } else if (pb_skip(&dim, w5))
                                BAD("Dimension");
                        }
                        if (vi->ndim < 8) vi->dims[vi->ndim++] = val;
                    }
                }
            }
        } else if (pb_skip(&b, w))
            BAD("ValueInfoProto");
    }
    return NN_OK;
}

static int dec_graph(pb b, ox_model *m, nn_err *e)
{
    while (b.p < b.end) {
        uint32_t f;
        int w;
        pb s;
        if (pb_key(&b, &f, &w)) BAD("GraphProto");
        if (f == 1 || f == 5 || f == 11 || f == 12) {
            if (w != PB_LEN || pb_sub(&b, &s)) BAD("GraphProto");
            if (f == 1) {
                ox_node n;
                if (dec_node(s, m, &n, e)) return NN_ERR;
                VPUSH(m->nodes, n);
            } else if (f == 5) {
                ox_tensor *t;
                if (dec_tensor(s, m, &t, e)) return NN_ERR;
                VPUSH(m->inits, t);
            } else {
                ox_vinfo vi;
                if (dec_vinfo(s, &vi, e)) return NN_ERR;
                if (f == 11) VPUSH(m->inputs, vi);
                else VPUSH(m->outputs, vi);
            }
        } else if (pb_skip(&b, w))
            BAD("GraphProto");
    }
    return NN_OK;
}

static int dec_model(pb b, ox_model *m, nn_err *e)
{
    int have_graph = 0;
    while (b.p < b.end) {
        uint32_t f;
        int w;
        uint64_t v;
        pb s;
        if (pb_key(&b, &f, &w)) BAD("ModelProto");
        if (f == 1) {
            if (w != PB_VARINT || pb_varint(&b, &v)) BAD("ModelProto.ir_version");
            m->ir_version = (int64_t)v;
        } else if (f == 7) {
            if (w != PB_LEN || pb_sub(&b, &s)) BAD("ModelProto.graph");
            if (dec_graph(s, m, e)) return NN_ERR;
            have_graph = 1;
        } else if (f == 8) { /* opset_import: domain (1), version (2) */
            sv dom = {"", 0};
            int64_t ver = 0;
            if (w != PB_LEN || pb_sub(&b, &s)) BAD("ModelProto.opset_import");
            while (s.p < s.end) {
                uint32_t f2;
                int w2;
                if (pb_key(&s, &f2, &w2)) BAD("OperatorSetIdProto");
                if (f2 == 1) {
                    if (dec_string(&s, w2, &dom)) BAD("OperatorSetIdProto.domain");
                } else if (f2 == 2) {
                    if (w2 != PB_VARINT || pb_varint(&s, &v)) BAD("OperatorSetIdProto.version");
                    ver = (int64_t)v;
                } else if (pb_skip(&s, w2))
                    BAD("OperatorSetIdProto");
            }
            if (dom.n == 0 || sv_eq(dom, (sv){"ai.onnx", 7})) m->opset = ver;
        } else if (pb_skip(&b, w))
            BAD("ModelProto");
    }
    if (!have_graph) return nn_fail(e, "ONNX: no graph in the file (is it an ONNX model?)");
    return NN_OK;
}

static void model_free(ox_model *m)
{
    for (int i = 0; i < m->nodes.n; i++) node_free(&m->nodes.v[i]);
    for (int i = 0; i < m->all_tensors.n; i++) {
        free(m->all_tensors.v[i]->f.v);
        free(m->all_tensors.v[i]->i.v);
        free(m->all_tensors.v[i]);
    }
    free(m->all_tensors.v);
    free(m->nodes.v);
    free(m->inits.v);
    free(m->inputs.v);
    free(m->outputs.v);
}

/* ---- mapping to the Graph IR ---- */

/* A value: the output of a Graph node, or a constant (floats, or int64s
 * for shape arithmetic; OX_BATCH marks the unknown batch size). */
#define OX_BATCH INT64_MIN
typedef struct val {
    sv name;
    int node; /* >= 0: graph node */
    int ndim; /* constants */
    int64_t dims[8];
    float *f;
    int64_t *i;
    size_t n;
} val;

typedef struct pending {
    char name[NN_NAME_LEN + 32];
    float *data; /* owned */
    size_t n;
} pending;

typedef struct mapper {
    ox_model *m;
    const char *dir;
    nn_graph *g;
    VEC(val *) vals; /* pointers: entries stay put while the table grows */
    VEC(pending) params;
    const uint8_t *ext_buf; /* unused: external data is read per tensor */
} mapper;

static val *find_val(mapper *mp, sv name)
{
    for (int i = mp->vals.n - 1; i >= 0; i--)
        if (sv_eq(mp->vals.v[i]->name, name)) return mp->vals.v[i];
    return NULL;
}

static void push_val(mapper *mp, val v)
{
    val *p = nn_xmalloc(sizeof *p);
    *p = v;
    VPUSH(mp->vals, p);
}

/* float -> int64 without undefined behaviour on NaN or out-of-range values */
static int64_t f2i(double x) { return x == x && x > -9.2e18 && x < 9.2e18 ? (int64_t)x : 0; }

static size_t numel_of(int ndim, const int64_t *d)
{
    size_t n = 1;
    for (int k = 0; k < ndim; k++) n *= (size_t)d[k];
    return n;
}

/* Materialise a tensor's values as float (and int64 for integer types). */
static int tensor_values(mapper *mp, const ox_tensor *t, float **fo, int64_t **io, size_t *no, nn_err *e)
{
    const size_t n = numel_of(t->ndim, t->dims);
    const int isf = t->dtype == OX_FLOAT || t->dtype == OX_DOUBLE;
    const int isi = t->dtype == OX_INT64 || t->dtype == OX_INT32;
    if (!isf && !isi)
        return nn_fail(e, "ONNX: tensor '%.*s': data type %d is not supported (float, double, int32, int64)", (int)t->name.n,
                       t->name.s, t->dtype);
    const int esz = t->dtype == OX_FLOAT || t->dtype == OX_INT32 ? 4 : 8;
    /* the declared shape must match the stored values before anything is allocated */
    if (!t->external) {
        const size_t have = t->has_raw ? t->raw.n / (size_t)esz : (isf ? (size_t)t->f.n : (size_t)t->i.n);
        if (have != n || (t->has_raw && t->raw.n % (size_t)esz))
            return nn_fail(e, "ONNX: tensor '%.*s': its data does not match its shape (%zu values)", (int)t->name.n,
                           t->name.s, n);
    }
    float *f = nn_xmalloc((n ? n : 1) * sizeof(float));
    int64_t *iv = nn_xmalloc((n ? n : 1) * sizeof(int64_t));
    const uint8_t *raw = NULL;
    size_t rawn = 0;
    char *ext = NULL;
    if (t->external) {
        if (!mp->dir) {
            free(f);
            free(iv);
            return nn_fail(e, "ONNX: tensor '%.*s' has external data, but the model was not read from a file",
                           (int)t->name.n, t->name.s);
        }
        char path[1200], loc[600];
        snprintf(loc, sizeof loc, "%.*s", (int)t->location.n, t->location.s ? t->location.s : "");
        if (!loc[0] || strstr(loc, "..") || loc[0] == '/') {
            free(f);
            free(iv);
            return nn_fail(e, "ONNX: tensor '%.*s': external data location '%s' must be a file beside the model",
                           (int)t->name.n, t->name.s, loc);
        }
        snprintf(path, sizeof path, "%s/%s", mp->dir, loc);
        size_t len;
        ext = nn_read_file(path, &len, e);
        if (!ext) {
            free(f);
            free(iv);
            return NN_ERR;
        }
        size_t want = t->length ? (size_t)t->length : n * esz;
        if (t->offset < 0 || (size_t)t->offset > len || want > len - (size_t)t->offset) {
            free(ext);
            free(f);
            free(iv);
            return nn_fail(e, "ONNX: tensor '%.*s': external data past the end of %s", (int)t->name.n, t->name.s, path);
        }
        raw = (const uint8_t *)ext + t->offset;
        rawn = want;
    } else if (t->has_raw) {
        raw = (const uint8_t *)t->raw.s;
        rawn = t->raw.n;
    }
    if (raw) {
        if (rawn != n * esz) {
            free(ext);
            free(f);
            free(iv);
            return nn_fail(e, "ONNX: tensor '%.*s': raw_data has %zu bytes, its shape needs %zu", (int)t->name.n,
                           t->name.s, rawn, n * esz);
        }
        for (size_t k = 0; k < n; k++) {
            const uint8_t *p = raw + k * esz;
            if (t->dtype == OX_FLOAT) f[k] = rd_f32(p), iv[k] = f2i(f[k]);
            else if (t->dtype == OX_DOUBLE) {
                uint64_t u = rd_u64(p);
                double d;
                memcpy(&d, &u, 8);
                f[k] = (float)d, iv[k] = f2i(d);
            } else if (t->dtype == OX_INT32) {
                int32_t x = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
                iv[k] = x, f[k] = (float)x;
            } else
                iv[k] = (int64_t)rd_u64(p), f[k] = (float)iv[k];
        }
    } else {
        size_t have = isf ? (size_t)t->f.n : (size_t)t->i.n;
        if (have != n) {
            free(f);
            free(iv);
            return nn_fail(e, "ONNX: tensor '%.*s': %zu values for a shape of %zu", (int)t->name.n, t->name.s, have, n);
        }
        for (size_t k = 0; k < n; k++) {
            if (isf) f[k] = t->f.v[k], iv[k] = f2i(t->f.v[k]);
            else iv[k] = t->i.v[k], f[k] = (float)t->i.v[k];
        }
    }
    free(ext);
    *fo = f;
    *io = iv;
    *no = n;
    return NN_OK;
}

static int add_const(mapper *mp, sv name, const ox_tensor *t, nn_err *e)
{
    val v = {.name = name, .node = -1, .ndim = t->ndim};
    memcpy(v.dims, t->dims, sizeof v.dims);
    if (tensor_values(mp, t, &v.f, &v.i, &v.n, e)) return NN_ERR;
    push_val(mp, v);
    return NN_OK;
}

static const ox_attr *attr(const ox_node *n, const char *name)
{
    sv s = {name, strlen(name)};
    for (int k = 0; k < n->attrs.n; k++)
        if (sv_eq(n->attrs.v[k].name, s)) return &n->attrs.v[k];
    return NULL;
}

static int64_t attr_i(const ox_node *n, const char *name, int64_t def)
{
    const ox_attr *a = attr(n, name);
    return a ? a->i : def;
}

static float attr_f(const ox_node *n, const char *name, float def)
{
    const ox_attr *a = attr(n, name);
    return a ? a->f : def;
}

/* All entries of an ints attribute equal (e.g. square kernels): that value,
 * or def when absent; -1 when they differ. */
static int64_t attr_same(const ox_node *n, const char *name, int64_t def)
{
    const ox_attr *a = attr(n, name);
    if (!a || !a->ints.n) return def;
    for (int k = 1; k < a->ints.n; k++)
        if (a->ints.v[k] != a->ints.v[0]) return -1;
    return a->ints.v[0];
}

#define NODE_FAIL(fmt, ...)                                                                                            \
    nn_fail(e, "ONNX node '%.*s' (%.*s): " fmt, (int)n->name.n, n->name.s, (int)n->op.n, n->op.s, ##__VA_ARGS__)

/* An IR node name from the ONNX node's name (or its first output):
 * "/layers/layers.0/a/Conv" -> "layers.layers.0.a.Conv", unique, short. */
static void ir_name(mapper *mp, const ox_node *n, char *out)
{
    sv s = n->name.n ? n->name : (n->out.n ? n->out.v[0] : (sv){"node", 4});
    char buf[NN_NAME_LEN];
    size_t k = 0;
    for (size_t i = 0; i < s.n && k < NN_NAME_LEN - 8; i++) {
        char c = s.s[i];
        if (c == '/' && k == 0) continue;
        buf[k++] = (c == '/' || c == ' ' || c == ':' || (unsigned char)c < 32) ? '.' : c;
    }
    buf[k] = 0;
    if (!k) snprintf(buf, sizeof buf, "node");
    snprintf(out, NN_NAME_LEN, "%s", buf);
    for (int u = 1; nn_graph_find(mp->g, out) >= 0 && u < 100000; u++)
        snprintf(out, NN_NAME_LEN, "%.*s_%d", NN_NAME_LEN - 12, buf, u);
}

/* Input k as a graph node (error if it is a constant or unknown). */
static int in_node(mapper *mp, const ox_node *n, int k, nn_err *e)
{
    if (k >= n->in.n || !n->in.v[k].n) return NODE_FAIL("input %d is missing", k), -1;
    val *v = find_val(mp, n->in.v[k]);
    if (!v) return NODE_FAIL("input '%.*s' is not produced by any earlier node, input or initializer", (int)n->in.v[k].n, n->in.v[k].s), -1;
    if (v->node < 0) return NODE_FAIL("input '%.*s' is a constant; this op needs a computed tensor there", (int)n->in.v[k].n, n->in.v[k].s), -1;
    return v->node;
}

/* Input k as a constant (NULL + error if not), optionally absent. */
static val *in_const(mapper *mp, const ox_node *n, int k, int optional, nn_err *e)
{
    if (k >= n->in.n || !n->in.v[k].n) {
        if (!optional) NODE_FAIL("input %d is missing", k);
        return NULL;
    }
    val *v = find_val(mp, n->in.v[k]);
    if (!v) {
        NODE_FAIL("input '%.*s' is missing (no initializer or earlier node of that name)", (int)n->in.v[k].n, n->in.v[k].s);
        return NULL;
    }
    if (v->node >= 0) {
        NODE_FAIL("input '%.*s' must be a constant (an initializer) here", (int)n->in.v[k].n, n->in.v[k].s);
        return NULL;
    }
    return v;
}

static void set_out(mapper *mp, const ox_node *n, int k, int node)
{
    if (k >= n->out.n) return;
    val v = {.name = n->out.v[k], .node = node};
    push_val(mp, v);
}

static int add_ir(mapper *mp, const ox_node *n, nn_gnode *gn, nn_err *e)
{
    int idx = nn_g_add_node(mp->g, gn);
    if (nn_graph_infer_node(mp->g, idx, e)) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        return NODE_FAIL("%.600s", m), -1;
    }
    set_out(mp, n, 0, idx);
    return idx;
}

static void add_param(mapper *mp, const char *node, const char *suffix, const float *src, size_t cnt)
{
    pending p;
    snprintf(p.name, sizeof p.name, "%s.%s", node, suffix);
    p.data = nn_xmalloc((cnt ? cnt : 1) * sizeof(float));
    memcpy(p.data, src, cnt * sizeof(float));
    p.n = cnt;
    VPUSH(mp->params, p);
}

/* A constant that broadcasts per channel against a [C, ...] tensor: a scalar,
 * or C values shaped [C], [C,1,1], [1,C], [1,C,1,1]. Fills out[C]; -1 if not. */
static int per_channel(const val *v, int C, int spatial, float *out)
{
    if (v->n == 1) {
        for (int c = 0; c < C; c++) out[c] = v->f[0];
        return 0;
    }
    if (v->n != (size_t)C) return -1;
    int64_t d[4] = {1, 1, 1, 1};
    int nd = v->ndim;
    if (nd > 4) return -1;
    for (int k = 0; k < nd; k++) d[4 - nd + k] = v->dims[k];
    /* aligned from the right against [N, C, H, W] (or [N, C]) */
    const int ok = spatial ? d[0] == 1 && d[1] == C && d[2] == 1 && d[3] == 1 : d[0] == 1 && d[1] == 1 && d[2] == 1 && d[3] == C;
    if (!ok) return -1;
    memcpy(out, v->f, (size_t)C * sizeof(float));
    return 0;
}

/* Mul/Div/Sub/Add of a computed tensor and a per-channel constant:
 * y = x * scale + shift, as one channel_affine node. */
static int map_affine(mapper *mp, const ox_node *n, const char *name, nn_err *e)
{
    nn_graph *g = mp->g;
    val *a = n->in.n > 1 ? find_val(mp, n->in.v[0]) : NULL, *b = n->in.n > 1 ? find_val(mp, n->in.v[1]) : NULL;
    if (!a || !b) return NODE_FAIL("an input is missing");
    const int x_first = a->node >= 0;
    val *x = x_first ? a : b, *k = x_first ? b : a;
    if (x->node < 0 || k->node >= 0) return NODE_FAIL("needs one computed tensor and one constant");
    const nn_gnode *gx = &g->nodes[x->node];
    const int C = gx->shape[0];
    float *c = nn_xmalloc((size_t)C * sizeof(float)), *sc = nn_xmalloc((size_t)C * sizeof(float)),
          *sh = nn_xmalloc((size_t)C * sizeof(float));
    int rc = NN_ERR;
    if (per_channel(k, C, gx->ndim == 3, c)) {
        NODE_FAIL("the constant does not broadcast per channel over [%d, ...]", C);
        goto out;
    }
    for (int i = 0; i < C; i++) {
        const char o = n->op.s[0]; /* M(ul) D(iv) S(ub) A(dd) */
        if (o == 'M') sc[i] = c[i], sh[i] = 0.0f;
        else if (o == 'A') sc[i] = 1.0f, sh[i] = c[i];
        else if (o == 'S') sc[i] = x_first ? 1.0f : -1.0f, sh[i] = x_first ? -c[i] : c[i];
        else if (x_first && c[i] != 0.0f) sc[i] = 1.0f / c[i], sh[i] = 0.0f;
        else {
            NODE_FAIL("only division of a tensor by a non-zero constant is supported");
            goto out;
        }
    }
    /* (x - m) / s * a + b: chains of constants fold into the previous affine node
     * when nothing else reads its output */
    if (gx->op == NN_OP_CHANNEL_AFFINE && x->node == g->n - 1) {
        int uses = 0;
        for (int i = 0; i < mp->m->nodes.n; i++)
            for (int q = 0; q < mp->m->nodes.v[i].in.n; q++) uses += sv_eq(mp->m->nodes.v[i].in.v[q], x->name);
        pending *ps = NULL, *pb = NULL;
        char want[NN_NAME_LEN + 40];
        for (int i = 0; i < mp->params.n; i++) {
            snprintf(want, sizeof want, "%s.scale", gx->name);
            if (!strcmp(mp->params.v[i].name, want)) ps = &mp->params.v[i];
            snprintf(want, sizeof want, "%s.shift", gx->name);
            if (!strcmp(mp->params.v[i].name, want)) pb = &mp->params.v[i];
        }
        if (uses == 1 && ps && pb) {
            for (int i = 0; i < C; i++) {
                ps->data[i] *= sc[i];
                pb->data[i] = pb->data[i] * sc[i] + sh[i];
            }
            set_out(mp, n, 0, x->node);
            rc = NN_OK;
            goto out;
        }
    }
    nn_gnode gn = nn_gnode_default(name, NN_OP_CHANNEL_AFFINE, x->node);
    if (add_ir(mp, n, &gn, e) < 0) goto out;
    add_param(mp, name, "scale", sc, (size_t)C);
    add_param(mp, name, "shift", sh, (size_t)C);
    rc = NN_OK;
out:
    free(c);
    free(sc);
    free(sh);
    return rc;
}

static int map_node(mapper *mp, const ox_node *n, nn_err *e)
{
    char name[NN_NAME_LEN];
    nn_graph *g = mp->g;
    const sv op = n->op;
#define IS(s) sv_eq(op, (sv){s, sizeof(s) - 1})
    if (n->domain.n && !sv_eq(n->domain, (sv){"ai.onnx", 7}))
        return NODE_FAIL("domain '%.*s' is not supported (only the default ONNX domain)", (int)n->domain.n, n->domain.s);
    if (!n->out.n || !n->out.v[0].n) return NODE_FAIL("has no output");
    if (IS("Constant")) {
        const ox_attr *a = attr(n, "value");
        if (!a || !a->t) return NODE_FAIL("only tensor-valued Constant nodes are supported");
        return n->out.n ? add_const(mp, n->out.v[0], a->t, e) : NN_OK;
    }
    if (IS("Identity") || IS("Dropout")) {
        val *v = n->in.n ? find_val(mp, n->in.v[0]) : NULL;
        if (!v) return NODE_FAIL("input is missing");
        if (!n->out.n) return NN_OK;
        val c = *v;
        c.name = n->out.v[0];
        push_val(mp, c); /* an alias (constants share their arrays: freed once, by the original) */
        return NN_OK;
    }
    if (IS("Shape")) { /* per-sample shape known statically; the batch stays symbolic */
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        const nn_gnode *gx = &g->nodes[x];
        val v = {.name = n->out.v[0], .node = -1, .ndim = 1};
        v.n = (size_t)gx->ndim + 1;
        v.dims[0] = (int64_t)v.n;
        v.i = nn_xmalloc(v.n * sizeof(int64_t));
        v.f = nn_xcalloc(v.n, sizeof(float));
        v.i[0] = OX_BATCH;
        for (int k = 0; k < gx->ndim; k++) v.i[k + 1] = gx->shape[k];
        push_val(mp, v);
        return NN_OK;
    }
    if (IS("Gather") || IS("Unsqueeze") || IS("Squeeze") || IS("Cast")) { /* shape arithmetic on constants */
        val *a = in_const(mp, n, 0, 0, e);
        if (!a) return NN_ERR;
        val v = {.name = n->out.v[0], .node = -1};
        if (IS("Gather")) {
            val *ix = in_const(mp, n, 1, 0, e);
            if (!ix) return NN_ERR;
            if (a->ndim != 1 || attr_i(n, "axis", 0) != 0) return NODE_FAIL("only 1-D gathers of shapes are supported");
            v.n = ix->n;
            v.ndim = ix->ndim;
            memcpy(v.dims, ix->dims, sizeof v.dims);
            v.i = nn_xmalloc((v.n ? v.n : 1) * sizeof(int64_t));
            v.f = nn_xcalloc(v.n ? v.n : 1, sizeof(float));
            for (size_t k = 0; k < v.n; k++) {
                int64_t j = ix->i[k] < 0 ? ix->i[k] + (int64_t)a->n : ix->i[k];
                if (j < 0 || j >= (int64_t)a->n) {
                    free(v.i);
                    free(v.f);
                    return NODE_FAIL("index %lld is out of range", (long long)ix->i[k]);
                }
                v.i[k] = a->i[j];
                v.f[k] = a->f[j];
            }
        } else { /* values unchanged (Cast keeps both the float and integer views) */
            v.n = a->n;
            v.ndim = IS("Cast") ? a->ndim : 1;
            memcpy(v.dims, a->dims, sizeof v.dims);
            if (!IS("Cast")) v.dims[0] = (int64_t)a->n;
            v.i = nn_xmalloc((v.n ? v.n : 1) * sizeof(int64_t));
            v.f = nn_xmalloc((v.n ? v.n : 1) * sizeof(float));
            memcpy(v.i, a->i, v.n * sizeof(int64_t));
            memcpy(v.f, a->f, v.n * sizeof(float));
        }
        push_val(mp, v);
        return NN_OK;
    }
    if (IS("Concat") && n->in.n >= 1) { /* all constant: shape arithmetic ([batch] ++ [-1]) */
        int all = 1;
        for (int k = 0; k < n->in.n && all; k++) {
            val *v = find_val(mp, n->in.v[k]);
            all = v && v->node < 0 && v->ndim <= 1;
        }
        if (all) {
            val v = {.name = n->out.v[0], .node = -1, .ndim = 1};
            for (int k = 0; k < n->in.n; k++) v.n += find_val(mp, n->in.v[k])->n;
            v.dims[0] = (int64_t)v.n;
            v.i = nn_xmalloc((v.n ? v.n : 1) * sizeof(int64_t));
            v.f = nn_xcalloc(v.n ? v.n : 1, sizeof(float));
            size_t o = 0;
            for (int k = 0; k < n->in.n; k++) {
                val *a = find_val(mp, n->in.v[k]);
                memcpy(v.i + o, a->i, a->n * sizeof(int64_t));
                for (size_t q = 0; q < a->n; q++) v.f[o + q] = a->f[q];
                o += a->n;
            }
            push_val(mp, v);
            return NN_OK;
        }
    }
    if (IS("Pad")) { /* PyTorch puts an all-zero Pad before some poolings */
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        const ox_attr *pa = attr(n, "pads"); /* opset < 11 */
        val *pv = in_const(mp, n, 1, 1, e);
        int zero = 1;
        if (pa) for (int k = 0; k < pa->ints.n; k++) zero &= pa->ints.v[k] == 0;
        if (pv) for (size_t k = 0; k < pv->n; k++) zero &= pv->i[k] == 0;
        if (!pa && !pv) return NODE_FAIL("pads are missing");
        if (!zero) return NODE_FAIL("only all-zero Pad is supported (pad inside Conv/pooling instead)");
        set_out(mp, n, 0, x);
        return NN_OK;
    }
    ir_name(mp, n, name);
    if (IS("Conv")) {
        int x = in_node(mp, n, 0, e);
        val *w = x >= 0 ? in_const(mp, n, 1, 0, e) : NULL;
        if (!w) return NN_ERR;
        val *b = in_const(mp, n, 2, 1, e);
        if (!b && n->in.n > 2 && n->in.v[2].n) return NN_ERR;
        if (w->ndim != 4 || w->dims[2] != w->dims[3]) return NODE_FAIL("only 2-D convolutions with square kernels are supported");
        const int64_t st = attr_same(n, "strides", 1), dil = attr_same(n, "dilations", 1), grp = attr_i(n, "group", 1);
        int64_t pad = attr_same(n, "pads", 0);
        if (st < 1 || dil < 1 || pad < 0) return NODE_FAIL("strides, dilations and pads must be equal along both axes and both sides");
        const ox_attr *ap = attr(n, "auto_pad");
        const int k = (int)w->dims[2];
        if (ap && ap->s.n && !sv_eq(ap->s, (sv){"NOTSET", 6})) {
            if (sv_eq(ap->s, (sv){"VALID", 5})) pad = 0;
            else if (st == 1 && (dil * (k - 1)) % 2 == 0) pad = dil * (k - 1) / 2; /* SAME with a symmetric split */
            else return NODE_FAIL("auto_pad %.*s needs asymmetric padding, which is not supported", (int)ap->s.n, ap->s.s);
        }
        nn_gnode gn = nn_gnode_default(name, NN_OP_CONV, x);
        gn.out_channels = (int)w->dims[0];
        gn.kernel = k;
        gn.stride = (int)st;
        gn.pad = (int)pad;
        gn.dilation = (int)dil;
        gn.groups = (int)grp;
        gn.bias = b != NULL;
        if (b && b->n != (size_t)w->dims[0]) return NODE_FAIL("bias has %zu values for %lld output channels", b->n, (long long)w->dims[0]);
        if (g->nodes[x].ndim == 3 && w->dims[1] * grp != g->nodes[x].shape[0])
            return NODE_FAIL("weight expects %lld input channels, the input has %d", (long long)(w->dims[1] * grp), g->nodes[x].shape[0]);
        if (add_ir(mp, n, &gn, e) < 0) return NN_ERR;
        add_param(mp, name, "weight", w->f, w->n);
        if (b) add_param(mp, name, "bias", b->f, b->n);
        return NN_OK;
    }
    if (IS("BatchNormalization")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        val *p[4];
        for (int k = 0; k < 4; k++)
            if (!(p[k] = in_const(mp, n, 1 + k, 0, e))) return NN_ERR;
        const int C = g->nodes[x].shape[0];
        for (int k = 0; k < 4; k++)
            if (p[k]->n != (size_t)C) return NODE_FAIL("input %d has %zu values for %d channels", 1 + k, p[k]->n, C);
        nn_gnode gn = nn_gnode_default(name, NN_OP_BN, x);
        gn.eps = attr_f(n, "epsilon", 1e-5f);
        gn.momentum = 1.0f - attr_f(n, "momentum", 0.9f); /* ONNX keeps, PyTorch replaces */
        if (add_ir(mp, n, &gn, e) < 0) return NN_ERR;
        add_param(mp, name, "weight", p[0]->f, p[0]->n);
        add_param(mp, name, "bias", p[1]->f, p[1]->n);
        add_param(mp, name, "running_mean", p[2]->f, p[2]->n);
        add_param(mp, name, "running_var", p[3]->f, p[3]->n);
        return NN_OK;
    }
    if (IS("Mul")) { /* x * HardSigmoid(x; 1/6, 1/2) is HardSwish (PyTorch's export before opset 14) */
        val *a = n->in.n > 1 ? find_val(mp, n->in.v[0]) : NULL, *b = n->in.n > 1 ? find_val(mp, n->in.v[1]) : NULL;
        if (!a || !b) return NODE_FAIL("an input is missing");
        for (int t = 0; t < 2 && a->node >= 0 && b->node >= 0; t++) {
            val *x = t ? b : a, *gate = t ? a : b;
            nn_gnode *hs = &g->nodes[gate->node];
            int uses = 0;
            for (int i = 0; i < mp->m->nodes.n; i++)
                for (int k = 0; k < mp->m->nodes.v[i].in.n; k++) uses += sv_eq(mp->m->nodes.v[i].in.v[k], gate->name);
            if (hs->op == NN_OP_HARDSIGMOID && hs->in[0] == x->node && gate->node == g->n - 1 && uses == 1 &&
                fabsf(hs->alpha - 1.0f / 6.0f) < 1e-6f && hs->beta == 0.5f) {
                hs->op = NN_OP_HARDSWISH; /* rewrite the gate in place: nothing else reads it */
                set_out(mp, n, 0, gate->node);
                return NN_OK;
            }
        }
        if (a->node >= 0 && b->node >= 0) return NODE_FAIL("Mul of two computed tensors is supported only as x * HardSigmoid(x) (HardSwish)");
        return map_affine(mp, n, name, e);
    }
    if (IS("Div") || IS("Sub")) {
        val *a = n->in.n > 1 ? find_val(mp, n->in.v[0]) : NULL, *b = n->in.n > 1 ? find_val(mp, n->in.v[1]) : NULL;
        if (!a || !b) return NODE_FAIL("an input is missing");
        if ((a->node >= 0) == (b->node >= 0)) return NODE_FAIL("needs one computed tensor and one constant");
        return map_affine(mp, n, name, e);
    }
    if (IS("HardSigmoid") || IS("HardSwish")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        nn_gnode gn = nn_gnode_default(name, IS("HardSwish") ? NN_OP_HARDSWISH : NN_OP_HARDSIGMOID, x);
        gn.alpha = attr_f(n, "alpha", 0.2f);
        gn.beta = attr_f(n, "beta", 0.5f);
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
    if (IS("Relu") || IS("Sigmoid") || IS("Tanh") || IS("LeakyRelu") || IS("Clip")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        nn_op_kind k = IS("Relu") ? NN_OP_RELU : IS("Sigmoid") ? NN_OP_SIGMOID : IS("Tanh") ? NN_OP_TANH : NN_OP_LEAKY_RELU;
        nn_gnode gn = nn_gnode_default(name, k, x);
        if (IS("LeakyRelu")) gn.slope = attr_f(n, "alpha", 0.01f);
        if (IS("Clip")) {
            float lo = attr_f(n, "min", -INFINITY), hi = attr_f(n, "max", INFINITY); /* opset < 11 */
            val *a = in_const(mp, n, 1, 1, e), *b = in_const(mp, n, 2, 1, e);
            if ((n->in.n > 1 && n->in.v[1].n && !a) || (n->in.n > 2 && n->in.v[2].n && !b)) return NN_ERR;
            if (a) lo = a->f[0];
            if (b) hi = b->f[0];
            if (lo == 0.0f && hi == 6.0f) gn.op = NN_OP_RELU6;
            else if (lo == 0.0f && isinf(hi)) gn.op = NN_OP_RELU;
            else if (isfinite(lo) && isfinite(hi)) gn.op = NN_OP_HARDTANH, gn.lo = lo, gn.hi = hi;
            else return NODE_FAIL("Clip with only one finite bound (other than ReLU) is not supported");
        }
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
    if (IS("Add")) {
        val *a = n->in.n > 0 ? find_val(mp, n->in.v[0]) : NULL, *b = n->in.n > 1 ? find_val(mp, n->in.v[1]) : NULL;
        if (!a || !b) return NODE_FAIL("an input is missing");
        if (a->node >= 0 && b->node >= 0) {
            nn_gnode gn = nn_gnode_default(name, NN_OP_ADD, a->node);
            gn.in[1] = b->node;
            gn.nin = 2;
            return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
        }
        val *x = a->node >= 0 ? a : b, *c = a->node >= 0 ? b : a;
        nn_gnode *lin = x->node >= 0 ? &g->nodes[x->node] : NULL;
        if (lin && lin->op == NN_OP_LINEAR && !lin->bias && lin->consumers == 0 && c->n == (size_t)lin->out_channels) {
            lin->bias = 1; /* MatMul + Add = a linear layer with bias */
            add_param(mp, lin->name, "bias", c->f, c->n);
            set_out(mp, n, 0, x->node);
            return NN_OK;
        }
        return map_affine(mp, n, name, e);
    }
    if (IS("MaxPool") || IS("AveragePool")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        const int64_t k = attr_same(n, "kernel_shape", -1), st = attr_same(n, "strides", 1), pad = attr_same(n, "pads", 0);
        if (k < 1 || st < 1 || pad < 0) return NODE_FAIL("pooling needs square kernels and equal strides/pads");
        if (attr_i(n, "ceil_mode", 0)) return NODE_FAIL("ceil_mode 1 is not supported");
        if (attr_same(n, "dilations", 1) != 1) return NODE_FAIL("dilated pooling is not supported");
        const ox_attr *ap = attr(n, "auto_pad");
        if (ap && ap->s.n && !sv_eq(ap->s, (sv){"NOTSET", 6}) && !sv_eq(ap->s, (sv){"VALID", 5}))
            return NODE_FAIL("auto_pad SAME is not supported for pooling");
        nn_gnode gn = nn_gnode_default(name, IS("MaxPool") ? NN_OP_MAXPOOL : NN_OP_AVGPOOL, x);
        gn.kernel = (int)k;
        gn.stride = (int)st;
        gn.pad = (int)pad;
        gn.count_include_pad = (int)attr_i(n, "count_include_pad", 0);
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
    if (IS("GlobalAveragePool")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        nn_gnode gn = nn_gnode_default(name, NN_OP_GAP, x);
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
    if (IS("Flatten") || IS("Reshape")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        const nn_gnode *gx = &g->nodes[x];
        const int64_t per = (int64_t)nn_shape_numel(gx->ndim, gx->shape);
        if (IS("Flatten")) {
            if (attr_i(n, "axis", 1) != 1) return NODE_FAIL("only axis 1 (keep the batch) is supported");
        } else { /* a reshape that keeps the batch and flattens the rest */
            val *s = in_const(mp, n, 1, 0, e);
            if (!s) return NN_ERR;
            int ok = s->n == 2 && (s->i[0] == OX_BATCH || s->i[0] == 0 || s->i[0] == -1) &&
                     (s->i[1] == -1 || s->i[1] == per) && !(s->i[0] == -1 && s->i[1] == -1);
            if (!ok) return NODE_FAIL("only reshapes to [batch, -1] (flatten) are supported");
        }
        if (gx->ndim == 1) { /* already a vector here (GAP gives [C]): nothing to do */
            set_out(mp, n, 0, x);
            return NN_OK;
        }
        nn_gnode gn = nn_gnode_default(name, NN_OP_FLATTEN, x);
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
    if (IS("Gemm") || IS("MatMul")) {
        int x = in_node(mp, n, 0, e);
        val *w = x >= 0 ? in_const(mp, n, 1, 0, e) : NULL;
        if (!w) return NN_ERR;
        if (g->nodes[x].ndim != 1) return NODE_FAIL("needs a flattened [batch, features] input");
        if (w->ndim != 2) return NODE_FAIL("weight must be 2-D");
        const int transA = IS("Gemm") ? (int)attr_i(n, "transA", 0) : 0, transB = IS("Gemm") ? (int)attr_i(n, "transB", 0) : 0;
        const float alpha = IS("Gemm") ? attr_f(n, "alpha", 1.0f) : 1.0f, beta = IS("Gemm") ? attr_f(n, "beta", 1.0f) : 1.0f;
        if (transA) return NODE_FAIL("transA is not supported");
        const int64_t in = transB ? w->dims[1] : w->dims[0], out = transB ? w->dims[0] : w->dims[1];
        if (in != g->nodes[x].shape[0]) return NODE_FAIL("weight expects %lld features, the input has %d", (long long)in, g->nodes[x].shape[0]);
        val *b = IS("Gemm") ? in_const(mp, n, 2, 1, e) : NULL;
        if (IS("Gemm") && !b && n->in.n > 2 && n->in.v[2].n) return NN_ERR;
        if (b && b->n != (size_t)out) return NODE_FAIL("bias has %zu values for %lld outputs", b->n, (long long)out);
        nn_gnode gn = nn_gnode_default(name, NN_OP_LINEAR, x);
        gn.out_channels = (int)out;
        gn.bias = b != NULL;
        if (add_ir(mp, n, &gn, e) < 0) return NN_ERR;
        float *wt = nn_xmalloc(w->n * sizeof(float)); /* our layout: [out, in] */
        for (int64_t o = 0; o < out; o++)
            for (int64_t i = 0; i < in; i++) wt[o * in + i] = alpha * (transB ? w->f[o * in + i] : w->f[i * out + o]);
        add_param(mp, name, "weight", wt, w->n);
        free(wt);
        if (b) {
            float *bb = nn_xmalloc(b->n * sizeof(float));
            for (size_t k = 0; k < b->n; k++) bb[k] = beta * b->f[k];
            add_param(mp, name, "bias", bb, b->n);
            free(bb);
        }
        return NN_OK;
    }
    if (IS("Concat")) {
        if (attr_i(n, "axis", 0) != 1) return NODE_FAIL("only concatenation along channels (axis 1) is supported");
        if (n->in.n < 1 || n->in.n > NN_MAX_INPUTS) return NODE_FAIL("%d inputs (1 to %d supported)", n->in.n, NN_MAX_INPUTS);
        int ins[NN_MAX_INPUTS];
        for (int k = 0; k < n->in.n; k++)
            if ((ins[k] = in_node(mp, n, k, e)) < 0) return NN_ERR;
        nn_gnode gn = nn_gnode_default(name, NN_OP_CONCAT, ins[0]);
        for (int k = 0; k < n->in.n; k++) gn.in[k] = ins[k];
        gn.nin = n->in.n;
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
    if (IS("Resize") || IS("Upsample")) {
        int x = in_node(mp, n, 0, e);
        if (x < 0) return NN_ERR;
        const ox_attr *md = attr(n, "mode");
        const int linear = md && (sv_eq(md->s, (sv){"linear", 6}) || sv_eq(md->s, (sv){"bilinear", 8}));
        if (md && !linear && !sv_eq(md->s, (sv){"nearest", 7})) return NODE_FAIL("mode '%.*s' is not supported", (int)md->s.n, md->s.s);
        /* scales: Upsample input 1; Resize input 2 (opset >= 11), or sizes in input 3 */
        val *sc = in_const(mp, n, IS("Upsample") ? 1 : 2, 1, e);
        double s = 0;
        if (sc && sc->n == 4) s = sc->f[2] == sc->f[3] && sc->f[0] == 1.0f && sc->f[1] == 1.0f ? sc->f[2] : -1;
        else {
            val *sz = IS("Resize") ? in_const(mp, n, 3, 1, e) : NULL;
            const nn_gnode *gx = &g->nodes[x];
            if (sz && sz->n == 4 && gx->ndim == 3 && sz->i[2] % gx->shape[1] == 0 && sz->i[2] / gx->shape[1] == sz->i[3] / gx->shape[2] &&
                sz->i[3] % gx->shape[2] == 0)
                s = (double)(sz->i[2] / gx->shape[1]);
        }
        if (s < 1 || s != floor(s)) return NODE_FAIL("only integer scale factors equal on both axes are supported");
        nn_gnode gn = nn_gnode_default(name, linear ? NN_OP_UPSAMPLE_BILINEAR : NN_OP_UPSAMPLE_NEAREST, x);
        gn.scale = (int)s;
        return add_ir(mp, n, &gn, e) < 0 ? NN_ERR : NN_OK;
    }
#undef IS
    return NODE_FAIL("op '%.*s' is not supported (supported: Conv, BatchNormalization, Relu, Clip, LeakyRelu, Sigmoid, "
                     "Tanh, HardSigmoid, HardSwish, Add, Mul, Sub, Div (by constants),  MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Concat, "
                     "Resize, Upsample, Identity, Dropout, Pad (zero), Constant, Shape, Gather, Unsqueeze, Squeeze, Cast)",
                     (int)n->op.n, n->op.s);
}

static nn_graph *map_model(ox_model *m, const char *dir, nn_err *e)
{
    mapper mp = {.m = m, .dir = dir};
    nn_graph *g = NULL;
    if (m->opset && (m->opset < 7 || m->opset > 18)) {
        nn_fail(e, "ONNX: opset %lld is not supported (7 to 18; tested with 11 to 17)", (long long)m->opset);
        return NULL;
    }
    for (int i = 0; i < m->inits.n; i++)
        if (add_const(&mp, m->inits.v[i]->name, m->inits.v[i], e)) goto fail;
    /* the image input: the first graph input that is not an initializer */
    const ox_vinfo *in = NULL;
    for (int i = 0; i < m->inputs.n && !in; i++)
        if (!find_val(&mp, m->inputs.v[i].name)) in = &m->inputs.v[i];
    if (!in) {
        nn_fail(e, "ONNX: the graph has no input other than initializers");
        goto fail;
    }
    if (in->ndim != 4 || in->dims[1] < 1 || in->dims[2] < 1 || in->dims[3] < 1) {
        nn_fail(e, "ONNX: input '%.*s' must be [N, C, H, W] with fixed C, H, W", (int)in->name.n, in->name.s);
        goto fail;
    }
    int classes = 0;
    if (m->outputs.n && m->outputs.v[0].ndim == 2 && m->outputs.v[0].dims[1] > 0) classes = (int)m->outputs.v[0].dims[1];
    g = nn_graph_new("onnx_model", (int)in->dims[1], (int)in->dims[2], (int)in->dims[3], classes);
    if (nn_graph_infer_node(g, 0, e)) goto fail;
    {
        val v = {.name = in->name, .node = 0};
        push_val(&mp, v);
    }
    mp.g = g;
    for (int i = 0; i < m->nodes.n; i++)
        if (map_node(&mp, &m->nodes.v[i], e)) goto fail;
    if (!m->outputs.n) {
        nn_fail(e, "ONNX: the graph declares no output");
        goto fail;
    }
    val *o = find_val(&mp, m->outputs.v[0].name);
    if (!o || o->node < 0) {
        nn_fail(e, "ONNX: output '%.*s' is not computed by the graph", (int)m->outputs.v[0].name.n, m->outputs.v[0].name.s);
        goto fail;
    }
    g->output = o->node;
    if (!classes && g->nodes[o->node].ndim == 1) g->num_classes = g->nodes[o->node].shape[0];
    if (nn_graph_finalize(g, e)) goto fail;
    for (int i = 0; i < mp.params.n; i++) {
        nn_param *p = nn_graph_param(g, mp.params.v[i].name);
        if (!p || p->t.numel != mp.params.v[i].n) {
            nn_fail(e, "ONNX: parameter %s does not fit its node (%zu values)", mp.params.v[i].name, mp.params.v[i].n);
            goto fail;
        }
        memcpy(p->t.data, mp.params.v[i].data, p->t.numel * sizeof(float));
    }
    goto done;
fail:
    nn_graph_free(g);
    g = NULL;
done:
    for (int i = 0; i < mp.vals.n; i++) {
        /* aliases (Identity of a constant) share arrays with an earlier entry */
        int dup = 0;
        for (int k = 0; k < i && !dup; k++) dup = mp.vals.v[k]->f && mp.vals.v[k]->f == mp.vals.v[i]->f;
        if (!dup) {
            free(mp.vals.v[i]->f);
            free(mp.vals.v[i]->i);
        }
    }
    for (int i = 0; i < mp.vals.n; i++) free(mp.vals.v[i]);
    free(mp.vals.v);
    for (int i = 0; i < mp.params.n; i++) free(mp.params.v[i].data);
    free(mp.params.v);
    return g;
}

nn_graph *nn_onnx_parse(const uint8_t *buf, size_t len, const char *dir, nn_err *e)
{
    ox_model m = {0};
    pb b = {buf, buf + len};
    nn_graph *g = NULL;
    if (!dec_model(b, &m, e)) g = map_model(&m, dir, e);
    model_free(&m);
    return g;
}

int nn_onnx_is_path(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".onnx");
}

nn_graph *nn_onnx_load(const char *path, nn_err *e)
{
    size_t len;
    char *buf = nn_read_file(path, &len, e);
    if (!buf) return NULL;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    nn_graph *g = nn_onnx_parse((const uint8_t *)buf, len, dir, e);
    if (!g) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        nn_fail(e, "%s: %s", path, m);
    } else {
        const char *base = strrchr(path, '/');
        snprintf(g->name, sizeof g->name, "%s", base ? base + 1 : path);
        char *dot = strrchr(g->name, '.');
        if (dot) *dot = 0;
    }
    free(buf);
    return g;
}
