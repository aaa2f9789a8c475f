/*
Kernels for the label-smoothed softmax cross-entropy (mean over the batch) and
its gradient dlogits = (softmax - q) / batch, q = (1-s)*onehot + s/classes.
Per row: max m, log_sum = log(sum exp(x - m)) (double sum), sum of (m - x)
(double), then loss = (1-s)(m - x_label) + s/classes * sum(m - x) + log_sum,
as kernels/shared/loss_body.h. Row losses are averaged by one block in a
fixed order, so every version is deterministic. Validated against a CPU
reference, then benchmarked.

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/loss.cu -o loss

Run: ./loss [batch] [classes]

version 1: one thread per row, sequential over the classes (few threads)
version 2: one block of 256 threads per row, warp shuffles then shared memory
    (what kernels/cuda/loss.cu runs; best for 1000 classes)
version 3: one warp per row, shuffles only (no shared memory, no
    __syncthreads; best for few classes such as Fashion-MNIST's 10)
*/
#include "common.h"

struct Problem {
    const float* logits;
    const int* labels;
    int batch, classes;
    float smoothing;
};

__host__ __device__ inline float row_loss_from(float max, float log_sum, float x_label,
                                               double sum_gap, int classes, float smoothing) {
    double s = smoothing;
    return (float)((1.0 - s) * ((double)max - (double)x_label) + s * sum_gap / classes +
                   (double)log_sum);
}

__host__ __device__ inline float grad_from(float x, float max, float log_sum, int is_label,
                                           int classes, float smoothing, float inv_batch) {
    float q = smoothing / (float)classes + (is_label ? 1.0f - smoothing : 0.0f);
    return (expf((x - max) - log_sum) - q) * inv_batch;
}

// The whole row, sequentially (CPU reference and version 1).
__host__ __device__ inline float row_sequential(const Problem& p, int b, float* drow) {
    const float* row = p.logits + (size_t)b * p.classes;
    float max = row[0];
    for (int k = 1; k < p.classes; k++) max = row[k] > max ? row[k] : max;
    double sum_exp = 0.0, sum_gap = 0.0;
    for (int k = 0; k < p.classes; k++) {
        sum_exp += (double)expf(row[k] - max);
        sum_gap += (double)max - (double)row[k];
    }
    float log_sum = (float)log(sum_exp);
    for (int k = 0; k < p.classes; k++)
        drow[k] = grad_from(row[k], max, log_sum, k == p.labels[b], p.classes, p.smoothing,
                            1.0f / (float)p.batch);
    return row_loss_from(max, log_sum, row[p.labels[b]], sum_gap, p.classes, p.smoothing);
}

static float loss_cpu(const Problem& p, float* dlogits) {
    double sum = 0.0;
    for (int b = 0; b < p.batch; b++) sum += row_sequential(p, b, dlogits + (size_t)b * p.classes);
    return (float)(sum / p.batch);
}

// ---------------------------------------------------------------- reductions

__device__ inline double warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}
__device__ inline float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}
__device__ inline double block_sum(double v, double* shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    return warp_sum(lane < (int)(blockDim.x >> 5) ? shared[lane] : 0.0);
}
__device__ inline float block_max(float v, float* shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    return warp_max(lane < (int)(blockDim.x >> 5) ? shared[lane] : -INFINITY);
}

// The batch mean of the row losses: one block, fixed order.
__global__ void mean_kernel(float* loss, const float* row_loss, int batch) {
    __shared__ double shared[32];
    double s = 0.0;
    for (int b = threadIdx.x; b < batch; b += blockDim.x) s += (double)row_loss[b];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) *loss = (float)(s / batch);
}

static float* g_row_loss;  // [batch], allocated once in main

// ---------------------------------------------------------------- versions

__global__ void rows_kernel1(Problem p, float* row_loss, float* dlogits) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b < p.batch) row_loss[b] = row_sequential(p, b, dlogits + (size_t)b * p.classes);
}

__global__ void rows_kernel2(Problem p, float* row_loss, float* dlogits) {
    __shared__ double shared_d[32];
    __shared__ float shared_f[32];
    int b = blockIdx.x;
    const float* row = p.logits + (size_t)b * p.classes;
    float max = -INFINITY;
    for (int k = threadIdx.x; k < p.classes; k += blockDim.x) max = fmaxf(max, row[k]);
    max = block_max(max, shared_f);
    double sum_exp = 0.0, sum_gap = 0.0;
    for (int k = threadIdx.x; k < p.classes; k += blockDim.x) {
        sum_exp += (double)expf(row[k] - max);
        sum_gap += (double)max - (double)row[k];
    }
    float log_sum = (float)log(block_sum(sum_exp, shared_d));
    sum_gap = block_sum(sum_gap, shared_d);
    int label = p.labels[b];
    for (int k = threadIdx.x; k < p.classes; k += blockDim.x)
        dlogits[(size_t)b * p.classes + k] = grad_from(row[k], max, log_sum, k == label, p.classes,
                                                       p.smoothing, 1.0f / (float)p.batch);
    if (threadIdx.x == 0)
        row_loss[b] = row_loss_from(max, log_sum, row[label], sum_gap, p.classes, p.smoothing);
}

