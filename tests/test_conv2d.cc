// Dense conv2d: PyTorch parity (forward, input, weight and bias gradients),
// the shared im2col / col2im bodies the CUDA backend runs, thread-count
// independence, the accumulate / overwrite / NULL conventions and finite
// differences.
#include <limits>

#include "kernels/ops.h"
#include "kernels/shared/conv_body.h"
#include "test_util.h"

namespace {

struct ConvCase {
    ConvShape s;
    bool has_bias;
    std::string tag;
    std::vector<float> in, weight, bias, out, dout, din, dweight, dbias;
    int out_h, out_w;
    long rows() const { return (long)s.batch * out_h * out_w; }
    long cols() const { return (long)s.kernel * s.kernel * s.in_c; }
};

int case_count() {
    auto count = ref_ints("conv2d", "count", 1);
    return count.empty() ? 0 : count[0];
}

bool load_case(int i, ConvCase* c) {
    std::string p = std::to_string(i) + "/";
    auto sh = ref_ints("conv2d", p + "shape", 9);
    if (sh.empty()) return false;
    c->s = ConvShape{sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6], sh[7]};
    c->has_bias = sh[8] != 0;
    c->out_h = conv_out_h(&c->s);
    c->out_w = conv_out_w(&c->s);
    c->tag = "n" + std::to_string(sh[0]) + " " + std::to_string(sh[1]) + "x" +
             std::to_string(sh[2]) + " " + std::to_string(sh[3]) + "->" + std::to_string(sh[4]) +
             " k" + std::to_string(sh[5]) + " s" + std::to_string(sh[6]) + " p" +
             std::to_string(sh[7]) + (c->has_bias ? " bias" : "");
    size_t in_n = (size_t)sh[0] * sh[1] * sh[2] * sh[3];
    size_t out_n = (size_t)c->rows() * sh[4];
    size_t w_n = (size_t)sh[4] * c->cols();
    c->in = ref_floats("conv2d", p + "in", in_n);
    c->weight = ref_floats("conv2d", p + "weight", w_n);
    c->out = ref_floats("conv2d", p + "out", out_n);
    c->dout = ref_floats("conv2d", p + "dout", out_n);
    c->din = ref_floats("conv2d", p + "din", in_n);
    c->dweight = ref_floats("conv2d", p + "dweight", w_n);
    if (c->has_bias) {
        c->bias = ref_floats("conv2d", p + "bias", (size_t)sh[4]);
        c->dbias = ref_floats("conv2d", p + "dbias", (size_t)sh[4]);
        if (c->bias.empty() || c->dbias.empty()) return false;
    }
    return !(c->in.empty() || c->weight.empty() || c->out.empty() || c->dout.empty() ||
             c->din.empty() || c->dweight.empty());
}

// Tolerances against PyTorch. Inputs, weights and dout are N(0, 1), so every
// sum is of unit-size products, summed in a different order by each library
// (blocked GEMMs). The rounding of a float32 sum of L such terms random-walks
// to about 6e-8 * L per implementation; atol = 1e-6 * L leaves ~4x margin
// over the worst element of the difference of two such sums. rtol 1e-4
// (~800 ulps) covers results that are large relative to that.
float sum_atol(long terms) { return 1e-6f * (float)terms; }
const float kRtol = 1e-4f;

long forward_terms(const ConvCase& c) { return c.cols(); }
long input_grad_terms(const ConvCase& c) { return (long)c.s.kernel * c.s.kernel * c.s.out_c; }
long param_grad_terms(const ConvCase& c) { return c.rows(); }

struct ConvRun {
    std::vector<float> out, din, dweight, dbias;
};

