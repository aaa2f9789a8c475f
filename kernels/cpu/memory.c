// Host memory for the CPU backend. 64-byte aligned so AVX loads never split a
// cache line at tensor starts.
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

void* alloc_cpu(const OpContext* ctx, size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void* p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) memset(p, 0, rounded ? rounded : 64);
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
