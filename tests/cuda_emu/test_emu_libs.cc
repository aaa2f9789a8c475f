// Tests of the cuBLAS and cuDNN emulations (emu_cublas.cc, emu_cudnn.cc)
// against naive loops written here, independently of the emulator's: GEMM in
// double from the column-major definition, convolutions as a scatter over
// every (output, tap, channel) product with the test's own layout arithmetic.
// Also the documented status codes, the algorithm heuristics' shape, TF32
// rounding, and the failure modes.
//
// Faults are sticky for the whole process (as on a GPU), so every case that
// faults, and the CUDA_EMU_CUDNN=unavailable switch, runs in a death-test
// child: gtest's "threadsafe" style re-executes this program for it, so the
// parent's device stays clean. Ends with "N passed, M failed".
#include <gtest/gtest.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <string>
#include <vector>

namespace {

// ================================================================ helpers

// Deterministic values in [-1, 1) with full mantissas (so rounding shows).
std::vector<float> random_floats(size_t n, unsigned seed) {
    std::vector<float> v(n);
    unsigned long long s = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(s >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
    }
    return v;
}

// A cudaMalloc'd float array; host code never touches device memory directly
// (the emulator protects it), only through cudaMemcpy.
class DeviceFloats {
  public:
    explicit DeviceFloats(size_t n) : n_(n) {
        EXPECT_EQ(cudaMalloc((void**)&ptr_, (n ? n : 1) * sizeof(float)), cudaSuccess);
    }
    explicit DeviceFloats(const std::vector<float>& host) : DeviceFloats(host.size()) {
        upload(host);
    }
    ~DeviceFloats() { EXPECT_EQ(cudaFree(ptr_), cudaSuccess); }
    DeviceFloats(const DeviceFloats&) = delete;
    DeviceFloats& operator=(const DeviceFloats&) = delete;

    float* get() const { return ptr_; }
    void upload(const std::vector<float>& host) {
        ASSERT_EQ(host.size(), n_);
        ASSERT_EQ(cudaMemcpy(ptr_, host.data(), n_ * sizeof(float), cudaMemcpyHostToDevice),
                  cudaSuccess);
    }
    // Waits for all queued work first: library work may sit on any stream.
    std::vector<float> download() const {
        std::vector<float> host(n_);
        EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        EXPECT_EQ(cudaMemcpy(host.data(), ptr_, n_ * sizeof(float), cudaMemcpyDeviceToHost),
                  cudaSuccess);
        return host;
    }

  private:
    float* ptr_ = nullptr;
    size_t n_;
};

// A reference value with the sum of |terms| that made it, for a tolerance
// that scales with the rounding a float accumulation can pick up.
struct Ref {
    double value = 0.0, magnitude = 0.0;
    void add(double term) { value += term, magnitude += fabs(term); }
};

::testing::AssertionResult close_to(float got, double want, double magnitude) {
    double tol = 1e-5 * (1.0 + magnitude);
    if (fabs((double)got - want) <= tol) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "got " << got << ", want " << want << " (tolerance " << tol << ")";
}

// Equal bit patterns (NaN == NaN here: untouched NaN must stay NaN).
bool same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

float tf32(float x) {  // the test's own TF32 rounding of a normal float
    int e;
    double m = frexp((double)x, &e);                       // x = m * 2^e, 0.5 <= |m| < 1
    return (float)ldexp(nearbyint(ldexp(m, 11)), e - 11);  // 11 significant bits
}

// ================================================================ cuBLAS

class Cublas {
  public:
    Cublas() { EXPECT_EQ(cublasCreate(&h_), CUBLAS_STATUS_SUCCESS); }
    ~Cublas() { EXPECT_EQ(cublasDestroy(h_), CUBLAS_STATUS_SUCCESS); }
    Cublas(const Cublas&) = delete;
    Cublas& operator=(const Cublas&) = delete;
    cublasHandle_t get() const { return h_; }

  private:
    cublasHandle_t h_ = nullptr;
};

// One GEMM problem with host operands in column-major storage.
struct GemmCase {
    bool ta, tb;
    int m, n, k, lda, ldb, ldc;
    std::vector<float> a, b, c;

    GemmCase(bool ta_, bool tb_, int m_, int n_, int k_, int pad)
        : ta(ta_), tb(tb_), m(m_), n(n_), k(k_) {
        int a_rows = ta ? k : m, a_cols = ta ? m : k;
        int b_rows = tb ? n : k, b_cols = tb ? k : n;
        lda = a_rows + pad, ldb = b_rows + pad, ldc = m + pad;
        a = random_floats((size_t)lda * a_cols, 1);
        b = random_floats((size_t)ldb * b_cols, 2);
        c = random_floats((size_t)ldc * n, 3);
    }
    double op_a(int i, int l) const { return ta ? a[(size_t)i * lda + l] : a[(size_t)l * lda + i]; }
    double op_b(int l, int j) const { return tb ? b[(size_t)l * ldb + j] : b[(size_t)j * ldb + l]; }
    cublasOperation_t op(bool t) const { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

    // Checks `got` (C after the call) against alpha op(A) op(B) + beta C0
    // inside m x n, and that C's padding rows are untouched.
    void expect(const std::vector<float>& got, float alpha, float beta) const {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < ldc; i++) {
                size_t at = (size_t)j * ldc + i;
                if (i >= m) {
                    EXPECT_TRUE(same_bits(got[at], c[at]))
                        << "padding row " << i << " of column " << j;
                    continue;
                }
                Ref r;
                for (int l = 0; l < k; l++) r.add(alpha * op_a(i, l) * op_b(l, j));
                if (beta != 0.0f) r.add((double)beta * c[at]);
                EXPECT_TRUE(close_to(got[at], r.value, r.magnitude))
                    << "C(" << i << "," << j << ")";
            }
    }
    cublasStatus_t run(cublasHandle_t h, const DeviceFloats& da, const DeviceFloats& db,
                       DeviceFloats& dc, float alpha, float beta) const {
        return cublasSgemm(h, op(ta), op(tb), m, n, k, &alpha, da.get(), lda, db.get(), ldb, &beta,
                           dc.get(), ldc);
    }
};

TEST(CublasSgemm, MatchesLoopsForEveryTransposePairWithPaddedLeadingDimensions) {
    Cublas h;
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            SCOPED_TRACE(std::string("op(A) ") + (ta ? "T" : "N") + ", op(B) " + (tb ? "T" : "N"));
            GemmCase g(ta, tb, 5, 4, 7, 3);
            DeviceFloats a(g.a), b(g.b), c(g.c);
            ASSERT_EQ(g.run(h.get(), a, b, c, 1.5f, -0.5f), CUBLAS_STATUS_SUCCESS);
            g.expect(c.download(), 1.5f, -0.5f);
        }
}

TEST(CublasSgemm, BetaZeroDoesNotReadC) {
    Cublas h;
    GemmCase g(true, false, 6, 3, 4, 1);
    for (float& v : g.c) v = NAN;
    DeviceFloats a(g.a), b(g.b), c(g.c);
    ASSERT_EQ(g.run(h.get(), a, b, c, 2.0f, 0.0f), CUBLAS_STATUS_SUCCESS);
    std::vector<float> got = c.download();
    for (int j = 0; j < g.n; j++)
        for (int i = 0; i < g.m; i++) EXPECT_FALSE(isnan(got[(size_t)j * g.ldc + i]));
    g.expect(got, 2.0f, 0.0f);  // padding rows keep their NaN
}

