// Dense conv2d (weight OHWI, NHWC) on the GPU: cuDNN with NHWC tensor
// descriptors and an NHWC filter descriptor (OHWI is cuDNN's CUDNN_TENSOR_NHWC
// filter layout [K][R][S][C]), and direct kernels for whatever cuDNN refuses.
//
// cuDNN setup allocates host memory, so it happens once per shape: a plan
// (descriptors and the chosen algorithms) is cached per ConvShape. Algorithms
// come from the cudnnGet*_v7 heuristics (no benchmarking runs), restricted to
// deterministic ones that fit the state's workspace, with FMA math only (no
// TF32), so results are reproducible and track the fp32 CPU backend.
//
// Any cuDNN failure for a shape and direction (forward, data gradient, filter
// gradient) switches that direction to the direct kernels for good, with one
// note on stderr; it is not a backend error. The direct kernels use the
// im2col index maps the CPU runs (kernels/shared/conv_body.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/shared/conv_body.h"

#define CONV_PLAN_SLOTS 64

enum { CONV_FWD = 0, CONV_BWD_DATA = 1, CONV_BWD_FILTER = 2, CONV_DIRECTIONS = 3 };
static const char* const kDirectionName[CONV_DIRECTIONS] = {"forward", "data gradient",
                                                            "filter gradient"};

typedef struct ConvPlan {
    int used;
    ConvShape shape;
    cudnnTensorDescriptor_t x_desc, y_desc;
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv_desc;
    int cudnn_ok[CONV_DIRECTIONS];  // 0: run the direct kernels
    cudnnConvolutionFwdAlgo_t fwd_algo;
    cudnnConvolutionBwdDataAlgo_t bwd_data_algo;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo;
} ConvPlan;

struct ConvPlanCache {
    ConvPlan plans[CONV_PLAN_SLOTS];
    int next;  // round-robin eviction
};

// ---- direct kernels ----

// out[row][oc] = bias[oc] + sum over taps and input channels; one thread per
// output element, oc innermost.
__global__ void conv2d_direct_forward_kernel(ConvShape s, int out_h, int out_w, float* out,
                                             const float* in, const float* weight,
                                             const float* bias, size_t n) {
    int k = s.kernel;
    size_t taps_c = (size_t)k * k * s.in_c;
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t row = i / (size_t)s.out_c;
        int oc = (int)(i - row * (size_t)s.out_c);
        const float* w = weight + (size_t)oc * taps_c;
        float acc = 0.0f;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                long pixel = conv_im2col_pixel(&s, out_h, out_w, (long)row, ky, kx);
                if (pixel < 0) continue;
                const float* x = in + pixel;
                const float* wt = w + (size_t)(ky * k + kx) * s.in_c;
                for (int ci = 0; ci < s.in_c; ci++) acc = fmaf(x[ci], wt[ci], acc);
            }
        out[i] = bias ? acc + bias[oc] : acc;
    }
}

// din[n][iy][ix][ci] gathered from the output pixels that read it; one thread
// per input element, ci innermost.
__global__ void conv2d_direct_input_grad_kernel(ConvShape s, int out_h, int out_w, float* din,
                                                const float* dout, const float* weight,
                                                size_t n) {
    int k = s.kernel;
    size_t taps_c = (size_t)k * k * s.in_c;
    CUDA_GRID_STRIDE_LOOP(i, n) {
        size_t pixel = i / (size_t)s.in_c;
        int ci = (int)(i - pixel * (size_t)s.in_c);
        int ix = (int)(pixel % (size_t)s.in_w);
        size_t rest = pixel / (size_t)s.in_w;
        int iy = (int)(rest % (size_t)s.in_h);
        int b = (int)(rest / (size_t)s.in_h);
        float acc = 0.0f;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                long row = conv_col2im_row(&s, out_h, out_w, b, iy, ix, ky, kx);
                if (row < 0) continue;
                const float* g = dout + (size_t)row * s.out_c;
                const float* w = weight + (size_t)(ky * k + kx) * s.in_c + ci;
                for (int oc = 0; oc < s.out_c; oc++) acc = fmaf(g[oc], w[(size_t)oc * taps_c], acc);
            }
        din[i] = acc;
    }
}

