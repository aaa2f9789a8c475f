// Every op of the library, each listed once with its documentation:
//
//     OP(return type, name, (parameters))
//
// From this one list come the slots of `Ops` (kernels/ops.h), the prototypes
// of both backends (name_cpu in kernels/cpu/cpu_ops.h, name_cuda in
// kernels/cuda/cuda_common.h) and both op tables (kernels/cpu/ops_cpu.c,
// kernels/cuda/ops_cuda.cu). Why a list: the four used to be written out by
// hand, so a signature changed in one place and not the others was found
// only by the compiler, and the CUDA table, filled by position, needed a
// hand-kept count of the slots.
//
// How to use it: define OP(RET, NAME, PARAMS), include this file, undefine
// OP. It has no include guard because it is included once per use. The types
// it names (OpContext, ConvShape, Activation, OpTimer, SgdConfig) are in
// kernels/ops.h. Conventions shared by every op (layout, gradients, device
// pointers) are at the top of kernels/ops.h.

// ---- memory (memory.c, memory.cu)
// Memory of this backend: host memory on the CPU, device memory on CUDA.
// alloc returns zeroed memory or NULL; upload/download copy from/to host.
OP(void*, alloc, (const OpContext* ctx, size_t bytes))
OP(void, release, (const OpContext* ctx, void* p))
OP(void, upload, (const OpContext* ctx, void* dst, const void* host_src, size_t bytes))
OP(void, download, (const OpContext* ctx, void* host_dst, const void* src, size_t bytes))
OP(void, copy, (const OpContext* ctx, void* dst, const void* src, size_t bytes))
OP(void, fill_zero, (const OpContext* ctx, void* p, size_t bytes))
// Waits for queued work; returns 0, or -1 if a backend error happened since
// the last call (the CUDA backend reports it with file and line).
OP(int, synchronize, (const OpContext* ctx))

// Host memory to upload from: page-locked on CUDA (so upload_async really
// overlaps), ordinary 64-byte aligned memory on the CPU. Contents are
// undefined; NULL on failure.
OP(void*, host_alloc, (const OpContext* ctx, size_t bytes))
OP(void, host_free, (const OpContext* ctx, void* p))
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
OP(int, upload_async,
   (const OpContext* ctx, int slot, void* dst, const void* host_src, size_t bytes))
OP(int, upload_acquire, (const OpContext* ctx, int slot))
OP(int, upload_release, (const OpContext* ctx, int slot))
OP(int, upload_wait_host, (const OpContext* ctx, int slot))

// ---- timing (timing.c, timing.cu)
// Timing of queued work: timer_begin marks the start, timer_end_ms waits for
// the work queued since and returns the elapsed milliseconds (>= 0), or -1
// on a backend error. CUDA: events on the compute stream (device time); CPU:
// CLOCK_MONOTONIC wall time.
OP(int, timer_begin, (const OpContext* ctx, OpTimer* t))
OP(double, timer_end_ms, (const OpContext* ctx, OpTimer* t))
// Evicts the data of earlier ops from the backend's caches, so the next
// timed run starts cold; call it before timer_begin. CUDA: overwrites a
// device buffer of twice the L2 size on the compute stream. CPU: does nothing
// (CPU tables time warm runs and calibrate, see search/latency.c). 0, or -1
// on a backend error.
OP(int, flush_cache, (const OpContext* ctx))

// ---- conv2d (conv2d.c, conv2d.cu)
// Dense conv2d, weight OHWI, bias may be NULL.
OP(void, conv2d_forward,
   (const OpContext* ctx, const ConvShape* s, float* out, const float* in, const float* weight,
    const float* bias, float* scratch))
OP(void, conv2d_backward,
   (const OpContext* ctx, const ConvShape* s, float* din, float* dweight, float* dbias,
    const float* dout, const float* in, const float* weight, float* scratch))

// ---- depthwise conv2d (depthwise_conv2d.c, depthwise_conv2d.cu)
// Depthwise conv2d, weight [k][k][c], no bias, out_c == in_c.
OP(void, depthwise_conv2d_forward,
   (const OpContext* ctx, const ConvShape* s, float* out, const float* in, const float* weight))
OP(void, depthwise_conv2d_backward,
   (const OpContext* ctx, const ConvShape* s, float* din, float* dweight, const float* dout,
    const float* in, const float* weight, float* scratch))

// ---- linear (linear.c, linear.cu)
// Pointwise (1x1) conv and linear: out[rows][out_f] = in[rows][in_f] * W^T + b.
// W is [out_f][in_f]; bias may be NULL.
OP(void, linear_forward,
   (const OpContext* ctx, float* out, const float* in, const float* weight, const float* bias,
    int rows, int in_f, int out_f))
OP(void, linear_backward,
   (const OpContext* ctx, float* din, float* dweight, float* dbias, const float* dout,
    const float* in, const float* weight, int rows, int in_f, int out_f))