TEST(CublasSgemm, BetaOneAccumulatesLikeTheWeightGradient) {
    Cublas h;
    GemmCase g(false, true, 4, 5, 6, 0);
    DeviceFloats a(g.a), b(g.b), c(g.c);
    ASSERT_EQ(g.run(h.get(), a, b, c, 1.0f, 1.0f), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(g.run(h.get(), a, b, c, 1.0f, 1.0f), CUBLAS_STATUS_SUCCESS);
    g.expect(c.download(), 2.0f, 1.0f);  // C0 + 2 A B^T
}

TEST(CublasSgemmStridedBatched, MatchesLoopsPerMatrix) {
    Cublas h;
    const int batch = 3, m = 3, n = 4, k = 5, lda = k, ldb = k, ldc = m + 1;
    const long long sa = (long long)lda * m + 2, sb = (long long)ldb * n, sc = (long long)ldc * n;
    std::vector<float> a = random_floats(sa * batch, 4), b = random_floats(sb * batch, 5);
    std::vector<float> c = random_floats(sc * batch, 6);
    DeviceFloats da(a), db(b), dc(c);
    float alpha = 0.5f, beta = 2.0f;
    ASSERT_EQ(
        cublasSgemmStridedBatched(h.get(), CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, da.get(), lda,
                                  sa, db.get(), ldb, sb, &beta, dc.get(), ldc, sc, batch),
        CUBLAS_STATUS_SUCCESS);
    std::vector<float> got = dc.download();
    for (int bi = 0; bi < batch; bi++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                Ref r;
                for (int l = 0; l < k; l++)
                    r.add((double)alpha * a[bi * sa + (size_t)i * lda + l] *
                          b[bi * sb + (size_t)j * ldb + l]);
                size_t at = bi * sc + (size_t)j * ldc + i;
                r.add((double)beta * c[at]);
                EXPECT_TRUE(close_to(got[at], r.value, r.magnitude)) << bi << ":" << i << "," << j;
            }
}

// 1 x 1 x 1 products whose exact value needs more than TF32's 10 mantissa
// bits; ties round to even.
TEST(CublasSgemm, MathModeDecidesTheInputRounding) {
    Cublas h;
    const float inputs[] = {1.0f + 0x1p-12f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0.1f, -3.3f};
    DeviceFloats a(1), b(std::vector<float>{1.0f}), c(1);
    const float one = 1.0f, zero = 0.0f;
    for (float x : inputs)
        for (cublasMath_t mode :
             {CUBLAS_DEFAULT_MATH, CUBLAS_PEDANTIC_MATH, CUBLAS_TF32_TENSOR_OP_MATH}) {
            ASSERT_EQ(cublasSetMathMode(h.get(), mode), CUBLAS_STATUS_SUCCESS);
            a.upload({x});
            ASSERT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a.get(), 1,
                                  b.get(), 1, &zero, c.get(), 1),
                      CUBLAS_STATUS_SUCCESS);
            float want = mode == CUBLAS_TF32_TENSOR_OP_MATH ? tf32(x) : x;
            EXPECT_EQ(c.download()[0], want) << "x " << x << " mode " << mode;
        }
    EXPECT_EQ(tf32(1.0f + 0x1p-11f), 1.0f);  // the tie goes to the even neighbour
    EXPECT_EQ(tf32(1.0f + 3 * 0x1p-11f), 1.0f + 0x1p-9f);
    // The deprecated TENSOR_OP mode computes SGEMM with half inputs: 70000
    // overflows half, 1e-6 is a half subnormal (steps of 2^-24).
    ASSERT_EQ(cublasSetMathMode(h.get(), CUBLAS_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
    for (float x : {70000.0f, 1e-6f}) {
        a.upload({x});
        ASSERT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a.get(), 1, b.get(),
                              1, &zero, c.get(), 1),
                  CUBLAS_STATUS_SUCCESS);
        float want = x > 65504.0f ? INFINITY : nearbyintf(x * 0x1p24f) * 0x1p-24f;
        EXPECT_EQ(c.download()[0], want) << x;
    }
}

TEST(CublasSgemm, ScalarsAreReadDuringTheCall) {
    Cublas h;
    cudaStream_t s;
    ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cublasSetStream(h.get(), s), CUBLAS_STATUS_SUCCESS);
    GemmCase g(false, false, 3, 3, 3, 0);
    DeviceFloats a(g.a), b(g.b), c(g.c);
    float alpha = 1.0f, beta = 0.0f;
    ASSERT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 3, 3, 3, &alpha, a.get(), 3, b.get(),
                          3, &beta, c.get(), 3),
              CUBLAS_STATUS_SUCCESS);
    alpha = 100.0f, beta = 7.0f;  // too late for the queued product
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    g.expect(c.download(), 1.0f, 0.0f);
    ASSERT_EQ(cublasSetStream(h.get(), 0), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST(CublasSgemm, QuickReturnsTouchOnlyWhatTheyMust) {
    Cublas h;
    const float one = 1.0f, zero = 0.0f, half = 0.5f;
    // m == 0 or n == 0: nothing happens, null operands are fine.
    EXPECT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 0, 4, 4, &one, nullptr, 1, nullptr, 4,
                          &zero, nullptr, 1),
              CUBLAS_STATUS_SUCCESS);
    // alpha == 0 and beta == 1: C stays, nothing is read.
    EXPECT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &zero, nullptr, 2, nullptr, 2,
                          &one, nullptr, 2),
              CUBLAS_STATUS_SUCCESS);
    // k == 0 or alpha == 0: C = beta C, A and B not read.
    std::vector<float> c0 = random_floats(4, 7);
    DeviceFloats c(c0);
    EXPECT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &one, nullptr, 2, nullptr, 1,
                          &half, c.get(), 2),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &zero, nullptr, 2, nullptr, 3,
                          &half, c.get(), 2),
              CUBLAS_STATUS_SUCCESS);
    std::vector<float> got = c.download();
    for (int i = 0; i < 4; i++) EXPECT_EQ(got[i], c0[i] * 0.5f * 0.5f);
    // C is needed as soon as it is written.
    EXPECT_EQ(cublasSgemm(h.get(), CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 0, &one, nullptr, 2, nullptr, 1,
                          &half, nullptr, 2),
              CUBLAS_STATUS_INVALID_VALUE);
}

