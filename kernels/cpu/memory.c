// Host memory for the CPU backend. 64-byte aligned so AVX loads never split a
// cache line at tensor starts. Backend memory and upload staging memory are
// the same kind here, so the asynchronous uploads are plain copies.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu_ops.h"

// From this size on, alloc asks for transparent huge pages: a 600 MB
// ImageNet-scale weight buffer then faults in 2 MB at a time instead of 4 kB,
// and first touch of pages was half of the supernet's start-up time.
#define HUGE_PAGE_ADVICE_BYTES ((size_t)8 << 20)
#define PAGE_BYTES ((uintptr_t)4096)

// aligned_alloc needs a size that is a multiple of the alignment.
static size_t aligned_size(size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    return rounded ? rounded : 64;
}

// Advice only: where THP is off or unsupported the call fails harmlessly.
static void advise_huge_pages(void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    uintptr_t first = ((uintptr_t)p + PAGE_BYTES - 1) & ~(PAGE_BYTES - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(PAGE_BYTES - 1);
    if (bytes >= HUGE_PAGE_ADVICE_BYTES && end > first) (void)madvise((void*)first, end - first, MADV_HUGEPAGE);
#endif
}

// Zeroed by calloc, which skips the memset for fresh pages of the kernel's
// (already zero, and not touched until used: most of a supernet's weights,
// gradients and momentum are never touched by a short run). calloc aligns to
// 16 bytes only, so the block is over-allocated, the pointer rounded up to 64
// and calloc's own pointer kept in the word just below it for release_cpu.
void* alloc_cpu(const OpContext* ctx, size_t bytes) {
    // Checked before rounding: a size near SIZE_MAX would wrap to a tiny block.
    if (bytes > SIZE_MAX - 2 * 64 - sizeof(void*)) return NULL;
    size_t size = aligned_size(bytes);
    char* base = calloc(1, size + 64 + sizeof(void*));
    if (!base) return NULL;
    uintptr_t aligned = ((uintptr_t)base + sizeof(void*) + 63) & ~(uintptr_t)63;
    void* p = (void*)aligned;
    memcpy((char*)p - sizeof(void*), &base, sizeof base);
    advise_huge_pages(p, size);
    return p;
}

void release_cpu(const OpContext* ctx, void* p) {
    if (!p) return;
    void* base;
    memcpy(&base, (char*)p - sizeof(void*), sizeof base);
    free(base);
}

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
