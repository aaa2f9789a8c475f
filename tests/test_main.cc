// GoogleTest main that ends with the plain summary line `N passed, M failed`.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "test_util.h"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    // Tests check what hwnas does, never how fast: a loaded machine must not
    // make a latency measurement refuse (search/measure.h). Every hwnas the
    // tests start inherits this; the refusal test sets it back for its own.
    setenv("HWNAS_LATENCY_ON_BUSY", "warn", 0);
    int rc = RUN_ALL_TESTS();
    ref_release_all();
    remove_test_temp_dirs();
    const ::testing::UnitTest* u = ::testing::UnitTest::GetInstance();
    std::printf("%d passed, %d failed\n", u->successful_test_count(), u->failed_test_count());
    std::fflush(stdout);
    return rc;
}
