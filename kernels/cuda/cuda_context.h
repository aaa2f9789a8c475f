// The CUDA backend's state, callable from plain C. Everything else of the
// backend is reached through the `Ops` table (kernels/ops.h): put the state in
// OpContext.cuda and call ops_cuda()->... .
//
// Errors: every CUDA/cuBLAS/cuDNN call is checked. The first failure is
// recorded in the state with file, line, call and message, printed once to
// stderr, and stays recorded (sticky): later ops become no-ops and every
// `synchronize` returns -1, so the caller stops at its next check. A device
// that has failed once is not trusted again; destroy the state.
#ifndef HWNAS_CUDA_CONTEXT_H
#define HWNAS_CUDA_CONTEXT_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CudaState CudaState;

// Number of independent async-upload slots (double buffering of batches).
#define CUDA_UPLOAD_SLOTS 2

// The number of usable CUDA devices (> 0) when there is one. Otherwise 0 and `why` gets a
// one-line reason such as "no CUDA device found: CUDA driver version is
// insufficient for CUDA runtime version". Safe to call on machines without a
// driver; it touches nothing else.
int cuda_device_available(char* why, size_t n);

// Selects `device`, creates the compute and copy streams, the cuBLAS and cuDNN
// handles (bound to the compute stream), the cuDNN workspace and the
// reduction scratch. Returns NULL with err filled on failure.
CudaState* cuda_state_create(int device, HwErr* err);
void cuda_state_destroy(CudaState* st);

// The recorded error as "FILE:LINE: call: message", or "" when none.
const char* cuda_state_error(const CudaState* st);
// Copies the recorded error (if any) into err (runtime failure); returns 0
// when there is none, -1 otherwise.
int cuda_state_take_error(const CudaState* st, HwErr* err);

// Testing: 1 makes dense conv2d skip cuDNN and run the direct kernels.
void cuda_state_set_direct_conv(CudaState* st, int direct);

// Page-locked host memory, needed for truly asynchronous uploads. NULL with
// err filled on failure (the state is not marked failed: the caller may fall
// back to ordinary memory).
void* cuda_host_alloc_pinned(CudaState* st, size_t bytes, HwErr* err);
void cuda_host_free_pinned(CudaState* st, void* p);

// Overlapping batch transfer with compute, per slot s (0 <= s < CUDA_UPLOAD_SLOTS):
//   cuda_upload_async(st, s, dst, pinned, bytes)  queues the copy on the copy
//       stream; it first waits (on the GPU) for the last release of slot s,
//       so it never overwrites a buffer the compute stream still reads.
//   cuda_upload_acquire(st, s)  makes compute work queued after this call wait
//       for slot s's copy.
//   cuda_upload_release(st, s)  marks compute work queued so far as the last
//       reader of slot s's device buffer.
//   cuda_upload_wait_host(st, s)  blocks the host until slot s's copy is done,
//       after which its pinned source may be refilled.
// Each returns 0, or -1 when the state has failed.
int cuda_upload_async(CudaState* st, int slot, void* dst, const void* pinned_src, size_t bytes);
int cuda_upload_acquire(CudaState* st, int slot);
int cuda_upload_release(CudaState* st, int slot);
int cuda_upload_wait_host(CudaState* st, int slot);

#ifdef __cplusplus
}
#endif
#endif
