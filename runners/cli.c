#include "cli.h"

#include "search/nasb.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/evaluate.h"
#include "nn/io.h"
#include "nn/json.h"
#include "nn/onnx.h"
#include "nn/zoo.h"

int run_error(const char *msg)
{
    fprintf(stderr, "datafree: %s\n", msg);
    return 1;
}

int run_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "datafree %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'datafree %s --help')\n", cmd);
    return 2;
}

int run_opt(int argc, char **argv, int *i, const char *name, const char **val, int *bad)
{
    if (strcmp(argv[*i], name)) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "datafree: option %s needs a value\n", name);
        *bad = 1;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int run_has_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

nn_graph *run_load_model(const char *path, nn_err *e)
{
    return nn_onnx_is_path(path) ? nn_onnx_load(path, e) : nn_graph_load(path, e);
}

/* A binary network's full-precision twin for pretraining (NASB stage 2):
 * sign activations become hardtanh (Bi-Real's clip) or tanh (seed 003's
 * NASB pretraining), binary weights real; the parameters keep their names,
 * so the binary network loads the pretrained ones. */
static void to_float(nn_graph *g, int use_tanh)
{
    for (int i = 0; i < g->n; i++) {
        nn_gnode *n = &g->nodes[i];
        if (n->op == NN_OP_SIGN) n->op = use_tanh ? NN_OP_TANH : NN_OP_HARDTANH, n->lo = -1.0f, n->hi = 1.0f;
        n->wbin = 0;
    }
}

