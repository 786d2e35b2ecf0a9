/* The Graph IR: named nodes in topological order, each an op kind with
 * attributes, inputs and named parameters (like ONNX). Serialised as
 * model.json (architecture) + model.safetensors (parameters and BN running
 * statistics). All parameters live in one blob (llm.c style), their
 * gradients in a second blob of the same layout. */
#ifndef NN_GRAPH_H
#define NN_GRAPH_H

#include "ops.h"

typedef enum {
    NN_OP_INPUT,
    NN_OP_CONV,
    NN_OP_BN,
    NN_OP_COND_BN,
    NN_OP_RELU,
    NN_OP_RELU6,
    NN_OP_LEAKY_RELU,
    NN_OP_TANH,
    NN_OP_SIGMOID,
    NN_OP_HARDTANH,
    NN_OP_MAXPOOL,
    NN_OP_AVGPOOL,
    NN_OP_GAP,
    NN_OP_ADD,
    NN_OP_CONCAT,
    NN_OP_FLATTEN,
    NN_OP_LINEAR,
    NN_OP_UPSAMPLE_NEAREST,
    NN_OP_UPSAMPLE_BILINEAR,
    NN_OP_LABEL_EMBED, /* y = x * E[label]: GDFQ's label conditioning of the latent */
    NN_OP_RESHAPE,     /* to a per-sample shape (1 or 3 dims) */
    NN_OP_FAKE_QUANT,  /* activation quantizer with an EMA range observer */
    NN_OP_HARDSIGMOID, /* clamp(alpha*x + beta, 0, 1) */
    NN_OP_HARDSWISH,
    NN_OP_CHANNEL_AFFINE, /* x * scale[c] + shift[c], constants (not trained) */
    NN_OP_MIX,            /* supernet edge: sum_j m_j * in_j, m from the edge's alpha (see nn_fwd_opts) */
    NN_OP_ADDER_CONV,     /* AdderNet layer: -sum |x - w| (conv attributes, no bias, alr_eta) */
    NN_OP_SIGN,           /* binary activation sign(x); backward ApproxSign (approx) or clipped STE */
    NN_OP_COUNT
} nn_op_kind;

const char *nn_op_name(nn_op_kind k);
int nn_op_from_name(const char *s); /* -1 if unknown */

#define NN_NAME_LEN 64
#define NN_MAX_NODE_PARAMS 4

typedef struct nn_gnode {
    char name[NN_NAME_LEN];
    nn_op_kind op;
    int in[NN_MAX_INPUTS];
    int nin;
    /* attributes (those that apply to op) */
    int out_channels, kernel, stride, pad, dilation, groups, bias;
    int scale;            /* upsample */
    int num_classes;      /* cond BN, label_embed */
    int rshape[3], rndim; /* reshape target */
    int affine;           /* BN */
    float eps, momentum;  /* BN */
    float slope, lo, hi;  /* leaky relu, hardtanh */
    float alpha, beta;    /* hardsigmoid */
    int count_include_pad;
    int candidates;       /* mix: K >= nin; the K - nin trailing candidates are "none" (no input) */
    float alr_eta;        /* adder_conv2d: adaptive learning-rate eta (0: off) */
    int wbin;             /* conv/linear: binary weights s*sign(w), s per layer (1) or per output channel (2) */
    int approx;           /* sign: ApproxSign backward (1) or clipped STE (0) */
    /* quantization: conv/linear weights when qbits > 0 (qsym, qperch: per
     * output channel); fake_quant: activation bits, qsym, EMA beta, and the
     * observer updates after which its range is frozen (-1: never) */
    int qbits, qsym, qperch, qfreeze;
    int qpot;             /* power-of-two steps (nn_qspec.pot), weights and fake_quant */
    int qmse;             /* weights: the power-of-two range of least squared error (nn_qspec.mse) */
    float qbeta;
    /* filled by nn_graph_finalize */
    int param[NN_MAX_NODE_PARAMS]; /* indices into graph->params, -1 if none */
    int shape[4];                  /* per-sample output shape (C, H, W) or (K) */
    int ndim;                      /* of the per-sample shape */
    int consumers;                 /* nodes that take this one as input */
} nn_gnode;

typedef struct nn_param {
    char name[NN_NAME_LEN + 32];
    nn_tensor t;   /* data (and grad for trainable) point into the blobs */
    int trainable; /* weights/biases; BN running statistics are not */
    int decay;     /* weight decay applies (conv/linear weights) */
    int arch;      /* an architecture parameter (a mix node's alpha), not a weight */
} nn_param;