// ---- BatchNorm (batchnorm.c, batchnorm.cu)
// BatchNorm over rows = N*H*W, per channel, fused with the activation that
// follows it: out = act(BN(in)); plain BatchNorm is act = ACT_NONE.
// gamma/beta NULL = non-affine. Training: batch statistics (biased variance
// normalizes); saves mean and 1/sqrt(var+eps) for backward; if running_mean
// is not NULL, updates running = (1-momentum)*running + momentum*batch
// (running_var gets the unbiased variance, as PyTorch does).
// Only `out` is stored: the backward recomputes y = BN(in) from the saved
// statistics, so it needs beta, except with ACT_NONE (beta may then be
// NULL). dgamma/dbeta may be NULL (non-affine); din may alias dout;
// scratch: batchnorm_scratch_floats.
OP(void, batchnorm_act_forward_train,
   (const OpContext* ctx, Activation act, float* out, const float* in, const float* gamma,
    const float* beta, float* save_mean, float* save_rstd, float* running_mean,
    float* running_var, int rows, int channels, float momentum, float eps))
OP(void, batchnorm_act_forward_infer,
   (const OpContext* ctx, Activation act, float* out, const float* in, const float* gamma,
    const float* beta, const float* running_mean, const float* running_var, int rows,
    int channels, float eps))
OP(void, batchnorm_act_backward,
   (const OpContext* ctx, Activation act, float* din, float* dgamma, float* dbeta,
    const float* dout, const float* in, const float* gamma, const float* beta,
    const float* save_mean, const float* save_rstd, int rows, int channels, float* scratch))

// ---- activation (activation.c, activation.cu)
// Elementwise activation; backward from the forward's input. din may alias dout.
OP(void, activation_forward,
   (const OpContext* ctx, Activation act, float* out, const float* in, size_t n))
OP(void, activation_backward,
   (const OpContext* ctx, Activation act, float* din, const float* dout, const float* in,
    size_t n))

// ---- pooling and SE scaling (pool.c, pool.cu)
// Global average pool: in [batch][hw][c] -> out [batch][c].
OP(void, global_avg_pool_forward,
   (const OpContext* ctx, float* out, const float* in, int batch, int hw, int channels))
OP(void, global_avg_pool_backward,
   (const OpContext* ctx, float* din, const float* dout, int batch, int hw, int channels))
// Squeeze-excitation scaling: out[b][p][c] = in[b][p][c] * scale[b][c].
OP(void, channel_scale_forward,
   (const OpContext* ctx, float* out, const float* in, const float* scale, int batch, int hw,
    int channels))
OP(void, channel_scale_backward,
   (const OpContext* ctx, float* din, float* dscale, const float* dout, const float* in,
    const float* scale, int batch, int hw, int channels))

// ---- channel moves and the residual add (channel.c, channel.cu)
// Channel concat and split, each the other's backward. concat_channels
// joins a [rows][ca] and b [rows][cb] into out [rows][ca+cb];
// split_channels copies in [rows][ca+cb] apart into a (its first ca
// channels) and b (its last cb); a NULL a or b is skipped.
OP(void, concat_channels,
   (const OpContext* ctx, float* out, const float* a, const float* b, int rows, int ca, int cb))
OP(void, split_channels,
   (const OpContext* ctx, float* a, float* b, const float* in, int rows, int ca, int cb))
// ShuffleNet shuffle: view channels as [groups][c/groups], transpose.
// out[j*groups + g] = in[g*(c/groups) + j]. Its backward is the shuffle with
// c/groups groups. groups = c/2 gives SPOS's even/odd split order.
OP(void, channel_shuffle,
   (const OpContext* ctx, float* out, const float* in, int rows, int channels, int groups))
// out = a + b (residual add); out may alias a or b.
OP(void, add, (const OpContext* ctx, float* out, const float* a, const float* b, size_t n))

// ---- loss (loss.c, loss.cu)
// Label-smoothed softmax cross-entropy, mean over the batch.
// q = (1-smoothing)*onehot + smoothing/classes. Writes the mean loss to
// *loss (device pointer on CUDA) and, if dlogits is not NULL, (p - q)/batch.
OP(void, cross_entropy_forward_backward,
   (const OpContext* ctx, float* loss, float* dlogits, const float* logits, const int* labels,
    int batch, int classes, float smoothing))
// Counts of rows whose label is the top-1 / among the top-5 logits (ties
// broken toward the lower index, as torch.topk does on the CPU).
OP(void, topk_correct,
   (const OpContext* ctx, int* correct1, int* correct5, const float* logits, const int* labels,
    int batch, int classes))

// ---- optimizer (sgd.c, sgd.cu)
// SGD with momentum/Nesterov/weight decay, torch.optim.SGD semantics
// (dampening 0). Called only for tensors that received a gradient.
OP(void, sgd_update,
   (const OpContext* ctx, float* param, float* momentum_buf, const float* grad, size_t n,
    const SgdConfig* cfg, int apply_weight_decay))