nn_graph *run_model_from_config(const cJSON *m, const char *path, int c, int h, int w, int classes, uint64_t seed,
                                nn_err *e)
{
    static const char *const keys[] = {"zoo", "file", "graph", "init", "genotype", "precision", "float_sign", "init_from",
                                       "init_rename", NULL};
    if (nn_json_check_keys(m, path, keys, e)) return NULL;
    const char *zoo = NULL, *file = NULL, *init = NULL, *geno = NULL, *prec = NULL, *from = NULL, *fsign = NULL;
    if (nn_json_str(m, path, "zoo", 0, &zoo, e) || nn_json_str(m, path, "file", 0, &file, e) ||
        nn_json_str(m, path, "init", 0, &init, e) || nn_json_str(m, path, "genotype", 0, &geno, e) ||
        nn_json_str(m, path, "precision", 0, &prec, e) || nn_json_str(m, path, "init_from", 0, &from, e) ||
        nn_json_str(m, path, "float_sign", 0, &fsign, e))
        return NULL;
    const cJSON *graph = cJSON_GetObjectItem(m, "graph");
    if (!!zoo + !!file + !!graph != 1) {
        nn_fail(e, "%s: give exactly one of \"zoo\", \"file\" or \"graph\"", path);
        return NULL;
    }
    if (geno && (!zoo || strcmp(zoo, "nasb_resnet20"))) {
        nn_fail(e, "%s.genotype: only for \"zoo\": \"nasb_resnet20\"", path);
        return NULL;
    }
    if (prec && strcmp(prec, "float") && strcmp(prec, "binary")) {
        nn_fail(e, "%s.precision: '%s' is not one of binary, float", path, prec);
        return NULL;
    }
    if (fsign && (!prec || strcmp(prec, "float") || (strcmp(fsign, "hardtanh") && strcmp(fsign, "tanh")))) {
        nn_fail(e, "%s.float_sign: %s", path,
                prec && !strcmp(prec, "float") ? "one of hardtanh, tanh" : "only with \"precision\": \"float\"");
        return NULL;
    }
    const int use_tanh = fsign && !strcmp(fsign, "tanh");
    nn_init_kind kind = NN_INIT_KAIMING;
    if (init && !strcmp(init, "xavier"))
        kind = NN_INIT_XAVIER;
    else if (init && strcmp(init, "kaiming")) {
        nn_fail(e, "%s.init: '%s' is not one of kaiming, xavier", path, init);
        return NULL;
    }
    const cJSON *ren = cJSON_GetObjectItem(m, "init_rename");
    if (ren && (!from || !cJSON_IsObject(ren) || !cJSON_GetArraySize(ren))) {
        nn_fail(e, "%s.init_rename: %s", path,
                from ? "an object of graph-name prefix: file-name prefix strings" : "only with \"init_from\"");
        return NULL;
    }
    for (const cJSON *r = ren ? ren->child : NULL; r; r = r->next)
        if (!cJSON_IsString(r)) {
            nn_fail(e, "%s.init_rename.%s: a file-name prefix string", path, r->string);
            return NULL;
        }
    if (file) {
        if (init || from) {
            nn_fail(e, "%s: a model from a file keeps its trained weights; drop \"init\" and \"init_from\"", path);
            return NULL;
        }
        nn_graph *g = run_load_model(file, e);
        if (g && prec && !strcmp(prec, "float")) to_float(g, use_tanh);
        return g;
    }
    nn_graph *g;
    if (zoo && !strcmp(zoo, "nasb_resnet20")) {
        if (!geno) {
            nn_fail(e, "%s: nasb_resnet20 needs \"genotype\" (a genotype.json of datafree nasb)", path);
            return NULL;
        }
        srch_genotype gt;
        if (srch_genotype_load(geno, &gt, e)) return NULL;
        g = nasb_build(c, h, w, classes, 1, &gt, e);
    } else if (zoo) {
        g = nn_zoo_build(zoo, c, h, w, classes, seed, e);
    } else {
        char p[300];
        snprintf(p, sizeof p, "%s.graph", path);
        g = nn_graph_from_json(graph, p, e);
    }
    if (!g) return NULL;
    nn_graph_init_params(g, seed, kind);
    if (prec && !strcmp(prec, "float")) to_float(g, use_tanh);
    if (from) { /* parameters by name from a trained model (its .safetensors beside the .json) */
        char sp[1200];
        nn_graph_params_path(from, sp, sizeof sp);
        int bad, loaded = 0;
        if (ren) { /* a partial load, the names mapped (e.g. a ResNet's blocks onto a NASB backbone) */
            const int nr = cJSON_GetArraySize(ren);
            nn_rename *rn = malloc(sizeof *rn * (size_t)nr);
            if (!rn) {
                nn_fail(e, "%s.init_rename: out of memory", path);
                nn_graph_free(g);
                return NULL;
            }
            int k = 0;
            for (const cJSON *r = ren->child; r; r = r->next, k++) rn[k].graph = r->string, rn[k].file = r->valuestring;
            bad = nn_graph_load_params_renamed(g, sp, rn, nr, &loaded, e);
            free(rn);
            if (!bad && !loaded) bad = 1, nn_fail(e, "%s: no tensor matched under init_rename", sp);
        } else {
            bad = nn_graph_load_params(g, sp, e);
        }
        if (bad) {
            char m2[1400];
            snprintf(m2, sizeof m2, "%.300s.init_from: %.1000s", path, e->msg);
            nn_fail(e, "%s", m2);
            nn_graph_free(g);
            return NULL;
        }
    }
    return g;
}

void run_progress_init(run_progress *p, int quiet)
{
    p->tty = !quiet && isatty(STDOUT_FILENO);
    p->t0 = p->last = nn_now();
}

void run_progress_line(run_progress *p, const char *fmt, ...)
{
    if (!p->tty) return;
    double t = nn_now();
    if (t - p->last < 0.2) return; /* redraw at most 5 times a second */
    p->last = t;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("\r\033[K%s", buf);
    fflush(stdout);
}

void run_progress_done(run_progress *p)
{
    if (p->tty) {
        printf("\r\033[K");
        fflush(stdout);
    }
}

double run_peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0.0;
    char line[256];
    double kb = 0.0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    fclose(f);
    return kb / 1024.0;
}

