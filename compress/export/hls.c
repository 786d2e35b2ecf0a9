/* The hls target: the IntGraph as Vitis-HLS-style C++ that also builds with
 * plain g++ (a tiny hls::stream shim), for C simulation.
 *   model.cpp   one dataflow process per IntGraph node under #pragma HLS
 *               DATAFLOW, connected by hls::stream FIFOs (one per edge:
 *               a node with several consumers writes each its own stream);
 *               activations stream pixel by pixel (H, W, C order); convs and
 *               max pooling keep a line buffer of the rows their window
 *               spans; weights and requantisation constants are ROM arrays
 *               (#pragma HLS ARRAY_PARTITION cyclic by the units a layer
 *               gets, PIPELINE II=reuse on the output-channel loops);
 *               integer types of fixed widths; adder layers as -sum |x - w|
 *   hls_stream.h  the shim: a FIFO on std::deque (unbounded in C simulation)
 *   tb.cpp      C-simulation testbench: IDX images in, int32 logits out
 *               (`make` builds `./infer IMAGES LABELS [--logits FILE]`, also
 *               as `./csim`), JSON with accuracy and images/s on stdout
 *   README.md   how to build, simulate and synthesize
 *   estimate.json  on-chip memory (ROM and line buffers, bits), multipliers
 *               and adder units, frame interval and latency in cycles, per
 *               layer and in total, at the reuse factor of the export options
 *               (a formula, not a synthesis report)
 * The integers are the reference interpreter's: the same sums in int32, the
 * same int64 requantisation. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <math.h>

#include "compress/export.h"
#include "nn/io.h"

static const char *shim =
    "/* hls::stream for C simulation with g++ (Vitis HLS provides the real one). */\n"
    "#ifndef DF_HLS_STREAM_H\n#define DF_HLS_STREAM_H\n#include <deque>\n#include <cstdio>\n#include <cstdlib>\n"
    "namespace hls {\ntemplate <typename T> class stream {\n  std::deque<T> q;\n public:\n"
    "  void write(const T &v) { q.push_back(v); }\n"
    "  T read() { if (q.empty()) { std::fprintf(stderr, \"hls::stream: read from an empty FIFO\\n\"); std::abort(); }\n"
    "             T v = q.front(); q.pop_front(); return v; }\n"
    "  bool empty() const { return q.empty(); }\n  size_t size() const { return q.size(); }\n};\n}\n#endif\n";

/* The reuse factor of a layer with `taps` products per output value. */
static int reuse_of(const cmp_export_opts *o, int taps)
{
    const int r = o->hls_reuse > 0 ? o->hls_reuse : 1;
    return r < taps ? r : taps;
}

typedef struct {
    double mults, adders, macs, sads, interval, latency;
    cJSON *layers;
} hls_est;

static void layer_cost(hls_est *t, const int_node *n, int adder, int units, double out_cycles, double in_words,
                       double ops)
{
    const double cyc = out_cycles > in_words ? out_cycles : in_words;
    if (!t->layers) t->layers = cJSON_CreateArray();
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "name", n->name);
    cJSON_AddStringToObject(l, "op", adder ? "adder" : n->op == INT_LINEAR ? "linear" : "conv");
    cJSON_AddNumberToObject(l, adder ? "adder_units" : "multipliers", units);
    cJSON_AddNumberToObject(l, "cycles", cyc);
    cJSON_AddItemToArray(t->layers, l);
    if (adder)
        t->adders += units, t->sads += ops;
    else
        t->mults += units, t->macs += ops;
    t->interval = cyc > t->interval ? cyc : t->interval;
    t->latency += cyc;
}

/* the stream from node p to its k-th consumer */
static void sname(char *buf, size_t n, int p, int k) { snprintf(buf, n, "s%d_%d", p, k); }

