// Fused BatchNorm + activation (batchnorm_act_*) against a float64 PyTorch
// reference (tools/ref_cases/batchnorm_act.py), against the separate ops it
// replaces (plain BatchNorm, i.e. ACT_NONE, then activation: bit for bit on
// the CPU), with ACT_NONE against itself without beta and followed by the
// identity activation, by finite differences away from the kinks, and
// bitwise determinism per thread count. Speed is not asserted.
#include <cstring>

#include "kernels/ops.h"
#include "test_util.h"

namespace {

const char* kTrainCases[] = {
    "n1_h7_w7_c5_relu_affine",        "n4_h5_w3_c20_relu6_affine",
    "n3_h2_w2_c36_hswish_plain",      "n2_h9_w11_c13_hswish_norunning",
    "n1_h2_w2_c7_relu_plain_norunning", "n2_h6_w6_c20_relu6_plain",
    "n3_h5_w5_c36_none_affine",       "n2_h4_w4_c24_sigmoid_affine",
    "n2_h4_w4_c12_hsigmoid_affine",   "n2_h3_w3_c520_relu6_affine",
    "n128_h28_w28_c24_hswish_affine",
};
const char* kInferCases[] = {"n2_h3_w5_c20_relu6_affine", "n1_h4_w4_c7_hswish_plain",
                             "n3_h2_w2_c36_relu_affine"};

// Parameter gradients accumulate: they start from this, not zero.
const float kGradStart = 0.25f;

std::vector<float> plus(const std::vector<float>& v, float k) {
    std::vector<float> r(v);
    for (float& x : r) x += k;
    return r;
}

const float* data_or_null(const std::vector<float>& v, bool use) {
    return use ? v.data() : nullptr;
}
float* data_or_null(std::vector<float>& v, bool use) { return use ? v.data() : nullptr; }

// Tolerances against the float64 reference (errors are hwnas's alone):
//   out      a few float roundings of y = BN(x) (|y| up to ~10 here) and of the
//            activation: atol 2e-6 + rtol 2e-6.
//   mean, rstd, running stats: double sums rounded once or twice to float.
//   din      gamma*rstd*(dy - mean_dy - xhat*mean_dy_xhat): a difference of
//            O(1) float terms, with gamma*rstd up to ~4 here: atol 1e-5,
//            rtol 1e-5.
//   dgamma, dbeta  double sums of float terms (each within ~1e-7 relative),
//            so the error grows like sqrt(rows) * 1e-7 * |term|; against sums
//            that can cancel to ~sqrt(rows): atol 2e-6 * sqrt(rows), rtol 1e-5.
TEST(BatchNormAct, TrainMatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kTrainCases) {
        std::string p = std::string("train/") + name + "/";
        auto meta = ref_ints("batchnorm_act", p + "meta", 7);
        auto em = ref_floats("batchnorm_act", p + "eps_momentum", 2);
        ASSERT_FALSE(meta.empty() || em.empty()) << name;
        int rows = meta[0] * meta[1] * meta[2], c = meta[3];
        Activation act = (Activation)meta[4];
        bool affine = meta[5], running = meta[6];
        size_t n = (size_t)rows * c;
        auto in = ref_floats("batchnorm_act", p + "in", n);
        auto dout = ref_floats("batchnorm_act", p + "dout", n);
        std::vector<float> gamma, beta, rm, rv;
        if (affine) {
            gamma = ref_floats("batchnorm_act", p + "gamma", c);
            beta = ref_floats("batchnorm_act", p + "beta", c);
        }
        if (running) {
            rm = ref_floats("batchnorm_act", p + "running_mean_before", c);
            rv = ref_floats("batchnorm_act", p + "running_var_before", c);
        }
        ASSERT_FALSE(in.empty() || dout.empty()) << name;
        std::vector<float> out(n, NAN), mean(c), rstd(c), din(n, NAN);
        ops_cpu.batchnorm_act_forward_train(&ctx, act, out.data(), in.data(),
                                            data_or_null(gamma, affine),
                                            data_or_null(beta, affine), mean.data(), rstd.data(),
                                            data_or_null(rm, running), data_or_null(rv, running),
                                            rows, c, em[1], em[0]);
        expect_close(p + "out", out, ref_floats("batchnorm_act", p + "out", n), 2e-6f, 2e-6f);
        expect_close(p + "save_mean", mean, ref_floats("batchnorm_act", p + "save_mean", c), 1e-6f,
                     1e-6f);
        expect_close(p + "save_rstd", rstd, ref_floats("batchnorm_act", p + "save_rstd", c), 0,
                     2.4e-7f);
        if (running) {
            expect_close(p + "running_mean", rm,
                         ref_floats("batchnorm_act", p + "running_mean_after", c), 1e-7f, 2.4e-7f);
            expect_close(p + "running_var", rv,
                         ref_floats("batchnorm_act", p + "running_var_after", c), 0, 2.4e-7f);
        }
        std::vector<float> dgamma(c, kGradStart), dbeta(c, kGradStart);
        std::vector<float> scratch(batchnorm_scratch_floats(&ctx, c));
        ops_cpu.batchnorm_act_backward(&ctx, act, din.data(), data_or_null(dgamma, affine),
                                       data_or_null(dbeta, affine), dout.data(), in.data(),
                                       data_or_null(gamma, affine), data_or_null(beta, affine),
                                       mean.data(), rstd.data(), rows, c, scratch.data());
        expect_close(p + "din", din, ref_floats("batchnorm_act", p + "din", n), 1e-5f, 1e-5f);
        if (affine) {
            float atol = 2e-6f * std::sqrt((float)rows);
            expect_close(p + "dgamma (+0.25)", dgamma,
                         plus(ref_floats("batchnorm_act", p + "dgamma", c), kGradStart), atol,
                         1e-5f);
            expect_close(p + "dbeta (+0.25)", dbeta,
                         plus(ref_floats("batchnorm_act", p + "dbeta", c), kGradStart), atol,
                         1e-5f);
        }
    }
}

