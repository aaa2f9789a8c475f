// BatchNorm (training forward, running stats, inference, backward) against
// torch.nn.functional.batch_norm, finite differences, a double-precision
// reference over 100k rows, and bitwise determinism per thread count.
#include <cstring>

#include "kernels/ops.h"
#include "test_util.h"

static const char* kTrainCases[] = {
    "n4_h5_w3_c20_affine",     "n1_h7_w7_c5_affine",          "n3_h2_w2_c36_plain",
    "n2_h9_w11_c13_norunning", "n1_h2_w2_c7_plain_norunning", "n8_h28_w28_c12_shifted",
};
static const char* kInferCases[] = {"n2_h3_w5_c20_affine", "n1_h4_w4_c7_plain",
                                    "n3_h2_w2_c36_affine"};

// Accumulation check: param grads start from this, not zero.
static const float kGradStart = 0.25f;

static std::vector<float> plus(const std::vector<float>& v, float k) {
    std::vector<float> r(v);
    for (float& x : r) x += k;
    return r;
}

static std::vector<float> scratch_for(const OpContext* ctx, int channels) {
    return std::vector<float>(batchnorm_scratch_floats(ctx, channels));
}

// Tolerances: outputs are O(1) with float rounding of a handful of operations
// on both sides (torch normalizes as x*alpha + beta, we as (x-mean)*rstd*g+b).
TEST(BatchNorm, TrainMatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kTrainCases) {
        std::string p = std::string("train/") + name + "/";
        auto meta = ref_ints("batchnorm", p + "meta", 6);
        auto em = ref_floats("batchnorm", p + "eps_momentum", 2);
        ASSERT_FALSE(meta.empty() || em.empty()) << name;
        int rows = meta[0] * meta[1] * meta[2], c = meta[3];
        bool affine = meta[4], running = meta[5];
        size_t n = (size_t)rows * c;
        auto in = ref_floats("batchnorm", p + "in", n);
        auto dout = ref_floats("batchnorm", p + "dout", n);
        std::vector<float> gamma, beta, rm, rv;
        if (affine) {
            gamma = ref_floats("batchnorm", p + "gamma", c);
            beta = ref_floats("batchnorm", p + "beta", c);
        }
        if (running) {
            rm = ref_floats("batchnorm", p + "running_mean_before", c);
            rv = ref_floats("batchnorm", p + "running_var_before", c);
        }
        ASSERT_FALSE(in.empty() || dout.empty()) << name;
        std::vector<float> out(n), mean(c), rstd(c), din(n, NAN);
        ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, out.data(), in.data(),
                                            affine ? gamma.data() : nullptr,
                                            affine ? beta.data() : nullptr, mean.data(),
                                            rstd.data(), running ? rm.data() : nullptr,
                                            running ? rv.data() : nullptr, rows, c, em[1], em[0]);
        expect_close(p + "out", out, ref_floats("batchnorm", p + "out", n), 2e-6f, 2e-6f);
        expect_close(p + "save_mean", mean, ref_floats("batchnorm", p + "save_mean", c), 1e-6f, 1e-6f);
        expect_close(p + "save_rstd", rstd, ref_floats("batchnorm", p + "save_rstd", c), 0, 2e-6f);
        if (running) {
            expect_close(p + "running_mean", rm,
                         ref_floats("batchnorm", p + "running_mean_after", c), 1e-6f, 1e-6f);
            expect_close(p + "running_var", rv,
                         ref_floats("batchnorm", p + "running_var_after", c), 1e-6f, 2e-6f);
        }
        std::vector<float> dgamma(c, kGradStart), dbeta(c, kGradStart);
        auto scratch = scratch_for(&ctx, c);
        ops_cpu.batchnorm_act_backward(&ctx, ACT_NONE, din.data(), affine ? dgamma.data() : nullptr,
                                       affine ? dbeta.data() : nullptr, dout.data(), in.data(),
                                       affine ? gamma.data() : nullptr, nullptr, mean.data(),
                                       rstd.data(), rows, c, scratch.data());
        // din is a difference of O(1) terms: atol covers its cancellation.
        expect_close(p + "din", din, ref_floats("batchnorm", p + "din", n), 3e-6f, 1e-5f);
        if (affine) {
            // Sums over up to 6272 rows; torch and we round differently (~2e-7 relative).
            expect_close(p + "dgamma (+0.25)", dgamma,
                         plus(ref_floats("batchnorm", p + "dgamma", c), kGradStart), 1e-5f, 2e-6f);
            expect_close(p + "dbeta (+0.25)", dbeta,
                         plus(ref_floats("batchnorm", p + "dbeta", c), kGradStart), 1e-5f, 2e-6f);
        }
    }
}