// dweight[oc][col] as a column reduction over output pixels: column
// oc * (k*k*in_c) + col, term dout[row][oc] * im2col[row][col].
struct ConvWeightGradTerm {
    ConvShape s;
    int out_h, out_w;
    const float *dout, *in;
    __device__ double2 operator()(int row, int j) const {
        int taps_c = s.kernel * s.kernel * s.in_c;
        int oc = j / taps_c, col = j - oc * taps_c;
        ConvShape shape = s;
        float x = conv_im2col_element(&shape, out_h, out_w, in, row, col);
        return make_double2((double)dout[(size_t)row * s.out_c + oc] * (double)x, 0.0);
    }
};

struct ConvWeightGradFinish {  // dweight accumulates
    float* dweight;
    __device__ void operator()(int j, double2 sum) const { dweight[j] += (float)sum.x; }
};

static void conv2d_direct_forward(CudaState* st, const ConvShape* s, float* out, const float* in,
                                  const float* weight, const float* bias) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    size_t n = (size_t)s->batch * out_h * out_w * s->out_c;
    LAUNCH_KERNEL(conv2d_direct_forward_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute, *s,
                  out_h, out_w, out, in, weight, bias, n);
    CUDA_CHECK_LAUNCH(st, "conv2d_direct_forward_kernel");
}

static void conv2d_direct_input_grad(CudaState* st, const ConvShape* s, float* din,
                                     const float* dout, const float* weight) {
    size_t n = (size_t)s->batch * s->in_h * s->in_w * s->in_c;
    LAUNCH_KERNEL(conv2d_direct_input_grad_kernel, cuda_grid_for(st, n, 256), 256, 0, st->compute,
                  *s, conv_out_h(s), conv_out_w(s), din, dout, weight, n);
    CUDA_CHECK_LAUNCH(st, "conv2d_direct_input_grad_kernel");
}

static void conv2d_direct_weight_grad(CudaState* st, const ConvShape* s, float* dweight,
                                      const float* dout, const float* in) {
    int out_h = conv_out_h(s), out_w = conv_out_w(s);
    int rows = s->batch * out_h * out_w;
    int cols = s->out_c * s->kernel * s->kernel * s->in_c;
    column_sums(st, ConvWeightGradTerm{*s, out_h, out_w, dout, in}, ConvWeightGradFinish{dweight},
                rows, cols);
}

// ---- cuDNN plans ----

static void conv_plan_release(ConvPlan* p) {
    if (p->x_desc) cudnnDestroyTensorDescriptor(p->x_desc);
    if (p->y_desc) cudnnDestroyTensorDescriptor(p->y_desc);
    if (p->w_desc) cudnnDestroyFilterDescriptor(p->w_desc);
    if (p->conv_desc) cudnnDestroyConvolutionDescriptor(p->conv_desc);
    memset(p, 0, sizeof *p);
}

void conv2d_plans_destroy(CudaState* st) {
    if (!st->conv_plans) return;
    for (int i = 0; i < CONV_PLAN_SLOTS; i++)
        if (st->conv_plans->plans[i].used) conv_plan_release(&st->conv_plans->plans[i]);
    free(st->conv_plans);
    st->conv_plans = NULL;
}

static int conv_shape_equal(const ConvShape* a, const ConvShape* b) {
    return a->batch == b->batch && a->in_h == b->in_h && a->in_w == b->in_w &&
           a->in_c == b->in_c && a->out_c == b->out_c && a->kernel == b->kernel &&
           a->stride == b->stride && a->pad == b->pad;
}

static void conv_note_fallback(const ConvShape* s, int direction, const char* call,
                               cudnnStatus_t e) {
    fprintf(stderr,
            "hwnas: note: cuDNN conv2d %s (batch %d, %dx%dx%d -> %d, k %d, stride %d, pad %d): "
            "%s: %s; using the direct kernel for this shape\n",
            kDirectionName[direction], s->batch, s->in_h, s->in_w, s->in_c, s->out_c, s->kernel,
            s->stride, s->pad, call, cudnnGetErrorString(e));
}

