// gemm_f32 (kernels/cpu/gemm.h): the product for every transpose pair with
// padded leading dimensions, the beta conventions, and the same bits whether
// it is called outside any parallel region, in a one-thread region or in
// every thread of a team (it must never thread itself).
#include <omp.h>

#include <limits>

#include "kernels/cpu/gemm.h"
#include "test_util.h"

namespace {

// A row-major operand stored with a padded leading dimension; the padding
// holds NaN so that a read outside the matrix shows in the result.
struct Operand {
    int rows, cols, ld;
    std::vector<float> data;
    Operand(int r, int c, int pad, uint64_t seed) : rows(r), cols(c), ld(c + pad) {
        data.assign((size_t)r * ld, std::numeric_limits<float>::quiet_NaN());
        std::vector<float> v = random_floats((size_t)r * c, seed);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) data[(size_t)i * ld + j] = v[(size_t)i * c + j];
    }
    float at(int i, int j) const { return data[(size_t)i * ld + j]; }
};

struct GemmCase {
    bool ta, tb;
    int m, n, k;
    float alpha, beta;
};

// Runs gemm_f32 on fresh operands and checks every element of C against the
// product in double, within the standard bound of a float32 dot product in
// any summation order: |error| <= gamma * (|alpha| sum_p |a b| + |beta c|),
// gamma = (k + 2) u / (1 - (k + 2) u), u = 2^-24 (k products and additions,
// the alpha scaling and the beta update). The padding of C must stay as it was.
void check_case(const GemmCase& g) {
    Operand a(g.ta ? g.k : g.m, g.ta ? g.m : g.k, 3, 11);
    Operand b(g.tb ? g.n : g.k, g.tb ? g.k : g.n, 5, 12);
    Operand c(g.m, g.n, 2, 13);
    std::vector<float> c0 = c.data;
    gemm_f32(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data.data(), a.ld, b.data.data(), b.ld, g.beta,
             c.data.data(), c.ld);
    double u = std::ldexp(1.0, -24), gamma = (g.k + 2) * u / (1.0 - (g.k + 2) * u);
    std::string tag = std::string("trans ") + (g.ta ? "T" : "N") + (g.tb ? "T" : "N");
    for (int i = 0; i < g.m; i++)
        for (int j = 0; j < g.n; j++) {
            double exact = 0.0, magnitude = 0.0;
            for (int p = 0; p < g.k; p++) {
                double av = g.ta ? a.at(p, i) : a.at(i, p), bv = g.tb ? b.at(j, p) : b.at(p, j);
                exact += av * bv;
                magnitude += std::fabs(av * bv);
            }
            double c_in = c0[(size_t)i * c.ld + j];
            double want = g.alpha * exact + (g.beta != 0.0f ? g.beta * c_in : 0.0);
            double bound = gamma * (std::fabs(g.alpha) * magnitude +
                                    (g.beta != 0.0f ? std::fabs(g.beta * c_in) : 0.0));
            ASSERT_LE(std::fabs(c.at(i, j) - want), bound) << tag << " at " << i << "," << j;
        }
    for (int i = 0; i < g.m; i++)
        for (int j = g.n; j < c.ld; j++) ASSERT_TRUE(std::isnan(c.at(i, j))) << tag << " padding";
}

// The same call's C from fresh copies of the same inputs.
std::vector<float> product(int m, int n, int k, const std::vector<float>& a,
                           const std::vector<float>& b) {
    std::vector<float> c((size_t)m * n, 0.0f);
    gemm_f32(0, 1, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
    return c;
}

}  // namespace

TEST(GemmF32, MatchesDoubleForEveryTransposePairWithPaddedLeadingDimensions) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_case({ta != 0, tb != 0, 37, 29, 53, 1.5f, -0.5f});
            check_case({ta != 0, tb != 0, 70, 16, 300, 1.0f, 1.0f});  // the weight-gradient form
        }
}

TEST(GemmF32, BetaZeroDoesNotReadC) {
    // C starts as NaN; with beta 0 no NaN may reach the result.
    const int m = 9, n = 7, k = 5;
    std::vector<float> a = random_floats((size_t)m * k, 1), b = random_floats((size_t)k * n, 2);
    std::vector<float> c((size_t)m * n, std::numeric_limits<float>::quiet_NaN());
    gemm_f32(0, 0, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    for (float v : c) ASSERT_TRUE(std::isfinite(v));
    check_case({false, false, m, n, k, 2.0f, 0.0f});
}

TEST(GemmF32, EmptyProductsTouchNothingOrScaleC) {
    float c[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    gemm_f32(0, 0, 0, 2, 3, 1.0f, nullptr, 3, nullptr, 2, 0.0f, c, 2);  // m == 0
    gemm_f32(0, 0, 2, 0, 3, 1.0f, nullptr, 3, nullptr, 1, 0.0f, c, 1);  // n == 0
    EXPECT_EQ(c[0], 1.0f);
    EXPECT_EQ(c[3], 4.0f);
    const float a[1] = {0.0f}, b[2] = {0.0f, 0.0f};
    gemm_f32(0, 0, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, c, 2);  // k == 0: C = beta * C
    EXPECT_EQ(c[0], 0.5f);
    EXPECT_EQ(c[3], 2.0f);
}

// A weight-gradient-like shape (long k, small C) on which oneDNN's own
// two-thread split changes the rounding of most elements (1352 of 2304 on
// the AVX-512 machine this was written on), so a call that threaded itself
// would show here. Every calling context must give the bits of the call
// made alone.
TEST(GemmF32, SameBitsOutsideInAOneThreadRegionAndInEveryThreadOfATeam) {
    const int m = 16, n = 144, k = 25088;
    std::vector<float> a = random_floats((size_t)m * k, 5), b = random_floats((size_t)n * k, 6);
    std::vector<float> alone = product(m, n, k, a, b);
    std::vector<float> in_one;
    #pragma omp parallel num_threads(1)
    in_one = product(m, n, k, a, b);
    expect_bitwise("in a one-thread region", in_one, alone);
    int threads = omp_get_num_procs() < 4 ? 2 : 4;
    std::vector<std::vector<float>> in_team(threads);
    #pragma omp parallel num_threads(threads)
    in_team[omp_get_thread_num()] = product(m, n, k, a, b);
    for (int t = 0; t < threads; t++) expect_bitwise("thread " + std::to_string(t), in_team[t], alone);
}
