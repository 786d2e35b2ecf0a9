/* The cuda target: the IntGraph as CUDA, batch-parallel (one thread per
 * output element of every image).
 *   model.cu   weights and constants in __constant__/global memory, one
 *              kernel per op kind, the program as kernel launches; a host
 *              API  int df_model_infer_batch(const uint8_t *pixels, int n,
 *              int32_t *logits)  (host pointers, n images)
 *   main.cu    ./infer IMAGES LABELS [--logits FILE] [--batch B]
 *   Makefile   `make` builds ./infer with nvcc; `make emu` builds the same
 *              sources as plain C++ with g++ (kernels run as loops over the
 *              grid: no GPU needed), which is how the tests check the code
 * The arithmetic is the interpreter's: int32 sums, int64 requantisation. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/export.h"
#include "nn/io.h"

static const char *prelude =
    "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
    "#ifdef __CUDACC__\n"
    "#define DF_IDX ((long)blockIdx.x * blockDim.x + threadIdx.x)\n"
    "#define DF_LAUNCH(k, total, ...) k<<<(unsigned)(((total) + 255) / 256), 256>>>(__VA_ARGS__)\n"
    "#define DF_CHECK(x) do { cudaError_t err_ = (x); if (err_ != cudaSuccess) { fprintf(stderr, \"cuda: %s\\n\", cudaGetErrorString(err_)); return 1; } } while (0)\n"
    "#else /* host emulation: the same kernels as loops over the grid */\n"
    "#define __global__\nstatic long df_emu_idx;\n#define DF_IDX df_emu_idx\n"
    "#define DF_LAUNCH(k, total, ...) do { for (df_emu_idx = 0; df_emu_idx < (((long)(total) + 255) / 256) * 256; df_emu_idx++) k(__VA_ARGS__); } while (0)\n"
    "#define DF_CHECK(x) do { if ((x) != 0) return 1; } while (0)\n"
    "static int cudaMalloc(void **p, size_t n) { *p = malloc(n); return *p == NULL; }\n"
    "static int cudaFree(void *p) { free(p); return 0; }\n"
    "enum { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost };\n"
    "static int cudaMemcpy(void *d, const void *s, size_t n, int k) { (void)k; memcpy(d, s, n); return 0; }\n"
    "static int cudaDeviceSynchronize(void) { return 0; }\n"
    "#endif\n\n"
    "__global__ void k_input(const uint8_t *px, int32_t *y, long total)\n"
    "{ const long i = DF_IDX; if (i < total) y[i] = px[i]; }\n\n"
    "__global__ void k_const(const int32_t *k, int32_t *y, long per, long total)\n"
    "{ const long i = DF_IDX; if (i < total) y[i] = k[i % per]; }\n\n"
    "__global__ void k_conv(const int32_t *x, int C, int H, int W, int zp, const int16_t *w, int O, int K, int st,\n"
    "                       int pd, int dl, int G, int OH, int OW, int Kp, int Cp, int32_t *y, long total)\n"
    "{\n    const long i = DF_IDX;\n    if (i >= total) return;\n"
    "    const int ow = (int)(i % OW), oh = (int)(i / OW % OH), o = (int)(i / ((long)OW * OH) % O);\n"
    "    const long b = i / ((long)OW * OH * O);\n    const int cg = C / G, g = o / (O / G);\n    int32_t acc = 0;\n"
    "    for (int kh = 0; kh < K; kh++) {\n        const int ih = oh * st + kh * dl - pd;\n        if (ih < 0 || ih >= H) continue;\n"
    "        for (int kw = 0; kw < K; kw++) {\n            const int iw = ow * st + kw * dl - pd;\n            if (iw < 0 || iw >= W) continue;\n"
    "            for (int ic = 0; ic < cg; ic++)\n"
    "                acc += (int32_t)w[(long)o * Kp + ((kh * K + kw) * Cp + ic / 2) * 2 + ic % 2] *\n"
    "                       (x[((b * C + g * cg + ic) * H + ih) * W + iw] - zp);\n        }\n    }\n    y[i] = acc;\n}\n\n"
    "__global__ void k_adder(const int32_t *x, int C, int H, int W, int zp, int xs, const int16_t *w, int O, int K, int st,\n"
    "                        int pd, int dl, int G, int OH, int OW, int Kp, int Cp, int32_t *y, long total)\n"
    "{\n    const long i = DF_IDX;\n    if (i >= total) return;\n"
    "    const int ow = (int)(i % OW), oh = (int)(i / OW % OH), o = (int)(i / ((long)OW * OH) % O);\n"
    "    const long b = i / ((long)OW * OH * O);\n    const int cg = C / G, g = o / (O / G);\n    int32_t acc = 0;\n"
    "    for (int kh = 0; kh < K; kh++)\n        for (int kw = 0; kw < K; kw++) {\n"
    "            const int ih = oh * st + kh * dl - pd, iw = ow * st + kw * dl - pd, in = ih >= 0 && ih < H && iw >= 0 && iw < W;\n"
    "            for (int ic = 0; ic < cg; ic++) { /* a padded tap is x = 0: it adds -|w| */\n"
    "                const int32_t xv = in ? (x[((b * C + g * cg + ic) * H + ih) * W + iw] - zp) * (1 << xs) : 0;\n"
    "                const int32_t d = xv - w[(long)o * Kp + ((kh * K + kw) * Cp + ic / 2) * 2 + ic % 2];\n"
    "                acc -= d < 0 ? -d : d;\n            }\n        }\n    y[i] = acc;\n}\n\n"
    "__global__ void k_sum_hw(const int32_t *x, int C, int P, int zp, int32_t *y, long total)\n"
    "{\n    const long i = DF_IDX;\n    if (i >= total) return;\n    int32_t s = 0;\n"
    "    for (int p = 0; p < P; p++) s += x[i * P + p] - zp;\n    y[i] = s;\n}\n\n"
    "__global__ void k_linear(const int32_t *x, int IN, int zp, const int16_t *w, int OUT, int32_t *y, long total)\n"
    "{\n    const long i = DF_IDX;\n    if (i >= total) return;\n    const long b = i / OUT;\n    const int o = (int)(i % OUT);\n"
    "    int32_t s = 0;\n    for (int k = 0; k < IN; k++) s += (int32_t)w[(long)o * IN + k] * (x[b * IN + k] - zp);\n    y[i] = s;\n}\n\n"
    "__global__ void k_maxpool(const int32_t *x, int C, int H, int W, int K, int st, int pd, int OH, int OW, int32_t *y, long total)\n"
    "{\n    const long i = DF_IDX;\n    if (i >= total) return;\n"
    "    const int ow = (int)(i % OW), oh = (int)(i / OW % OH);\n    const long bc = i / ((long)OW * OH);\n    int32_t best = INT32_MIN;\n"
    "    for (int kh = 0; kh < K; kh++)\n        for (int kw = 0; kw < K; kw++) {\n"
    "            const int ih = oh * st + kh - pd, iw = ow * st + kw - pd;\n"
    "            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;\n"
    "            const int32_t v = x[(bc * H + ih) * W + iw];\n            best = v > best ? v : best;\n        }\n    y[i] = best;\n}\n\n"
    "struct df_terms { const int32_t *x[8]; const int64_t *m[8]; int n; };\n\n"
    "__global__ void k_requant(struct df_terms t, const int64_t *kc, int C, int P, int sh, int32_t lo, int32_t hi, int32_t *y, long total)\n"
    "{\n    const long i = DF_IDX;\n    if (i >= total) return;\n    const int c = (int)(i / P % C);\n    int64_t acc = kc[c];\n"
    "    for (int k = 0; k < t.n; k++) acc += (int64_t)t.x[k][i] * t.m[k][c];\n    acc >>= sh;\n"
    "    y[i] = acc < lo ? lo : acc > hi ? hi : (int32_t)acc;\n}\n\n";

