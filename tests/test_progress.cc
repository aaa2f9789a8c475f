// The progress helper's durations (common/progress.h). Its 10-second
// rhythm is not tested: tests make no timing assertions.
#include <string>

#include "test_util.h"

extern "C" {
#include "common/progress.h"
}

namespace {
std::string duration(double s) {
    char out[32];
    progress_format_duration(s, out, sizeof out);
    return out;
}
}  // namespace

TEST(Progress, DurationsReadAsAPersonReadsThem) {
    EXPECT_EQ(duration(0), "0s");
    EXPECT_EQ(duration(-5), "0s");
    EXPECT_EQ(duration(42.4), "42s");
    EXPECT_EQ(duration(59.6), "1m00s");
    EXPECT_EQ(duration(185), "3m05s");
    EXPECT_EQ(duration(3600), "1h00m");
    EXPECT_EQ(duration(3725), "1h02m");
}

// Nothing is printed within the first seconds, and an update of a phase that
// has not begun (NULL) is ignored.
TEST(Progress, AShortPhaseIsSilent) {
    Progress p;
    testing::internal::CaptureStderr();
    progress_begin(&p, "hwnas run", "test, images", 100);
    for (int i = 1; i <= 100; i++) progress_update(&p, i);
    progress_update(nullptr, 5);
    progress_end(&p);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}
