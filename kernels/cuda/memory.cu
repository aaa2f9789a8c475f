// Device memory of the CUDA backend, with the CPU backend's semantics: alloc
// returns zeroed memory, upload/download are complete when they return (the
// host buffer may be reused at once; overlapped batch transfers use
// upload_async from pinned host_alloc memory instead), copy behaves like
// memmove.
#include <stdio.h>

#include "kernels/cuda/cuda_common.h"

void* alloc_cuda(const OpContext* ctx, size_t bytes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return NULL;
    void* p = NULL;
    size_t n = bytes ? bytes : 1;
    if (CUDA_CHECK(st, cudaMalloc(&p, n))) return NULL;
    // Zeroed on the compute stream, then waited for, so work queued on the
    // copy stream also sees zeros.
    if (CUDA_CHECK(st, cudaMemsetAsync(p, 0, n, st->compute)) ||
        CUDA_CHECK(st, cudaStreamSynchronize(st->compute))) {
        (void)cudaFree(p);
        return NULL;
    }
    return p;
}

void release_cuda(const OpContext* ctx, void* p) {
    if (!p) return;
    CudaState* st = ctx ? (CudaState*)ctx->cuda : NULL;
    // cudaFree waits for the device, so pending kernels finish first. Freed
    // even after a failure, to not leak.
    cudaError_t e = cudaFree(p);
    if (st && !st->failed) CUDA_CHECK(st, e);
}

void upload_cuda(const OpContext* ctx, void* dst, const void* host_src, size_t bytes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || !bytes) return;
    if (CUDA_CHECK(st, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, st->compute)))
        return;
    CUDA_CHECK(st, cudaStreamSynchronize(st->compute));
}

void download_cuda(const OpContext* ctx, void* host_dst, const void* src, size_t bytes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || !bytes) return;
    if (CUDA_CHECK(st, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, st->compute)))
        return;
    CUDA_CHECK(st, cudaStreamSynchronize(st->compute));
}

// cudaMemcpy is undefined on overlapping ranges; memmove semantics come from
// copying in pieces no longer than the distance between the ranges, in the
// direction that reads every piece before it is overwritten. Stream order
// keeps the pieces sequential.
void copy_cuda(const OpContext* ctx, void* dst, const void* src, size_t bytes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || !bytes || dst == src) return;
    char* d = (char*)dst;
    const char* s = (const char*)src;
    size_t gap = d > s ? (size_t)(d - s) : (size_t)(s - d);
    if (gap >= bytes) {
        CUDA_CHECK(st, cudaMemcpyAsync(d, s, bytes, cudaMemcpyDeviceToDevice, st->compute));
        return;
    }
    if (d < s) {  // front to back
        for (size_t off = 0; off < bytes; off += gap) {
            size_t len = bytes - off < gap ? bytes - off : gap;
            if (CUDA_CHECK(st, cudaMemcpyAsync(d + off, s + off, len, cudaMemcpyDeviceToDevice,
                                               st->compute)))
                return;
        }
    } else {  // back to front
        for (size_t end = bytes; end > 0;) {
            size_t len = end < gap ? end : gap;
            end -= len;
            if (CUDA_CHECK(st, cudaMemcpyAsync(d + end, s + end, len, cudaMemcpyDeviceToDevice,
                                               st->compute)))
                return;
        }
    }
}

void fill_zero_cuda(const OpContext* ctx, void* p, size_t bytes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || !bytes) return;
    CUDA_CHECK(st, cudaMemsetAsync(p, 0, bytes, st->compute));
}

int synchronize_cuda(const OpContext* ctx) {
    CudaState* st = ctx ? (CudaState*)ctx->cuda : NULL;
    if (!st) {
        fprintf(stderr,
                "hwnas: cuda error: synchronize without a CUDA state (OpContext.cuda is NULL)\n");
        return -1;
    }
    if (st->failed) return -1;
    // Faults inside kernels surface here, with the call that found them.
    if (CUDA_CHECK(st, cudaStreamSynchronize(st->compute))) return -1;
    if (CUDA_CHECK(st, cudaStreamSynchronize(st->copy))) return -1;
    if (CUDA_CHECK(st, cudaGetLastError())) return -1;
    return 0;
}

// The state behind ctx even when it has failed: the cuda_upload_* and
// cuda_host_* functions refuse or clean up by themselves then.
static CudaState* state_of(const OpContext* ctx) { return ctx ? (CudaState*)ctx->cuda : NULL; }

void* host_alloc_cuda(const OpContext* ctx, size_t bytes) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return NULL;
    HwErr err = {};
    void* p = cuda_host_alloc_pinned(st, bytes, &err);
    // Not a state failure (the device is fine), but the caller only sees NULL.
    if (!p) fprintf(stderr, "hwnas: %s\n", err.msg);
    return p;
}

void host_free_cuda(const OpContext* ctx, void* p) { cuda_host_free_pinned(state_of(ctx), p); }

int upload_async_cuda(const OpContext* ctx, int slot, void* dst, const void* host_src, size_t bytes) {
    return cuda_upload_async(state_of(ctx), slot, dst, host_src, bytes);
}

int upload_acquire_cuda(const OpContext* ctx, int slot) {
    return cuda_upload_acquire(state_of(ctx), slot);
}

int upload_release_cuda(const OpContext* ctx, int slot) {
    return cuda_upload_release(state_of(ctx), slot);
}

int upload_wait_host_cuda(const OpContext* ctx, int slot) {
    return cuda_upload_wait_host(state_of(ctx), slot);
}