// cuDNN's own error checks for plan building: a failure is a fallback, not
// a backend error.
#define CUDNN_TRY(call)                      \
    do {                                     \
        cudnnStatus_t e_ = (call);           \
        if (e_ != CUDNN_STATUS_SUCCESS) {    \
            *failed_call = #call;            \
            return e_;                       \
        }                                    \
    } while (0)

static cudnnStatus_t conv_plan_descriptors(ConvPlan* p, const ConvShape* s,
                                           const char** failed_call) {
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->x_desc));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->y_desc));
    CUDNN_TRY(cudnnCreateFilterDescriptor(&p->w_desc));
    CUDNN_TRY(cudnnCreateConvolutionDescriptor(&p->conv_desc));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(p->x_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s->batch,
                                         s->in_c, s->in_h, s->in_w));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(p->y_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s->batch,
                                         s->out_c, conv_out_h(s), conv_out_w(s)));
    CUDNN_TRY(cudnnSetFilter4dDescriptor(p->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, s->out_c,
                                         s->in_c, s->kernel, s->kernel));
    CUDNN_TRY(cudnnSetConvolution2dDescriptor(p->conv_desc, s->pad, s->pad, s->stride, s->stride,
                                              1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_TRY(cudnnSetConvolutionMathType(p->conv_desc, CUDNN_FMA_MATH));
    return CUDNN_STATUS_SUCCESS;
}

// An acceptable heuristic result: runs, deterministic, plain fp32 math, fits.
static int conv_algo_acceptable(cudnnStatus_t status, cudnnDeterminism_t determinism,
                                cudnnMathType_t math, size_t memory, size_t workspace) {
    return status == CUDNN_STATUS_SUCCESS && determinism == CUDNN_DETERMINISTIC &&
           (math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH) && memory <= workspace;
}

static cudnnStatus_t conv_pick_forward(CudaState* st, ConvPlan* p, const char** failed_call) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(st->cudnn, p->x_desc, p->w_desc, p->conv_desc,
                                                     p->y_desc, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                     &count, perf));
    for (int i = 0; i < count; i++) {
        size_t bytes = 0;
        if (!conv_algo_acceptable(perf[i].status, perf[i].determinism, perf[i].mathType,
                                  perf[i].memory, st->cudnn_workspace_bytes))
            continue;
        if (cudnnGetConvolutionForwardWorkspaceSize(st->cudnn, p->x_desc, p->w_desc, p->conv_desc,
                                                    p->y_desc, perf[i].algo, &bytes) !=
                CUDNN_STATUS_SUCCESS ||
            bytes > st->cudnn_workspace_bytes)
            continue;
        p->fwd_algo = perf[i].algo;
        return CUDNN_STATUS_SUCCESS;
    }
    *failed_call = "cudnnGetConvolutionForwardAlgorithm_v7 (no deterministic fp32 algorithm)";
    return CUDNN_STATUS_NOT_SUPPORTED;
}

static cudnnStatus_t conv_pick_backward_data(CudaState* st, ConvPlan* p,
                                             const char** failed_call) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(
        st->cudnn, p->w_desc, p->y_desc, p->conv_desc, p->x_desc,
        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf));
    for (int i = 0; i < count; i++) {
        size_t bytes = 0;
        if (!conv_algo_acceptable(perf[i].status, perf[i].determinism, perf[i].mathType,
                                  perf[i].memory, st->cudnn_workspace_bytes))
            continue;
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(st->cudnn, p->w_desc, p->y_desc,
                                                         p->conv_desc, p->x_desc, perf[i].algo,
                                                         &bytes) != CUDNN_STATUS_SUCCESS ||
            bytes > st->cudnn_workspace_bytes)
            continue;
        p->bwd_data_algo = perf[i].algo;
        return CUDNN_STATUS_SUCCESS;
    }
    *failed_call = "cudnnGetConvolutionBackwardDataAlgorithm_v7 (no deterministic fp32 algorithm)";
    return CUDNN_STATUS_NOT_SUPPORTED;
}

