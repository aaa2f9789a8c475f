// Timing support of the CUDA backend: device time between two events on the
// compute stream, and an L2 flush so that every timed run starts cold (as a
// network's block does in deployment, where the previous layers have evicted
// its weights).
#include "kernels/cuda/cuda_common.h"

int timer_begin_cuda(const OpContext* ctx, OpTimer* t) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return -1;
    return CUDA_CHECK(st, cudaEventRecord(st->timer_begin, st->compute));
}

double timer_end_ms_cuda(const OpContext* ctx, OpTimer* t) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return -1;
    float ms = 0;
    if (CUDA_CHECK(st, cudaEventRecord(st->timer_end, st->compute)) ||
        CUDA_CHECK(st, cudaEventSynchronize(st->timer_end)) ||
        CUDA_CHECK(st, cudaEventElapsedTime(&ms, st->timer_begin, st->timer_end)))
        return -1;
    return ms;
}

// Twice the L2 size, so no line of earlier work survives; 256 MiB when the
// driver does not report the size.
static size_t flush_bytes(const CudaState* st) {
    return st->l2_bytes > 0 ? 2 * (size_t)st->l2_bytes : ((size_t)256 << 20);
}

int flush_cache_cuda(const OpContext* ctx) {
    CudaState* st = cuda_op_state(ctx);
    if (!st) return -1;
    if (!st->l2_flush) {
        // Allocated once, at the first flush: only latency profiling needs it.
        if (CUDA_CHECK(st, cudaMalloc(&st->l2_flush, flush_bytes(st)))) return -1;
        st->l2_flush_bytes = flush_bytes(st);
    }
    // A new fill byte each time, so the writes always change the data.
    int value = (int)(++st->l2_flushes & 0xff);
    return CUDA_CHECK(st, cudaMemsetAsync(st->l2_flush, value, st->l2_flush_bytes, st->compute));
}
