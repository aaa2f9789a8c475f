// One spelling of a kernel launch for nvcc and for the CUDA emulator of
// tests/cuda_emu, which compiles the same .cu files with g++: a C++ compiler
// cannot parse <<< >>>, so every launch goes through this macro (as HIP's
// hipLaunchKernelGGL does).
//
//   LAUNCH_KERNEL(kernel, grid, block, shared_bytes, stream, args...)
//
// is kernel<<<grid, block, shared_bytes, stream>>>(args...) under nvcc. All
// five leading arguments are always given (0, 0 for no dynamic shared memory
// on the default stream). `kernel` may be a template instance such as
// my_kernel<ACT_RELU>, as long as it has no comma outside parentheses.
#ifndef HWNAS_CUDA_LAUNCH_H
#define HWNAS_CUDA_LAUNCH_H

#include <cuda_runtime.h>  // the emulator's defines CUDA_EMULATOR

#ifdef CUDA_EMULATOR
#define LAUNCH_KERNEL(kernel, grid, block, shared_bytes, stream, ...) \
    CUDA_EMULATOR_LAUNCH(kernel, grid, block, shared_bytes, stream, __VA_ARGS__)
#else
#define LAUNCH_KERNEL(kernel, grid, block, shared_bytes, stream, ...) \
    kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__)
#endif

#endif
