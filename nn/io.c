#include "io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *nn_read_file(const char *path, size_t *len, nn_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        nn_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) {
        fclose(f);
        nn_fail(e, "%s: cannot read size", path);
        return NULL;
    }
    char *buf = nn_xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        nn_fail(e, "%s: short read", path);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = (size_t)n;
    return buf;
}

FILE *nn_atomic_open(const char *path, nn_err *e)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) nn_fail(e, "%s: cannot write: %s", tmp, strerror(errno));
    return f;
}

int nn_atomic_commit(FILE *f, const char *path, nn_err *e)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int bad = fflush(f) != 0 || ferror(f);
    if (!bad) fsync(fileno(f));
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        return nn_fail(e, "%s: write failed (disk full?)", path);
    }
    if (rename(tmp, path)) {
        unlink(tmp);
        return nn_fail(e, "%s: cannot rename into place: %s", path, strerror(errno));
    }
    return NN_OK;
}

int nn_write_file_atomic(const char *path, const void *data, size_t len, nn_err *e)
{
    FILE *f = nn_atomic_open(path, e);
    if (!f) return NN_ERR;
    fwrite(data, 1, len, f);
    return nn_atomic_commit(f, path, e);
}

int nn_mkdirs(const char *path, nn_err *e)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) return nn_fail(e, "%s: cannot create folder: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST) return nn_fail(e, "%s: cannot create folder: %s", buf, strerror(errno));
    return NN_OK;
}

int nn_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int nn_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- safetensors ---- */

int nn_st_write(const char *path, const nn_st_tensor *ts, int n, const char *metadata_json, nn_err *e)
{
    cJSON *h = cJSON_CreateObject();
    if (metadata_json) {
        cJSON *m = cJSON_Parse(metadata_json);
        if (m) cJSON_AddItemToObject(h, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        size_t numel = 1;
        for (int d = 0; d < ts[i].ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber(ts[i].shape[d]));
            numel *= (size_t)ts[i].shape[d];
        }
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + numel * 4)));
        off += numel * 4;
        cJSON_AddItemToObject(h, ts[i].name, t);
    }
    char *hs = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8; /* align data to 8 bytes */
    uint64_t hlen = hl + pad;
    FILE *f = nn_atomic_open(path, e);
    if (!f) {
        free(hs);
        return NN_ERR;
    }
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(hs, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    free(hs);
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < ts[i].ndim; d++) numel *= (size_t)ts[i].shape[d];
        fwrite(ts[i].data, 4, numel, f); /* x86/ARM are little-endian, as the format */
    }
    return nn_atomic_commit(f, path, e);
}

int nn_st_open(nn_st_file *f, const char *path, nn_err *e)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->buf = nn_read_file(path, &f->len, e);
    if (!f->buf) return NN_ERR;
    if (f->len < 8) goto bad;
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)(unsigned char)f->buf[i] << (8 * i);
    if (hl > f->len - 8) goto bad;
    f->header = cJSON_ParseWithLength(f->buf + 8, (size_t)hl);
    if (!cJSON_IsObject(f->header)) goto bad;
    f->data_off = 8 + (size_t)hl;
    return NN_OK;
bad:
    nn_st_close(f);
    return nn_fail(e, "%s: not a safetensors file (bad header)", path);
}

const float *nn_st_get(nn_st_file *f, const char *name, int *ndim, int shape[4], nn_err *e)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(f->header, name);
    if (!t) {
        nn_fail(e, "%s: no tensor named '%s'", f->path, name);
        return NULL;
    }
    cJSON *dt = cJSON_GetObjectItem(t, "dtype"), *sh = cJSON_GetObjectItem(t, "shape"),
          *of = cJSON_GetObjectItem(t, "data_offsets");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32")) {
        nn_fail(e, "%s: tensor '%s' has dtype %s; only F32 is supported", f->path, name,
                cJSON_IsString(dt) ? dt->valuestring : "?");
        return NULL;
    }
    int nd = cJSON_GetArraySize(sh);
    if (!cJSON_IsArray(sh) || nd > 4 || cJSON_GetArraySize(of) != 2) {
        nn_fail(e, "%s: tensor '%s': bad shape or offsets", f->path, name);
        return NULL;
    }
    size_t numel = 1;
    for (int d = 0; d < nd; d++) {
        shape[d] = cJSON_GetArrayItem(sh, d)->valueint;
        numel *= (size_t)shape[d];
    }
    *ndim = nd;
    double a = cJSON_GetArrayItem(of, 0)->valuedouble, b = cJSON_GetArrayItem(of, 1)->valuedouble;
    if (a < 0 || b < a || (size_t)(b - a) != numel * 4 || f->data_off + (size_t)b > f->len || ((size_t)a % 4)) {
        nn_fail(e, "%s: tensor '%s': data offsets [%.0f, %.0f) do not fit the file", f->path, name, a, b);
        return NULL;
    }
    return (const float *)(f->buf + f->data_off + (size_t)a);
}

const char *nn_st_meta(nn_st_file *f, const char *key)
{
    cJSON *m = cJSON_GetObjectItem(f->header, "__metadata__");
    cJSON *v = m ? cJSON_GetObjectItem(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void nn_st_close(nn_st_file *f)
{
    cJSON_Delete(f->header);
    free(f->buf);
    memset(f, 0, sizeof *f);
}
