// Global average pool and squeeze-excitation channel scale against PyTorch
// autograd, finite differences, and the gradient conventions (dscale is
// overwritten like an input gradient; NULL skips a gradient).
#include <cstdio>
#include <cstring>

#include "kernels/ops.h"
#include "test_util.h"

// Bitwise comparison for pure data movement and single float operations,
// which must reproduce torch exactly; prints its count like expect_close.
static const char* kShapes[] = {"n2_h7_w7_c20", "n1_h1_w1_c5", "n3_h5_w3_c36", "n4_h14_w14_c13",
                                "n1_h10_w10_c520"};

struct PoolShape {
    int batch, hw, c;
    size_t n() const { return (size_t)batch * hw * c; }
};

static bool load_shape(const std::string& p, PoolShape* s) {
    auto meta = ref_ints("pool", p + "meta", 4);
    if (meta.empty()) return false;
    *s = {meta[0], meta[1] * meta[2], meta[3]};
    return true;
}

// Means and sums in double over at most 196 positions, rounded once: a few ulps.
TEST(GlobalAvgPool, MatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kShapes) {
        std::string p = std::string("gap/") + name + "/";
        PoolShape s;
        ASSERT_TRUE(load_shape(p, &s)) << name;
        auto in = ref_floats("pool", p + "in", s.n());
        auto dout = ref_floats("pool", p + "dout", (size_t)s.batch * s.c);
        ASSERT_FALSE(in.empty() || dout.empty());
        std::vector<float> out((size_t)s.batch * s.c), din(s.n(), NAN);
        ops_cpu.global_avg_pool_forward(&ctx, out.data(), in.data(), s.batch, s.hw, s.c);
        ops_cpu.global_avg_pool_backward(&ctx, din.data(), dout.data(), s.batch, s.hw, s.c);
        expect_close(p + "out", out, ref_floats("pool", p + "out", out.size()), 1e-6f, 1e-6f);
        expect_close(p + "din", din, ref_floats("pool", p + "din", s.n()), 1e-7f, 1e-6f);
    }
}

TEST(ChannelScale, MatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kShapes) {
        std::string p = std::string("scale/") + name + "/";
        PoolShape s;
        ASSERT_TRUE(load_shape(p, &s)) << name;
        size_t nbc = (size_t)s.batch * s.c;
        auto in = ref_floats("pool", p + "in", s.n());
        auto scale = ref_floats("pool", p + "scale", nbc);
        auto dout = ref_floats("pool", p + "dout", s.n());
        ASSERT_FALSE(in.empty() || scale.empty() || dout.empty());
        std::vector<float> out(s.n()), din(s.n(), NAN), dscale(nbc, NAN);
        ops_cpu.channel_scale_forward(&ctx, out.data(), in.data(), scale.data(), s.batch, s.hw, s.c);
        ops_cpu.channel_scale_backward(&ctx, din.data(), dscale.data(), dout.data(), in.data(),
                                       scale.data(), s.batch, s.hw, s.c);
        // out and din are one float product: exact on both sides.
        expect_bitwise(p + "out", out, ref_floats("pool", p + "out", s.n()));
        expect_bitwise(p + "din", din, ref_floats("pool", p + "din", s.n()));
        // dscale sums up to 196 products of O(1) values; torch sums them in
        // float (error up to ~1e-5 here), we in double: against torch the
        // tolerance is torch's, against a double sum it is one rounding.
        expect_close(p + "dscale", dscale, ref_floats("pool", p + "dscale", nbc), 1e-5f, 2e-6f);
        std::vector<float> exact(nbc);
        for (size_t bc = 0; bc < nbc; bc++) {
            size_t b = bc / s.c, c = bc % s.c;
            double sum = 0;
            for (int q = 0; q < s.hw; q++) {
                size_t i = (b * s.hw + q) * s.c + c;
                sum += (double)dout[i] * in[i];
            }
            exact[bc] = (float)sum;
        }
        expect_close(p + "dscale vs double", dscale, exact, 1e-7f, 1.2e-7f);

        // NULL skips a gradient and leaves the other as computed; dscale is
        // overwritten (not accumulated) on a second call.
        std::vector<float> din2(s.n(), NAN), dscale2(nbc, 123.0f);
        ops_cpu.channel_scale_backward(&ctx, nullptr, dscale2.data(), dout.data(), in.data(),
                                       scale.data(), s.batch, s.hw, s.c);
        ops_cpu.channel_scale_backward(&ctx, din2.data(), nullptr, dout.data(), in.data(),
                                       scale.data(), s.batch, s.hw, s.c);
        EXPECT_EQ(0, std::memcmp(dscale2.data(), dscale.data(), nbc * 4)) << p << " dscale only";
        EXPECT_EQ(0, std::memcmp(din2.data(), din.data(), s.n() * 4)) << p << " din only";
    }
}

