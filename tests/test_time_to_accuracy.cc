// Time to accuracy read off curves (search/time_to_accuracy.h): cases worked
// by hand.
#include <gtest/gtest.h>

#include <cmath>

extern "C" {
#include "search/time_to_accuracy.h"
}

namespace {

const double kSeconds[] = {100, 200, 300};

TEST(TimeToAccuracy, LinearBetweenTheBudgetsAroundTheFirstCrossing) {
    const double top1[] = {0.5, 0.6, 0.8};
    EXPECT_DOUBLE_EQ(tta_seconds(kSeconds, top1, 3, 0.7), 250);  // halfway from 0.6 to 0.8
    EXPECT_DOUBLE_EQ(tta_seconds(kSeconds, top1, 3, 0.6), 200);  // reached at a point
    EXPECT_DOUBLE_EQ(tta_seconds(kSeconds, top1, 3, 0.8), 300);
    EXPECT_EQ(tta_seconds(kSeconds, top1, 3, 0.81), -1);         // never reached
    EXPECT_DOUBLE_EQ(tta_seconds(kSeconds, top1, 3, 0.4), 100);  // the first point: an upper bound
    EXPECT_EQ(tta_seconds(kSeconds, top1, 0, 0.1), -1);
}

TEST(TimeToAccuracy, ALaterDipDoesNotUndoTheCrossing) {
    const double top1[] = {0.5, 0.8, 0.6};
    EXPECT_NEAR(tta_seconds(kSeconds, top1, 3, 0.7), 100 + 100 * (0.2 / 0.3), 1e-9);
    EXPECT_DOUBLE_EQ(tta_seconds(kSeconds, top1, 3, 0.8), 200);
}

TEST(TimeToAccuracy, CommonLevelIsTheSmallestBest) {
    const double a[] = {0.5, 0.8, 0.7}, b[] = {0.6, 0.75}, c[] = {0.9};
    const double* curves[] = {a, b, c};
    const int n[] = {3, 2, 1};
    EXPECT_DOUBLE_EQ(tta_common_level(curves, n, 3), 0.75);
    EXPECT_DOUBLE_EQ(tta_common_level(curves, n, 1), 0.8);
    EXPECT_EQ(tta_common_level(curves, n, 0), 0);
}

TEST(TimeToAccuracy, SavingIsTheShareOfTheFirstCurvesTime) {
    EXPECT_DOUBLE_EQ(tta_saving(200, 150), 0.25);
    EXPECT_DOUBLE_EQ(tta_saving(200, 300), -0.5);
    EXPECT_TRUE(std::isnan(tta_saving(-1, 150)));  // the first never reaches the level
    EXPECT_TRUE(std::isnan(tta_saving(200, -1)));
    EXPECT_TRUE(std::isnan(tta_saving(0, 10)));
}

}  // namespace
