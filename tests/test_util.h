// Shared helpers for the GoogleTest suites: reference loading, tolerance
// comparison that prints the largest error, finite-difference gradient checks.
#ifndef HWNAS_TEST_UTIL_H
#define HWNAS_TEST_UTIL_H

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ref_file.h"

// Directory of the reference files (HWNAS_REF_DIR, default build/ref).
std::string ref_dir();

// The reference file of one op family, loaded once and cached. A missing or
// malformed file is a test failure (never a skip).
const RefFile* ref_family(const char* family);
// Frees every cached reference file (test_main calls it before exiting).
void ref_release_all();

// A float32 / int32 tensor of `family` by name; fails the test and returns an
// empty vector when missing or of the wrong element count (expect_numel 0 = any).
std::vector<float> ref_floats(const char* family, const std::string& name, size_t expect_numel = 0);
std::vector<int> ref_ints(const char* family, const std::string& name, size_t expect_numel = 0);
bool ref_has(const char* family, const std::string& name);

// |got - want| <= atol + rtol * |want| elementwise; prints the largest absolute
// error and the worst ratio to the tolerance so every run shows its margins.
void expect_close(const std::string& what, const float* got, const float* want, size_t n,
                  float atol, float rtol);
inline void expect_close(const std::string& what, const std::vector<float>& got,
                         const std::vector<float>& want, float atol, float rtol) {
    ASSERT_EQ(got.size(), want.size()) << what;
    expect_close(what, got.data(), want.data(), got.size(), atol, rtol);
}

// got == want bit for bit (prints the mismatch count, reports the first).
void expect_bitwise(const std::string& what, const std::vector<float>& got,
                    const std::vector<float>& want);

// Deterministic uniform values in [lo, hi) (xorshift), for test inputs.
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// Finite-difference check of an analytic gradient. `loss` must recompute a
// scalar (double) from the current contents of `x`; central differences with
// step eps on `samples` coordinates spread over x (all of them if n <= samples).
// Passes when |fd - analytic| <= atol + rtol * max(|fd|, |analytic|).
void expect_gradient_matches_fd(const std::string& what, float* x, size_t n,
                                const float* analytic, const std::function<double()>& loss,
                                int samples, double eps, double atol, double rtol);

// Scalar loss sum(out * probe) in double, so d loss / d out = probe.
double dot_double(const float* a, const float* b, size_t n);

// A fresh directory /tmp/hwnas_<tag>_XXXXXX, removed with everything in it
// when the test binary ends (test_main calls remove_test_temp_dirs), so runs
// that the tests start leave nothing behind in /tmp.
std::string test_temp_dir(const char* tag);
void remove_test_temp_dirs();

// A scoped temporary directory for a test's own input files; removed (with
// whatever the program under test wrote into it) when it goes out of scope.
struct TempDir {
    std::string path;
    std::vector<std::string> files;  // written through file()/write(), in order
    explicit TempDir(const char* tag = "tmp");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name);  // path of `name`, remembered
    std::string write(const std::string& name, const std::string& text);  // binary
    std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

// Running the hwnas binary from a test (CLI tests). In a namespace so that a
// file keeping its own copies of these helpers still compiles.
namespace hwtest {
// The binary under test (HWNAS_BIN, default build/hwnas), as an absolute
// path, so that a command can run from another working directory.
std::string bin();
// The repository root (the tests' working directory), absolute.
std::string repo_root();
struct Result {
    int code;  // exit status; -1 when killed by a signal
    std::string out, err;
};
// A whole file, binary ("" when it cannot be read).
std::string slurp(const std::string& path);
// `hwnas ARGS` through the shell (ARGS is a shell word list), from the
// tests' working directory, or from `cwd` when given.
Result run(const std::string& args, const std::string& cwd = "");
}  // namespace hwtest

#endif
