/* The BLAS we use: OpenBLAS's cblas_sgemm, single-threaded (we split the
 * batch over our own pool). Row-major throughout. */
#ifndef NN_BLAS_H
#define NN_BLAS_H

#include <cblas.h>

void nn_blas_single_thread(void);

/* C[MxN] = alpha * op(A) * op(B) + beta * C, row-major, ta/tb transpose flags. */
static inline void nn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                            const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
}

#endif
