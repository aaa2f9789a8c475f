// GPU parity: every op of the CUDA backend against the CPU backend (the
// reference, itself checked against PyTorch by tests/test_*.cc), on random
// inputs of several shapes (batch 1, odd sizes, stride 2, channel counts not a
// multiple of 8), for the forward and every gradient, with the conventions of
// kernels/ops.h (parameter gradients accumulate: they start non-zero here;
// input gradients are overwritten: they start as garbage; NULL skips).
// Every CUDA op also runs twice from the same inputs and must give
// bit-identical results (determinism: no float atomics, deterministic cuDNN
// algorithms, fixed reduction orders).
//
// Built by `make test-gpu` (not part of `make test`). Without a GPU it prints
// "gpu_parity: no CUDA device found (...): nothing was run" and exits 77.
//
// Tolerances (fp32, |got - want| <= atol + rtol * |want|), by kind of result:
//   kExact    pure data movement (copy, concat, shuffle, pool backward):
//             bit-identical.
//   kElement  elementwise float math (activations, add, scale, SGD, BN
//             normalize): same formula on both sides, but nvcc contracts
//             a*b+c into FMAs where gcc (ISO C) does not, and CUDA's expf
//             differs from glibc's by up to 2 ulp: 1e-6 relative.
//   kBody     depthwise forward/input gradient: the same fmaf sequence
//             (kernels/shared/depthwise_body.h) on both sides; stated
//             tolerance 1e-6 although they are expected to be bit-identical.
//   kSum(L)   sums of L unit-size products in different orders (GEMM,
//             cuDNN, reductions): float rounding random-walks to ~6e-8 * L
//             per side, so atol = 1e-6 * L (>= 1e-5) and rtol 1e-4.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <cmath>

#include "kernels/cuda/cuda_context.h"
#include "kernels/ops.h"
#include "search/latency.h"
#include "supernet/checkpoint.h"
#include "supernet/evaluate.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"
#include "test_data_util.h"
#include "test_util.h"
#include "train_reference.h"

namespace {

CudaState* g_state = nullptr;
const Ops* gpu = nullptr;
OpContext cpu_ctx = {2, nullptr};
OpContext gpu_ctx = {1, nullptr};

struct Tol {
    float atol, rtol;
};
const Tol kExact = {0.0f, 0.0f};
const Tol kElement = {1e-6f, 1e-6f};
const Tol kBody = {1e-6f, 1e-6f};
Tol kSum(long terms) {
    float atol = 1e-6f * (float)terms;
    return {atol < 1e-5f ? 1e-5f : atol, 1e-4f};
}

void check(const std::string& what, const std::vector<float>& got, const std::vector<float>& want,
           Tol tol) {
    expect_close(what, got, want, tol.atol, tol.rtol);
}

// Determinism: two CUDA runs from the same inputs, compared bit for bit.
template <class T>
void expect_bitwise_equal(const std::string& what, const std::vector<T>& a,
                          const std::vector<T>& b) {
    ASSERT_EQ(a.size(), b.size()) << what;
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < a.size(); i++)
        if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0 && diff++ == 0) first = i;
    EXPECT_EQ(diff, 0u) << what << ": two CUDA runs differ in " << diff << " of " << a.size()
                        << " elements, first at " << first;
}

void sync_gpu() {
    ASSERT_EQ(gpu->synchronize(&gpu_ctx), 0) << cuda_state_error(g_state);
}

// A device array owning its memory, filled from / read back to host vectors.
template <class T>
struct DeviceArray {
    T* p = nullptr;
    size_t n = 0;
    explicit DeviceArray(size_t count) : n(count) {
        p = (T*)gpu->alloc(&gpu_ctx, (count ? count : 1) * sizeof(T));
        EXPECT_NE(p, nullptr) << cuda_state_error(g_state);
    }
    explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { set(host); }
    ~DeviceArray() { gpu->release(&gpu_ctx, p); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    void set(const std::vector<T>& host) {
        EXPECT_EQ(host.size(), n);
        gpu->upload(&gpu_ctx, p, host.data(), n * sizeof(T));
    }
    std::vector<T> get() const {
        std::vector<T> host(n);
        gpu->download(&gpu_ctx, host.data(), p, n * sizeof(T));
        return host;
    }
};
typedef DeviceArray<float> DevF;
typedef DeviceArray<int> DevI;

// Garbage for overwritten outputs, so a kernel that skips an element shows.
std::vector<float> garbage(size_t n, uint64_t seed) { return random_floats(n, seed, 1e3f, 2e3f); }

std::string shape_tag(const ConvShape& s) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "n%d %dx%dx%d->%d k%d s%d p%d", s.batch, s.in_h, s.in_w, s.in_c,
                  s.out_c, s.kernel, s.stride, s.pad);
    return buf;
}

// ---------------------------------------------------------------- memory

TEST(GpuMemory, AllocUploadDownloadCopyFill) {
    const size_t n = 1001;
    DevF a(n);
    EXPECT_EQ(a.get(), std::vector<float>(n, 0.0f)) << "alloc must return zeroed memory";
    std::vector<float> host = random_floats(n, 1);
    a.set(host);
    EXPECT_EQ(a.get(), host);
    DevF b(n);
    gpu->copy(&gpu_ctx, b.p, a.p, n * sizeof(float));
    EXPECT_EQ(b.get(), host);
    gpu->fill_zero(&gpu_ctx, b.p + 10, 100 * sizeof(float));
    std::vector<float> want = host;
    std::fill(want.begin() + 10, want.begin() + 110, 0.0f);
    EXPECT_EQ(b.get(), want);
    sync_gpu();
}

// copy has memmove semantics, also for overlapping ranges in both directions.
TEST(GpuMemory, CopyOverlappingLikeMemmove) {
    const size_t n = 1000;
    std::vector<float> host = random_floats(n, 2);
    struct Move {
        size_t dst, src, count;
    } moves[] = {{0, 3, 900}, {3, 0, 900}, {0, 1, 999}, {1, 0, 999}, {100, 400, 500}, {5, 5, 10}};
    for (const Move& m : moves) {
        DevF a(host);
        gpu->copy(&gpu_ctx, a.p + m.dst, a.p + m.src, m.count * sizeof(float));
        std::vector<float> want = host;
        std::memmove(want.data() + m.dst, want.data() + m.src, m.count * sizeof(float));
        EXPECT_EQ(a.get(), want) << "copy dst " << m.dst << " src " << m.src << " n " << m.count;
    }
    sync_gpu();
}

// ---------------------------------------------------------------- dense conv2d

struct ConvRun {
    std::vector<float> out, din, dweight, dbias;
};

ConvRun conv2d_gpu(const ConvShape& s, const std::vector<float>& in, const std::vector<float>& w,
                   const std::vector<float>& bias, const std::vector<float>& dout,
                   const std::vector<float>& dweight0, const std::vector<float>& dbias0,
                   size_t in_n, size_t out_n) {
    DevF d_in(in), d_w(w), d_bias(bias), d_dout(dout), d_dw(dweight0), d_db(dbias0);
    DevF d_out(garbage(out_n, 3)), d_din(garbage(in_n, 4));
    DevF scratch(conv2d_scratch_floats(&gpu_ctx, &s));
    gpu->conv2d_forward(&gpu_ctx, &s, d_out.p, d_in.p, d_w.p, d_bias.p, scratch.p);
    gpu->conv2d_backward(&gpu_ctx, &s, d_din.p, d_dw.p, d_db.p, d_dout.p, d_in.p, d_w.p,
                         scratch.p);
    sync_gpu();
    return {d_out.get(), d_din.get(), d_dw.get(), d_db.get()};
}

