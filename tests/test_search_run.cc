// The search driver (search/search_run.h) on a small space: the files it
// writes, the limit and the pins it respects, the best it reports, a rerun
// that replays search.csv, and the random baseline's budget.
#include <algorithm>
#include <string>

#include "search_fixture.h"

extern "C" {
#include "common/config.h"
#include "kernels/ops.h"
#include "search/latency_limit.h"
#include "search/search_run.h"
#include "search/winner_check.h"
#include "supernet/evaluate.h"
#include "supernet/supernet.h"
}

namespace {

double scrambled_ms(int l, int o) { return 0.2 + 0.01 * ((o * 37 + l * 11) % 23); }

struct SearchFixture {
    Config cfg;
    Space space;
    Supernet* sn = nullptr;
    Evaluator* ev = nullptr;
    Lut* lut = nullptr;
    std::string dir = test_temp_dir("search_run");
    SearchFixture() {
        config_defaults(&cfg);
        cfg.data.limit_train = 1024;
        cfg.data.holdout = 256;
        cfg.data.workers = 0;
        cfg.train.batch = 64;
        cfg.train.threads = 2;
        cfg.search.population = 6;
        cfg.search.parents = 2;
        cfg.search.iterations = 2;
        cfg.search.mutations = 3;
        cfg.search.crossovers = 3;
        cfg.search.bn_images = 64;
        cfg.search.val_images = 128;
        HwErr err = {};
        EXPECT_EQ(space_load(&space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
        OpContext ctx = {cfg.train.threads, nullptr};
        sn = supernet_create(&space, &ops_cpu, &ctx, cfg.train.batch, &err);
        EXPECT_NE(sn, nullptr) << err.msg;
        if (!sn) return;
        EXPECT_EQ(supernet_init_params(sn, cfg.train.seed, &err), 0) << err.msg;
        EvalOptions valid = {&cfg.data, SPLIT_VALID, cfg.search.bn_images, cfg.search.val_images, cfg.search.bn_mode,
                             cfg.search.seed};
        ev = evaluator_create(sn, &valid, &err);
        EXPECT_NE(ev, nullptr) << err.msg;
        lut = make_table(space, scrambled_ms);
    }
    ~SearchFixture() {
        evaluator_destroy(ev);
        supernet_destroy(sn);
        lut_free(lut);
    }
};

std::vector<Candidate> read_csv(const std::string& path, const Space& s) {
    Candidate* c = nullptr;
    int n = 0;
    HwErr err = {};
    EXPECT_EQ(search_read_candidates(path.c_str(), &s, &c, &n, &err), 0) << err.msg;
    std::vector<Candidate> out(c, c + n);
    free(c);
    return out;
}

}  // namespace

TEST(SearchRun, RespectsLimitAndPinsAndReportsTheBest) {
    SearchFixture f;
    ASSERT_NE(f.ev, nullptr);
    HwErr err = {};
    // Layer 2 pinned; the limit leaves out the slowest quarter of the 12
    // architectures left, so the limit binds.
    int pins[SPACE_MAX_LAYERS] = {-1, -1, 0};
    std::vector<double> all;
    for (int a = 0; a < f.space.layers[0].n_ops; a++)
        for (int b = 0; b < f.space.layers[1].n_ops; b++) {
            int ops[3] = {a, b, 0};
            double ms = 0;
            ASSERT_EQ(latency_predict(f.lut, &f.space, ops, &ms, &err), 0) << err.msg;
            all.push_back(ms);
        }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), 12u);
    double limit = all[8];
    ASSERT_LT(limit, all.back());
    SearchJob job = {&f.cfg.search, f.sn, f.ev, f.lut, limit, pins, f.dir.c_str(), "t-", 1, 1};
    SearchOutcome out;
    ASSERT_EQ(search_run(&job, &out, &err), 0) << err.msg;
    std::vector<Candidate> rows = read_csv(f.dir + "/t-search.csv", f.space);
    ASSERT_EQ((int)rows.size(), out.evaluated);
    ASSERT_GT(out.evaluated, 0);
    const Candidate* best = &rows[0];
    for (const Candidate& c : rows) {
        EXPECT_EQ(c.ops[2], 0) << "pinned layer";
        EXPECT_LE(c.latency_ms, limit + 1e-9);
        double ms = 0;
        ASSERT_EQ(latency_predict(f.lut, &f.space, c.ops, &ms, &err), 0) << err.msg;
        EXPECT_NEAR(c.latency_ms, ms, 1e-12) << "the predicted latency is the table's";
        if (c.top1 > best->top1 || (c.top1 == best->top1 && c.latency_ms < best->latency_ms)) best = &c;
    }
    EXPECT_EQ(out.best.top1, best->top1);
    EXPECT_EQ(out.best.latency_ms, best->latency_ms);
    EXPECT_TRUE(std::equal(best->ops, best->ops + 3, out.best.ops));
    EXPECT_FALSE(hwtest::slurp(f.dir + "/t-pareto.csv").empty());
    EXPECT_NE(hwtest::slurp(f.dir + "/t-best.yaml").find("latency_ms"), std::string::npos);
    // The random baseline: as many evaluations, in t-random.csv.
    ASSERT_TRUE(out.has_random);
    EXPECT_EQ(out.random_evaluated, out.evaluated);
    std::vector<Candidate> random = read_csv(f.dir + "/t-random.csv", f.space);
    EXPECT_EQ((int)random.size(), out.evaluated);
    for (const Candidate& c : random) EXPECT_LE(c.latency_ms, limit + 1e-9);
}

// A rerun finds search.csv and replays it: same outcome, nothing appended.
TEST(SearchRun, RerunReplaysSearchCsv) {
    SearchFixture f;
    ASSERT_NE(f.ev, nullptr);
    HwErr err = {};
    SearchJob job = {&f.cfg.search, f.sn, f.ev, f.lut, 0, nullptr, f.dir.c_str(), "", 0, 1};
    SearchOutcome first, again;
    ASSERT_EQ(search_run(&job, &first, &err), 0) << err.msg;
    std::string csv = hwtest::slurp(f.dir + "/search.csv");
    ASSERT_EQ(search_run(&job, &again, &err), 0) << err.msg;
    EXPECT_EQ(hwtest::slurp(f.dir + "/search.csv"), csv);
    EXPECT_EQ(again.evaluated, first.evaluated);
    EXPECT_EQ(again.best.top1, first.best.top1);
    EXPECT_TRUE(std::equal(first.best.ops, first.best.ops + 3, again.best.ops));
}
