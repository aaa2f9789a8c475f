// The CUDA backend's state: device, streams, library handles, workspaces,
// pinned host memory and the asynchronous upload slots; sticky error record.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.h"

int cuda_record_error(CudaState* st, const char* file, int line, const char* call,
                      const char* message) {
    const char* base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (!st) {
        fprintf(stderr, "hwnas: cuda error: %s:%d: %s: %s\n", base, line, call, message);
        return -1;
    }
    if (st->failed) return -1;  // keep the first: later ones are usually its echoes
    st->failed = 1;
    snprintf(st->error, sizeof st->error, "%s:%d: %s: %s", base, line, call, message);
    fprintf(stderr, "hwnas: cuda error: %s\n", st->error);
    return -1;
}

int cuda_device_available(char* why, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        if (why && n) snprintf(why, n, "no CUDA device found: %s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        return 0;
    }
    if (count == 0) {
        if (why && n) snprintf(why, n, "no CUDA device found: the driver reports 0 devices");
        return 0;
    }
    if (why && n) snprintf(why, n, "%d CUDA device(s)", count);
    return count;
}

const char* cuda_state_error(const CudaState* st) { return st ? st->error : "no CUDA state"; }

int cuda_state_take_error(const CudaState* st, HwErr* err) {
    if (!st) return hw_runtime(err, NULL, 0, "cuda: no CUDA state");
    if (!st->failed) return 0;
    return hw_runtime(err, NULL, 0, "cuda error: %s", st->error);
}

void cuda_state_set_direct_conv(CudaState* st, int direct) {
    if (st) st->direct_conv = direct;
}

// cuDNN is optional: where it cannot start (a missing or mismatched library,
// no support for the device), dense convolutions run on the direct kernels,
// with one note on stderr; it is not a backend error.
static void cuda_state_start_cudnn(CudaState* st) {
    cudnnStatus_t e = cudnnCreate(&st->cudnn);
    if (e == CUDNN_STATUS_SUCCESS) e = cudnnSetStream(st->cudnn, st->compute);
    if (e == CUDNN_STATUS_SUCCESS) return;
    fprintf(stderr, "hwnas: note: cuDNN unavailable (%s); dense convolutions use the direct kernels\n",
            cudnnGetErrorString(e));
    if (st->cudnn) (void)cudnnDestroy(st->cudnn);
    st->cudnn = NULL;
}

// Handles, streams and buffers; on failure the caller destroys the
// half-built state (every destroy below tolerates NULL members).
static int cuda_state_init(CudaState* st, int device) {
    if (CUDA_CHECK(st, cudaSetDevice(device))) return -1;
    if (CUDA_CHECK(st, cudaDeviceGetAttribute(&st->sm_count, cudaDevAttrMultiProcessorCount,
                                              device)))
        return -1;
    if (CUDA_CHECK(st, cudaDeviceGetAttribute(&st->l2_bytes, cudaDevAttrL2CacheSize, device)))
        return -1;
    if (CUDA_CHECK(st, cudaStreamCreateWithFlags(&st->compute, cudaStreamNonBlocking))) return -1;
    if (CUDA_CHECK(st, cudaStreamCreateWithFlags(&st->copy, cudaStreamNonBlocking))) return -1;
    for (int s = 0; s < CUDA_UPLOAD_SLOTS; s++) {
        if (CUDA_CHECK(st, cudaEventCreateWithFlags(&st->upload_ready[s], cudaEventDisableTiming)))
            return -1;
        if (CUDA_CHECK(st, cudaEventCreateWithFlags(&st->upload_released[s],
                                                    cudaEventDisableTiming)))
            return -1;
    }
    // Default flags: these two record time stamps.
    if (CUDA_CHECK(st, cudaEventCreate(&st->timer_begin))) return -1;
    if (CUDA_CHECK(st, cudaEventCreate(&st->timer_end))) return -1;
    if (CUDA_CHECK(st, cublasCreate(&st->cublas))) return -1;
    if (CUDA_CHECK(st, cublasSetStream(st->cublas, st->compute))) return -1;
    // Default math keeps fp32 GEMMs in fp32 (TF32 only with the explicit
    // TF32 mode), so results track the CPU backend; cuBLAS is deterministic
    // on a given GPU with its default atomics-off mode.
    if (CUDA_CHECK(st, cublasSetMathMode(st->cublas, CUBLAS_DEFAULT_MATH))) return -1;
    cuda_state_start_cudnn(st);
    st->cudnn_workspace_bytes = CUDA_CUDNN_WORKSPACE_BYTES;
    if (CUDA_CHECK(st, cudaMalloc(&st->cudnn_workspace, st->cudnn_workspace_bytes))) return -1;
    st->reduce_scratch_doubles = CUDA_REDUCE_SCRATCH_DOUBLES;
    if (CUDA_CHECK(st, cudaMalloc((void**)&st->reduce_scratch,
                                  st->reduce_scratch_doubles * sizeof(double))))
        return -1;
    st->channel_buf_floats = CUDA_CHANNEL_BUF_FLOATS;
    if (CUDA_CHECK(st, cudaMalloc((void**)&st->channel_buf,
                                  st->channel_buf_floats * sizeof(float))))
        return -1;
    return 0;
}