void conv2d_parity(const ConvShape& s, int direct) {
    cuda_state_set_direct_conv(g_state, direct);
    std::string tag = shape_tag(s) + (direct ? " direct" : " cudnn");
    int oh = conv_out_h(&s), ow = conv_out_w(&s);
    size_t in_n = (size_t)s.batch * s.in_h * s.in_w * s.in_c;
    size_t out_n = (size_t)s.batch * oh * ow * s.out_c;
    size_t w_n = (size_t)s.out_c * s.kernel * s.kernel * s.in_c;
    auto in = random_floats(in_n, 10), w = random_floats(w_n, 11);
    auto bias = random_floats(s.out_c, 12), dout = random_floats(out_n, 13);
    auto dw0 = random_floats(w_n, 14), db0 = random_floats(s.out_c, 15);

    ConvRun cpu;
    cpu.out = garbage(out_n, 3);
    cpu.din = garbage(in_n, 4);
    cpu.dweight = dw0;
    cpu.dbias = db0;
    std::vector<float> scratch(conv2d_scratch_floats(&cpu_ctx, &s));
    ops_cpu.conv2d_forward(&cpu_ctx, &s, cpu.out.data(), in.data(), w.data(), bias.data(),
                           scratch.data());
    ops_cpu.conv2d_backward(&cpu_ctx, &s, cpu.din.data(), cpu.dweight.data(), cpu.dbias.data(),
                            dout.data(), in.data(), w.data(), scratch.data());

    ConvRun a = conv2d_gpu(s, in, w, bias, dout, dw0, db0, in_n, out_n);
    long taps = (long)s.kernel * s.kernel;
    check(tag + " out", a.out, cpu.out, kSum(taps * s.in_c));
    check(tag + " din", a.din, cpu.din, kSum(taps * s.out_c));
    check(tag + " dweight", a.dweight, cpu.dweight, kSum((long)s.batch * oh * ow));
    check(tag + " dbias", a.dbias, cpu.dbias, kSum((long)s.batch * oh * ow));
    ConvRun b = conv2d_gpu(s, in, w, bias, dout, dw0, db0, in_n, out_n);
    expect_bitwise_equal(tag + " out", a.out, b.out);
    expect_bitwise_equal(tag + " din", a.din, b.din);
    expect_bitwise_equal(tag + " dweight", a.dweight, b.dweight);
    expect_bitwise_equal(tag + " dbias", a.dbias, b.dbias);
}

const ConvShape kConvShapes[] = {
    {1, 7, 7, 3, 8, 3, 1, 1},     // batch 1, RGB-like stem
    {2, 9, 11, 5, 12, 3, 2, 1},   // odd sizes, stride 2
    {3, 8, 8, 16, 24, 1, 1, 0},   // 1x1
    {2, 10, 10, 6, 10, 5, 2, 2},  // k5 stride 2
    {1, 6, 5, 4, 4, 3, 1, 0},     // no padding
    {2, 13, 13, 13, 20, 7, 2, 3}, // k7, channels not a multiple of 8
};

TEST(GpuConv2d, CudnnMatchesCpu) {
    for (const ConvShape& s : kConvShapes) conv2d_parity(s, 0);
    cuda_state_set_direct_conv(g_state, 0);
}

TEST(GpuConv2d, DirectKernelsMatchCpu) {
    for (const ConvShape& s : kConvShapes) conv2d_parity(s, 1);
    cuda_state_set_direct_conv(g_state, 0);
}

TEST(GpuConv2d, NullBiasAndNullGradients) {
    ConvShape s = {2, 9, 7, 5, 6, 3, 2, 1};
    int oh = conv_out_h(&s), ow = conv_out_w(&s);
    size_t in_n = (size_t)s.batch * s.in_h * s.in_w * s.in_c;
    size_t out_n = (size_t)s.batch * oh * ow * s.out_c;
    size_t w_n = (size_t)s.out_c * s.kernel * s.kernel * s.in_c;
    auto in = random_floats(in_n, 20), w = random_floats(w_n, 21), dout = random_floats(out_n, 22);
    auto dw0 = random_floats(w_n, 23);
    std::vector<float> out(out_n), dw = dw0;
    std::vector<float> scratch(conv2d_scratch_floats(&cpu_ctx, &s));
    ops_cpu.conv2d_forward(&cpu_ctx, &s, out.data(), in.data(), w.data(), nullptr, scratch.data());
    ops_cpu.conv2d_backward(&cpu_ctx, &s, nullptr, dw.data(), nullptr, dout.data(), in.data(),
                            w.data(), scratch.data());
    DevF d_in(in), d_w(w), d_dout(dout), d_dw(dw0), d_out(garbage(out_n, 24));
    DevF d_scratch(conv2d_scratch_floats(&gpu_ctx, &s));
    gpu->conv2d_forward(&gpu_ctx, &s, d_out.p, d_in.p, d_w.p, nullptr, d_scratch.p);
    gpu->conv2d_backward(&gpu_ctx, &s, nullptr, d_dw.p, nullptr, d_dout.p, d_in.p, d_w.p,
                         d_scratch.p);
    sync_gpu();
    check("conv2d no bias out", d_out.get(), out, kSum(9L * s.in_c));
    check("conv2d dweight only", d_dw.get(), dw, kSum((long)s.batch * oh * ow));
}

// ---------------------------------------------------------------- depthwise conv2d

struct DwRun {
    std::vector<float> out, din, dweight;
};

DwRun depthwise_gpu(const ConvShape& s, const std::vector<float>& in, const std::vector<float>& w,
                    const std::vector<float>& dout, const std::vector<float>& dw0, size_t in_n,
                    size_t out_n) {
    DevF d_in(in), d_w(w), d_dout(dout), d_dw(dw0);
    DevF d_out(garbage(out_n, 30)), d_din(garbage(in_n, 31));
    DevF scratch(depthwise_conv2d_scratch_floats(&gpu_ctx, &s));
    gpu->depthwise_conv2d_forward(&gpu_ctx, &s, d_out.p, d_in.p, d_w.p);
    gpu->depthwise_conv2d_backward(&gpu_ctx, &s, d_din.p, d_dw.p, d_dout.p, d_in.p, d_w.p,
                                   scratch.p);
    sync_gpu();
    return {d_out.get(), d_din.get(), d_dw.get()};
}

TEST(GpuDepthwiseConv2d, MatchesCpuAndIsDeterministic) {
    const ConvShape shapes[] = {
        {1, 7, 7, 8, 8, 3, 1, 1},        {2, 9, 11, 13, 13, 3, 2, 1},
        {3, 10, 10, 24, 24, 5, 1, 2},    {2, 11, 9, 7, 7, 5, 2, 2},
        {1, 14, 14, 40, 40, 7, 1, 3},    {2, 15, 15, 19, 19, 7, 2, 3},
        {16, 28, 28, 12, 12, 3, 1, 1},   // enough rows for several reduction chunks
        {1, 5, 5, 3, 3, 3, 1, 0},        // no padding
    };
    for (const ConvShape& s : shapes) {
        std::string tag = "depthwise " + shape_tag(s);
        int oh = conv_out_h(&s), ow = conv_out_w(&s);
        size_t in_n = (size_t)s.batch * s.in_h * s.in_w * s.in_c;
        size_t out_n = (size_t)s.batch * oh * ow * s.in_c;
        size_t w_n = (size_t)s.kernel * s.kernel * s.in_c;
        auto in = random_floats(in_n, 40), w = random_floats(w_n, 41);
        auto dout = random_floats(out_n, 42), dw0 = random_floats(w_n, 43);
        DwRun cpu = {garbage(out_n, 30), garbage(in_n, 31), dw0};
        std::vector<float> scratch(depthwise_conv2d_scratch_floats(&cpu_ctx, &s));
        ops_cpu.depthwise_conv2d_forward(&cpu_ctx, &s, cpu.out.data(), in.data(), w.data());
        ops_cpu.depthwise_conv2d_backward(&cpu_ctx, &s, cpu.din.data(), cpu.dweight.data(),
                                          dout.data(), in.data(), w.data(), scratch.data());
        DwRun a = depthwise_gpu(s, in, w, dout, dw0, in_n, out_n);
        check(tag + " out", a.out, cpu.out, kBody);
        check(tag + " din", a.din, cpu.din, kBody);
        check(tag + " dweight", a.dweight, cpu.dweight, kSum((long)s.batch * oh * ow));
        DwRun b = depthwise_gpu(s, in, w, dout, dw0, in_n, out_n);
        expect_bitwise_equal(tag + " out", a.out, b.out);
        expect_bitwise_equal(tag + " din", a.din, b.din);
        expect_bitwise_equal(tag + " dweight", a.dweight, b.dweight);
    }
}

TEST(GpuDepthwiseConv2d, NullInputGradientSkips) {
    ConvShape s = {2, 9, 9, 13, 13, 5, 2, 2};
    int oh = conv_out_h(&s), ow = conv_out_w(&s);
    size_t in_n = (size_t)s.batch * s.in_h * s.in_w * s.in_c;
    size_t out_n = (size_t)s.batch * oh * ow * s.in_c;
    size_t w_n = (size_t)s.kernel * s.kernel * s.in_c;
    auto in = random_floats(in_n, 44), w = random_floats(w_n, 45), dout = random_floats(out_n, 46);
    auto dw = random_floats(w_n, 47);
    DevF d_in(in), d_w(w), d_dout(dout), d_dw(dw);
    DevF scratch(depthwise_conv2d_scratch_floats(&gpu_ctx, &s));
    std::vector<float> cpu_scratch(depthwise_conv2d_scratch_floats(&cpu_ctx, &s));
    ops_cpu.depthwise_conv2d_backward(&cpu_ctx, &s, nullptr, dw.data(), dout.data(), in.data(),
                                      w.data(), cpu_scratch.data());
    gpu->depthwise_conv2d_backward(&gpu_ctx, &s, nullptr, d_dw.p, d_dout.p, d_in.p, d_w.p,
                                   scratch.p);
    sync_gpu();
    check("depthwise dweight only", d_dw.get(), dw, kSum((long)s.batch * oh * ow));
}

