// Supernet forward/backward and SGD steps against the PyTorch twin
// (tools/torch_model.py via tools/ref_cases/supernet.py), llm.c debug-state style.
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/ops.h"
#include "supernet/safetensors.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "test_util.h"

namespace {

const char* kFamily = "supernet";

struct Net {
    Space space;
    Supernet* sn = nullptr;
    ~Net() { supernet_destroy(sn); }
};

// Loads tests/spaces/tiny.yaml into a CPU supernet with PyTorch's initial weights.
void make_net(Net* net, int threads) {
    HwErr err = {};
    ASSERT_EQ(space_load(&net->space, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
    OpContext ctx = {threads, nullptr};
    net->sn = supernet_create(&net->space, &ops_cpu, &ctx, 6, &err);
    ASSERT_NE(net->sn, nullptr) << err.msg;
    Supernet* sn = net->sn;
    ASSERT_EQ(supernet_init_params(sn, 1, nullptr), 0);
    for (int b = 0; b < sn->n_blocks; b++) {
        const Block* blk = &sn->blocks[b];
        for (int i = 0; i < blk->param_count; i++) {
            char name[128];
            supernet_param_name(sn, b, blk->params[i].name, 0, name, sizeof name);
            auto w = ref_floats(kFamily, std::string("init/") + name, blk->params[i].numel);
            ASSERT_FALSE(w.empty()) << name;
            std::memcpy(sn->params + sn->param_offset[b] + blk->params[i].offset, w.data(), w.size() * 4);
        }
    }
    auto sizes = ref_ints(kFamily, "sizes", (size_t)net->space.n_layers);
    ASSERT_FALSE(sizes.empty());
    for (int l = 0; l < net->space.n_layers; l++)
        ASSERT_EQ(sizes[l], net->space.layers[l].n_ops) << "layer " << l << ": candidate lists differ";
    auto x = ref_floats(kFamily, "x", 6 * 10 * 10);
    auto labels = ref_ints(kFamily, "labels", 6);
    ASSERT_FALSE(x.empty() || labels.empty());
    std::memcpy(sn->images, x.data(), x.size() * 4);
    std::memcpy(sn->labels, labels.data(), labels.size() * 4);
}

float train_forward_backward(Supernet* sn, const int* path) {
    supernet_forward(sn, path, 6, MODE_TRAIN, 0.1f);
    sn->ops->cross_entropy_forward_backward(&sn->ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, 6,
                                            sn->space.classes, 0.1f);
    supernet_zero_path_grads(sn, path);
    supernet_backward(sn);
    return sn->loss[0];
}

// Compares every parameter of the path's blocks (or of all blocks) under `prefix`.
int compare_params(Supernet* sn, const float* buffer, const std::string& prefix, const int* path, float atol,
                   float rtol) {
    int compared = 0;
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        const Block* blk = &sn->blocks[b];
        for (int i = 0; i < blk->param_count; i++) {
            char name[128];
            supernet_param_name(sn, b, blk->params[i].name, 0, name, sizeof name);
            auto want = ref_floats(kFamily, prefix + name, blk->params[i].numel);
            if (want.empty()) continue;
            expect_close(prefix + name, buffer + sn->param_offset[b] + blk->params[i].offset, want.data(),
                         want.size(), atol, rtol);
            compared++;
        }
    }
    return compared;
}

}  // namespace

// Every operator of every layer, forward and backward: logits, loss and all
// parameter gradients of the path. Both sides are fp32 with different
// summation orders through ~20 BN layers on a batch of 6 (whose 1/sqrt(var)
// amplifies rounding); the largest error seen is 4e-7, so atol 2e-6 with
// rtol 2e-4 keeps a 5x margin without hiding a real mismatch (a wrong
// gradient is off by O(1e-2) or more).
TEST(Supernet, ForwardBackwardMatchesTorchForEveryOperator) {
    Net net;
    make_net(&net, 2);
    Supernet* sn = net.sn;
    for (int i = 0; i < 32; i++) {
        std::string p = "grad" + std::to_string(i) + "/";
        auto path = ref_ints(kFamily, p + "path", (size_t)net.space.n_layers);
        ASSERT_FALSE(path.empty());
        float loss = train_forward_backward(sn, path.data());
        auto want_logits = ref_floats(kFamily, p + "logits", 6 * 5);
        auto want_loss = ref_floats(kFamily, p + "loss", 1);
        expect_close(p + "logits", sn->logits, want_logits.data(), 30, 2e-6f, 2e-5f);
        expect_close(p + "loss", &loss, want_loss.data(), 1, 1e-6f, 1e-5f);
        int n = compare_params(sn, sn->grads, p + "g/", path.data(), 2e-6f, 2e-4f);
        EXPECT_GT(n, 10) << "too few gradients compared for path " << i;
    }
}

// Three SGD steps (momentum 0.9, Nesterov, weight decay on conv/linear weights
// only) on fixed paths: logits and loss per step, then every parameter of the
// supernet and every momentum buffer. Parameters never on a path must be
// bit-identical to their initial values, with zero momentum.
TEST(Supernet, SgdStepsMatchTorchAndLeaveUnsampledParametersUntouched) {
    Net net;
    make_net(&net, 2);
    Supernet* sn = net.sn;
    std::vector<float> initial(sn->params, sn->params + sn->param_floats);
    std::vector<int> touched(sn->n_blocks, 0);
    SgdConfig cfg = {0.1f, 0.9f, 4e-5f, 1};
    for (int step = 0; step < 3; step++) {
        std::string p = "step" + std::to_string(step) + "/";
        auto path = ref_ints(kFamily, p + "path", (size_t)net.space.n_layers);
        ASSERT_FALSE(path.empty());
        float loss = train_forward_backward(sn, path.data());
        supernet_sgd_path(sn, path.data(), &cfg);
        for (int q = 0; q < supernet_positions(sn); q++) touched[supernet_block_at(sn, path.data(), q)] = 1;
        auto want_logits = ref_floats(kFamily, p + "logits", 30);
        auto want_loss = ref_floats(kFamily, p + "loss", 1);
        expect_close(p + "logits", sn->logits, want_logits.data(), 30, 2e-6f, 2e-5f);
        expect_close(p + "loss", &loss, want_loss.data(), 1, 1e-6f, 1e-5f);
    }
    int untouched_params = 0;
    for (int b = 0; b < sn->n_blocks; b++) {
        const Block* blk = &sn->blocks[b];
        size_t off = sn->param_offset[b];
        if (!touched[b]) {
            untouched_params += blk->param_count;
            EXPECT_EQ(std::memcmp(sn->params + off, initial.data() + off, blk->param_floats * 4), 0)
                << "unsampled block " << blk->op << " changed";
            for (size_t i = 0; i < blk->param_floats; i++)
                ASSERT_EQ(sn->momentum[off + i], 0.0f) << "unsampled block " << blk->op << " has momentum";
            continue;
        }
        for (int i = 0; i < blk->param_count; i++) {
            char name[128];
            supernet_param_name(sn, b, blk->params[i].name, 0, name, sizeof name);
            auto want = ref_floats(kFamily, std::string("final/") + name, blk->params[i].numel);
            auto mom = ref_floats(kFamily, std::string("momentum/") + name, blk->params[i].numel);
            ASSERT_FALSE(want.empty() || mom.empty());
            expect_close(std::string("final/") + name, sn->params + off + blk->params[i].offset, want.data(),
                         want.size(), 2e-6f, 1e-4f);
            expect_close(std::string("momentum/") + name, sn->momentum + off + blk->params[i].offset, mom.data(),
                         mom.size(), 2e-6f, 2e-4f);
        }
        // BN running statistics follow the same steps.
        for (int i = 0, roff = 0; i < blk->running_count; roff += 2 * blk->running_channels[i], i++) {
            char name[128];
            supernet_param_name(sn, b, blk->running_names[i], 0, name, sizeof name);
            int c = blk->running_channels[i];
            auto mean = ref_floats(kFamily, std::string("final/") + name + ".running_mean", c);
            auto var = ref_floats(kFamily, std::string("final/") + name + ".running_var", c);
            ASSERT_FALSE(mean.empty() || var.empty());
            const float* r = sn->running + sn->running_offset[b] + roff;
            expect_close(std::string(name) + ".running_mean", r, mean.data(), c, 1e-5f, 1e-4f);
            expect_close(std::string(name) + ".running_var", r + c, var.data(), c, 1e-5f, 1e-4f);
        }
    }
    EXPECT_GT(untouched_params, 100) << "the test should leave most operators unsampled";
}

// The same path gives the same result with 1 and 2 threads (within fp32
// reduction-order differences) and the executor is repeatable.
TEST(Supernet, RepeatableAcrossRunsAndThreadCounts) {
    Net a, b;
    make_net(&a, 1);
    make_net(&b, 2);
    auto path = ref_ints(kFamily, "grad5/path", (size_t)a.space.n_layers);
    ASSERT_FALSE(path.empty());
    train_forward_backward(a.sn, path.data());
    std::vector<float> first(a.sn->grads, a.sn->grads + a.sn->param_floats);
    train_forward_backward(a.sn, path.data());
    EXPECT_EQ(std::memcmp(first.data(), a.sn->grads, first.size() * 4), 0) << "same input, different gradients";
    train_forward_backward(b.sn, path.data());
    expect_close("grads 1 vs 2 threads", b.sn->grads, first.data(), first.size(), 1e-6f, 1e-4f);
}

// Inference alternates two activation regions; a skip returns its input, so
// the block after it must not write the region that input lies in. Every
// path with a skip, run by supernet_forward, equals the same blocks run one
// by one in their own training-mode arenas (supernet_block_forward).
TEST(Supernet, EvalForwardAfterASkipMatchesBlockByBlock) {
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
    OpContext ctx = {1, nullptr};
    Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, 4, &err);
    ASSERT_NE(sn, nullptr) << err.msg;
    ASSERT_EQ(supernet_init_params(sn, 3, &err), 0) << err.msg;
    std::vector<float> x = random_floats(4 * 10 * 10, 11);
    int skips = 0;
    for (int op = 0; op < space.layers[0].n_ops; op++) {
        // Layer 0 runs every operator, skip included; layer 2 is a skip.
        int path[4] = {op, op % space.layers[1].n_ops, space_op_index(&space, 2, "skip"), op % space.layers[3].n_ops};
        ASSERT_GE(path[2], 0);
        std::memcpy(sn->images, x.data(), x.size() * 4);
        supernet_forward(sn, path, 4, MODE_EVAL, 0);
        std::vector<float> whole(sn->logits, sn->logits + 4 * space.classes);
        float* y = sn->images;
        for (int p = 0; p < supernet_positions(sn); p++)
            y = supernet_block_forward(sn, p, supernet_block_at(sn, path, p), y, 4, MODE_EVAL);
        std::vector<float> stepwise(y, y + 4 * space.classes);
        expect_bitwise(std::string("eval logits, layer 0 = ") + space.layers[0].names[op], whole, stepwise);
        skips += !strcmp(space.layers[0].names[op], "skip");
    }
    EXPECT_EQ(skips, 1);
    supernet_destroy(sn);
}