int cmp_export_hls(const nn_graph *q, const int_graph *g, const cmp_export_opts *o, const char *dir, nn_err *e)
{
    (void)q;
    if (g->n > 1024) return nn_fail(e, "export hls: %d integer nodes (at most 1024)", g->n);
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == INT_LINEAR && g->nodes[g->nodes[i].in].h * g->nodes[g->nodes[i].in].w > 1)
            return nn_fail(e, "node '%s': a linear layer on a flattened feature map is not supported by the hls "
                              "target yet (the stream order is H, W, C)", g->nodes[i].name);
    /* consumers per node, and each input edge's index at its producer */
    static int cons[1024], edge_of[1024][DF_MAX_TERMS];
    memset(cons, 0, sizeof cons);
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        if (n->op == INT_REQUANT)
            for (int t = 0; t < n->nterms; t++) edge_of[i][t] = cons[n->term[t]]++;
        else if (n->op != INT_INPUT && n->op != INT_CONST)
            edge_of[i][0] = cons[n->in]++;
    }
    cons[g->output]++; /* the top's output */
    char path[1200];
    snprintf(path, sizeof path, "%s/hls_stream.h", dir);
    if (nn_write_file_atomic(path, shim, strlen(shim), e)) return NN_ERR;
    snprintf(path, sizeof path, "%s/model.cpp", dir);
    FILE *f = fopen(path, "w");
    if (!f) return nn_fail(e, "%s: cannot write", path);
    fprintf(f, "// %s: generated by `datafree export --target hls`. Vitis HLS C++; builds with g++\n"
               "// for C simulation (hls_stream.h). Streams carry activations pixel by pixel (H, W, C).\n"
               "#include <stdint.h>\n#include \"hls_stream.h\"\n\ntypedef hls::stream<int32_t> strm;\n\n",
            g->name);
    double rom_bits = 0, line_bits = 0;
    hls_est est = {0};
    char nm[64], sn[64];
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        const int_node *a = n->op == INT_INPUT || n->op == INT_CONST || n->op == INT_REQUANT ? NULL : &g->nodes[n->in];
        const int C = n->c, H = n->h, W = n->w;
        fprintf(f, "// %d: %s\n", i, n->name);
        /* constants */
        if (n->op == INT_CONV || n->op == INT_ADDER) {
            const size_t kp = (size_t)df_conv_taps(a->c, n->groups, n->k);
            snprintf(nm, sizeof nm, "w%d", i);
            cmp_put_array(f, "int16_t", nm, n->wt, (size_t)C * kp, 2);
            rom_bits += 16.0 * C * kp;
        } else if (n->op == INT_LINEAR) {
            snprintf(nm, sizeof nm, "w%d", i);
            cmp_put_array(f, "int16_t", nm, n->wt, (size_t)C * a->c * a->h * a->w, 2);
            rom_bits += 16.0 * C * a->c * a->h * a->w;
        } else if (n->op == INT_CONST) {
            snprintf(nm, sizeof nm, "k%d", i);
            cmp_put_array(f, "int32_t", nm, n->data, (size_t)C * H * W, 4);
            rom_bits += 32.0 * C * H * W;
        } else if (n->op == INT_REQUANT) {
            for (int t = 0; t < n->nterms; t++) {
                snprintf(nm, sizeof nm, "m%d_%d", i, t);
                cmp_put_array(f, "int64_t", nm, n->m[t], (size_t)C, 8);
            }
            snprintf(nm, sizeof nm, "c%d", i);
            cmp_put_array(f, "int64_t", nm, n->kc, (size_t)C, 8);
            rom_bits += 64.0 * C * (n->nterms + 1);
        }
        /* the process */
        fprintf(f, "static void p%d(", i);
        int first = 1;
        if (n->op == INT_INPUT) {
            fprintf(f, "hls::stream<uint8_t> &in");
            first = 0;
        } else if (n->op == INT_REQUANT) {
            for (int t = 0; t < n->nterms; t++) {
                sname(sn, sizeof sn, n->term[t], edge_of[i][t]);
                fprintf(f, "%sstrm &i%d", t ? ", " : "", t);
            }
            first = 0;
        } else if (n->op != INT_CONST) {
            fprintf(f, "strm &i0");
            first = 0;
        }
        for (int k = 0; k < cons[i]; k++) fprintf(f, "%sstrm &o%d", first && k == 0 ? "" : ", ", k);
        fprintf(f, ")\n{\n");