// ---------------------------------------------------------------- linear / pointwise

TEST(GpuLinear, MatchesCpuAndIsDeterministic) {
    struct {
        int rows, in_f, out_f, bias;
    } cases[] = {{1, 7, 5, 1}, {37, 24, 13, 1}, {128, 96, 40, 0}, {2 * 7 * 7, 17, 33, 1},
                 {300, 1, 3, 1}};
    for (const auto& c : cases) {
        char tag[96];
        std::snprintf(tag, sizeof tag, "linear %dx%d->%d%s", c.rows, c.in_f, c.out_f,
                      c.bias ? " +bias" : "");
        size_t in_n = (size_t)c.rows * c.in_f, out_n = (size_t)c.rows * c.out_f;
        size_t w_n = (size_t)c.out_f * c.in_f;
        auto in = random_floats(in_n, 50), w = random_floats(w_n, 51);
        auto bias = random_floats(c.out_f, 52), dout = random_floats(out_n, 53);
        auto dw0 = random_floats(w_n, 54), db0 = random_floats(c.out_f, 55);
        const float* bias_p = c.bias ? bias.data() : nullptr;
        std::vector<float> out = garbage(out_n, 56), din = garbage(in_n, 57), dw = dw0, db = db0;
        ops_cpu.linear_forward(&cpu_ctx, out.data(), in.data(), w.data(), bias_p, c.rows, c.in_f,
                               c.out_f);
        ops_cpu.linear_backward(&cpu_ctx, din.data(), dw.data(), c.bias ? db.data() : nullptr,
                                dout.data(), in.data(), w.data(), c.rows, c.in_f, c.out_f);
        std::vector<float> runs[2][4];
        for (int r = 0; r < 2; r++) {
            DevF d_in(in), d_w(w), d_bias(bias), d_dout(dout), d_dw(dw0), d_db(db0);
            DevF d_out(garbage(out_n, 56)), d_din(garbage(in_n, 57));
            gpu->linear_forward(&gpu_ctx, d_out.p, d_in.p, d_w.p, c.bias ? d_bias.p : nullptr,
                                c.rows, c.in_f, c.out_f);
            gpu->linear_backward(&gpu_ctx, d_din.p, d_dw.p, c.bias ? d_db.p : nullptr, d_dout.p,
                                 d_in.p, d_w.p, c.rows, c.in_f, c.out_f);
            sync_gpu();
            runs[r][0] = d_out.get();
            runs[r][1] = d_din.get();
            runs[r][2] = d_dw.get();
            runs[r][3] = d_db.get();
        }
        std::string t = tag;
        check(t + " out", runs[0][0], out, kSum(c.in_f));
        check(t + " din", runs[0][1], din, kSum(c.out_f));
        check(t + " dweight", runs[0][2], dw, kSum(c.rows));
        check(t + " dbias", runs[0][3], c.bias ? db : db0, kSum(c.rows));
        for (int k = 0; k < 4; k++) expect_bitwise_equal(t + " run", runs[0][k], runs[1][k]);
    }
}

// ---------------------------------------------------------------- batchnorm

struct BnCase {
    int rows, channels, affine, running;
    float offset;  // added to the inputs: a large mean tests the shifted sums
};

TEST(GpuBatchNorm, TrainForwardBackwardMatchCpu) {
    const BnCase cases[] = {{1 * 7 * 7, 5, 1, 1, 0.0f},   {4 * 5 * 3, 20, 1, 1, 0.0f},
                            {2 * 9 * 11, 13, 0, 1, 0.0f}, {3 * 2 * 2, 36, 1, 0, 0.0f},
                            {8 * 14 * 14, 40, 1, 1, 0.0f}, {16 * 28 * 28, 12, 1, 1, 100.0f},
                            {2, 7, 1, 1, 0.0f}};
    const float momentum = 0.1f, eps = 1e-5f;
    for (const BnCase& c : cases) {
        char tag[96];
        std::snprintf(tag, sizeof tag, "bn rows %d c %d%s%s%s", c.rows, c.channels,
                      c.affine ? " affine" : "", c.running ? " running" : "",
                      c.offset != 0.0f ? " offset" : "");
        std::string t = tag;
        size_t n = (size_t)c.rows * c.channels;
        auto in = random_floats(n, 60, -2.0f + c.offset, 2.0f + c.offset);
        auto gamma = random_floats(c.channels, 61, 0.5f, 1.5f);
        auto beta = random_floats(c.channels, 62);
        auto rm0 = random_floats(c.channels, 63), rv0 = random_floats(c.channels, 64, 0.5f, 2.0f);
        auto dout = random_floats(n, 65);
        auto dg0 = random_floats(c.channels, 66), db0 = random_floats(c.channels, 67);
        const float* g = c.affine ? gamma.data() : nullptr;
        const float* b = c.affine ? beta.data() : nullptr;

        std::vector<float> out = garbage(n, 68), mean(c.channels), rstd(c.channels);
        std::vector<float> rm = rm0, rv = rv0, din = garbage(n, 69), dg = dg0, db = db0;
        std::vector<float> scratch(batchnorm_scratch_floats(&cpu_ctx, c.channels));
        ops_cpu.batchnorm_act_forward_train(&cpu_ctx, ACT_NONE, out.data(), in.data(), g, b,
                                            mean.data(), rstd.data(),
                                            c.running ? rm.data() : nullptr,
                                            c.running ? rv.data() : nullptr, c.rows, c.channels,
                                            momentum, eps);
        ops_cpu.batchnorm_act_backward(&cpu_ctx, ACT_NONE, din.data(),
                                       c.affine ? dg.data() : nullptr,
                                       c.affine ? db.data() : nullptr, dout.data(), in.data(), g,
                                       nullptr, mean.data(), rstd.data(), c.rows, c.channels,
                                       scratch.data());

        std::vector<float> runs[2][7];
        for (int r = 0; r < 2; r++) {
            DevF d_in(in), d_g(gamma), d_b(beta), d_rm(rm0), d_rv(rv0), d_dout(dout);
            DevF d_dg(dg0), d_db(db0), d_out(garbage(n, 68)), d_din(garbage(n, 69));
            DevF d_mean(c.channels), d_rstd(c.channels);
            DevF d_scratch(batchnorm_scratch_floats(&gpu_ctx, c.channels));
            gpu->batchnorm_act_forward_train(&gpu_ctx, ACT_NONE, d_out.p, d_in.p,
                                             c.affine ? d_g.p : nullptr, c.affine ? d_b.p : nullptr,
                                             d_mean.p, d_rstd.p, c.running ? d_rm.p : nullptr,
                                             c.running ? d_rv.p : nullptr, c.rows, c.channels,
                                             momentum, eps);
            gpu->batchnorm_act_backward(&gpu_ctx, ACT_NONE, d_din.p, c.affine ? d_dg.p : nullptr,
                                        c.affine ? d_db.p : nullptr, d_dout.p, d_in.p,
                                        c.affine ? d_g.p : nullptr, nullptr, d_mean.p, d_rstd.p,
                                        c.rows, c.channels, d_scratch.p);
            sync_gpu();
            runs[r][0] = d_out.get();
            runs[r][1] = d_mean.get();
            runs[r][2] = d_rstd.get();
            runs[r][3] = d_rm.get();
            runs[r][4] = d_rv.get();
            runs[r][5] = d_din.get();
            runs[r][6] = d_dg.get();
            std::vector<float> dbeta = d_db.get();
            runs[r][6].insert(runs[r][6].end(), dbeta.begin(), dbeta.end());
        }
        // Statistics come from double sums on both sides: equal to float
        // rounding. The outputs and gradients are O(1) after a few float
        // operations; the input gradient subtracts per-channel means of
        // `rows` terms, and dgamma/dbeta are sums of `rows` terms.
        check(t + " out", runs[0][0], out, {1e-5f, 1e-5f});
        check(t + " save_mean", runs[0][1], mean, {1e-6f, 1e-6f});
        check(t + " save_rstd", runs[0][2], rstd, {1e-6f, 1e-6f});
        check(t + " running_mean", runs[0][3], c.running ? rm : rm0, {1e-6f, 1e-6f});
        check(t + " running_var", runs[0][4], c.running ? rv : rv0, {1e-6f, 1e-6f});
        check(t + " din", runs[0][5], din, {1e-5f, 1e-4f});
        // Non-affine: the GPU buffers must stay at their starting values.
        std::vector<float> dgb = c.affine ? dg : dg0;
        const std::vector<float>& dbeta = c.affine ? db : db0;
        dgb.insert(dgb.end(), dbeta.begin(), dbeta.end());
        check(t + " dgamma|dbeta", runs[0][6], dgb, kSum(c.rows));
        for (int k = 0; k < 7; k++) expect_bitwise_equal(t + " run", runs[0][k], runs[1][k]);
    }
}

