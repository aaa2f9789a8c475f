// `hwnas space` and `hwnas search` end to end on a made-up latency table:
// the operators kept, the limit respected, the files written.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

extern "C" {
#include "kernels/ops.h"
#include "search/search_csv.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
}

using hwtest::Result;
using hwtest::run;
using hwtest::slurp;

namespace {

// A made-up table of fmnist-small: layer 0 (mb_k3_e3 0.3, sep_k5 0.1,
// shuffle_k3 0.2 ms), layer 1 (mb_k3_e3_se 0.5, skip 0, shuffle_x 0.2,
// fused_k3_e3 0.1), layer 2 (mb_k5_e3_hs 0.2, sep_k3 0.4).
const char* kTableFile = "tests/targets/fmnist-small.yaml";

std::string write_table(const std::string& dir) {
    std::ofstream(dir + "/t.yaml") << slurp(kTableFile);
    return dir + "/t.yaml";
}

std::string ops_of(const Space& s, int l) {
    std::string out;
    for (int o = 0; o < s.layers[l].n_ops; o++) out += std::string(o ? " " : "") + s.layers[l].names[o];
    return out;
}

}  // namespace

// Scored by latency alone, the space keeps each layer's 2 fastest operators,
// and skip wherever the layer offers it.
TEST(CliSearch, SpaceKeepsTheFastestAndSkip) {
    std::string dir = test_temp_dir("cli_space");
    std::string table = write_table(dir);
    Result r = run("space -c tests/configs/smoke.yaml --target " + table + " -o " + dir +
                   "/s.yaml --set space_gen.top_k=2 --set space_gen.score=latency");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("hwnas space: fmnist-small:"), std::string::npos) << r.err;
    Space s;
    HwErr err = {};
    ASSERT_EQ(space_load(&s, (dir + "/s.yaml").c_str(), &err), 0) << err.msg;
    EXPECT_STREQ(s.name, "fmnist-small-target");
    ASSERT_EQ(s.n_layers, 3);
    EXPECT_EQ(ops_of(s, 0), "sep_k5 shuffle_k3");
    EXPECT_EQ(ops_of(s, 1), "fused_k3_e3 shuffle_x skip");
    EXPECT_EQ(ops_of(s, 2), "mb_k5_e3_hs sep_k3");
    EXPECT_NE(slurp(dir + "/s.yaml").find("ranking:"), std::string::npos) << "the ranking tables are written";
    // A target without the entries of a whole layer is refused.
    std::string partial = slurp(kTableFile);
    for (const char* key : {"  mb_k5_e3_hs-in", "  sep_k3-in"}) {
        size_t at = partial.find(key);
        partial.erase(at, partial.find('\n', at) + 1 - at);
    }
    std::ofstream(dir + "/partial.yaml") << partial;
    r = run("space -c tests/configs/smoke.yaml --target " + dir + "/partial.yaml -o " + dir + "/p.yaml");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("layer 2: the target has no entry for any operator"), std::string::npos) << r.err;
}

// A trained supernet searched under a limit: every candidate respects it,
// the best is reported on stdout and written to best.yaml.
TEST(CliSearch, SearchRespectsTheLimitAndWritesItsFiles) {
    std::string dir = test_temp_dir("cli_search");
    std::string table = write_table(dir);
    Result r = run("train -c tests/configs/smoke.yaml -o " + dir + "/train");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("search -c tests/configs/smoke.yaml --supernet " + dir + "/train/supernet.ckpt --target " + table +
            " --latency-ms 0.75 --random-baseline -o " + dir + "/s");
    ASSERT_EQ(r.code, 0) << r.err;
    double top1 = -1, ms = -1;
    int evaluated = 0, rejected = -1;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "best top1 %lf latency_ms %lf evaluated %d rejected %d", &top1, &ms,
                          &evaluated, &rejected), 4) << r.out;
    EXPECT_LE(ms, 0.75 + 1e-9);
    EXPECT_GT(evaluated, 0);
    EXPECT_NE(r.out.find("\nrandom top1 "), std::string::npos) << r.out;
    // Every row of search.csv is under the limit; the stdout count is its rows.
    std::istringstream csv(slurp(dir + "/s/search.csv"));
    std::string line;
    ASSERT_TRUE(std::getline(csv, line));
    size_t col = 0, latency_col = std::string::npos;
    for (size_t at = 0, next; at <= line.size(); at = next + 1, col++) {
        next = line.find(',', at);
        if (next == std::string::npos) next = line.size();
        if (line.substr(at, next - at) == "latency_ms") latency_col = col;
    }
    ASSERT_NE(latency_col, std::string::npos) << line;
    int rows = 0;
    while (std::getline(csv, line)) {
        size_t at = 0;
        for (size_t c = 0; c < latency_col; c++) at = line.find(',', at) + 1;
        EXPECT_LE(std::atof(line.c_str() + at), 0.75 + 1e-9) << line;
        rows++;
    }
    EXPECT_EQ(rows, evaluated);
    std::string best = slurp(dir + "/s/best.yaml");
    EXPECT_NE(best.find("space: fmnist-small"), std::string::npos) << best;
    EXPECT_FALSE(slurp(dir + "/s/pareto.csv").empty());
    EXPECT_FALSE(slurp(dir + "/s/random.csv").empty());
    // A missing --supernet is a usage error.
    EXPECT_EQ(run("search -c tests/configs/smoke.yaml --target " + table + " -o " + dir + "/x").code, 2);
}

