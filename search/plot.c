#include "plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/io.h"

static const char *colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

/* text appended to a growable buffer */
typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (b->s && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        b->cap = (b->cap + (size_t)w + 1) * 2;
        b->s = nn_xrealloc(b->s, b->cap);
    }
}

int srch_plot_alpha_svg(const char *file, const srch_edge *edges, int ne, const float *history, int epochs, nn_err *e)
{
    if (ne < 1 || epochs < 1) return nn_fail(e, "%s: nothing to plot", file);
    const int cols = ne < 4 ? ne : 4, rows = (ne + cols - 1) / cols, pw = 220, ph = 150, m = 30;
    int total = 0;
    for (int i = 0; i < ne; i++) total += edges[i].nops;
    sbuf b = {0};
    sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                  "font-size=\"10\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              cols * (pw + m) + m, rows * (ph + m) + m);
    for (int i = 0, off = 0; i < ne; off += edges[i].nops, i++) {
        const int x0 = m + (i % cols) * (pw + m), y0 = m + (i / cols) * (ph + m);
        sb_printf(&b, "<g><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", x0, y0, pw, ph);
        sb_printf(&b, "<text x=\"%d\" y=\"%d\">edge %d -&gt; %d (softmax alpha vs epoch)</text>\n", x0, y0 - 4,
                  edges[i].from, edges[i].to);
        for (int j = 0; j < edges[i].nops; j++) {
            sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colors[j % 8]);
            for (int t = 0; t < epochs; t++) {
                const float *a = history + (size_t)t * total + off;
                float mx = a[0], z = 0.0f;
                for (int q = 1; q < edges[i].nops; q++) mx = a[q] > mx ? a[q] : mx;
                for (int q = 0; q < edges[i].nops; q++) z += expf(a[q] - mx);
                const float p = expf(a[j] - mx) / z;
                const double x = x0 + (epochs > 1 ? (double)pw * t / (epochs - 1) : pw / 2.0), y = y0 + ph * (1.0 - p);
                sb_printf(&b, "%.1f,%.1f ", x, y);
            }
            sb_printf(&b, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", x0 + 4, y0 + 12 + 11 * j, colors[j % 8],
                      edges[i].ops[j]);
        }
        sb_printf(&b, "</g>\n");
    }
    sb_printf(&b, "</svg>\n");
    int rc = nn_write_file_atomic(file, b.s, b.n, e);
    free(b.s);
    return rc;
}