TEST(BatchNorm, InferMatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kInferCases) {
        std::string p = std::string("infer/") + name + "/";
        auto meta = ref_ints("batchnorm", p + "meta", 5);
        auto eps = ref_floats("batchnorm", p + "eps", 1);
        ASSERT_FALSE(meta.empty() || eps.empty()) << name;
        int rows = meta[0] * meta[1] * meta[2], c = meta[3];
        bool affine = meta[4];
        size_t n = (size_t)rows * c;
        auto in = ref_floats("batchnorm", p + "in", n);
        auto rm = ref_floats("batchnorm", p + "running_mean", c);
        auto rv = ref_floats("batchnorm", p + "running_var", c);
        std::vector<float> gamma, beta;
        if (affine) {
            gamma = ref_floats("batchnorm", p + "gamma", c);
            beta = ref_floats("batchnorm", p + "beta", c);
        }
        ASSERT_FALSE(in.empty() || rm.empty() || rv.empty()) << name;
        std::vector<float> out(n);
        ops_cpu.batchnorm_act_forward_infer(&ctx, ACT_NONE, out.data(), in.data(),
                                            affine ? gamma.data() : nullptr,
                                            affine ? beta.data() : nullptr, rm.data(), rv.data(),
                                            rows, c, eps[0]);
        expect_close(p + "out", out, ref_floats("batchnorm", p + "out", n), 2e-6f, 2e-6f);
    }
}

// Finite differences of loss = sum(out * probe) through the training forward
// (batch statistics included) for din, dgamma and dbeta.
static void check_backward_fd(int rows, int c, bool affine, uint64_t seed) {
    OpContext ctx = {1, nullptr};
    size_t n = (size_t)rows * c;
    std::vector<float> x = random_floats(n, seed, -2.0f, 2.0f);
    std::vector<float> gamma = random_floats(c, seed + 1, 0.5f, 1.5f);
    std::vector<float> beta = random_floats(c, seed + 2, -0.5f, 0.5f);
    std::vector<float> probe = random_floats(n, seed + 3), out(n), mean(c), rstd(c);
    const float* g = affine ? gamma.data() : nullptr;
    const float* b = affine ? beta.data() : nullptr;
    const float eps = 1e-5f;
    ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, out.data(), x.data(), g, b, mean.data(),
                                        rstd.data(), nullptr, nullptr, rows, c, 0.1f, eps);
    std::vector<float> din(n), dgamma(c, 0.0f), dbeta(c, 0.0f);
    auto scratch = scratch_for(&ctx, c);
    ops_cpu.batchnorm_act_backward(&ctx, ACT_NONE, din.data(), affine ? dgamma.data() : nullptr,
                                   affine ? dbeta.data() : nullptr, probe.data(), x.data(), g,
                                   nullptr, mean.data(), rstd.data(), rows, c, scratch.data());
    auto loss = [&]() {
        std::vector<float> m(c), r(c);
        ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, out.data(), x.data(), g, b, m.data(),
                                            r.data(), nullptr, nullptr, rows, c, 0.1f, eps);
        return dot_double(out.data(), probe.data(), n);
    };
    std::string what = "bn rows " + std::to_string(rows) + " c " + std::to_string(c) +
                       (affine ? " affine" : " plain");
    // float forward, step 1e-3: the fd noise is ~1e-4 on O(1) derivatives.
    expect_gradient_matches_fd(what + " din", x.data(), n, din.data(), loss, 200, 1e-3, 1e-3, 1e-2);
    if (affine) {
        expect_gradient_matches_fd(what + " dgamma", gamma.data(), c, dgamma.data(), loss, c, 1e-3,
                                   1e-3, 1e-2);
        expect_gradient_matches_fd(what + " dbeta", beta.data(), c, dbeta.data(), loss, c, 1e-3,
                                   1e-3, 1e-2);
    }
}

