#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

static const cJSON *member(const cJSON *o, const char *path, const char *key, int required, nn_err *e, int *err)
{
    *err = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && required) {
        nn_fail(e, "%s.%s: required field is missing", path, key);
        *err = 1;
    }
    return v;
}

int nn_json_int(const cJSON *o, const char *path, const char *key, int required, int *out, nn_err *e)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    if (err) return NN_ERR;
    if (!v) return NN_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2e9)
        return nn_fail(e, "%s.%s: expected an integer", path, key);
    *out = (int)v->valuedouble;
    return NN_OK;
}

int nn_json_float(const cJSON *o, const char *path, const char *key, int required, float *out, nn_err *e)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    if (err) return NN_ERR;
    if (!v) return NN_OK;
    if (!cJSON_IsNumber(v)) return nn_fail(e, "%s.%s: expected a number", path, key);
    *out = (float)v->valuedouble;
    return NN_OK;
}

int nn_json_bool(const cJSON *o, const char *path, const char *key, int required, int *out, nn_err *e)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    if (err) return NN_ERR;
    if (!v) return NN_OK;
    if (!cJSON_IsBool(v)) return nn_fail(e, "%s.%s: expected true or false", path, key);
    *out = cJSON_IsTrue(v);
    return NN_OK;
}

int nn_json_str(const cJSON *o, const char *path, const char *key, int required, const char **out, nn_err *e)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    if (err) return NN_ERR;
    if (!v) return NN_OK;
    if (!cJSON_IsString(v)) return nn_fail(e, "%s.%s: expected a string", path, key);
    *out = v->valuestring;
    return NN_OK;
}

int nn_json_floats(const cJSON *o, const char *path, const char *key, int required, float *out, int max,
                   int *n_out, nn_err *e)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    if (err) return NN_ERR;
    if (!v) return NN_OK;
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n > max || n < 1)
        return nn_fail(e, "%s.%s: expected an array of 1 to %d numbers", path, key, max);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(x)) return nn_fail(e, "%s.%s[%d]: expected a number", path, key, i);
        out[i] = (float)x->valuedouble;
    }
    if (n_out) *n_out = n;
    return NN_OK;
}

int nn_json_ints(const cJSON *o, const char *path, const char *key, int required, int *out, int max, int *n_out,
                 nn_err *e)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    if (err) return NN_ERR;
    if (!v) return NN_OK;
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n > max || n < 1)
        return nn_fail(e, "%s.%s: expected an array of 1 to %d integers", path, key, max);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble))
            return nn_fail(e, "%s.%s[%d]: expected an integer", path, key, i);
        out[i] = (int)x->valuedouble;
    }
    if (n_out) *n_out = n;
    return NN_OK;
}

const cJSON *nn_json_obj(const cJSON *o, const char *path, const char *key, int required, nn_err *e, int *failed)
{
    int err;
    const cJSON *v = member(o, path, key, required, e, &err);
    *failed = err;
    if (err || !v) return NULL;
    if (!cJSON_IsObject(v)) {
        nn_fail(e, "%s.%s: expected an object", path, key);
        *failed = 1;
        return NULL;
    }
    return v;
}

int nn_json_check_keys(const cJSON *o, const char *path, const char *const *allowed, nn_err *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, it->string)) ok = 1;
        if (!ok) {
            char list[512] = "";
            size_t k = 0;
            for (const char *const *a = allowed; *a && k < sizeof list - 64; a++)
                k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", a == allowed ? "" : ", ", *a);
            return nn_fail(e, "%s.%s: unknown key (allowed: %s)", path, it->string, list);
        }
    }
    return NN_OK;
}

cJSON *nn_json_load(const char *file, nn_err *e)
{
    size_t len;
    char *buf = nn_read_file(file, &len, e);
    if (!buf) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(buf, &end, 0);
    if (!j) {
        int line = 1;
        for (const char *p = buf; end && p < end; p++)
            if (*p == '\n') line++;
        nn_fail(e, "%s:%d: invalid JSON", file, line);
    }
    free(buf);
    return j;
}
