// cuda-emu internals shared by the runtime (emu_runtime.cc), the kernel
// executor (emu_launch.cc) and the library emulations (emu_cublas.cc,
// emu_cudnn.cc, emu_nccl.cc). Not seen by the code under test.
#ifndef CUDA_EMU_INTERNAL_H
#define CUDA_EMU_INTERNAL_H

#include <cuda_runtime.h>

#include <functional>
#include <string>

namespace cuda_emu {

// Every API entry point holds this (recursive) lock: the emulated device is
// driven by one host thread at a time, as the runtime's context lock does.
struct ApiLock {
    ApiLock();
    ~ApiLock();
    ApiLock(const ApiLock&) = delete;
    ApiLock& operator=(const ApiLock&) = delete;
};

// The sticky error of the device (a fault in a kernel or in library work):
// cudaSuccess while there is none. Every API call returns it once set.
cudaError_t sticky_error();
// Records a sticky fault with a message naming what failed (kept for
// cudaGetErrorString and printed once to stderr as "cuda-emu: ...").
void fault(cudaError_t code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Sets the per-thread last error returned by cudaGetLastError; `detail`
// (optional) is appended to cudaGetErrorString's text for that code.
cudaError_t set_last_error(cudaError_t e, const std::string& detail = std::string());
// Monotonic device clock in milliseconds (strictly increasing per call).
double device_clock_ms();

// Device memory: whether [p, p + bytes) lies inside one live cudaMalloc
// allocation; `describe` says where p is otherwise ("12 bytes past the end of
// the 4000-byte allocation at 0x...", "not device memory").
bool device_range_ok(const void* p, size_t bytes);
std::string describe_address(const void* p, size_t bytes);
// Whether p is inside page-locked host memory from cudaHostAlloc.
bool is_pinned_host(const void* p, size_t bytes);

// Queues host work in stream order: `work` runs when the stream reaches it,
// with device memory accessible, after everything queued before it on that
// stream (and whatever that waited for). It reports problems with fault().
// Returns cudaErrorInvalidResourceHandle for a destroyed stream, or the
// sticky error.
cudaError_t enqueue_work(cudaStream_t stream, const char* name, std::function<void()> work);
// Runs everything queued on `stream` so far (cudaStreamSynchronize without
// the API lock or error bookkeeping); for collectives that must run in
// program order (emu_nccl.cc).
cudaError_t run_stream(cudaStream_t stream);
// Whether `stream` is a live stream handle (0 is the legacy default stream).
bool stream_valid(cudaStream_t stream);

// Emulator settings read once from the environment (see README in this
// folder):
//   CUDA_EMU_CUDNN=unavailable   every cuDNN call fails (hwnas's fallback)
//   CUDA_EMU_WORKERS=N           OS threads running blocks (default: cores)
//   CUDA_EMU_DRAIN=created|reverse  order in which a device-wide drain
//                                visits the streams
const char* setting(const char* name);
// A setting as a positive integer, or `fallback` when unset or malformed.
long setting_long(const char* name, long fallback);

// ---- kernels (emu_launch.cc runs them; emu_runtime.cc queues them)
struct KernelLaunch {
    const char* kernel;  // name as written at the launch
    const char* file;
    int line;
    dim3 grid, block;
    size_t shared_bytes;
    KernelThunk thunk;  // runs one thread
    void* args;
    void (*destroy)(void*);
};
// Queues a validated launch on its stream (takes ownership of k.args).
cudaError_t enqueue_kernel(cudaStream_t stream, const KernelLaunch& k);
// Runs every block of the launch; a fault in any block becomes the sticky
// error (with the kernel, block, thread and what went wrong).
void run_kernel(const KernelLaunch& k);
// Installs the handlers that turn faults inside kernels into CUDA errors.
void install_fault_handlers();

// ---- device memory (emu_memory.cc)
// While one is alive, device memory is readable and writable; otherwise it
// is protected, so host code that dereferences it faults with a message.
struct DeviceAccess {
    DeviceAccess();
    ~DeviceAccess();
    DeviceAccess(const DeviceAccess&) = delete;
    DeviceAccess& operator=(const DeviceAccess&) = delete;
};
cudaError_t device_malloc(void** ptr, size_t bytes);
cudaError_t device_free(void* ptr);  // cudaErrorInvalidValue unless ptr came from device_malloc
cudaError_t host_alloc(void** ptr, size_t bytes);
cudaError_t host_free(void* ptr);
// Where p lies, into buf without allocating (usable in a signal handler).
void describe_address_into(char* buf, size_t n, const void* p, size_t bytes);
bool address_is_device(const void* p);
// Bytes written past the end of an allocation (into its alignment slack):
// checked after every drain of the streams; records a fault.
void check_allocation_tails();

}  // namespace cuda_emu

#endif
