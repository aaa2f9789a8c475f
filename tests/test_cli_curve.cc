// `hwnas bench curve` end to end on fmnist-small (tests/configs/smoke.yaml,
// the made-up table tests/targets/fmnist-small.yaml so nothing depends on
// timing): SPOS at 1 and 2 epochs and the two-stage method at 2 (1+1); one
// limit for all; a second run keeps every finished run; another config, bad
// flags and a damaged row file are one error line each.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "cli_run.h"
#include "test_util.h"

namespace {

using cli::slurp;
using cli::lines;

std::string curve_args(const std::string& out) {
    return "bench curve -c tests/configs/smoke.yaml --set target=tests/targets/fmnist-small.yaml --set "
           "train.threads=1 --budgets 1,2 --methods spos,two-stage -o " + out;
}

// One error line (after progress lines, and the warning that smoke.yaml sets epoch keys the
// curve does not read: its budgets set them).
void expect_one_line_error(const cli::Result& r, const std::string& what) {
    EXPECT_EQ(r.code, 2) << r.err;
    std::vector<std::string> errs;
    for (const std::string& line : lines(r.err))
        if (line.rfind("hwnas bench curve: ", 0) != 0) errs.push_back(line);
    ASSERT_EQ(errs.size(), 1u) << r.err;
    EXPECT_EQ(errs[0].rfind("hwnas: error: ", 0), 0u) << r.err;
    EXPECT_NE(errs[0].find(what), std::string::npos) << r.err;
}

TEST(CliCurve, EveryMethodAtEveryBudgetWithOneLimitAndFinishedRunsKept) {
    std::string dir = test_temp_dir("curve");
    cli::Result r = cli::run(curve_args(dir + "/c"), dir + "/first");
    ASSERT_EQ(r.code, 0) << r.err;
    std::string csv = slurp(dir + "/c/curve.csv");
    std::vector<std::string> rows = lines(csv);
    ASSERT_EQ(rows.size(), 4u) << csv;
    EXPECT_EQ(rows[0].rfind("method,budget,epochs,train_seconds,", 0), 0u) << rows[0];
    const char* methods[] = {"spos", "spos", "two-stage"};
    const int budgets[] = {1, 2, 2};
    const char* epochs[] = {"1", "2", "1+1"};
    double first_limit = -1;
    for (int i = 0; i < 3; i++) {
        char method[32], ep[16];
        int budget, evaluated, resumed;
        double train_s, search_s, val, test, pred, meas, limit;
        ASSERT_EQ(std::sscanf(rows[i + 1].c_str(), "%31[^,],%d,%15[^,],%lf,%lf,%d,%lf,%lf,%lf,%lf,%lf,%d", method,
                              &budget, ep, &train_s, &search_s, &evaluated, &val, &test, &pred, &meas, &limit,
                              &resumed),
                  12)
            << rows[i + 1];
        EXPECT_STREQ(method, methods[i]);
        EXPECT_EQ(budget, budgets[i]);
        EXPECT_STREQ(ep, epochs[i]);
        EXPECT_GT(train_s, 0);
        EXPECT_GT(evaluated, 0);
        EXPECT_GT(test, 0);
        EXPECT_LE(test, 1);
        EXPECT_LE(pred, limit + 1e-3) << "the winner respects the limit";
        EXPECT_EQ(resumed, 0);
        if (i == 0) first_limit = limit;
        EXPECT_EQ(limit, first_limit) << "one limit for every run";
    }
    std::string md = slurp(dir + "/c/curve.md");
    EXPECT_NE(md.find("| two-stage (HURRICANE) | 2 | 1+1 |"), std::string::npos) << md;
    EXPECT_NE(md.find("## Training time to reach a test top-1"), std::string::npos) << md;
    EXPECT_NE(md.find("### two-stage (HURRICANE) vs SPOS, full pool"), std::string::npos) << md;
    EXPECT_NE(md.find("| test top-1 | SPOS, full pool (s) | two-stage (HURRICANE) (s) | training time two-stage saves |"),
              std::string::npos)
        << md;
    EXPECT_EQ(md.find("hardware-specific space"), std::string::npos) << "no table for a method not run: " << md;
    EXPECT_NE(slurp(dir + "/c/curve.svg").find("<polyline"), std::string::npos);

    cli::Result again = cli::run(curve_args(dir + "/c"), dir + "/again");
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_NE(again.err.find("two-stage (HURRICANE), 2 epochs: kept from"), std::string::npos) << again.err;
    EXPECT_EQ(again.err.find("hwnas run:"), std::string::npos) << "nothing runs again: " << again.err;
    EXPECT_EQ(slurp(dir + "/c/curve.csv"), csv);

    // --report-only: the files from the finished runs; a budget not run is left out, nothing runs.
    std::string report_args = "bench curve -c tests/configs/smoke.yaml --set target=tests/targets/fmnist-small.yaml "
                              "--set train.threads=1 --budgets 1,2,3 --methods spos,two-stage --report-only -o ";
    cli::Result report = cli::run(report_args + dir + "/c", dir + "/report");
    ASSERT_EQ(report.code, 0) << report.err;
    EXPECT_NE(report.err.find("SPOS, full pool, 3 epochs: not run, left out"), std::string::npos) << report.err;
    EXPECT_NE(report.err.find("two-stage (HURRICANE), 3 epochs: not run, left out"), std::string::npos) << report.err;
    EXPECT_EQ(report.err.find("hwnas run:"), std::string::npos) << "nothing runs: " << report.err;
    EXPECT_EQ(slurp(dir + "/c/curve.csv"), csv);
    EXPECT_FALSE(cli::exists(dir + "/c/spos-e3")) << "--report-only makes no run directory";
    expect_one_line_error(cli::run(report_args + dir + "/none", dir + "/none"), "--report-only needs the runs");
    EXPECT_FALSE(cli::exists(dir + "/none/config.yaml"));

    expect_one_line_error(cli::run(curve_args(dir + "/c") + " --set train.lr=0.05", dir + "/other"),
                          "use another -o");
    std::FILE* fp = std::fopen((dir + "/c/spos-e2/curve-row.csv").c_str(), "w");
    ASSERT_NE(fp, nullptr);
    std::fputs("method,budget\nspos,2\n", fp);
    std::fclose(fp);
    expect_one_line_error(cli::run(curve_args(dir + "/c"), dir + "/damaged"), "spos-e2/curve-row.csv");
}

TEST(CliCurve, BadBudgetsAndMethodsAreOneLineErrors) {
    std::string dir = test_temp_dir("curve_bad");
    const char* bad[][2] = {{"--budgets 2,1", "--budgets"},       {"--budgets 0", "--budgets"},
                            {"--budgets 1,,2", "--budgets"},      {"--budgets 1,2,3,4,5,6,7,8,9", "--budgets"},
                            {"--methods spos,spos", "--methods"}, {"--methods dart", "--methods"}};
    for (auto& b : bad)
        expect_one_line_error(cli::run("bench curve -c tests/configs/smoke.yaml " + std::string(b[0]) + " -o " +
                                           dir + "/x",
                                       dir + "/bad"),
                              b[1]);
    cli::Result help = cli::run("bench curve --help", dir + "/help");
    EXPECT_EQ(help.code, 0);
    EXPECT_NE(help.out.find("--budgets 1,2,3,5"), std::string::npos) << help.out;
}

}  // namespace