TEST(BatchNormAct, InferMatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kInferCases) {
        std::string p = std::string("infer/") + name + "/";
        auto meta = ref_ints("batchnorm_act", p + "meta", 6);
        auto eps = ref_floats("batchnorm_act", p + "eps", 1);
        ASSERT_FALSE(meta.empty() || eps.empty()) << name;
        int rows = meta[0] * meta[1] * meta[2], c = meta[3];
        Activation act = (Activation)meta[4];
        bool affine = meta[5];
        size_t n = (size_t)rows * c;
        auto in = ref_floats("batchnorm_act", p + "in", n);
        auto rm = ref_floats("batchnorm_act", p + "running_mean", c);
        auto rv = ref_floats("batchnorm_act", p + "running_var", c);
        std::vector<float> gamma, beta;
        if (affine) {
            gamma = ref_floats("batchnorm_act", p + "gamma", c);
            beta = ref_floats("batchnorm_act", p + "beta", c);
        }
        ASSERT_FALSE(in.empty() || rm.empty() || rv.empty()) << name;
        std::vector<float> out(n, NAN);
        ops_cpu.batchnorm_act_forward_infer(&ctx, act, out.data(), in.data(),
                                            data_or_null(gamma, affine),
                                            data_or_null(beta, affine), rm.data(), rv.data(), rows,
                                            c, eps[0]);
        expect_close(p + "out", out, ref_floats("batchnorm_act", p + "out", n), 2e-6f, 2e-6f);
    }
}

// ------------------------------------------------- against the separate ops

struct Shape {
    int rows, channels;
    bool affine, running;
    int threads;
};