__global__ void rows_kernel3(Problem p, float* row_loss, float* dlogits) {
    int b = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (b >= p.batch) return;  // whole warps leave together
    const float* row = p.logits + (size_t)b * p.classes;
    float max = -INFINITY;
    for (int k = lane; k < p.classes; k += 32) max = fmaxf(max, row[k]);
    max = warp_max(max);
    double sum_exp = 0.0, sum_gap = 0.0;
    for (int k = lane; k < p.classes; k += 32) {
        sum_exp += (double)expf(row[k] - max);
        sum_gap += (double)max - (double)row[k];
    }
    float log_sum = (float)log(warp_sum(sum_exp));
    sum_gap = warp_sum(sum_gap);
    int label = p.labels[b];
    for (int k = lane; k < p.classes; k += 32)
        dlogits[(size_t)b * p.classes + k] = grad_from(row[k], max, log_sum, k == label, p.classes,
                                                       p.smoothing, 1.0f / (float)p.batch);
    if (lane == 0)
        row_loss[b] = row_loss_from(max, log_sum, row[label], sum_gap, p.classes, p.smoothing);
}

static void loss1(Problem p, float* loss, float* dlogits) {
    LAUNCH_KERNEL(rows_kernel1, ceil_div(p.batch, 64), 64, 0, 0, p, g_row_loss, dlogits);
    cudaCheck(cudaGetLastError());
    LAUNCH_KERNEL(mean_kernel, 1, 256, 0, 0, loss, g_row_loss, p.batch);
    cudaCheck(cudaGetLastError());
}

static void loss2(Problem p, float* loss, float* dlogits) {
    LAUNCH_KERNEL(rows_kernel2, p.batch, 256, 0, 0, p, g_row_loss, dlogits);
    cudaCheck(cudaGetLastError());
    LAUNCH_KERNEL(mean_kernel, 1, 256, 0, 0, loss, g_row_loss, p.batch);
    cudaCheck(cudaGetLastError());
}

static void loss3(Problem p, float* loss, float* dlogits) {
    LAUNCH_KERNEL(rows_kernel3, ceil_div(p.batch, 8), 256, 0, 0, p, g_row_loss, dlogits);
    cudaCheck(cudaGetLastError());
    LAUNCH_KERNEL(mean_kernel, 1, 256, 0, 0, loss, g_row_loss, p.batch);
    cudaCheck(cudaGetLastError());
}

// ---------------------------------------------------------------- main

int main(int argc, char** argv) {
    require_device("loss");
    int batch = argc > 1 ? atoi(argv[1]) : 256;
    int classes = argc > 2 ? atoi(argv[2]) : 1000;
    float smoothing = 0.1f;
    printf("cross-entropy: batch %d, classes %d, smoothing %.2f\n", batch, classes, smoothing);
    size_t n = (size_t)batch * classes;
    float* logits = make_random_floats(n, 1, -10.0f, 10.0f);
    int* labels = (int*)malloc(batch * sizeof(int));
    for (int b = 0; b < batch; b++) labels[b] = (b * 7 + 3) % classes;
    float* dlogits_ref = (float*)malloc(n * sizeof(float));
    Problem host = {logits, labels, batch, classes, smoothing};
    float loss_ref = loss_cpu(host, dlogits_ref);

    float *d_logits = to_device(logits, n), *d_dlogits, *d_loss;
    int* d_labels;
    cudaCheck(cudaMalloc(&d_labels, batch * sizeof(int)));
    cudaCheck(cudaMemcpy(d_labels, labels, batch * sizeof(int), cudaMemcpyHostToDevice));
    cudaCheck(cudaMalloc(&d_dlogits, n * sizeof(float)));
    cudaCheck(cudaMalloc(&d_loss, sizeof(float)));
    cudaCheck(cudaMalloc(&g_row_loss, batch * sizeof(float)));
    Problem dev = {d_logits, d_labels, batch, classes, smoothing};

    typedef void (*LossFn)(Problem, float*, float*);
    LossFn versions[] = {loss1, loss2, loss3};
    const char* names[] = {"v1", "v2", "v3"};
    // The loss: double sums in a different order, one float rounding of a
    // few operations; the gradient: CUDA's expf within 2 ulp of the host's.
    for (int v = 0; v < 3; v++) {
        char label[32];
        versions[v](dev, d_loss, d_dlogits);
        snprintf(label, sizeof label, "loss %s", names[v]);
        validate_result(d_loss, &loss_ref, label, 1, 1e-6f, 1e-5f);
        snprintf(label, sizeof label, "dlogits %s", names[v]);
        validate_result(d_dlogits, dlogits_ref, label, n, 1e-7f, 1e-5f);
    }
    printf("all results match\n\n");

    double bytes = (double)n * sizeof(float) * 2;
    for (int v = 0; v < 3; v++) {
        float ms = benchmark_kernel(50, versions[v], dev, d_loss, d_dlogits);
        printf("%s  %8.4f ms  %7.1f GB/s\n", names[v], ms, bytes / ms / 1e6);
    }

    cudaCheck(cudaFree(d_logits));
    cudaCheck(cudaFree(d_labels));
    cudaCheck(cudaFree(d_dlogits));
    cudaCheck(cudaFree(d_loss));
    cudaCheck(cudaFree(g_row_loss));
    free(logits);
    free(labels);
    free(dlogits_ref);
    return 0;
}
