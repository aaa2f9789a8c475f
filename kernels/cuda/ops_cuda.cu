// The CUDA backend's op table (kernels/ops.h); each family lives in its own
// file under kernels/cuda/. Taking the table calls nothing on the GPU: the
// hwnas binary runs on machines without one until --device cuda is asked for.
#include "kernels/cuda/cuda_common.h"

// Named initializers, made from kernels/op_list.h as the CPU table is. They
// are C++20, but g++ and nvcc take them in C++17 without a warning under
// -Wall -Wextra (only -Wpedantic objects); and -Wextra's
// missing-field-initializers makes a slot left out an error here.
static const Ops kOpsCuda = {
    .name = "cuda",
#define OP(RET, NAME, PARAMS) .NAME = NAME##_cuda,
#include "kernels/op_list.h"
#undef OP
};

static_assert(CUDA_UPLOAD_SLOTS == OPS_UPLOAD_SLOTS, "the Ops upload slots are the CUDA ones");

extern "C" const Ops* ops_cuda(void) { return &kOpsCuda; }
