/* Shared pieces of the command runners: the command table, option
 * parsing helpers, progress display, model loading from a config or path. */
#ifndef RUN_CLI_H
#define RUN_CLI_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "nn/data.h"
#include "nn/graph.h"

int run_train(int argc, char **argv);
/* Checks a train config as `datafree train` does before it runs (keys, types,
 * values; no file is opened): for runners that generate train configs and
 * should refuse a bad one before their own long work. */
int run_train_check(const cJSON *config, nn_err *e);
int run_eval(int argc, char **argv);
int run_inspect(int argc, char **argv);
int run_bench(int argc, char **argv);
int run_quantize(int argc, char **argv);
int run_reconstruct(int argc, char **argv);
int run_convert(int argc, char **argv);
int run_search(int argc, char **argv);
int run_pipeline(int argc, char **argv);
int run_nasb(int argc, char **argv);
int run_export(int argc, char **argv);

/* Print "datafree: <msg>" to stderr; returns the exit code 1 (or 2 for usage). */
int run_error(const char *msg);
int run_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Is argv[i] == name; takes its value into *val (error if missing). */
int run_opt(int argc, char **argv, int *i, const char *name, const char **val, int *bad);
int run_has_help(int argc, char **argv);
/* s as a whole decimal integer in [lo, hi] into *out; 0 on success, -1 for
 * anything else ("", "12x", out of range), so "--skip abc" is refused, not 0. */
int run_parse_int(const char *s, long lo, long hi, int *out);

/* A model from a path: model.json (with model.safetensors beside it). */
nn_graph *run_load_model(const char *path, nn_err *e);
/* A model from a config object: {"zoo": NAME} | {"file": PATH} | {"graph": {...}} */
nn_graph *run_model_from_config(const cJSON *m, const char *path, int c, int h, int w, int classes, uint64_t seed,
                                nn_err *e);

/* A progress line: redrawn in place on a terminal, silent otherwise. */
typedef struct run_progress {
    int tty;
    double t0, last;
} run_progress;
void run_progress_init(run_progress *p, int quiet);
void run_progress_line(run_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void run_progress_done(run_progress *p);

/* The options of a run command: CONFIG [--resume] [--threads T]
 * [--stop-after N] [--json]. Returns 0, or the exit code of a usage error
 * (already printed). */
typedef struct run_args {
    const char *config;
    int resume, json, threads, stop_after;
} run_args;
int run_parse_run_args(const char *cmd, int argc, char **argv, run_args *a);
/* Append one line to a file (metrics, progress). */
void run_append_line(const char *path, const char *line);
/* Keep only the JSON lines whose "epoch" is <= done, so a resume never
 * duplicates metrics lines. */
void run_trim_metrics(const char *path, int done);
/* The sum of a numeric key over a JSON-lines file (0 if none). */
double run_sum_metric(const char *path, const char *key);
/* A run folder: created if needed, with a copy of the config as config.json;
 * resuming a checkpoint there, only under the config.json it ran with. */
int run_start_dir(const char *dir, const cJSON *config, int resume, nn_err *e);
/* A finished or checkpointed stage goes on only under the config it ran
 * with: compares the config saved at `saved` (if there is one) with now,
 * paths inside the run folder relative to it (now's folder is root; the
 * saved one is its output.dir less the suffix sub, e.g. "/v1/pretrain").
 * Fails naming the first differing JSON path and both values; `what` is the
 * stage folder the message tells the user to remove. */
int run_same_config(const char *saved, const cJSON *now, const char *root, const char *sub, const char *what, nn_err *e);
/* Saves a stage's config at path (temp + rename) before it runs; resumed (it
 * finished or left a checkpoint): only if run_same_config agrees first. */
int run_keep_config(const char *path, const cJSON *now, int resumed, const char *root, const char *sub, const char *what,
                    nn_err *e);

/* "0.5" or "0.49,0.48,0.45": one value per channel (one value is used for
 * all), into out[channels]; positive: values must be > 0 (std). */
int run_parse_channels(const char *s, int channels, float *out, int positive, nn_err *e);

/* Peak resident set size of this process in MiB (from /proc). */
double run_peak_rss_mib(void);



/* Checkpoints: parts' parameters and optimiser states (o may be NULL),
 * and the epoch; written atomically. Loading checks every shape. */
struct nn_optim;
typedef struct run_ckpt_part {
    const char *prefix;
    nn_graph *g;
    struct nn_optim *o;
} run_ckpt_part;
int run_ckpt_save(const char *path, run_ckpt_part *parts, int np, int epoch, nn_err *e);
int run_ckpt_load(const char *path, run_ckpt_part *parts, int np, int *epoch, nn_err *e);

/* "1x28x28" -> c, h, w (0 on success) */
int run_parse_input(const char *s, int *c, int *h, int *w);
/* A model.json path, or a zoo name built for input (CxHxW) and classes. */
nn_graph *run_model_arg(const char *model, const char *input, int classes, nn_err *e);
#endif