// Rows x channels, with enough elements (>= 32768) in some for the parallel
// row split, and 600 channels for the CPU's 512-channel coefficient chunks.
const Shape kShapes[] = {
    {1 * 7 * 7, 5, true, true, 1},    {4 * 5 * 3, 20, true, true, 2},
    {2 * 9 * 11, 13, false, true, 2}, {3 * 2 * 2, 36, true, false, 1},
    {301, 150, true, true, 2},        {97, 600, false, true, 3},
    {2, 7, true, true, 2},            {300, 144, true, true, 64},
};

std::string shape_tag(const Shape& s, int act) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "act %d rows %d c %d%s%s threads %d: ", act, s.rows,
                  s.channels, s.affine ? " affine" : "", s.running ? " running" : "", s.threads);
    return buf;
}

// Inputs whose y = BN(x) spans every piece of relu6 / hardswish.
struct Inputs {
    std::vector<float> x, dout, gamma, beta, rm, rv, dgamma0, dbeta0;
};
Inputs make_inputs(const Shape& s, uint64_t seed) {
    size_t n = (size_t)s.rows * s.channels;
    Inputs in;
    in.x = random_floats(n, seed, -2.0f, 3.0f);
    in.dout = random_floats(n, seed + 1);
    in.gamma = random_floats(s.channels, seed + 2, 0.5f, 4.0f);
    in.beta = random_floats(s.channels, seed + 3, -1.0f, 3.0f);
    in.rm = random_floats(s.channels, seed + 4, -0.2f, 0.2f);
    in.rv = random_floats(s.channels, seed + 5, 0.5f, 2.0f);
    in.dgamma0 = random_floats(s.channels, seed + 6);
    in.dbeta0 = random_floats(s.channels, seed + 7);
    return in;
}

// Every output of a training forward and backward, and of an inference forward.
struct Results {
    std::vector<float> out, mean, rstd, rm, rv, din, dgamma, dbeta, infer;
};

Results run_fused(const Shape& s, Activation act, const Inputs& in) {
    OpContext ctx = {s.threads, nullptr};
    size_t n = (size_t)s.rows * s.channels;
    int c = s.channels;
    Results r{std::vector<float>(n, NAN), std::vector<float>(c), std::vector<float>(c), in.rm,
              in.rv, std::vector<float>(n, NAN), in.dgamma0, in.dbeta0,
              std::vector<float>(n, NAN)};
    const float* g = data_or_null(in.gamma, s.affine);
    const float* b = data_or_null(in.beta, s.affine);
    ops_cpu.batchnorm_act_forward_train(&ctx, act, r.out.data(), in.x.data(), g, b, r.mean.data(),
                                        r.rstd.data(), data_or_null(r.rm, s.running),
                                        data_or_null(r.rv, s.running), s.rows, c, 0.1f, 1e-5f);
    std::vector<float> scratch(batchnorm_scratch_floats(&ctx, c));
    ops_cpu.batchnorm_act_backward(&ctx, act, r.din.data(), data_or_null(r.dgamma, s.affine),
                                   data_or_null(r.dbeta, s.affine), in.dout.data(), in.x.data(),
                                   g, b, r.mean.data(), r.rstd.data(), s.rows, c, scratch.data());
    ops_cpu.batchnorm_act_forward_infer(&ctx, act, r.infer.data(), in.x.data(), g, b,
                                        in.rm.data(), in.rv.data(), s.rows, c, 1e-5f);
    return r;
}

