/*
Kernels for the fused SGD update with momentum, Nesterov and per-tensor
weight decay (torch.optim.SGD, dampening 0), through
kernels/shared/sgd_body.h, the body the CPU backend runs per element:
  d = g + wd * p (skipped when wd == 0); buf = momentum * buf + d;
  d = nesterov ? d + momentum * buf : buf; p -= lr * d
momentum == 0 leaves buf untouched (it may be NULL). wd is the config's for
conv and linear weights, 0 for BatchNorm and bias tensors. Each training step
updates only the sampled path's tensors, one call per tensor: ~160 tensors
of a few to 1.3M floats, laid back to back in one arena (supernet/block.c), so
a tensor after one of odd size is not 16-byte aligned. Validated against a
CPU reference, then benchmarked on a whole path.

Compile (the Makefile's `make dev-cuda` does this for sm_80 and sm_90):
nvcc -O3 -std=c++17 -I. -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 dev/cuda/sgd.cu -o sgd

Run: ./sgd [width_percent]

version 1: one thread per parameter (a grid-stride loop beyond 32 blocks per
    SM), one launch per tensor (what kernels/cuda/sgd.cu runs)
version 2: float4 loads and stores in a grid-stride loop, a scalar tail for
    n % 4; one launch per tensor; 16-byte aligned tensors only, else
    version 1
version 3: multi-tensor apply: one launch updates up to 64 tensors, described
    by a table of (param, buf, grad, count, decay) passed as the kernel's
    argument (under the 4 KB argument limit); each block takes a 2048-element
    chunk of one tensor, float4 when the tensor is aligned. Best for a path
    of many small tensors, where version 1's time is mostly launches
*/
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "kernels/ops.h"  // SgdConfig
#include "kernels/shared/sgd_body.h"

// One parameter tensor, device pointers.
struct Tensor {
    float* param;
    float* buf;  // momentum buffer; NULL when momentum == 0
    const float* grad;
    size_t n;
    float weight_decay;  // the config's, or 0
};

// ---------------------------------------------------------------- the path

enum { kMaxTensors = 256 };

struct Path {
    int count;
    size_t numel[kMaxTensors], offset[kMaxTensors], total;
    int decay[kMaxTensors];  // weight decay applies (conv and linear weights)
};

static void add_tensor(Path* p, size_t numel, int decay) {
    p->numel[p->count] = numel;
    p->offset[p->count] = p->total;
    p->decay[p->count++] = decay;
    p->total += numel;
}

static void add_conv_bn(Path* p, size_t weights, int channels) {
    add_tensor(p, weights, 1);
    add_tensor(p, channels, 0);  // gamma
    add_tensor(p, channels, 0);  // beta
}

// One path of a MobileNetV2-like supernet (expand 6, k 3 or 5) at
// width_percent, then tensors of 1537 (tests/gpu_parity.cc's), 1 and 7.
static Path make_path(int width_percent) {
    static const int widths[17] = {16, 24, 24, 32, 32, 32, 64, 64, 64,
                                   64, 96, 96, 96, 160, 160, 160, 320};
    Path p;
    memset(&p, 0, sizeof p);
    int cin = 32 * width_percent / 100;
    add_conv_bn(&p, 3 * 3 * 3 * (size_t)cin, cin);  // stem
    for (int i = 0; i < 17; i++) {
        int cout = widths[i] * width_percent / 100, e = 6 * cin, k = i % 2 ? 5 : 3;
        add_conv_bn(&p, (size_t)cin * e, e);      // 1x1 expand
        add_conv_bn(&p, (size_t)k * k * e, e);    // depthwise
        add_conv_bn(&p, (size_t)e * cout, cout);  // 1x1 project
        cin = cout;
    }
    add_conv_bn(&p, (size_t)cin * 1280, 1280);  // head
    add_tensor(&p, 1280 * 1000, 1);             // classifier weight
    add_tensor(&p, 1000, 0);                    // and bias
    add_tensor(&p, 1537, 1);
    add_tensor(&p, 1, 0);
    add_tensor(&p, 7, 1);
    return p;
}