TEST(GpuBatchNorm, InferMatchesCpu) {
    const BnCase cases[] = {{2 * 3 * 5, 20, 1, 0, 0.0f}, {16, 7, 0, 0, 0.0f}, {1, 36, 1, 0, 0.0f}};
    for (const BnCase& c : cases) {
        size_t n = (size_t)c.rows * c.channels;
        auto in = random_floats(n, 70), gamma = random_floats(c.channels, 71);
        auto beta = random_floats(c.channels, 72), rm = random_floats(c.channels, 73);
        auto rv = random_floats(c.channels, 74, 0.1f, 3.0f);
        const float* g = c.affine ? gamma.data() : nullptr;
        const float* b = c.affine ? beta.data() : nullptr;
        std::vector<float> out(n);
        ops_cpu.batchnorm_act_forward_infer(&cpu_ctx, ACT_NONE, out.data(), in.data(), g, b,
                                            rm.data(), rv.data(), c.rows, c.channels, 1e-5f);
        DevF d_in(in), d_g(gamma), d_b(beta), d_rm(rm), d_rv(rv), d_out(garbage(n, 75));
        gpu->batchnorm_act_forward_infer(&gpu_ctx, ACT_NONE, d_out.p, d_in.p,
                                         c.affine ? d_g.p : nullptr, c.affine ? d_b.p : nullptr,
                                         d_rm.p, d_rv.p, c.rows, c.channels, 1e-5f);
        sync_gpu();
        check("bn infer rows " + std::to_string(c.rows) + " c " + std::to_string(c.channels),
              d_out.get(), out, kElement);
    }
}

// ------------------------------------------------------- fused batchnorm + act

// Moves inputs until no y = BN(x) (CPU batch statistics) lies within 1e-3 of
// a kink of any activation: nvcc's FMAs round y differently from gcc by an
// ulp, which must not decide which side of a kink an element falls on.
void bn_act_inputs_away_from_kinks(std::vector<float>& x, const float* gamma, const float* beta,
                                   int rows, int channels) {
    const float kinks[] = {-3.0f, 0.0f, 3.0f, 6.0f};
    std::vector<float> y(x.size()), mean(channels), rstd(channels);
    for (int pass = 0; pass < 20; pass++) {
        ops_cpu.batchnorm_act_forward_train(&cpu_ctx, ACT_NONE, y.data(), x.data(), gamma, beta,
                                            mean.data(), rstd.data(), nullptr, nullptr, rows,
                                            channels, 0.1f, 1e-5f);
        bool moved = false;
        for (size_t i = 0; i < x.size(); i++)
            for (float k : kinks)
                if (std::fabs(y[i] - k) < 1e-3f) {
                    int c = (int)(i % (size_t)channels);
                    x[i] += 3e-3f / (rstd[c] * (gamma ? std::fabs(gamma[c]) : 1.0f));
                    moved = true;
                }
        if (!moved) return;
    }
    ADD_FAILURE() << "inputs keep landing on a kink";
}

// Every activation, affine or not, with and without running statistics:
// training forward, backward (gradients accumulate from non-zero starting
// values; din starts as garbage) and inference forward against the CPU, two
// CUDA runs bit for bit, and din aliasing dout.
TEST(GpuBatchNormAct, MatchesCpuAndIsDeterministic) {
    const BnCase cases[] = {{1 * 7 * 7, 5, 1, 1, 0.0f},    {4 * 5 * 3, 20, 1, 1, 0.0f},
                            {2 * 9 * 11, 13, 0, 1, 0.0f},  {3 * 2 * 2, 36, 1, 0, 0.0f},
                            {8 * 14 * 14, 40, 1, 1, 0.0f}, {16 * 28 * 28, 24, 1, 1, 50.0f},
                            {2, 7, 1, 1, 0.0f},            {2 * 3 * 3, 520, 0, 1, 0.0f}};
    const float momentum = 0.1f, eps = 1e-5f;
    for (const BnCase& c : cases)
        for (int a = ACT_NONE; a <= ACT_HSIGMOID; a++) {
            Activation act = (Activation)a;
            char tag[112];
            std::snprintf(tag, sizeof tag, "bn+act %d rows %d c %d%s%s%s", a, c.rows, c.channels,
                          c.affine ? " affine" : "", c.running ? " running" : "",
                          c.offset != 0.0f ? " offset" : "");
            std::string t = tag;
            size_t n = (size_t)c.rows * c.channels;
            auto in = random_floats(n, 160, -2.0f + c.offset, 2.0f + c.offset);
            auto gamma = random_floats(c.channels, 161, 0.5f, 4.0f);
            auto beta = random_floats(c.channels, 162, -1.0f, 3.0f);
            auto rm0 = random_floats(c.channels, 163);
            auto rv0 = random_floats(c.channels, 164, 0.5f, 2.0f);
            auto dout = random_floats(n, 165);
            auto dg0 = random_floats(c.channels, 166), db0 = random_floats(c.channels, 167);
            const float* g = c.affine ? gamma.data() : nullptr;
            const float* b = c.affine ? beta.data() : nullptr;
            bn_act_inputs_away_from_kinks(in, g, b, c.rows, c.channels);

            std::vector<float> out = garbage(n, 168), mean(c.channels), rstd(c.channels);
            std::vector<float> rm = rm0, rv = rv0, din = garbage(n, 169), dg = dg0, db = db0;
            std::vector<float> infer = garbage(n, 170);
            std::vector<float> scratch(batchnorm_scratch_floats(&cpu_ctx, c.channels));
            ops_cpu.batchnorm_act_forward_train(&cpu_ctx, act, out.data(), in.data(), g, b,
                                                mean.data(), rstd.data(),
                                                c.running ? rm.data() : nullptr,
                                                c.running ? rv.data() : nullptr, c.rows,
                                                c.channels, momentum, eps);
            ops_cpu.batchnorm_act_backward(&cpu_ctx, act, din.data(),
                                           c.affine ? dg.data() : nullptr,
                                           c.affine ? db.data() : nullptr, dout.data(), in.data(),
                                           g, b, mean.data(), rstd.data(), c.rows, c.channels,
                                           scratch.data());
            ops_cpu.batchnorm_act_forward_infer(&cpu_ctx, act, infer.data(), in.data(), g, b,
                                                rm0.data(), rv0.data(), c.rows, c.channels, eps);

            std::vector<float> runs[2][9];
            for (int r = 0; r < 2; r++) {
                DevF d_in(in), d_g(gamma), d_b(beta), d_rm(rm0), d_rv(rv0), d_dout(dout);
                DevF d_rm_infer(rm0), d_rv_infer(rv0);
                DevF d_dg(dg0), d_db(db0), d_out(garbage(n, 168)), d_din(garbage(n, 169));
                DevF d_infer(garbage(n, 170)), d_mean(c.channels), d_rstd(c.channels);
                DevF d_scratch(batchnorm_scratch_floats(&gpu_ctx, c.channels));
                const float* dgp = c.affine ? d_g.p : nullptr;
                const float* dbp = c.affine ? d_b.p : nullptr;
                gpu->batchnorm_act_forward_train(&gpu_ctx, act, d_out.p, d_in.p, dgp, dbp,
                                                 d_mean.p, d_rstd.p, c.running ? d_rm.p : nullptr,
                                                 c.running ? d_rv.p : nullptr, c.rows, c.channels,
                                                 momentum, eps);
                gpu->batchnorm_act_backward(&gpu_ctx, act, d_din.p, c.affine ? d_dg.p : nullptr,
                                            c.affine ? d_db.p : nullptr, d_dout.p, d_in.p, dgp,
                                            dbp, d_mean.p, d_rstd.p, c.rows, c.channels,
                                            d_scratch.p);
                gpu->batchnorm_act_forward_infer(&gpu_ctx, act, d_infer.p, d_in.p, dgp, dbp,
                                                 d_rm_infer.p, d_rv_infer.p, c.rows, c.channels,
                                                 eps);
                // din aliasing dout (overwrites d_dout, read last).
                gpu->batchnorm_act_backward(&gpu_ctx, act, d_dout.p, nullptr, nullptr, d_dout.p,
                                            d_in.p, dgp, dbp, d_mean.p, d_rstd.p, c.rows,
                                            c.channels, d_scratch.p);
                sync_gpu();
                runs[r][0] = d_out.get();
                runs[r][1] = d_mean.get();
                runs[r][2] = d_rstd.get();
                runs[r][3] = d_rm.get();
                runs[r][4] = d_rv.get();
                runs[r][5] = d_din.get();
                runs[r][6] = d_dg.get();
                std::vector<float> dbeta = d_db.get();
                runs[r][6].insert(runs[r][6].end(), dbeta.begin(), dbeta.end());
                runs[r][7] = d_infer.get();
                runs[r][8] = d_dout.get();
            }
            // As GpuBatchNorm above: outputs are O(1)-O(10) after a few float
            // operations (and CUDA's expf for sigmoid); the input gradient
            // subtracts per-channel means of `rows` terms; dgamma/dbeta sum
            // `rows` terms.
            check(t + " out", runs[0][0], out, {1e-5f, 1e-5f});
            check(t + " save_mean", runs[0][1], mean, {1e-6f, 1e-6f});
            check(t + " save_rstd", runs[0][2], rstd, {1e-6f, 1e-6f});
            check(t + " running_mean", runs[0][3], c.running ? rm : rm0, {1e-6f, 1e-6f});
            check(t + " running_var", runs[0][4], c.running ? rv : rv0, {1e-6f, 1e-6f});
            check(t + " din", runs[0][5], din, {1e-5f, 1e-4f});
            std::vector<float> dgb = c.affine ? dg : dg0;
            const std::vector<float>& dbeta = c.affine ? db : db0;
            dgb.insert(dgb.end(), dbeta.begin(), dbeta.end());
            check(t + " dgamma|dbeta", runs[0][6], dgb, kSum(c.rows));
            check(t + " infer out", runs[0][7], infer, {1e-5f, 1e-5f});
            check(t + " din aliasing dout", runs[0][8], din, {1e-5f, 1e-4f});
            for (int k = 0; k < 9; k++) expect_bitwise_equal(t + " run", runs[0][k], runs[1][k]);
        }
}

