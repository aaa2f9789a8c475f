// Tests of the emulator itself: that kernels run as CUDA defines them (every
// block and thread, shared memory, barriers, shuffles, votes, atomics), that
// streams and events order work as CUDA does and no more, and that the
// errors hardware does not forgive are reported, naming what went wrong.
// A fault is sticky for the whole process (as on a GPU), so each fault is
// provoked in a death-test child.
#include <gtest/gtest.h>

#include <string.h>

#include <string>
#include <vector>

#include "kernels/cuda/launch.h"

namespace {

std::string err_text(cudaError_t e) { return cudaGetErrorString(e); }

template <class T>
T* device_array(size_t n) {
    T* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
    return p;
}

template <class T>
std::vector<T> download(const T* d, size_t n) {
    std::vector<T> h(n);
    EXPECT_EQ(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
}

// ---------------------------------------------------------------- execution

__global__ void write_global_index(int* out) {
    unsigned bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned threads = blockDim.x * blockDim.y * blockDim.z;
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    atomicAdd(&out[bx * threads + t], (int)(bx * threads + t) + 1);
}

TEST(EmuKernel, EveryBlockAndThreadRunsOnce) {
    dim3 grid(3, 2, 2), block(7, 5, 3);
    size_t n = 12 * 105;
    int* d = device_array<int>(n);
    ASSERT_EQ(cudaMemset(d, 0, n * sizeof(int)), cudaSuccess);
    LAUNCH_KERNEL(write_global_index, grid, block, 0, 0, d);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    std::vector<int> h = download(d, n);
    for (size_t i = 0; i < n; i++) ASSERT_EQ(h[i], (int)i + 1) << "element " << i;
    cudaFree(d);
}

__global__ void block_sum_kernel(const float* x, float* out, int n) {
    __shared__ float partial[32];
    float v = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) v += x[i];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    __syncthreads();
    v = threadIdx.x < blockDim.x / 32 ? partial[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) out[blockIdx.x] = v;
}

// The same reduction with the barrier forgotten: warp 0 reads the partials
// before the later warps have written them (the emulator runs warp 0 ahead).
__global__ void block_sum_missing_barrier(const float* x, float* out, int n) {
    __shared__ float partial[32];
    float v = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) v += x[i];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    v = threadIdx.x < blockDim.x / 32 ? partial[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) out[blockIdx.x] = v;
}

TEST(EmuKernel, SharedMemoryBarrierAndShuffles) {
    const int n = 5000, blocks = 4;
    std::vector<float> h(n);
    for (int i = 0; i < n; i++) h[i] = (float)(i % 7);
    float *x = device_array<float>(n), *out = device_array<float>(blocks);
    cudaMemcpy(x, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    LAUNCH_KERNEL(block_sum_kernel, blocks, 256, 0, 0, (const float*)x, out, n);
    std::vector<float> got = download(out, blocks);
    double total = 0;
    for (float v : got) total += v;
    EXPECT_EQ(total, 14995.0);  // sum of i % 7 for i < 5000: 714 * 21 + 0 + 1
    LAUNCH_KERNEL(block_sum_missing_barrier, 1, 256, 0, 0, (const float*)x, out, n);
    got = download(out, 1);
    EXPECT_NE(got[0], 14995.0f) << "a missing __syncthreads() must not go unnoticed";
    cudaFree(x);
    cudaFree(out);
}

__global__ void shuffle_kinds(int* out, int width) {
    int lane = threadIdx.x & 31, base = threadIdx.x * 5;
    out[base + 0] = __shfl_sync(0xffffffffu, lane * 10, 3, width);
    out[base + 1] = __shfl_up_sync(0xffffffffu, lane * 10, 2, width);
    out[base + 2] = __shfl_down_sync(0xffffffffu, lane * 10, 2, width);
    out[base + 3] = __shfl_xor_sync(0xffffffffu, lane * 10, 5, width);
    out[base + 4] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0) ^ __any_sync(0xffffffffu, lane == 7) ^
                    (__all_sync(0xffffffffu, lane < 40) << 1);
}

// Expected values from the CUDA programming guide's definitions.
int shuffle_expected(int kind, int lane, int width) {
    int base = lane / width * width, src = lane;
    if (kind == 0) src = base + 3 % width;
    if (kind == 1) src = lane - base >= 2 ? lane - 2 : lane;
    if (kind == 2) src = lane - base + 2 < width ? lane + 2 : lane;
    if (kind == 3) src = (lane ^ 5) < base + width ? lane ^ 5 : lane;
    return src * 10;
}

TEST(EmuKernel, ShuffleAndVoteSemantics) {
    int* d = device_array<int>(64 * 5);
    for (int width : {32, 8, 4}) {
        LAUNCH_KERNEL(shuffle_kinds, 1, 64, 0, 0, d, width);
        std::vector<int> h = download(d, 64 * 5);
        unsigned ballot = 0;
        for (int l = 0; l < 32; l++) ballot |= (l % 3 == 0 ? 1u : 0u) << l;
        for (int t = 0; t < 64; t++) {
            for (int k = 0; k < 4; k++)
                ASSERT_EQ(h[t * 5 + k], shuffle_expected(k, t & 31, width))
                    << "kind " << k << " thread " << t << " width " << width;
            EXPECT_EQ(h[t * 5 + 4], (int)(ballot ^ 1u ^ 2u));
        }
    }
    cudaFree(d);
}

