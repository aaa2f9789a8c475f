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

// Two epochs (the first batch of each is fetched before its step, the others
// while the previous step runs) against the synchronous loop.
TEST(BatchFeed, TrainerMatchesSynchronousUploads) {
    FeedSetup s(&ops_cpu, kCtx, 0);
    expect_trainer_matches_reference(s);
}

// Recalibration and accuracy with limits that cut a batch (100 = 64 + 36,
// 200 = 3 x 64 + 8).
TEST(BatchFeed, EvaluatorMatchesSynchronousUploads) {
    FeedSetup s(&ops_cpu, kCtx, 0);
    expect_evaluator_matches_reference(s);
}

}  // namespace