// ---------------------------------------------------------------- activations

TEST(GpuActivation, ForwardBackwardMatchCpu) {
    const size_t n = 1001;
    auto x = random_floats(n, 80, -8.0f, 8.0f);
    x[0] = -3.0f, x[1] = 0.0f, x[2] = 3.0f, x[3] = 6.0f;  // the kinks
    auto dout = random_floats(n, 81);
    for (int a = ACT_NONE; a <= ACT_HSIGMOID; a++) {
        Activation act = (Activation)a;
        std::string t = "activation " + std::to_string(a);
        std::vector<float> out(n), din(n);
        ops_cpu.activation_forward(&cpu_ctx, act, out.data(), x.data(), n);
        ops_cpu.activation_backward(&cpu_ctx, act, din.data(), dout.data(), x.data(), n);
        DevF d_x(x), d_out(garbage(n, 82)), d_g(dout);
        gpu->activation_forward(&gpu_ctx, act, d_out.p, d_x.p, n);
        gpu->activation_backward(&gpu_ctx, act, d_g.p, d_g.p, d_x.p, n);  // din aliases dout
        sync_gpu();
        check(t + " out", d_out.get(), out, kElement);
        check(t + " din (aliasing dout)", d_g.get(), din, kElement);
    }
}

// ---------------------------------------------------------------- pool and SE scale

TEST(GpuPool, GlobalAvgPoolAndChannelScaleMatchCpu) {
    struct {
        int batch, hw, channels;
    } cases[] = {{1, 49, 13}, {3, 7 * 9, 40}, {2, 1, 5}, {4, 28 * 28, 24}};
    for (const auto& c : cases) {
        char tag[64];
        std::snprintf(tag, sizeof tag, "b%d hw%d c%d", c.batch, c.hw, c.channels);
        std::string t = tag;
        size_t n = (size_t)c.batch * c.hw * c.channels, m = (size_t)c.batch * c.channels;
        auto in = random_floats(n, 90), dpool = random_floats(m, 91);
        auto scale = random_floats(m, 92, 0.0f, 1.0f), dout = random_floats(n, 93);
        std::vector<float> pool(m), dpool_in(n), scaled(n), din(n), dscale(m);
        ops_cpu.global_avg_pool_forward(&cpu_ctx, pool.data(), in.data(), c.batch, c.hw,
                                        c.channels);
        ops_cpu.global_avg_pool_backward(&cpu_ctx, dpool_in.data(), dpool.data(), c.batch, c.hw,
                                         c.channels);
        ops_cpu.channel_scale_forward(&cpu_ctx, scaled.data(), in.data(), scale.data(), c.batch,
                                      c.hw, c.channels);
        ops_cpu.channel_scale_backward(&cpu_ctx, din.data(), dscale.data(), dout.data(), in.data(),
                                       scale.data(), c.batch, c.hw, c.channels);
        std::vector<float> runs[2][5];
        for (int r = 0; r < 2; r++) {
            DevF d_in(in), d_dpool(dpool), d_scale(scale), d_dout(dout);
            DevF d_pool(garbage(m, 94)), d_dpool_in(garbage(n, 95)), d_scaled(garbage(n, 96));
            DevF d_din(garbage(n, 97)), d_dscale(garbage(m, 98));
            gpu->global_avg_pool_forward(&gpu_ctx, d_pool.p, d_in.p, c.batch, c.hw, c.channels);
            gpu->global_avg_pool_backward(&gpu_ctx, d_dpool_in.p, d_dpool.p, c.batch, c.hw,
                                          c.channels);
            gpu->channel_scale_forward(&gpu_ctx, d_scaled.p, d_in.p, d_scale.p, c.batch, c.hw,
                                       c.channels);
            gpu->channel_scale_backward(&gpu_ctx, d_din.p, d_dscale.p, d_dout.p, d_in.p, d_scale.p,
                                        c.batch, c.hw, c.channels);
            sync_gpu();
            runs[r][0] = d_pool.get();
            runs[r][1] = d_dpool_in.get();
            runs[r][2] = d_scaled.get();
            runs[r][3] = d_din.get();
            runs[r][4] = d_dscale.get();
        }
        check(t + " pool", runs[0][0], pool, {1e-6f, 1e-6f});
        check(t + " pool din", runs[0][1], dpool_in, kExact);
        check(t + " scale out", runs[0][2], scaled, kExact);
        check(t + " scale din", runs[0][3], din, kExact);
        check(t + " dscale", runs[0][4], dscale, {1e-6f, 1e-6f});
        for (int k = 0; k < 5; k++) expect_bitwise_equal(t + " run", runs[0][k], runs[1][k]);
    }
}

TEST(GpuPool, ChannelScaleBackwardNullAndAliasing) {
    const int batch = 2, hw = 25, channels = 11;
    size_t n = (size_t)batch * hw * channels, m = (size_t)batch * channels;
    auto in = random_floats(n, 100), scale = random_floats(m, 101), dout = random_floats(n, 102);
    std::vector<float> din = dout, dscale(m);
    ops_cpu.channel_scale_backward(&cpu_ctx, din.data(), dscale.data(), din.data(), in.data(),
                                   scale.data(), batch, hw, channels);
    DevF d_in(in), d_scale(scale), d_g(dout), d_dscale(garbage(m, 103)), d_g2(dout);
    gpu->channel_scale_backward(&gpu_ctx, d_g.p, d_dscale.p, d_g.p, d_in.p, d_scale.p, batch, hw,
                                channels);
    DevF d_din_only(garbage(n, 104));
    gpu->channel_scale_backward(&gpu_ctx, d_din_only.p, nullptr, d_g2.p, d_in.p, d_scale.p, batch,
                                hw, channels);
    sync_gpu();
    check("scale din aliasing dout", d_g.get(), din, kExact);
    check("scale dscale with aliasing", d_dscale.get(), dscale, {1e-6f, 1e-6f});
    check("scale din only", d_din_only.get(), din, kExact);
}

// ---------------------------------------------------------------- channel ops