TEST(CublasSgemm, DocumentedInvalidValues) {
    Cublas h;
    DeviceFloats a(64), b(64), c(64);
    const float one = 1.0f;
    auto call = [&](cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda,
                    int ldb, int ldc, const float* alpha = nullptr, const float* beta = nullptr,
                    bool null_scalars = false) {
        const float* al = null_scalars ? alpha : &one;
        const float* be = null_scalars ? beta : &one;
        return cublasSgemm(h.get(), ta, tb, m, n, k, al, a.get(), lda, b.get(), ldb, be, c.get(),
                           ldc);
    };
    const cublasOperation_t N = CUBLAS_OP_N, T = CUBLAS_OP_T;
    EXPECT_EQ(call(N, N, 2, 3, 4, 2, 4, 2), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(call(N, N, -1, 3, 4, 2, 4, 2), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(call(N, N, 2, -1, 4, 2, 4, 2), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(call(N, N, 2, 3, -1, 2, 4, 2), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(call(N, N, 2, 3, 4, 1, 4, 2), CUBLAS_STATUS_INVALID_VALUE);  // lda < m
    EXPECT_EQ(call(T, N, 2, 3, 4, 2, 4, 2), CUBLAS_STATUS_INVALID_VALUE);  // lda < k
    EXPECT_EQ(call(T, N, 2, 3, 4, 4, 4, 2), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(call(N, N, 2, 3, 4, 2, 3, 2), CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
    EXPECT_EQ(call(N, T, 2, 3, 4, 2, 2, 2), CUBLAS_STATUS_INVALID_VALUE);  // ldb < n
    EXPECT_EQ(call(N, T, 2, 3, 4, 2, 3, 2), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(call(N, N, 2, 3, 4, 2, 4, 1), CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
    EXPECT_EQ(call(N, N, 0, 3, 4, 0, 4, 0), CUBLAS_STATUS_INVALID_VALUE);  // ld >= max(1, .)
    EXPECT_EQ(call((cublasOperation_t)7, N, 2, 3, 4, 4, 4, 2), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(call(N, CUBLAS_OP_CONJG, 2, 3, 4, 2, 4, 2), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(call(N, N, 2, 3, 4, 2, 4, 2, nullptr, &one, true), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(call(N, N, 2, 3, 4, 2, 4, 2, &one, nullptr, true), CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(cublasSgemm(h.get(), N, N, 2, 3, 4, &one, nullptr, 2, b.get(), 4, &one, c.get(), 2),
              CUBLAS_STATUS_INVALID_VALUE);  // A is needed for the product
    EXPECT_EQ(cublasSgemmStridedBatched(h.get(), N, N, 2, 3, 4, &one, a.get(), 2, 8, b.get(), 4, 12,
                                        &one, c.get(), 2, 6, -1),
              CUBLAS_STATUS_INVALID_VALUE);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

TEST(CublasHandle, LifecycleModesAndStatusText) {
    cublasHandle_t h = nullptr;
    ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cublasCreate(nullptr), CUBLAS_STATUS_INVALID_VALUE);
    cublasMath_t mode;
    EXPECT_EQ(cublasGetMathMode(h, &mode), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(mode, CUBLAS_DEFAULT_MATH);
    EXPECT_EQ(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cublasGetMathMode(h, &mode), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(mode, CUBLAS_TF32_TENSOR_OP_MATH);
    EXPECT_EQ(
        cublasSetMathMode(h, (cublasMath_t)(CUBLAS_DEFAULT_MATH |
                                            CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
        CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cublasSetMathMode(h, (cublasMath_t)9), CUBLAS_STATUS_INVALID_VALUE);
    cudaStream_t s = (cudaStream_t)1;
    EXPECT_EQ(cublasGetStream(h, &s), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(s, (cudaStream_t)0);  // the default stream until set
    cudaStream_t dead;
    ASSERT_EQ(cudaStreamCreate(&dead), cudaSuccess);
    ASSERT_EQ(cudaStreamDestroy(dead), cudaSuccess);
    EXPECT_EQ(cublasSetStream(h, dead), CUBLAS_STATUS_INVALID_VALUE);
    cublasPointerMode_t pm;
    EXPECT_EQ(cublasGetPointerMode(h, &pm), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(pm, CUBLAS_POINTER_MODE_HOST);
    EXPECT_EQ(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_NOT_SUPPORTED);
    EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    // A destroyed (or null) handle: not initialized.
    EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_NOT_INITIALIZED);
    EXPECT_EQ(cublasSetStream(h, 0), CUBLAS_STATUS_NOT_INITIALIZED);
    EXPECT_EQ(cublasSetMathMode(nullptr, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_NOT_INITIALIZED);
    const float one = 1.0f;
    EXPECT_EQ(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, nullptr, 1, nullptr, 1, &one,
                          nullptr, 1),
              CUBLAS_STATUS_NOT_INITIALIZED);
    EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE");
    EXPECT_EQ(CUBLAS_STATUS_INVALID_VALUE, 7);
    EXPECT_EQ(CUBLAS_STATUS_EXECUTION_FAILED, 13);
    EXPECT_EQ(CUBLAS_STATUS_NOT_SUPPORTED, 15);
    EXPECT_STRNE(cublasGetStatusString(CUBLAS_STATUS_NOT_INITIALIZED), "");
    EXPECT_STRNE(cublasGetStatusString((cublasStatus_t)99), "");
}

// The call is accepted (its arguments are consistent); the stream work finds
// B one element short of its allocation and faults.
void gemm_with_short_b() {
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) exit(2);
    float *a, *b, *c;
    cudaMalloc((void**)&a, 4 * 3 * sizeof(float));
    cudaMalloc((void**)&b, (3 * 5 - 1) * sizeof(float));
    cudaMalloc((void**)&c, 4 * 5 * sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 5, 3, &one, a, 4, b, 3, &zero, c, 4) !=
        CUBLAS_STATUS_SUCCESS)
        exit(3);
    exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 4);
}

TEST(CublasSgemmDeathTest, OperandOutsideItsAllocationFaultsTheStream) {
    EXPECT_EXIT(gemm_with_short_b(), ::testing::ExitedWithCode(0), "cublasSgemm: B");
}

// ================================================================ cuDNN

// A convolution problem as the test sees it (4-d, one group).
struct ConvSpec {
    int n, c, h, w, k, r, s;
    int pad, stride, dilation;
    bool nhwc;  // tensors and filter
    bool flip;  // CUDNN_CONVOLUTION instead of cross-correlation
    int p() const { return (h + 2 * pad - (r - 1) * dilation - 1) / stride + 1; }
    int q() const { return (w + 2 * pad - (s - 1) * dilation - 1) / stride + 1; }
};

// The test's own layout arithmetic (independent of the emulator's).
struct Strides {
    long n, c, h, w;
    size_t at(int in, int ic, int ih, int iw) const {
        return (size_t)(in * n + ic * c + ih * h + iw * w);
    }
};

Strides packed(bool nhwc, int c, int h, int w) {
    if (nhwc) return Strides{(long)h * w * c, 1, (long)w * c, c};
    return Strides{(long)c * h * w, (long)h * w, w, 1};
}

size_t span(const Strides& st, int n, int c, int h, int w) {
    return st.at(n - 1, c - 1, h - 1, w - 1) + 1;
}

size_t filter_at(const ConvSpec& s, int k, int c, int r, int t) {
    if (s.nhwc) return (((size_t)k * s.r + r) * s.s + t) * s.c + c;  // [k][r][s][c]
    return (((size_t)k * s.c + c) * s.r + r) * s.s + t;              // [k][c][r][s]
}

// Calls f(n, k, oh, ow, c, ih, iw, r, t) for every product of the forward
// convolution, where (r, t) is the stored filter position that multiplies.
template <class F>
void for_each_product(const ConvSpec& s, F f) {
    for (int n = 0; n < s.n; n++)
        for (int k = 0; k < s.k; k++)
            for (int oh = 0; oh < s.p(); oh++)
                for (int ow = 0; ow < s.q(); ow++)
                    for (int i = 0; i < s.r; i++)
                        for (int j = 0; j < s.s; j++) {
                            int ih = oh * s.stride - s.pad + i * s.dilation;
                            int iw = ow * s.stride - s.pad + j * s.dilation;
                            if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                            int r = s.flip ? s.r - 1 - i : i, t = s.flip ? s.s - 1 - j : j;
                            for (int c = 0; c < s.c; c++) f(n, k, oh, ow, c, ih, iw, r, t);
                        }
}

// The host side of one problem: operands in the spec's layout and the
// expected results of each direction.
struct ConvData {
    ConvSpec s;
    Strides xs, ys;
    std::vector<float> x, w, y;  // y doubles as dy in the backward directions

    ConvData(const ConvSpec& spec, Strides x_strides, Strides y_strides)
        : s(spec), xs(x_strides), ys(y_strides) {
        x = random_floats(span(xs, s.n, s.c, s.h, s.w), 11);
        w = random_floats((size_t)s.k * s.c * s.r * s.s, 12);
        y = random_floats(span(ys, s.n, s.k, s.p(), s.q()), 13);
    }
    explicit ConvData(const ConvSpec& spec)
        : ConvData(spec, packed(spec.nhwc, spec.c, spec.h, spec.w),
                   packed(spec.nhwc, spec.k, spec.p(), spec.q())) {}

    std::vector<Ref> forward() const {
        std::vector<Ref> out(y.size());
        for_each_product(s, [&](int n, int k, int oh, int ow, int c, int ih, int iw, int r, int t) {
            out[ys.at(n, k, oh, ow)].add((double)x[xs.at(n, c, ih, iw)] *
                                         w[filter_at(s, k, c, r, t)]);
        });
        return out;
    }
    std::vector<Ref> backward_data() const {
        std::vector<Ref> out(x.size());
        for_each_product(s, [&](int n, int k, int oh, int ow, int c, int ih, int iw, int r, int t) {
            out[xs.at(n, c, ih, iw)].add((double)y[ys.at(n, k, oh, ow)] *
                                         w[filter_at(s, k, c, r, t)]);
        });
        return out;
    }
    std::vector<Ref> backward_filter() const {
        std::vector<Ref> out(w.size());
        for_each_product(s, [&](int n, int k, int oh, int ow, int c, int ih, int iw, int r, int t) {
            out[filter_at(s, k, c, r, t)].add((double)y[ys.at(n, k, oh, ow)] *
                                              x[xs.at(n, c, ih, iw)]);
        });
        return out;
    }
};

// got == alpha * sums + beta * before at every element a convolution
// writes; elsewhere (stride gaps) got == before.
void expect_scaled(const std::vector<float>& got, const std::vector<Ref>& sums,
                   const std::vector<float>& before, const std::vector<bool>& written, float alpha,
                   float beta, const char* what) {
    ASSERT_EQ(got.size(), sums.size());
    int bad = 0;
    for (size_t i = 0; i < got.size() && bad < 5; i++) {
        if (!written[i]) {
            bad += !same_bits(got[i], before[i]);
            EXPECT_TRUE(same_bits(got[i], before[i]))
                << what << " gap element " << i << " was written";
            continue;
        }
        // beta == 0: the old value does not count, even when it is NaN.
        double old_term = beta != 0.0f ? (double)beta * before[i] : 0.0;
        double want = alpha * sums[i].value + old_term;
        double mag = fabs(alpha) * sums[i].magnitude + fabs(old_term);
        ::testing::AssertionResult ok = close_to(got[i], want, mag);
        bad += !ok;
        EXPECT_TRUE(ok) << what << " element " << i;
    }
}

// Which elements of a tensor the descriptor addresses (all, when packed).
std::vector<bool> addressed(const Strides& st, int n, int c, int h, int w) {
    std::vector<bool> mark(span(st, n, c, h, w), false);
    for (int a = 0; a < n; a++)
        for (int b = 0; b < c; b++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) mark[st.at(a, b, i, j)] = true;
    return mark;
}

// A handle and the four descriptors of a spec (tensors by format).
class CudnnConv {
  public:
    explicit CudnnConv(const ConvSpec& s, cudnnMathType_t math = CUDNN_FMA_MATH) {
        cudnnTensorFormat_t f = s.nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
        EXPECT_EQ(cudnnCreate(&handle), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnCreateTensorDescriptor(&x), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnCreateTensorDescriptor(&y), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnCreateFilterDescriptor(&w), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnCreateConvolutionDescriptor(&conv), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnSetTensor4dDescriptor(x, f, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w),
                  CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnSetTensor4dDescriptor(y, f, CUDNN_DATA_FLOAT, s.n, s.k, s.p(), s.q()),
                  CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, f, s.k, s.c, s.r, s.s),
                  CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnSetConvolution2dDescriptor(
                      conv, s.pad, s.pad, s.stride, s.stride, s.dilation, s.dilation,
                      s.flip ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                  CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnSetConvolutionMathType(conv, math), CUDNN_STATUS_SUCCESS);
    }
    ~CudnnConv() {
        EXPECT_EQ(cudnnDestroyTensorDescriptor(x), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnDestroyTensorDescriptor(y), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnDestroyFilterDescriptor(w), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnDestroyConvolutionDescriptor(conv), CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(cudnnDestroy(handle), CUDNN_STATUS_SUCCESS);
    }
    CudnnConv(const CudnnConv&) = delete;
    CudnnConv& operator=(const CudnnConv&) = delete;

    cudnnHandle_t handle = nullptr;
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
};

constexpr size_t kWorkspaceBytes = size_t(4) << 20;

// The algorithms of each direction whose heuristic entry says they run.
template <class Perf>
std::vector<Perf> runnable(const Perf* perf, int count) {
    std::vector<Perf> out;
    for (int i = 0; i < count; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kWorkspaceBytes)
            out.push_back(perf[i]);
    return out;
}

std::vector<cudnnConvolutionFwdAlgoPerf_t> forward_algos(const CudnnConv& cv) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    EXPECT_EQ(
        cudnnGetConvolutionForwardAlgorithm_v7(cv.handle, cv.x, cv.w, cv.conv, cv.y,
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf),
        CUDNN_STATUS_SUCCESS);
    return runnable(perf, count);
}
std::vector<cudnnConvolutionBwdDataAlgoPerf_t> backward_data_algos(const CudnnConv& cv) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    EXPECT_EQ(cudnnGetConvolutionBackwardDataAlgorithm_v7(cv.handle, cv.w, cv.y, cv.conv, cv.x,
                                                          CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                          &count, perf),
              CUDNN_STATUS_SUCCESS);
    return runnable(perf, count);
}
std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> backward_filter_algos(const CudnnConv& cv) {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    EXPECT_EQ(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cv.handle, cv.x, cv.y, cv.conv, cv.w,
                                                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                            &count, perf),
              CUDNN_STATUS_SUCCESS);
    return runnable(perf, count);
}

// Runs every runnable algorithm of the three directions on one problem and
// checks each against the reference loops (forward and data gradient with
// alpha 0.75 and beta 0.5, the filter gradient accumulating with beta 1).
void check_all_directions(const ConvSpec& s, const CudnnConv& cv, const ConvData& d) {
    DeviceFloats x(d.x), w(d.w), y(d.y), ws(kWorkspaceBytes / sizeof(float));
    const float alpha = 0.75f, beta = 0.5f, one = 1.0f;
    std::vector<bool> x_all = addressed(d.xs, s.n, s.c, s.h, s.w);
    std::vector<bool> y_all = addressed(d.ys, s.n, s.k, s.p(), s.q());
    std::vector<bool> w_all(d.w.size(), true);
    for (const auto& p : forward_algos(cv)) {
        SCOPED_TRACE("forward algo " + std::to_string(p.algo));
        y.upload(d.y);
        ASSERT_EQ(cudnnConvolutionForward(cv.handle, &alpha, cv.x, x.get(), cv.w, w.get(), cv.conv,
                                          p.algo, ws.get(), kWorkspaceBytes, &beta, cv.y, y.get()),
                  CUDNN_STATUS_SUCCESS);
        expect_scaled(y.download(), d.forward(), d.y, y_all, alpha, beta, "y");
    }
    y.upload(d.y);
    for (const auto& p : backward_data_algos(cv)) {
        SCOPED_TRACE("backward data algo " + std::to_string(p.algo));
        x.upload(d.x);
        ASSERT_EQ(
            cudnnConvolutionBackwardData(cv.handle, &alpha, cv.w, w.get(), cv.y, y.get(), cv.conv,
                                         p.algo, ws.get(), kWorkspaceBytes, &beta, cv.x, x.get()),
            CUDNN_STATUS_SUCCESS);
        expect_scaled(x.download(), d.backward_data(), d.x, x_all, alpha, beta, "dx");
    }
    x.upload(d.x);
    for (const auto& p : backward_filter_algos(cv)) {
        SCOPED_TRACE("backward filter algo " + std::to_string(p.algo));
        w.upload(d.w);
        ASSERT_EQ(
            cudnnConvolutionBackwardFilter(cv.handle, &one, cv.x, x.get(), cv.y, y.get(), cv.conv,
                                           p.algo, ws.get(), kWorkspaceBytes, &one, cv.w, w.get()),
            CUDNN_STATUS_SUCCESS);
        expect_scaled(w.download(), d.backward_filter(), d.w, w_all, one, one, "dw");
    }
}

// (nhwc, stride, pad, kernel)
class CudnnConvShapes : public ::testing::TestWithParam<std::tuple<bool, int, int, int>> {};

TEST_P(CudnnConvShapes, EveryRunnableAlgorithmMatchesTheLoops) {
    bool nhwc = std::get<0>(GetParam());
    int stride = std::get<1>(GetParam()), pad = std::get<2>(GetParam()),
        kernel = std::get<3>(GetParam());
    ConvSpec s{2, 3, 7, 6, 4, kernel, kernel, pad, stride, 1, nhwc, false};
    CudnnConv cv(s);
    ConvData d(s);
    check_all_directions(s, cv, d);
}

INSTANTIATE_TEST_SUITE_P(LayoutStridePadKernel, CudnnConvShapes,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(1, 2),
                                            ::testing::Values(0, 1), ::testing::Values(1, 3)));

TEST(CudnnConv, ConvolutionModeAndDilation) {
    for (bool nhwc : {false, true}) {
        ConvSpec s{2, 2, 9, 8, 3, 3, 2, 2, 1, 2, nhwc, true};
        SCOPED_TRACE(nhwc ? "NHWC" : "NCHW");
        CudnnConv cv(s);
        ConvData d(s);
        check_all_directions(s, cv, d);
    }
}

// Tensors described with explicit strides (padded rows, a gap between
// images): the convolutions must address exactly those elements.
TEST(CudnnConv, ExplicitStridesAreHonoured) {
    ConvSpec s{2, 3, 5, 6, 2, 3, 3, 1, 2, 1, false, false};
    Strides xs{3 * 5 * 9 + 4, 5 * 9, 9, 1};
    Strides ys{3 * 12 + 1, 1, 12, 4};  // NHWC-like, two unused slots after each pixel's 2 channels
    ConvData d(s, xs, ys);
    CudnnConv cv(s);
    ASSERT_EQ(cudnnSetTensor4dDescriptorEx(cv.x, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w, xs.n, xs.c,
                                           xs.h, xs.w),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetTensor4dDescriptorEx(cv.y, CUDNN_DATA_FLOAT, s.n, s.k, s.p(), s.q(), ys.n,
                                           ys.c, ys.h, ys.w),
              CUDNN_STATUS_SUCCESS);
    check_all_directions(s, cv, d);
}

// NHWC data described as NCHW: the call is valid, the numbers are wrong.
TEST(CudnnConv, AWrongFormatGivesWrongNumbers) {
    ConvSpec s{1, 3, 4, 4, 2, 1, 1, 0, 1, 1, true, false};
    ConvData d(s);
    ConvSpec lie = s;
    lie.nhwc = false;
    CudnnConv cv(lie);
    DeviceFloats x(d.x), w(d.w), y(d.y);
    const float one = 1.0f, zero = 0.0f;
    ASSERT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, x.get(), cv.w, w.get(), cv.conv,
                                      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero,
                                      cv.y, y.get()),
              CUDNN_STATUS_SUCCESS);
    std::vector<float> got = y.download();
    std::vector<Ref> want = d.forward();
    int differ = 0;
    for (size_t i = 0; i < got.size(); i++) differ += fabs(got[i] - want[i].value) > 1e-3;
    EXPECT_GT(differ, (int)got.size() / 2);
}

TEST(CudnnConv, BetaZeroDoesNotReadTheOutput) {
    ConvSpec s{1, 2, 5, 5, 3, 3, 3, 1, 1, 1, true, false};
    ConvData d(s);
    CudnnConv cv(s);
    std::vector<float> nan_y(d.y.size(), NAN), nan_x(d.x.size(), NAN), nan_w(d.w.size(), NAN);
    DeviceFloats x(d.x), w(d.w), y(nan_y), ws(kWorkspaceBytes / sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    ASSERT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, x.get(), cv.w, w.get(), cv.conv,
                                      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero,
                                      cv.y, y.get()),
              CUDNN_STATUS_SUCCESS);
    std::vector<bool> all_y(d.y.size(), true), all_x(d.x.size(), true), all_w(d.w.size(), true);
    expect_scaled(y.download(), d.forward(), nan_y, all_y, 1.0f, 0.0f, "y");
    y.upload(d.y);
    x.upload(nan_x);
    ASSERT_EQ(cudnnConvolutionBackwardData(cv.handle, &one, cv.w, w.get(), cv.y, y.get(), cv.conv,
                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, ws.get(),
                                           kWorkspaceBytes, &zero, cv.x, x.get()),
              CUDNN_STATUS_SUCCESS);
    expect_scaled(x.download(), d.backward_data(), nan_x, all_x, 1.0f, 0.0f, "dx");
    x.upload(d.x);
    w.upload(nan_w);
    ASSERT_EQ(cudnnConvolutionBackwardFilter(cv.handle, &one, cv.x, x.get(), cv.y, y.get(), cv.conv,
                                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, ws.get(),
                                             kWorkspaceBytes, &zero, cv.w, w.get()),
              CUDNN_STATUS_SUCCESS);
    expect_scaled(w.download(), d.backward_filter(), nan_w, all_w, 1.0f, 0.0f, "dw");
}

// A 1x1 convolution of one channel: y = x * 1 exposes the input rounding.
TEST(CudnnAlgos, TensorOpAlgorithmsRoundToTf32UnlessFmaMathIsSet) {
    ConvSpec s{1, 1, 1, 1, 1, 1, 1, 0, 1, 1, true, false};
    const float x_value = 1.0f + 0x1p-12f;
    DeviceFloats x(std::vector<float>{x_value}), w(std::vector<float>{1.0f}), y(1),
        ws(kWorkspaceBytes / sizeof(float));
    const float one = 1.0f, zero = 0.0f;
    struct Case {
        cudnnMathType_t math;
        cudnnConvolutionFwdAlgo_t algo;
        float want;
    } cases[] = {
        {CUDNN_DEFAULT_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, 1.0f},
        {CUDNN_TENSOR_OP_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, 1.0f},
        {CUDNN_FMA_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, x_value},
        {CUDNN_DEFAULT_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, x_value},
    };
    for (const Case& c : cases) {
        CudnnConv cv(s, c.math);
        ASSERT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, x.get(), cv.w, w.get(), cv.conv,
                                          c.algo, ws.get(), kWorkspaceBytes, &zero, cv.y, y.get()),
                  CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(y.download()[0], c.want) << "math " << c.math << " algo " << c.algo;
    }
    // The backward tensor-op algorithms too (dy = x_value, w = 1; x = x_value).
    CudnnConv cv(s, CUDNN_DEFAULT_MATH);
    DeviceFloats dx(1), dw(1);
    ASSERT_EQ(cudnnConvolutionBackwardData(cv.handle, &one, cv.w, w.get(), cv.y, x.get(), cv.conv,
                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, ws.get(),
                                           kWorkspaceBytes, &zero, cv.x, dx.get()),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(dx.download()[0], 1.0f);
    ASSERT_EQ(cudnnConvolutionBackwardFilter(cv.handle, &one, cv.x, x.get(), cv.y, w.get(), cv.conv,
                                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, ws.get(),
                                             kWorkspaceBytes, &zero, cv.w, dw.get()),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(dw.download()[0], 1.0f);
    ASSERT_EQ(cudnnConvolutionBackwardFilter(cv.handle, &one, cv.x, x.get(), cv.y, w.get(), cv.conv,
                                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, ws.get(),
                                             kWorkspaceBytes, &zero, cv.w, dw.get()),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(dw.download()[0], x_value);
}

// hwnas's filter: the first deterministic FMA entry that fits.
template <class Perf>
int first_deterministic_fma(const Perf* perf, int count) {
    for (int i = 0; i < count; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
            (perf[i].mathType == CUDNN_FMA_MATH || perf[i].mathType == CUDNN_DEFAULT_MATH))
            return i;
    return -1;
}

TEST(CudnnAlgos, HeuristicListsExerciseTheCallersFilters) {
    ConvSpec s{2, 3, 8, 8, 4, 3, 3, 1, 1, 1, true, false};  // NHWC 3x3: no FFT, no Winograd
    for (cudnnMathType_t math : {CUDNN_FMA_MATH, CUDNN_DEFAULT_MATH}) {
        SCOPED_TRACE(math == CUDNN_FMA_MATH ? "FMA math" : "default math");
        CudnnConv cv(s, math);
        cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        cudnnConvolutionBwdDataAlgoPerf_t bwd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        cudnnConvolutionBwdFilterAlgoPerf_t bwf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int nf = 0, nd = 0, nw = 0;
        ASSERT_EQ(
            cudnnGetConvolutionForwardAlgorithm_v7(cv.handle, cv.x, cv.w, cv.conv, cv.y,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf, fwd),
            CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnGetConvolutionBackwardDataAlgorithm_v7(cv.handle, cv.w, cv.y, cv.conv, cv.x,
                                                              CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                              &nd, bwd),
                  CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                      cv.handle, cv.x, cv.y, cv.conv, cv.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                      &nw, bwf),
                  CUDNN_STATUS_SUCCESS);
        ASSERT_GT(nf, 0);
        ASSERT_GT(nd, 0);
        ASSERT_GT(nw, 0);
        EXPECT_LE(nf, (int)CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
        // Non-deterministic algorithms first for the backward directions.
        EXPECT_EQ(bwd[0].determinism, CUDNN_NON_DETERMINISTIC);
        EXPECT_EQ(bwf[0].determinism, CUDNN_NON_DETERMINISTIC);
        // TF32 entries lead the forward list when the descriptor permits them.
        bool tf32_first = fwd[0].mathType == CUDNN_TENSOR_OP_MATH;
        EXPECT_EQ(tf32_first, math == CUDNN_DEFAULT_MATH);
        bool any_tensor_op = false;
        for (int i = 0; i < nd; i++) any_tensor_op |= bwd[i].mathType == CUDNN_TENSOR_OP_MATH;
        EXPECT_EQ(any_tensor_op, math == CUDNN_DEFAULT_MATH);
        // FFT and Winograd need NCHW.
        for (int i = 0; i < nf; i++)
            if (fwd[i].algo >= CUDNN_CONVOLUTION_FWD_ALGO_FFT) {
                EXPECT_EQ(fwd[i].status, CUDNN_STATUS_NOT_SUPPORTED) << "algo " << fwd[i].algo;
            }
        // The workspace queries agree with the lists.
        for (int i = 0; i < nf; i++) {
            size_t bytes = 1;
            cudnnStatus_t st = cudnnGetConvolutionForwardWorkspaceSize(
                cv.handle, cv.x, cv.w, cv.conv, cv.y, fwd[i].algo, &bytes);
            EXPECT_EQ(st, fwd[i].status) << "algo " << fwd[i].algo;
            if (st == CUDNN_STATUS_SUCCESS) {
                EXPECT_EQ(bytes, fwd[i].memory) << "algo " << fwd[i].algo;
            }
        }
        // What hwnas picks: deterministic FMA algorithms with the sizes it expects.
        int f = first_deterministic_fma(fwd, nf), d = first_deterministic_fma(bwd, nd),
            w = first_deterministic_fma(bwf, nw);
        ASSERT_GE(f, 0);
        ASSERT_GE(d, 0);
        ASSERT_GE(w, 0);
        EXPECT_EQ(bwd[d].algo, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
        EXPECT_GT(bwd[d].memory, 0u);
        EXPECT_EQ(bwf[w].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
        EXPECT_GT(bwf[w].memory, 0u);
        size_t bytes = 1;
        EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(cv.handle, cv.x, cv.w, cv.conv, cv.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                                          &bytes),
                  CUDNN_STATUS_SUCCESS);
        EXPECT_EQ(bytes, 0u);
    }
}

TEST(CudnnAlgos, NchwUnitStrideSupportsFftAndWinogradAndTruncatesToTheRequest) {
    ConvSpec s{1, 2, 6, 6, 2, 3, 3, 1, 1, 1, false, false};
    CudnnConv cv(s, CUDNN_DEFAULT_MATH);
    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    ASSERT_EQ(cudnnGetConvolutionForwardAlgorithm_v7(cv.handle, cv.x, cv.w, cv.conv, cv.y,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd),
              CUDNN_STATUS_SUCCESS);
    bool fft = false, winograd = false;
    for (int i = 0; i < n; i++) {
        fft |=
            fwd[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT && fwd[i].status == CUDNN_STATUS_SUCCESS;
        winograd |= fwd[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD &&
                    fwd[i].status == CUDNN_STATUS_SUCCESS;
    }
    EXPECT_TRUE(fft);
    EXPECT_TRUE(winograd);
    ASSERT_EQ(
        cudnnGetConvolutionForwardAlgorithm_v7(cv.handle, cv.x, cv.w, cv.conv, cv.y, 2, &n, fwd),
        CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(n, 2);
}

TEST(CudnnArgs, DescriptorsValidateWhatIsSet) {
    cudnnTensorDescriptor_t t;
    cudnnFilterDescriptor_t f;
    cudnnConvolutionDescriptor_t c;
    ASSERT_EQ(cudnnCreateTensorDescriptor(&t), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnCreateFilterDescriptor(&f), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnCreateConvolutionDescriptor(&c), CUDNN_STATUS_SUCCESS);
    const cudnnTensorFormat_t nhwc = CUDNN_TENSOR_NHWC;
    const cudnnDataType_t fl = CUDNN_DATA_FLOAT;
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 0, 3, 4, 4), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 1, -3, 4, 4), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, (cudnnTensorFormat_t)7, fl, 1, 3, 4, 4),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, (cudnnDataType_t)99, 1, 3, 4, 4),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, CUDNN_DATA_DOUBLE, 1, 3, 4, 4),
              CUDNN_STATUS_NOT_SUPPORTED);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, CUDNN_DATA_HALF, 1, 3, 4, 4),
              CUDNN_STATUS_NOT_SUPPORTED);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW_VECT_C, fl, 1, 4, 4, 4),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetTensor4dDescriptorEx(t, fl, 1, 3, 4, 4, 48, 16, 4, 0),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetFilter4dDescriptor(f, fl, nhwc, 4, 3, 0, 3), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetFilter4dDescriptor(f, CUDNN_DATA_DOUBLE, nhwc, 4, 3, 3, 3),
              CUDNN_STATUS_NOT_SUPPORTED);
    const cudnnConvolutionMode_t xc = CUDNN_CROSS_CORRELATION;
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, -1, 0, 1, 1, 1, 1, xc, fl),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 0, 0, 0, 1, 1, 1, xc, fl), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 0, 0, 1, 1, 1, 0, xc, fl), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 0, 0, 1, 1, 1, 1, (cudnnConvolutionMode_t)5, fl),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 0, 0, 1, 1, 1, 1, xc, CUDNN_DATA_DOUBLE),
              CUDNN_STATUS_NOT_SUPPORTED);
    EXPECT_EQ(cudnnSetConvolutionMathType(c, (cudnnMathType_t)9), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetConvolutionGroupCount(c, 0), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnSetConvolutionGroupCount(c, 2), CUDNN_STATUS_NOT_SUPPORTED);
    // Round trips of what was set.
    ASSERT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 2, 3, 4, 5), CUDNN_STATUS_SUCCESS);
    cudnnDataType_t dt;
    int n, ch, h, w, ns, cs, hs, ws;
    ASSERT_EQ(cudnnGetTensor4dDescriptor(t, &dt, &n, &ch, &h, &w, &ns, &cs, &hs, &ws),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(dt, fl);
    EXPECT_EQ(n * 1000 + ch * 100 + h * 10 + w, 2345);
    EXPECT_EQ(ns, 60);
    EXPECT_EQ(cs, 1);
    EXPECT_EQ(hs, 15);
    EXPECT_EQ(ws, 3);
    ASSERT_EQ(cudnnSetFilter4dDescriptor(f, fl, nhwc, 6, 3, 3, 3), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetConvolution2dDescriptor(c, 2, 1, 2, 1, 2, 1, xc, fl), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(c, t, f, &n, &ch, &h, &w),
              CUDNN_STATUS_SUCCESS);
    // h: 1 + (4 + 4 - 5) / 2 = 2; w: 1 + (5 + 2 - 3) / 1 = 5
    EXPECT_EQ(n * 1000 + ch * 100 + h * 10 + w, 2625);
    ASSERT_EQ(cudnnSetFilter4dDescriptor(f, fl, nhwc, 6, 2, 3, 3), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(c, t, f, &n, &ch, &h, &w),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnDestroyTensorDescriptor(t), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnDestroyTensorDescriptor(t), CUDNN_STATUS_BAD_PARAM);  // already gone
    EXPECT_EQ(cudnnDestroyFilterDescriptor(f), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnDestroyConvolutionDescriptor(c), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnDestroyTensorDescriptor(nullptr), CUDNN_STATUS_SUCCESS);
}