static void tensors_of(const Path& p, float* param, float* buf, const float* grad,
                       SgdConfig cfg, Tensor* out) {
    for (int k = 0; k < p.count; k++) {
        size_t o = p.offset[k];
        out[k] = {param + o, buf ? buf + o : NULL, grad + o, p.numel[k],
                  p.decay[k] ? cfg.weight_decay : 0.0f};
    }
}

// ---------------------------------------------------------------- CPU reference

// As kernels/cpu/sgd.c, tensor by tensor.
static void sgd_cpu(const Path& p, float* param, float* buf, const float* grad, SgdConfig cfg) {
    for (int k = 0; k < p.count; k++) {
        float wd = p.decay[k] ? cfg.weight_decay : 0.0f;
        for (size_t i = p.offset[k]; i < p.offset[k] + p.numel[k]; i++)
            sgd_update_element(&param[i], buf ? &buf[i] : NULL, grad[i], cfg.lr, cfg.momentum, wd,
                               cfg.nesterov);
    }
}

// ---------------------------------------------------------------- versions 1 and 2

__global__ void sgd_kernel1(float* param, float* momentum_buf, const float* grad, size_t n,
                            float lr, float momentum, float weight_decay, int nesterov) {
    GRID_STRIDE_LOOP(i, n) {
        float* buf = momentum_buf ? momentum_buf + i : NULL;
        sgd_update_element(param + i, buf, grad[i], lr, momentum, weight_decay, nesterov);
    }
}

