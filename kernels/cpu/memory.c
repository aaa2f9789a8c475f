// Host memory for the CPU backend. 64-byte aligned so AVX loads never split a
// cache line at tensor starts. Backend memory and upload staging memory are
// the same kind here, so the asynchronous uploads are plain copies.
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

// aligned_alloc needs a size that is a multiple of the alignment.
static size_t aligned_size(size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    return rounded ? rounded : 64;
}

void* alloc_cpu(const OpContext* ctx, size_t bytes) {
    void* p = aligned_alloc(64, aligned_size(bytes));
    if (p) memset(p, 0, aligned_size(bytes));
    return p;
}

void release_cpu(const OpContext* ctx, void* p) { free(p); }

void upload_cpu(const OpContext* ctx, void* dst, const void* src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}

void download_cpu(const OpContext* ctx, void* dst, const void* src, size_t bytes) {
    if (bytes) memcpy(dst, src, bytes);
}

void copy_cpu(const OpContext* ctx, void* dst, const void* src, size_t bytes) {
    if (bytes && dst != src) memmove(dst, src, bytes);
}

void fill_zero_cpu(const OpContext* ctx, void* p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
}

int synchronize_cpu(const OpContext* ctx) { return 0; }

void* host_alloc_cpu(const OpContext* ctx, size_t bytes) { return aligned_alloc(64, aligned_size(bytes)); }

void host_free_cpu(const OpContext* ctx, void* p) { free(p); }

static int slot_in_range(int slot) { return slot >= 0 && slot < OPS_UPLOAD_SLOTS; }

// Work is never queued on the CPU: the copy is done when this returns.
int upload_async_cpu(const OpContext* ctx, int slot, void* dst, const void* host_src, size_t bytes) {
    if (!slot_in_range(slot)) return -1;
    if (bytes) memcpy(dst, host_src, bytes);
    return 0;
}

int upload_acquire_cpu(const OpContext* ctx, int slot) { return slot_in_range(slot) ? 0 : -1; }
int upload_release_cpu(const OpContext* ctx, int slot) { return slot_in_range(slot) ? 0 : -1; }
int upload_wait_host_cpu(const OpContext* ctx, int slot) { return slot_in_range(slot) ? 0 : -1; }
