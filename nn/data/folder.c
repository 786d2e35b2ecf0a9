/* Image folders: one sub-folder per class (sorted by name = label), PNG,
 * JPEG, BMP, ... through stb_image. All images must share one size;
 * grayscale if the first image is, else RGB. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include "../data.h"
#include "../io.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_dir(const char *dir, int want_dirs, char ***out, nn_err *e)
{
    DIR *dp = opendir(dir);
    if (!dp) return nn_fail(e, "%s: cannot open folder", dir);
    int n = 0, cap = 16;
    char **v = nn_xmalloc((size_t)cap * sizeof(char *));
    struct dirent *de;
    char p[1200];
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (nn_is_dir(p) != want_dirs) continue;
        if (n == cap) v = realloc(v, (size_t)(cap *= 2) * sizeof(char *));
        v[n++] = nn_xstrdup(de->d_name);
    }
    closedir(dp);
    qsort(v, (size_t)n, sizeof(char *), cmp_str);
    *out = v;
    return n;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int nn_dataset_load_folder(const char *dir, nn_dataset *d, nn_err *e)
{
    memset(d, 0, sizeof *d);
    char **classes;
    int nc = list_dir(dir, 1, &classes, e);
    if (nc < 0) return NN_ERR;
    if (nc == 0) {
        free(classes);
        return nn_fail(e, "%s: no class sub-folders (expected DIR/<class>/<image>.png)", dir);
    }
    size_t cap = 1024;
    int rc = NN_ERR;
    d->num_classes = nc;
    d->labels = nn_xmalloc(cap * sizeof(int));
    for (int c = 0; c < nc; c++) {
        char cdir[1200], path[2400];
        snprintf(cdir, sizeof cdir, "%s/%s", dir, classes[c]);
        char **files;
        int nf = list_dir(cdir, 0, &files, e);
        if (nf < 0) goto out;
        for (int f = 0; f < nf; f++) {
            snprintf(path, sizeof path, "%s/%s", cdir, files[f]);
            int w, h, comp;
            if (!stbi_info(path, &w, &h, &comp)) continue; /* not an image: skip */
            if (d->n == 0) {
                d->w = w;
                d->h = h;
                d->c = (comp == 1 || comp == 2) ? 1 : 3;
            } else if (w != d->w || h != d->h) {
                nn_fail(e, "%s: %dx%d, but earlier images are %dx%d (resize them to one size)", path, w, h, d->w, d->h);
                free_list(files, nf);
                goto out;
            }
            unsigned char *px = stbi_load(path, &w, &h, &comp, d->c);
            if (!px) {
                nn_fail(e, "%s: cannot decode: %s", path, stbi_failure_reason());
                free_list(files, nf);
                goto out;
            }
            size_t plane = (size_t)w * h;
            if ((size_t)d->n == cap || !d->images) { /* grow both by doubling */
                if ((size_t)d->n == cap) cap *= 2;
                d->labels = realloc(d->labels, cap * sizeof(int));
                d->images = realloc(d->images, cap * plane * (size_t)d->c);
                if (!d->labels || !d->images) nn_abort(__FILE__, __LINE__, "out of memory loading %s", dir);
            }
            uint8_t *dst = d->images + (size_t)d->n * plane * d->c;
            for (size_t i = 0; i < plane; i++) /* interleaved -> planar */
                for (int k = 0; k < d->c; k++) dst[k * plane + i] = px[i * d->c + k];
            stbi_image_free(px);
            d->labels[d->n++] = c;
        }
        free_list(files, nf);
    }
    if (d->n == 0) {
        nn_fail(e, "%s: no readable images in the class folders", dir);
        goto out;
    }
    snprintf(d->desc, sizeof d->desc, "image folder %s (%d classes)", dir, nc);
    rc = NN_OK;
out:
    free_list(classes, nc);
    if (rc) nn_dataset_free(d);
    return rc;
}
