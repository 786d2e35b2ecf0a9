/* The c target for binary networks (sign activations, s * sign(W) convs;
 * no integer lowering: their real-valued paths stay float): one C99 model.c
 * whose binary convs run the bit-packed XNOR-popcount kernels of
 * nn/ops/bin_kernels.h (embedded verbatim, as datafree eval --binary runs
 * them) and whose other layers are plain float loops, the same main.c and
 * ./infer as the integer export (logits as int32 in units of 2^-16). */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bin_kernels_src.h"
#include "compress/export.h"
#include "nn/graph.h"
#include "nn/io.h"
#include "nn/ops/bin_kernels.h"
#include "nn/tape.h"

static const char *float_ops =
    "static void f_conv(const float *x, int C, int H, int W, const float *w, const float *b, int O, int k, int st,\n"
    "                   int pd, int dl, int G, int OH, int OW, float *y)\n{\n"
    "    const int cg = C / G, og = O / G;\n"
    "    for (int o = 0; o < O; o++)\n        for (int oh = 0; oh < OH; oh++)\n            for (int ow = 0; ow < OW; ow++) {\n"
    "                float s = b ? b[o] : 0.0f;\n                const int g = o / og;\n"
    "                for (int ic = 0; ic < cg; ic++)\n                    for (int kh = 0; kh < k; kh++) {\n"
    "                        const int ih = oh * st + kh * dl - pd;\n                        if (ih < 0 || ih >= H) continue;\n"
    "                        for (int kw = 0; kw < k; kw++) {\n                            const int iw = ow * st + kw * dl - pd;\n"
    "                            if (iw < 0 || iw >= W) continue;\n"
    "                            s += w[((o * cg + ic) * k + kh) * k + kw] * x[((g * cg + ic) * H + ih) * W + iw];\n"
    "                        }\n                    }\n                y[(o * OH + oh) * OW + ow] = s;\n            }\n}\n\n"
    "static void f_bconv(const float *x, int C, int H, int W, const uint64_t *wp, const int32_t *cls, const int32_t *tab,\n"
    "                    int ncls, const float *s, const float *b, int O, int k, int st, int pd, int dl, void *xp,\n"
    "                    uint64_t *col, float *y)\n{\n"
    "    const df_bin_geom g = df_bin_geometry(C, H, W, k, st, pd, dl);\n"
    "    df_bin_conv_float(x, &g, wp, cls, tab, ncls, s, b, O, 0, xp, col, y);\n}\n\n"
    "static void f_affine(const float *x, int C, int P, const float *a, const float *b, float *y)\n"
    "{\n    for (int c = 0; c < C; c++)\n        for (int p = 0; p < P; p++) y[c * P + p] = x[c * P + p] * a[c] + b[c];\n}\n\n"
    "static void f_clamp(const float *x, int n, float lo, float hi, float *y)\n"
    "{\n    for (int i = 0; i < n; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];\n}\n\n"
    "static void f_sign(const float *x, int n, float *y)\n{\n    for (int i = 0; i < n; i++) y[i] = x[i] < 0.0f ? -1.0f : 1.0f;\n}\n\n"
    "static void f_add(const float *a, const float *b, int n, float *y)\n{\n    for (int i = 0; i < n; i++) y[i] = a[i] + b[i];\n}\n\n"
    "static void f_pool(const float *x, int C, int H, int W, int k, int st, int pd, int maxp, int incl, int OH, int OW, float *y)\n{\n"
    "    for (int c = 0; c < C; c++)\n        for (int oh = 0; oh < OH; oh++)\n            for (int ow = 0; ow < OW; ow++) {\n"
    "                float s = maxp ? -INFINITY : 0.0f;\n                int cnt = 0;\n"
    "                for (int kh = 0; kh < k; kh++)\n                    for (int kw = 0; kw < k; kw++) {\n"
    "                        const int ih = oh * st + kh - pd, iw = ow * st + kw - pd;\n"
    "                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;\n"
    "                        const float v = x[(c * H + ih) * W + iw];\n"
    "                        if (maxp) s = v > s ? v : s; else s += v;\n                        cnt++;\n                    }\n"
    "                y[(c * OH + oh) * OW + ow] = maxp ? s : s / (float)(incl ? k * k : cnt);\n            }\n}\n\n"
    "static void f_gap(const float *x, int C, int P, float *y)\n"
    "{\n    for (int c = 0; c < C; c++) {\n        float s = 0.0f;\n        for (int p = 0; p < P; p++) s += x[c * P + p];\n"
    "        y[c] = s / (float)P;\n    }\n}\n\n"
    "static void f_linear(const float *x, int IN, const float *w, const float *b, int OUT, float *y)\n"
    "{\n    for (int o = 0; o < OUT; o++) {\n        float s = b ? b[o] : 0.0f;\n"
    "        for (int i = 0; i < IN; i++) s += w[o * IN + i] * x[i];\n        y[o] = s;\n    }\n}\n\n";