__global__ void dynamic_shared_first_value(float* out) {
    CUDA_EMULATOR_DYNAMIC_SHARED(float, buf);
    if (threadIdx.x == 0) out[0] = buf[5];
}

TEST(EmuKernel, DynamicSharedMemoryStartsAsNaN) {
    float* d = device_array<float>(1);
    LAUNCH_KERNEL(dynamic_shared_first_value, 1, 32, 1024, 0, d);
    EXPECT_TRUE(std::isnan(download(d, 1)[0]));
    cudaFree(d);
}

// ---------------------------------------------------------------- launch limits

__global__ void nothing(int* p) { (void)p; }

TEST(EmuLaunch, TheDeviceLimitsAreRefusedWithCudaErrorCodes) {
    LAUNCH_KERNEL(nothing, 1, 2048, 0, 0, nullptr);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
    LAUNCH_KERNEL(nothing, 1, dim3(32, 32, 2), 0, 0, nullptr);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
    LAUNCH_KERNEL(nothing, dim3(1, 70000), 32, 0, 0, nullptr);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
    LAUNCH_KERNEL(nothing, 1, 32, 64 << 10, 0, nullptr);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "launch errors are not sticky";
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// ---------------------------------------------------------------- faults

class EmuFault : public ::testing::Test {
protected:
    static void SetUpTestSuite() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Runs a kernel that faults; the child prints the synchronize error and exits 1.
template <class F>
void expect_fault(F provoke, const char* pattern) {
    EXPECT_EXIT(
        {
            provoke();
            cudaError_t e = cudaDeviceSynchronize();
            fprintf(stderr, "result: %s\n", cudaGetErrorString(e));
            exit(e == cudaSuccess ? 0 : 1);
        },
        ::testing::ExitedWithCode(1), pattern);
}

__global__ void read_past_end(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[0] = x[i];  // off by one
}

TEST_F(EmuFault, OutOfBoundsReadNamesKernelThreadAndAllocation) {
    expect_fault(
        [] {
            float *x = device_array<float>(4096), *o = device_array<float>(1);
            LAUNCH_KERNEL(read_past_end, 17, 256, 0, 0, (const float*)x, o, 4096);
        },
#if defined(__SANITIZE_ADDRESS__)
        // Under AddressSanitizer device memory is plain heap memory: ASan reports.
        "heap-buffer-overflow.*read_past_end");
#else
        "illegal memory access.*read_past_end.*thread.*past the end of the 16384-byte allocation");
#endif
}

__global__ void return_before_barrier(int* p) {
    if (threadIdx.x == 40) return;
    __syncthreads();
    p[threadIdx.x] = 1;
}

TEST_F(EmuFault, BarrierNotReachedByEveryThread) {
    expect_fault([] { LAUNCH_KERNEL(return_before_barrier, 1, 64, 0, 0, device_array<int>(64)); },
                 "return_before_barrier.*__syncthreads.*every thread of the block must reach it");
}

__global__ void shuffle_absent_lane(int* p) {
    p[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1);
}

TEST_F(EmuFault, ShuffleMaskNamingAbsentLanes) {
    expect_fault([] { LAUNCH_KERNEL(shuffle_absent_lane, 1, 48, 0, 0, device_array<int>(48)); },
                 "shuffle_absent_lane.*__shfl_xor_sync.*names lanes 0xffff0000 that do not exist");
}

// Half the warp waits at a barrier, the other half at a shuffle that needs
// the first half: neither can go on.
__global__ void shuffle_mismatched_masks(int* p) {
    int v = (int)threadIdx.x;
    if (threadIdx.x < 16) __syncthreads();
    else v = __shfl_xor_sync(0xffffffffu, v, 1);
    p[threadIdx.x] = v;
}

TEST_F(EmuFault, ShuffleDeadlockIsReported) {
    expect_fault([] { LAUNCH_KERNEL(shuffle_mismatched_masks, 1, 32, 0, 0, device_array<int>(32)); },
                 "deadlock: lanes 0xffff0000 of warp 0 wait at __shfl_xor_sync");
}

TEST_F(EmuFault, HostDereferenceOfDeviceMemory) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "device memory is not protected from the host in AddressSanitizer builds";
#endif
    EXPECT_DEATH(
        {
            float* d = device_array<float>(16);
            volatile float v = d[3];
            (void)v;
        },
        "host code dereferenced device memory");
}

// ---------------------------------------------------------------- streams

__global__ void copy_kernel(float* dst, const float* src, int n) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}

