// Activations against PyTorch (forward, input gradient) and finite differences.
#include <cstring>

#include "kernels/ops.h"
#include "kernels/shared/activation_body.h"
#include "test_util.h"

// Bitwise comparison (memcmp, so -0 and +0 differ), printing its count like
// expect_close, for results that must be identical by construction.
static const char* kActs[] = {"relu", "relu6", "hswish", "sigmoid", "hsigmoid"};

TEST(Activation, MatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kActs) {
        std::string p = std::string(name) + "/";
        auto code = ref_ints("activation", p + "code", 1);
        auto in = ref_floats("activation", p + "in");
        auto want = ref_floats("activation", p + "out", in.size());
        auto dout = ref_floats("activation", p + "dout", in.size());
        auto want_din = ref_floats("activation", p + "din", in.size());
        ASSERT_FALSE(code.empty() || want.empty() || want_din.empty());
        Activation act = (Activation)code[0];
        std::vector<float> out(in.size()), din(in.size());
        ops_cpu.activation_forward(&ctx, act, out.data(), in.data(), in.size());
        ops_cpu.activation_backward(&ctx, act, din.data(), dout.data(), in.data(), in.size());
        expect_close(p + "out", out, want, 1e-6f, 1e-6f);
        expect_close(p + "din", din, want_din, 1e-6f, 1e-5f);
    }
}

TEST(Activation, GradientMatchesFiniteDifference) {
    OpContext ctx = {1, nullptr};
    // Points away from the kinks, where the derivative is defined.
    std::vector<float> x = random_floats(257, 7, -7.5f, 7.5f);
    for (float& v : x)
        for (float k : {-3.0f, 0.0f, 3.0f, 6.0f})
            if (std::fabs(v - k) < 0.01f) v = k + 0.05f;
    std::vector<float> probe = random_floats(x.size(), 8), out(x.size()), din(x.size());
    for (int a = ACT_RELU; a <= ACT_HSIGMOID; a++) {
        Activation act = (Activation)a;
        ops_cpu.activation_backward(&ctx, act, din.data(), probe.data(), x.data(), x.size());
        auto loss = [&]() {
            ops_cpu.activation_forward(&ctx, act, out.data(), x.data(), x.size());
            return dot_double(out.data(), probe.data(), out.size());
        };
        expect_gradient_matches_fd("activation " + std::to_string(a), x.data(), x.size(), din.data(),
                                   loss, 257, 1e-3, 1e-3, 1e-2);
    }
}

// Above 32768 elements the ops split the array over threads (ranges of whole
// 64-byte lines) and run one vectorized loop per activation kind: every
// thread count gives the elementwise result bit for bit, din may alias dout,
// and an odd length exercises the vector loops' tails.
TEST(Activation, ThreadSplitsMatchOneThreadExactly) {
    const size_t n = 100003;
    std::vector<float> x = random_floats(n, 9, -8.0f, 9.0f), dout = random_floats(n, 10);
    for (size_t i = 0; i < 8; i++) x[i * 997] = (float)((int)i - 3);  // the kinks
    for (int a = ACT_NONE; a <= ACT_HSIGMOID; a++) {
        Activation act = (Activation)a;
        OpContext one = {1, nullptr};
        std::vector<float> out1(n, NAN), din1(n, NAN);
        ops_cpu.activation_forward(&one, act, out1.data(), x.data(), n);
        ops_cpu.activation_backward(&one, act, din1.data(), dout.data(), x.data(), n);
        // Spot checks against the scalar bodies: g++ contracts h-swish's
        // slope x/3 + 1/2 (O(1) terms) into an FMA here and gcc -std=c11 does
        // not, so allow 2 ulp of the slope's terms, times |dout|.
        for (size_t i = 0; i < n; i += 4099) {
            float want_out = activation_apply(act, x[i]);
            float want_din = dout[i] * activation_derivative(act, x[i]);
            EXPECT_NEAR(out1[i], want_out, 2.4e-7f * std::fabs(want_out)) << a << " at " << i;
            EXPECT_NEAR(din1[i], want_din, 2.4e-7f * std::fabs(dout[i])) << a << " at " << i;
        }
        for (int threads : {2, 3, 64}) {
            OpContext ctx = {threads, nullptr};
            std::string t = "act " + std::to_string(a) + " threads " + std::to_string(threads);
            std::vector<float> out(n, NAN), g = dout;
            ops_cpu.activation_forward(&ctx, act, out.data(), x.data(), n);
            ops_cpu.activation_backward(&ctx, act, g.data(), g.data(), x.data(), n);
            expect_bitwise(t + " out", out, out1);
            expect_bitwise(t + " din (aliasing dout)", g, din1);
        }
    }
}