TEST(CudnnArgs, CallsCheckShapesPointersAlgorithmsAndWorkspace) {
    ConvSpec s{2, 3, 6, 6, 4, 3, 3, 1, 1, 1, true, false};
    CudnnConv cv(s);
    DeviceFloats x(2 * 3 * 36), w(4 * 3 * 9), y(2 * 4 * 36), ws(1024);
    const float one = 1.0f, zero = 0.0f;
    auto forward = [&](cudnnConvolutionFwdAlgo_t algo, void* work, size_t bytes,
                       const float* alpha = nullptr) {
        return cudnnConvolutionForward(cv.handle, alpha ? alpha : &one, cv.x, x.get(), cv.w,
                                       w.get(), cv.conv, algo, work, bytes, &zero, cv.y, y.get());
    };
    const cudnnConvolutionFwdAlgo_t precomp = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    size_t need = 0;
    ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(cv.handle, cv.x, cv.w, cv.conv, cv.y, precomp,
                                                      &need),
              CUDNN_STATUS_SUCCESS);
    ASSERT_GT(need, 0u);
    EXPECT_EQ(forward(precomp, ws.get(), need), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(forward(precomp, ws.get(), need - 1), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(forward(precomp, nullptr, need), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_FFT, ws.get(), 4096),
              CUDNN_STATUS_NOT_SUPPORTED);  // NHWC
    EXPECT_EQ(forward((cudnnConvolutionFwdAlgo_t)42, ws.get(), 4096), CUDNN_STATUS_BAD_PARAM);
    size_t bytes = 0;
    EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(cv.handle, cv.x, cv.w, cv.conv, cv.y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, &bytes),
              CUDNN_STATUS_NOT_SUPPORTED);
    const cudnnConvolutionFwdAlgo_t ig = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, nullptr, cv.x, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, cv.y, y.get()),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, nullptr, cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, cv.y, y.get()),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnConvolutionForward(nullptr, &one, cv.x, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, cv.y, y.get()),
              CUDNN_STATUS_BAD_PARAM);
    int count = 0;
    cudnnConvolutionFwdAlgoPerf_t perf[1];
    EXPECT_EQ(cudnnGetConvolutionForwardAlgorithm_v7(cv.handle, cv.x, cv.w, cv.conv, cv.y, 0,
                                                     &count, perf),
              CUDNN_STATUS_BAD_PARAM);
    // y's spatial size must be the forward output size; its channels the filter count.
    cudnnTensorDescriptor_t bad;
    ASSERT_EQ(cudnnCreateTensorDescriptor(&bad), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, bad, y.get()),
              CUDNN_STATUS_BAD_PARAM);  // created, never set
    ASSERT_EQ(cudnnSetTensor4dDescriptor(bad, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 4, 5, 6),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, bad, y.get()),
              CUDNN_STATUS_NOT_SUPPORTED);
    ASSERT_EQ(cudnnSetTensor4dDescriptor(bad, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 5, 6, 6),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, &one, cv.x, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, bad, y.get()),
              CUDNN_STATUS_BAD_PARAM);
    // x with a channel count the filter does not have, in every direction.
    ASSERT_EQ(cudnnSetTensor4dDescriptor(bad, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 2, 6, 6),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, &one, bad, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, cv.y, y.get()),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnConvolutionBackwardData(cv.handle, &one, cv.w, w.get(), cv.y, y.get(), cv.conv,
                                           CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, nullptr, 0, &zero,
                                           bad, x.get()),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnConvolutionBackwardFilter(cv.handle, &one, bad, x.get(), cv.y, y.get(), cv.conv,
                                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, nullptr, 0, &zero,
                                             cv.w, w.get()),
              CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnDestroyTensorDescriptor(bad), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnConvolutionForward(cv.handle, &one, bad, x.get(), cv.w, w.get(), cv.conv, ig,
                                      nullptr, 0, &zero, cv.y, y.get()),
              CUDNN_STATUS_BAD_PARAM);  // destroyed
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