TEST(GpuChannel, ConcatSplitShuffleAddMatchCpu) {
    struct {
        int rows, ca, cb;
    } cases[] = {{1, 3, 5}, {2 * 7 * 7, 12, 12}, {3 * 5 * 5, 13, 1}, {50, 40, 24}};
    for (const auto& c : cases) {
        char tag[64];
        std::snprintf(tag, sizeof tag, "rows %d ca %d cb %d", c.rows, c.ca, c.cb);
        std::string t = tag;
        size_t na = (size_t)c.rows * c.ca, nb = (size_t)c.rows * c.cb, n = na + nb;
        auto a = random_floats(na, 110), b = random_floats(nb, 111), dout = random_floats(n, 112);
        std::vector<float> out(n), da(na), db(nb);
        ops_cpu.concat_channels(&cpu_ctx, out.data(), a.data(), b.data(), c.rows, c.ca, c.cb);
        ops_cpu.split_channels(&cpu_ctx, da.data(), db.data(), dout.data(), c.rows, c.ca, c.cb);
        DevF d_a(a), d_b(b), d_dout(dout), d_out(garbage(n, 113));
        DevF d_da(garbage(na, 114)), d_db(garbage(nb, 115)), d_db_only(garbage(nb, 116));
        gpu->concat_channels(&gpu_ctx, d_out.p, d_a.p, d_b.p, c.rows, c.ca, c.cb);
        gpu->split_channels(&gpu_ctx, d_da.p, d_db.p, d_dout.p, c.rows, c.ca, c.cb);
        gpu->split_channels(&gpu_ctx, nullptr, d_db_only.p, d_dout.p, c.rows, c.ca, c.cb);
        sync_gpu();
        check(t + " concat", d_out.get(), out, kExact);
        check(t + " split a", d_da.get(), da, kExact);
        check(t + " split b", d_db.get(), db, kExact);
        check(t + " split b only", d_db_only.get(), db, kExact);

        // Shuffle of the concatenated channels, with every group count
        // that divides them.
        int channels = c.ca + c.cb;
        for (int groups = 1; groups <= channels; groups++) {
            if (channels % groups) continue;
            std::vector<float> sh(n);
            ops_cpu.channel_shuffle(&cpu_ctx, sh.data(), out.data(), c.rows, channels, groups);
            DevF d_sh(garbage(n, 117));
            gpu->channel_shuffle(&gpu_ctx, d_sh.p, d_out.p, c.rows, channels, groups);
            sync_gpu();
            check(t + " shuffle g" + std::to_string(groups), d_sh.get(), sh, kExact);
        }

        // Residual add, out aliasing a.
        std::vector<float> sum(n);
        ops_cpu.add(&cpu_ctx, sum.data(), out.data(), dout.data(), n);
        gpu->add(&gpu_ctx, d_out.p, d_out.p, d_dout.p, n);
        sync_gpu();
        check(t + " add (out aliasing a)", d_out.get(), sum, kExact);
    }
}

// ---------------------------------------------------------------- loss and top-k

TEST(GpuLoss, CrossEntropyMatchesCpuAndIsDeterministic) {
    struct {
        int batch, classes;
        float smoothing, scale;
    } cases[] = {{1, 7, 0.1f, 3.0f}, {33, 10, 0.0f, 5.0f}, {64, 1000, 0.1f, 10.0f},
                 {5, 3, 0.2f, 100.0f}, {300, 17, 0.1f, 1.0f}};
    for (const auto& c : cases) {
        char tag[80];
        std::snprintf(tag, sizeof tag, "ce b%d k%d s%.1f x%.0f", c.batch, c.classes, c.smoothing,
                      c.scale);
        std::string t = tag;
        size_t n = (size_t)c.batch * c.classes;
        auto logits = random_floats(n, 120, -c.scale, c.scale);
        std::vector<int> labels(c.batch);
        for (int b = 0; b < c.batch; b++) labels[b] = (b * 7 + 3) % c.classes;
        float loss = 0.0f;
        std::vector<float> dlogits(n);
        ops_cpu.cross_entropy_forward_backward(&cpu_ctx, &loss, dlogits.data(), logits.data(),
                                               labels.data(), c.batch, c.classes, c.smoothing);
        std::vector<float> runs[2][2];
        for (int r = 0; r < 2; r++) {
            DevF d_logits(logits), d_loss(garbage(1, 121)), d_dlogits(garbage(n, 122));
            DevF d_loss_only(garbage(1, 123));
            DevI d_labels(labels);
            gpu->cross_entropy_forward_backward(&gpu_ctx, d_loss.p, d_dlogits.p, d_logits.p,
                                                d_labels.p, c.batch, c.classes, c.smoothing);
            gpu->cross_entropy_forward_backward(&gpu_ctx, d_loss_only.p, nullptr, d_logits.p,
                                                d_labels.p, c.batch, c.classes, c.smoothing);
            sync_gpu();
            runs[r][0] = d_loss.get();
            runs[r][1] = d_dlogits.get();
            expect_bitwise_equal(t + " loss without dlogits", runs[r][0], d_loss_only.get());
        }
        // The loss is a double sum of per-row float results; the gradient is
        // (exp - q) / batch, with CUDA's expf within 2 ulp of glibc's.
        check(t + " loss", runs[0][0], std::vector<float>{loss}, {1e-6f, 1e-5f});
        check(t + " dlogits", runs[0][1], dlogits, {1e-7f, 1e-5f});
        for (int k = 0; k < 2; k++) expect_bitwise_equal(t + " run", runs[0][k], runs[1][k]);
    }
}

TEST(GpuLoss, TopkCountsMatchCpuWithTies) {
    struct {
        int batch, classes;
    } cases[] = {{1, 10}, {50, 10}, {37, 1000}, {20, 3}};
    for (const auto& c : cases) {
        size_t n = (size_t)c.batch * c.classes;
        // Logits rounded to a few levels, so ties are common.
        auto logits = random_floats(n, 130, 0.0f, 4.0f);
        for (float& v : logits) v = (float)(int)v;
        std::vector<int> labels(c.batch);
        for (int b = 0; b < c.batch; b++) labels[b] = (b * 5 + 1) % c.classes;
        int top1 = -1, top5 = -1;
        ops_cpu.topk_correct(&cpu_ctx, &top1, &top5, logits.data(), labels.data(), c.batch,
                             c.classes);
        DevF d_logits(logits);
        DevI d_labels(labels), d_counts(std::vector<int>{-7, -7});
        DevI d_top1_only(std::vector<int>{-7});
        gpu->topk_correct(&gpu_ctx, d_counts.p, d_counts.p + 1, d_logits.p, d_labels.p, c.batch,
                          c.classes);
        gpu->topk_correct(&gpu_ctx, d_top1_only.p, nullptr, d_logits.p, d_labels.p, c.batch,
                          c.classes);
        sync_gpu();
        std::vector<int> counts = d_counts.get();
        EXPECT_EQ(counts[0], top1) << "top-1, batch " << c.batch << " classes " << c.classes;
        EXPECT_EQ(counts[1], top5) << "top-5, batch " << c.batch << " classes " << c.classes;
        EXPECT_EQ(d_top1_only.get()[0], top1) << "top-1 alone";
        std::printf("    topk b%d k%d: top1 %d top5 %d (cpu %d %d)\n", c.batch, c.classes,
                    counts[0], counts[1], top1, top5);
    }
}

// ---------------------------------------------------------------- SGD

TEST(GpuSgd, UpdateMatchesCpuOverSteps) {
    struct {
        float lr, momentum, wd;
        int nesterov, apply_wd;
    } cases[] = {{0.1f, 0.9f, 4e-5f, 1, 1}, {0.05f, 0.9f, 1e-4f, 0, 1}, {0.1f, 0.9f, 4e-5f, 1, 0},
                 {0.02f, 0.0f, 1e-4f, 0, 1}};
    const size_t n = 1537;
    for (const auto& c : cases) {
        SgdConfig cfg = {c.lr, c.momentum, c.wd, c.nesterov};
        char tag[96];
        std::snprintf(tag, sizeof tag, "sgd lr %.2f m %.1f wd %.0e%s%s", c.lr, c.momentum, c.wd,
                      c.nesterov ? " nesterov" : "", c.apply_wd ? "" : " no-wd");
        std::string t = tag;
        auto param = random_floats(n, 140);
        std::vector<float> buf(n, 0.0f);
        bool use_buf = c.momentum != 0.0f;  // momentum 0 may pass NULL
        DevF d_param(param), d_buf(buf);
        for (int step = 0; step < 3; step++) {
            auto grad = random_floats(n, 141 + step);
            ops_cpu.sgd_update(&cpu_ctx, param.data(), use_buf ? buf.data() : nullptr, grad.data(),
                               n, &cfg, c.apply_wd);
            DevF d_grad(grad);
            gpu->sgd_update(&gpu_ctx, d_param.p, use_buf ? d_buf.p : nullptr, d_grad.p, n, &cfg,
                            c.apply_wd);
            sync_gpu();
        }
        check(t + " param", d_param.get(), param, kElement);
        check(t + " momentum", d_buf.get(), buf, kElement);
    }
}

// ---------------------------------------------------------------- context

