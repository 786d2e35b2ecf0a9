#include "recon.h"

#include <stdlib.h>
#include <string.h>

#include "bns.h"
#include "nn/io.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBIW_WINDOWS_UTF8
#include <stb/stb_image_write.h>

void gen_recon_loss(nn_ctx *c, nn_graph *teacher, nn_tensor *x, const int *labels, float beta, gen_recon_out *o)
{
    const int was = c->training;
    c->training = 0; /* the teacher's BN uses its running statistics */
    gen_bns b;
    gen_bns_begin(&b, c);
    nn_fwd_opts fo = {.hook = gen_bns_hook, .user = &b};
    o->logits = nn_graph_forward(teacher, c, x, &fo);
    c->training = was;
    nn_tensor *bns = gen_bns_loss(&b);
    o->bns = bns ? bns->data[0] : 0.0f;
    nn_tensor *loss = NULL;
    o->ce = 0.0f;
    if (labels) {
        loss = nn_cross_entropy(c, o->logits, labels, 0.0f);
        o->ce = loss->data[0];
    }
    if (bns && beta != 0.0f) {
        nn_tensor *t = nn_scale(c, bns, beta);
        loss = loss ? nn_add(c, loss, t) : t;
    }
    o->loss = loss;
}

int gen_write_png_grid(const char *path, const float *images, int n, int c, int h, int w, int cols,
                       const float *mean, const float *std, nn_err *e)
{
    if (c != 1 && c != 3) return nn_fail(e, "%s: PNG grids need 1 or 3 channels, not %d", path, c);
    const int rows = (n + cols - 1) / cols, pad = 2, W = cols * (w + pad) + pad, H = rows * (h + pad) + pad;
    unsigned char *px = calloc((size_t)W * H * c, 1);
    if (!px) return nn_fail(e, "out of memory for a %dx%d grid", W, H);
    for (int i = 0; i < n; i++) {
        const int r0 = pad + (i / cols) * (h + pad), c0 = pad + (i % cols) * (w + pad);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float v = images[(((size_t)i * c + ch) * h + y) * w + x] * std[ch] + mean[ch];
                    v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
                    px[((size_t)(r0 + y) * W + c0 + x) * c + ch] = (unsigned char)(v * 255.0f + 0.5f);
                }
    }
    /* write then rename: a crash never leaves half a PNG */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int ok = stbi_write_png(tmp, W, H, c, px, W * c);
    free(px);
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        return nn_fail(e, "%s: cannot write the PNG", path);
    }
    return NN_OK;
}