typedef struct nn_graph {
    char name[NN_NAME_LEN];
    nn_gnode *nodes;
    int n, cap;
    int output; /* node index */
    int in_shape[3]; /* per-sample input: [C, H, W], or [D] for a vector input (in_ndim 1) */
    int in_ndim;
    int num_classes;
    float mean[4], std[4]; /* input preprocessing, per channel */
    nn_param *params;
    int np;
    float *blob, *grad; /* all parameter data; gradients (trainable part) */
    size_t blob_len, train_len;
    int finalized;
} nn_graph;

/* Building: each call appends a node and returns its index (or -1 with the
 * error in the graph builder's err when an input name is unknown). */
nn_graph *nn_graph_new(const char *name, int c, int h, int w, int num_classes);
/* A graph whose input is a vector of dim values (a generator's latent). */
nn_graph *nn_graph_new_vec(const char *name, int dim, int num_classes);
/* The input tensor shape for a batch: returns its ndim (2 or 4). */
int nn_graph_input_shape(const nn_graph *g, int batch, int shape[4]);
void nn_graph_free(nn_graph *g);
int nn_graph_find(const nn_graph *g, const char *name);
int nn_g_add_node(nn_graph *g, const nn_gnode *proto);
/* A node with every attribute at its default (PyTorch's defaults where they exist). */
nn_gnode nn_gnode_default(const char *name, nn_op_kind op, int in);
int nn_g_conv(nn_graph *g, const char *name, int in, int oc, int k, int stride, int pad, int groups, int bias);
int nn_g_bn(nn_graph *g, const char *name, int in);
int nn_g_act(nn_graph *g, const char *name, nn_op_kind op, int in);
int nn_g_pool(nn_graph *g, const char *name, nn_op_kind op, int in, int k, int stride, int pad);
int nn_g_unary(nn_graph *g, const char *name, nn_op_kind op, int in); /* gap, flatten */
int nn_g_add(nn_graph *g, const char *name, int a, int b);
int nn_g_concat(nn_graph *g, const char *name, const int *ins, int n);
int nn_g_linear(nn_graph *g, const char *name, int in, int out, int bias);

/* The output shape of node idx from its inputs' (already inferred): lets
 * importers see shapes while they build. */
int nn_graph_infer_node(nn_graph *g, int idx, nn_err *e);
/* Check shapes, create parameters (zeroed; BN gamma=1, var=1). */
int nn_graph_finalize(nn_graph *g, nn_err *e);
/* Weight initialisation. KAIMING: Kaiming-normal (fan_out, ReLU gain) for
 * conv weights (torchvision's ResNet init), PyTorch's default uniform for
 * linear layers. XAVIER: Xavier-uniform (Glorot) for conv and linear
 * weights, zero biases. BN: gamma 1, beta 0 in both. */
typedef enum { NN_INIT_KAIMING, NN_INIT_XAVIER } nn_init_kind;
void nn_graph_init_params(nn_graph *g, uint64_t seed, nn_init_kind kind);
size_t nn_graph_num_trainable(const nn_graph *g);
nn_param *nn_graph_param(nn_graph *g, const char *name);
void nn_graph_zero_grad(nn_graph *g);
/* Frozen (0) or trainable (1): a frozen graph's parameters take no
 * gradient, so backward through it computes input gradients only. */
void nn_graph_set_trainable(nn_graph *g, int on);
/* Parameter groups for bi-level search: weights and architecture (alpha). */
typedef enum { NN_GROUP_ALL, NN_GROUP_WEIGHTS, NN_GROUP_ARCH } nn_param_group;
int nn_param_in_group(const nn_param *p, nn_param_group grp);
void nn_graph_set_trainable_group(nn_graph *g, nn_param_group grp, int on);
/* MACs (conv and linear) of one forward pass of one sample; of node i. */
double nn_graph_macs(const nn_graph *g);
double nn_graph_node_macs(const nn_graph *g, int i);
/* Additions of the adder layers (AdderNet's convention: a subtraction and
 * an accumulation per tap, so 2 per tap). */
double nn_graph_adds(const nn_graph *g);
/* Binary-network cost (NASB, Table 4.6): memory = 32 (real params) + 1
 * (binary weights) bits, Flops = real MACs + binary MACs / 64; of node i
 * (trainable parameters; a binary conv's scales count as real) and in
 * total. bin_macs: the binary MACs alone. */
