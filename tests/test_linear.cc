// Linear and pointwise (1x1) conv: PyTorch parity (forward, input, weight and
// bias gradients), thread-count independence, the accumulate / overwrite /
// NULL conventions and finite differences.
#include <limits>

#include "kernels/ops.h"
#include "test_util.h"

namespace {

struct LinearCase {
    int rows, in_f, out_f;
    bool has_bias;
    std::string tag;
    std::vector<float> in, weight, bias, out, dout, din, dweight, dbias;
};

int case_count() {
    auto count = ref_ints("linear", "count", 1);
    return count.empty() ? 0 : count[0];
}

bool load_case(int i, LinearCase* c) {
    std::string p = std::to_string(i) + "/";
    auto sh = ref_ints("linear", p + "shape", 4);
    if (sh.empty()) return false;
    c->rows = sh[0];
    c->in_f = sh[1];
    c->out_f = sh[2];
    c->has_bias = sh[3] != 0;
    c->tag = std::to_string(sh[0]) + " rows " + std::to_string(sh[1]) + "->" +
             std::to_string(sh[2]) + (c->has_bias ? " bias" : "");
    size_t in_n = (size_t)sh[0] * sh[1], out_n = (size_t)sh[0] * sh[2], w_n = (size_t)sh[1] * sh[2];
    c->in = ref_floats("linear", p + "in", in_n);
    c->weight = ref_floats("linear", p + "weight", w_n);
    c->out = ref_floats("linear", p + "out", out_n);
    c->dout = ref_floats("linear", p + "dout", out_n);
    c->din = ref_floats("linear", p + "din", in_n);
    c->dweight = ref_floats("linear", p + "dweight", w_n);
    if (c->has_bias) {
        c->bias = ref_floats("linear", p + "bias", (size_t)sh[2]);
        c->dbias = ref_floats("linear", p + "dbias", (size_t)sh[2]);
        if (c->bias.empty() || c->dbias.empty()) return false;
    }
    return !(c->in.empty() || c->weight.empty() || c->out.empty() || c->dout.empty() ||
             c->din.empty() || c->dweight.empty());
}

// Tolerances against PyTorch: N(0, 1) data, so each result is a float32 sum
// of L unit-size products in a library-specific order; its rounding
// random-walks to ~6e-8 * L per implementation, and atol = 1e-6 * L leaves
// ~4x margin over the worst element. rtol 1e-4 (~800 ulps) for large results.
float sum_atol(long terms) { return 1e-6f * (float)terms; }
const float kRtol = 1e-4f;

struct LinearRun {
    std::vector<float> out, din, dweight, dbias;
};

LinearRun run_cpu(const LinearCase& c, int threads) {
    OpContext ctx = {threads, nullptr};
    LinearRun r;
    r.out.assign(c.out.size(), 0.0f);
    r.din.assign(c.din.size(), 0.0f);
    r.dweight.assign(c.dweight.size(), 0.0f);
    r.dbias.assign(c.dbias.size(), 0.0f);
    ops_cpu.linear_forward(&ctx, r.out.data(), c.in.data(), c.weight.data(),
                           c.has_bias ? c.bias.data() : nullptr, c.rows, c.in_f, c.out_f);
    ops_cpu.linear_backward(&ctx, r.din.data(), r.dweight.data(),
                            c.has_bias ? r.dbias.data() : nullptr, c.dout.data(), c.in.data(),
                            c.weight.data(), c.rows, c.in_f, c.out_f);
    return r;
}

void expect_identical(const std::string& what, const std::vector<float>& a,
                      const std::vector<float>& b) {
    ASSERT_EQ(a.size(), b.size()) << what;
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < a.size(); i++)
        if (!(a[i] == b[i]) && diff++ == 0) first = i;
    EXPECT_EQ(diff, 0u) << what << ": " << diff << " elements differ, first at " << first << ": "
                        << a[first] << " vs " << b[first];
}

}  // namespace

TEST(Linear, ReferenceHasCases) { EXPECT_GE(case_count(), 8); }

TEST(Linear, ForwardAndBackwardMatchTorch) {
    for (int i = 0; i < case_count(); i++) {
        LinearCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        LinearRun r = run_cpu(c, 2);
        expect_close(c.tag + " out", r.out, c.out, sum_atol(c.in_f), kRtol);
        expect_close(c.tag + " din", r.din, c.din, sum_atol(c.out_f), kRtol);
        expect_close(c.tag + " dweight", r.dweight, c.dweight, sum_atol(c.rows), kRtol);
        if (c.has_bias) expect_close(c.tag + " dbias", r.dbias, c.dbias, sum_atol(c.rows), kRtol);
    }
}

