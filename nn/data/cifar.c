/* The CIFAR binary format: per record 1 label byte (CIFAR-10) or coarse +
 * fine label bytes (CIFAR-100, we use the fine label), then 3072 bytes of
 * 32x32 RGB planes. */
#include <stdlib.h>
#include <string.h>

#include "../data.h"
#include "../io.h"

int nn_dataset_load_cifar(const char **files, int nfiles, int cifar100, nn_dataset *d, nn_err *e)
{
    memset(d, 0, sizeof *d);
    const size_t lab_bytes = cifar100 ? 2 : 1, rec = lab_bytes + 3072;
    char **bufs = nn_xcalloc((size_t)nfiles, sizeof(char *));
    size_t *lens = nn_xcalloc((size_t)nfiles, sizeof(size_t)), total = 0;
    int rc = NN_ERR;
    for (int f = 0; f < nfiles; f++) {
        bufs[f] = nn_read_file(files[f], &lens[f], e);
        if (!bufs[f]) goto out;
        if (lens[f] == 0 || lens[f] % rec) {
            nn_fail(e, "%s: %zu bytes is not a whole number of %zu-byte CIFAR-%s records", files[f], lens[f], rec,
                    cifar100 ? "100" : "10");
            goto out;
        }
        total += lens[f] / rec;
    }
    d->n = (int)total;
    d->c = 3;
    d->h = d->w = 32;
    d->num_classes = cifar100 ? 100 : 10;
    d->images = nn_xmalloc(total * 3072);
    d->labels = nn_xmalloc(total * sizeof(int));
    size_t k = 0;
    for (int f = 0; f < nfiles; f++)
        for (size_t r = 0; r < lens[f] / rec; r++, k++) {
            const unsigned char *p = (const unsigned char *)bufs[f] + r * rec;
            d->labels[k] = p[lab_bytes - 1];
            if (d->labels[k] >= d->num_classes) {
                nn_fail(e, "%s: record %zu has label %d, outside [0, %d)", files[f], r, d->labels[k], d->num_classes);
                nn_dataset_free(d);
                goto out;
            }
            memcpy(d->images + k * 3072, p + lab_bytes, 3072);
        }
    snprintf(d->desc, sizeof d->desc, "CIFAR-%s %s%s", cifar100 ? "100" : "10", files[0], nfiles > 1 ? " ..." : "");
    rc = NN_OK;
out:
    for (int f = 0; f < nfiles; f++) free(bufs[f]);
    free(bufs);
    free(lens);
    return rc;
}