// The unfused sequence the fused op replaces: BatchNorm into y, activation
// into out; activation backward into dy, BatchNorm backward from dy.
Results run_separate(const Shape& s, Activation act, const Inputs& in) {
    OpContext ctx = {s.threads, nullptr};
    size_t n = (size_t)s.rows * s.channels;
    int c = s.channels;
    Results r{std::vector<float>(n, NAN), std::vector<float>(c), std::vector<float>(c), in.rm,
              in.rv, std::vector<float>(n, NAN), in.dgamma0, in.dbeta0,
              std::vector<float>(n, NAN)};
    const float* g = data_or_null(in.gamma, s.affine);
    const float* b = data_or_null(in.beta, s.affine);
    std::vector<float> y(n), dy(n);
    ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, y.data(), in.x.data(), g, b, r.mean.data(),
                                        r.rstd.data(), data_or_null(r.rm, s.running),
                                        data_or_null(r.rv, s.running), s.rows, c, 0.1f, 1e-5f);
    ops_cpu.activation_forward(&ctx, act, r.out.data(), y.data(), n);
    ops_cpu.activation_backward(&ctx, act, dy.data(), in.dout.data(), y.data(), n);
    std::vector<float> scratch(batchnorm_scratch_floats(&ctx, c));
    ops_cpu.batchnorm_act_backward(&ctx, ACT_NONE, r.din.data(), data_or_null(r.dgamma, s.affine),
                                   data_or_null(r.dbeta, s.affine), dy.data(), in.x.data(), g,
                                   nullptr, r.mean.data(), r.rstd.data(), s.rows, c,
                                   scratch.data());
    ops_cpu.batchnorm_act_forward_infer(&ctx, ACT_NONE, y.data(), in.x.data(), g, b, in.rm.data(),
                                        in.rv.data(), s.rows, c, 1e-5f);
    ops_cpu.activation_forward(&ctx, act, r.infer.data(), y.data(), n);
    return r;
}

// Every result bit for bit (tolerance 0).
void expect_results_identical(const std::string& t, const Results& a, const Results& b) {
    expect_bitwise(t + "out", a.out, b.out);
    expect_bitwise(t + "save_mean", a.mean, b.mean);
    expect_bitwise(t + "save_rstd", a.rstd, b.rstd);
    expect_bitwise(t + "running_mean", a.rm, b.rm);
    expect_bitwise(t + "running_var", a.rv, b.rv);
    expect_bitwise(t + "din", a.din, b.din);
    expect_bitwise(t + "dgamma", a.dgamma, b.dgamma);
    expect_bitwise(t + "dbeta", a.dbeta, b.dbeta);
    expect_bitwise(t + "infer out", a.infer, b.infer);
}

// On the CPU the fused op computes y = BN(x) with ACT_NONE's body, then
// the activation's bodies, and dy = dout * act'(y) from the same y before
// the same double sums in the same order: the results are bit for bit those
// of the separate ops (tolerance 0), kinks included. So switching a network
// to the fused op does not change its training numerics at all.
TEST(BatchNormAct, EqualsPlainBatchNormThenActivation) {
    for (const Shape& s : kShapes)
        for (int a = ACT_RELU; a <= ACT_HSIGMOID; a++) {
            Activation act = (Activation)a;
            Inputs in = make_inputs(s, 100 + a);
            expect_results_identical(shape_tag(s, a), run_fused(s, act, in),
                                     run_separate(s, act, in));
        }
}

// ACT_NONE: the op followed by the identity activation (a copy), its
// backward given no beta (plain BatchNorm never recomputes y = BN(x)),
// equals the op itself, bit for bit.
TEST(BatchNormAct, ActNoneEqualsPlainBatchNorm) {
    for (const Shape& s : kShapes) {
        Inputs in = make_inputs(s, 200);
        expect_results_identical(shape_tag(s, ACT_NONE), run_fused(s, ACT_NONE, in),
                                 run_separate(s, ACT_NONE, in));
    }
}

