// The CPU backend's upload staging and timing ops (host_alloc, upload_async
// and its slot protocol, timer, flush_cache), and the double-buffered batch
// feeding of the trainer and the evaluator against plain synchronous loops:
// overlapping uploads must not change a single bit on the CPU.
#include <time.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "supernet/evaluate.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"
#include "test_data_util.h"
#include "test_util.h"
#include "train_reference.h"

namespace {

const OpContext kCtx = {2, nullptr};

TEST(CpuHostMemory, HostAllocIs64ByteAlignedAndWritable) {
    for (size_t bytes : {(size_t)0, (size_t)1, (size_t)63, (size_t)64, (size_t)1000, (size_t)1 << 20}) {
        auto* p = (unsigned char*)ops_cpu.host_alloc(&kCtx, bytes);
        ASSERT_NE(p, nullptr) << bytes;
        EXPECT_EQ((uintptr_t)p % 64, 0u) << bytes << " bytes";
        std::memset(p, 0xA5, bytes);  // the whole size is usable (ASan checks it)
        if (bytes) {
            EXPECT_EQ(p[bytes - 1], 0xA5);
        }
        ops_cpu.host_free(&kCtx, p);
    }
    ops_cpu.host_free(&kCtx, nullptr);  // like free(NULL)
}

// upload_async copies at once and bit for bit (NaN payloads, -0, denormals
// included), on either slot; the protocol calls succeed and change nothing.
TEST(CpuHostMemory, UploadAsyncCopiesExactly) {
    const size_t n = 1027;
    std::vector<float> values = random_floats(n, 41, -1e3f, 1e3f);
    const uint32_t specials[] = {0x7FC00001u, 0xFF800000u, 0x80000000u, 0x00000001u};
    std::memcpy(values.data(), specials, sizeof specials);
    auto* host = (float*)ops_cpu.host_alloc(&kCtx, n * sizeof(float));
    auto* dev = (float*)ops_cpu.alloc(&kCtx, n * sizeof(float));
    ASSERT_TRUE(host && dev);
    std::memcpy(host, values.data(), n * sizeof(float));
    for (int slot = 0; slot < OPS_UPLOAD_SLOTS; slot++) {
        ops_cpu.fill_zero(&kCtx, dev, n * sizeof(float));
        EXPECT_EQ(ops_cpu.upload_async(&kCtx, slot, dev, host, n * sizeof(float)), 0);
        EXPECT_EQ(std::memcmp(dev, values.data(), n * sizeof(float)), 0) << "slot " << slot;
        EXPECT_EQ(ops_cpu.upload_acquire(&kCtx, slot), 0);
        EXPECT_EQ(ops_cpu.upload_release(&kCtx, slot), 0);
        EXPECT_EQ(ops_cpu.upload_wait_host(&kCtx, slot), 0);
    }
    // Zero bytes copy nothing; a part copies only that part.
    ops_cpu.fill_zero(&kCtx, dev, n * sizeof(float));
    EXPECT_EQ(ops_cpu.upload_async(&kCtx, 0, dev, host, 0), 0);
    EXPECT_EQ(dev[0], 0.0f);
    EXPECT_EQ(ops_cpu.upload_async(&kCtx, 1, dev + 10, host + 10, 5 * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(dev + 10, values.data() + 10, 5 * sizeof(float)), 0);
    EXPECT_EQ(dev[9], 0.0f);
    EXPECT_EQ(dev[15], 0.0f);
    ops_cpu.release(&kCtx, dev);
    ops_cpu.host_free(&kCtx, host);
}

TEST(CpuHostMemory, SlotsOutOfRangeAreRefused) {
    float src = 1.0f, dst = 0.0f;
    for (int slot : {-1, OPS_UPLOAD_SLOTS}) {
        EXPECT_EQ(ops_cpu.upload_async(&kCtx, slot, &dst, &src, sizeof src), -1) << slot;
        EXPECT_EQ(ops_cpu.upload_acquire(&kCtx, slot), -1) << slot;
        EXPECT_EQ(ops_cpu.upload_release(&kCtx, slot), -1) << slot;
        EXPECT_EQ(ops_cpu.upload_wait_host(&kCtx, slot), -1) << slot;
    }
    EXPECT_EQ(dst, 0.0f) << "a refused upload must not copy";
}

// The timer measures wall time: at least a sleep's length, never negative.
TEST(CpuTimer, MeasuresElapsedWallTime) {
    OpTimer t;
    ASSERT_EQ(ops_cpu.timer_begin(&kCtx, &t), 0);
    double idle = ops_cpu.timer_end_ms(&kCtx, &t);
    EXPECT_GE(idle, 0.0);
    EXPECT_LT(idle, 1000.0);
    ASSERT_EQ(ops_cpu.timer_begin(&kCtx, &t), 0);
    struct timespec nap = {0, 3000000};  // 3 ms
    nanosleep(&nap, nullptr);
    double slept = ops_cpu.timer_end_ms(&kCtx, &t);
    std::printf("    timer: %.4f ms idle, %.3f ms around a 3 ms sleep\n", idle, slept);
    EXPECT_GE(slept, 3.0);
    EXPECT_TRUE(std::isfinite(slept));
}

// flush_cache succeeds and changes neither memory nor the result of an op.
TEST(CpuTimer, FlushCacheIsHarmless) {
    const int rows = 7, in_f = 33, out_f = 17;
    std::vector<float> x = random_floats((size_t)rows * in_f, 3), w = random_floats((size_t)out_f * in_f, 4);
    std::vector<float> b = random_floats(out_f, 5), before((size_t)rows * out_f), after(before.size());
    ops_cpu.linear_forward(&kCtx, before.data(), x.data(), w.data(), b.data(), rows, in_f, out_f);
    std::vector<float> x_copy = x;
    EXPECT_EQ(ops_cpu.flush_cache(&kCtx), 0);
    EXPECT_EQ(x, x_copy);
    ops_cpu.linear_forward(&kCtx, after.data(), x.data(), w.data(), b.data(), rows, in_f, out_f);
    expect_bitwise("linear forward after flush_cache", after, before);
}

// ------------------------------------------------ trainer and evaluator

struct FeedSetup {
    TempDir data;
    Config cfg;
    Space space;
    FeedSetup() {
        EXPECT_TRUE(write_synthetic_idx(data.path(), 1024 + 256, 64));
        synthetic_config(&cfg, data.path(), 0);
        HwErr err = {};
        EXPECT_EQ(space_load(&space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
    }
    Supernet* net() {
        HwErr err = {};
        OpContext ctx = {cfg.train.threads, nullptr};
        Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, cfg.train.batch, &err);
        EXPECT_NE(sn, nullptr) << err.msg;
        if (sn) {
            EXPECT_EQ(supernet_init_params(sn, cfg.train.seed), 0);
        }
        return sn;
    }
};

std::vector<float> copy_out(const float* p, size_t n) { return std::vector<float>(p, p + n); }

// Two epochs (the first batch of each is fetched before its step, the others
// while the previous step runs) against the synchronous loop: same losses in
// train.csv, bit-identical weights, momentum and BN statistics.
TEST(BatchFeed, TrainerMatchesSynchronousUploads) {
    FeedSetup s;
    Supernet* fed = s.net();
    Supernet* ref = s.net();
    ASSERT_TRUE(fed && ref);
    TempDir run;
    TrainJob job = {};
    job.cfg = &s.cfg;
    job.run_dir = run.path().c_str();
    job.checkpoint_name = "supernet.ckpt";
    job.csv_name = "train.csv";
    job.epochs = 2;
    job.lr = 0.1f;
    job.quiet = 1;
    TrainResult res;
    HwErr err = {};
    ASSERT_EQ(train_run(fed, &job, &res, &err), 0) << err.msg;
    std::vector<float> losses = reference_train(ref, s.cfg, 2, 0.1f);
    std::vector<std::string> logged = csv_losses(run / "train.csv");
    ASSERT_EQ(losses.size(), 32u);
    ASSERT_EQ(logged.size(), losses.size());
    for (size_t i = 0; i < losses.size(); i++) EXPECT_EQ(logged[i], csv_loss(losses[i])) << "step " << i + 1;
    expect_bitwise("weights", copy_out(fed->params, fed->param_floats), copy_out(ref->params, ref->param_floats));
    expect_bitwise("momentum", copy_out(fed->momentum, fed->param_floats),
                   copy_out(ref->momentum, ref->param_floats));
    expect_bitwise("BN running statistics", copy_out(fed->running, fed->running_floats),
                   copy_out(ref->running, ref->running_floats));
    EXPECT_EQ(fed->images, fed->slot_images[0]) << "the trainer leaves input slot 0 selected";
    supernet_destroy(fed);
    supernet_destroy(ref);
}

// Recalibration and accuracy with limits that cut a batch (100 = 64 + 36,
// 200 = 3 x 64 + 8): the same BN statistics and counts as the plain loops.
TEST(BatchFeed, EvaluatorMatchesSynchronousUploads) {
    FeedSetup s;
    Supernet* sn = s.net();
    ASSERT_NE(sn, nullptr);
    int path[SPACE_MAX_LAYERS] = {1, 3, 0};
    HwErr err = {};
    Evaluator* ev = evaluator_create(sn, &s.cfg, SPLIT_VALID, 100, 200, &err);
    ASSERT_NE(ev, nullptr) << err.msg;
    double top1 = 0, top5 = 0;
    int count = 0;
    ASSERT_EQ(evaluator_recalibrate(ev, path, &err), 0) << err.msg;
    ASSERT_EQ(evaluator_accuracy(ev, path, &top1, &top5, &count, &err), 0) << err.msg;
    evaluator_destroy(ev);
    std::vector<float> running = copy_out(sn->running, sn->running_floats);
    ReferenceScore want = reference_score(sn, s.cfg, SPLIT_VALID, 100, 200, path);
    EXPECT_EQ(count, 200);
    EXPECT_EQ(want.count, 200);
    EXPECT_EQ(top1, want.top1);
    EXPECT_EQ(top5, want.top5);
    EXPECT_GT(top5, top1) << "a random net still gets some top-5 hits beyond top-1";
    expect_bitwise("recalibrated BN statistics", running, copy_out(sn->running, sn->running_floats));
    supernet_destroy(sn);
}

}  // namespace
