// GoogleTest main that ends with the plain summary line `N passed, M failed`.
#include <gtest/gtest.h>

#include <cstdio>

#include "test_util.h"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    ref_release_all();
    remove_test_temp_dirs();
    const ::testing::UnitTest* u = ::testing::UnitTest::GetInstance();
    std::printf("%d passed, %d failed\n", u->successful_test_count(), u->failed_test_count());
    std::fflush(stdout);
    return rc;
}