// din may alias dout; a NULL din still accumulates dgamma/dbeta; NULL
// dgamma/dbeta (non-affine parameters not trained) still give din.
TEST(BatchNormAct, AliasingAndNullGradients) {
    const Shape s = {4 * 6 * 6, 21, true, false, 2};
    Inputs in = make_inputs(s, 300);
    for (int a = ACT_NONE; a <= ACT_HSIGMOID; a++) {
        Activation act = (Activation)a;
        std::string t = shape_tag(s, a);
        Results want = run_fused(s, act, in);
        OpContext ctx = {s.threads, nullptr};
        std::vector<float> scratch(batchnorm_scratch_floats(&ctx, s.channels));
        std::vector<float> g = in.dout, dgamma = in.dgamma0, dbeta = in.dbeta0;
        ops_cpu.batchnorm_act_backward(&ctx, act, g.data(), dgamma.data(), dbeta.data(), g.data(),
                                       in.x.data(), in.gamma.data(), in.beta.data(),
                                       want.mean.data(), want.rstd.data(), s.rows, s.channels,
                                       scratch.data());
        expect_bitwise(t + "din aliasing dout", g, want.din);
        expect_bitwise(t + "dgamma with aliasing", dgamma, want.dgamma);
        dgamma = in.dgamma0, dbeta = in.dbeta0;
        ops_cpu.batchnorm_act_backward(&ctx, act, nullptr, dgamma.data(), dbeta.data(),
                                       in.dout.data(), in.x.data(), in.gamma.data(),
                                       in.beta.data(), want.mean.data(), want.rstd.data(), s.rows,
                                       s.channels, scratch.data());
        expect_bitwise(t + "dgamma without din", dgamma, want.dgamma);
        expect_bitwise(t + "dbeta without din", dbeta, want.dbeta);
        std::vector<float> din(in.dout.size(), NAN);
        ops_cpu.batchnorm_act_backward(&ctx, act, din.data(), nullptr, nullptr, in.dout.data(),
                                       in.x.data(), in.gamma.data(), in.beta.data(),
                                       want.mean.data(), want.rstd.data(), s.rows, s.channels,
                                       scratch.data());
        expect_bitwise(t + "din without dgamma/dbeta", din, want.din);
    }
}

// ------------------------------------------------------ finite differences

bool near_kink(Activation act, float y, float margin) {
    const float kinks[] = {-3.0f, 0.0f, 3.0f, 6.0f};
    for (float k : kinks) {
        bool is_kink = (k == 0.0f && (act == ACT_RELU || act == ACT_RELU6)) ||
                       (k == 6.0f && act == ACT_RELU6) ||
                       ((k == -3.0f || k == 3.0f) && (act == ACT_HSWISH || act == ACT_HSIGMOID));
        if (is_kink && std::fabs(y - k) < margin) return true;
    }
    return false;
}

// Moves inputs until no y = BN(x) is within `margin` of a kink of act, so a
// central difference of step 1e-3 in x never straddles one.
void move_away_from_kinks(Activation act, std::vector<float>& x, const float* gamma,
                          const float* beta, int rows, int c) {
    OpContext ctx = {1, nullptr};
    std::vector<float> y(x.size()), mean(c), rstd(c);
    for (int pass = 0; pass < 20; pass++) {
        ops_cpu.batchnorm_act_forward_train(&ctx, ACT_NONE, y.data(), x.data(), gamma, beta,
                                            mean.data(), rstd.data(), nullptr, nullptr, rows, c,
                                            0.1f, 1e-5f);
        bool moved = false;
        for (size_t i = 0; i < x.size(); i++)
            if (near_kink(act, y[i], 0.05f)) {
                x[i] += 0.15f / (rstd[i % c] * (gamma ? std::fabs(gamma[i % c]) : 1.0f));
                moved = true;
            }
        if (!moved) return;
    }
    ADD_FAILURE() << "inputs keep landing on a kink";
}

