// The op library: one interface, two backends (CPU in C, CUDA).
//
// Layout: activations are NHWC, float32. Why: a pointwise (1x1) conv is then a
// plain row-major GEMM [N*H*W, Cin] x [Cin, Cout] with no transposes; depthwise
// conv, BatchNorm, SE scaling and channel split/concat/shuffle all walk the
// contiguous channel axis, which vectorizes on AVX2 and coalesces on a GPU;
// and NHWC is the layout cuDNN's tensor-core convolutions prefer.
//
// Weight layouts (converted to PyTorch's OIHW only when exported):
//   dense conv2d      [out_c][k][k][in_c]   (OHWI: matches NHWC im2col rows)
//   depthwise conv2d  [k][k][c]              (channel innermost, like the data)
//   pointwise/linear  [out][in]              (same as PyTorch)
//
// Gradient convention, every backward:
//   - parameter gradients ACCUMULATE (+=): the caller zeroes them;
//   - input gradients are OVERWRITTEN; a NULL input-gradient pointer skips it.
//
// Every op takes an OpContext first. For the CUDA backend all pointers are
// device pointers and ops are asynchronous on ctx's stream.
#ifndef HWNAS_OPS_H
#define HWNAS_OPS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct OpContext {
    int threads;   // CPU: OpenMP threads for this op (>= 1)
    void* cuda;    // CUDA backend state (CudaState*), NULL on the CPU
} OpContext;

// Geometry of a dense or depthwise convolution (square kernel, symmetric pad).
typedef struct ConvShape {
    int batch, in_h, in_w, in_c;
    int out_c;   // equals in_c for depthwise
    int kernel, stride, pad;
} ConvShape;

static inline int conv_out_size(int in, int kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1;
}
static inline int conv_out_h(const ConvShape* s) { return conv_out_size(s->in_h, s->kernel, s->stride, s->pad); }
static inline int conv_out_w(const ConvShape* s) { return conv_out_size(s->in_w, s->kernel, s->stride, s->pad); }

typedef enum Activation {
    ACT_NONE = 0,
    ACT_RELU,
    ACT_RELU6,
    ACT_HSWISH,     // x * relu6(x + 3) / 6
    ACT_SIGMOID,
    ACT_HSIGMOID,   // relu6(x + 3) / 6
} Activation;

// Upload slots of Ops.upload_async: two batches in flight (double buffering).
#define OPS_UPLOAD_SLOTS 2

// A running backend timer (Ops.timer_begin / timer_end_ms). The CPU keeps its
// start here; CUDA keeps its two events in the backend state, so one timer
// runs per context at a time.
typedef struct OpTimer {
    double start_ms;
} OpTimer;

typedef struct SgdConfig {
    float lr, momentum, weight_decay;
    int nesterov;
} SgdConfig;

// Sizes of the scratch buffers some ops need (in floats), for ctx->threads.
// The caller allocates the maximum once; no op allocates in the step loop.
size_t conv2d_scratch_floats(const OpContext* ctx, const ConvShape* s);
size_t depthwise_conv2d_scratch_floats(const OpContext* ctx, const ConvShape* s);
size_t batchnorm_scratch_floats(const OpContext* ctx, int channels);