TEST(BatchNorm, BackwardMatchesFiniteDifference) {
    check_backward_fd(18, 5, true, 11);   // batch 2 x 3x3
    check_backward_fd(4, 7, false, 12);   // batch 1 x 2x2, non-affine
    check_backward_fd(9, 20, true, 13);   // batch 1 x 3x3
}

// Batch 128 x 28x28 = 100352 rows with |mean| up to 12 and std ~2, against
// statistics computed in double (two passes), to one float rounding. A float
// running sum over 100k rows (sum ~1e6, ulp 0.06) cannot meet these
// tolerances, and E[x^2] - E[x]^2 in float cancels most of the variance.
TEST(BatchNorm, LargeBatchStatisticsAreAccurate) {
    OpContext ctx = {2, nullptr};
    const int rows = 128 * 28 * 28, c = 8;
    size_t n = (size_t)rows * c;
    std::vector<float> x = random_floats(n, 21, -3.5f, 3.5f);
    for (size_t i = 0; i < n; i++) x[i] += 8.0f + (float)(i % c);
    std::vector<float> out(n), mean(c), rstd(c), rm(c, 0.0f), rv(c, 1.0f);
    const float eps = 1e-5f, momentum = 0.1f;
    ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, out.data(), x.data(), nullptr, nullptr,
                                        mean.data(), rstd.data(), rm.data(), rv.data(), rows, c,
                                        momentum, eps);
    std::vector<double> dmean(c, 0.0), dvar(c, 0.0);
    for (size_t i = 0; i < n; i++) dmean[i % c] += x[i];
    for (int k = 0; k < c; k++) dmean[k] /= rows;
    for (size_t i = 0; i < n; i++) dvar[i % c] += (x[i] - dmean[i % c]) * (x[i] - dmean[i % c]);
    std::vector<float> want_mean(c), want_rstd(c), want_rv(c), want_rm(c);
    for (int k = 0; k < c; k++) {
        double var = dvar[k] / rows;
        want_mean[k] = (float)dmean[k];
        want_rstd[k] = (float)(1.0 / std::sqrt(var + eps));
        want_rm[k] = (float)(momentum * dmean[k]);
        want_rv[k] = (float)((1.0 - momentum) + momentum * var * rows / (rows - 1));
    }
    // One float rounding of the exact value: half an ulp, 6e-8 relative.
    expect_close("100k rows save_mean", mean, want_mean, 0, 1.2e-7f);
    expect_close("100k rows save_rstd", rstd, want_rstd, 0, 1.2e-7f);
    expect_close("100k rows running_mean", rm, want_rm, 0, 2.5e-7f);
    expect_close("100k rows running_var", rv, want_rv, 0, 2.5e-7f);

    // Backward sums against double.
    std::vector<float> dout = random_floats(n, 22), din(n), dgamma(c, 0.0f), dbeta(c, 0.0f);
    auto scratch = scratch_for(&ctx, c);
    ops_cpu.batchnorm_act_backward(&ctx, ACT_NONE, din.data(), dgamma.data(), dbeta.data(),
                                   dout.data(), x.data(), nullptr, nullptr, mean.data(),
                                   rstd.data(), rows, c, scratch.data());
    std::vector<double> sdy(c, 0.0), sdyx(c, 0.0);
    for (size_t i = 0; i < n; i++) {
        sdy[i % c] += dout[i];
        sdyx[i % c] += (double)dout[i] * ((double)x[i] - mean[i % c]) * rstd[i % c];
    }
    std::vector<float> want_dbeta(sdy.begin(), sdy.end()), want_dgamma(sdyx.begin(), sdyx.end());
    expect_close("100k rows dbeta", dbeta, want_dbeta, 0, 1.2e-7f);
    expect_close("100k rows dgamma", dgamma, want_dgamma, 0, 1.2e-7f);
    // din is elementwise after the sums; spot-check it in double.
    std::vector<float> want_din(n);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i % c);
        double xhat = ((double)x[i] - mean[k]) * rstd[k];
        want_din[i] = (float)(rstd[k] * (dout[i] - sdy[k] / rows - xhat * sdyx[k] / rows));
    }
    expect_close("100k rows din", din, want_din, 1e-6f, 1e-5f);
}

