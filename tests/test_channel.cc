// Channel concat/split, channel shuffle (ShuffleNet and SPOS orders) and the
// residual add against PyTorch. All are data movement or one float add, so
// every comparison is exact.
#include <cstdio>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/shared/channel_body.h"
#include "test_util.h"

// Bitwise comparison for pure data movement and single float operations,
// which must reproduce torch exactly; prints its count like expect_close.
static const char* kConcat[] = {"n2_h3_w5_a7_b13", "n1_h1_w1_a1_b5", "n3_h4_w4_a20_b20"};
static const char* kShuffle[] = {"n2_h3_w3_c12_g2", "n1_h5_w5_c36_g3", "n2_h2_w2_c20_g10",
                                 "n1_h3_w1_c6_g6", "n3_h1_w2_c24_g4"};

static bool same(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(ChannelConcat, MatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kConcat) {
        std::string p = std::string("concat/") + name + "/";
        auto meta = ref_ints("channel", p + "meta", 5);
        ASSERT_FALSE(meta.empty());
        int rows = meta[0] * meta[1] * meta[2], ca = meta[3], cb = meta[4];
        auto a = ref_floats("channel", p + "a", (size_t)rows * ca);
        auto b = ref_floats("channel", p + "b", (size_t)rows * cb);
        auto dout = ref_floats("channel", p + "dout", (size_t)rows * (ca + cb));
        ASSERT_FALSE(a.empty() || b.empty() || dout.empty());
        std::vector<float> out(dout.size()), da(a.size(), NAN), db(b.size(), NAN);
        ops_cpu.concat_channels(&ctx, out.data(), a.data(), b.data(), rows, ca, cb);
        ops_cpu.split_channels(&ctx, da.data(), db.data(), dout.data(), rows, ca, cb);
        expect_bitwise(p + "out", out, ref_floats("channel", p + "out", out.size()));
        expect_bitwise(p + "da", da, ref_floats("channel", p + "da", a.size()));
        expect_bitwise(p + "db", db, ref_floats("channel", p + "db", b.size()));
        // Either half of the split can be skipped.
        std::vector<float> da2(a.size(), NAN), db2(b.size(), NAN);
        ops_cpu.split_channels(&ctx, da2.data(), nullptr, dout.data(), rows, ca, cb);
        ops_cpu.split_channels(&ctx, nullptr, db2.data(), dout.data(), rows, ca, cb);
        EXPECT_TRUE(same(da2, da) && same(db2, db)) << p << " split with a NULL half";
    }
}

// Large enough for the threaded path: concat then split returns the inputs.
TEST(ChannelConcat, ThreadedRoundTrip) {
    OpContext ctx = {2, nullptr};
    const int rows = 3001, ca = 7, cb = 13;
    auto a = random_floats((size_t)rows * ca, 1), b = random_floats((size_t)rows * cb, 2);
    std::vector<float> out((size_t)rows * (ca + cb)), a2(a.size()), b2(b.size());
    ops_cpu.concat_channels(&ctx, out.data(), a.data(), b.data(), rows, ca, cb);
    ops_cpu.split_channels(&ctx, a2.data(), b2.data(), out.data(), rows, ca, cb);
    EXPECT_TRUE(same(a2, a) && same(b2, b));
    EXPECT_EQ(out[(size_t)1234 * (ca + cb) + ca + 5], b[(size_t)1234 * cb + 5]);
}

// The CPU concat copies rows with memcpy; the CUDA kernels use the index map
// of kernels/shared/channel_body.h, checked here against torch both ways.
TEST(ChannelConcat, IndexMapMatchesTorch) {
    for (const char* name : kConcat) {
        std::string p = std::string("concat/") + name + "/";
        auto meta = ref_ints("channel", p + "meta", 5);
        ASSERT_FALSE(meta.empty());
        int rows = meta[0] * meta[1] * meta[2], ca = meta[3], cb = meta[4];
        auto a = ref_floats("channel", p + "a", (size_t)rows * ca);
        auto b = ref_floats("channel", p + "b", (size_t)rows * cb);
        auto dout = ref_floats("channel", p + "dout", (size_t)rows * (ca + cb));
        ASSERT_FALSE(a.empty() || b.empty() || dout.empty());
        std::vector<float> out(dout.size()), da(a.size(), NAN), db(b.size(), NAN);
        for (size_t i = 0; i < out.size(); i++) {
            size_t src;
            int from_b = concat_channels_source(i, ca, cb, &src);
            out[i] = from_b ? b.at(src) : a.at(src);
            (from_b ? db : da).at(src) = dout[i];  // the split
        }
        expect_bitwise(p + "out via index map", out, ref_floats("channel", p + "out", out.size()));
        expect_bitwise(p + "da via index map", da, ref_floats("channel", p + "da", a.size()));
        expect_bitwise(p + "db via index map", db, ref_floats("channel", p + "db", b.size()));
    }
}

