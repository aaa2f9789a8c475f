// The CUDA backend's op table (kernels/ops.h); each family lives in its own
// file under kernels/cuda/. Taking the table calls nothing on the GPU: the
// hwnas binary runs on machines without one until --device cuda is asked for.
#include "kernels/cuda/cuda_common.h"

static const Ops kOpsCuda = {
    "cuda",
    alloc_cuda,
    release_cuda,
    upload_cuda,
    download_cuda,
    copy_cuda,
    fill_zero_cuda,
    synchronize_cuda,
    host_alloc_cuda,
    host_free_cuda,
    upload_async_cuda,
    upload_acquire_cuda,
    upload_release_cuda,
    upload_wait_host_cuda,
    timer_begin_cuda,
    timer_end_ms_cuda,
    flush_cache_cuda,
    conv2d_forward_cuda,
    conv2d_backward_cuda,
    depthwise_conv2d_forward_cuda,
    depthwise_conv2d_backward_cuda,
    linear_forward_cuda,
    linear_backward_cuda,
    batchnorm_act_forward_train_cuda,
    batchnorm_act_forward_infer_cuda,
    batchnorm_act_backward_cuda,
    activation_forward_cuda,
    activation_backward_cuda,
    global_avg_pool_forward_cuda,
    global_avg_pool_backward_cuda,
    channel_scale_forward_cuda,
    channel_scale_backward_cuda,
    concat_channels_cuda,
    split_channels_cuda,
    channel_shuffle_cuda,
    add_cuda,
    cross_entropy_forward_backward_cuda,
    topk_correct_cuda,
    sgd_update_cuda,
};

// Positional initialization (C++17 has no designated initializers): a
// field added to Ops without an entry here fails to compile below.
static_assert(sizeof(Ops) == sizeof(const char*) + 38 * sizeof(void (*)(void)),
              "kOpsCuda must list every field of Ops, in order");
static_assert(CUDA_UPLOAD_SLOTS == OPS_UPLOAD_SLOTS, "the Ops upload slots are the CUDA ones");

extern "C" const Ops* ops_cuda(void) { return &kOpsCuda; }
