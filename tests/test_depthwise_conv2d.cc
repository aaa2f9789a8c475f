// Depthwise conv2d: PyTorch parity (forward, input and weight gradients), the
// shared index-level bodies the CUDA backend runs, thread-count independence,
// the accumulate / overwrite / NULL conventions and finite differences.
#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/shared/depthwise_body.h"
#include "test_util.h"

namespace {

struct DwCase {
    ConvShape s;
    std::string tag;
    std::vector<float> in, weight, out, dout, din, dweight;
    int out_h, out_w;
};

int case_count() {
    auto count = ref_ints("depthwise_conv2d", "count", 1);
    return count.empty() ? 0 : count[0];
}

bool load_case(int i, DwCase* c) {
    std::string p = std::to_string(i) + "/";
    auto sh = ref_ints("depthwise_conv2d", p + "shape", 7);
    if (sh.empty()) return false;
    c->s = ConvShape{sh[0], sh[1], sh[2], sh[3], sh[3], sh[4], sh[5], sh[6]};
    c->out_h = conv_out_h(&c->s);
    c->out_w = conv_out_w(&c->s);
    c->tag = "n" + std::to_string(sh[0]) + " " + std::to_string(sh[1]) + "x" +
             std::to_string(sh[2]) + "x" + std::to_string(sh[3]) + " k" + std::to_string(sh[4]) +
             " s" + std::to_string(sh[5]) + " p" + std::to_string(sh[6]);
    size_t in_n = (size_t)sh[0] * sh[1] * sh[2] * sh[3];
    size_t out_n = (size_t)sh[0] * c->out_h * c->out_w * sh[3];
    size_t w_n = (size_t)sh[4] * sh[4] * sh[3];
    c->in = ref_floats("depthwise_conv2d", p + "in", in_n);
    c->weight = ref_floats("depthwise_conv2d", p + "weight", w_n);
    c->out = ref_floats("depthwise_conv2d", p + "out", out_n);
    c->dout = ref_floats("depthwise_conv2d", p + "dout", out_n);
    c->din = ref_floats("depthwise_conv2d", p + "din", in_n);
    c->dweight = ref_floats("depthwise_conv2d", p + "dweight", w_n);
    return !(c->in.empty() || c->weight.empty() || c->out.empty() || c->dout.empty() ||
             c->din.empty() || c->dweight.empty());
}

// Tolerances against PyTorch. Inputs, weights and dout are N(0, 1), so every
// sum is of unit-size products, and the two libraries sum in different
// orders. The rounding of a float32 sum of L such terms random-walks to about
// 6e-8 * L per implementation; atol = 1e-6 * L leaves ~4x margin over the
// worst element of the difference of two such sums. rtol 1e-4 (~800 ulps)
// covers results that are large relative to that.
float sum_atol(long terms) { return 1e-6f * (float)terms; }
const float kRtol = 1e-4f;

long forward_terms(const DwCase& c) { return (long)c.s.kernel * c.s.kernel; }
long weight_grad_terms(const DwCase& c) { return (long)c.s.batch * c.out_h * c.out_w; }

struct DwRun {
    std::vector<float> out, din, dweight;
};

DwRun run_cpu(const DwCase& c, int threads) {
    OpContext ctx = {threads, nullptr};
    DwRun r;
    r.out.assign(c.out.size(), 0.0f);
    r.din.assign(c.din.size(), 0.0f);
    r.dweight.assign(c.dweight.size(), 0.0f);
    std::vector<float> scratch(depthwise_conv2d_scratch_floats(&ctx, &c.s));
    ops_cpu.depthwise_conv2d_forward(&ctx, &c.s, r.out.data(), c.in.data(), c.weight.data());
    ops_cpu.depthwise_conv2d_backward(&ctx, &c.s, r.din.data(), r.dweight.data(), c.dout.data(),
                                      c.in.data(), c.weight.data(), scratch.data());
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

TEST(DepthwiseConv2d, ReferenceHasCases) { EXPECT_GE(case_count(), 10); }

TEST(DepthwiseConv2d, ForwardAndBackwardMatchTorch) {
    for (int i = 0; i < case_count(); i++) {
        DwCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        DwRun r = run_cpu(c, 2);
        expect_close(c.tag + " out", r.out, c.out, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " din", r.din, c.din, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " dweight", r.dweight, c.dweight, sum_atol(weight_grad_terms(c)),
                     kRtol);
    }
}

// The bodies of kernels/shared/depthwise_body.h over every element: they
// match PyTorch, and the CPU backend's vectorized loops equal them exactly
// (the weight gradient summed by the body over the same fixed row ranges,
// added in the same order).
TEST(DepthwiseConv2d, SharedBodiesMatchTorchAndCpu) {
    for (int i = 0; i < case_count(); i++) {
        DwCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        const ConvShape& s = c.s;
        int ch = s.in_c, k = s.kernel;
        std::vector<float> out(c.out.size()), din(c.din.size()), dweight(c.dweight.size());
        std::vector<float> dweight_split(c.dweight.size()), dweight_chunked(c.dweight.size());
        for (int n = 0; n < s.batch; n++)
            for (int y = 0; y < c.out_h; y++)
                for (int x = 0; x < c.out_w; x++)
                    for (int ci = 0; ci < ch; ci++)
                        out[(((size_t)n * c.out_h + y) * c.out_w + x) * ch + ci] =
                            depthwise_forward_element(&s, c.in.data(), c.weight.data(), n, y, x, ci);
        for (int n = 0; n < s.batch; n++)
            for (int y = 0; y < s.in_h; y++)
                for (int x = 0; x < s.in_w; x++)
                    for (int ci = 0; ci < ch; ci++)
                        din[(((size_t)n * s.in_h + y) * s.in_w + x) * ch + ci] =
                            depthwise_input_grad_element(&s, c.dout.data(), c.weight.data(), n, y,
                                                         x, ci);
        long rows = (long)s.batch * c.out_h, mid = rows / 3;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                for (int ci = 0; ci < ch; ci++) {
                    size_t at = ((size_t)ky * k + kx) * ch + ci;
                    dweight[at] = depthwise_weight_grad_rows(&s, c.dout.data(), c.in.data(), ky,
                                                             kx, ci, 0, rows);
                    // Split into two row ranges, as a GPU's blocks do.
                    dweight_split[at] =
                        depthwise_weight_grad_rows(&s, c.dout.data(), c.in.data(), ky, kx, ci, 0,
                                                   mid) +
                        depthwise_weight_grad_rows(&s, c.dout.data(), c.in.data(), ky, kx, ci, mid,
                                                   rows);
                    float sum = 0.0f;
                    for (int chunk = 0; chunk < DEPTHWISE_GRAD_CHUNKS; chunk++) {
                        float part = depthwise_weight_grad_rows(
                            &s, c.dout.data(), c.in.data(), ky, kx, ci,
                            depthwise_grad_chunk_begin(rows, chunk),
                            depthwise_grad_chunk_begin(rows, chunk + 1));
                        sum = chunk == 0 ? part : sum + part;
                    }
                    dweight_chunked[at] = 0.0f + sum;
                }
        expect_close(c.tag + " body out", out, c.out, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " body din", din, c.din, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " body dweight", dweight, c.dweight, sum_atol(weight_grad_terms(c)),
                     kRtol);
        expect_close(c.tag + " body dweight, 2 row ranges", dweight_split, c.dweight,
                     sum_atol(weight_grad_terms(c)), kRtol);
        DwRun r = run_cpu(c, 2);
        expect_identical(c.tag + " cpu out == body", r.out, out);
        expect_identical(c.tag + " cpu din == body", r.din, din);
        expect_identical(c.tag + " cpu dweight == body over the row chunks", r.dweight,
                         dweight_chunked);
    }
}

// Forward and input gradient are per-element, and the weight gradient sums
// fixed row ranges in a fixed order: all bit-identical for any thread count.
TEST(DepthwiseConv2d, ThreadCountIndependent) {
    for (int i = 0; i < case_count(); i++) {
        DwCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        DwRun one = run_cpu(c, 1);
        for (int threads : {2, 3}) {
            DwRun r = run_cpu(c, threads);
            std::string t = " 1 vs " + std::to_string(threads) + " threads";
            expect_identical(c.tag + " out" + t, one.out, r.out);
            expect_identical(c.tag + " din" + t, one.din, r.din);
            expect_identical(c.tag + " dweight" + t, one.dweight, r.dweight);
        }
    }
}

TEST(DepthwiseConv2d, GradientConventions) {
    OpContext ctx = {2, nullptr};
    for (int i : {1, 3, 8}) {
        DwCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        std::vector<float> scratch(depthwise_conv2d_scratch_floats(&ctx, &c.s));
        // dweight accumulates onto what is there.
        std::vector<float> base = random_floats(c.dweight.size(), 5 + i, -2.0f, 2.0f);
        std::vector<float> dweight = base, want = c.dweight;
        for (size_t j = 0; j < want.size(); j++) want[j] += base[j];
        // din is overwritten: start from NaN, which any read would propagate.
        std::vector<float> din(c.din.size(), std::numeric_limits<float>::quiet_NaN());
        ops_cpu.depthwise_conv2d_backward(&ctx, &c.s, din.data(), dweight.data(), c.dout.data(),
                                          c.in.data(), c.weight.data(), scratch.data());
        expect_close(c.tag + " din overwrites", din, c.din, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " dweight accumulates", dweight, want,
                     sum_atol(weight_grad_terms(c)) + 2e-6f, kRtol);
        // NULL din: only the weight gradient, same values.
        std::vector<float> dweight_only(c.dweight.size(), 0.0f);
        ops_cpu.depthwise_conv2d_backward(&ctx, &c.s, nullptr, dweight_only.data(),
                                          c.dout.data(), c.in.data(), c.weight.data(),
                                          scratch.data());
        expect_identical(c.tag + " dweight with NULL din", dweight_only, run_cpu(c, 2).dweight);
    }
}

// Double-precision loss sum(out * probe) of the forward: its finite
// differences against the backward run with dout = probe. The conv is linear
// in each input, so a large step has no truncation error; eps 0.05 keeps the
// float32 rounding of the few changed outputs below ~1e-4 of the quotient.
TEST(DepthwiseConv2d, GradientsMatchFiniteDifferences) {
    OpContext ctx = {2, nullptr};
    for (int i : {0, 3, 5, 11}) {
        DwCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        std::vector<float> x = c.in, w = c.weight, probe = c.dout;
        std::vector<float> out(c.out.size()), din(c.din.size()), dweight(c.dweight.size(), 0.0f);
        std::vector<float> scratch(depthwise_conv2d_scratch_floats(&ctx, &c.s));
        ops_cpu.depthwise_conv2d_backward(&ctx, &c.s, din.data(), dweight.data(), probe.data(),
                                          x.data(), w.data(), scratch.data());
        auto loss = [&]() {
            ops_cpu.depthwise_conv2d_forward(&ctx, &c.s, out.data(), x.data(), w.data());
            return dot_double(out.data(), probe.data(), out.size());
        };
        expect_gradient_matches_fd(c.tag + " d/d in", x.data(), x.size(), din.data(), loss, 60,
                                   0.05, 1e-3, 1e-3);
        expect_gradient_matches_fd(c.tag + " d/d weight", w.data(), w.size(), dweight.data(), loss,
                                   60, 0.05, 1e-3, 1e-3);
    }
}