typedef struct Ops {
    const char* name;  // "cpu" or "cuda"

    // Memory of this backend: host memory on the CPU, device memory on CUDA.
    // alloc returns zeroed memory or NULL; upload/download copy from/to host.
    void* (*alloc)(const OpContext* ctx, size_t bytes);
    void (*release)(const OpContext* ctx, void* p);
    void (*upload)(const OpContext* ctx, void* dst, const void* host_src, size_t bytes);
    void (*download)(const OpContext* ctx, void* host_dst, const void* src, size_t bytes);
    void (*copy)(const OpContext* ctx, void* dst, const void* src, size_t bytes);
    void (*fill_zero)(const OpContext* ctx, void* p, size_t bytes);
    // Waits for queued work; returns 0, or -1 if a backend error happened since
    // the last call (the CUDA backend reports it with file and line).
    int (*synchronize)(const OpContext* ctx);

    // Host memory to upload from: page-locked on CUDA (so upload_async
    // really overlaps), ordinary 64-byte aligned memory on the CPU. Contents
    // are undefined; NULL on failure.
    void* (*host_alloc)(const OpContext* ctx, size_t bytes);
    void (*host_free)(const OpContext* ctx, void* p);
    // Overlapping batch uploads with compute, per slot s in [0, OPS_UPLOAD_SLOTS):
    //   upload_async(ctx, s, dst, host_src, bytes)  queues the copy from
    //       host_alloc memory (CUDA: on the copy stream, after the last
    //       upload_release of s, so it never overwrites what compute reads);
    //   upload_acquire(ctx, s)    ops queued after it see slot s's copies;
    //   upload_release(ctx, s)    ops queued so far are the last readers of
    //       slot s's destination;
    //   upload_wait_host(ctx, s)  blocks until slot s's copies are done, after
    //       which host_src may be refilled.
    // The CPU copies at once (memcpy) and the other three do nothing. Each
    // returns 0, or -1 on a backend error or a slot out of range.
    int (*upload_async)(const OpContext* ctx, int slot, void* dst, const void* host_src,
                        size_t bytes);
    int (*upload_acquire)(const OpContext* ctx, int slot);
    int (*upload_release)(const OpContext* ctx, int slot);
    int (*upload_wait_host)(const OpContext* ctx, int slot);

    // Timing of queued work: timer_begin marks the start, timer_end_ms waits
    // for the work queued since and returns the elapsed milliseconds (>= 0),
    // or -1 on a backend error. CUDA: events on the compute stream (device
    // time); CPU: CLOCK_MONOTONIC wall time.
    int (*timer_begin)(const OpContext* ctx, OpTimer* t);
    double (*timer_end_ms)(const OpContext* ctx, OpTimer* t);
    // Evicts the data of earlier ops from the backend's caches, so the next
    // timed run starts cold; call it before timer_begin. CUDA: overwrites a
    // device buffer of twice the L2 size on the compute stream. CPU: does
    // nothing (CPU tables time warm runs and calibrate, see search/latency.c).
    // 0, or -1 on a backend error.
    int (*flush_cache)(const OpContext* ctx);

    // Dense conv2d, weight OHWI, bias may be NULL.
    void (*conv2d_forward)(const OpContext* ctx, const ConvShape* s, float* out,
                           const float* in, const float* weight, const float* bias, float* scratch);
    void (*conv2d_backward)(const OpContext* ctx, const ConvShape* s, float* din, float* dweight,
                            float* dbias, const float* dout, const float* in, const float* weight,
                            float* scratch);

    // Depthwise conv2d, weight [k][k][c], no bias, out_c == in_c.
    void (*depthwise_conv2d_forward)(const OpContext* ctx, const ConvShape* s, float* out,
                                     const float* in, const float* weight);
    void (*depthwise_conv2d_backward)(const OpContext* ctx, const ConvShape* s, float* din,
                                      float* dweight, const float* dout, const float* in,
                                      const float* weight, float* scratch);

    // Pointwise (1x1) conv and linear: out[rows][out_f] = in[rows][in_f] * W^T + b.
    // W is [out_f][in_f]; bias may be NULL.
    void (*linear_forward)(const OpContext* ctx, float* out, const float* in, const float* weight,
                           const float* bias, int rows, int in_f, int out_f);
    void (*linear_backward)(const OpContext* ctx, float* din, float* dweight, float* dbias,
                            const float* dout, const float* in, const float* weight, int rows,
                            int in_f, int out_f);

    // BatchNorm over rows = N*H*W, per channel, fused with the activation
    // that follows it: out = act(BN(in)); plain BatchNorm is act = ACT_NONE.
    // gamma/beta NULL = non-affine. Training: batch statistics (biased
    // variance normalizes); saves mean and 1/sqrt(var+eps) for backward; if
    // running_mean is not NULL, updates
    // running = (1-momentum)*running + momentum*batch (running_var gets the
    // unbiased variance, as PyTorch does).
    // Only `out` is stored: the backward recomputes y = BN(in) from the saved
    // statistics, so it needs beta, except with ACT_NONE (beta may then be
    // NULL). dgamma/dbeta may be NULL (non-affine); din may alias dout;
    // scratch: batchnorm_scratch_floats.
    void (*batchnorm_act_forward_train)(const OpContext* ctx, Activation act, float* out,
                                        const float* in, const float* gamma, const float* beta,
                                        float* save_mean, float* save_rstd, float* running_mean,
                                        float* running_var, int rows, int channels,
                                        float momentum, float eps);
    void (*batchnorm_act_forward_infer)(const OpContext* ctx, Activation act, float* out,
                                        const float* in, const float* gamma, const float* beta,
                                        const float* running_mean, const float* running_var,
                                        int rows, int channels, float eps);
    void (*batchnorm_act_backward)(const OpContext* ctx, Activation act, float* din,
                                   float* dgamma, float* dbeta, const float* dout,
                                   const float* in, const float* gamma, const float* beta,
                                   const float* save_mean, const float* save_rstd, int rows,
                                   int channels, float* scratch);

    // Elementwise activation; backward from the forward's input. din may alias dout.
    void (*activation_forward)(const OpContext* ctx, Activation act, float* out, const float* in,
                               size_t n);
    void (*activation_backward)(const OpContext* ctx, Activation act, float* din,
                                const float* dout, const float* in, size_t n);

    // Global average pool: in [batch][hw][c] -> out [batch][c].
    void (*global_avg_pool_forward)(const OpContext* ctx, float* out, const float* in, int batch,
                                    int hw, int channels);
    void (*global_avg_pool_backward)(const OpContext* ctx, float* din, const float* dout,
                                     int batch, int hw, int channels);

    // Squeeze-excitation scaling: out[b][p][c] = in[b][p][c] * scale[b][c].
    void (*channel_scale_forward)(const OpContext* ctx, float* out, const float* in,
                                  const float* scale, int batch, int hw, int channels);
    void (*channel_scale_backward)(const OpContext* ctx, float* din, float* dscale,
                                   const float* dout, const float* in, const float* scale,
                                   int batch, int hw, int channels);

    // Channel concat and split, each the other's backward. concat_channels
    // joins a [rows][ca] and b [rows][cb] into out [rows][ca+cb];
    // split_channels copies in [rows][ca+cb] apart into a (its first ca
    // channels) and b (its last cb); a NULL a or b is skipped.
    void (*concat_channels)(const OpContext* ctx, float* out, const float* a, const float* b,
                            int rows, int ca, int cb);
    void (*split_channels)(const OpContext* ctx, float* a, float* b, const float* in, int rows,
                           int ca, int cb);
    // ShuffleNet shuffle: view channels as [groups][c/groups], transpose.
    // out[j*groups + g] = in[g*(c/groups) + j]. Its backward is the shuffle
    // with c/groups groups. groups = c/2 gives SPOS's even/odd split order.
    void (*channel_shuffle)(const OpContext* ctx, float* out, const float* in, int rows,
                            int channels, int groups);

    // out = a + b (residual add); out may alias a or b.
    void (*add)(const OpContext* ctx, float* out, const float* a, const float* b, size_t n);

    // Label-smoothed softmax cross-entropy, mean over the batch.
    // q = (1-smoothing)*onehot + smoothing/classes. Writes the mean loss to
    // *loss (device pointer on CUDA) and, if dlogits is not NULL, (p - q)/batch.
    void (*cross_entropy_forward_backward)(const OpContext* ctx, float* loss, float* dlogits,
                                           const float* logits, const int* labels, int batch,
                                           int classes, float smoothing);
    // Counts of rows whose label is the top-1 / among the top-5 logits
    // (ties broken toward the lower index, as torch.topk does on the CPU).
    void (*topk_correct)(const OpContext* ctx, int* correct1, int* correct5, const float* logits,
                         const int* labels, int batch, int classes);

    // SGD with momentum/Nesterov/weight decay, torch.optim.SGD semantics
    // (dampening 0). Called only for tensors that received a gradient.
    void (*sgd_update)(const OpContext* ctx, float* param, float* momentum_buf, const float* grad,
                       size_t n, const SgdConfig* cfg, int apply_weight_decay);
} Ops;

extern const Ops ops_cpu;

// The CUDA backend, or NULL when hwnas was built without CUDA.
const Ops* ops_cuda(void);

#ifdef __cplusplus
}
#endif
#endif