// An upload on a copy stream and a kernel on a compute stream that reads it:
// without the event wait the kernel sees the old contents.
std::vector<float> upload_then_read(bool wait) {
    const int n = 100;
    cudaStream_t copy, compute;
    cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking);
    cudaEvent_t ready;
    cudaEventCreateWithFlags(&ready, cudaEventDisableTiming);
    float *pinned, *src = device_array<float>(n), *dst = device_array<float>(n);
    cudaHostAlloc(&pinned, n * sizeof(float), 0);
    for (int i = 0; i < n; i++) pinned[i] = (float)i;
    cudaMemsetAsync(src, 0, n * sizeof(float), compute);
    cudaMemcpyAsync(src, pinned, n * sizeof(float), cudaMemcpyHostToDevice, copy);
    cudaEventRecord(ready, copy);
    if (wait) cudaStreamWaitEvent(compute, ready, 0);
    LAUNCH_KERNEL(copy_kernel, 1, 64, 0, compute, dst, (const float*)src, n);
    cudaStreamSynchronize(compute);
    std::vector<float> h(n);
    cudaMemcpyAsync(h.data(), dst, n * sizeof(float), cudaMemcpyDeviceToHost, compute);
    cudaDeviceSynchronize();
    cudaFreeHost(pinned);
    cudaFree(src);
    cudaFree(dst);
    cudaEventDestroy(ready);
    cudaStreamDestroy(copy);
    cudaStreamDestroy(compute);
    return h;
}

TEST(EmuStreams, AMissingEventWaitReadsStaleData) {
    std::vector<float> with_wait = upload_then_read(true), without = upload_then_read(false);
    EXPECT_EQ(with_wait[42], 42.0f);
    EXPECT_EQ(without[42], 0.0f) << "the copy must not run before the compute stream needs it";
}

TEST(EmuStreams, PageableAsyncUploadIsStagedAtTheCall) {
    float* d = device_array<float>(4);
    float host[4] = {1, 2, 3, 4};
    cudaStream_t s;
    cudaStreamCreate(&s);
    cudaMemcpyAsync(d, host, sizeof host, cudaMemcpyHostToDevice, s);
    host[0] = 99;  // pageable: the runtime has already staged the old value
    cudaStreamSynchronize(s);
    EXPECT_EQ(download(d, 4)[0], 1.0f);
    cudaStreamDestroy(s);
    cudaFree(d);
}

TEST(EmuStreams, EventsTimeAndReportNotReady) {
    cudaEvent_t a, b, untimed;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming);
    float* d = device_array<float>(1000);
    cudaEventRecord(a, 0);
    LAUNCH_KERNEL(copy_kernel, 1, 64, 0, 0, d, (const float*)d + 500, 500);
    cudaEventRecord(b, 0);
    float ms = -1;
    EXPECT_EQ(cudaEventElapsedTime(&ms, a, b), cudaErrorNotReady) << "work not run yet";
    ASSERT_EQ(cudaEventSynchronize(b), cudaSuccess);
    ASSERT_EQ(cudaEventElapsedTime(&ms, a, b), cudaSuccess);
    EXPECT_GT(ms, 0.0f);
    cudaEventRecord(untimed, 0);
    cudaEventSynchronize(untimed);
    EXPECT_EQ(cudaEventElapsedTime(&ms, a, untimed), cudaErrorInvalidResourceHandle);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaEventDestroy(untimed);
    cudaFree(d);
}

TEST(EmuMemory, CopiesAreCheckedAgainstAllocationsAndKinds) {
    float* d = device_array<float>(10);
    float host[20] = {};
    EXPECT_EQ(cudaMemcpy(d, host, 20 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    EXPECT_NE(err_text(cudaErrorInvalidValue).find("past the end"), std::string::npos)
        << err_text(cudaErrorInvalidValue);
    EXPECT_EQ(cudaMemcpy(host, d, 4, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    EXPECT_EQ(cudaMemcpy(d, d + 2, 5 * sizeof(float), cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
    EXPECT_EQ(cudaMemset(d, 0, 11 * sizeof(float)), cudaErrorInvalidValue);
    EXPECT_EQ(cudaFree(d + 1), cudaErrorInvalidValue);
    void* huge = nullptr;
    EXPECT_EQ(cudaMalloc(&huge, (size_t)1 << 60), cudaErrorMemoryAllocation);
    EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
    EXPECT_EQ(cudaFree(d), cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess) << "none of these is sticky";
}

__global__ void count_atomically(int* counter) { atomicAdd(counter, 1); }

TEST(EmuKernel, AtomicsAcrossParallelBlocks) {
    int* c = device_array<int>(1);
    cudaMemset(c, 0, sizeof(int));
    LAUNCH_KERNEL(count_atomically, 300, 128, 0, 0, c);
    EXPECT_EQ(download(c, 1)[0], 300 * 128);
    cudaFree(c);
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    const ::testing::UnitTest* u = ::testing::UnitTest::GetInstance();
    printf("%d passed, %d failed\n", u->successful_test_count(), u->failed_test_count());
    return rc;
}
