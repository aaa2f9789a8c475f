// Activations against PyTorch (forward, input gradient) and finite differences.
#include "kernels/ops.h"
#include "test_util.h"

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
