// cuda-emu: the CUDA runtime API and device-side language of the subset
// hwnas uses, for g++. Code written for nvcc compiles against this header
// unchanged, except that kernel launches go through LAUNCH_KERNEL
// (kernels/cuda/launch.h), because a C++ compiler cannot parse <<< >>>.
//
// What it emulates (the rest of tests/cuda_emu/ implements it):
//   - every launch runs every block of its grid; blocks run in parallel on OS
//     threads, the threads of a block as cooperative fibers, warps of 32;
//   - __shared__ memory per block, __syncthreads() as a real barrier, warp
//     shuffles and votes as rendezvous of the lanes their mask names;
//   - streams and events with CUDA's ordering rules, executed lazily: work
//     runs only when something waits for it, so a missing wait shows;
//   - device memory in guarded mappings, out of reach of host code.
// Written from NVIDIA's documentation (CUDA C++ Programming Guide, CUDA
// Runtime API reference); no NVIDIA header or code is copied.
#ifndef CUDA_EMU_CUDA_RUNTIME_H
#define CUDA_EMU_CUDA_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tuple>
#include <utility>

#define CUDA_EMULATOR 1
#define CUDART_VERSION 13000

// ---------------------------------------------------------------- qualifiers
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __grid_constant__
#define __constant__ static
// One copy per OS thread: a block runs on one OS thread, its threads are
// fibers of it, so every thread of a block sees the same variable.
#define __shared__ static thread_local

// ---------------------------------------------------------------- vector types
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
    unsigned x, y, z;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};
struct alignas(8) int2 {
    int x, y;
};
struct alignas(16) int4 {
    int x, y, z, w;
};
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline double2 make_double2(double x, double y) { return double2{x, y}; }
static inline int2 make_int2(int x, int y) { return int2{x, y}; }
static inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }

// ---------------------------------------------------------------- errors
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorNotReady = 600,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchOutOfResources = 701,
    cudaErrorAssert = 710,
    cudaErrorIllegalInstruction = 715,
    cudaErrorLaunchFailure = 719,
    cudaErrorUnknown = 999,
};
typedef cudaError_t cudaError;

// ---------------------------------------------------------------- handles, enums
struct CUstream_st;
struct CUevent_st;
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrMaxBlockDimX = 2,
    cudaDevAttrMaxBlockDimY = 3,
    cudaDevAttrMaxBlockDimZ = 4,
    cudaDevAttrMaxGridDimX = 5,
    cudaDevAttrMaxGridDimY = 6,
    cudaDevAttrMaxGridDimZ = 7,
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrWarpSize = 10,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrL2CacheSize = 38,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

#define cudaStreamDefault 0x0u
#define cudaStreamNonBlocking 0x1u
#define cudaEventDefault 0x0u
#define cudaEventBlockingSync 0x1u
#define cudaEventDisableTiming 0x2u
#define cudaHostAllocDefault 0x0u
#define cudaHostAllocPortable 0x1u
#define cudaHostAllocMapped 0x2u

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    int regsPerBlock;
    int warpSize;
    int maxThreadsPerBlock;
    int maxThreadsDim[3];
    int maxGridSize[3];
    int major;
    int minor;
    int multiProcessorCount;
    int l2CacheSize;
    int maxThreadsPerMultiProcessor;
    size_t sharedMemPerBlockOptin;
};

// ---------------------------------------------------------------- runtime API
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaDeviceReset(void);

cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned flags);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = 0);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = 0);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// The typed overloads the real header offers to C++ callers.
template <class T>
static inline cudaError_t cudaMalloc(T** ptr, size_t bytes) {
    return cudaMalloc((void**)ptr, bytes);
}
template <class T>
static inline cudaError_t cudaHostAlloc(T** ptr, size_t bytes, unsigned flags) {
    return cudaHostAlloc((void**)ptr, bytes, flags);
}
template <class T>
static inline cudaError_t cudaMallocHost(T** ptr, size_t bytes) {
    return cudaMallocHost((void**)ptr, bytes);
}

