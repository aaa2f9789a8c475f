// Constraints beside latency (issue 17): evolution and random search redraw
// every child over a cost limit (parameters, MFLOPs, peak activation KB)
// exactly as they do for the latency limit; search.csv carries the costs;
// the peak activation memory of a path is the executor's buffer plan at
// batch 1, checked against a count by hand.
//
// The synthetic problems: latency, params and MFLOPs are sums of per-layer
// per-op integer tables, the peak is a max over layers (as a real net's is),
// fitness a sum of scores. The callbacks check every evaluated architecture
// against every limit, independently of the search's own bookkeeping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "search/evolution.h"
#include "search/search_csv.h"
#include "supernet/peak_memory.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "test_util.h"

namespace {

struct CostProblem {
    int n_layers = 0;
    std::vector<int> n_ops;
    // [layer][op]: latency ms, params, MFLOPs, peak KB, score 0..999.
    std::vector<std::vector<int>> lat, params, mflops, peak, score;
    double latency_limit = 0;
    double limit[SEARCH_COST_COUNT] = {0, 0, 0};
    bool with_costs = true;
    long evaluate_calls = 0;
    int violations = 0;  // evaluate saw an architecture over a limit, or one seen before in this search
    std::set<std::vector<int>> seen;  // of the current search: clear it before the next one

    double latency_of(const int* ops) const {
        double s = 0;
        for (int l = 0; l < n_layers; l++) s += lat[l][ops[l]];
        return s;
    }
    void costs_of(const int* ops, double* cost) const {
        cost[COST_PARAMS] = cost[COST_MFLOPS] = cost[COST_PEAK_KB] = 0;
        for (int l = 0; l < n_layers; l++) {
            cost[COST_PARAMS] += params[l][ops[l]];
            cost[COST_MFLOPS] += mflops[l][ops[l]];
            cost[COST_PEAK_KB] = std::max(cost[COST_PEAK_KB], (double)peak[l][ops[l]]);
        }
    }
    int score_of(const int* ops) const {
        int s = 0;
        for (int l = 0; l < n_layers; l++) s += score[l][ops[l]];
        return s;
    }
    bool within_limits(const int* ops) const {
        double cost[SEARCH_COST_COUNT];
        costs_of(ops, cost);
        if (latency_limit > 0 && latency_of(ops) > latency_limit) return false;
        for (int k = 0; k < SEARCH_COST_COUNT; k++)
            if (limit[k] > 0 && cost[k] > limit[k]) return false;
        return true;
    }
    SearchProblem problem();
};

double cost_problem_latency(void* user, const int* ops) { return static_cast<CostProblem*>(user)->latency_of(ops); }

void cost_problem_costs(void* user, const int* ops, double* cost) { static_cast<CostProblem*>(user)->costs_of(ops, cost); }

int cost_problem_evaluate(void* user, const int* ops, double* top1, double* top5, HwErr*) {
    CostProblem* t = static_cast<CostProblem*>(user);
    t->evaluate_calls++;
    if (!t->within_limits(ops) || !t->seen.insert(std::vector<int>(ops, ops + t->n_layers)).second) t->violations++;
    *top1 = t->score_of(ops) / (1000.0 * t->n_layers);
    *top5 = std::min(1.0, *top1 + 0.05);
    return 0;
}

SearchProblem CostProblem::problem() {
    SearchProblem p;
    std::memset(&p, 0, sizeof p);
    p.n_layers = n_layers;
    p.n_ops = n_ops.data();
    p.latency_limit_ms = latency_limit;
    p.latency = cost_problem_latency;
    p.evaluate = cost_problem_evaluate;
    p.costs = with_costs ? cost_problem_costs : nullptr;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) p.cost_limit[k] = limit[k];
    p.user = this;
    return p;
}

CostProblem make_problem(int n_layers, int n_ops, unsigned seed) {
    CostProblem t;
    t.n_layers = n_layers;
    t.n_ops.assign(n_layers, n_ops);
    std::mt19937 rng(seed);
    auto table = [&](int lo, int hi) {
        std::vector<std::vector<int>> v(n_layers, std::vector<int>(n_ops));
        for (auto& row : v)
            for (int& x : row) x = lo + (int)(rng() % (unsigned)(hi - lo + 1));
        return v;
    };
    t.lat = table(1, 20);
    t.params = table(100, 5000);
    t.mflops = table(1, 50);
    t.peak = table(10, 400);
    t.score = table(0, 999);
    return t;
}

