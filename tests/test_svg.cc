// Plot axes with round ticks (src/svg.h).
#include <cmath>
#include <cstdio>
#include <string>

#include "test_util.h"

extern "C" {
#include "src/svg.h"
}

namespace {

// step = m * 10^e with m in {1, 2, 5}.
bool is_round_step(double step) {
    double e = std::floor(std::log10(step) + 1e-9);
    double m = step / std::pow(10, e);
    return std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 || std::fabs(m - 5) < 1e-9;
}

void expect_round_axis(double lo, double hi, int ticks) {
    SvgAxis a;
    svg_axis(lo, hi, ticks, &a);
    std::string what = std::to_string(lo) + ".." + std::to_string(hi);
    // Rounding of the ends' arithmetic, relative to their magnitude.
    double eps = 1e-12 * std::fmax(std::fmax(std::fabs(lo), std::fabs(hi)), a.step);
    EXPECT_TRUE(is_round_step(a.step)) << what << " step " << a.step;
    EXPECT_LE(a.lo, lo + eps) << what;
    EXPECT_GE(a.hi, hi - eps) << what;
    EXPECT_GT(a.lo, lo - a.step) << what << ": no empty interval below";
    EXPECT_LT(a.hi, hi + a.step) << what << ": no empty interval above";
    EXPECT_NEAR(a.lo / a.step, std::round(a.lo / a.step), 1e-6) << what << ": ends are multiples of the step";
    EXPECT_NEAR(a.hi / a.step, std::round(a.hi / a.step), 1e-6) << what;
    EXPECT_NEAR(a.lo + a.step * (a.count - 1), a.hi, eps) << what;
    EXPECT_GE(a.count, 2) << what;
    EXPECT_LE(a.count, ticks + 3) << what;
    // Printed with a.decimals, every tick reads back exactly.
    for (int i = 0; i < a.count; i++) {
        double v = a.lo + a.step * i;
        char text[64];
        std::snprintf(text, sizeof text, "%.*f", a.decimals, v);
        EXPECT_NEAR(std::atof(text), v, 1e-6 * a.step) << what << " tick " << text;
    }
}

}  // namespace

TEST(Svg, AxisExamples) {
    SvgAxis a;
    svg_axis(0.13, 0.87, 5, &a);
    EXPECT_DOUBLE_EQ(a.step, 0.2);
    EXPECT_DOUBLE_EQ(a.lo, 0.0);
    EXPECT_NEAR(a.hi, 1.0, 1e-12);
    EXPECT_EQ(a.count, 6);
    EXPECT_EQ(a.decimals, 1);
    svg_axis(0, 1700, 5, &a);  // training steps
    EXPECT_DOUBLE_EQ(a.step, 500);
    EXPECT_DOUBLE_EQ(a.hi, 2000);
    EXPECT_EQ(a.decimals, 0);
    svg_axis(0.6, 1.2, 3, &a);  // ends exactly on ticks stay there
    EXPECT_DOUBLE_EQ(a.step, 0.2);
    EXPECT_NEAR(a.lo, 0.6, 1e-12);
    EXPECT_NEAR(a.hi, 1.2, 1e-12);
    EXPECT_EQ(a.count, 4);
}

TEST(Svg, AxisIsRoundOverManyRanges) {
    const double ranges[][2] = {{0, 1},       {0.2967, 0.3141}, {-3.7, 12.9}, {1e-4, 3e-4}, {2.3, 2.3000001},
                                {1500, 98000}, {-0.02, 0.02},    {0.81, 0.83}, {7, 7.5},     {0.0012, 0.0458}};
    for (const auto& r : ranges)
        for (int ticks : {3, 5, 8}) expect_round_axis(r[0], r[1], ticks);
}