void nn_graph_node_cost(const nn_graph *g, int i, double *mem_bits, double *flops, double *bin_macs);
void nn_graph_cost(const nn_graph *g, double *mem_bits, double *flops, double *bin_macs);

/* Forward. Observers see every node's inputs and output (BN statistics for
 * reconstruction, features for distillation, ranges for quantizers). */
typedef void (*nn_hook_fn)(void *user, const nn_graph *g, int node, nn_tensor **in, nn_tensor *out);
/* A mix node's weights from its alpha [1, K]: [1, K] (per batch) or
 * [N, K] (per example), differentiable in alpha. Default: softmax(alpha). */
typedef nn_tensor *(*nn_mix_fn)(void *user, nn_ctx *c, const nn_graph *g, int node, nn_tensor *alpha, int batch);
typedef struct nn_fwd_opts {
    nn_hook_fn hook;
    void *user;
    const int *labels; /* for conditional BN and label_embed */
    nn_tensor **outputs; /* optional: every node's output, length g->n */
    int observe;         /* fake_quant nodes update their ranges from this batch */
    nn_mix_fn mix_weights;
    void *mix_user;
    /* optional, length g->n: only nodes with active[i] run (the rest are NULL;
     * a mix node takes them as zero). nn_graph_mark_active computes it. */
    const unsigned char *active;
    int binary_packed; /* inference: binary convs by XNOR-popcount on packed signs (same numbers) */
} nn_fwd_opts;
nn_tensor *nn_graph_forward(nn_graph *g, nn_ctx *c, nn_tensor *x, const nn_fwd_opts *o);
/* The nodes the output needs when mix node m uses only the candidates k with
 * on(user, m, k) != 0 (ProxylessNAS: the sampled paths). */
void nn_graph_mark_active(const nn_graph *g, int (*on)(void *user, int node, int k), void *user, unsigned char *active);

/* Bit-packed inference. skip [g->n]: 1 for a sign node that only packable
 * binary convs read (they pack x >= 0 themselves; the sign is not run). */
void nn_graph_packed_signs(const nn_graph *g, unsigned char *skip);
/* 1: binary conv i feeds a BN (i + 1) read only by a sign (i + 2) of skip,
 * which then fold into a threshold on the conv's integer sums. */
int nn_graph_folds_threshold(const nn_graph *g, int i, const unsigned char *skip);
/* The fold of conv i (nn_graph_folds_threshold) with weight scales s [O]:
 * fa, fb [O] such that fa * d + fb has, for every integer sum d, the sign
 * of sign(BN(s * d)) in eval (exact: found with the float path's own ops,
 * which must run on c with no tape). 0 if a channel's sign is not a
 * threshold in d (never for a real BN), then no fold. */
int nn_graph_bin_thresholds(nn_graph *g, nn_ctx *c, int i, const float *s, float *fa, float *fb);

/* model.json + model.safetensors (same stem). */
int nn_graph_save(const nn_graph *g, const char *json_path, nn_err *e);
nn_graph *nn_graph_load(const char *json_path, nn_err *e);
/* Architecture only, from a parsed cJSON object (used by configs too). */
struct cJSON;
nn_graph *nn_graph_from_json(const struct cJSON *j, const char *where, nn_err *e);
struct cJSON *nn_graph_to_json(const nn_graph *g);
/* Parameters by name from/to a safetensors file; shapes must match. */
int nn_graph_load_params(nn_graph *g, const char *path, nn_err *e);
/* A partial load under renames (a parameter named graph + rest reads the
 * file's file + rest, the longest matching graph prefix winning): a
 * parameter with no matching prefix, or whose renamed tensor the file
 * lacks, keeps its values; a shape mismatch is an error. *loaded: how
 * many were read. Initialises one network from another's weights (a
 * NASB backbone from the ResNet it binarizes). */
typedef struct nn_rename {
    const char *graph, *file;
} nn_rename;
int nn_graph_load_params_renamed(nn_graph *g, const char *path, const nn_rename *rn, int nr, int *loaded, nn_err *e);
int nn_graph_save_params(const nn_graph *g, const char *path, nn_err *e);
/* The weights file beside a model.json: its extension made .safetensors. */
void nn_graph_params_path(const char *json_path, char *out, size_t n);

#endif