// The q-quantile of one quantity (-1 latency, else a cost) over 2000 random
// architectures: a limit there binds and is reachable.
double quantile(const CostProblem& t, int what, double q) {
    std::mt19937 rng(7);
    std::vector<double> v;
    std::vector<int> ops(t.n_layers);
    for (int i = 0; i < 2000; i++) {
        for (int l = 0; l < t.n_layers; l++) ops[l] = (int)(rng() % (unsigned)t.n_ops[l]);
        double cost[SEARCH_COST_COUNT];
        t.costs_of(ops.data(), cost);
        v.push_back(what < 0 ? t.latency_of(ops.data()) : cost[what]);
    }
    std::sort(v.begin(), v.end());
    return v[(size_t)(q * (v.size() - 1))];
}

EvolutionConfig small_config(uint64_t seed) {
    EvolutionConfig cfg = evolution_default_config(seed);
    cfg.iterations = 6;
    return cfg;
}

// Every evaluated candidate within every limit, with the costs the callback gives.
void expect_within(const CostProblem& t, const SearchResult& r, const char* what) {
    for (int i = 0; i < r.count; i++) {
        const Candidate& c = r.evaluated[i];
        double cost[SEARCH_COST_COUNT];
        t.costs_of(c.ops, cost);
        EXPECT_TRUE(t.within_limits(c.ops)) << what << " candidate " << i;
        for (int k = 0; k < SEARCH_COST_COUNT; k++) EXPECT_EQ(c.cost[k], cost[k]) << what << " candidate " << i;
    }
    int sum = r.rejected_latency;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) sum += r.rejected_cost[k];
    EXPECT_EQ(r.rejected, sum) << what;
}

// The best score over every architecture within the limits (brute force).
std::vector<int> brute_force_best(const CostProblem& t) {
    std::vector<int> ops(t.n_layers, 0), best;
    int best_score = -1;
    for (;;) {
        if (t.within_limits(ops.data()) && t.score_of(ops.data()) > best_score) {
            best_score = t.score_of(ops.data());
            best = ops;
        }
        int l = 0;
        while (l < t.n_layers && ++ops[l] == t.n_ops[l]) ops[l++] = 0;
        if (l == t.n_layers) return best;
    }
}

}  // namespace

// Latency and all three costs binding at once, over several seeds: nothing
// evaluated breaks any of them, in evolution or in random search, and every
// cost limit rejected some draws.
TEST(EvolutionConstraints, NoEvaluatedCandidateBreaksAnyConstraint) {
    for (unsigned seed : {1u, 2u, 3u}) {
        CostProblem t = make_problem(10, 6, seed);
        t.latency_limit = quantile(t, -1, 0.8);
        for (int k = 0; k < SEARCH_COST_COUNT; k++) t.limit[k] = quantile(t, k, 0.6);
        SearchProblem p = t.problem();
        EvolutionConfig cfg = small_config(seed);
        SearchResult r, rr;
        HwErr err = {{0}, 0};
        ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
        ASSERT_GT(r.count, 100);
        expect_within(t, r, "evolution");
        for (int k = 0; k < SEARCH_COST_COUNT; k++) EXPECT_GT(r.rejected_cost[k], 0) << search_cost_name((SearchCost)k);
        EXPECT_GT(r.rejected_latency, 0);
        t.seen.clear();
        ASSERT_EQ(random_search(&p, r.count, seed, &rr, &err), 0) << err.msg;
        EXPECT_EQ(rr.count, r.count);
        expect_within(t, rr, "random");
        for (int k = 0; k < SEARCH_COST_COUNT; k++) EXPECT_GT(rr.rejected_cost[k], 0) << search_cost_name((SearchCost)k);
        EXPECT_EQ(t.violations, 0) << "seed " << seed;
        EXPECT_EQ(t.evaluate_calls, r.count + rr.count);
        search_result_free(&r);
        search_result_free(&rr);
    }
}

