// The emulated device and the runtime calls that are not about streams:
// settings, the API lock, errors (per-thread last error, sticky faults with
// their messages), device selection and properties, memory allocation.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <map>
#include <mutex>
#include <string>

#include "emu_internal.h"

namespace cuda_emu {

const char* setting(const char* name) { return getenv(name); }

long setting_long(const char* name, long fallback) {
    const char* v = getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    long x = strtol(v, &end, 10);
    return (*end == 0 && x >= 0 && x < (1L << 40)) ? x : fallback;
}

static std::recursive_mutex& api_mutex() {
    static std::recursive_mutex* m = new std::recursive_mutex();
    return *m;
}

// One-time start of the device: fault handlers in place before any kernel.
static void device_start() {
    static std::once_flag once;
    std::call_once(once, [] { install_fault_handlers(); });
}

ApiLock::ApiLock() {
    api_mutex().lock();
    device_start();
}
ApiLock::~ApiLock() { api_mutex().unlock(); }

// ---------------------------------------------------------------- errors

struct ErrorState {
    cudaError_t sticky = cudaSuccess;
    std::string sticky_message;
};
static ErrorState& errors() {
    static ErrorState* e = new ErrorState();
    return *e;
}
static thread_local cudaError_t tls_last_error = cudaSuccess;
static thread_local std::map<int, std::string>* tls_details = nullptr;

cudaError_t sticky_error() { return errors().sticky; }

void fault(cudaError_t code, const char* fmt, ...) {
    ErrorState& e = errors();
    if (e.sticky != cudaSuccess) return;  // the first fault is the one that matters
    char buf[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e.sticky = code;
    e.sticky_message = buf;
    fprintf(stderr, "cuda-emu: %s\n", buf);
}

cudaError_t set_last_error(cudaError_t e, const std::string& detail) {
    if (e == cudaSuccess) return e;
    tls_last_error = e;
    if (!tls_details) tls_details = new std::map<int, std::string>();
    (*tls_details)[(int)e] = detail;
    return e;
}

double device_clock_ms() {
    static double last = 0;
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
    // Events recorded back to back still measure a positive interval.
    last = now > last + 1e-3 ? now : last + 1e-3;
    return last;
}

static const char* base_error_string(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorAssert: return "device-side assert triggered";
    case cudaErrorIllegalInstruction: return "an illegal instruction was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
    }
}

}  // namespace cuda_emu

using namespace cuda_emu;

const char* cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorIllegalInstruction: return "cudaErrorIllegalInstruction";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
    }
}

// The runtime's text, plus what the emulator knows of the cause: the fault's
// message for the sticky error, the detail of the last error of that code.
const char* cudaGetErrorString(cudaError_t e) {
    static thread_local std::string text;
    ApiLock lock;
    text = base_error_string(e);
    std::string detail;
    if (e != cudaSuccess && e == errors().sticky) detail = errors().sticky_message;
    else if (tls_details && tls_details->count((int)e)) detail = (*tls_details)[(int)e];
    if (!detail.empty()) text += " (cuda-emu: " + detail + ")";
    return text.c_str();
}

cudaError_t cudaGetLastError(void) {
    ApiLock lock;
    cudaError_t e = tls_last_error;
    tls_last_error = cudaSuccess;
    return errors().sticky != cudaSuccess ? errors().sticky : e;
}

cudaError_t cudaPeekAtLastError(void) {
    ApiLock lock;
    return errors().sticky != cudaSuccess ? errors().sticky : tls_last_error;
}

// ---------------------------------------------------------------- devices

static int device_count() { return (int)setting_long("CUDA_EMU_DEVICES", 2); }
static int g_current_device = 0;

cudaError_t cudaGetDeviceCount(int* count) {
    ApiLock lock;
    if (!count) return set_last_error(cudaErrorInvalidValue);
    *count = device_count();
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    ApiLock lock;
    if (device < 0 || device >= device_count()) return set_last_error(cudaErrorInvalidDevice);
    g_current_device = device;
    return sticky_error();
}

cudaError_t cudaGetDevice(int* device) {
    ApiLock lock;
    if (!device) return set_last_error(cudaErrorInvalidValue);
    *device = g_current_device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
    ApiLock lock;
    if (!prop) return set_last_error(cudaErrorInvalidValue);
    if (device < 0 || device >= device_count()) return set_last_error(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "cuda-emu (emulated sm_90, H100-like)");
    prop->totalGlobalMem = (size_t)80 << 30;
    prop->sharedMemPerBlock = 48 << 10;
    prop->sharedMemPerBlockOptin = 227 << 10;
    prop->regsPerBlock = 65536;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = 1024, prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647, prop->maxGridSize[1] = 65535, prop->maxGridSize[2] = 65535;
    prop->major = 9, prop->minor = 0;
    // CUDA_EMU_SMS: fewer SMs make grid-stride loops wrap on small inputs.
    prop->multiProcessorCount = (int)setting_long("CUDA_EMU_SMS", 132);
    prop->l2CacheSize = 50 << 20;
    prop->maxThreadsPerMultiProcessor = 2048;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess) return e;
    if (!value) return set_last_error(cudaErrorInvalidValue);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
    default: return set_last_error(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

// ---------------------------------------------------------------- memory

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
    ApiLock lock;
    if (!ptr) return set_last_error(cudaErrorInvalidValue);
    *ptr = nullptr;
    if (sticky_error() != cudaSuccess) return sticky_error();
    if (bytes == 0) return cudaSuccess;
    cudaError_t e = device_malloc(ptr, bytes);
    if (e != cudaSuccess) {
        char why[96];
        snprintf(why, sizeof why, "cudaMalloc of %zu bytes (the device has 80 GB)", bytes);
        return set_last_error(e, why);
    }
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned flags) {
    ApiLock lock;
    if (!ptr || (flags & ~7u)) return set_last_error(cudaErrorInvalidValue);
    cudaError_t e = host_alloc(ptr, bytes ? bytes : 1);
    return e == cudaSuccess ? sticky_error() : set_last_error(e);
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) { return cudaHostAlloc(ptr, bytes, 0); }

cudaError_t cudaFreeHost(void* ptr) {
    ApiLock lock;
    if (!ptr) return cudaSuccess;
    cudaError_t e = host_free(ptr);
    return e == cudaSuccess ? sticky_error() : set_last_error(e, "cudaFreeHost of memory not from cudaHostAlloc");
}
