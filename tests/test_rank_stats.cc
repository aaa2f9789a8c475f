// Rank statistics of `hwnas bench ranking` (search/rank_stats.h): hand-worked
// small cases, and two cases whose expected values come from an independent
// Python one-off (tau-b from tie-group sizes, rho from ranks by sorting; no
// scipy), printed with repr() and copied here.
#include <gtest/gtest.h>

#include <cmath>

extern "C" {
#include "search/rank_stats.h"
}

namespace {

TEST(RankStats, AverageRanksShareTies) {
    const double x[] = {10, 20, 20, 30}, y[] = {3, 1, 3, 3, 2};
    double rx[4], ry[5];
    rank_average(x, 4, rx);
    rank_average(y, 5, ry);
    const double ex[] = {1, 2.5, 2.5, 4}, ey[] = {4, 1, 4, 4, 2};
    for (int i = 0; i < 4; i++) EXPECT_EQ(rx[i], ex[i]) << i;
    for (int i = 0; i < 5; i++) EXPECT_EQ(ry[i], ey[i]) << i;
}

TEST(RankStats, PerfectAndReversedOrders) {
    const double x[] = {0.1, 0.4, 0.2, 0.9}, same[] = {1, 4, 2, 9}, reversed[] = {9, 6, 8, 1};
    EXPECT_DOUBLE_EQ(rank_kendall_tau_b(x, same, 4), 1.0);
    EXPECT_DOUBLE_EQ(rank_spearman_rho(x, same, 4), 1.0);
    EXPECT_DOUBLE_EQ(rank_kendall_tau_b(x, reversed, 4), -1.0);
    EXPECT_DOUBLE_EQ(rank_spearman_rho(x, reversed, 4), -1.0);
}

// By hand: x = {1, 2, 2, 3}, y = {1, 3, 2, 4}. Of the 6 pairs, (2,3) is tied
// in x only; the other 5 are concordant. tau-b = 5 / sqrt(5 * 6).
// Ranks x {1, 2.5, 2.5, 4}, y {1, 3, 2, 4}: deviations from 2.5 are
// {-1.5, 0, 0, 1.5} and {-1.5, .5, -.5, 1.5}; rho = 4.5 / sqrt(4.5 * 5).
TEST(RankStats, TiesByHand) {
    const double x[] = {1, 2, 2, 3}, y[] = {1, 3, 2, 4};
    EXPECT_NEAR(rank_kendall_tau_b(x, y, 4), 5.0 / std::sqrt(30.0), 1e-12);
    EXPECT_NEAR(rank_spearman_rho(x, y, 4), 4.5 / std::sqrt(22.5), 1e-12);
}

TEST(RankStats, MatchesIndependentComputation) {
    // Ties in both: x has two pairs tied, y one.
    const double x[] = {0.71, 0.68, 0.74, 0.68, 0.80, 0.77, 0.66, 0.74};
    const double y[] = {0.83, 0.80, 0.86, 0.84, 0.88, 0.85, 0.79, 0.86};
    EXPECT_NEAR(rank_kendall_tau_b(x, y, 8), 0.7548513560963972, 1e-12);
    EXPECT_NEAR(rank_spearman_rho(x, y, 8), 0.884864735957054, 1e-12);
    // No ties: also by the classic formulas, tau = (C - D) / 45 with C - D =
    // 23, rho = 1 - 6 * 52 / (10 * 99).
    const double a[] = {0.5, 0.62, 0.58, 0.61, 0.49, 0.7, 0.66, 0.55, 0.6, 0.52};
    const double b[] = {0.81, 0.8, 0.86, 0.83, 0.78, 0.84, 0.9, 0.79, 0.82, 0.77};
    EXPECT_NEAR(rank_kendall_tau_b(a, b, 10), 0.5111111111111111, 1e-12);
    EXPECT_NEAR(rank_kendall_tau_b(a, b, 10), 23.0 / 45.0, 1e-12);
    EXPECT_NEAR(rank_spearman_rho(a, b, 10), 0.6848484848484848, 1e-12);
    EXPECT_NEAR(rank_spearman_rho(a, b, 10), 1.0 - 6.0 * 52.0 / 990.0, 1e-12);
}

TEST(RankStats, UndefinedWhenOneSideIsConstant) {
    const double x[] = {1, 2, 3}, flat[] = {5, 5, 5};
    EXPECT_TRUE(std::isnan(rank_kendall_tau_b(x, flat, 3)));
    EXPECT_TRUE(std::isnan(rank_spearman_rho(flat, x, 3)));
    EXPECT_TRUE(std::isnan(rank_kendall_tau_b(x, x, 1)));
}

TEST(RankStats, TopKAgreement) {
    // predicted order: 4, 1, 3, 0, 2; actual order: 3, 4, 0, 2, 1.
    const double predicted[] = {0.5, 0.8, 0.1, 0.6, 0.9}, actual[] = {0.7, 0.2, 0.6, 0.95, 0.9};
    RankTopK t;
    rank_top_k(predicted, actual, 5, 3, &t);
    EXPECT_EQ(t.actual_best, 3);
    EXPECT_EQ(t.best_in_top_k, 1);  // predicted top 3 = {4, 1, 3}
    EXPECT_EQ(t.overlap, 2);        // actual top 3 = {3, 4, 0}
    rank_top_k(predicted, actual, 5, 2, &t);
    EXPECT_EQ(t.best_in_top_k, 0);  // {4, 1}
    EXPECT_EQ(t.overlap, 1);        // with {3, 4}
    // Ties go to the lower index: predicted {0.5, 0.5, 0.5} has top 1 = {0}.
    const double flat[] = {0.5, 0.5, 0.5}, best_last[] = {0.1, 0.2, 0.3};
    rank_top_k(flat, best_last, 3, 1, &t);
    EXPECT_EQ(t.actual_best, 2);
    EXPECT_EQ(t.best_in_top_k, 0);
    EXPECT_EQ(t.overlap, 0);
    EXPECT_EQ(rank_position_desc(flat, 3, 2), 2);
}

}  // namespace
