// `hwnas latency` on a machine too busy to measure (made busy by the test
// hook HWNAS_TEST_LATENCY_BUSY, so this does not depend on the load) and with
// a thread count other than the table's. No timing is asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

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

// Splits a CSV line at commas.
std::vector<std::string> fields(const std::string& line) {
    std::vector<std::string> out(1);
    for (char ch : line) {
        if (ch == ',') out.emplace_back();
        else out.back().push_back(ch);
    }
    return out;
}

std::vector<std::string> csv_rows(const std::string& path) {
    std::vector<std::string> rows;
    std::string text = slurp(path), line;
    for (char ch : text) {
        if (ch != '\n') line.push_back(ch);
        else rows.push_back(line), line.clear();
    }
    return rows;
}

// The value after "NAME " in a check's summary line.
double summary_value(const std::string& out, const std::string& name) {
    size_t at = out.find(" " + name + " ");
    return at == std::string::npos ? -1 : std::stod(out.substr(at + name.size() + 2));
}

// A profiled table carries reference networks; the check times them beside
// every group and reports the figures with the speed factor and without it
// (raw_*): both recomputed here from its CSV rows. Without a reference the
// factor is 1 and not printed; a reference of another space is one error.
TEST(LatencyCli, CheckReportsTheMachineSpeedApartFromTheTablesError) {
    TempDir tmp("latspeed");
    std::string table = tmp.file("t.yaml"), csv = tmp.file("c.csv");
    Result r = run("latency profile" + kSpace + " --threads 1 -o " + table, tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    std::string text = slurp(table);
    ASSERT_TRUE(contains(text, "\nreference_ops: ") && contains(text, "\nreference_ms: ")) << text;
    std::string check = "latency check" + kSpace + " --samples 12 --threads 1 --target ";
    r = run(check + table + " --csv " + csv, tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<std::string> rows = csv_rows(csv);
    ASSERT_EQ(rows.size(), 13u);
    EXPECT_EQ(rows[0], "ops,predicted_ms,measured_ms,error_pct,raw_predicted_ms,speed");
    int within = 0, raw_within = 0;
    double speed_sum = 0;
    for (size_t i = 1; i < rows.size(); i++) {
        std::vector<std::string> f = fields(rows[i]);
        ASSERT_EQ(f.size(), 6u) << rows[i];
        double pred = std::stod(f[1]), meas = std::stod(f[2]), raw = std::stod(f[4]), speed = std::stod(f[5]);
        EXPECT_GT(speed, 0.0);
        EXPECT_NEAR(pred, raw * speed, 2e-5 + 1e-4 * pred) << rows[i];
        if (i > 1 && i != 11) {
            EXPECT_EQ(f[5], fields(rows[i - 1])[5]) << "one factor per group of 10";
        }
        within += std::fabs(pred - meas) <= 0.10 * meas;
        raw_within += std::fabs(raw - meas) <= 0.10 * meas;
        speed_sum += speed;
    }
    EXPECT_NEAR(summary_value(r.out, "within10"), within / 12.0, 1e-3) << r.out;
    EXPECT_NEAR(summary_value(r.out, "raw_within10"), raw_within / 12.0, 1e-3) << r.out;
    EXPECT_NEAR(summary_value(r.out, "speed"), speed_sum / 12.0, 1e-3) << r.out;

    size_t at = text.find("\nreference_ops: ");
    std::string plain = tmp.write("plain.yaml", text.substr(0, at + 1) + text.substr(text.find('\n', text.find("\nreference_ms: ") + 1) + 1));
    r = run(check + plain + " --csv " + csv, tmp.path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_FALSE(contains(r.out, " speed ")) << r.out;
    EXPECT_EQ(fields(csv_rows(csv)[1])[5], "1.0000");

    std::string other = text;
    other.replace(at, std::string("\nreference_ops: ").size(), "\nreference_ops: no_such_op ");
    r = run(check + tmp.write("other.yaml", other), tmp.path);
    expect_one_error_line(r, 2, "reference_ops network 1, layer 1: found 'no_such_op', expected an operator");
}

}  // namespace