// linear.c cuts every GEMM into fixed chunks, each one single-threaded sgemm
// call, so all results are bit-identical for any thread count.
TEST(Linear, ThreadCountIndependent) {
    for (int i = 0; i < case_count(); i++) {
        LinearCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        LinearRun one = run_cpu(c, 1);
        for (int threads : {2, 3}) {
            LinearRun r = run_cpu(c, threads);
            std::string t = " 1 vs " + std::to_string(threads) + " threads";
            expect_identical(c.tag + " out" + t, one.out, r.out);
            expect_identical(c.tag + " din" + t, one.din, r.din);
            expect_identical(c.tag + " dweight" + t, one.dweight, r.dweight);
            expect_identical(c.tag + " dbias" + t, one.dbias, r.dbias);
        }
    }
}

TEST(Linear, GradientConventions) {
    OpContext ctx = {2, nullptr};
    for (int i : {1, 2}) {
        LinearCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        ASSERT_TRUE(c.has_bias) << c.tag;
        std::vector<float> base_w = random_floats(c.dweight.size(), 21 + i, -2.0f, 2.0f);
        std::vector<float> base_b = random_floats(c.dbias.size(), 22 + i, -2.0f, 2.0f);
        std::vector<float> dweight = base_w, dbias = base_b, want_w = c.dweight, want_b = c.dbias;
        for (size_t j = 0; j < want_w.size(); j++) want_w[j] += base_w[j];
        for (size_t j = 0; j < want_b.size(); j++) want_b[j] += base_b[j];
        std::vector<float> din(c.din.size(), std::numeric_limits<float>::quiet_NaN());
        ops_cpu.linear_backward(&ctx, din.data(), dweight.data(), dbias.data(), c.dout.data(),
                                c.in.data(), c.weight.data(), c.rows, c.in_f, c.out_f);
        expect_close(c.tag + " din overwrites", din, c.din, sum_atol(c.out_f), kRtol);
        expect_close(c.tag + " dweight accumulates", dweight, want_w, sum_atol(c.rows) + 2e-6f,
                     kRtol);
        expect_close(c.tag + " dbias accumulates", dbias, want_b, sum_atol(c.rows) + 2e-6f, kRtol);
        // NULL din: parameter gradients alone; NULL dweight/dbias: din alone.
        LinearRun full = run_cpu(c, 2);
        std::vector<float> dweight_only(c.dweight.size(), 0.0f), dbias_only(c.dbias.size(), 0.0f);
        ops_cpu.linear_backward(&ctx, nullptr, dweight_only.data(), dbias_only.data(),
                                c.dout.data(), c.in.data(), c.weight.data(), c.rows, c.in_f,
                                c.out_f);
        expect_identical(c.tag + " dweight with NULL din", dweight_only, full.dweight);
        expect_identical(c.tag + " dbias with NULL din", dbias_only, full.dbias);
        std::vector<float> din_only(c.din.size(), 0.0f);
        ops_cpu.linear_backward(&ctx, din_only.data(), nullptr, nullptr, c.dout.data(),
                                c.in.data(), c.weight.data(), c.rows, c.in_f, c.out_f);
        expect_identical(c.tag + " din with NULL dweight, dbias", din_only, full.din);
    }
}

// sum(out * probe) in double against the backward with dout = probe; the op
// is linear in each input, so the large step eps 0.05 has no truncation error.
TEST(Linear, GradientsMatchFiniteDifferences) {
    OpContext ctx = {2, nullptr};
    for (int i : {0, 1, 4}) {
        LinearCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        std::vector<float> x = c.in, w = c.weight, b = c.bias, probe = c.dout;
        std::vector<float> out(c.out.size()), din(c.din.size());
        std::vector<float> dweight(c.dweight.size(), 0.0f), dbias(c.dbias.size(), 0.0f);
        float* bias = c.has_bias ? b.data() : nullptr;
        ops_cpu.linear_backward(&ctx, din.data(), dweight.data(), c.has_bias ? dbias.data() : nullptr,
                                probe.data(), x.data(), w.data(), c.rows, c.in_f, c.out_f);
        auto loss = [&]() {
            ops_cpu.linear_forward(&ctx, out.data(), x.data(), w.data(), bias, c.rows, c.in_f,
                                   c.out_f);
            return dot_double(out.data(), probe.data(), out.size());
        };
        expect_gradient_matches_fd(c.tag + " d/d in", x.data(), x.size(), din.data(), loss, 50,
                                   0.05, 1e-3, 1e-3);
        expect_gradient_matches_fd(c.tag + " d/d weight", w.data(), w.size(), dweight.data(), loss,
                                   50, 0.05, 1e-3, 1e-3);
        if (c.has_bias)
            expect_gradient_matches_fd(c.tag + " d/d bias", b.data(), b.size(), dbias.data(), loss,
                                       50, 0.05, 1e-3, 1e-3);
    }
}