TEST(ChannelShuffle, MatchesTorch) {
    OpContext ctx = {2, nullptr};
    for (const char* name : kShuffle) {
        std::string p = std::string("shuffle/") + name + "/";
        auto meta = ref_ints("channel", p + "meta", 5);
        ASSERT_FALSE(meta.empty());
        int rows = meta[0] * meta[1] * meta[2], c = meta[3], groups = meta[4];
        size_t n = (size_t)rows * c;
        auto in = ref_floats("channel", p + "in", n);
        auto dout = ref_floats("channel", p + "dout", n);
        ASSERT_FALSE(in.empty() || dout.empty());
        std::vector<float> out(n), din(n);
        ops_cpu.channel_shuffle(&ctx, out.data(), in.data(), rows, c, groups);
        // The backward is the shuffle with c/groups groups (ops.h).
        ops_cpu.channel_shuffle(&ctx, din.data(), dout.data(), rows, c, c / groups);
        expect_bitwise(p + "out", out, ref_floats("channel", p + "out", n));
        expect_bitwise(p + "din", din, ref_floats("channel", p + "din", n));
    }
}

// SPOS's channel_shuffle returns (even channels, odd channels); ours with
// groups = c/2 puts exactly those in the first and second half.
TEST(ChannelShuffle, SposEvenOddOrder) {
    OpContext ctx = {1, nullptr};
    auto meta = ref_ints("channel", "spos/meta", 4);
    ASSERT_FALSE(meta.empty());
    int rows = meta[0] * meta[1] * meta[2], c = meta[3], half = c / 2;
    auto in = ref_floats("channel", "spos/in", (size_t)rows * c);
    auto first = ref_floats("channel", "spos/first", (size_t)rows * half);
    auto second = ref_floats("channel", "spos/second", (size_t)rows * half);
    ASSERT_FALSE(in.empty() || first.empty() || second.empty());
    std::vector<float> shuffled(in.size()), a(first.size()), b(second.size());
    ops_cpu.channel_shuffle(&ctx, shuffled.data(), in.data(), rows, c, c / 2);
    ops_cpu.split_channels(&ctx, a.data(), b.data(), shuffled.data(), rows, half, half);
    expect_bitwise("spos first branch (even channels)", a, first);
    expect_bitwise("spos second branch (odd channels)", b, second);
    for (int j = 0; j < half; j++) {  // and directly: even then odd
        EXPECT_EQ(shuffled[j], in[2 * j]);
        EXPECT_EQ(shuffled[half + j], in[2 * j + 1]);
    }
}

// shuffle(groups) then shuffle(c/groups) is the identity, for every divisor.
TEST(ChannelShuffle, InverseIsIdentity) {
    OpContext ctx = {2, nullptr};
    for (int c : {6, 12, 20, 36, 116}) {
        const int rows = 7;
        auto x = random_floats((size_t)rows * c, c);
        std::vector<float> y(x.size()), back(x.size());
        for (int g = 1; g <= c; g++) {
            if (c % g) continue;
            ops_cpu.channel_shuffle(&ctx, y.data(), x.data(), rows, c, g);
            ops_cpu.channel_shuffle(&ctx, back.data(), y.data(), rows, c, c / g);
            EXPECT_TRUE(same(back, x)) << "c " << c << " groups " << g;
            if (g > 1 && g < c) {  // a real permutation
                EXPECT_FALSE(same(y, x)) << "c " << c << " groups " << g;
            }
        }
    }
    // Large enough to take the threaded path.
    const int rows = 3000, c = 24;
    auto x = random_floats((size_t)rows * c, 99);
    std::vector<float> y(x.size()), back(x.size());
    ops_cpu.channel_shuffle(&ctx, y.data(), x.data(), rows, c, 3);
    ops_cpu.channel_shuffle(&ctx, back.data(), y.data(), rows, c, 8);
    EXPECT_TRUE(same(back, x));
}

TEST(Add, MatchesTorchAndAliases) {
    OpContext ctx = {2, nullptr};
    auto a = ref_floats("channel", "add/a"), b = ref_floats("channel", "add/b", a.size());
    auto want = ref_floats("channel", "add/out", a.size());
    ASSERT_FALSE(a.empty() || b.empty() || want.empty());
    std::vector<float> out(a.size());
    ops_cpu.add(&ctx, out.data(), a.data(), b.data(), a.size());
    expect_bitwise("add", out, want);
    std::vector<float> in_a(a), in_b(b);  // residual in place: out aliases a, then b
    ops_cpu.add(&ctx, in_a.data(), in_a.data(), b.data(), a.size());
    ops_cpu.add(&ctx, in_b.data(), a.data(), in_b.data(), a.size());
    EXPECT_TRUE(same(in_a, want) && same(in_b, want));
    // Threaded path.
    auto x = random_floats(100003, 1), y = random_floats(100003, 2);
    std::vector<float> z(x.size());
    ops_cpu.add(&ctx, z.data(), x.data(), y.data(), x.size());
    bool ok = true;
    for (size_t i = 0; i < x.size(); i++) ok &= z[i] == x[i] + y[i];
    EXPECT_TRUE(ok);
}