static void put_floats(FILE *f, const char *name, const float *v, size_t n)
{
    fprintf(f, "static const float %s[%zu] = {", name, n ? n : 1);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%.9g", i == 0 ? "\n  " : i % 8 ? ", " : ",\n  ", v[i]);
    fprintf(f, "%s};\n", n ? "" : "0");
}

static size_t numel(const nn_gnode *n)
{
    size_t s = 1;
    for (int d = 0; d < n->ndim; d++) s *= (size_t)n->shape[d];
    return s;
}

/* s [O]: a binary conv's weight scales, mean |W| per layer or per output
 * channel, as nn_sign_weight and the packed path compute them */
static void bin_scales(const nn_gnode *n, const nn_tensor *w, int O, float *s)
{
    const int nch = n->wbin == 2 ? O : 1;
    const size_t per = w->numel / (size_t)nch;
    for (int ch = 0; ch < nch; ch++) {
        double acc = 0;
        for (size_t q = (size_t)ch * per; q < (size_t)(ch + 1) * per; q++) acc += fabsf(w->data[q]);
        s[ch] = (float)(acc / (double)per);
    }
    for (int o = nch; o < O; o++) s[o] = s[0];
}

int cmp_graph_is_binary(const nn_graph *g)
{
    int bin = 0;
    for (int i = 0; i < g->n; i++) bin |= g->nodes[i].op == NN_OP_SIGN || g->nodes[i].wbin;
    return bin;
}

