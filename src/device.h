// Picks the op backend for --device cpu|cuda and sets up its context.
#ifndef HWNAS_DEVICE_H
#define HWNAS_DEVICE_H

#include "common/error.h"
#include "kernels/ops.h"

typedef struct Device {
    const Ops* ops;
    OpContext ctx;
    void* cuda_state;  // CudaState* when on CUDA
} Device;

// threads 0 = all cores (at most CONFIG_MAX_THREADS). Errors: more threads than
// that or an unknown device (2), no GPU found (1).
int device_open(Device* d, const char* name, int threads, HwErr* err);
void device_close(Device* d);

#endif