ConvRun run_cpu(const ConvCase& c, int threads) {
    OpContext ctx = {threads, nullptr};
    ConvRun r;
    r.out.assign(c.out.size(), 0.0f);
    r.din.assign(c.din.size(), 0.0f);
    r.dweight.assign(c.dweight.size(), 0.0f);
    r.dbias.assign(c.dbias.size(), 0.0f);
    std::vector<float> scratch(conv2d_scratch_floats(&ctx, &c.s) + 1);
    const float* bias = c.has_bias ? c.bias.data() : nullptr;
    ops_cpu.conv2d_forward(&ctx, &c.s, r.out.data(), c.in.data(), c.weight.data(), bias,
                           scratch.data());
    ops_cpu.conv2d_backward(&ctx, &c.s, r.din.data(), r.dweight.data(),
                            c.has_bias ? r.dbias.data() : nullptr, c.dout.data(), c.in.data(),
                            c.weight.data(), scratch.data());
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

TEST(Conv2d, ReferenceHasCases) { EXPECT_GE(case_count(), 12); }

TEST(Conv2d, ForwardAndBackwardMatchTorch) {
    for (int i = 0; i < case_count(); i++) {
        ConvCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        ConvRun r = run_cpu(c, 2);
        expect_close(c.tag + " out", r.out, c.out, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " din", r.din, c.din, sum_atol(input_grad_terms(c)), kRtol);
        expect_close(c.tag + " dweight", r.dweight, c.dweight, sum_atol(param_grad_terms(c)),
                     kRtol);
        if (c.has_bias)
            expect_close(c.tag + " dbias", r.dbias, c.dbias, sum_atol(param_grad_terms(c)), kRtol);
    }
}

// The bodies of kernels/shared/conv_body.h over every element: the im2col
// matrix they give, multiplied here in double, reproduces PyTorch's output
// and weight gradient; col2im of dout * W reproduces its input gradient, in
// one row range or split in two (as tiles are); and the two index maps are
// inverse to each other.
TEST(Conv2d, SharedBodiesMatchTorch) {
    for (int i = 0; i < case_count(); i++) {
        ConvCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        const ConvShape& s = c.s;
        long rows = c.rows(), cols = c.cols();
        int out_c = s.out_c, k = s.kernel;
        std::vector<float> col((size_t)(rows * cols));
        for (long r = 0; r < rows; r++)
            for (long j = 0; j < cols; j++)
                col[r * cols + j] =
                    conv_im2col_element(&s, c.out_h, c.out_w, c.in.data(), r, (int)j);
        std::vector<float> out((size_t)(rows * out_c)), dweight(c.dweight.size());
        std::vector<float> dcol((size_t)(rows * cols));
        for (long r = 0; r < rows; r++)
            for (int o = 0; o < out_c; o++) {
                double sum = c.has_bias ? c.bias[o] : 0.0;
                for (long j = 0; j < cols; j++)
                    sum += (double)col[r * cols + j] * c.weight[o * cols + j];
                out[r * out_c + o] = (float)sum;
            }
        for (int o = 0; o < out_c; o++)
            for (long j = 0; j < cols; j++) {
                double sum = 0.0;
                for (long r = 0; r < rows; r++)
                    sum += (double)c.dout[r * out_c + o] * col[r * cols + j];
                dweight[o * cols + j] = (float)sum;
            }
        for (long r = 0; r < rows; r++)
            for (long j = 0; j < cols; j++) {
                double sum = 0.0;
                for (int o = 0; o < out_c; o++)
                    sum += (double)c.dout[r * out_c + o] * c.weight[o * cols + j];
                dcol[r * cols + j] = (float)sum;
            }
        std::vector<float> din(c.din.size()), din_split(c.din.size());
        long mid = rows / 2 + 1;
        for (int n = 0; n < s.batch; n++)
            for (int y = 0; y < s.in_h; y++)
                for (int x = 0; x < s.in_w; x++)
                    for (int ci = 0; ci < s.in_c; ci++) {
                        size_t at = (((size_t)n * s.in_h + y) * s.in_w + x) * s.in_c + ci;
                        din[at] = conv_col2im_element(&s, c.out_h, c.out_w, dcol.data(), 0, rows,
                                                      n, y, x, ci);
                        din_split[at] =
                            conv_col2im_element(&s, c.out_h, c.out_w, dcol.data(), 0, mid, n, y,
                                                x, ci) +
                            conv_col2im_element(&s, c.out_h, c.out_w, dcol.data() + mid * cols,
                                                mid, rows, n, y, x, ci);
                    }
        expect_close(c.tag + " body out", out, c.out, sum_atol(forward_terms(c)), kRtol);
        expect_close(c.tag + " body dweight", dweight, c.dweight, sum_atol(param_grad_terms(c)),
                     kRtol);
        expect_close(c.tag + " body din", din, c.din, sum_atol(input_grad_terms(c)), kRtol);
        expect_close(c.tag + " body din, 2 row ranges", din_split, c.din,
                     sum_atol(input_grad_terms(c)), kRtol);
        long mismatched = 0;
        for (long r = 0; r < rows; r++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    long pixel = conv_im2col_pixel(&s, c.out_h, c.out_w, r, ky, kx);
                    if (pixel < 0) continue;
                    long p = pixel / s.in_c;
                    int x = (int)(p % s.in_w), y = (int)(p / s.in_w % s.in_h);
                    int n = (int)(p / ((long)s.in_w * s.in_h));
                    if (conv_col2im_row(&s, c.out_h, c.out_w, n, y, x, ky, kx) != r) mismatched++;
                }
        EXPECT_EQ(mismatched, 0) << c.tag << ": im2col and col2im index maps disagree";
    }
}

// The tiling does not depend on the thread count, so the forward output and
// the input gradient (per-unit GEMMs) are bit-identical for 1, 2 and 3
// threads; the weight and bias gradients add per-thread partial sums:
// deterministic for a given count, within tolerance across counts.
TEST(Conv2d, ThreadCountIndependent) {
    for (int i = 0; i < case_count(); i++) {
        ConvCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        ConvRun one = run_cpu(c, 1), two = run_cpu(c, 2), three = run_cpu(c, 3);
        expect_identical(c.tag + " out 1 vs 2 threads", one.out, two.out);
        expect_identical(c.tag + " out 1 vs 3 threads", one.out, three.out);
        expect_identical(c.tag + " din 1 vs 2 threads", one.din, two.din);
        expect_identical(c.tag + " din 1 vs 3 threads", one.din, three.din);
        ConvRun again = run_cpu(c, 2);
        expect_identical(c.tag + " dweight 2 threads, run twice", two.dweight, again.dweight);
        expect_identical(c.tag + " dbias 2 threads, run twice", two.dbias, again.dbias);
        expect_close(c.tag + " dweight 1 vs 3 threads", three.dweight, one.dweight,
                     sum_atol(param_grad_terms(c)), kRtol);
        expect_close(c.tag + " dbias 1 vs 3 threads", three.dbias, one.dbias,
                     sum_atol(param_grad_terms(c)), kRtol);
    }
}

TEST(Conv2d, GradientConventions) {
    OpContext ctx = {2, nullptr};
    for (int i : {1, 5, 9, 10, 11}) {  // im2col, 1x1 direct, many images per tile, banded, stem
        ConvCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        ASSERT_TRUE(c.has_bias) << c.tag;
        std::vector<float> scratch(conv2d_scratch_floats(&ctx, &c.s) + 1);
        // dweight and dbias accumulate onto what is there.
        std::vector<float> base_w = random_floats(c.dweight.size(), 11 + i, -2.0f, 2.0f);
        std::vector<float> base_b = random_floats(c.dbias.size(), 12 + i, -2.0f, 2.0f);
        std::vector<float> dweight = base_w, dbias = base_b, want_w = c.dweight, want_b = c.dbias;
        for (size_t j = 0; j < want_w.size(); j++) want_w[j] += base_w[j];
        for (size_t j = 0; j < want_b.size(); j++) want_b[j] += base_b[j];
        // din is overwritten: start from NaN, which any read would propagate.
        std::vector<float> din(c.din.size(), std::numeric_limits<float>::quiet_NaN());
        ops_cpu.conv2d_backward(&ctx, &c.s, din.data(), dweight.data(), dbias.data(),
                                c.dout.data(), c.in.data(), c.weight.data(), scratch.data());
        expect_close(c.tag + " din overwrites", din, c.din, sum_atol(input_grad_terms(c)), kRtol);
        expect_close(c.tag + " dweight accumulates", dweight, want_w,
                     sum_atol(param_grad_terms(c)) + 2e-6f, kRtol);
        expect_close(c.tag + " dbias accumulates", dbias, want_b,
                     sum_atol(param_grad_terms(c)) + 2e-6f, kRtol);
        // NULL din: the parameter gradients alone, same values.
        ConvRun full = run_cpu(c, 2);
        std::vector<float> dweight_only(c.dweight.size(), 0.0f), dbias_only(c.dbias.size(), 0.0f);
        ops_cpu.conv2d_backward(&ctx, &c.s, nullptr, dweight_only.data(), dbias_only.data(),
                                c.dout.data(), c.in.data(), c.weight.data(), scratch.data());
        expect_identical(c.tag + " dweight with NULL din", dweight_only, full.dweight);
        expect_identical(c.tag + " dbias with NULL din", dbias_only, full.dbias);
        // NULL dweight / dbias: the input gradient alone, same values.
        std::vector<float> din_only(c.din.size(), 0.0f);
        ops_cpu.conv2d_backward(&ctx, &c.s, din_only.data(), nullptr, nullptr, c.dout.data(),
                                c.in.data(), c.weight.data(), scratch.data());
        expect_identical(c.tag + " din with NULL dweight, dbias", din_only, full.din);
    }
}

// Double-precision loss sum(out * probe) of the forward: its finite
// differences against the backward run with dout = probe. The conv is linear
// in each input, so a large step has no truncation error; eps 0.05 keeps the
// float32 rounding of the changed outputs well below the 1e-3 tolerance.
TEST(Conv2d, GradientsMatchFiniteDifferences) {
    OpContext ctx = {2, nullptr};
    for (int i : {1, 3, 5, 8, 11}) {  // 11: the one-channel stem's direct loops
        ConvCase c;
        ASSERT_TRUE(load_case(i, &c)) << i;
        std::vector<float> x = c.in, w = c.weight, b = c.bias, probe = c.dout;
        std::vector<float> out(c.out.size()), din(c.din.size());
        std::vector<float> dweight(c.dweight.size(), 0.0f), dbias(c.dbias.size(), 0.0f);
        std::vector<float> scratch(conv2d_scratch_floats(&ctx, &c.s) + 1);
        float* bias = c.has_bias ? b.data() : nullptr;
        ops_cpu.conv2d_backward(&ctx, &c.s, din.data(), dweight.data(),
                                c.has_bias ? dbias.data() : nullptr, probe.data(), x.data(),
                                w.data(), scratch.data());
        auto loss = [&]() {
            ops_cpu.conv2d_forward(&ctx, &c.s, out.data(), x.data(), w.data(), bias,
                                   scratch.data());
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
