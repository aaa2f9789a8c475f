// Picks the op backend for --device cpu|cuda and sets up its context.
#ifndef HWNAS_DEVICE_H
#define HWNAS_DEVICE_H

#include "common/config.h"
#include "common/error.h"
#include "kernels/ops.h"

typedef struct Device {
    const Ops* ops;
    OpContext ctx;
    void* cuda_state;  // CudaState* when on CUDA
} Device;

// threads 0 = all cores (at most CONFIG_MAX_THREADS). Errors: more threads than
// that (2), no GPU found (1).
int device_open(Device* d, DeviceKind kind, int threads, HwErr* err);
// A --device flag without a config key behind it: cpu or cuda, else an
// error (2) "--device: found 'x', expected cpu or cuda".
int device_parse(const char* name, DeviceKind* kind, HwErr* err);
void device_close(Device* d);

#endif