TEST(CudnnLibrary, HandlesVersionAndStatusText) {
    cudnnHandle_t h = nullptr;
    EXPECT_EQ(cudnnCreate(nullptr), CUDNN_STATUS_BAD_PARAM);
    ASSERT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
    cudaStream_t s = (cudaStream_t)1;
    EXPECT_EQ(cudnnGetStream(h, &s), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(s, (cudaStream_t)0);
    cudaStream_t mine;
    ASSERT_EQ(cudaStreamCreate(&mine), cudaSuccess);
    EXPECT_EQ(cudnnSetStream(h, mine), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnGetStream(h, &s), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(s, mine);
    EXPECT_EQ(cudnnSetStream(h, 0), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudaStreamDestroy(mine), cudaSuccess);
    EXPECT_EQ(cudnnSetStream(h, mine), CUDNN_STATUS_BAD_PARAM);  // destroyed stream
    EXPECT_EQ(cudnnSetStream(nullptr, 0), CUDNN_STATUS_BAD_PARAM);
    EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetStream(h, 0), CUDNN_STATUS_NOT_INITIALIZED);  // destroyed handle
    EXPECT_EQ(cudnnGetVersion(), (size_t)CUDNN_VERSION);
    EXPECT_EQ(CUDNN_STATUS_NOT_SUPPORTED, 9);
    EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM");
    EXPECT_STRNE(cudnnGetErrorString((cudnnStatus_t)1234), "");
}

// Runs a forward on a stream whose y is one element short (which = 0) or
// whose workspace is host memory (which = 1); the stream work faults.
void convolution_with_bad_operand(int which) {
    cudnnHandle_t h;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnCreate(&h);
    cudnnCreateTensorDescriptor(&xd);
    cudnnCreateTensorDescriptor(&yd);
    cudnnCreateFilterDescriptor(&wd);
    cudnnCreateConvolutionDescriptor(&cd);
    cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 2, 4, 4);
    cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 2, 4, 4);
    cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 2, 2, 3, 3);
    cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                    CUDNN_DATA_FLOAT);
    float *x, *w, *y;
    cudaMalloc((void**)&x, 32 * sizeof(float));
    cudaMalloc((void**)&w, 36 * sizeof(float));
    cudaMalloc((void**)&y, (which == 0 ? 31 : 32) * sizeof(float));
    static float host_workspace[4096];
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t st = cudnnConvolutionForward(h, &one, xd, x, wd, w, cd,
                                               CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                               host_workspace, sizeof host_workspace, &zero, yd, y);
    if (st != CUDNN_STATUS_SUCCESS) exit(3);
    exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 4);
}

