// Device memory of the emulator. Each cudaMalloc gets a mapping of its own:
// an inaccessible guard page, the data pages with the allocation placed
// against their end (16-byte aligned, so float4/double2 work), and another
// guard page. An access past the end faults in the guard page; a write into
// the few alignment bytes after the end or into the space before the start is
// found by canaries. New memory is filled with 0xff bytes (NaN as floats), so
// reading memory nobody wrote shows. Outside emulator work the data pages are
// protected, so host code that dereferences a device pointer faults with a
// message (emu_launch.cc) instead of silently working as it never would on a
// GPU (allocations up to 16 MiB: see protect_max_bytes). Builds with AddressSanitizer use plain heap blocks instead: ASan's
// redzones catch every out-of-bounds byte.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "emu_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define CUDA_EMU_GUARDS 0
#else
#define CUDA_EMU_GUARDS 1
#endif

namespace cuda_emu {

static const unsigned char kCanary = 0xA5;
static const size_t kDeviceBytes = (size_t)80 << 30;  // an 80 GB H100

struct Allocation {
    char* user;    // what cudaMalloc returned
    size_t bytes;  // what was asked for
    char* map;     // the whole mapping (guards included)
    size_t map_bytes;
    char* data;  // first data page
    size_t data_bytes;
};

struct MemoryState {
    std::map<uintptr_t, Allocation> device;  // by mapping address
    std::map<uintptr_t, size_t> pinned;      // cudaHostAlloc blocks
    size_t device_total = 0;
    int access_depth = 0;  // DeviceAccess nesting
    bool protect = true;
};

static MemoryState& mem() {
    static MemoryState* m = [] {
        MemoryState* s = new MemoryState();  // never freed: handlers read it
        s->protect = setting_long("CUDA_EMU_PROTECT", 1) != 0 && CUDA_EMU_GUARDS;
        return s;
    }();
    return *m;
}

static size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

// The allocation whose mapping contains p, or null.
static const Allocation* find_mapping(const void* p) {
    MemoryState& m = mem();
    uintptr_t a = (uintptr_t)p;
    auto it = m.device.upper_bound(a);
    if (it == m.device.begin()) return nullptr;
    --it;
    const Allocation& al = it->second;
    return a < (uintptr_t)al.map + al.map_bytes ? &al : nullptr;
}

// Changing the protection costs time in proportion to the pages, at every
// drain of the streams; allocations above this size (the backend's large
// scratch buffers) stay accessible. CUDA_EMU_PROTECT_MAX_MB overrides.
static size_t protect_max_bytes() {
    static size_t max = (size_t)setting_long("CUDA_EMU_PROTECT_MAX_MB", 16) << 20;
    return max;
}

static void set_protection(const Allocation& a, bool accessible) {
    if (!CUDA_EMU_GUARDS || !mem().protect || a.data_bytes > protect_max_bytes()) return;
    mprotect(a.data, a.data_bytes, accessible ? PROT_READ | PROT_WRITE : PROT_NONE);
}

DeviceAccess::DeviceAccess() {
    MemoryState& m = mem();
    if (m.access_depth++ == 0)
        for (auto& kv : m.device) set_protection(kv.second, true);
}

DeviceAccess::~DeviceAccess() {
    MemoryState& m = mem();
    if (--m.access_depth == 0)
        for (auto& kv : m.device) set_protection(kv.second, false);
}

[[maybe_unused]] static bool map_allocation(Allocation* a, size_t bytes) {
    size_t page = page_size(), aligned = (bytes + 15) / 16 * 16;
    a->data_bytes = (aligned + page - 1) / page * page;
    a->map_bytes = a->data_bytes + 2 * page;
    void* p = mmap(nullptr, a->map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) return false;
    a->map = (char*)p;
    a->data = a->map + page;
    if (mprotect(a->data, a->data_bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(p, a->map_bytes);
        return false;
    }
    a->user = a->data + a->data_bytes - aligned;
    a->bytes = bytes;
    memset(a->data, kCanary, (size_t)(a->user - a->data));
    memset(a->user, 0xff, bytes);
    memset(a->user + bytes, kCanary, aligned - bytes);
    return true;
}

cudaError_t device_malloc(void** ptr, size_t bytes) {
    MemoryState& m = mem();
    if (bytes > kDeviceBytes || m.device_total + bytes > kDeviceBytes)
        return cudaErrorMemoryAllocation;
    Allocation a;
#if CUDA_EMU_GUARDS
    if (!map_allocation(&a, bytes)) return cudaErrorMemoryAllocation;
    set_protection(a, m.access_depth > 0);
#else
    a.user = (char*)aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!a.user) return cudaErrorMemoryAllocation;
    memset(a.user, 0xff, bytes);
    a.bytes = bytes, a.map = a.data = a.user, a.map_bytes = a.data_bytes = bytes;
#endif
    m.device[(uintptr_t)a.map] = a;
    m.device_total += bytes;
    *ptr = a.user;
    return cudaSuccess;
}

// The canaries around an allocation; 0 when intact.
static bool canaries_intact(const Allocation& a, size_t* before, size_t* after) {
    *before = *after = 0;
    if (!CUDA_EMU_GUARDS) return true;
    DeviceAccess access;
    for (const char* p = a.data; p < a.user; p++) *before += (unsigned char)*p != kCanary;
    for (const char* p = a.user + a.bytes; p < a.data + a.data_bytes; p++)
        *after += (unsigned char)*p != kCanary;
    return *before == 0 && *after == 0;
}

cudaError_t device_free(void* ptr) {
    MemoryState& m = mem();
    const Allocation* found = find_mapping(ptr);
    if (!found || found->user != ptr) return cudaErrorInvalidValue;
    auto it = m.device.find((uintptr_t)found->map);
    Allocation a = it->second;
    size_t before, after;
    if (!canaries_intact(a, &before, &after))
        fault(cudaErrorIllegalAddress,
              "device memory around the %zu-byte allocation at %p was overwritten (%zu bytes "
              "before its start, %zu after its end)",
              a.bytes, (void*)a.user, before, after);
    m.device.erase(it);
    m.device_total -= a.bytes;
#if CUDA_EMU_GUARDS
    munmap(a.map, a.map_bytes);
#else
    free(a.user);
#endif
    return cudaSuccess;
}

void check_allocation_tails() {
    if (!CUDA_EMU_GUARDS || sticky_error() != cudaSuccess) return;
    DeviceAccess access;
    for (auto& kv : mem().device) {
        const Allocation& a = kv.second;
        for (const char* p = a.user + a.bytes; p < a.data + a.data_bytes; p++)
            if ((unsigned char)*p != kCanary) {
                fault(cudaErrorIllegalAddress,
                      "a kernel or copy wrote %td bytes past the end of the %zu-byte allocation "
                      "at %p",
                      p - (a.user + a.bytes) + 1, a.bytes, (void*)a.user);
                return;
            }
    }
}

bool device_range_ok(const void* p, size_t bytes) {
    const Allocation* a = find_mapping(p);
    if (!a) return false;
    const char* c = (const char*)p;
    return c >= a->user && (size_t)(c - a->user) <= a->bytes && bytes <= a->bytes - (size_t)(c - a->user);
}

bool address_is_device(const void* p) { return find_mapping(p) != nullptr; }

void describe_address_into(char* buf, size_t n, const void* p, size_t bytes) {
    const Allocation* a = find_mapping(p);
    const char* c = (const char*)p;
    if (!a)
        snprintf(buf, n, "not device memory");
    else if (c < a->user)
        snprintf(buf, n, "%td bytes before the start of the %zu-byte allocation at %p",
                 a->user - c, a->bytes, (void*)a->user);
    else if ((size_t)(c - a->user) + bytes > a->bytes)
        snprintf(buf, n, "%td bytes past the end of the %zu-byte allocation at %p",
                 c + bytes - (a->user + a->bytes), a->bytes, (void*)a->user);
    else
        snprintf(buf, n, "inside the %zu-byte allocation at %p (offset %td)", a->bytes,
                 (void*)a->user, c - a->user);
}

std::string describe_address(const void* p, size_t bytes) {
    char buf[256];
    describe_address_into(buf, sizeof buf, p, bytes);
    return buf;
}

cudaError_t host_alloc(void** ptr, size_t bytes) {
    void* p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!p) return cudaErrorMemoryAllocation;
    mem().pinned[(uintptr_t)p] = bytes;
    *ptr = p;
    return cudaSuccess;
}

cudaError_t host_free(void* ptr) {
    auto it = mem().pinned.find((uintptr_t)ptr);
    if (it == mem().pinned.end()) return cudaErrorInvalidValue;
    mem().pinned.erase(it);
    free(ptr);
    return cudaSuccess;
}

bool is_pinned_host(const void* p, size_t bytes) {
    auto& pinned = mem().pinned;
    auto it = pinned.upper_bound((uintptr_t)p);
    if (it == pinned.begin()) return false;
    --it;
    uintptr_t a = (uintptr_t)p;
    return a >= it->first && a - it->first + bytes <= it->second;
}

}  // namespace cuda_emu
