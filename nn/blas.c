#include "blas.h"

/* OpenBLAS's own symbol; declared here so any cblas.h works. */
extern void openblas_set_num_threads(int);

void nn_blas_single_thread(void) { openblas_set_num_threads(1); }
