/* A stage that has finished or left a checkpoint goes on only under the
 * config it ran with: otherwise a resumed run would silently mix two
 * settings (a pretraining with hardtanh skipped, then a finetuning asked
 * for tanh). Paths inside the run folder are compared relative to it, so
 * a run folder moved or copied (a search reused by another trial) still
 * resumes. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/io.h"
#include "nn/json.h"

/* s relative to the run folder root: "<run>/..." when inside it */
static const char *rel(const char *s, const char *root, char *buf, size_t n)
{
    const size_t k = strlen(root);
    if (!k || strncmp(s, root, k) || (s[k] && s[k] != '/')) return s;
    snprintf(buf, n, "<run>%s", s + k);
    return buf;
}

static void show(const cJSON *v, const char *root, char *out, size_t n)
{
    char b[1400];
    if (!v) {
        snprintf(out, n, "absent");
    } else if (cJSON_IsString(v)) {
        snprintf(out, n, "\"%.200s\"", rel(v->valuestring, root, b, sizeof b));
    } else {
        char *s = cJSON_PrintUnformatted(v);
        snprintf(out, n, "%.200s", s ? s : "?");
        free(s);
    }
}

static int same(const cJSON *a, const cJSON *b, const char *ra, const char *rb)
{
    if ((a->type & 0xFF) != (b->type & 0xFF)) return 0;
    if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a)) {
        char x[1400], y[1400];
        return !strcmp(rel(a->valuestring, ra, x, sizeof x), rel(b->valuestring, rb, y, sizeof y));
    }
    return 1; /* true, false, null; containers are walked by diff */
}

/* the first difference under path, written to out: 1 if any */
static int diff(const cJSON *a, const cJSON *b, const char *ra, const char *rb, const char *path, char *out, size_t n)
{
    char p[600], va[220], vb[220];
    if (a && b && (a->type & 0xFF) == (b->type & 0xFF) && (cJSON_IsObject(a) || cJSON_IsArray(a))) {
        if (cJSON_IsArray(a)) {
            const int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
            for (int i = 0; i < na && i < nb; i++) {
                snprintf(p, sizeof p, "%s[%d]", path, i);
                if (diff(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), ra, rb, p, out, n)) return 1;
            }
            if (na == nb) return 0;
        } else {
            const cJSON *x;
            cJSON_ArrayForEach(x, a) {
                snprintf(p, sizeof p, "%s.%s", path, x->string);
                if (diff(x, cJSON_GetObjectItemCaseSensitive(b, x->string), ra, rb, p, out, n)) return 1;
            }
            cJSON_ArrayForEach(x, b) if (!cJSON_GetObjectItemCaseSensitive(a, x->string)) {
                snprintf(p, sizeof p, "%s.%s", path, x->string);
                return diff(NULL, x, ra, rb, p, out, n);
            }
            return 0;
        }
    } else if (a && b && same(a, b, ra, rb)) {
        return 0;
    }
    show(a, ra, va, sizeof va);
    show(b, rb, vb, sizeof vb);
    snprintf(out, n, "%s: %s then, %s now", path, va, vb);
    return 1;
}

/* the run folder a stage folder belongs to: dir without its suffix sub */
static void root_of(const char *dir, const char *sub, char *out, size_t n)
{
    const size_t k = strlen(dir), m = strlen(sub);
    snprintf(out, n, "%s", dir);
    if (m && k >= m && !strcmp(dir + k - m, sub)) out[k - m] = 0;
    for (size_t j = strlen(out); j > 1 && out[j - 1] == '/'; j--) out[j - 1] = 0;
}

int run_same_config(const char *saved, const cJSON *now, const char *root, const char *sub, const char *what, nn_err *e)
{
    if (!nn_file_exists(saved)) return 0; /* nothing to compare with (a run folder from before this check) */
    cJSON *old = nn_json_load(saved, e);
    if (!old) return NN_ERR;
    const cJSON *od = cJSON_GetObjectItem(cJSON_GetObjectItem(old, "output"), "dir");
    char ra[1200], rb[1200], d[800];
    root_of(cJSON_IsString(od) ? od->valuestring : "", sub, ra, sizeof ra);
    root_of(root, "", rb, sizeof rb);
    const int differ = diff(old, now, ra, rb, "$", d, sizeof d);
    cJSON_Delete(old);
    if (differ)
        return nn_fail(e,
                       "%s was run under another config (%s, as %s says). Restore the config, or remove %s to run it "
                       "again under this one",
                       what, d, saved, what);
    return 0;
}

int run_keep_config(const char *path, const cJSON *now, int resumed, const char *root, const char *sub, const char *what,
                    nn_err *e)
{
    if (resumed && run_same_config(path, now, root, sub, what, e)) return NN_ERR;
    char *s = cJSON_Print(now);
    const int rc = nn_write_file_atomic(path, s, strlen(s), e);
    free(s);
    return rc;
}
