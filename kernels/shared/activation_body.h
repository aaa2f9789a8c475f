// Index-level activation bodies shared by the CPU (C) and CUDA backends, so the
// CPU tests exercise the same lines the GPU kernels run.
#ifndef HWNAS_ACTIVATION_BODY_H
#define HWNAS_ACTIVATION_BODY_H

#include "../ops.h"
#include "hostdevice.h"

HD_INLINE float activation_apply(Activation act, float x) {
    switch (act) {
    case ACT_RELU: return x > 0.0f ? x : 0.0f;
    case ACT_RELU6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case ACT_HSWISH: {
        float r = x + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        return x * r * (1.0f / 6.0f);
    }
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case ACT_HSIGMOID: {
        float r = x + 3.0f;
        r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        return r * (1.0f / 6.0f);
    }
    default: return x;
    }
}

// d act(x) / dx, with PyTorch's choices at the kinks (relu'(0) = 0,
// relu6'(0) = relu6'(6) = 0, hardswish'(-3) = 0 and hardswish'(3) = 1.5 as in
// torch's hardswish_backward, hardsigmoid' = 1/6 strictly inside (-3, 3)).
HD_INLINE float activation_derivative(Activation act, float x) {
    switch (act) {
    case ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case ACT_RELU6: return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;
    case ACT_HSWISH:
        if (x < -3.0f) return 0.0f;
        if (x <= 3.0f) return x * (1.0f / 3.0f) + 0.5f;
        return 1.0f;
    case ACT_SIGMOID: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f - s);
    }
    case ACT_HSIGMOID: return (x > -3.0f && x < 3.0f) ? (1.0f / 6.0f) : 0.0f;
    default: return 1.0f;
    }
}

// Runs CALL(kind) with `kind` the compile-time constant equal to `act`, once
// per Activation. Why: a loop calling activation_apply(act, ...) with a
// runtime `act` keeps the switch inside the loop, which stops gcc from
// vectorizing it; a loop inlined with a constant kind folds the switch to a
// few min/max/blend instructions. Unknown values run as ACT_NONE, as they do
// in activation_apply. On CUDA, CALL may launch a kernel template.
#define ACTIVATION_DISPATCH(act, CALL)                \
    do {                                              \
        switch (act) {                                \
        case ACT_RELU: CALL(ACT_RELU); break;         \
        case ACT_RELU6: CALL(ACT_RELU6); break;       \
        case ACT_HSWISH: CALL(ACT_HSWISH); break;     \
        case ACT_SIGMOID: CALL(ACT_SIGMOID); break;   \
        case ACT_HSIGMOID: CALL(ACT_HSIGMOID); break; \
        default: CALL(ACT_NONE); break;               \
        }                                             \
    } while (0)

#endif