// ---------------------------------------------------------------- device side
namespace cuda_emu {

// The running thread of the running block (a fiber of this OS thread).
struct ThreadState {
    uint3 thread_idx;
    int linear;  // x + y * bx + z * bx * by
};
struct BlockState {
    uint3 block_idx;
    dim3 block_dim, grid_dim;
    void* dynamic_shared;
};
extern thread_local ThreadState* tls_thread;
extern thread_local BlockState* tls_block;

// Barrier of the block; file and line name the call site in errors.
void block_barrier(const char* file, int line);
// Warp rendezvous: every lane of `mask` deposits `bits`; all get the
// deposits of the lanes of the mask (values[lane]). Checks the mask.
void warp_exchange(unsigned mask, uint64_t bits, uint64_t values[32], const char* what,
                   const char* file, int line);
// The lane of the caller and the lanes of its warp that have not exited.
unsigned lane_id();
unsigned active_mask();
// A fault found in device code: ends the block, records a sticky error.
[[noreturn]] void device_fault(int code, const char* what, const char* file, int line);

enum ShuffleKind { SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_XOR };
// The lane whose value `lane` reads, or `lane` itself where CUDA returns the
// caller's own value (beyond its width segment).
int shuffle_source(ShuffleKind kind, int lane, int arg, int width);

template <class T>
T shuffle(ShuffleKind kind, const char* name, const char* file, int line, unsigned mask, T var,
          int arg, int width) {
    static_assert(sizeof(T) <= 8, "__shfl_*_sync moves at most 8 bytes");
    if (width <= 0 || width > 32 || (width & (width - 1)))
        device_fault(715, "shuffle width must be a power of two in 1..32", file, line);
    uint64_t bits = 0, values[32];
    memcpy(&bits, &var, sizeof(T));
    warp_exchange(mask, bits, values, name, file, line);
    int lane = (int)lane_id();
    int src = shuffle_source(kind, lane, arg, width);
    if (!((mask >> src) & 1u))
        device_fault(715, "a shuffle reads a lane that is not in its mask (undefined in CUDA)", file,
                     line);
    T out;
    memcpy(&out, &values[src], sizeof(T));
    return out;
}
unsigned vote(int kind, unsigned mask, int predicate, const char* file, int line);
static inline void syncwarp(const char* file, int line, unsigned mask = 0xffffffffu) {
    vote(3, mask, 1, file, line);
}

// ---------------------------------------------------------------- launch
// Queues a kernel; the thunk runs one thread of it (see emu_launch.cc).
typedef void (*KernelThunk)(void* args);
cudaError_t launch_erased(const char* kernel, const char* file, int line, dim3 grid, dim3 block,
                          size_t shared_bytes, cudaStream_t stream, KernelThunk thunk, void* args,
                          void (*destroy)(void*));

template <class F, class... Args>
struct LaunchArgs {
    F f;
    std::tuple<Args...> args;
    static void run(void* p) {
        LaunchArgs* a = static_cast<LaunchArgs*>(p);
        // Each thread gets its own copy of the arguments, as on a GPU.
        std::tuple<Args...> copy = a->args;
        std::apply(a->f, copy);
    }
    static void destroy(void* p) { delete static_cast<LaunchArgs*>(p); }
};

template <class F, class... Args>
cudaError_t launch(const char* kernel, const char* file, int line, dim3 grid, dim3 block,
                   size_t shared_bytes, cudaStream_t stream, F f, Args... args) {
    auto* a = new LaunchArgs<F, Args...>{f, std::tuple<Args...>(args...)};
    return launch_erased(kernel, file, line, grid, block, shared_bytes, stream,
                         &LaunchArgs<F, Args...>::run, a, &LaunchArgs<F, Args...>::destroy);
}

}  // namespace cuda_emu

// kernel<<<grid, block, shared, stream>>>(args...) for the emulator.
#define CUDA_EMULATOR_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                 \
    ::cuda_emu::launch(#kernel, __FILE__, __LINE__, dim3(grid), dim3(block), (shared_bytes), \
                       (stream), [](auto... a_) { kernel(a_...); }, __VA_ARGS__)

#define threadIdx (::cuda_emu::tls_thread->thread_idx)
#define blockIdx (::cuda_emu::tls_block->block_idx)
#define blockDim (::cuda_emu::tls_block->block_dim)
#define gridDim (::cuda_emu::tls_block->grid_dim)
static constexpr int warpSize = 32;