// Elements i .. i+3 (16-byte aligned), the same body per element.
__device__ inline void update4(float* param, float* buf, const float* grad, size_t i, float lr,
                               float momentum, float wd, int nesterov) {
    float4 p = *(float4*)(param + i), g = *(const float4*)(grad + i);
    float4 b = buf ? *(float4*)(buf + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    sgd_update_element(&p.x, buf ? &b.x : NULL, g.x, lr, momentum, wd, nesterov);
    sgd_update_element(&p.y, buf ? &b.y : NULL, g.y, lr, momentum, wd, nesterov);
    sgd_update_element(&p.z, buf ? &b.z : NULL, g.z, lr, momentum, wd, nesterov);
    sgd_update_element(&p.w, buf ? &b.w : NULL, g.w, lr, momentum, wd, nesterov);
    *(float4*)(param + i) = p;
    if (buf) *(float4*)(buf + i) = b;
}

__global__ void sgd_kernel2(float* param, float* buf, const float* grad, size_t n, float lr,
                            float momentum, float wd, int nesterov) {
    GRID_STRIDE_LOOP(q, n / 4) update4(param, buf, grad, 4 * q, lr, momentum, wd, nesterov);
    size_t t = n / 4 * 4 + (size_t)blockIdx.x * blockDim.x + threadIdx.x;  // the n % 4 tail
    if (t < n)
        sgd_update_element(param + t, buf ? buf + t : NULL, grad[t], lr, momentum, wd, nesterov);
}

__host__ __device__ inline bool aligned16(const Tensor& t) {
    return (((uintptr_t)t.param | (uintptr_t)t.buf | (uintptr_t)t.grad) & 15) == 0;
}

static void sgd1(const Tensor* tensors, int count, SgdConfig cfg) {
    for (int k = 0; k < count; k++) {
        const Tensor& t = tensors[k];
        if (t.n == 0) continue;
        LAUNCH_KERNEL(sgd_kernel1, grid_stride_blocks(t.n, 256), 256, 0, 0, t.param, t.buf, t.grad,
                      t.n, cfg.lr, cfg.momentum, t.weight_decay, cfg.nesterov);
        cudaCheck(cudaGetLastError());
    }
}

static void sgd2(const Tensor* tensors, int count, SgdConfig cfg) {
    for (int k = 0; k < count; k++) {
        const Tensor& t = tensors[k];
        if (t.n == 0) continue;
        if (!aligned16(t)) {
            sgd1(&t, 1, cfg);
            continue;
        }
        LAUNCH_KERNEL(sgd_kernel2, grid_stride_blocks(t.n / 4, 256), 256, 0, 0, t.param, t.buf,
                      t.grad, t.n, cfg.lr, cfg.momentum, t.weight_decay, cfg.nesterov);
        cudaCheck(cudaGetLastError());
    }
}

// ---------------------------------------------------------------- version 3

enum { kTableTensors = 64, kChunk = 2048 };  // kChunk % 4 == 0: chunks keep alignment

struct TensorTable {
    Tensor t[kTableTensors];
    int first_block[kTableTensors + 1];  // tensor k: blocks [first_block[k], first_block[k+1])
};

__global__ void sgd_kernel3(const __grid_constant__ TensorTable table, float lr, float momentum,
                            int nesterov) {
    int k = 0;
    while ((int)blockIdx.x >= table.first_block[k + 1]) k++;  // the same k for the whole block
    const Tensor& t = table.t[k];
    size_t begin = (size_t)(blockIdx.x - table.first_block[k]) * kChunk;
    size_t end = t.n - begin < (size_t)kChunk ? t.n : begin + kChunk;
    size_t vec_end = aligned16(t) ? begin + (end - begin) / 4 * 4 : begin;
    for (size_t i = begin + 4 * threadIdx.x; i < vec_end; i += 4 * blockDim.x)
        update4(t.param, t.buf, t.grad, i, lr, momentum, t.weight_decay, nesterov);
    for (size_t i = vec_end + threadIdx.x; i < end; i += blockDim.x)
        sgd_update_element(t.param + i, t.buf ? t.buf + i : NULL, t.grad[i], lr, momentum,
                           t.weight_decay, nesterov);
}

static void sgd3(const Tensor* tensors, int count, SgdConfig cfg) {
    for (int k0 = 0; k0 < count; k0 += kTableTensors) {
        TensorTable table;
        memset(&table, 0, sizeof table);
        int m = count - k0 < kTableTensors ? count - k0 : kTableTensors, blocks = 0;
        for (int k = 0; k < m; k++) {
            table.t[k] = tensors[k0 + k];
            table.first_block[k] = blocks;
            blocks += ceil_div((long)table.t[k].n, kChunk);
        }
        for (int k = m; k <= kTableTensors; k++) table.first_block[k] = blocks;
        if (blocks == 0) continue;
        LAUNCH_KERNEL(sgd_kernel3, blocks, 256, 0, 0, table, cfg.lr, cfg.momentum, cfg.nesterov);
        cudaCheck(cudaGetLastError());
    }
}

// ---------------------------------------------------------------- main

typedef void (*SgdFn)(const Tensor*, int, SgdConfig);
static const SgdFn kVersions[] = {sgd1, sgd2, sgd3};

// Two steps from the same start, three configs (the last without momentum,
// its buffer NULL). Tolerances: the CPU reference is the same body and the
// update a fixed formula per element, yet not bit-identical to the device:
// nvcc contracts d + wd*p, momentum*buf + d and p - lr*d into FMAs (one
// rounding) where the host compiler rounds twice, so version 1 (production)
// meets the CPU within 1e-6 absolute + 1e-6 relative (kElement in
// tests/gpu_parity.cc). Versions 2 and 3 run the same body through the same
// compiler: bit-identical to version 1, tolerance 0.
static void validate(int width_percent) {
    Path p = make_path(width_percent);
    size_t bytes = p.total * sizeof(float);
    printf("width %d%%: %d tensors, %zu parameters\n", width_percent, p.count, p.total);
    float* p0 = make_random_floats(p.total, 1, -1.0f, 1.0f);
    float* grads[2] = {make_random_floats(p.total, 2, -1.0f, 1.0f),
                       make_random_floats(p.total, 3, -1.0f, 1.0f)};
    float *ref_p = (float*)malloc(bytes), *ref_b = (float*)malloc(bytes);
    float *v1_p = (float*)malloc(bytes), *v1_b = (float*)malloc(bytes);
    float* d_grads[2] = {to_device(grads[0], p.total), to_device(grads[1], p.total)};
    float *d_param, *d_buf;
    cudaCheck(cudaMalloc(&d_param, bytes));
    cudaCheck(cudaMalloc(&d_buf, bytes));
    Tensor list[kMaxTensors];
    SgdConfig configs[] = {
        {0.1f, 0.9f, 4e-5f, 1}, {0.05f, 0.9f, 1e-4f, 0}, {0.02f, 0.0f, 1e-4f, 0}};
    const char* names[] = {"nesterov", "momentum", "plain"};
    for (int c = 0; c < 3; c++) {
        SgdConfig cfg = configs[c];
        bool use_buf = cfg.momentum != 0.0f;
        memcpy(ref_p, p0, bytes);
        memset(ref_b, 0, bytes);
        for (int step = 0; step < 2; step++)
            sgd_cpu(p, ref_p, use_buf ? ref_b : NULL, grads[step], cfg);
        for (int v = 0; v < 3; v++) {
            char label[64];
            cudaCheck(cudaMemcpy(d_param, p0, bytes, cudaMemcpyHostToDevice));
            cudaCheck(cudaMemset(d_buf, 0, bytes));
            for (int step = 0; step < 2; step++) {
                tensors_of(p, d_param, use_buf ? d_buf : NULL, d_grads[step], cfg, list);
                kVersions[v](list, p.count, cfg);
            }
            float tol = v == 0 ? 1e-6f : 0.0f;
            snprintf(label, sizeof label, "%s param v%d", names[c], v + 1);
            validate_result(d_param, v == 0 ? ref_p : v1_p, label, p.total, tol, tol);
            if (use_buf) {
                snprintf(label, sizeof label, "%s momentum v%d", names[c], v + 1);
                validate_result(d_buf, v == 0 ? ref_b : v1_b, label, p.total, tol, tol);
            }
            if (v == 0) {
                cudaCheck(cudaMemcpy(v1_p, d_param, bytes, cudaMemcpyDeviceToHost));
                cudaCheck(cudaMemcpy(v1_b, d_buf, bytes, cudaMemcpyDeviceToHost));
            }
        }
    }
    float* host[] = {p0, grads[0], grads[1], ref_p, ref_b, v1_p, v1_b};
    for (int k = 0; k < 7; k++) free(host[k]);
    float* dev[] = {d_param, d_buf, d_grads[0], d_grads[1]};
    for (int k = 0; k < 4; k++) cudaCheck(cudaFree(dev[k]));
}

int main(int argc, char** argv) {
    require_device("sgd");
    int width_percent = argc > 1 ? atoi(argv[1]) : 100;
    validate(75);  // BatchNorm of 18 channels: later tensors unaligned
    validate(width_percent);
    printf("all results match\n\n");

    // One nesterov step over the whole path; 5 floats moved per parameter
    // (param, buf and grad read; param and buf written).
    Path p = make_path(width_percent);
    float* init = make_random_floats(p.total, 1, -1.0f, 1.0f);
    float *d_param = to_device(init, p.total), *d_buf, *d_grad = to_device(init, p.total);
    cudaCheck(cudaMalloc(&d_buf, p.total * sizeof(float)));
    cudaCheck(cudaMemset(d_buf, 0, p.total * sizeof(float)));
    SgdConfig cfg = {0.1f, 0.9f, 4e-5f, 1};
    Tensor list[kMaxTensors];
    tensors_of(p, d_param, d_buf, d_grad, cfg, list);
    double mb = 5.0 * p.total * sizeof(float) / 1e6;
    for (int v = 0; v < 3; v++) {
        float ms = benchmark_kernel(50, kVersions[v], (const Tensor*)list, p.count, cfg);
        printf("v%d  %8.4f ms  %7.1f GB/s\n", v + 1, ms, mb / ms);
    }
    cudaCheck(cudaFree(d_param));
    cudaCheck(cudaFree(d_buf));
    cudaCheck(cudaFree(d_grad));
    free(init);
    return 0;
}
