// `hwnas latency` on a machine too busy to measure (made busy by the test
// hook HWNAS_TEST_LATENCY_BUSY, so this does not depend on the load) and with
// a thread count other than the table's. No timing is asserted.
#include <gtest/gtest.h>

#include <string>

#include "cli_run.h"
#include "test_util.h"

namespace {

using cli::exists;
using cli::Result;
using cli::slurp;

const std::string kSpace = " --space tests/spaces/fmnist-small.yaml";
// The hook on, and the suite's HWNAS_LATENCY_ON_BUSY=warn (test_main) off.
const char* kBusy = "HWNAS_TEST_LATENCY_BUSY=1 HWNAS_LATENCY_ON_BUSY=refuse";

Result run(const std::string& args, const std::string& dir, const char* env = "") {
    cli::Spawn s;
    s.env = env;
    return cli::run(args, dir + "/log", s);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void expect_one_error_line(const Result& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(r.err.rfind("hwnas: error: ", 0), 0u) << r.err;
    EXPECT_TRUE(contains(r.err, needle)) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
}

TEST(LatencyCli, BusyMachineIsRefusedUnlessForced) {
    std::string dir = test_temp_dir("latbusy"), table = dir + "/t.yaml";
    Result r = run("latency profile" + kSpace + " --threads 1 -o " + table, dir, kBusy);
    expect_one_error_line(r, 1, "machine too busy to measure latency: other processes held the CPUs for 50%");
    EXPECT_TRUE(contains(r.err, "in 3 tries")) << r.err;
    EXPECT_FALSE(exists(table)) << "a refused profile must write nothing";

    r = run("latency profile" + kSpace + " --threads 1 --force -o " + table, dir, kBusy);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "hwnas: warning: latency profile: ")) << r.err;
    EXPECT_TRUE(contains(r.err, "on a busy machine")) << r.err;
    std::string text = slurp(table);
    EXPECT_TRUE(contains(text, "\nthreads: 1\n")) << text;
    EXPECT_TRUE(contains(text, "\ntiming: q20-rounds\n")) << text;
    EXPECT_TRUE(contains(text, "\npinned: ")) << text;

    std::string check = "latency check --target " + table + kSpace + " --samples 2 --threads 1";
    expect_one_error_line(run(check, dir, kBusy), 1, "machine too busy to measure latency");
    r = run(check + " --force", dir, kBusy);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "samples 2 within10 ")) << r.out;
    EXPECT_TRUE(contains(r.err, "hwnas: warning: latency check: 1 of 1 measurements made on a busy machine")) << r.err;
}

// The five entries of architecture [sep_k5, fused_k3_e3, sep_k3] of
// fmnist-small, in a table measured with 2 threads.
const char* kTwoThreadTable =
    "device: test\nunit: ms\nmethod: measured\nsource: test\nthreads: 2\ntiming: q20-rounds\nentries:\n"
    "  stem-in:28x28x1-out:14x14x8: {mean: 0.1}\n  sep_k5-in:14x14x8-out:7x7x12-s:2: {mean: 0.2}\n"
    "  fused_k3_e3-in:7x7x12-out:7x7x12-s:1: {mean: 0.3}\n  sep_k3-in:7x7x12-out:4x4x16-s:2: {mean: 0.4}\n"
    "  head-in:4x4x16-out:10: {mean: 0.05}\n";

TEST(LatencyCli, ThreadMismatchWarnsOrRefusesWithStrict) {
    TempDir tmp("latthreads");
    std::string table = tmp.write("t.yaml", kTwoThreadTable);
    std::string arch = tmp.write("a.yaml", "space: fmnist-small\nops: [sep_k5, fused_k3_e3, sep_k3]\n");
    std::string predict = "latency predict --target " + table + " --arch " + arch + kSpace;
    Result r = run(predict, tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "1.0500\n");
    EXPECT_EQ(r.err, "");
    r = run(predict + " --threads 2", tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    r = run(predict + " --threads 1", tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "1.0500\n");
    EXPECT_TRUE(contains(r.err, "hwnas: warning: " + table + ": measured with 2 threads, not 1")) << r.err;
    expect_one_error_line(run(predict + " --threads 1 --strict", tmp.path), 2,
                          table + ": threads: measured with 2, found --threads 1 (--strict refuses a mismatch)");
    // check refuses before measuring anything (this table could not be checked).
    expect_one_error_line(run("latency check --target " + table + kSpace + " --samples 1 --threads 1 --strict",
                              tmp.path),
                          2, "threads: measured with 2, found --threads 1");
}

// check warns about the thread count and about a table timed another way
// (the suite's HWNAS_LATENCY_ON_BUSY=warn keeps a loaded machine measuring).
TEST(LatencyCli, CheckWarnsAboutThreadsAndTiming) {
    TempDir tmp("latcheck");
    std::string table = tmp.file("t.yaml");
    Result r = run("latency profile" + kSpace + " --threads 1 -o " + table, tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("latency check --target " + table + kSpace + " --samples 1 --threads 2", tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "hwnas: warning: " + table + ": measured with 1 threads, not 2")) << r.err;
    EXPECT_FALSE(contains(r.err, "timing")) << r.err;
    // The same table as an older hwnas wrote it: no timing field.
    std::string text = slurp(table);
    size_t at = text.find("timing: q20-rounds\n");
    ASSERT_NE(at, std::string::npos) << text;
    std::string old = tmp.write("old.yaml", text.erase(at, std::string("timing: q20-rounds\n").size()));
    r = run("latency check --target " + old + kSpace + " --samples 1 --threads 1", tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "hwnas: warning: " + old + ": timing not stated, this check measures q20-rounds"))
        << r.err;
}

}  // namespace
