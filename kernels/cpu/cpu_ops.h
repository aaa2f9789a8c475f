// CPU backend entry points. Each family lives in its own file under kernels/cpu/;
// ops_cpu.c gathers them into the `ops_cpu` table of kernels/ops.h.
#ifndef HWNAS_CPU_OPS_H
#define HWNAS_CPU_OPS_H

#include "../ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// memory.c
void* alloc_cpu(const OpContext* ctx, size_t bytes);
void release_cpu(const OpContext* ctx, void* p);
void upload_cpu(const OpContext* ctx, void* dst, const void* host_src, size_t bytes);
void download_cpu(const OpContext* ctx, void* host_dst, const void* src, size_t bytes);
void copy_cpu(const OpContext* ctx, void* dst, const void* src, size_t bytes);
void fill_zero_cpu(const OpContext* ctx, void* p, size_t bytes);
int synchronize_cpu(const OpContext* ctx);
void* host_alloc_cpu(const OpContext* ctx, size_t bytes);
void host_free_cpu(const OpContext* ctx, void* p);
int upload_async_cpu(const OpContext* ctx, int slot, void* dst, const void* host_src, size_t bytes);
int upload_acquire_cpu(const OpContext* ctx, int slot);
int upload_release_cpu(const OpContext* ctx, int slot);
int upload_wait_host_cpu(const OpContext* ctx, int slot);
// timing.c
int timer_begin_cpu(const OpContext* ctx, OpTimer* t);
double timer_end_ms_cpu(const OpContext* ctx, OpTimer* t);
int flush_cache_cpu(const OpContext* ctx);
// conv2d.c
void conv2d_forward_cpu(const OpContext* ctx, const ConvShape* s, float* out, const float* in,
                        const float* weight, const float* bias, float* scratch);
void conv2d_backward_cpu(const OpContext* ctx, const ConvShape* s, float* din, float* dweight,
                         float* dbias, const float* dout, const float* in, const float* weight,
                         float* scratch);
// depthwise_conv2d.c
void depthwise_conv2d_forward_cpu(const OpContext* ctx, const ConvShape* s, float* out,
                                  const float* in, const float* weight);
void depthwise_conv2d_backward_cpu(const OpContext* ctx, const ConvShape* s, float* din,
                                   float* dweight, const float* dout, const float* in,
                                   const float* weight, float* scratch);
// linear.c (pointwise conv and linear)
void linear_forward_cpu(const OpContext* ctx, float* out, const float* in, const float* weight,
                        const float* bias, int rows, int in_f, int out_f);
void linear_backward_cpu(const OpContext* ctx, float* din, float* dweight, float* dbias,
                         const float* dout, const float* in, const float* weight, int rows,
                         int in_f, int out_f);
// batchnorm.c
void batchnorm_act_forward_train_cpu(const OpContext* ctx, Activation act, float* out,
                                     const float* in, const float* gamma, const float* beta,
                                     float* save_mean, float* save_rstd, float* running_mean,
                                     float* running_var, int rows, int channels, float momentum,
                                     float eps);
void batchnorm_act_forward_infer_cpu(const OpContext* ctx, Activation act, float* out,
                                     const float* in, const float* gamma, const float* beta,
                                     const float* running_mean, const float* running_var,
                                     int rows, int channels, float eps);
void batchnorm_act_backward_cpu(const OpContext* ctx, Activation act, float* din, float* dgamma,
                                float* dbeta, const float* dout, const float* in,
                                const float* gamma, const float* beta, const float* save_mean,
                                const float* save_rstd, int rows, int channels, float* scratch);
// activation.c
void activation_forward_cpu(const OpContext* ctx, Activation act, float* out, const float* in,
                            size_t n);
void activation_backward_cpu(const OpContext* ctx, Activation act, float* din, const float* dout,
                             const float* in, size_t n);
// pool.c (global average pool, SE channel scale)
void global_avg_pool_forward_cpu(const OpContext* ctx, float* out, const float* in, int batch,
                                 int hw, int channels);
void global_avg_pool_backward_cpu(const OpContext* ctx, float* din, const float* dout, int batch,
                                  int hw, int channels);
void channel_scale_forward_cpu(const OpContext* ctx, float* out, const float* in,
                               const float* scale, int batch, int hw, int channels);
void channel_scale_backward_cpu(const OpContext* ctx, float* din, float* dscale,
                                const float* dout, const float* in, const float* scale, int batch,
                                int hw, int channels);
// channel.c (concat and split, shuffle, residual add)
void concat_channels_cpu(const OpContext* ctx, float* out, const float* a, const float* b,
                         int rows, int ca, int cb);
void split_channels_cpu(const OpContext* ctx, float* a, float* b, const float* in, int rows,
                        int ca, int cb);
void channel_shuffle_cpu(const OpContext* ctx, float* out, const float* in, int rows,
                         int channels, int groups);
void add_cpu(const OpContext* ctx, float* out, const float* a, const float* b, size_t n);
// loss.c
void cross_entropy_forward_backward_cpu(const OpContext* ctx, float* loss, float* dlogits,
                                        const float* logits, const int* labels, int batch,
                                        int classes, float smoothing);
void topk_correct_cpu(const OpContext* ctx, int* correct1, int* correct5, const float* logits,
                      const int* labels, int batch, int classes);
// sgd.c
void sgd_update_cpu(const OpContext* ctx, float* param, float* momentum_buf, const float* grad,
                    size_t n, const SgdConfig* cfg, int apply_weight_decay);

#ifdef __cplusplus
}
#endif
#endif