int cmp_export_c_binary(const nn_graph *g, const char *dir, nn_err *e)
{
    char path[1300], nm[64];
    /* refuse what has no form here before writing anything */
    for (int i = 1; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        switch (n->op) {
        case NN_OP_CONV:
            if (n->wbin && n->groups != 1)
                return nn_fail(e, "node '%s': a grouped binary conv has no bit-packed form yet", n->name);
            if (n->qbits) return nn_fail(e, "node '%s': quantized weights in a binary network (export one or the other)", n->name);
            if (n->wbin) {
                const nn_gnode *a = &g->nodes[n->in[0]];
                const df_bin_geom bg = df_bin_geometry(a->shape[0], a->shape[1], a->shape[2], n->kernel, n->stride, n->pad,
                                                       n->dilation);
                if (df_bin_classes(&bg, NULL) < 0)
                    return nn_fail(e, "node '%s': padding %d is too wide for the bit-packed conv", n->name, n->pad);
            }
            break;
        case NN_OP_BN: case NN_OP_SIGN: case NN_OP_ADD: case NN_OP_AVGPOOL: case NN_OP_MAXPOOL: case NN_OP_GAP:
        case NN_OP_LINEAR: case NN_OP_RELU: case NN_OP_HARDTANH: case NN_OP_FLATTEN:
            if (n->op == NN_OP_LINEAR && n->wbin)
                return nn_fail(e, "node '%s': a binary linear layer has no bit-packed form yet", n->name);
            break;
        default:
            return nn_fail(e, "node '%s': op %s has no form in the binary C export", n->name, nn_op_name(n->op));
        }
    }
    snprintf(path, sizeof path, "%s/model.c", dir);
    FILE *f = fopen(path, "w");
    if (!f) return nn_fail(e, "%s: cannot write", path);
    fprintf(f, "/* %s: generated by `datafree export --target c` (a binary network: bit-packed\n"
               " * XNOR-popcount convs, float elsewhere; the numbers of `datafree eval --binary`). */\n"
               "#include <math.h>\n#include \"model.h\"\n\n%s\n%s",
            g->name, df_bin_kernels_src, float_ops);
    size_t off[1024], total = 0, packed = 0, cols = 0; /* packed, cols: 64-bit words */
    if (g->n > 1024) {
        fclose(f);
        return nn_fail(e, "graph '%s': more than 1024 nodes", g->name);
    }
    /* a BN read only by a sign read only by binary convs folds into the
     * conv before it (nn_graph_folds_threshold): the conv writes floats
     * with the sign's signs, which the BN and the sign then alias */
    unsigned char skip[1024], fold[1024] = {0};
    float *fa[1024] = {0}, *fb[1024] = {0};
    nn_graph_packed_signs(g, skip);
    nn_ctx c;
    nn_ctx_init(&c, 1, (size_t)64 << 20);
    c.training = 0, c.grad_enabled = 0;
    for (int i = 1; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        if (!nn_graph_folds_threshold(g, i, skip)) continue;
        const nn_tensor *w = &g->params[n->param[0]].t;
        const int O = w->shape[0];
        float *s = malloc(sizeof(float) * (size_t)O);
        fa[i] = malloc(sizeof(float) * (size_t)O), fb[i] = malloc(sizeof(float) * (size_t)O);
        bin_scales(n, w, O, s);
        nn_ctx_reset(&c);
        fold[i] = (unsigned char)nn_graph_bin_thresholds((nn_graph *)g, &c, i, s, fa[i], fb[i]);
        free(s);
    }
    nn_ctx_free(&c);
    for (int i = 0; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i];
        if ((i >= 1 && fold[i - 1]) || (i >= 2 && fold[i - 2])) { /* the folded BN, the folded sign */
            off[i] = off[i - (fold[i - 1] ? 1 : 2)];
            continue;
        }
        off[i] = total;
        total += i == 0 ? (size_t)g->in_shape[0] * g->in_shape[1] * g->in_shape[2] : numel(n);
        if (n->op == NN_OP_CONV && n->wbin) {
            const nn_gnode *a = &g->nodes[n->in[0]];
            const df_bin_geom bg = df_bin_geometry(a->shape[0], a->shape[1], a->shape[2], n->kernel, n->stride, n->pad, n->dilation);
            const size_t pk = (df_bin_xp_bytes(&bg) + 7) / 8;
            packed = pk > packed ? pk : packed;
            cols = df_bin_col_words(&bg) > cols ? df_bin_col_words(&bg) : cols;
        }
    }
    total += total & 1; /* the packed planes are 8-byte words */
    for (int i = 1; i < g->n; i++) { /* constants */
        const nn_gnode *n = &g->nodes[i];
        const nn_tensor *w = n->param[0] >= 0 ? &g->params[n->param[0]].t : NULL;
        if ((n->op == NN_OP_CONV && !n->wbin) || n->op == NN_OP_LINEAR) {
            snprintf(nm, sizeof nm, "w%d", i);
            put_floats(f, nm, w->data, w->numel);
            if (n->bias) {
                snprintf(nm, sizeof nm, "b%d", i);
                put_floats(f, nm, g->params[n->param[1]].t.data, g->params[n->param[1]].t.numel);
            }
        } else if (n->op == NN_OP_CONV) {
            const nn_gnode *a = &g->nodes[n->in[0]];
            const int O = w->shape[0], C = a->shape[0], k = n->kernel;
            const df_bin_geom bg = df_bin_geometry(C, a->shape[1], a->shape[2], k, n->stride, n->pad, n->dilation);
            const size_t nw = df_bin_wp_words(&bg, O), nc = df_bin_cps_ints(&bg, O);
            const int ncls = df_bin_classes(&bg, NULL);
            uint64_t *wp = malloc(sizeof(uint64_t) * nw);
            int32_t *cps = malloc(sizeof(int32_t) * nc), *cls = malloc(sizeof(int32_t) * (size_t)bg.P),
                    *tab = malloc(sizeof(int32_t) * (size_t)O * ncls);
            float *s = malloc(sizeof(float) * (size_t)O);
            df_bin_pack_weights(w->data, O, &bg, wp, cps);
            df_bin_classes(&bg, cls);
            df_bin_class_table(cps, O, &bg, ncls, tab);
            bin_scales(n, w, O, s);
            fprintf(f, "static const uint64_t wp%d[%zu] = {", i, nw);
            for (size_t q = 0; q < nw; q++)
                fprintf(f, "%s0x%016llxULL", q == 0 ? "\n  " : q % 4 ? ", " : ",\n  ", (unsigned long long)wp[q]);
            fprintf(f, "};\n");
            snprintf(nm, sizeof nm, "cl%d", i); /* each output pixel's border class, and each class's fix */
            cmp_put_array(f, "int32_t", nm, cls, (size_t)bg.P, 4);
            snprintf(nm, sizeof nm, "t%d", i);
            cmp_put_array(f, "int32_t", nm, tab, (size_t)O * ncls, 4);
            snprintf(nm, sizeof nm, "s%d", i); /* folded: sum * s + f has the sign of the sign node's output */
            put_floats(f, nm, fold[i] ? fa[i] : s, (size_t)O);
            if (fold[i]) {
                snprintf(nm, sizeof nm, "f%d", i);
                put_floats(f, nm, fb[i], (size_t)O);
            }
            free(wp), free(cps), free(cls), free(tab), free(s);
        } else if (n->op == NN_OP_BN && !fold[i - 1]) { /* eval BN as one affine per channel */
            const int C = n->shape[0], kk = n->affine ? 2 : 0;
            const float *gam = n->affine ? g->params[n->param[0]].t.data : NULL, *bet = n->affine ? g->params[n->param[1]].t.data : NULL;
            const float *rm = g->params[n->param[kk]].t.data, *rv = g->params[n->param[kk + 1]].t.data;
            float *a = malloc(sizeof(float) * (size_t)C), *b = malloc(sizeof(float) * (size_t)C);
            for (int c = 0; c < C; c++) {
                a[c] = (gam ? gam[c] : 1.0f) / sqrtf(rv[c] + n->eps);
                b[c] = (bet ? bet[c] : 0.0f) - rm[c] * a[c];
            }
            snprintf(nm, sizeof nm, "a%d", i);
            put_floats(f, nm, a, (size_t)C);
            snprintf(nm, sizeof nm, "c%d", i);
            put_floats(f, nm, b, (size_t)C);
            free(a), free(b);
        }
    }
    /* float buffers, packed planes, columns */
    const size_t words = total + 2 * packed + 2 * cols;
    fprintf(f, "\nvoid df_model_infer(const uint8_t *pixels, int32_t *scratch, int32_t *logits)\n{\n"
               "    float *s = (float *)scratch;\n    uint64_t *xp = (uint64_t *)(scratch + %zu), *col = xp + %zu;\n",
            total, packed);
    const int C0 = g->in_shape[0], HW0 = g->in_shape[1] * g->in_shape[2];
    for (int c = 0; c < C0; c++)
        fprintf(f, "    for (int i = 0; i < %d; i++) s[%zu + i] = ((float)pixels[%d + i] / 255.0f - (float)%.9g) / (float)%.9g;\n", HW0,
                (size_t)c * HW0, c * HW0, g->mean[c], g->std[c]);
    for (int i = 1; i < g->n; i++) {
        const nn_gnode *n = &g->nodes[i], *a = &g->nodes[n->in[0]];
        const int C = i == 0 ? 0 : n->in[0] == 0 ? g->in_shape[0] : a->shape[0];
        const int H = n->in[0] == 0 ? g->in_shape[1] : a->ndim == 3 ? a->shape[1] : 1;
        const int W = n->in[0] == 0 ? g->in_shape[2] : a->ndim == 3 ? a->shape[2] : 1;
        const size_t x = off[n->in[0]], y = off[i];
        if ((i >= 1 && fold[i - 1]) || (i >= 2 && fold[i - 2])) continue; /* in the conv before */
        fprintf(f, "    /* %d: %s */\n", i, n->name);
        switch (n->op) {
        case NN_OP_CONV:
            if (n->wbin) {
                const df_bin_geom bg = df_bin_geometry(C, H, W, n->kernel, n->stride, n->pad, n->dilation);
                char b[32] = "NULL";
                if (fold[i]) snprintf(b, sizeof b, "f%d", i);
                fprintf(f, "    f_bconv(s + %zu, %d, %d, %d, wp%d, cl%d, t%d, %d, s%d, %s, %d, %d, %d, %d, %d, xp, col, s + %zu);\n",
                        x, C, H, W, i, i, i, df_bin_classes(&bg, NULL), i, b, n->shape[0], n->kernel, n->stride, n->pad,
                        n->dilation, y);
                if (fold[i]) fprintf(f, "    /* %d, %d: folded into that threshold */\n", i + 1, i + 2);
            } else {
                char b[32] = "NULL";
                if (n->bias) snprintf(b, sizeof b, "b%d", i);
                fprintf(f, "    f_conv(s + %zu, %d, %d, %d, w%d, %s, %d, %d, %d, %d, %d, %d, %d, %d, s + %zu);\n", x, C, H, W,
                        i, b, n->shape[0], n->kernel, n->stride, n->pad, n->dilation, n->groups, n->shape[1], n->shape[2], y);
            }
            break;
        case NN_OP_BN:
            fprintf(f, "    f_affine(s + %zu, %d, %zu, a%d, c%d, s + %zu);\n", x, n->shape[0], numel(n) / (size_t)n->shape[0],
                    i, i, y);
            break;
        case NN_OP_SIGN: fprintf(f, "    f_sign(s + %zu, %zu, s + %zu);\n", x, numel(n), y); break;
        case NN_OP_RELU: fprintf(f, "    f_clamp(s + %zu, %zu, 0.0f, INFINITY, s + %zu);\n", x, numel(n), y); break;
        case NN_OP_HARDTANH:
            fprintf(f, "    f_clamp(s + %zu, %zu, (float)%.9g, (float)%.9g, s + %zu);\n", x, numel(n), n->lo, n->hi, y);
            break;
        case NN_OP_ADD: fprintf(f, "    f_add(s + %zu, s + %zu, %zu, s + %zu);\n", x, off[n->in[1]], numel(n), y); break;
        case NN_OP_AVGPOOL:
        case NN_OP_MAXPOOL:
            fprintf(f, "    f_pool(s + %zu, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, s + %zu);\n", x, C, H, W, n->kernel,
                    n->stride, n->pad, n->op == NN_OP_MAXPOOL, n->count_include_pad, n->shape[1], n->shape[2], y);
            break;
        case NN_OP_GAP: fprintf(f, "    f_gap(s + %zu, %d, %d, s + %zu);\n", x, C, H * W, y); break;
        case NN_OP_FLATTEN: fprintf(f, "    memcpy(s + %zu, s + %zu, %zu * sizeof(float));\n", y, x, numel(n)); break;
        case NN_OP_LINEAR: {
            char b[32] = "NULL";
            if (n->bias) snprintf(b, sizeof b, "b%d", i);
            fprintf(f, "    f_linear(s + %zu, %d, w%d, %s, %d, s + %zu);\n", x, C * H * W, i, b, n->shape[0], y);
            break;
        }
        default: break;
        }
    }
    fprintf(f, "    for (int k = 0; k < %d; k++) { /* logits in units of 2^-16, as the integer export */\n"
               "        const float v = s[%zu + k] * 65536.0f;\n"
               "        logits[k] = v >= 2147483520.0f ? INT32_MAX : v <= -2147483520.0f ? INT32_MIN : (int32_t)lrintf(v);\n    }\n"
               "    (void)xp, (void)col;\n}\n",
            g->num_classes, off[g->output]);
    for (int i = 0; i < g->n; i++) free(fa[i]), free(fb[i]);
    int bad = ferror(f);
    if (fclose(f) || bad) return nn_fail(e, "%s: write failed", path);
    snprintf(path, sizeof path, "%s/model.h", dir);
    f = fopen(path, "w");
    if (!f) return nn_fail(e, "%s: cannot write", path);
    fprintf(f,
            "/* %s: generated by `datafree export --target c` (binary network). */\n#ifndef DF_MODEL_H\n#define DF_MODEL_H\n\n"
            "#include <stdint.h>\n#include <string.h>\n\n#define DF_MODEL_IN_C %d\n#define DF_MODEL_IN_H %d\n#define DF_MODEL_IN_W %d\n"
            "#define DF_MODEL_CLASSES %d\n#define DF_MODEL_SCRATCH %zu /* 32-bit words per concurrent call */\n"
            "#define DF_MODEL_LOGIT_SCALE %.17g /* one logit unit as a float logit */\n\n"
            "/* pixels: C x H x W uint8 (the raw image); logits: DF_MODEL_CLASSES int32. */\n"
            "void df_model_infer(const uint8_t *pixels, int32_t *scratch, int32_t *logits);\n\n#endif\n",
            g->name, g->in_shape[0], g->in_shape[1], g->in_shape[2], g->num_classes, words + 2, 1.0 / 65536.0);
    bad = ferror(f);
    if (fclose(f) || bad) return nn_fail(e, "%s: write failed", path);
    if (cmp_write_c_main(dir, e)) return NN_ERR;
    char readme[1600];
    const int k = snprintf(readme, sizeof readme,
                           "# %s, exported by `datafree export --target c` (a binary network)\n\n"
                           "C99, libc only, no malloc in the model: the binary convs run XNOR-popcount on\n"
                           "bit-packed signs (an AVX-512 VPOPCNTDQ path chosen at run time, scalar popcount\n"
                           "otherwise), the rest in float, as `datafree eval --binary`. `model.h` declares\n"
                           "`df_model_infer(pixels, scratch, logits)` (pixels %dx%dx%d uint8; scratch\n"
                           "`DF_MODEL_SCRATCH` 32-bit words per concurrent call; logits %d int32 in units of 2^-16).\n\n"
                           "    make\n    ./infer t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz [--threads T] [--logits FILE]\n\n"
                           "prints `{\"accuracy\": ..., \"images_per_s\": ...}`.\n",
                           g->name, g->in_shape[0], g->in_shape[1], g->in_shape[2], g->num_classes);
    snprintf(path, sizeof path, "%s/README.md", dir);
    return nn_write_file_atomic(path, readme, (size_t)k, e);
}
