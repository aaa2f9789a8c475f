// Label-smoothed cross-entropy against torch.nn.functional.cross_entropy
// (loss and logits gradient), finite differences, and top-1/top-5 counts
// against torch.topk (tie-free data) plus the documented tie order.
#include "kernels/ops.h"
#include "test_util.h"

static const char* kCe[] = {"b1_k10_s0",      "b7_k10_s0.1",       "b1_k1000_s0.1",
                            "b5_k1000_s0",    "b33_k1000_s0.1",    "b9_k10_s0.1_large",
                            "b3_k1000_s0_large"};
static const char* kTopk[] = {"b37_k10", "b64_k1000", "b5_k6"};

TEST(CrossEntropy, MatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kCe) {
        std::string p = std::string("ce/") + name + "/";
        auto meta = ref_ints("loss", p + "meta", 2);
        auto smoothing = ref_floats("loss", p + "smoothing", 1);
        ASSERT_FALSE(meta.empty() || smoothing.empty()) << name;
        int batch = meta[0], classes = meta[1];
        auto logits = ref_floats("loss", p + "logits", (size_t)batch * classes);
        auto labels = ref_ints("loss", p + "labels", batch);
        auto want_loss = ref_floats("loss", p + "loss", 1);
        ASSERT_FALSE(logits.empty() || labels.empty() || want_loss.empty());
        float loss = NAN, loss_only = NAN;
        std::vector<float> dlogits(logits.size(), NAN);
        ops_cpu.cross_entropy_forward_backward(&ctx, &loss, dlogits.data(), logits.data(),
                                               labels.data(), batch, classes, smoothing[0]);
        // Losses up to ~60 from logits up to ~300 in magnitude: a few float
        // ulps of the log-sum-exp on either side.
        expect_close(p + "loss", &loss, want_loss.data(), 1, 2e-6f, 2e-6f);
        // Gradients are (p - q)/batch with p in [0, 1]: absolute error.
        expect_close(p + "dlogits", dlogits, ref_floats("loss", p + "dlogits", logits.size()),
                     5e-8f, 2e-6f);
        ops_cpu.cross_entropy_forward_backward(&ctx, &loss_only, nullptr, logits.data(),
                                               labels.data(), batch, classes, smoothing[0]);
        EXPECT_EQ(loss_only, loss) << p << " loss without gradient";
    }
}

// The loss is a mean of float row losses: central differences in double of
// the float loss, with a step large enough to swamp its rounding.
TEST(CrossEntropy, GradientMatchesFiniteDifference) {
    OpContext ctx = {1, nullptr};
    for (float smoothing : {0.0f, 0.1f}) {
        for (int classes : {10, 37}) {
            const int batch = 3;
            auto logits = random_floats((size_t)batch * classes, classes, -3.0f, 3.0f);
            std::vector<int> labels = {1, classes - 1, 4};
            std::vector<float> dlogits(logits.size());
            float loss;
            ops_cpu.cross_entropy_forward_backward(&ctx, &loss, dlogits.data(), logits.data(),
                                                   labels.data(), batch, classes, smoothing);
            auto f = [&]() {
                float l;
                ops_cpu.cross_entropy_forward_backward(&ctx, &l, nullptr, logits.data(),
                                                       labels.data(), batch, classes, smoothing);
                return (double)l;
            };
            std::string what = "ce k" + std::to_string(classes) + " s" + std::to_string(smoothing);
            expect_gradient_matches_fd(what, logits.data(), logits.size(), dlogits.data(), f, 111,
                                       1e-2, 1e-4, 1e-2);
        }
    }
}

// Bitwise reproducible for a thread count; the threaded path (batch*classes
// >= 32768) splits rows into ranges summed in a fixed order.
TEST(CrossEntropy, DeterministicPerThreadCount) {
    const int batch = 67, classes = 1000;
    auto logits = random_floats((size_t)batch * classes, 5, -4.0f, 4.0f);
    std::vector<int> labels(batch);
    for (int b = 0; b < batch; b++) labels[b] = (b * 37) % classes;
    auto run = [&](int threads, std::vector<float>* d) {
        OpContext ctx = {threads, nullptr};
        float loss;
        ops_cpu.cross_entropy_forward_backward(&ctx, &loss, d->data(), logits.data(),
                                               labels.data(), batch, classes, 0.1f);
        return loss;
    };
    std::vector<float> d1(logits.size()), d3a(logits.size()), d3b(logits.size());
    float l1 = run(1, &d1), l3a = run(3, &d3a), l3b = run(3, &d3b);
    EXPECT_EQ(l3a, l3b);
    EXPECT_TRUE(d3a == d3b);
    EXPECT_TRUE(d1 == d3a);  // rows are independent
    expect_close("ce loss 3 threads vs 1", &l3a, &l1, 1, 0, 1e-6f);
}

TEST(TopK, MatchesTorch) {
    OpContext ctx = {1, nullptr};
    for (const char* name : kTopk) {
        std::string p = std::string("topk/") + name + "/";
        auto meta = ref_ints("loss", p + "meta", 2);
        ASSERT_FALSE(meta.empty());
        int batch = meta[0], classes = meta[1];
        auto logits = ref_floats("loss", p + "logits", (size_t)batch * classes);
        auto labels = ref_ints("loss", p + "labels", batch);
        auto want = ref_ints("loss", p + "correct", 2);
        ASSERT_FALSE(logits.empty() || labels.empty() || want.empty());
        int c1 = -1, c5 = -1;
        ops_cpu.topk_correct(&ctx, &c1, &c5, logits.data(), labels.data(), batch, classes);
        EXPECT_EQ(c1, want[0]) << p << " top-1";
        EXPECT_EQ(c5, want[1]) << p << " top-5";
        std::printf("    %-48s top-1 %d/%d  top-5 %d/%d (torch %d, %d)\n", p.c_str(), c1, batch, c5,
                    batch, want[0], want[1]);
    }
}

// Ties go to the lower index (ops.h): with all logits equal the label's rank
// is its index.
TEST(TopK, TiesFavorLowerIndex) {
    OpContext ctx = {1, nullptr};
    const int classes = 8;
    std::vector<float> logits(4 * classes, 0.5f);
    logits[3 * classes + 6] = 2.0f;  // row 3: a clear winner at 6
    std::vector<int> labels = {0, 4, 5, 6};
    int c1 = -1, c5 = -1;
    ops_cpu.topk_correct(&ctx, &c1, &c5, logits.data(), labels.data(), 4, classes);
    EXPECT_EQ(c1, 2);  // rows 0 and 3
    EXPECT_EQ(c5, 3);  // rows 0, 1 (rank 4) and 3; row 2 has rank 5
}