// Subnet weights written to safetensors and read back into another supernet
// of the same space: the path's weights and BN statistics arrive unchanged
// (the layout conversions are each other's inverse); a file of another path
// is refused naming the tensor it lacks.
TEST(Safetensors, ReadsBackWhatItWrote) {
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
    OpContext ctx = {1, nullptr};
    Supernet* a = supernet_create(&space, &ops_cpu, &ctx, 2, &err);
    Supernet* b = supernet_create(&space, &ops_cpu, &ctx, 2, &err);
    ASSERT_TRUE(a && b) << err.msg;
    ASSERT_EQ(supernet_init_params(a, 1, &err), 0);
    ASSERT_EQ(supernet_init_params(b, 2, &err), 0);
    for (size_t i = 0; i < a->running_floats; i++) a->running[i] = 0.5f + 0.001f * (float)i;
    for (int k = 0; k < a->n_blocks; k++) a->bn_batches[k] = 7 + k;
    std::vector<int> path(space.n_layers, 0), other(space.n_layers, 0);
    path.back() = space.layers[space.n_layers - 1].n_ops - 1;
    TempDir tmp("safetensors");
    std::string file = tmp.file("w.safetensors");
    ASSERT_EQ(safetensors_write_subnet(a, path.data(), file.c_str(), &err), 0) << err.msg;
    ASSERT_EQ(safetensors_read_subnet(b, path.data(), file.c_str(), &err), 0) << err.msg;
    int compared = 0;
    for (int p = 0; p < supernet_positions(a); p++) {
        int blk = supernet_block_at(a, path.data(), p);
        const Block* k = &a->blocks[blk];
        EXPECT_EQ(std::memcmp(a->params + a->param_offset[blk], b->params + b->param_offset[blk],
                              k->param_floats * sizeof(float)), 0) << k->op;
        EXPECT_EQ(std::memcmp(a->running + a->running_offset[blk], b->running + b->running_offset[blk],
                              k->running_floats * sizeof(float)), 0) << k->op;
        EXPECT_EQ(b->bn_batches[blk], 7 + blk);
        compared++;
    }
    EXPECT_EQ(compared, space.n_layers + 2);  // stem, every layer, head
    if (space.layers[space.n_layers - 1].n_ops > 1) {
        err = {};
        EXPECT_EQ(safetensors_read_subnet(b, other.data(), file.c_str(), &err), -1);
        EXPECT_EQ(err.code, 2);
        EXPECT_NE(std::string(err.msg).find(file + ": missing tensor"), std::string::npos) << err.msg;
    }
    supernet_destroy(a);
    supernet_destroy(b);
}