// extern __shared__ T name[] is spelled CUDA_DYNAMIC_SHARED(T, name) in
// code that must build under the emulator (as HIP's HIP_DYNAMIC_SHARED).
#define CUDA_EMULATOR_DYNAMIC_SHARED(type, name) \
    type* name = static_cast<type*>(::cuda_emu::tls_block->dynamic_shared)

#define __syncthreads() ::cuda_emu::block_barrier(__FILE__, __LINE__)
#define __syncwarp(...) ::cuda_emu::syncwarp(__FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_sync(mask, var, ...) \
    ::cuda_emu::shfl(::cuda_emu::SHFL_IDX, "__shfl_sync", __FILE__, __LINE__, mask, var, __VA_ARGS__)
#define __shfl_up_sync(mask, var, ...) \
    ::cuda_emu::shfl(::cuda_emu::SHFL_UP, "__shfl_up_sync", __FILE__, __LINE__, mask, var, __VA_ARGS__)
#define __shfl_down_sync(mask, var, ...) \
    ::cuda_emu::shfl(::cuda_emu::SHFL_DOWN, "__shfl_down_sync", __FILE__, __LINE__, mask, var, __VA_ARGS__)
#define __shfl_xor_sync(mask, var, ...) \
    ::cuda_emu::shfl(::cuda_emu::SHFL_XOR, "__shfl_xor_sync", __FILE__, __LINE__, mask, var, __VA_ARGS__)
#define __ballot_sync(mask, pred) ::cuda_emu::vote(0, mask, (pred) != 0, __FILE__, __LINE__)
#define __all_sync(mask, pred) ((int)::cuda_emu::vote(1, mask, (pred) != 0, __FILE__, __LINE__))
#define __any_sync(mask, pred) ((int)::cuda_emu::vote(2, mask, (pred) != 0, __FILE__, __LINE__))
#define __activemask() ::cuda_emu::active_mask()

namespace cuda_emu {
template <class T>
T shfl(ShuffleKind kind, const char* name, const char* file, int line, unsigned mask, T var,
       int arg, int width = 32) {
    return shuffle(kind, name, file, line, mask, var, arg, width);
}
}  // namespace cuda_emu

// ---------------------------------------------------------------- atomics
// Blocks run in parallel on OS threads: real atomics.
template <class T>
static inline T atomicAdd(T* address, T val) {
    return __atomic_fetch_add(address, val, __ATOMIC_RELAXED);
}
static inline float atomicAdd(float* address, float val) {
    float old;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    while (true) {
        float want = old + val;
        if (__atomic_compare_exchange(address, &old, &want, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED))
            return old;
    }
}
static inline double atomicAdd(double* address, double val) {
    double old;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    while (true) {
        double want = old + val;
        if (__atomic_compare_exchange(address, &old, &want, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED))
            return old;
    }
}
template <class T>
static inline T atomicSub(T* address, T val) {
    return __atomic_fetch_sub(address, val, __ATOMIC_RELAXED);
}
template <class T>
static inline T atomicExch(T* address, T val) {
    return __atomic_exchange_n(address, val, __ATOMIC_RELAXED);
}
template <class T>
static inline T atomicCAS(T* address, T compare, T val) {
    __atomic_compare_exchange_n(address, &compare, val, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
template <class T>
static inline T atomicMax(T* address, T val) {
    T old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (old < val && !__atomic_compare_exchange_n(address, &old, val, true, __ATOMIC_RELAXED,
                                                     __ATOMIC_RELAXED)) {
    }
    return old;
}
template <class T>
static inline T atomicMin(T* address, T val) {
    T old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (old > val && !__atomic_compare_exchange_n(address, &old, val, true, __ATOMIC_RELAXED,
                                                     __ATOMIC_RELAXED)) {
    }
    return old;
}
static inline void __threadfence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---------------------------------------------------------------- math
// CUDA's global min/max overloads for integers (float ones are fminf/fmaxf).
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
static inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
// __expf and __logf: glibc declares them already, with the same meaning.
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
static inline float __int_as_float(int i) { float x; memcpy(&x, &i, 4); return x; }
static inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
static inline float __uint_as_float(unsigned i) { float x; memcpy(&x, &i, 4); return x; }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
template <class T>
static inline T __ldg(const T* p) { return *p; }

#endif