TEST(CudnnDeathTest, OperandOutsideItsAllocationFaultsTheStream) {
    EXPECT_EXIT(convolution_with_bad_operand(0), ::testing::ExitedWithCode(0),
                "cudnnConvolutionForward: y");
}

TEST(CudnnDeathTest, WorkspaceInHostMemoryFaultsTheStream) {
    EXPECT_EXIT(convolution_with_bad_operand(1), ::testing::ExitedWithCode(0),
                "cudnnConvolutionForward: workSpace");
}

// With CUDA_EMU_CUDNN=unavailable every cuDNN call fails, starting with
// cudnnCreate, so hwnas's fallback runs.
void cudnn_unavailable_scenario() {
    int failures = 0;
    auto expect = [&](cudnnStatus_t got, const char* what) {
        if (got == CUDNN_STATUS_SUCCESS) {
            fprintf(stderr, "%s succeeded\n", what);
            failures++;
        }
    };
    cudnnHandle_t h = nullptr;
    cudnnStatus_t created = cudnnCreate(&h);
    if (created != CUDNN_STATUS_NOT_INITIALIZED || h != nullptr) failures++;
    cudnnTensorDescriptor_t t = nullptr;
    expect(cudnnCreateTensorDescriptor(&t), "cudnnCreateTensorDescriptor");
    cudnnFilterDescriptor_t f = nullptr;
    expect(cudnnCreateFilterDescriptor(&f), "cudnnCreateFilterDescriptor");
    cudnnConvolutionDescriptor_t c = nullptr;
    expect(cudnnCreateConvolutionDescriptor(&c), "cudnnCreateConvolutionDescriptor");
    expect(cudnnSetStream(h, 0), "cudnnSetStream");
    expect(cudnnDestroy(h), "cudnnDestroy");
    // The status text still works: the caller prints it.
    if (strcmp(cudnnGetErrorString(created), "CUDNN_STATUS_NOT_INITIALIZED") != 0) failures++;
    exit(failures == 0 ? 0 : 1);
}

TEST(CudnnDeathTest, UnavailableSwitchFailsEveryCall) {
    // The child is a fresh execution of this program (threadsafe style) and
    // inherits the environment, so the switch is in place from its start.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const char* before = getenv("CUDA_EMU_CUDNN");
    std::string saved = before ? before : "";
    setenv("CUDA_EMU_CUDNN", "unavailable", 1);
    EXPECT_EXIT(cudnn_unavailable_scenario(), ::testing::ExitedWithCode(0), "");
    if (before)
        setenv("CUDA_EMU_CUDNN", saved.c_str(), 1);
    else
        unsetenv("CUDA_EMU_CUDNN");
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // Death-test children re-execute this program: a fresh emulated device
    // for each faulting case (faults are sticky, as on a GPU).
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int rc = RUN_ALL_TESTS();
    const ::testing::UnitTest* u = ::testing::UnitTest::GetInstance();
    printf("%d passed, %d failed\n", u->successful_test_count(), u->failed_test_count());
    fflush(stdout);
    return rc;
}
