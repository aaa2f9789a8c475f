// One element of SGD with momentum / Nesterov / weight decay, with
// torch.optim.SGD's semantics (dampening 0) and operation order, shared by the
// CPU and CUDA backends.
#ifndef HWNAS_SGD_BODY_H
#define HWNAS_SGD_BODY_H

#include "hostdevice.h"

// d = g + wd * p; buf = momentum * buf + d; d = nesterov ? d + momentum * buf : buf;
// p -= lr * d. The very first torch step sets buf = d, which this equals when
// buf starts at zero. momentum == 0 leaves buf untouched (torch keeps none),
// so buf may then be NULL. weight_decay == 0 skips the term as torch does, so
// a NaN/inf weight never leaks into d through 0 * p.
HD_INLINE void sgd_update_element(float* param, float* momentum_buf, float grad, float lr,
                                  float momentum, float weight_decay, int nesterov) {
    float p = *param;
    float d = grad;
    if (weight_decay != 0.0f) d = d + weight_decay * p;
    if (momentum != 0.0f) {
        float buf = momentum * *momentum_buf + d;
        *momentum_buf = buf;
        d = nesterov ? d + momentum * buf : buf;
    }
    *param = p - lr * d;
}

#endif