// In place: din may alias dout (each element is read before it is written).
TEST(ChannelScale, BackwardInPlace) {
    OpContext ctx = {1, nullptr};
    const int batch = 2, hw = 9, c = 11;
    size_t n = (size_t)batch * hw * c;
    auto in = random_floats(n, 1), dout = random_floats(n, 2), scale = random_floats(batch * c, 3);
    std::vector<float> din(n), dscale(batch * c), g(dout), dscale_alias(batch * c);
    ops_cpu.channel_scale_backward(&ctx, din.data(), dscale.data(), dout.data(), in.data(),
                                   scale.data(), batch, hw, c);
    ops_cpu.channel_scale_backward(&ctx, g.data(), dscale_alias.data(), g.data(), in.data(),
                                   scale.data(), batch, hw, c);
    EXPECT_EQ(0, std::memcmp(g.data(), din.data(), n * 4));
    EXPECT_EQ(0, std::memcmp(dscale_alias.data(), dscale.data(), batch * c * 4));
}

// loss = sum(out * probe); both functions are linear in each argument, so
// central differences are exact up to float rounding of the forward.
TEST(GlobalAvgPool, GradientMatchesFiniteDifference) {
    OpContext ctx = {1, nullptr};
    const int batch = 2, hw = 15, c = 7;
    size_t n = (size_t)batch * hw * c;
    auto x = random_floats(n, 4), probe = random_floats(batch * c, 5);
    std::vector<float> out(batch * c), din(n);
    ops_cpu.global_avg_pool_backward(&ctx, din.data(), probe.data(), batch, hw, c);
    auto loss = [&]() {
        ops_cpu.global_avg_pool_forward(&ctx, out.data(), x.data(), batch, hw, c);
        return dot_double(out.data(), probe.data(), out.size());
    };
    expect_gradient_matches_fd("gap din", x.data(), n, din.data(), loss, 210, 1e-2, 1e-4, 1e-3);
}

TEST(ChannelScale, GradientMatchesFiniteDifference) {
    OpContext ctx = {1, nullptr};
    const int batch = 3, hw = 6, c = 5;
    size_t n = (size_t)batch * hw * c;
    auto x = random_floats(n, 6), scale = random_floats(batch * c, 7, 0.0f, 1.0f);
    auto probe = random_floats(n, 8);
    std::vector<float> out(n), din(n), dscale(batch * c);
    ops_cpu.channel_scale_backward(&ctx, din.data(), dscale.data(), probe.data(), x.data(),
                                   scale.data(), batch, hw, c);
    auto loss = [&]() {
        ops_cpu.channel_scale_forward(&ctx, out.data(), x.data(), scale.data(), batch, hw, c);
        return dot_double(out.data(), probe.data(), n);
    };
    expect_gradient_matches_fd("se din", x.data(), n, din.data(), loss, 90, 1e-2, 1e-4, 1e-3);
    expect_gradient_matches_fd("se dscale", scale.data(), batch * c, dscale.data(), loss, 15, 1e-2,
                               1e-4, 1e-3);
}
