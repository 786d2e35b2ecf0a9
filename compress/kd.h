/* The fine-tuning loss of GDFQ's student:
 *     L_S = CE(s, y) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))
 * with the KL reduced as GDFQ's nn.KLDivLoss() default (legacy "mean":
 * over all N*K elements, i.e. batchmean / K) or as "batchmean". */
#ifndef CMP_KD_H
#define CMP_KD_H

#include "nn/ops.h"

typedef struct cmp_kd {
    float temperature, alpha;
    int batchmean; /* 0: GDFQ's legacy mean over all elements */
} cmp_kd;

nn_tensor *cmp_kd_loss(nn_ctx *c, nn_tensor *student, nn_tensor *teacher, const int *labels, cmp_kd k);

#endif