static cudnnStatus_t conv_pick_backward_filter(CudaState* st, ConvPlan* p,
                                               const char** failed_call) {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        st->cudnn, p->x_desc, p->y_desc, p->conv_desc, p->w_desc,
        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf));
    for (int i = 0; i < count; i++) {
        size_t bytes = 0;
        if (!conv_algo_acceptable(perf[i].status, perf[i].determinism, perf[i].mathType,
                                  perf[i].memory, st->cudnn_workspace_bytes))
            continue;
        if (cudnnGetConvolutionBackwardFilterWorkspaceSize(st->cudnn, p->x_desc, p->y_desc,
                                                           p->conv_desc, p->w_desc, perf[i].algo,
                                                           &bytes) != CUDNN_STATUS_SUCCESS ||
            bytes > st->cudnn_workspace_bytes)
            continue;
        p->bwd_filter_algo = perf[i].algo;
        return CUDNN_STATUS_SUCCESS;
    }
    *failed_call =
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7 (no deterministic fp32 algorithm)";
    return CUDNN_STATUS_NOT_SUPPORTED;
}
#undef CUDNN_TRY

static void conv_plan_build(CudaState* st, ConvPlan* p, const ConvShape* s) {
    p->used = 1;
    p->shape = *s;
    const char* call = "";
    cudnnStatus_t e = conv_plan_descriptors(p, s, &call);
    if (e != CUDNN_STATUS_SUCCESS) {
        conv_note_fallback(s, CONV_FWD, call, e);  // one note covers all directions
        return;
    }
    e = conv_pick_forward(st, p, &call);
    if (e == CUDNN_STATUS_SUCCESS) p->cudnn_ok[CONV_FWD] = 1;
    else conv_note_fallback(s, CONV_FWD, call, e);
    e = conv_pick_backward_data(st, p, &call);
    if (e == CUDNN_STATUS_SUCCESS) p->cudnn_ok[CONV_BWD_DATA] = 1;
    else conv_note_fallback(s, CONV_BWD_DATA, call, e);
    e = conv_pick_backward_filter(st, p, &call);
    if (e == CUDNN_STATUS_SUCCESS) p->cudnn_ok[CONV_BWD_FILTER] = 1;
    else conv_note_fallback(s, CONV_BWD_FILTER, call, e);
}

// The plan of shape s, built on first use; NULL only without host memory for
// the cache (then everything runs direct).
static ConvPlan* conv_plan_get(CudaState* st, const ConvShape* s) {
    if (!st->conv_plans) {
        st->conv_plans = (struct ConvPlanCache*)calloc(1, sizeof(struct ConvPlanCache));
        if (!st->conv_plans) return NULL;
    }
    struct ConvPlanCache* cache = st->conv_plans;
    for (int i = 0; i < CONV_PLAN_SLOTS; i++)
        if (cache->plans[i].used && conv_shape_equal(&cache->plans[i].shape, s))
            return &cache->plans[i];
    ConvPlan* p = &cache->plans[cache->next];
    cache->next = (cache->next + 1) % CONV_PLAN_SLOTS;
    if (p->used) conv_plan_release(p);
    conv_plan_build(st, p, s);
    return p;
}

// Whether `direction` goes through cuDNN for this plan; a cuDNN failure
// disables it for the shape (conv_cudnn_failed) and the caller runs direct.
static int conv_cudnn_usable(CudaState* st, ConvPlan* p, int direction) {
    return st->cudnn && !st->direct_conv && p && p->cudnn_ok[direction];
}
static void conv_cudnn_failed(ConvPlan* p, int direction, const char* call, cudnnStatus_t e) {
    p->cudnn_ok[direction] = 0;
    conv_note_fallback(&p->shape, direction, call, e);
}