int run_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int run_parse_run_args(const char *cmd, int argc, char **argv, run_args *a)
{
    const char *threads_s = NULL, *stop_s = NULL;
    int bad = 0;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume"))
            a->resume = 1;
        else if (!strcmp(argv[i], "--json"))
            a->json = 1;
        else if (run_opt(argc, argv, &i, "--threads", &threads_s, &bad) ||
                 run_opt(argc, argv, &i, "--stop-after", &stop_s, &bad)) {
            if (bad) return 2;
        } else if (argv[i][0] == '-')
            return run_usage_error(cmd, "unknown option %s", argv[i]);
        else if (!a->config)
            a->config = argv[i];
        else
            return run_usage_error(cmd, "more than one config given");
    }
    if (!a->config) return run_usage_error(cmd, "no config given");
    if (threads_s && run_parse_int(threads_s, 1, 1024, &a->threads))
        return run_usage_error(cmd, "--threads needs a number from 1 to 1024, not '%s'", threads_s);
    if (stop_s && run_parse_int(stop_s, 1, INT_MAX, &a->stop_after))
        return run_usage_error(cmd, "--stop-after needs a number >= 1, not '%s'", stop_s);
    return 0;
}

void run_append_line(const char *path, const char *line)
{
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "%s\n", line);
    fclose(f);
}

/* Keep only metrics lines of the first `done` epochs (1-based epoch numbers),
 * so a resume never duplicates lines. */
void run_trim_metrics(const char *path, int done)
{
    nn_err e;
    size_t len;
    char *buf = nn_read_file(path, &len, &e);
    if (!buf) return;
    char *out = nn_xmalloc(len + 1);
    size_t k = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        cJSON *ep = j ? cJSON_GetObjectItem(j, "epoch") : NULL;
        if (cJSON_IsNumber(ep) && ep->valueint <= done) {
            size_t l = strlen(line);
            memcpy(out + k, line, l);
            out[k + l] = '\n';
            k += l + 1;
        }
        cJSON_Delete(j);
    }
    nn_write_file_atomic(path, out, k, &e);
    free(out);
    free(buf);
}


int run_parse_channels(const char *s, int channels, float *out, int positive, nn_err *e)
{
    float v[4];
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        float x = strtof(p, &end);
        if (end == p || n == 4 || (positive && !(x > 0.0f)) || !(x == x))
            return nn_fail(e, "'%s': expected up to 4 comma-separated numbers%s", s, positive ? " > 0" : "");
        v[n++] = x;
        p = end;
        if (*p == ',') p++;
        else if (*p) return nn_fail(e, "'%s': expected comma-separated numbers", s);
    }
    if (channels > 4) return nn_fail(e, "per-channel preprocessing is stored for up to 4 channels, the model has %d", channels);
    if (n != 1 && n != channels) return nn_fail(e, "'%s': %d values for %d channels", s, n, channels);
    for (int c = 0; c < channels; c++) out[c] = v[n == 1 ? 0 : c];
    return NN_OK;
}

double run_sum_metric(const char *path, const char *key)
{
    nn_err e;
    size_t len;
    char *buf = nn_read_file(path, &len, &e);
    double s = 0;
    for (char *ln = buf ? strtok(buf, "\n") : NULL; ln; ln = strtok(NULL, "\n")) {
        cJSON *jl = cJSON_Parse(ln), *t = jl ? cJSON_GetObjectItem(jl, key) : NULL;
        if (cJSON_IsNumber(t)) s += t->valuedouble;
        cJSON_Delete(jl);
    }
    free(buf);
    return s;
}

int run_start_dir(const char *dir, const cJSON *config, int resume, nn_err *e)
{
    char path[1200];
    if (nn_mkdirs(dir, e)) return NN_ERR;
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    const int ckpt = resume && nn_file_exists(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    return run_keep_config(path, config, ckpt, dir, "", dir, e);
}
