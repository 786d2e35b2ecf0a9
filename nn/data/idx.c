/* IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw: zlib's gzread
 * reads both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../data.h"

static unsigned char *read_gz(const char *path, size_t *len, nn_err *e)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        nn_fail(e, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = nn_xmalloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) nn_abort(__FILE__, __LINE__, "out of memory reading %s", path);
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            int errnum;
            nn_fail(e, "%s: read error: %s", path, gzerror(f, &errnum));
            gzclose(f);
            free(buf);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    *len = n;
    return buf;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int nn_dataset_load_idx(const char *images, const char *labels, nn_dataset *d, nn_err *e)
{
    memset(d, 0, sizeof *d);
    size_t il, ll;
    unsigned char *ib = read_gz(images, &il, e);
    if (!ib) return NN_ERR;
    unsigned char *lb = read_gz(labels, &ll, e);
    if (!lb) {
        free(ib);
        return NN_ERR;
    }
    int rc = NN_ERR;
    if (il < 16 || be32(ib) != 0x00000803) {
        nn_fail(e, "%s: not an IDX image file (magic 0x%08x, expected 0x00000803)", images, il >= 4 ? be32(ib) : 0);
        goto out;
    }
    if (ll < 8 || be32(lb) != 0x00000801) {
        nn_fail(e, "%s: not an IDX label file (expected magic 0x00000801)", labels);
        goto out;
    }
    uint32_t n = be32(ib + 4), h = be32(ib + 8), w = be32(ib + 12), nl = be32(lb + 4);
    if (n != nl) {
        nn_fail(e, "%s has %u images but %s has %u labels", images, n, labels, nl);
        goto out;
    }
    if (il != 16 + (size_t)n * h * w || ll != 8 + (size_t)n) {
        nn_fail(e, "%s: truncated (%zu bytes for %u images of %ux%u)", images, il, n, h, w);
        goto out;
    }
    d->n = (int)n;
    d->c = 1;
    d->h = (int)h;
    d->w = (int)w;
    d->images = nn_xmalloc((size_t)n * h * w);
    memcpy(d->images, ib + 16, (size_t)n * h * w);
    d->labels = nn_xmalloc((size_t)n * sizeof(int));
    for (uint32_t i = 0; i < n; i++) {
        d->labels[i] = lb[8 + i];
        if (d->labels[i] + 1 > d->num_classes) d->num_classes = d->labels[i] + 1;
    }
    snprintf(d->desc, sizeof d->desc, "IDX %s", images);
    rc = NN_OK;
out:
    free(ib);
    free(lb);
    return rc;
}
