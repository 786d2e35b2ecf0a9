/* Plots for search runs, as standalone SVG (no dependencies): one panel per
 * edge, one line per candidate op, softmax(alpha) against epoch. */
#ifndef SRCH_PLOT_H
#define SRCH_PLOT_H

#include "derive.h"

/* history: epochs x total_ops alphas (edges' ops concatenated, as srch_derive). */
int srch_plot_alpha_svg(const char *file, const srch_edge *edges, int ne, const float *history, int epochs, nn_err *e);

#endif