// A tight --max-params: the winner is within it, best.yaml says so (params
// and peak_kb), every search.csv row is within it, and draws were rejected.
// The limit is the median parameter count of the 24 architectures of
// fmnist-small, counted here from the supernet's own blocks.
TEST(CliSearch, MaxParamsBindsAndBestYamlShowsIt) {
    std::string dir = test_temp_dir("cli_search");
    std::string table = write_table(dir);
    Space space;
    HwErr err = {};
    ASSERT_EQ(space_load(&space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
    OpContext ctx = {1, nullptr};
    Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, 1, &err);
    ASSERT_NE(sn, nullptr) << err.msg;
    std::vector<double> counts;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 2; c++) {
                int ops[] = {a, b, c};
                counts.push_back(supernet_path_params(sn, ops));
            }
    supernet_destroy(sn);
    std::sort(counts.begin(), counts.end());
    long limit = (long)counts[counts.size() / 2];
    ASSERT_LT(limit, (long)counts.back()) << "the limit must bind";
    Result r = run("train -c tests/configs/smoke.yaml -o " + dir + "/train");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("search -c tests/configs/smoke.yaml --supernet " + dir + "/train/supernet.ckpt --target " + table +
            " --max-params " + std::to_string(limit) + " -o " + dir + "/s");
    ASSERT_EQ(r.code, 0) << r.err;
    double top1, ms, seconds, params = -1, mflops = -1, peak = -1;
    int evaluated = 0, rejected = 0;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "best top1 %lf latency_ms %lf evaluated %d rejected %d seconds %lf params %lf "
                                         "mflops %lf peak_kb %lf",
                          &top1, &ms, &evaluated, &rejected, &seconds, &params, &mflops, &peak),
              8)
        << r.out;
    EXPECT_LE(params, limit);
    EXPECT_GT(mflops, 0);
    EXPECT_GT(peak, 0);
    EXPECT_GT(rejected, 0);
    EXPECT_NE(r.err.find("over max_params"), std::string::npos) << r.err;
    std::string best = slurp(dir + "/s/best.yaml");
    size_t at = best.find("\nparams: ");
    ASSERT_NE(at, std::string::npos) << best;
    EXPECT_EQ(std::atof(best.c_str() + at + 9), params) << best;
    EXPECT_NE(best.find("\npeak_kb: "), std::string::npos) << best;
    // Every evaluated candidate is within the limit (params is the 7th column).
    std::istringstream csv(slurp(dir + "/s/search.csv"));
    std::string line;
    ASSERT_TRUE(std::getline(csv, line));
    EXPECT_EQ(line, SEARCH_CSV_HEADER);
    int rows = 0;
    while (std::getline(csv, line)) {
        size_t col = 0;
        for (int c = 0; c < 6; c++) col = line.find(',', col) + 1;
        EXPECT_LE(std::atof(line.c_str() + col), limit) << line;
        rows++;
    }
    EXPECT_EQ(rows, evaluated);
    EXPECT_EQ(slurp(dir + "/s/pareto.csv").rfind(std::string(PARETO_CSV_HEADER) + "\n", 0), 0u);
}