// 4 layers x 3 ops (81 architectures, fewer than the search evaluates, so
// both searches see the whole space): a parameter limit under the
// unconstrained winner's count gives the best architecture within it, which
// is another one.
TEST(EvolutionConstraints, BindingParamLimitPicksAnotherWinner) {
    CostProblem t = make_problem(4, 3, 11);
    // Accuracy grows with size, as it does in real spaces: the limit must cost accuracy.
    for (int l = 0; l < t.n_layers; l++)
        for (int o = 0; o < t.n_ops[l]; o++) t.score[l][o] = t.params[l][o] / 6;
    std::vector<int> free_best = brute_force_best(t);
    double free_cost[SEARCH_COST_COUNT];
    t.costs_of(free_best.data(), free_cost);
    SearchResult r, rr;
    HwErr err = {{0}, 0};
    SearchProblem p = t.problem();
    EvolutionConfig cfg = evolution_default_config(5);
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    EXPECT_EQ(std::vector<int>(r.evaluated[r.best].ops, r.evaluated[r.best].ops + 4), free_best);
    search_result_free(&r);

    t.limit[COST_PARAMS] = quantile(t, COST_PARAMS, 0.5);
    ASSERT_LT(t.limit[COST_PARAMS], free_cost[COST_PARAMS]) << "the limit must bind";
    std::vector<int> bound_best = brute_force_best(t);
    ASSERT_FALSE(bound_best.empty());
    ASSERT_NE(bound_best, free_best);
    p = t.problem();
    t.seen.clear();
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    t.seen.clear();
    ASSERT_EQ(random_search(&p, 81, 5, &rr, &err), 0) << err.msg;
    for (const SearchResult* s : {&r, &rr}) {
        const Candidate& w = s->evaluated[s->best];
        EXPECT_EQ(std::vector<int>(w.ops, w.ops + 4), bound_best);
        EXPECT_LE(w.cost[COST_PARAMS], t.limit[COST_PARAMS]);
        EXPECT_GT(s->rejected_cost[COST_PARAMS], 0);
        EXPECT_EQ(s->rejected, s->rejected_cost[COST_PARAMS]);
    }
    EXPECT_EQ(t.violations, 0);
    search_result_free(&r);
    search_result_free(&rr);
}

// Limits above every architecture's costs change nothing: the checks draw no
// random numbers, so the Rng streams and the candidates are the same.
TEST(EvolutionConstraints, LimitsThatNeverBindChangeNothing) {
    CostProblem t = make_problem(8, 5, 21);
    t.latency_limit = quantile(t, -1, 0.5);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = small_config(9);
    SearchResult a, b;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &a, &err), 0) << err.msg;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) t.limit[k] = 1e12;
    p = t.problem();
    ASSERT_EQ(evolution_search(&p, &cfg, &b, &err), 0) << err.msg;
    ASSERT_EQ(a.count, b.count);
    EXPECT_EQ(a.best, b.best);
    EXPECT_EQ(a.rejected, b.rejected);
    EXPECT_EQ(b.rejected, b.rejected_latency);
    for (int i = 0; i < a.count; i++)
        ASSERT_EQ(std::memcmp(a.evaluated[i].ops, b.evaluated[i].ops, sizeof a.evaluated[i].ops), 0) << i;
    search_result_free(&a);
    search_result_free(&b);
}

// Nothing fits: the error names the cost limit and the lowest value drawn;
// a cost limit without a costs callback, or not finite, is a bad problem.
TEST(EvolutionConstraints, ImpossibleOrUnusableLimitsAreErrors) {
    CostProblem t = make_problem(5, 4, 3);
    int lightest = 0;
    for (int l = 0; l < t.n_layers; l++) lightest += *std::min_element(t.params[l].begin(), t.params[l].end());
    t.limit[COST_PARAMS] = lightest - 1;
    SearchProblem p = t.problem();
    EvolutionConfig cfg = small_config(1);
    SearchResult r;
    HwErr err = {{0}, 0};
    EXPECT_EQ(evolution_search(&p, &cfg, &r, &err), -1);
    EXPECT_EQ(err.code, HW_EXIT_INPUT);
    std::string want = "search.max_params " + std::to_string(lightest - 1) + " (the lowest drawn has " +
                       std::to_string(lightest) + ")";
    EXPECT_NE(std::string(err.msg).find(want), std::string::npos) << err.msg;
    EXPECT_EQ(t.evaluate_calls, 0);
    err = HwErr{{0}, 0};
    EXPECT_EQ(random_search(&p, 10, 1, &r, &err), -1);
    EXPECT_NE(std::string(err.msg).find(want), std::string::npos) << err.msg;

    t.limit[COST_PARAMS] = 1000;
    t.with_costs = false;
    p = t.problem();
    err = HwErr{{0}, 0};
    EXPECT_EQ(evolution_search(&p, &cfg, &r, &err), -1);
    EXPECT_EQ(err.code, HW_EXIT_INPUT);
    EXPECT_NE(std::string(err.msg).find("params limit 1000 needs"), std::string::npos) << err.msg;
    t.with_costs = true;
    t.limit[COST_PARAMS] = 0;
    t.limit[COST_PEAK_KB] = INFINITY;
    p = t.problem();
    err = HwErr{{0}, 0};
    EXPECT_EQ(evolution_search(&p, &cfg, &r, &err), -1);
    EXPECT_NE(std::string(err.msg).find("peak_kb limit inf needs a finite value"), std::string::npos) << err.msg;
    EXPECT_EQ(t.evaluate_calls, 0);
}