// Pinned memory and the slot protocol of cuda_upload_async: two batches in
// flight, each consumed by an op on the compute stream.
TEST(GpuContext, AsyncUploadSlots) {
    const size_t n = 4099;
    HwErr err = {};
    float* pinned[2];
    for (int s = 0; s < 2; s++) {
        pinned[s] = (float*)cuda_host_alloc_pinned(g_state, n * sizeof(float), &err);
        ASSERT_NE(pinned[s], nullptr) << err.msg;
    }
    DevF dev0(n), dev1(n), acc(n);
    DevF* dev[2] = {&dev0, &dev1};
    std::vector<float> want(n, 0.0f);
    for (int batch = 0; batch < 6; batch++) {
        int s = batch % 2;
        ASSERT_EQ(cuda_upload_wait_host(g_state, s), 0);
        std::vector<float> v = random_floats(n, 150 + batch);
        std::memcpy(pinned[s], v.data(), n * sizeof(float));
        for (size_t i = 0; i < n; i++) want[i] += v[i];
        ASSERT_EQ(cuda_upload_async(g_state, s, dev[s]->p, pinned[s], n * sizeof(float)), 0);
        ASSERT_EQ(cuda_upload_acquire(g_state, s), 0);
        gpu->add(&gpu_ctx, acc.p, acc.p, dev[s]->p, n);
        ASSERT_EQ(cuda_upload_release(g_state, s), 0);
    }
    sync_gpu();
    check("async uploads summed", acc.get(), want, kExact);
    for (int s = 0; s < 2; s++) cuda_host_free_pinned(g_state, pinned[s]);
}

// Errors are recorded with file and line, sticky, and reported by
// synchronize; later ops do nothing. Uses its own state (a failed one is
// never used again).
TEST(GpuContext, ErrorsAreStickyAndReported) {
    HwErr err = {};
    CudaState* st = cuda_state_create(0, &err);
    ASSERT_NE(st, nullptr) << err.msg;
    OpContext ctx = {1, st};
    EXPECT_STREQ(cuda_state_error(st), "");
    EXPECT_EQ(gpu->synchronize(&ctx), 0);
    void* huge = gpu->alloc(&ctx, (size_t)1 << 60);
    EXPECT_EQ(huge, nullptr);
    EXPECT_EQ(gpu->synchronize(&ctx), -1);
    std::string msg = cuda_state_error(st);
    std::printf("    recorded: %s\n", msg.c_str());
    EXPECT_NE(msg.find("memory.cu:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cudaMalloc"), std::string::npos) << msg;
    EXPECT_EQ(gpu->alloc(&ctx, 16), nullptr) << "ops after a failure do nothing";
    EXPECT_EQ(gpu->synchronize(&ctx), -1) << "the error is sticky";
    EXPECT_EQ(cuda_state_take_error(st, &err), -1);
    EXPECT_NE(std::string(err.msg).find("cudaMalloc"), std::string::npos) << err.msg;
    EXPECT_EQ(cuda_upload_async(st, 0, nullptr, nullptr, 0), -1) << "a failed state refuses";
    cuda_state_destroy(st);

    // A bad upload slot is a recorded error too.
    st = cuda_state_create(0, &err);
    ASSERT_NE(st, nullptr) << err.msg;
    EXPECT_EQ(cuda_upload_async(st, CUDA_UPLOAD_SLOTS, nullptr, nullptr, 0), -1);
    EXPECT_NE(std::string(cuda_state_error(st)).find("slot"), std::string::npos)
        << cuda_state_error(st);
    cuda_state_destroy(st);
    // The shared state is unaffected.
    sync_gpu();
}

// ------------------------------------------------------------ supernet step
// The supernet on tests/spaces/tiny.yaml (every operator of the pool): SGD
// steps on fixed paths from the same weights and batch on both backends,
// BN recalibration, and resume bit-equality on the GPU.

struct NetPair {
    Space space;
    Supernet* cpu = nullptr;
    Supernet* dev = nullptr;
    ~NetPair() {
        supernet_destroy(cpu);
        supernet_destroy(dev);
    }
};

Supernet* make_net(const Space& space, const Ops* ops, const OpContext* ctx) {
    HwErr err = {};
    Supernet* sn = supernet_create(&space, ops, ctx, 6, &err);
    EXPECT_NE(sn, nullptr) << err.msg;
    if (sn) supernet_init_params(sn, 7, nullptr);
    return sn;
}

// Copies weights, momentum and BN statistics from a CPU supernet to another.
void copy_state(const Supernet* from, Supernet* to) {
    std::vector<float> host(from->param_floats);
    from->ops->download(&from->ctx, host.data(), from->params, host.size() * 4);
    to->ops->upload(&to->ctx, to->params, host.data(), host.size() * 4);
    from->ops->download(&from->ctx, host.data(), from->momentum, host.size() * 4);
    to->ops->upload(&to->ctx, to->momentum, host.data(), host.size() * 4);
    std::vector<float> run(from->running_floats + 1);
    from->ops->download(&from->ctx, run.data(), from->running, from->running_floats * 4);
    to->ops->upload(&to->ctx, to->running, run.data(), from->running_floats * 4);
}

std::vector<float> fetch(const Supernet* sn, const float* p, size_t n) {
    std::vector<float> host(n);
    sn->ops->download(&sn->ctx, host.data(), p, n * 4);
    return host;
}