static int conv_shape_valid(CudaState* st, const ConvShape* s) {
    if (s->batch <= 0 || s->in_c <= 0 || s->out_c <= 0 || s->kernel <= 0 || s->stride <= 0 ||
        s->pad < 0 || conv_out_h(s) <= 0 || conv_out_w(s) <= 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "bad shape batch %d %dx%dx%d -> %d k %d stride %d pad %d",
                 s->batch, s->in_h, s->in_w, s->in_c, s->out_c, s->kernel, s->stride, s->pad);
        cuda_record_error(st, __FILE__, __LINE__, "conv2d", msg);
        return 0;
    }
    return 1;
}

// The scratch argument (sized for the CPU's im2col) is not used: cuDNN has the
// state's workspace, the direct kernels need none.
void conv2d_forward_cuda(const OpContext* ctx, const ConvShape* s, float* out, const float* in,
                         const float* weight, const float* bias, float* scratch) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || !conv_shape_valid(st, s)) return;
    ConvPlan* p = st->direct_conv || !st->cudnn ? NULL : conv_plan_get(st, s);
    if (conv_cudnn_usable(st, p, CONV_FWD)) {
        const float one = 1.0f, zero = 0.0f;
        cudnnStatus_t e = cudnnConvolutionForward(
            st->cudnn, &one, p->x_desc, in, p->w_desc, weight, p->conv_desc, p->fwd_algo,
            st->cudnn_workspace, st->cudnn_workspace_bytes, &zero, p->y_desc, out);
        if (e == CUDNN_STATUS_SUCCESS) {
            bias_add_cuda(st, out, bias, s->batch * conv_out_h(s) * conv_out_w(s), s->out_c);
            return;
        }
        conv_cudnn_failed(p, CONV_FWD, "cudnnConvolutionForward", e);
    }
    conv2d_direct_forward(st, s, out, in, weight, bias);
}

void conv2d_backward_cuda(const OpContext* ctx, const ConvShape* s, float* din, float* dweight,
                          float* dbias, const float* dout, const float* in, const float* weight,
                          float* scratch) {
    CudaState* st = cuda_op_state(ctx);
    if (!st || !conv_shape_valid(st, s)) return;
    ConvPlan* p = st->direct_conv || !st->cudnn ? NULL : conv_plan_get(st, s);
    const float one = 1.0f, zero = 0.0f;
    if (din) {
        int done = 0;
        if (conv_cudnn_usable(st, p, CONV_BWD_DATA)) {
            cudnnStatus_t e = cudnnConvolutionBackwardData(
                st->cudnn, &one, p->w_desc, weight, p->y_desc, dout, p->conv_desc,
                p->bwd_data_algo, st->cudnn_workspace, st->cudnn_workspace_bytes, &zero,
                p->x_desc, din);
            done = e == CUDNN_STATUS_SUCCESS;
            if (!done) conv_cudnn_failed(p, CONV_BWD_DATA, "cudnnConvolutionBackwardData", e);
        }
        if (!done) conv2d_direct_input_grad(st, s, din, dout, weight);
    }
    if (dweight) {
        int done = 0;
        if (conv_cudnn_usable(st, p, CONV_BWD_FILTER)) {
            // beta = 1: the weight gradient accumulates.
            cudnnStatus_t e = cudnnConvolutionBackwardFilter(
                st->cudnn, &one, p->x_desc, in, p->y_desc, dout, p->conv_desc,
                p->bwd_filter_algo, st->cudnn_workspace, st->cudnn_workspace_bytes, &one,
                p->w_desc, dweight);
            done = e == CUDNN_STATUS_SUCCESS;
            if (!done) conv_cudnn_failed(p, CONV_BWD_FILTER, "cudnnConvolutionBackwardFilter", e);
        }
        if (!done) conv2d_direct_weight_grad(st, s, dweight, dout, in);
    }
    bias_grad_accumulate_cuda(st, dbias, dout, s->batch * conv_out_h(s) * conv_out_w(s), s->out_c);
}