// The costs go to search.csv and come back exactly; a search.csv of an older
// hwnas (the 6-column header) is refused, saying so.
TEST(SearchCsv, CostColumnsRoundTripAndOldHeaderIsRefused) {
    static const char* const row0[] = {"a", "b"};
    static const char* const* names_table[] = {row0, row0};
    int n_ops[] = {2, 2};
    SearchNames names = {2, n_ops, names_table};
    TempDir tmp;
    std::string path = tmp.file("search.csv");
    Candidate c;
    std::memset(&c, 0, sizeof c);
    c.ops[0] = 1;
    c.latency_ms = 1.25;
    c.top1 = 0.5;
    c.top5 = 0.75;
    c.generation = -1;
    std::strcpy(c.origin, "random");
    c.cost[COST_PARAMS] = 51234;
    c.cost[COST_MFLOPS] = 12.345678901234567;
    c.cost[COST_PEAK_KB] = 24.5;
    HwErr err = {{0}, 0};
    ASSERT_EQ(search_csv_append(path.c_str(), &c, &names, &err), 0) << err.msg;
    EXPECT_EQ(hwtest::slurp(path),
              std::string(SEARCH_CSV_HEADER) + "\nb a,1.25,0.5,0.75,-1,random,51234,12.345678901234567,24.5\n");
    Candidate* back = nullptr;
    int count = 0;
    ASSERT_EQ(search_csv_read(path.c_str(), 2, search_names_resolve, &names, &back, &count, &err), 0) << err.msg;
    ASSERT_EQ(count, 1);
    for (int k = 0; k < SEARCH_COST_COUNT; k++) EXPECT_EQ(back[0].cost[k], c.cost[k]);
    free(back);

    std::ofstream(tmp.file("old.csv")) << SEARCH_CSV_HEADER_V1 << "\nb a,1.25,0.5,0.75,-1,random\n";
    EXPECT_EQ(search_csv_read(tmp.file("old.csv").c_str(), 2, search_names_resolve, &names, &back, &count, &err), -1);
    EXPECT_EQ(err.code, HW_EXIT_INPUT);
    EXPECT_NE(std::string(err.msg).find("of an older hwnas"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find(":1:"), std::string::npos) << err.msg;
    std::ofstream(tmp.file("neg.csv")) << SEARCH_CSV_HEADER << "\nb a,1.25,0.5,0.75,-1,random,1,-2,3\n";
    EXPECT_EQ(search_csv_read(tmp.file("neg.csv").c_str(), 2, search_names_resolve, &names, &back, &count, &err), -1);
    EXPECT_NE(std::string(err.msg).find("mflops '-2', expected a finite number >= 0"), std::string::npos) << err.msg;
}

// The peak of a small net, counted by hand from the operator definitions at
// batch 1 (floats; 8x8 maps = 64 pixels; BN is fused with its activation, so
// conv, BN and residual add each write one tensor):
//   stem     in 64x1 + conv 64x4 + bn 64x4                                   =  576
//   skip     its input 64x4 only                                             =  256
//   sep_k3   in 256 + dw 256 + bn 256 + project 256 + bn 256 + add 256        = 1536
//   mb_k3_e6 in 256 + expand 64x24 + bn 1536 + dw 1536 + bn 1536
//            + project 256 + bn 256 + add 256                                = 7168
//   head     in 256 + conv 64x6 + bn 384 + gap 6 + classifier 3              = 1033
TEST(SupernetPeakMemory, MatchesAHandCountOfTheBufferPlan) {
    TempDir tmp;
    std::string path = tmp.file("peak.yaml");
    std::ofstream(path) << "name: peak\ninput: [8, 8, 1]\nclasses: 3\nblock_act: relu6\n"
                           "stem: {out: 4, kernel: 3, stride: 1, act: relu}\n"
                           "layers:\n  - {out: 4, stride: 1, ops: [skip, sep_k3, mb_k3_e6]}\n"
                           "head: {features: 6, act: relu}\n";
    Space space;
    HwErr err = {{0}, 0};
    ASSERT_EQ(space_load(&space, path.c_str(), &err), 0) << err.msg;
    OpContext ctx = {1, nullptr};
    Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, 4, &err);
    ASSERT_NE(sn, nullptr) << err.msg;
    const size_t want[] = {1033, 1536, 7168};
    for (int op = 0; op < 3; op++) {
        int path_ops[] = {op};
        EXPECT_EQ(supernet_path_peak_floats(sn, path_ops), want[op]) << space.layers[0].names[op];
        EXPECT_DOUBLE_EQ(supernet_path_peak_kb(sn, path_ops), want[op] * 4 / 1024.0);
    }
    // The same count does not depend on the batch the supernet was built for.
    Supernet* big = supernet_create(&space, &ops_cpu, &ctx, 64, &err);
    ASSERT_NE(big, nullptr) << err.msg;
    int mb[] = {2};
    EXPECT_EQ(supernet_path_peak_floats(big, mb), 7168u);
    supernet_destroy(big);
    supernet_destroy(sn);
}