#define EMIT(v)                                                                                                        \
    do {                                                                                                               \
        for (int k = 0; k < cons[i]; k++) fprintf(f, "%s o%d.write(%s);\n", ind, k, v);                               \
    } while (0)
        const char *ind = "        ";
        switch (n->op) {
        case INT_INPUT:
            fprintf(f, "    for (int p = 0; p < %d; p++) {\n#pragma HLS PIPELINE II=1\n"
                       "        const int32_t v = in.read();\n", C * H * W);
            EMIT("v");
            fprintf(f, "    }\n");
            break;
        case INT_CONST:
            fprintf(f, "    for (int p = 0; p < %d; p++)\n        for (int c = 0; c < %d; c++) {\n"
                       "#pragma HLS PIPELINE II=1\n        const int32_t v = k%d[c * %d + p];\n",
                    H * W, C, i, H * W);
            ind = "        ";
            EMIT("v");
            fprintf(f, "        }\n");
            break;
        case INT_CONV:
        case INT_ADDER:
        case INT_MAXPOOL: {
            const int IC = a->c, IH = a->h, IW = a->w, k = n->k, st = n->stride, pd = n->pad;
            const int dl = n->op != INT_MAXPOOL ? n->dil : 1, R = (k - 1) * dl + 1;
            line_bits += 32.0 * R * IW * IC;
            fprintf(f, "    static int32_t lb[%d][%d][%d]; // line buffer: the %d rows a window spans\n"
                       "#pragma HLS ARRAY_PARTITION variable=lb complete dim=1\n"
                       "    int next = 0; // next output row\n"
                       "    for (int r = 0; r < %d; r++) {\n"
                       "        for (int x = 0; x < %d; x++)\n            for (int c = 0; c < %d; c++) {\n"
                       "#pragma HLS PIPELINE II=1\n                lb[r %% %d][x][c] = i0.read();\n            }\n"
                       "        // emit every output row whose window is complete\n"
                       "        while (next < %d && (next * %d - %d + %d >= %d ? %d : next * %d - %d + %d) <= r) {\n"
                       "            const int oh = next++;\n"
                       "            for (int ow = 0; ow < %d; ow++)\n                for (int o = 0; o < %d; o++) {\n"
                       "#pragma HLS PIPELINE II=%d\n",
                    R, IW, IC, R, IH, IW, IC, R, H, st, pd, R - 1, IH, IH - 1, st, pd, R - 1, W, C,
                    n->op == INT_MAXPOOL ? 1 : reuse_of(o, IC / n->groups * k * k));
            if (n->op != INT_MAXPOOL) {
                const int taps = IC / n->groups * k * k, r = reuse_of(o, taps);
                layer_cost(&est, n, n->op == INT_ADDER, (taps + r - 1) / r, (double)H * W * C * r, (double)IC * IH * IW,
                           (double)C * H * W * taps);
                fprintf(f, "#pragma HLS ARRAY_PARTITION variable=w%d cyclic factor=%d\n", i, (taps + r - 1) / r);
            }
            if (n->op == INT_CONV) {
                const int cg = IC / n->groups, og = C / n->groups, Cp = df_conv_pairs(IC, n->groups),
                          Kp = df_conv_taps(IC, n->groups, k);
                fprintf(f, "                    int32_t acc = 0;\n                    const int g = o / %d;\n"
                           "                    for (int kh = 0; kh < %d; kh++) {\n"
                           "                        const int ih = oh * %d + kh * %d - %d;\n"
                           "                        if (ih < 0 || ih >= %d) continue;\n"
                           "                        for (int kw = 0; kw < %d; kw++) {\n"
                           "                            const int iw = ow * %d + kw * %d - %d;\n"
                           "                            if (iw < 0 || iw >= %d) continue;\n"
                           "                            for (int ic = 0; ic < %d; ic++)\n"
                           "                                acc += (int32_t)w%d[o * %d + ((kh * %d + kw) * %d + ic / 2) * 2 + ic %% 2] *\n"
                           "                                       (lb[ih %% %d][iw][g * %d + ic] - %d);\n"
                           "                        }\n                    }\n",
                        og, k, st, dl, pd, IH, k, st, dl, pd, IW, cg, i, Kp, k, Cp, R, cg, n->zp);
            } else if (n->op == INT_ADDER) {
                const int cg = IC / n->groups, og = C / n->groups, Cp = df_conv_pairs(IC, n->groups),
                          Kp = df_conv_taps(IC, n->groups, k);
                fprintf(f, "                    int32_t acc = 0;\n                    const int g = o / %d;\n"
                           "                    for (int kh = 0; kh < %d; kh++)\n"
                           "                        for (int kw = 0; kw < %d; kw++) {\n"
                           "                            const int ih = oh * %d + kh * %d - %d, iw = ow * %d + kw * %d - %d;\n"
                           "                            const bool in = ih >= 0 && ih < %d && iw >= 0 && iw < %d;\n"
                           "                            for (int ic = 0; ic < %d; ic++) { // a padded tap is x = 0: it adds -|w|\n"
                           "                                const int32_t xv = in ? (lb[ih %% %d][iw][g * %d + ic] - %d) * %d : 0;\n"
                           "                                const int32_t d = xv - w%d[o * %d + ((kh * %d + kw) * %d + ic / 2) * 2 + ic %% 2];\n"
                           "                                acc -= d < 0 ? -d : d;\n"
                           "                            }\n                        }\n",
                        og, k, k, st, dl, pd, st, dl, pd, IH, IW, cg, R, cg, n->zp, 1 << n->xsh, i, Kp, k, Cp);
            } else {
                fprintf(f, "                    int32_t acc = INT32_MIN;\n"
                           "                    for (int kh = 0; kh < %d; kh++)\n                        for (int kw = 0; kw < %d; kw++) {\n"
                           "                            const int ih = oh * %d + kh - %d, iw = ow * %d + kw - %d;\n"
                           "                            if (ih < 0 || ih >= %d || iw < 0 || iw >= %d) continue;\n"
                           "                            const int32_t v = lb[ih %% %d][iw][o];\n"
                           "                            acc = v > acc ? v : acc;\n                        }\n",
                        k, k, st, pd, st, pd, IH, IW, R);
            }
            ind = "                    ";
            EMIT("acc");
            fprintf(f, "                }\n        }\n    }\n");
            break;
        }
        case INT_SUM_HW:
            fprintf(f, "    int32_t acc[%d] = {0};\n#pragma HLS ARRAY_PARTITION variable=acc complete\n"
                       "    for (int p = 0; p < %d; p++)\n        for (int c = 0; c < %d; c++) {\n"
                       "#pragma HLS PIPELINE II=1\n            acc[c] += i0.read() - %d;\n        }\n"
                       "    for (int c = 0; c < %d; c++) {\n",
                    C, a->h * a->w, C, n->zp, C);
            EMIT("acc[c]");
            fprintf(f, "    }\n");
            break;
        case INT_LINEAR: {
            const int IN = a->c * a->h * a->w, r = reuse_of(o, IN);
            layer_cost(&est, n, 0, (IN + r - 1) / r, (double)C * r, IN, (double)C * IN);
            fprintf(f, "    int32_t x[%d];\n    for (int i = 0; i < %d; i++) x[i] = i0.read() - %d;\n"
                       "    for (int o = 0; o < %d; o++) {\n#pragma HLS PIPELINE II=%d\n        int32_t acc = 0;\n"
                       "        for (int i = 0; i < %d; i++) acc += (int32_t)w%d[o * %d + i] * x[i];\n",
                    IN, IN, n->zp, C, r, IN, i, IN);
            /* x is stored HWC (stream order) but the weights are [O][C*H*W]: only vectors (H = W = 1) */
            EMIT("acc");
            fprintf(f, "    }\n");
            break;
        }
        case INT_REQUANT:
            fprintf(f, "    for (int p = 0; p < %d; p++)\n        for (int c = 0; c < %d; c++) {\n"
                       "#pragma HLS PIPELINE II=1\n            int64_t acc = c%d[c];\n",
                    H * W, C, i);
            for (int t = 0; t < n->nterms; t++)
                fprintf(f, "            acc += (int64_t)i%d.read() * m%d_%d[c];\n", t, i, t);
            fprintf(f, "            acc >>= %d;\n            const int32_t v = acc < %" PRId32 "LL ? %" PRId32
                       " : acc > %" PRId32 "LL ? %" PRId32 " : (int32_t)acc;\n",
                    n->sh, n->lo, n->lo, n->hi, n->hi);
            ind = "            ";
            EMIT("v");
            fprintf(f, "        }\n");
            break;
        }