void make_pair(NetPair* np) {
    HwErr err = {};
    ASSERT_EQ(space_load(&np->space, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
    np->cpu = make_net(np->space, &ops_cpu, &cpu_ctx);
    np->dev = make_net(np->space, gpu, &gpu_ctx);
    ASSERT_TRUE(np->cpu && np->dev);
    copy_state(np->cpu, np->dev);
    std::vector<float> x = random_floats(6 * 10 * 10, 99);
    std::vector<int> y = {0, 1, 2, 3, 4, 1};
    for (Supernet* sn : {np->cpu, np->dev}) {
        sn->ops->upload(&sn->ctx, sn->images, x.data(), x.size() * 4);
        sn->ops->upload(&sn->ctx, sn->labels, y.data(), y.size() * 4);
    }
}

float sgd_step(Supernet* sn, const int* path) {
    SgdConfig cfg = {0.1f, 0.9f, 4e-5f, 1};
    supernet_forward(sn, path, 6, MODE_TRAIN, 0.1f);
    sn->ops->cross_entropy_forward_backward(&sn->ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, 6,
                                            sn->space.classes, 0.1f);
    supernet_zero_path_grads(sn, path);
    supernet_backward(sn);
    supernet_sgd_path(sn, path, &cfg);
    float loss = 0;
    sn->ops->download(&sn->ctx, &loss, sn->loss, 4);
    return loss;
}

void path_of(const Space& s, int step, int* path) {
    for (int l = 0; l < s.n_layers; l++) path[l] = (7 * step + 3 * l + 1) % s.layers[l].n_ops;
}

TEST(GpuSupernet, SgdStepsMatchCpu) {
    NetPair np;
    make_pair(&np);
    int path[SPACE_MAX_LAYERS];
    // Every operator of every layer is on some path of the 32 steps.
    for (int step = 0; step < 32; step++) {
        path_of(np.space, step, path);
        float a = sgd_step(np.cpu, path), b = sgd_step(np.dev, path);
        sync_gpu();
        EXPECT_NEAR(a, b, 1e-4f * (1 + std::fabs(a))) << "step " << step;
        check("logits step " + std::to_string(step), fetch(np.dev, np.dev->logits, 30),
              fetch(np.cpu, np.cpu->logits, 30), {1e-4f, 1e-3f});
    }
    // Weights drift apart by rounding only: fp32, 32 steps, BN on batch 6.
    check("params after 32 steps", fetch(np.dev, np.dev->params, np.dev->param_floats),
          fetch(np.cpu, np.cpu->params, np.cpu->param_floats), {1e-4f, 1e-3f});
    check("momentum after 32 steps", fetch(np.dev, np.dev->momentum, np.dev->param_floats),
          fetch(np.cpu, np.cpu->momentum, np.cpu->param_floats), {1e-3f, 1e-2f});
    check("BN running statistics", fetch(np.dev, np.dev->running, np.dev->running_floats),
          fetch(np.cpu, np.cpu->running, np.cpu->running_floats), {1e-4f, 1e-3f});
}

// One SGD step of every path from the same weights: the gradients of every
// operator (each sampled by some path) against the CPU's. Unlike the 32-step
// trajectory above, no step inherits the previous steps' rounding, so a
// different but correct summation order (cuDNN's algorithms, the direct
// kernels' double sums) cannot push an activation across a kink and diverge.
TEST(GpuSupernet, EveryPathGradientsMatchCpu) {
    int path[SPACE_MAX_LAYERS];
    for (int step = 0; step < 32; step++) {
        NetPair np;
        make_pair(&np);
        path_of(np.space, step, path);
        float a = sgd_step(np.cpu, path), b = sgd_step(np.dev, path);
        sync_gpu();
        EXPECT_NEAR(a, b, 1e-5f * (1 + std::fabs(a))) << "path of step " << step;
        check("gradients, path of step " + std::to_string(step),
              fetch(np.dev, np.dev->grads, np.dev->param_floats),
              fetch(np.cpu, np.cpu->grads, np.cpu->param_floats), {1e-6f, 1e-3f});
    }
}

TEST(GpuSupernet, BnRecalibrationMatchesCpu) {
    NetPair np;
    make_pair(&np);
    int path[SPACE_MAX_LAYERS];
    path_of(np.space, 5, path);
    for (Supernet* sn : {np.cpu, np.dev}) {
        ASSERT_EQ(supernet_reset_path_bn(sn, path, nullptr), 0);
        for (int k = 0; k < 3; k++) supernet_forward(sn, path, 6, MODE_TRAIN, 1.0f / (float)(k + 1));
    }
    sync_gpu();
    check("recalibrated BN statistics", fetch(np.dev, np.dev->running, np.dev->running_floats),
          fetch(np.cpu, np.cpu->running, np.cpu->running_floats), {1e-5f, 1e-4f});
}

TEST(GpuSupernet, ResumeFromCheckpointIsBitIdentical) {
    NetPair np;
    make_pair(&np);
    Supernet* other = make_net(np.space, gpu, &gpu_ctx);
    ASSERT_NE(other, nullptr);
    copy_state(np.cpu, other);
    // The same batch as np.dev's (make_pair uploaded it to np.cpu and np.dev only).
    std::vector<float> x = random_floats(6 * 10 * 10, 99);
    std::vector<int> y = {0, 1, 2, 3, 4, 1};
    gpu->upload(&gpu_ctx, other->images, x.data(), x.size() * 4);
    gpu->upload(&gpu_ctx, other->labels, y.data(), y.size() * 4);
    int path[SPACE_MAX_LAYERS];
    for (int step = 0; step < 4; step++) path_of(np.space, step, path), sgd_step(np.dev, path);
    for (int step = 0; step < 2; step++) path_of(np.space, step, path), sgd_step(other, path);
    TempDir dir("gpu_ckpt");
    std::string ckpt = dir / "s.ckpt";
    TrainState st = {2, 0, 2};
    HwErr err = {};
    ASSERT_EQ(checkpoint_save(ckpt.c_str(), other, &st, nullptr, &err), 0) << err.msg;
    supernet_destroy(other);
    other = make_net(np.space, gpu, &gpu_ctx);
    ASSERT_EQ(checkpoint_load(ckpt.c_str(), other, &st, nullptr, &err), 0) << err.msg;
    gpu->upload(&gpu_ctx, other->images, x.data(), x.size() * 4);
    gpu->upload(&gpu_ctx, other->labels, y.data(), y.size() * 4);
    for (int step = 2; step < 4; step++) path_of(np.space, step, path), sgd_step(other, path);
    sync_gpu();
    expect_bitwise_equal("params, resumed vs uninterrupted", fetch(other, other->params, other->param_floats),
                         fetch(np.dev, np.dev->params, np.dev->param_floats));
    expect_bitwise_equal("momentum, resumed vs uninterrupted", fetch(other, other->momentum, other->param_floats),
                         fetch(np.dev, np.dev->momentum, np.dev->param_floats));
    supernet_destroy(other);
}

// ------------------------------------------- Ops: staging, timer, flush
// The backend-neutral entries of kernels/ops.h that the trainer, the
// evaluator and latency profiling use.

// host_alloc memory uploaded by upload_async on both slots arrives bit for
// bit, and an op queued after upload_acquire reads the uploaded data.
TEST(GpuOps, HostAllocAndUploadAsyncRoundTrip) {
    const size_t n = 300007;
    std::vector<float> want[2] = {random_floats(n, 160), random_floats(n, 161)};
    float* host[2];
    for (int s = 0; s < 2; s++) {
        host[s] = (float*)gpu->host_alloc(&gpu_ctx, n * sizeof(float));
        ASSERT_NE(host[s], nullptr);
        std::memcpy(host[s], want[s].data(), n * sizeof(float));
    }
    DevF dst0(n), dst1(n), out0(n), out1(n);
    DevF* dst[2] = {&dst0, &dst1};
    DevF* out[2] = {&out0, &out1};
    for (int s = 0; s < 2; s++)
        ASSERT_EQ(gpu->upload_async(&gpu_ctx, s, dst[s]->p, host[s], n * sizeof(float)), 0);
    for (int s = 0; s < 2; s++) {
        ASSERT_EQ(gpu->upload_acquire(&gpu_ctx, s), 0);
        gpu->copy(&gpu_ctx, out[s]->p, dst[s]->p, n * sizeof(float));
        ASSERT_EQ(gpu->upload_release(&gpu_ctx, s), 0);
        ASSERT_EQ(gpu->upload_wait_host(&gpu_ctx, s), 0);
    }
    sync_gpu();
    for (int s = 0; s < 2; s++) {
        check("upload_async slot " + std::to_string(s), dst[s]->get(), want[s], kExact);
        check("op after upload_acquire, slot " + std::to_string(s), out[s]->get(), want[s], kExact);
        gpu->host_free(&gpu_ctx, host[s]);
    }
}

// timer_end_ms after a forward is positive and finite, flush_cache changes
// no result, and a whole-network measurement (flush, events) is positive.
TEST(GpuOps, TimerAndCacheFlushAroundAForward) {
    Space space;
    HwErr err = {};
    ASSERT_EQ(space_load(&space, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
    Supernet* sn = make_net(space, gpu, &gpu_ctx);
    ASSERT_NE(sn, nullptr);
    std::vector<float> x = random_floats(6 * 10 * 10, 99);
    gpu->upload(&gpu_ctx, sn->images, x.data(), x.size() * 4);
    int path[SPACE_MAX_LAYERS];
    path_of(space, 3, path);
    size_t n_logits = (size_t)6 * space.classes;
    supernet_forward(sn, path, 6, MODE_EVAL, 0);
    std::vector<float> warm = fetch(sn, sn->logits, n_logits);
    ASSERT_EQ(gpu->flush_cache(&gpu_ctx), 0);
    OpTimer t;
    ASSERT_EQ(gpu->timer_begin(&gpu_ctx, &t), 0);
    supernet_forward(sn, path, 6, MODE_EVAL, 0);
    double ms = gpu->timer_end_ms(&gpu_ctx, &t);
    sync_gpu();
    std::printf("    one forward after an L2 flush: %.4f ms (CUDA events)\n", ms);
    EXPECT_TRUE(std::isfinite(ms));
    EXPECT_GT(ms, 0.0);
    EXPECT_LT(ms, 10000.0);
    expect_bitwise_equal("logits after flush_cache", fetch(sn, sn->logits, n_logits), warm);
    ProfileOptions opt = {2, 30, 6, 1, 1};  // force: the emulator's host may be busy
    double figure = -1;
    ASSERT_EQ(latency_measure_path(sn, path, &opt, &figure, &err), 0) << err.msg;
    EXPECT_TRUE(std::isfinite(figure));
    EXPECT_GT(figure, 0.0);
    EXPECT_NE(std::string(latency_timing_note(sn)).find("L2"), std::string::npos);
    supernet_destroy(sn);
    sync_gpu();
}

// --------------------------------- trainer and evaluator: overlapped uploads
// train_run and the evaluator upload each next batch from pinned memory on
// the copy stream while the current step computes; the synchronous loops of
// tests/train_reference.cc upload each batch with ops->upload just before its
// step. On one GPU (deterministic kernels) they must agree bit for bit.

TEST(GpuTrainer, OverlappedUploadsMatchSynchronousUploads) {
    FeedSetup s(gpu, gpu_ctx, 2);
    expect_trainer_matches_reference(s);
    sync_gpu();
}

TEST(GpuTrainer, EvaluatorOverlappedUploadsMatchSynchronousUploads) {
    FeedSetup s(gpu, gpu_ctx, 2);
    expect_evaluator_matches_reference(s);
    sync_gpu();
}

}  // namespace

int main(int argc, char** argv) {
    char why[512];
    if (!cuda_device_available(why, sizeof why)) {
        const char* prefix = "no CUDA device found: ";
        const char* reason = std::strncmp(why, prefix, std::strlen(prefix)) == 0
                                 ? why + std::strlen(prefix)
                                 : why;
        std::printf("gpu_parity: no CUDA device found (%s): nothing was run\n", reason);
        return 77;
    }
    gpu = ops_cuda();
    if (!gpu) {
        std::printf("gpu_parity: hwnas was built without CUDA: nothing was run\n");
        return 77;
    }
    HwErr err = {};
    g_state = cuda_state_create(0, &err);
    if (!g_state) {
        std::fprintf(stderr, "gpu_parity: %s\n", err.msg);
        return 1;
    }
    gpu_ctx.cuda = g_state;
    ::testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    const ::testing::UnitTest* u = ::testing::UnitTest::GetInstance();
    std::printf("%d passed, %d failed\n", u->successful_test_count(), u->failed_test_count());
    cuda_state_destroy(g_state);
    return rc;
}