CudaState* cuda_state_create(int device, HwErr* err) {
    char why[256];
    if (!cuda_device_available(why, sizeof why)) {
        hw_runtime(err, NULL, 0, "%s", why);
        return NULL;
    }
    CudaState* st = (CudaState*)calloc(1, sizeof(CudaState));
    if (!st) {
        hw_runtime(err, NULL, 0, "cuda: out of host memory for the CUDA state");
        return NULL;
    }
    st->device = device;
    if (cuda_state_init(st, device)) {
        hw_runtime(err, NULL, 0, "cuda: cannot initialize device %d: %s", device, st->error);
        cuda_state_destroy(st);
        return NULL;
    }
    return st;
}

void cuda_state_destroy(CudaState* st) {
    if (!st) return;
    // Errors here are ignored on purpose: the state is going away either way.
    if (st->compute) (void)cudaStreamSynchronize(st->compute);
    if (st->copy) (void)cudaStreamSynchronize(st->copy);
    conv2d_plans_destroy(st);
    if (st->cudnn) (void)cudnnDestroy(st->cudnn);
    if (st->cublas) (void)cublasDestroy(st->cublas);
    if (st->cudnn_workspace) (void)cudaFree(st->cudnn_workspace);
    if (st->reduce_scratch) (void)cudaFree(st->reduce_scratch);
    if (st->channel_buf) (void)cudaFree(st->channel_buf);
    if (st->l2_flush) (void)cudaFree(st->l2_flush);
    if (st->timer_begin) (void)cudaEventDestroy(st->timer_begin);
    if (st->timer_end) (void)cudaEventDestroy(st->timer_end);
    for (int s = 0; s < CUDA_UPLOAD_SLOTS; s++) {
        if (st->upload_ready[s]) (void)cudaEventDestroy(st->upload_ready[s]);
        if (st->upload_released[s]) (void)cudaEventDestroy(st->upload_released[s]);
    }
    if (st->copy) (void)cudaStreamDestroy(st->copy);
    if (st->compute) (void)cudaStreamDestroy(st->compute);
    (void)cudaGetLastError();
    free(st);
}

void* cuda_host_alloc_pinned(CudaState* st, size_t bytes, HwErr* err) {
    void* p = NULL;
    cudaError_t e = cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        hw_runtime(err, NULL, 0, "cuda: cannot pin %zu bytes of host memory: %s", bytes,
                   cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

void cuda_host_free_pinned(CudaState* st, void* p) {
    if (!p) return;
    CUDA_CHECK(st, cudaFreeHost(p));
}

static int upload_slot_ok(CudaState* st, int slot) {
    if (!st || st->failed) return 0;
    if (slot < 0 || slot >= CUDA_UPLOAD_SLOTS) {
        char msg[64];
        snprintf(msg, sizeof msg, "slot %d is not in [0, %d)", slot, CUDA_UPLOAD_SLOTS);
        cuda_record_error(st, __FILE__, __LINE__, "cuda_upload", msg);
        return 0;
    }
    return 1;
}

int cuda_upload_async(CudaState* st, int slot, void* dst, const void* pinned_src, size_t bytes) {
    if (!upload_slot_ok(st, slot)) return -1;
    // A never-recorded event counts as complete, so the first upload of a
    // slot does not wait.
    if (CUDA_CHECK(st, cudaStreamWaitEvent(st->copy, st->upload_released[slot], 0))) return -1;
    if (bytes && CUDA_CHECK(st, cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice,
                                                st->copy)))
        return -1;
    return CUDA_CHECK(st, cudaEventRecord(st->upload_ready[slot], st->copy));
}

int cuda_upload_acquire(CudaState* st, int slot) {
    if (!upload_slot_ok(st, slot)) return -1;
    return CUDA_CHECK(st, cudaStreamWaitEvent(st->compute, st->upload_ready[slot], 0));
}

int cuda_upload_release(CudaState* st, int slot) {
    if (!upload_slot_ok(st, slot)) return -1;
    return CUDA_CHECK(st, cudaEventRecord(st->upload_released[slot], st->compute));
}

int cuda_upload_wait_host(CudaState* st, int slot) {
    if (!upload_slot_ok(st, slot)) return -1;
    return CUDA_CHECK(st, cudaEventSynchronize(st->upload_ready[slot]));
}