// loss = sum(act(BN(x)) * probe) through the training forward (batch
// statistics included), for din, dgamma and dbeta.
void check_backward_fd(Activation act, int rows, int c, bool affine, uint64_t seed) {
    OpContext ctx = {1, nullptr};
    size_t n = (size_t)rows * c;
    std::vector<float> x = random_floats(n, seed, -2.0f, 2.0f);
    std::vector<float> gamma = random_floats(c, seed + 1, 0.5f, 3.5f);
    std::vector<float> beta = random_floats(c, seed + 2, -1.0f, 3.0f);
    std::vector<float> probe = random_floats(n, seed + 3), out(n), mean(c), rstd(c);
    const float* g = data_or_null(gamma, affine);
    const float* b = data_or_null(beta, affine);
    move_away_from_kinks(act, x, g, b, rows, c);
    const float eps = 1e-5f;
    ops_cpu.batchnorm_act_forward_train(&ctx, act, out.data(), x.data(), g, b, mean.data(),
                                        rstd.data(), nullptr, nullptr, rows, c, 0.1f, eps);
    std::vector<float> din(n), dgamma(c, 0.0f), dbeta(c, 0.0f);
    std::vector<float> scratch(batchnorm_scratch_floats(&ctx, c));
    ops_cpu.batchnorm_act_backward(&ctx, act, din.data(), data_or_null(dgamma, affine),
                                   data_or_null(dbeta, affine), probe.data(), x.data(), g, b,
                                   mean.data(), rstd.data(), rows, c, scratch.data());
    auto loss = [&]() {
        std::vector<float> m(c), r(c);
        ops_cpu.batchnorm_act_forward_train(&ctx, act, out.data(), x.data(), g, b, m.data(),
                                            r.data(), nullptr, nullptr, rows, c, 0.1f, eps);
        return dot_double(out.data(), probe.data(), n);
    };
    std::string what = "bn+act " + std::to_string(act) + " rows " + std::to_string(rows) + " c " +
                       std::to_string(c) + (affine ? " affine" : " plain");
    // float forward, step 1e-3: the fd noise is ~1e-4 on O(1) derivatives.
    expect_gradient_matches_fd(what + " din", x.data(), n, din.data(), loss, 200, 1e-3, 1e-3, 1e-2);
    if (affine) {
        expect_gradient_matches_fd(what + " dgamma", gamma.data(), c, dgamma.data(), loss, c, 1e-3,
                                   1e-3, 1e-2);
        expect_gradient_matches_fd(what + " dbeta", beta.data(), c, dbeta.data(), loss, c, 1e-3,
                                   1e-3, 1e-2);
    }
}

TEST(BatchNormAct, BackwardMatchesFiniteDifference) {
    for (int a = ACT_RELU; a <= ACT_HSIGMOID; a++) {
        Activation act = (Activation)a;
        check_backward_fd(act, 18, 5, true, 11 + a);   // batch 2 x 3x3
        check_backward_fd(act, 4, 7, false, 21 + a);   // batch 1 x 2x2, non-affine
        check_backward_fd(act, 9, 20, true, 31 + a);   // batch 1 x 3x3
    }
}

// ------------------------------------------------------------ determinism

// Same thread count -> bitwise identical; other counts -> equal to rounding
// (the row split changes the order of the double sums only).
TEST(BatchNormAct, DeterministicPerThreadCount) {
    for (Activation act : {ACT_RELU6, ACT_HSWISH}) {
        Shape s = {97, 600, true, true, 1};
        Inputs in = make_inputs(s, 400 + act);
        Results one = run_fused(s, act, in);
        for (int threads : {2, 3, 64}) {
            s.threads = threads;
            Results a = run_fused(s, act, in), b = run_fused(s, act, in);
            std::string t = shape_tag(s, act);
            expect_results_identical(t + "rerun ", a, b);
            expect_close(t + "out vs 1 thread", a.out, one.out, 1e-6f, 1e-6f);
            expect_close(t + "rstd vs 1 thread", a.rstd, one.rstd, 0, 1e-6f);
            expect_close(t + "running_var vs 1 thread", a.rv, one.rv, 0, 1e-6f);
            expect_close(t + "din vs 1 thread", a.din, one.din, 1e-5f, 1e-5f);
            expect_close(t + "dgamma vs 1 thread", a.dgamma, one.dgamma, 1e-5f, 1e-6f);
            expect_close(t + "dbeta vs 1 thread", a.dbeta, one.dbeta, 1e-5f, 1e-6f);
        }
    }
}

}  // namespace
