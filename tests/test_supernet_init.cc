// Start-up of a supernet: the initial weights are the same whichever way
// they are made (in place on the CPU backend in parallel, or staged on the
// host one thread at a time and uploaded, as for CUDA), and the same as
// before that was made parallel.
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "kernels/ops.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "test_util.h"

namespace {

uint64_t fnv1a(const void* p, size_t bytes, uint64_t h) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

uint64_t weights_hash(const Supernet* sn) {
    uint64_t h = fnv1a(sn->params, sn->param_floats * sizeof(float), 1469598103934665603ull);
    return fnv1a(sn->running, sn->running_floats * sizeof(float), h);
}

size_t count_nonzero(const float* p, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] != 0.0f;
    return k;
}

Supernet* create(const Space* space, const Ops* ops, int threads) {
    HwErr err = {};
    OpContext ctx = {threads, nullptr};
    Supernet* sn = supernet_create(space, ops, &ctx, 2, &err);
    EXPECT_NE(sn, nullptr) << err.msg;
    return sn;
}

}  // namespace

// A copy of ops_cpu is not &ops_cpu, so that supernet takes the staging
// path (host buffer + upload) with one thread: the sequential reference.
TEST(SupernetInit, ParallelInPlaceEqualsSequentialStagedAndTheOldCode) {
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, "configs/spaces/hurricane-fmnist.yaml", &err), 0) << err.msg;
    const Ops staged = ops_cpu;
    Supernet* ref = create(&space, &staged, 1);
    Supernet* fast = create(&space, &ops_cpu, 2);
    ASSERT_TRUE(ref && fast);
    ASSERT_EQ(supernet_init_params(ref, 7, &err), 0) << err.msg;
    ASSERT_EQ(supernet_init_params(fast, 7, &err), 0) << err.msg;
    ASSERT_EQ(ref->param_floats, fast->param_floats);
    ASSERT_EQ(ref->param_floats, 15012942u);
    EXPECT_EQ(std::memcmp(ref->params, fast->params, ref->param_floats * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(ref->running, fast->running, ref->running_floats * sizeof(float)), 0);
    // Printed for seed 7 by a one-off program (FNV-1a 64 of params then
    // running, as weights_hash) linked against the sequential code of commit
    // 65e5e46, before initialization was made parallel and in place.
    EXPECT_EQ(weights_hash(fast), 0xb582737fc41bc104ull);
    EXPECT_EQ(weights_hash(ref), 0xb582737fc41bc104ull);
    EXPECT_EQ(count_nonzero(fast->grads, fast->param_floats), 0u);
    EXPECT_EQ(count_nonzero(fast->momentum, fast->param_floats), 0u);
    supernet_destroy(ref);
    supernet_destroy(fast);
}

// Fresh grads and momentum are not zeroed again (alloc zeroed them), but
// after a training step a second init must zero them and restore the weights.
TEST(SupernetInit, ReinitAfterAStepZeroesGradsAndMomentum) {
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
    Supernet* sn = create(&space, &ops_cpu, 2);
    ASSERT_NE(sn, nullptr);
    ASSERT_EQ(supernet_init_params(sn, 5, &err), 0) << err.msg;
    std::vector<float> fresh(sn->params, sn->params + sn->param_floats);
    std::vector<float> x = random_floats(2 * 10 * 10, 3);
    std::memcpy(sn->images, x.data(), x.size() * sizeof(float));
    sn->labels[0] = 1, sn->labels[1] = 2;
    std::vector<int> path((size_t)space.n_layers, 0);
    supernet_forward(sn, path.data(), 2, MODE_TRAIN, 0.1f);
    sn->ops->cross_entropy_forward_backward(&sn->ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, 2,
                                            space.classes, 0.1f);
    supernet_zero_path_grads(sn, path.data());
    supernet_backward(sn);
    SgdConfig sgd = {0.1f, 0.9f, 0.0f, 0};
    supernet_sgd_path(sn, path.data(), &sgd);
    ASSERT_GT(count_nonzero(sn->grads, sn->param_floats), 0u);
    ASSERT_GT(count_nonzero(sn->momentum, sn->param_floats), 0u);
    ASSERT_NE(std::memcmp(fresh.data(), sn->params, fresh.size() * sizeof(float)), 0);
    ASSERT_EQ(supernet_init_params(sn, 5, &err), 0) << err.msg;
    EXPECT_EQ(count_nonzero(sn->grads, sn->param_floats), 0u);
    EXPECT_EQ(count_nonzero(sn->momentum, sn->param_floats), 0u);
    EXPECT_EQ(std::memcmp(fresh.data(), sn->params, fresh.size() * sizeof(float)), 0);
    supernet_destroy(sn);
}