int cmp_export_cuda(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e)
{
    (void)q, (void)o;
    char path[1200];
    snprintf(path, sizeof path, "%s/model.cu", dir);
    FILE *f = fopen(path, "w");
    if (!f) return nn_fail(e, "%s: cannot write", path);
    fprintf(f, "// %s: generated by `datafree export --target cuda` (nvcc, or g++ -DDF_EMU via `make emu`).\n%s",
            g->name, prelude);
    char nm[64];
    for (int i = 0; i < g->n; i++) { /* host copies of the constants; uploaded once */
        const int_node *n = &g->nodes[i];
        const int_node *a = n->op == INT_CONV || n->op == INT_ADDER || n->op == INT_LINEAR ? &g->nodes[n->in] : NULL;
        snprintf(nm, sizeof nm, "h_w%d", i);
        if (n->op == INT_CONV || n->op == INT_ADDER) cmp_put_array(f, "int16_t", nm, n->wt, (size_t)n->c * df_conv_taps(a->c, n->groups, n->k), 2);
        if (n->op == INT_LINEAR) cmp_put_array(f, "int16_t", nm, n->wt, (size_t)n->c * a->c * a->h * a->w, 2);
        snprintf(nm, sizeof nm, "h_k%d", i);
        if (n->op == INT_CONST) cmp_put_array(f, "int32_t", nm, n->data, (size_t)n->c * n->h * n->w, 4);
        if (n->op == INT_REQUANT) {
            for (int t = 0; t < n->nterms; t++) {
                snprintf(nm, sizeof nm, "h_m%d_%d", i, t);
                cmp_put_array(f, "int64_t", nm, n->m[t], (size_t)n->c, 8);
            }
            snprintf(nm, sizeof nm, "h_c%d", i);
            cmp_put_array(f, "int64_t", nm, n->kc, (size_t)n->c, 8);
        }
    }
    fprintf(f, "\n#define DF_UP(dst, src) DF_CHECK(cudaMalloc((void **)&dst, sizeof src)); "
               "DF_CHECK(cudaMemcpy(dst, src, sizeof src, cudaMemcpyHostToDevice))\n\n"
               "/* n images (C x H x W uint8 each, host memory) -> n x %d int32 logits (host). */\n"
               "int df_model_infer_batch(const uint8_t *pixels, int n, int32_t *logits)\n{\n"
               "    static int ready = 0;\n",
            g->num_classes);
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        if (n->op == INT_CONV || n->op == INT_ADDER || n->op == INT_LINEAR) fprintf(f, "    static int16_t *d_w%d;\n", i);
        if (n->op == INT_CONST) fprintf(f, "    static int32_t *d_k%d;\n", i);
        if (n->op == INT_REQUANT) {
            for (int t = 0; t < n->nterms; t++) fprintf(f, "    static int64_t *d_m%d_%d;\n", i, t);
            fprintf(f, "    static int64_t *d_c%d;\n", i);
        }
    }
    fprintf(f, "    if (!ready) {\n");
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        if (n->op == INT_CONV || n->op == INT_ADDER || n->op == INT_LINEAR) fprintf(f, "        DF_UP(d_w%d, h_w%d);\n", i, i);
        if (n->op == INT_CONST) fprintf(f, "        DF_UP(d_k%d, h_k%d);\n", i, i);
        if (n->op == INT_REQUANT) {
            for (int t = 0; t < n->nterms; t++) fprintf(f, "        DF_UP(d_m%d_%d, h_m%d_%d);\n", i, t, i, t);
            fprintf(f, "        DF_UP(d_c%d, h_c%d);\n", i, i);
        }
    }
    fprintf(f, "        ready = 1;\n    }\n    uint8_t *d_px;\n    DF_CHECK(cudaMalloc((void **)&d_px, (size_t)n * %d));\n"
               "    DF_CHECK(cudaMemcpy(d_px, pixels, (size_t)n * %d, cudaMemcpyHostToDevice));\n",
            g->in_c * g->in_h * g->in_w, g->in_c * g->in_h * g->in_w);
    for (int i = 0; i < g->n; i++)
        fprintf(f, "    int32_t *t%d;\n    DF_CHECK(cudaMalloc((void **)&t%d, (size_t)n * %zu * sizeof(int32_t)));\n", i, i,
                (size_t)g->nodes[i].c * g->nodes[i].h * g->nodes[i].w);
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        const size_t per = (size_t)n->c * n->h * n->w;
        const int_node *a = n->op == INT_INPUT || n->op == INT_CONST || n->op == INT_REQUANT ? NULL : &g->nodes[n->in];
        fprintf(f, "    /* %d: %s */\n", i, n->name);
        switch (n->op) {
        case INT_INPUT: fprintf(f, "    DF_LAUNCH(k_input, (long)n * %zu, d_px, t%d, (long)n * %zu);\n", per, i, per); break;
        case INT_CONST:
            fprintf(f, "    DF_LAUNCH(k_const, (long)n * %zu, d_k%d, t%d, %zuL, (long)n * %zu);\n", per, i, i, per, per);
            break;
        case INT_CONV:
            fprintf(f, "    DF_LAUNCH(k_conv, (long)n * %zu, t%d, %d, %d, %d, %d, d_w%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, t%d, (long)n * %zu);\n",
                    per, n->in, a->c, a->h, a->w, n->zp, i, n->c, n->k, n->stride, n->pad, n->dil, n->groups, n->h, n->w,
                    df_conv_taps(a->c, n->groups, n->k), df_conv_pairs(a->c, n->groups), i, per);
            break;
        case INT_ADDER:
            fprintf(f, "    DF_LAUNCH(k_adder, (long)n * %zu, t%d, %d, %d, %d, %d, %d, d_w%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, t%d, (long)n * %zu);\n",
                    per, n->in, a->c, a->h, a->w, n->zp, n->xsh, i, n->c, n->k, n->stride, n->pad, n->dil, n->groups, n->h,
                    n->w, df_conv_taps(a->c, n->groups, n->k), df_conv_pairs(a->c, n->groups), i, per);
            break;
        case INT_SUM_HW:
            fprintf(f, "    DF_LAUNCH(k_sum_hw, (long)n * %d, t%d, %d, %d, %d, t%d, (long)n * %d);\n", n->c, n->in, a->c,
                    a->h * a->w, n->zp, i, n->c);
            break;
        case INT_LINEAR:
            fprintf(f, "    DF_LAUNCH(k_linear, (long)n * %d, t%d, %d, %d, d_w%d, %d, t%d, (long)n * %d);\n", n->c, n->in,
                    a->c * a->h * a->w, n->zp, i, n->c, i, n->c);
            break;
        case INT_MAXPOOL:
            fprintf(f, "    DF_LAUNCH(k_maxpool, (long)n * %zu, t%d, %d, %d, %d, %d, %d, %d, %d, %d, t%d, (long)n * %zu);\n", per,
                    n->in, a->c, a->h, a->w, n->k, n->stride, n->pad, n->h, n->w, i, per);
            break;
        case INT_REQUANT: {
            fprintf(f, "    { struct df_terms tt = {{");
            for (int t = 0; t < n->nterms; t++) fprintf(f, "%st%d", t ? ", " : "", n->term[t]);
            fprintf(f, "}, {");
            for (int t = 0; t < n->nterms; t++) fprintf(f, "%sd_m%d_%d", t ? ", " : "", i, t);
            char lo[24];
            fprintf(f, "}, %d};\n      DF_LAUNCH(k_requant, (long)n * %zu, tt, d_c%d, %d, %d, %d, %s, %" PRId32 ", t%d, (long)n * %zu); }\n",
                    n->nterms, per, i, n->c, n->h * n->w, n->sh, cmp_c_int32(n->lo, lo, sizeof lo), n->hi, i, per);
            break;
        }
        }
    }
    fprintf(f, "    DF_CHECK(cudaDeviceSynchronize());\n"
               "    DF_CHECK(cudaMemcpy(logits, t%d, (size_t)n * %d * sizeof(int32_t), cudaMemcpyDeviceToHost));\n"
               "    cudaFree(d_px);\n",
            g->output, g->num_classes);
    for (int i = 0; i < g->n; i++) fprintf(f, "    cudaFree(t%d);\n", i);
    fprintf(f, "    return 0;\n}\n");
    int bad = ferror(f);
    if (fclose(f) || bad) return nn_fail(e, "%s: write failed", path);
    char mainc[4096];
    int k = snprintf(mainc, sizeof mainc,
        "// ./infer IMAGES LABELS [--logits FILE] [--batch B]: accuracy and images/s (IDX, raw or .gz)\n"
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n\n"
        "int df_model_infer_batch(const uint8_t *pixels, int n, int32_t *logits);\n\n"
        "static unsigned char *slurp(const char *p, size_t *len)\n{\n    size_t n = strlen(p);\n    int gz = n > 3 && !strcmp(p + n - 3, \".gz\");\n"
        "    char cmd[4200];\n    snprintf(cmd, sizeof cmd, \"gzip -dc '%%s'\", p);\n    FILE *f = gz ? popen(cmd, \"r\") : fopen(p, \"rb\");\n"
        "    if (!f) return NULL;\n    size_t cap = 1 << 20, k = 0, r;\n    unsigned char *b = (unsigned char *)malloc(cap);\n"
        "    while ((r = fread(b + k, 1, cap - k, f)) > 0) { k += r; if (k == cap) b = (unsigned char *)realloc(b, cap *= 2); }\n"
        "    if (gz) pclose(f); else fclose(f);\n    *len = k;\n    return b;\n}\n\n"
        "static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }\n\n"
        "int main(int argc, char **argv)\n{\n    const char *lp = NULL;\n    int B = 256;\n"
        "    if (argc < 3) { fprintf(stderr, \"usage: %%s IMAGES LABELS [--logits FILE] [--batch B]\\n\", argv[0]); return 2; }\n"
        "    for (int i = 3; i + 1 < argc; i += 2) { if (!strcmp(argv[i], \"--logits\")) lp = argv[i + 1]; else if (!strcmp(argv[i], \"--batch\")) B = atoi(argv[i + 1]); }\n"
        "    size_t li, ll;\n    unsigned char *im = slurp(argv[1], &li), *lb = slurp(argv[2], &ll);\n"
        "    if (!im || !lb || li < 16 || ll < 8) { fprintf(stderr, \"infer: cannot read the IDX files\\n\"); return 1; }\n"
        "    const int n = (int)be32(im + 4), per = %d, K = %d;\n"
        "    int32_t *lg = (int32_t *)malloc((size_t)n * K * sizeof(int32_t));\n    struct timespec t0, t1;\n"
        "    clock_gettime(CLOCK_MONOTONIC, &t0);\n"
        "    for (int off = 0; off < n; off += B) {\n        const int m = n - off < B ? n - off : B;\n"
        "        if (df_model_infer_batch(im + 16 + (size_t)off * per, m, lg + (size_t)off * K)) return 1;\n    }\n"
        "    clock_gettime(CLOCK_MONOTONIC, &t1);\n    long correct = 0;\n"
        "    for (int i = 0; i < n; i++) { int b = 0; for (int k = 1; k < K; k++) b = lg[(size_t)i * K + k] > lg[(size_t)i * K + b] ? k : b; correct += b == lb[8 + i]; }\n"
        "    if (lp) { FILE *f = fopen(lp, \"wb\"); if (!f || fwrite(lg, 4, (size_t)n * K, f) != (size_t)n * K) return 1; fclose(f); }\n"
        "    const double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);\n"
        "    printf(\"{\\\"accuracy\\\":%%.5f,\\\"n\\\":%%d,\\\"seconds\\\":%%.3f,\\\"images_per_s\\\":%%.1f}\\n\", (double)correct / n, n, s, n / s);\n"
        "    return 0;\n}\n",
        g->in_c * g->in_h * g->in_w, g->num_classes);
    snprintf(path, sizeof path, "%s/main.cu", dir);
    if (nn_write_file_atomic(path, mainc, (size_t)k, e)) return NN_ERR;
    static const char *mk = "NVCC ?= nvcc\nCXX ?= g++\n\ninfer: model.cu main.cu\n\t$(NVCC) -O3 -o infer model.cu main.cu\n\n"
                            "# the same code on the CPU: kernels as loops over the grid (no GPU or CUDA needed)\n"
                            "emu: model.cu main.cu\n\t$(CXX) -O2 -x c++ -o infer-emu model.cu main.cu\n\nclean:\n\trm -f infer infer-emu\n";
    snprintf(path, sizeof path, "%s/Makefile", dir);
    if (nn_write_file_atomic(path, mk, strlen(mk), e)) return NN_ERR;
    char readme[1600];
    k = snprintf(readme, sizeof readme,
                 "# %s, exported by `datafree export --target cuda`\n\n"
                 "`model.cu`: one kernel per op kind (one thread per output value of every image in\n"
                 "the batch) and `int df_model_infer_batch(const uint8_t *pixels, int n, int32_t *logits)`\n"
                 "(host buffers: n images of %dx%dx%d uint8, n x %d int32 logits in units of 2^-16),\n"
                 "the integers of datafree's reference interpreter (`datafree eval --integer`).\n\n"
                 "    make          # nvcc -> ./infer\n"
                 "    ./infer t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz [--batch B] [--logits FILE]\n\n"
                 "prints `{\"accuracy\": ..., \"images_per_s\": ...}`. Without a GPU, `make emu` builds\n"
                 "the same source with g++ (kernels as loops over the grid) as `./infer-emu`.\n",
                 g->name, g->in_c, g->in_h, g->in_w, g->num_classes);
    snprintf(path, sizeof path, "%s/README.md", dir);
    return nn_write_file_atomic(path, readme, (size_t)k, e);
}