// Same thread count -> bitwise identical; other counts -> equal to rounding.
// 64 threads make the forward's stack chunks (64 channels) split 150 channels.
TEST(BatchNorm, DeterministicPerThreadCount) {
    const int rows = 301, c = 150;
    size_t n = (size_t)rows * c;
    std::vector<float> x = random_floats(n, 31, -1.0f, 3.0f), dout = random_floats(n, 32);
    std::vector<float> gamma = random_floats(c, 33, 0.5f, 1.5f), beta = random_floats(c, 34);
    struct Result {
        std::vector<float> out, mean, rstd, rm, rv, din, dgamma, dbeta;
    };
    auto run = [&](int threads) {
        OpContext ctx = {threads, nullptr};
        Result r{std::vector<float>(n), std::vector<float>(c), std::vector<float>(c),
                 std::vector<float>(c, 0.1f), std::vector<float>(c, 0.9f), std::vector<float>(n),
                 std::vector<float>(c, 0.0f), std::vector<float>(c, 0.0f)};
        ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, r.out.data(), x.data(), gamma.data(),
                                            beta.data(), r.mean.data(), r.rstd.data(), r.rm.data(),
                                            r.rv.data(), rows, c, 0.1f, 1e-5f);
        // A float buffer that starts off the 8-byte grid: the op aligns it.
        std::vector<float> scratch(batchnorm_scratch_floats(&ctx, c) + 1);
        ops_cpu.batchnorm_act_backward(&ctx, ACT_NONE, r.din.data(), r.dgamma.data(),
                                       r.dbeta.data(), dout.data(), x.data(), gamma.data(), nullptr,
                                       r.mean.data(), r.rstd.data(), rows, c, scratch.data() + 1);
        return r;
    };
    auto bitwise = [](const std::vector<float>& a, const std::vector<float>& b) {
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
    };
    Result one = run(1);
    for (int threads : {2, 3, 64}) {
        Result a = run(threads), b = run(threads);
        std::string t = "threads " + std::to_string(threads) + " ";
        EXPECT_TRUE(bitwise(a.out, b.out) && bitwise(a.mean, b.mean) && bitwise(a.rstd, b.rstd) &&
                    bitwise(a.rv, b.rv) && bitwise(a.din, b.din) && bitwise(a.dgamma, b.dgamma) &&
                    bitwise(a.dbeta, b.dbeta))
            << t << "two runs differ";
        expect_close(t + "out vs 1 thread", a.out, one.out, 1e-6f, 1e-6f);
        expect_close(t + "rstd vs 1 thread", a.rstd, one.rstd, 0, 1e-6f);
        expect_close(t + "running_var vs 1 thread", a.rv, one.rv, 0, 1e-6f);
        expect_close(t + "din vs 1 thread", a.din, one.din, 1e-6f, 1e-5f);
        expect_close(t + "dgamma vs 1 thread", a.dgamma, one.dgamma, 1e-5f, 1e-6f);
    }
}