#undef EMIT
        fprintf(f, "}\n\n");
    }
    /* the top: every process under DATAFLOW, one FIFO per edge */
    fprintf(f, "void df_model_top(hls::stream<uint8_t> &in, strm &out)\n{\n#pragma HLS DATAFLOW\n");
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < cons[i] - (i == g->output); k++) {
            sname(sn, sizeof sn, i, k);
            fprintf(f, "    strm %s;\n#pragma HLS STREAM variable=%s depth=%d\n", sn, sn,
                    g->nodes[i].c * g->nodes[i].w * 4 + 16);
        }
    for (int i = 0; i < g->n; i++) {
        const int_node *n = &g->nodes[i];
        fprintf(f, "    p%d(", i);
        int first = 1;
        if (n->op == INT_INPUT) {
            fprintf(f, "in");
            first = 0;
        } else if (n->op == INT_REQUANT) {
            for (int t = 0; t < n->nterms; t++) {
                sname(sn, sizeof sn, n->term[t], edge_of[i][t]);
                fprintf(f, "%s%s", t ? ", " : "", sn);
            }
            first = 0;
        } else if (n->op != INT_CONST) {
            sname(sn, sizeof sn, n->in, edge_of[i][0]);
            fprintf(f, "%s", sn);
            first = 0;
        }
        for (int k = 0; k < cons[i]; k++) {
            if (i == g->output && k == cons[i] - 1)
                fprintf(f, "%sout", first && k == 0 ? "" : ", ");
            else {
                sname(sn, sizeof sn, i, k);
                fprintf(f, "%s%s", first && k == 0 ? "" : ", ", sn);
            }
        }
        fprintf(f, ");\n");
    }
    fprintf(f, "}\n");
    int bad = ferror(f);
    if (fclose(f) || bad) return nn_fail(e, "%s: write failed", path);
    /* the testbench */
    char tb[4096];
    int k = snprintf(tb, sizeof tb,
        "// C-simulation testbench: ./infer IMAGES LABELS [--logits FILE] (IDX, raw or .gz via gzip -dc)\n"
        "#include <chrono>\n#include <cstdint>\n#include <cstdio>\n#include <cstdlib>\n#include <cstring>\n#include <string>\n#include <vector>\n#include \"hls_stream.h\"\n\n"
        "void df_model_top(hls::stream<uint8_t> &in, hls::stream<int32_t> &out);\n\n"
        "static std::vector<unsigned char> slurp(const char *p)\n{\n    size_t n = strlen(p);\n    bool gz = n > 3 && !strcmp(p + n - 3, \".gz\");\n"
        "    std::string cmd = std::string(\"gzip -dc '\") + p + \"'\";\n"
        "    FILE *f = gz ? popen(cmd.c_str(), \"r\") : fopen(p, \"rb\");\n    std::vector<unsigned char> b;\n"
        "    if (!f) return b;\n    unsigned char buf[65536];\n    size_t r;\n"
        "    while ((r = fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + r);\n"
        "    if (gz) pclose(f); else fclose(f);\n    return b;\n}\n\n"
        "static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }\n\n"
        "int main(int argc, char **argv)\n{\n    if (argc < 3) { fprintf(stderr, \"usage: %%s IMAGES LABELS [--logits FILE]\\n\", argv[0]); return 2; }\n"
        "    const char *lp = argc > 4 && !strcmp(argv[3], \"--logits\") ? argv[4] : NULL;\n"
        "    std::vector<unsigned char> im = slurp(argv[1]), lb = slurp(argv[2]);\n"
        "    if (im.size() < 16 || lb.size() < 8) { fprintf(stderr, \"csim: cannot read the IDX files\\n\"); return 1; }\n"
        "    const int n = (int)be32(&im[4]), C = %d, H = %d, W = %d, K = %d;\n"
        "    if ((int)be32(&im[8]) != H || (int)be32(&im[12]) != W) { fprintf(stderr, \"csim: image size differs from the model's\\n\"); return 1; }\n"
        "    std::vector<int> logits((size_t)n * K);\n    long correct = 0;\n"
        "    const auto t0 = std::chrono::steady_clock::now();\n"
        "    for (int i = 0; i < n; i++) {\n        hls::stream<uint8_t> in;\n        hls::stream<int32_t> out;\n"
        "        const unsigned char *px = &im[16 + (size_t)i * C * H * W];\n"
        "        for (int p = 0; p < H * W; p++)\n            for (int c = 0; c < C; c++) in.write(px[(size_t)c * H * W + p]);\n"
        "        df_model_top(in, out);\n        int b = 0;\n"
        "        for (int k = 0; k < K; k++) { logits[(size_t)i * K + k] = out.read(); if (logits[(size_t)i * K + k] > logits[(size_t)i * K + b]) b = k; }\n"
        "        correct += b == lb[8 + i];\n    }\n"
        "    if (lp) { FILE *f = fopen(lp, \"wb\"); if (!f || fwrite(logits.data(), 4, logits.size(), f) != logits.size()) return 1; fclose(f); }\n"
        "    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();\n"
        "    printf(\"{\\\"accuracy\\\":%%.5f,\\\"n\\\":%%d,\\\"seconds\\\":%%.3f,\\\"images_per_s\\\":%%.1f}\\n\", (double)correct / n, n, s, n / s);\n    return 0;\n}\n",
        g->in_c, g->in_h, g->in_w, g->num_classes);
    snprintf(path, sizeof path, "%s/tb.cpp", dir);
    if (nn_write_file_atomic(path, tb, (size_t)k, e)) return NN_ERR;
    /* ./infer is the C simulation (the testbench); ./csim the same program under its HLS name */
    static const char *mk = "CXX ?= g++\nCXXFLAGS ?= -O2\n\nall: infer csim\n\ninfer: model.cpp tb.cpp hls_stream.h\n"
                            "\t$(CXX) $(CXXFLAGS) -Wno-unknown-pragmas -o infer model.cpp tb.cpp\n\n"
                            "csim: infer\n\tcp infer csim\n\nclean:\n\trm -f infer csim\n";
    snprintf(path, sizeof path, "%s/Makefile", dir);
    if (nn_write_file_atomic(path, mk, strlen(mk), e)) return NN_ERR;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", g->name);
    cJSON_AddNumberToObject(j, "reuse", o->hls_reuse > 0 ? o->hls_reuse : 1);
    cJSON_AddNumberToObject(j, "rom_bits", rom_bits);
    cJSON_AddNumberToObject(j, "line_buffer_bits", line_bits);
    cJSON_AddNumberToObject(j, "bram18k", ceil((rom_bits + line_bits) / 18432.0));
    cJSON_AddNumberToObject(j, "multipliers", est.mults);
    cJSON_AddNumberToObject(j, "adder_units", est.adders);
    cJSON_AddNumberToObject(j, "macs_per_frame", est.macs);
    cJSON_AddNumberToObject(j, "abs_diff_ops_per_frame", est.sads);
    cJSON_AddNumberToObject(j, "frame_interval_cycles", est.interval);
    cJSON_AddNumberToObject(j, "latency_cycles", est.latency);
    cJSON_AddStringToObject(j, "note", "formula estimate, not a synthesis report: a conv/adder/linear layer has "
                                       "ceil(taps / reuse) multipliers (adder units for adder layers) and takes "
                                       "max(outputs * reuse, input values) cycles (one FIFO word per cycle); under "
                                       "DATAFLOW the frame interval is the slowest layer's, the latency about their "
                                       "sum; ROM and line buffers counted in 18 Kbit blocks; requantisation "
                                       "multipliers not counted");
    cJSON_AddItemToObject(j, "layers", est.layers);
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    const int k2 = (int)strlen(txt);
    char readme[1800];
    const int kr = snprintf(readme, sizeof readme,
        "# %s, exported by `datafree export --target hls`\n\n"
        "Vitis-HLS-style C++: `df_model_top(hls::stream<uint8_t> &in, hls::stream<int32_t> &out)` in\n"
        "`model.cpp`, one DATAFLOW process per layer over FIFOs, line buffers, weights in ROM\n"
        "arrays, `#pragma HLS PIPELINE II=%d` (the reuse factor) on the output-channel loops.\n"
        "Synthesis: add `model.cpp` to a Vitis HLS project with `df_model_top` as the top\n"
        "function (the real `hls_stream.h` replaces the shim here). C simulation with g++:\n\n"
        "    make\n    ./infer t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz [--logits FILE]\n\n"
        "prints `{\"accuracy\": ..., \"images_per_s\": ...}` (`./csim` is the same program); the int32\n"
        "logits are those of datafree's reference interpreter. `estimate.json`: ROM and line-buffer\n"
        "bits, BRAM18K, multipliers and adder units, frame interval and latency in cycles, per\n"
        "layer: a formula at this reuse factor, not a synthesis report.\n",
        g->name, o->hls_reuse > 0 ? o->hls_reuse : 1);
    snprintf(path, sizeof path, "%s/README.md", dir);
    if (nn_write_file_atomic(path, readme, (size_t)kr, e)) {
        free(txt);
        return NN_ERR;
    }
    snprintf(path, sizeof path, "%s/estimate.json", dir);
    const int wrc = nn_write_file_atomic(path, txt, (size_t)k2, e);
    free(txt);
    return wrc ? NN_ERR : NN_OK;
}
