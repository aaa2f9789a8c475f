// `hwnas bench ranking` end to end on fmnist-small (tests/configs/smoke.yaml,
// the made-up table tests/targets/fmnist-small.yaml so nothing depends on
// timing), 3 subnets, 2 epochs of 1024 images each: usage errors; a whole
// run's files; and runs stopped by SIGINT and by SIGKILL after the first
// subnet, then run again, which keep that subnet (not trained again) and end
// with the same ranking.csv as the run never stopped (but for the wall-time
// column).
#include <signal.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_run.h"
#include "test_util.h"

namespace {

using cli::exists;
using cli::slurp;
using cli::lines;

std::string train_supernet(const char* name, const char* seed) {
    std::string dir = test_temp_dir(name);
    cli::Result r = cli::run("train -c tests/configs/smoke.yaml --set train.threads=1 --set train.seed=" + std::string(seed) +
                                 " -o " + dir + "/sn",
                             dir + "/train");
    EXPECT_EQ(r.code, 0) << r.err;
    return dir + "/sn/supernet.ckpt";
}

// A supernet trained once for every test here, and a second one (another
// seed: other weights over the same space).
const std::string& supernet_ckpt() {
    static std::string ckpt;
    if (ckpt.empty()) ckpt = train_supernet("ranking_supernet", "1");
    return ckpt;
}

const std::string& second_supernet_ckpt() {
    static std::string ckpt;
    if (ckpt.empty()) ckpt = train_supernet("ranking_supernet2", "2");
    return ckpt;
}

// The seed of the ranking (selection, initialization) is --seed 5 whatever
// the supernet's.
std::string ranking_args(const std::string& out, const std::string& supernet = supernet_ckpt()) {
    return "bench ranking --supernet " + supernet +
           " -c tests/configs/smoke.yaml --target tests/targets/fmnist-small.yaml -n 3 --epochs 2"
           " --train-fraction 1 --seed 5 --set train.threads=1 -o " + out;
}

// Column `col` (0-based) of every row after the header.
std::vector<std::string> column(const std::string& csv, int col) {
    std::vector<std::string> out;
    std::vector<std::string> rows = lines(csv);
    for (size_t i = 1; i < rows.size(); i++) {
        std::stringstream in(rows[i]);
        std::string field;
        for (int c = 0; c <= col; c++) std::getline(in, field, ',');
        out.push_back(field);
    }
    return out;
}

// The rows without their last column (train_seconds: wall time).
std::vector<std::string> without_seconds(const std::string& csv) {
    std::vector<std::string> out;
    for (const std::string& line : lines(csv)) out.push_back(line.substr(0, line.rfind(',')));
    return out;
}

bool wait_for_rows(const std::string& csv, size_t rows) {
    for (int waited = 0; waited < 120000; waited += 2) {
        if (lines(slurp(csv)).size() >= rows + 1) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

TEST(CliRanking, UsageErrorsAreOneLineAndExitTwo) {
    cli::Result r = cli::run("bench ranking --help", test_temp_dir("ranking_usage") + "/help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("--train-fraction 0.5"), std::string::npos) << r.out;
    std::string dir = test_temp_dir("ranking_bad");
    const char* bad[] = {"bench ranking -c tests/configs/smoke.yaml", "bench ranking --supernet x -n 1",
                         "bench ranking --supernet x --train-fraction 1.5", "bench ranking --supernet x --epochs 0",
                         "bench ranking --supernet /nonexistent/sn.ckpt"};
    for (const char* args : bad) {
        r = cli::run(args, dir + "/bad");
        EXPECT_EQ(r.code, 2) << args;
        EXPECT_EQ(lines(r.err).size(), 1u) << args << ": " << r.err;
        EXPECT_EQ(r.err.rfind("hwnas: error: ", 0), 0u) << args << ": " << r.err;
    }
}

// Stops a run after its first subnet with `sig`, runs it again, and checks
// that the first row was kept as it was and not trained again.
void stop_after_first_and_rerun(const std::string& out, int sig) {
    pid_t pid = cli::start(ranking_args(out), out + "-first");
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(wait_for_rows(out + "/ranking.csv", 1)) << slurp(out + "-first.err");
    kill(pid, sig);
    int code = cli::wait_code(pid);
    EXPECT_EQ(code, sig == SIGINT ? 130 : 128 + SIGKILL) << slurp(out + "-first.err");
    std::vector<std::string> before = lines(slurp(out + "/ranking.csv"));
    ASSERT_GE(before.size(), 2u);
    ASSERT_LT(before.size(), 4u) << "the run ended before it was stopped";
    cli::Result r = cli::run(ranking_args(out), out + "-again");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("subnet 1/3: kept from"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("subnet 1/3: stand-alone"), std::string::npos) << r.err;
    std::vector<std::string> after = lines(slurp(out + "/ranking.csv"));
    ASSERT_EQ(after.size(), 4u);
    EXPECT_EQ(after[1], before[1]);  // train_seconds included: the row was not trained again
}

TEST(CliRanking, StoppedRunsKeepFinishedSubnetsAndEndAsAnUninterruptedOne) {
    std::string dir = test_temp_dir("ranking");
    cli::Result whole = cli::run(ranking_args(dir + "/whole"), dir + "/whole");
    ASSERT_EQ(whole.code, 0) << whole.err;
    EXPECT_NE(whole.out.find("kendall_tau_b="), std::string::npos) << whole.out;
    std::string csv = slurp(dir + "/whole/ranking.csv");
    ASSERT_EQ(lines(csv).size(), 4u) << csv;
    EXPECT_EQ(lines(csv)[0], "index,ops,predicted_ms,inherited_top1,standalone_top1,train_seconds");
    std::string md = slurp(dir + "/whole/ranking.md");
    EXPECT_NE(md.find("| Kendall tau-b |"), std::string::npos) << md;
    EXPECT_NE(md.find("| Spearman rho |"), std::string::npos) << md;
    EXPECT_NE(slurp(dir + "/whole/ranking.svg").find("<svg"), std::string::npos);

    stop_after_first_and_rerun(dir + "/int", SIGINT);
    stop_after_first_and_rerun(dir + "/kill", SIGKILL);
    EXPECT_EQ(without_seconds(slurp(dir + "/int/ranking.csv")), without_seconds(csv));
    EXPECT_EQ(without_seconds(slurp(dir + "/kill/ranking.csv")), without_seconds(csv));

    // Other settings into the same directory are refused, and nothing is lost.
    cli::Result other = cli::run(ranking_args(dir + "/whole") + " --epochs 1", dir + "/other");
    EXPECT_EQ(other.code, 2) << other.err;
    EXPECT_NE(other.err.find("use another -o"), std::string::npos) << other.err;
    EXPECT_EQ(slurp(dir + "/whole/ranking.csv"), csv);
}

// A ranking of a second supernet over the same picks takes the first
// ranking's stand-alone results (not trained again) and measures its own
// inherited scores: the same as a ranking of it that trains everything.
// Another budget is refused.
TEST(CliRanking, StandaloneResultsOfAnotherRankingAreTakenNotTrainedAgain) {
    std::string dir = test_temp_dir("ranking_reuse");
    cli::Result first = cli::run(ranking_args(dir + "/first"), dir + "/first");
    ASSERT_EQ(first.code, 0) << first.err;
    cli::Result own = cli::run(ranking_args(dir + "/own", second_supernet_ckpt()), dir + "/own");
    ASSERT_EQ(own.code, 0) << own.err;
    cli::Result reuse =
        cli::run(ranking_args(dir + "/reuse", second_supernet_ckpt()) + " --standalone-from " + dir + "/first",
                 dir + "/reuse");
    ASSERT_EQ(reuse.code, 0) << reuse.err;
    EXPECT_EQ(reuse.err.find("training it stand-alone"), std::string::npos) << reuse.err;
    EXPECT_NE(reuse.err.find("subnet 3/3: stand-alone top-1"), std::string::npos) << reuse.err;
    std::string a = slurp(dir + "/first/ranking.csv"), b = slurp(dir + "/own/ranking.csv");
    std::string c = slurp(dir + "/reuse/ranking.csv");
    ASSERT_EQ(lines(c).size(), 4u) << c;
    EXPECT_EQ(column(c, 1), column(a, 1)) << "the same picks";
    EXPECT_EQ(column(c, 3), column(b, 3)) << "inherited scores of the second supernet";
    EXPECT_NE(column(c, 3), column(a, 3)) << "the supernets differ";
    EXPECT_EQ(column(c, 4), column(a, 4)) << "stand-alone results taken";
    EXPECT_EQ(column(c, 4), column(b, 4)) << "and they are what training gives";
    EXPECT_EQ(column(c, 5), column(a, 5)) << "with their training time";
    EXPECT_NE(slurp(dir + "/reuse/ranking.md").find("taken from"), std::string::npos);

    cli::Result other = cli::run(ranking_args(dir + "/other", second_supernet_ckpt()) + " --epochs 1 " +
                                     "--standalone-from " + dir + "/first",
                                 dir + "/other");
    EXPECT_EQ(other.code, 2) << other.err;
    EXPECT_EQ(lines(other.err).size(), 1u) << other.err;
    EXPECT_NE(other.err.find("another stand-alone budget"), std::string::npos) << other.err;
}

}  // namespace
