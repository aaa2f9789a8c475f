// Evolutionary search, random search, the Pareto front and search.csv.
//
// The search is exercised on synthetic table problems: latency = sum of a
// per-layer per-op table (whole ms, so sums are exact), fitness = sum of a
// per-layer score table (integers scaled into 0..1). The constrained optimum
// of such a problem is a knapsack, solved exactly by dynamic programming
// (itself checked against brute force), so "evolution finds the optimum" is
// checked against the true answer, not against another heuristic.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/rng.h"
#include "search/evolution.h"
#include "search/search_csv.h"
#include "test_util.h"

namespace {

// ---------------------------------------------------------------- synthetic problems

struct TableProblem {
    int n_layers = 0;
    std::vector<int> n_ops;
    std::vector<int> pinned;                   // empty = no pinned layers
    std::vector<std::vector<int>> lat, score;  // [layer][op]; latency in ms, score 0..999
    double limit = 0;

    // What the callbacks saw.
    long evaluate_calls = 0;
    int violations = 0;  // evaluate called on an illegal or already-evaluated architecture
    std::set<std::vector<int>> seen;
    std::vector<Candidate> reported;               // on_evaluated, in order
    std::vector<std::pair<int, int>> generations;  // on_generation (generation, evaluated)
    long fail_evaluate_at = -1;                    // evaluate call number (0-based) that fails
    long fail_report_at = -1;                      // on_evaluated call number that fails
    bool nan_fitness = false;

    int latency_sum(const int* ops) const {
        int s = 0;
        for (int l = 0; l < n_layers; l++) s += lat[l][ops[l]];
        return s;
    }
    int score_sum(const int* ops) const {
        int s = 0;
        for (int l = 0; l < n_layers; l++) s += score[l][ops[l]];
        return s;
    }
    double fitness(const int* ops) const { return score_sum(ops) / (1000.0 * n_layers); }
    bool legal(const int* ops) const {
        for (int l = 0; l < n_layers; l++) {
            if (ops[l] < 0 || ops[l] >= n_ops[l]) return false;
            if (!pinned.empty() && pinned[l] >= 0 && ops[l] != pinned[l]) return false;
        }
        return limit <= 0 || latency_sum(ops) <= limit;
    }
    void reset_counters() {
        evaluate_calls = 0;
        violations = 0;
        seen.clear();
        reported.clear();
        generations.clear();
    }
    SearchProblem problem();
};

double table_latency(void* user, const int* ops) {
    return static_cast<TableProblem*>(user)->latency_sum(ops);
}

int table_evaluate(void* user, const int* ops, double* top1, double* top5, HwErr* err) {
    TableProblem* t = static_cast<TableProblem*>(user);
    if (t->evaluate_calls++ == t->fail_evaluate_at) {
        std::snprintf(err->msg, sizeof err->msg, "synthetic evaluation failure");
        err->code = 1;
        return -1;
    }
    std::vector<int> key(ops, ops + t->n_layers);
    if (!t->legal(ops) || !t->seen.insert(key).second) t->violations++;
    *top1 = t->nan_fitness ? NAN : t->fitness(ops);
    *top5 = std::min(1.0, *top1 + 0.05);
    return 0;
}

int table_on_evaluated(void* user, const Candidate* c, HwErr* err) {
    TableProblem* t = static_cast<TableProblem*>(user);
    if ((long)t->reported.size() == t->fail_report_at) {
        std::snprintf(err->msg, sizeof err->msg, "synthetic write failure");
        err->code = 1;
        return -1;
    }
    t->reported.push_back(*c);
    return 0;
}

void table_on_generation(void* user, int generation, const Candidate* best, int evaluated) {
    static_cast<TableProblem*>(user)->generations.push_back({generation, evaluated});
}

SearchProblem TableProblem::problem() {
    SearchProblem p;
    std::memset(&p, 0, sizeof p);
    p.n_layers = n_layers;
    p.n_ops = n_ops.data();
    p.pinned = pinned.empty() ? nullptr : pinned.data();
    p.latency_limit_ms = limit;
    p.latency = table_latency;
    p.evaluate = table_evaluate;
    p.on_evaluated = table_on_evaluated;
    p.on_generation = table_on_generation;
    p.user = this;
    return p;
}

// Latencies 1..20 ms; scores grow with latency (bigger ops are more accurate)
// plus noise, so the latency limit binds and the problem is a real knapsack.
TableProblem make_table(const std::vector<int>& n_ops, uint64_t seed) {
    TableProblem t;
    t.n_layers = (int)n_ops.size();
    t.n_ops = n_ops;
    Rng r;
    rng_seed(&r, seed, 7, 0, 0);
    for (int l = 0; l < t.n_layers; l++) {
        t.lat.emplace_back();
        t.score.emplace_back();
        for (int o = 0; o < n_ops[l]; o++) {
            int lat = 1 + (int)rng_below(&r, 20);
            t.lat[l].push_back(lat);
            t.score[l].push_back((int)(150 * std::sqrt((double)lat)) + (int)rng_below(&r, 300));
        }
    }
    return t;
}

// Sets the limit to min + frac * (max - min) of the achievable total latency.
void set_limit_fraction(TableProblem& t, double frac) {
    int lo = 0, hi = 0;
    for (int l = 0; l < t.n_layers; l++) {
        lo += *std::min_element(t.lat[l].begin(), t.lat[l].end());
        hi += *std::max_element(t.lat[l].begin(), t.lat[l].end());
    }
    t.limit = (int)(lo + frac * (hi - lo));
}

// Best score sum within the limit, by DP over total latency (exact).
int knapsack_optimum(const TableProblem& t) {
    int budget = (int)t.limit;
    std::vector<int> best(budget + 1, -1), next(budget + 1);
    best[0] = 0;
    for (int l = 0; l < t.n_layers; l++) {
        std::fill(next.begin(), next.end(), -1);
        for (int b = 0; b <= budget; b++)
            for (int o = 0; o < t.n_ops[l]; o++) {
                int from = b - t.lat[l][o];
                if (from >= 0 && best[from] >= 0) next[b] = std::max(next[b], best[from] + t.score[l][o]);
            }
        best.swap(next);
    }
    return *std::max_element(best.begin(), best.end());
}

// Best score sum within the limit by enumerating every architecture.
int brute_force_optimum(const TableProblem& t) {
    std::vector<int> ops(t.n_layers, 0);
    int best = -1;
    for (;;) {
        if (t.legal(ops.data())) best = std::max(best, t.score_sum(ops.data()));
        int l = 0;
        while (l < t.n_layers && ++ops[l] == t.n_ops[l]) ops[l++] = 0;
        if (l == t.n_layers) return best;
    }
}

// The architecture of per-layer best scores, ignoring the limit.
std::vector<int> unconstrained_optimum(const TableProblem& t) {
    std::vector<int> ops(t.n_layers);
    for (int l = 0; l < t.n_layers; l++)
        ops[l] = (int)(std::max_element(t.score[l].begin(), t.score[l].end()) - t.score[l].begin());
    return ops;
}

int best_score(const TableProblem& t, const SearchResult& r) { return t.score_sum(r.evaluated[r.best].ops); }

bool same_candidate(const Candidate& a, const Candidate& b) {
    return std::memcmp(a.ops, b.ops, sizeof a.ops) == 0 && a.latency_ms == b.latency_ms && a.top1 == b.top1 &&
           a.top5 == b.top5 && a.generation == b.generation && std::strcmp(a.origin, b.origin) == 0 &&
           std::memcmp(a.cost, b.cost, sizeof a.cost) == 0;
}

void expect_same_result(const SearchResult& a, const SearchResult& b) {
    ASSERT_EQ(a.count, b.count);
    EXPECT_EQ(a.best, b.best);
    EXPECT_EQ(a.rejected, b.rejected);
    EXPECT_EQ(a.duplicates, b.duplicates);
    int differing = 0;
    for (int i = 0; i < a.count; i++) differing += !same_candidate(a.evaluated[i], b.evaluated[i]);
    EXPECT_EQ(differing, 0);
}

EvolutionConfig spos_config(uint64_t seed) { return evolution_default_config(seed); }

// Rank order of evolution.h: higher top1, lower latency, earlier.
bool ranks_before(const SearchResult& r, int a, int b) {
    const Candidate &x = r.evaluated[a], &y = r.evaluated[b];
    if (x.top1 != y.top1) return x.top1 > y.top1;
    if (x.latency_ms != y.latency_ms) return x.latency_ms < y.latency_ms;
    return a < b;
}

// ---------------------------------------------------------------- files

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Operator names for a TableProblem: layer l, op o -> "op<o>_l<l>" (every
// layer has its own names, so a name from the wrong layer is caught).
struct TableNames {
    std::vector<std::vector<std::string>> text;
    std::vector<std::vector<const char*>> layer_ptrs;
    std::vector<const char* const*> ptrs;
    SearchNames names;
    explicit TableNames(const std::vector<int>& n_ops) {
        text.resize(n_ops.size());
        for (size_t l = 0; l < n_ops.size(); l++)
            for (int o = 0; o < n_ops[l]; o++)
                text[l].push_back("op" + std::to_string(o) + "_l" + std::to_string(l));
        for (auto& layer : text) {
            layer_ptrs.emplace_back();
            for (auto& s : layer) layer_ptrs.back().push_back(s.c_str());
        }
        for (auto& v : layer_ptrs) ptrs.push_back(v.data());
        names.n_layers = (int)n_ops.size();
        names.n_ops = n_ops.data();
        names.names = ptrs.data();
    }
};

}  // namespace

// ---------------------------------------------------------------- evolution

TEST(Evolution, SposDefaultsEvaluate1050Candidates) {
    TableProblem t = make_table(std::vector<int>(12, 8), 1);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(0);
    SearchResult r;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    // 50 initial + 20 generations of 50 (no limit, 8^12 architectures).
    EXPECT_EQ(r.count, 1050);
    EXPECT_EQ(t.evaluate_calls, 1050);
    EXPECT_EQ(t.violations, 0);
    ASSERT_EQ((int)t.reported.size(), r.count);
    for (int i = 0; i < r.count; i++) EXPECT_TRUE(same_candidate(t.reported[i], r.evaluated[i])) << i;
    EXPECT_EQ(r.rejected, 0);
    // Progress: once after the initial population, then once per generation.
    ASSERT_EQ((int)t.generations.size(), 21);
    for (int g = -1; g < 20; g++) EXPECT_EQ(t.generations[g + 1], std::make_pair(g, 50 * (g + 2)));
    // Origins and generations: each generation is mutations, then crossovers,
    // then random fill, at most 25 children of each kind.
    for (int i = 0; i < 50; i++) {
        EXPECT_EQ(r.evaluated[i].generation, -1);
        EXPECT_STREQ(r.evaluated[i].origin, "random");
    }
    int mutations = 0, crossovers = 0, fills = 0;
    for (int g = 0; g < 20; g++) {
        int phase = 0, per_kind[3] = {0, 0, 0};
        for (int i = 50 + 50 * g; i < 100 + 50 * g; i++) {
            const Candidate& c = r.evaluated[i];
            int kind = !strcmp(c.origin, "mutation") ? 0 : !strcmp(c.origin, "crossover") ? 1 : 2;
            if (kind < 2) {
                EXPECT_EQ(c.generation, g);
            } else {
                EXPECT_TRUE(c.generation == -1 && !strcmp(c.origin, "fill"))
                    << c.origin << " " << c.generation;
            }
            EXPECT_GE(kind, phase) << "generation " << g << " out of order at " << i;
            phase = kind;
            per_kind[kind]++;
        }
        EXPECT_LE(per_kind[0], 25);
        EXPECT_LE(per_kind[1], 25);
        mutations += per_kind[0], crossovers += per_kind[1], fills += per_kind[2];
    }
    EXPECT_GT(mutations, 0);
    EXPECT_GT(crossovers, 0);
    EXPECT_EQ(mutations + crossovers + fills, 1000);
    // The best is the maximum of the rank order over everything evaluated.
    for (int i = 0; i < r.count; i++) EXPECT_FALSE(ranks_before(r, i, r.best)) << i;
    std::printf("[ spos defaults ] 12x8: %d mutations, %d crossovers, %d fill, %d duplicate draws\n",
                mutations, crossovers, fills, r.duplicates);
    search_result_free(&r);
}

// Irregular op counts, pinned layers and a binding limit: every evaluated
// candidate is legal and keeps its pinned ops, fields match recomputation,
// and crossover children take each layer from two parents of the top-k the
// algorithm should have selected (recomputed here independently).
TEST(Evolution, ChildrenAreLegalAndComeFromTheTopK) {
    TableProblem t = make_table({1, 2, 3, 5, 8, 4, 7, 2, 6, 3, 8}, 2);
    t.pinned = {-1, 1, -1, -1, 3, -1, -1, 0, -1, -1, -1};
    set_limit_fraction(t, 0.5);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(3);
    SearchResult r;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    EXPECT_EQ(t.violations, 0);
    EXPECT_EQ(t.evaluate_calls, r.count);
    EXPECT_GT(r.rejected, 0);
    std::map<std::string, int> origins;
    for (int i = 0; i < r.count; i++) {
        const Candidate& c = r.evaluated[i];
        EXPECT_TRUE(t.legal(c.ops)) << i;
        EXPECT_EQ(c.ops[1], 1);
        EXPECT_EQ(c.ops[4], 3);
        EXPECT_EQ(c.ops[7], 0);
        for (int l = t.n_layers; l < SEARCH_MAX_LAYERS; l++) EXPECT_EQ(c.ops[l], 0);
        EXPECT_EQ(c.latency_ms, t.latency_sum(c.ops));
        EXPECT_LE(c.latency_ms, t.limit);
        EXPECT_EQ(c.top1, t.fitness(c.ops));
        origins[c.origin]++;
    }
    EXPECT_GT(origins["mutation"], 0);
    EXPECT_GT(origins["crossover"], 0);
    EXPECT_GT(origins["random"], 0);

    // Replay the top-k selection: best 10 of (previous top-k + last population).
    std::vector<int> topk;
    int population_start = 0, i = 0;
    while (i < r.count && r.evaluated[i].generation == -1 && !strcmp(r.evaluated[i].origin, "random")) i++;
    int population_end = i;
    double mutation_distance = 0;
    int n_mutations = 0, n_crossovers = 0;
    for (int g = 0; g < cfg.iterations && i < r.count; g++) {
        for (int k = population_start; k < population_end; k++) topk.push_back(k);
        std::sort(topk.begin(), topk.end(), [&](int a, int b) { return ranks_before(r, a, b); });
        if ((int)topk.size() > cfg.parents) topk.resize(cfg.parents);
        population_start = i;
        for (; i < r.count && r.evaluated[i].generation == g; i++) {
            const Candidate& c = r.evaluated[i];
            if (!strcmp(c.origin, "crossover")) {
                bool from_two_parents = false;
                for (int a : topk)
                    for (int b : topk) {
                        bool ok = true;
                        for (int l = 0; l < t.n_layers; l++)
                            ok = ok &&
                                 (c.ops[l] == r.evaluated[a].ops[l] || c.ops[l] == r.evaluated[b].ops[l]);
                        from_two_parents = from_two_parents || ok;
                    }
                EXPECT_TRUE(from_two_parents) << "crossover child " << i << " of generation " << g;
                n_crossovers++;
            } else {
                int nearest = t.n_layers;
                for (int a : topk) {
                    int d = 0;
                    for (int l = 0; l < t.n_layers; l++) d += c.ops[l] != r.evaluated[a].ops[l];
                    nearest = std::min(nearest, d);
                }
                EXPECT_GE(nearest, 1);  // a copy of a parent is a duplicate, never evaluated
                mutation_distance += nearest;
                n_mutations++;
            }
        }
        for (; i < r.count && !strcmp(r.evaluated[i].origin, "fill"); i++) {
        }
        population_end = i;
    }
    EXPECT_EQ(i, r.count);
    ASSERT_GT(n_mutations, 0);
    ASSERT_GT(n_crossovers, 0);
    // Mutation redraws each of the 8 free layers with probability 0.1: children
    // stay close to a parent (random architectures are ~5 layers away).
    mutation_distance /= n_mutations;
    std::printf(
        "[ top-k replay  ] %d crossovers from two top-k parents, %d mutations at mean distance %.2f\n",
        n_crossovers, n_mutations, mutation_distance);
    EXPECT_LT(mutation_distance, 2.0);
    search_result_free(&r);
}

// Parents 1 and mutation probability 0: every child is a copy of the single
// parent, so each child kind spends exactly its 10x attempt cap on duplicates
// and the generations are all random fill.
TEST(Evolution, ChildAttemptsAreCappedAtTenTimes) {
    TableProblem t = make_table(std::vector<int>(12, 8), 4);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(5);
    cfg.parents = 1;
    cfg.mutation_prob = 0;
    SearchResult r;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    EXPECT_EQ(r.count, 1050);
    // 20 generations x (250 mutation + 250 crossover attempts); random fill in
    // 8^12 architectures does not collide in practice (p ~ 1e-5).
    EXPECT_EQ(r.duplicates, 20 * 500);
    for (int i = 50; i < r.count; i++) EXPECT_STREQ(r.evaluated[i].origin, "fill");
    search_result_free(&r);
}

TEST(Evolution, LatencyLimitIsNeverExceeded) {
    for (double frac : {0.2, 0.35, 0.6}) {
        TableProblem t = make_table(std::vector<int>(12, 8), 5);
        set_limit_fraction(t, frac);
        SearchProblem p = t.problem();
        EvolutionConfig cfg = spos_config(11);
        SearchResult r, rr;
        HwErr err = {{0}, 0};
        ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
        ASSERT_EQ(random_search(&p, r.count, 11, &rr, &err), 0) << err.msg;
        EXPECT_EQ(t.violations, 0) << "limit fraction " << frac;
        EXPECT_GT(r.rejected, 0);
        EXPECT_GT(rr.rejected, 0);
        double worst = 0;
        for (const SearchResult* s : {&r, &rr})
            for (int i = 0; i < s->count; i++) worst = std::max(worst, s->evaluated[i].latency_ms);
        EXPECT_LE(worst, t.limit);
        std::printf(
            "[ limit %5.1f ms ] evolution %d evaluated, %d rejected; random %d evaluated, %d rejected; "
            "slowest evaluated %.0f ms\n",
            t.limit, r.count, r.rejected, rr.count, rr.rejected, worst);
        search_result_free(&r);
        search_result_free(&rr);
    }
}

// 5 layers x 3 ops = 243 architectures, fewer than 1050: the memo must stop
// every re-evaluation and the search must end by itself.
TEST(Evolution, NoArchitectureIsEvaluatedTwice) {
    TableProblem t = make_table(std::vector<int>(5, 3), 6);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(1);
    SearchResult r;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    EXPECT_EQ(t.violations, 0);
    EXPECT_EQ(t.evaluate_calls, r.count);
    EXPECT_EQ((int)t.seen.size(), r.count);
    EXPECT_EQ(r.count, 243);  // the whole space, each once
    EXPECT_GT(r.duplicates, 0);
    std::set<std::vector<int>> distinct;
    for (int i = 0; i < r.count; i++)
        distinct.insert(std::vector<int>(r.evaluated[i].ops, r.evaluated[i].ops + 5));
    EXPECT_EQ((int)distinct.size(), r.count);
    search_result_free(&r);

    // Random search on the same space: the budget exceeds the space.
    t.reset_counters();
    ASSERT_EQ(random_search(&p, 1000, 1, &r, &err), 0) << err.msg;
    EXPECT_EQ(r.count, 243);
    EXPECT_EQ(t.evaluate_calls, 243);
    EXPECT_EQ(t.violations, 0);
    search_result_free(&r);
}

TEST(Evolution, TinySpacesTerminate) {
    // 2 x 2 = 4 architectures; and a space where every layer is pinned.
    TableProblem t = make_table({2, 2}, 7);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(0);
    SearchResult r;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    EXPECT_EQ(r.count, 4);
    EXPECT_EQ(t.violations, 0);
    search_result_free(&r);

    TableProblem one = make_table({3, 4, 2}, 8);
    one.pinned = {2, 0, 1};
    p = one.problem();
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    ASSERT_EQ(r.count, 1);
    EXPECT_EQ(std::vector<int>(r.evaluated[0].ops, r.evaluated[0].ops + 3), (std::vector<int>{2, 0, 1}));
    EXPECT_EQ(r.best, 0);
    search_result_free(&r);

    // A limit that admits exactly one architecture of a large space: the
    // random phases give up after SEARCH_MAX_FUTILE_DRAWS draws in a row.
    TableProblem tight = make_table(std::vector<int>(6, 4), 9);
    for (int l = 0; l < 6; l++) {
        for (int o = 0; o < 4; o++) tight.lat[l][o] = 5 + o;
    }
    tight.limit = 30;  // only all-op-0 (6 x 5 ms)
    p = tight.problem();
    cfg.iterations = 2;  // each fill phase costs SEARCH_MAX_FUTILE_DRAWS draws here
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    ASSERT_EQ(r.count, 1);
    EXPECT_EQ(r.evaluated[0].latency_ms, 30);
    EXPECT_GT(r.rejected, SEARCH_MAX_FUTILE_DRAWS / 2);
    search_result_free(&r);
}

TEST(Evolution, ImpossibleLimitFailsNamingTheLimit) {
    TableProblem t = make_table(std::vector<int>(6, 4), 10);
    int fastest = 0;
    for (int l = 0; l < 6; l++) fastest += *std::min_element(t.lat[l].begin(), t.lat[l].end());
    t.limit = fastest - 0.5;
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(0);
    SearchResult r;
    HwErr err = {{0}, 0};
    EXPECT_EQ(evolution_search(&p, &cfg, &r, &err), -1);
    EXPECT_EQ(err.code, HW_EXIT_INPUT);
    std::string limit_text = std::to_string(fastest - 1) + ".5 ms";  // %g of fastest - 0.5
    EXPECT_TRUE(contains(err.msg, "latency limit of " + limit_text)) << err.msg;
    EXPECT_TRUE(contains(err.msg, "fastest drawn predicts")) << err.msg;
    EXPECT_EQ(t.evaluate_calls, 0);
    EXPECT_EQ(r.count, 0);
    EXPECT_EQ(r.evaluated, nullptr);
    err = HwErr{{0}, 0};
    EXPECT_EQ(random_search(&p, 100, 0, &r, &err), -1);
    EXPECT_TRUE(contains(err.msg, "latency limit of " + limit_text)) << err.msg;
    EXPECT_EQ(t.evaluate_calls, 0);
}

TEST(Evolution, SameSeedSameResultOtherSeedDiffers) {
    TableProblem t = make_table(std::vector<int>(12, 8), 11);
    set_limit_fraction(t, 0.45);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(42);
    SearchResult a, b, c;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &a, &err), 0) << err.msg;
    ASSERT_EQ(evolution_search(&p, &cfg, &b, &err), 0) << err.msg;
    expect_same_result(a, b);
    cfg.seed = 43;
    ASSERT_EQ(evolution_search(&p, &cfg, &c, &err), 0) << err.msg;
    int differing = 0;
    for (int i = 0; i < std::min(a.count, c.count); i++)
        differing += !same_candidate(a.evaluated[i], c.evaluated[i]);
    EXPECT_GT(differing, a.count / 2);
    search_result_free(&a);
    search_result_free(&b);
    search_result_free(&c);

    ASSERT_EQ(random_search(&p, 300, 9, &a, &err), 0) << err.msg;
    ASSERT_EQ(random_search(&p, 300, 9, &b, &err), 0) << err.msg;
    ASSERT_EQ(random_search(&p, 300, 10, &c, &err), 0) << err.msg;
    expect_same_result(a, b);
    EXPECT_EQ(a.count, 300);
    differing = 0;
    for (int i = 0; i < 300; i++) differing += !same_candidate(a.evaluated[i], c.evaluated[i]);
    EXPECT_GT(differing, 290);
    for (int i = 0; i < 300; i++) {
        EXPECT_EQ(a.evaluated[i].generation, -1);
        EXPECT_STREQ(a.evaluated[i].origin, "random");
    }
    search_result_free(&a);
    search_result_free(&b);
    search_result_free(&c);
}

// 8 layers x 5 ops = 390625 architectures, small enough to enumerate: brute
// force and the DP agree, the unconstrained optimum is over the limit, and
// evolution (1050 evaluations, 0.27% of the space) finds the exact
// constrained optimum. SPOS evolution is not an exact solver: over 30 such
// instances x 8 seeds it hit the optimum in 79% of runs (at least 2 of 8
// seeds on every instance), a mean of 99.8% of the optimum (99.1% on the
// worst instance) and 95.0% on the worst single run. The bounds below are
// those, with a little room.
TEST(Evolution, FindsTheConstrainedOptimumOfASmallSpace) {
    TableProblem t = make_table(std::vector<int>(8, 5), 12345);
    set_limit_fraction(t, 0.4);
    int opt = knapsack_optimum(t);
    EXPECT_EQ(brute_force_optimum(t), opt);
    std::vector<int> greedy = unconstrained_optimum(t);
    ASSERT_GT(t.latency_sum(greedy.data()), t.limit) << "the limit must bind";
    ASSERT_GT(t.score_sum(greedy.data()), opt);
    SearchProblem p = t.problem();
    int seeds = 8, evolution_hits = 0, random_hits = 0;
    double evolution_mean = 0, random_mean = 0;
    for (int seed = 0; seed < seeds; seed++) {
        EvolutionConfig cfg = spos_config(seed);
        SearchResult r, rr;
        HwErr err = {{0}, 0};
        ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
        ASSERT_EQ(random_search(&p, r.count, seed, &rr, &err), 0) << err.msg;
        int e = best_score(t, r);
        EXPECT_LE(e, opt);
        EXPECT_GE(e, 0.94 * opt) << "seed " << seed;
        EXPECT_TRUE(t.legal(r.evaluated[r.best].ops));
        evolution_hits += e == opt;
        random_hits += best_score(t, rr) == opt;
        evolution_mean += e / (double)seeds;
        random_mean += best_score(t, rr) / (double)seeds;
        search_result_free(&r);
        search_result_free(&rr);
    }
    std::printf(
        "[ 8x5 optimum   ] DP = brute force = %d (limit %.0f ms); evolution exact on %d/%d seeds (mean "
        "%.1f = %.2f%%), random search %d/%d (mean %.1f = %.2f%%)\n",
        opt, t.limit, evolution_hits, seeds, evolution_mean, 100 * evolution_mean / opt, random_hits, seeds,
        random_mean, 100 * random_mean / opt);
    EXPECT_GE(evolution_hits, seeds / 4);
    EXPECT_GE(evolution_mean, 0.985 * opt);
    EXPECT_GT(evolution_mean, random_mean);
}

// 12 layers x 8 ops (6.9e10 architectures): the DP optimum is the ceiling.
// Over 30 such instances x 10 seeds SPOS evolution with its defaults reached
// a mean of 99.1% of the optimum (98.6% on the worst instance, 96.1% on the
// worst run, exact in 11% of runs), beat random search with the same number
// of evaluations in 299/300 runs (at least 9/10 per instance) and closed at
// least 79% of random search's gap to the optimum. The bounds below are those,
// with a little room.
TEST(Evolution, BeatsRandomSearchOn12Layers8Ops) {
    TableProblem t = make_table(std::vector<int>(12, 8), 777);
    set_limit_fraction(t, 0.45);
    int opt = knapsack_optimum(t);
    std::vector<int> greedy = unconstrained_optimum(t);
    ASSERT_GT(t.latency_sum(greedy.data()), t.limit) << "the limit must bind";
    SearchProblem p = t.problem();
    int seeds = 10, wins = 0, hits = 0;
    double evolution_mean = 0, random_mean = 0, worst_ratio = 1;
    for (int seed = 0; seed < seeds; seed++) {
        EvolutionConfig cfg = spos_config(seed);
        SearchResult r, rr;
        HwErr err = {{0}, 0};
        ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
        ASSERT_EQ(random_search(&p, r.count, seed, &rr, &err), 0) << err.msg;
        ASSERT_EQ(rr.count, r.count);
        int e = best_score(t, r), q = best_score(t, rr);
        EXPECT_LE(e, opt);  // the DP is an upper bound of anything legal
        EXPECT_LE(q, opt);
        EXPECT_GE(e, 0.95 * opt) << "seed " << seed;
        wins += e > q;
        hits += e == opt;
        worst_ratio = std::min(worst_ratio, e / (double)opt);
        evolution_mean += e / (double)seeds;
        random_mean += q / (double)seeds;
        search_result_free(&r);
        search_result_free(&rr);
    }
    double gap_closed = (evolution_mean - random_mean) / (opt - random_mean);
    std::printf(
        "[ 12x8 vs random ] optimum %d (limit %.0f ms, %d seeds, 1050 evaluations): evolution mean %.1f "
        "(%.2f%% of optimum, worst %.2f%%, exact %d), random mean %.1f (%.2f%%); evolution better on %d; "
        "closes %.0f%% of random's gap\n",
        opt, t.limit, seeds, evolution_mean, 100 * evolution_mean / opt, 100 * worst_ratio, hits, random_mean,
        100 * random_mean / opt, wins, 100 * gap_closed);
    EXPECT_GE(evolution_mean, 0.98 * opt);
    EXPECT_GE(wins, seeds - 1);
    EXPECT_GT(gap_closed, 0.7);
}

// Resume: the first K candidates of a run, given as prior, are replayed from
// the memo; the rerun gives the same result and evaluates only the rest.
TEST(Evolution, ResumeFromPriorReplaysWithoutEvaluating) {
    TableProblem t = make_table({4, 6, 8, 3, 8, 5, 7, 8, 2, 6}, 13);
    t.pinned = {-1, -1, -1, 2, -1, -1, -1, -1, -1, -1};
    set_limit_fraction(t, 0.5);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(21);
    SearchResult full;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &full, &err), 0) << err.msg;
    for (int k : {0, 1, 337, full.count - 1, full.count}) {
        std::vector<Candidate> prior(full.evaluated, full.evaluated + k);
        t.reset_counters();
        SearchProblem q = t.problem();
        q.prior = prior.data();
        q.prior_count = k;
        SearchResult again;
        ASSERT_EQ(evolution_search(&q, &cfg, &again, &err), 0) << err.msg;
        expect_same_result(full, again);
        EXPECT_EQ(t.evaluate_calls, full.count - k) << "K " << k;
        ASSERT_EQ((int)t.reported.size(), full.count - k);
        for (int i = 0; i < full.count - k; i++)
            EXPECT_TRUE(same_candidate(t.reported[i], full.evaluated[k + i]));
        search_result_free(&again);
    }
    // The prior need not be in order, and extra entries the run never reaches
    // are simply not used.
    std::vector<Candidate> shuffled(full.evaluated, full.evaluated + 400);
    std::reverse(shuffled.begin(), shuffled.end());
    Candidate stray = full.evaluated[0];
    stray.ops[0] = (stray.ops[0] + 1) % 4;
    bool stray_seen = false;
    for (int i = 0; i < full.count; i++)
        stray_seen = stray_seen || !std::memcmp(full.evaluated[i].ops, stray.ops, sizeof stray.ops);
    if (!stray_seen) shuffled.push_back(stray);
    t.reset_counters();
    SearchProblem q = t.problem();
    q.prior = shuffled.data();
    q.prior_count = (int)shuffled.size();
    SearchResult again;
    ASSERT_EQ(evolution_search(&q, &cfg, &again, &err), 0) << err.msg;
    expect_same_result(full, again);
    EXPECT_EQ(t.evaluate_calls, full.count - 400);
    search_result_free(&again);

    // Random search resumes the same way.
    SearchResult rs, rs2;
    t.reset_counters();
    q = t.problem();
    ASSERT_EQ(random_search(&q, 500, 4, &rs, &err), 0) << err.msg;
    q.prior = rs.evaluated;
    q.prior_count = 200;
    t.reset_counters();
    ASSERT_EQ(random_search(&q, 500, 4, &rs2, &err), 0) << err.msg;
    expect_same_result(rs, rs2);
    EXPECT_EQ(t.evaluate_calls, 300);
    search_result_free(&rs);
    search_result_free(&rs2);
    search_result_free(&full);
}

// The whole resume path through search.csv: rows appended by on_evaluated,
// the file cut after K rows (a kill), read back as prior.
TEST(Evolution, ResumeThroughSearchCsv) {
    TableProblem t = make_table({4, 6, 8, 3, 8, 5, 7, 8, 2, 6}, 14);
    set_limit_fraction(t, 0.45);
    TableNames names(t.n_ops);
    TempDir tmp("search");
    std::string csv = tmp.file("search.csv");
    struct Sink {
        TableProblem* t;
        const SearchNames* names;
        const char* path;
    } sink = {&t, &names.names, csv.c_str()};
    auto append = [](void* user, const Candidate* c, HwErr* err) -> int {
        Sink* s = static_cast<Sink*>(user);
        return search_csv_append(s->path, c, s->names, err);
    };
    // The sink wraps the table problem: the other callbacks see the table.
    SearchProblem p = t.problem();
    p.on_evaluated = append;
    p.user = &sink;
    p.latency = [](void* u, const int* ops) { return table_latency(static_cast<Sink*>(u)->t, ops); };
    p.evaluate = [](void* u, const int* ops, double* a, double* b, HwErr* e) {
        return table_evaluate(static_cast<Sink*>(u)->t, ops, a, b, e);
    };
    p.on_generation = nullptr;
    // Small: every row is fsynced (~5 ms here).
    EvolutionConfig cfg = spos_config(8);
    cfg.population = 16;
    cfg.parents = 4;
    cfg.iterations = 5;
    cfg.mutations = 8;
    cfg.crossovers = 8;
    SearchResult full;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &full, &err), 0) << err.msg;

    // Keep the header and the first 45 rows (into generation 1).
    ASSERT_EQ(full.count, 96);
    const int k = 45;
    std::string text = slurp(csv);
    size_t cut = 0;
    for (int line = 0; line < k + 1; line++) cut = text.find('\n', cut) + 1;
    std::ofstream(csv, std::ios::binary | std::ios::trunc) << text.substr(0, cut);

    Candidate* prior = nullptr;
    int count = 0;
    ASSERT_EQ(
        search_csv_read(csv.c_str(), t.n_layers, search_names_resolve, &names.names, &prior, &count, &err), 0)
        << err.msg;
    ASSERT_EQ(count, k);
    for (int i = 0; i < k; i++) EXPECT_TRUE(same_candidate(prior[i], full.evaluated[i])) << "row " << i;
    p.prior = prior;
    p.prior_count = count;
    t.reset_counters();
    SearchResult again;
    ASSERT_EQ(evolution_search(&p, &cfg, &again, &err), 0) << err.msg;
    expect_same_result(full, again);
    EXPECT_EQ(t.evaluate_calls, full.count - k);
    // The resumed run appended the rest: the file is the uninterrupted one.
    EXPECT_EQ(slurp(csv), text);
    free(prior);
    search_result_free(&full);
    search_result_free(&again);
}

TEST(Evolution, MaxEvaluationsCapsBothSearches) {
    TableProblem t = make_table(std::vector<int>(12, 8), 15);
    set_limit_fraction(t, 0.5);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(2);
    cfg.max_evaluations = 137;
    SearchResult r, rr;
    HwErr err = {{0}, 0};
    ASSERT_EQ(evolution_search(&p, &cfg, &r, &err), 0) << err.msg;
    EXPECT_EQ(r.count, 137);
    EXPECT_EQ(t.evaluate_calls, 137);
    // The capped run is the prefix of the uncapped one.
    cfg.max_evaluations = 0;
    SearchResult whole;
    ASSERT_EQ(evolution_search(&p, &cfg, &whole, &err), 0) << err.msg;
    for (int i = 0; i < r.count; i++) EXPECT_TRUE(same_candidate(r.evaluated[i], whole.evaluated[i])) << i;
    ASSERT_EQ(random_search(&p, r.count, 2, &rr, &err), 0) << err.msg;
    EXPECT_EQ(rr.count, 137);
    search_result_free(&r);
    search_result_free(&rr);
    search_result_free(&whole);
}

TEST(Evolution, CallbackFailuresStopTheSearch) {
    TableProblem t = make_table(std::vector<int>(12, 8), 16);
    SearchProblem p = t.problem();
    EvolutionConfig cfg = spos_config(0);
    SearchResult r;
    HwErr err = {{0}, 0};
    t.fail_evaluate_at = 120;
    EXPECT_EQ(evolution_search(&p, &cfg, &r, &err), -1);
    EXPECT_STREQ(err.msg, "synthetic evaluation failure");
    EXPECT_EQ(r.count, 0);
    EXPECT_EQ(r.evaluated, nullptr);
    EXPECT_EQ((int)t.reported.size(), 120);  // everything before the failure reached search.csv

    t.reset_counters();
    t.fail_evaluate_at = -1;
    t.fail_report_at = 30;
    err = HwErr{{0}, 0};
    EXPECT_EQ(evolution_search(&p, &cfg, &r, &err), -1);
    EXPECT_STREQ(err.msg, "synthetic write failure");
    EXPECT_EQ(t.evaluate_calls, 31);

    t.reset_counters();
    t.fail_report_at = -1;
    t.nan_fitness = true;
    err = HwErr{{0}, 0};
    EXPECT_EQ(random_search(&p, 10, 0, &r, &err), -1);
    EXPECT_TRUE(contains(err.msg, "expected finite")) << err.msg;
    EXPECT_EQ(t.reported.size(), 0u);
}

TEST(Evolution, BadProblemsAndConfigsAreErrors) {
    TableProblem t = make_table({3, 4, 5}, 17);
    EvolutionConfig good = spos_config(0);
    auto expect_bad = [&](const SearchProblem& p, const EvolutionConfig& c, const std::string& part) {
        SearchResult r;
        HwErr err = {{0}, 0};
        EXPECT_EQ(evolution_search(&p, &c, &r, &err), -1) << part;
        EXPECT_EQ(err.code, HW_EXIT_INPUT) << err.msg;
        EXPECT_TRUE(contains(err.msg, part)) << "want '" << part << "' in: " << err.msg;
        EXPECT_EQ(r.count, 0);
    };
    SearchProblem p = t.problem();
    p.n_layers = 0;
    expect_bad(p, good, "n_layers 0");
    p.n_layers = SEARCH_MAX_LAYERS + 1;
    expect_bad(p, good, "n_layers 65");
    p = t.problem();
    p.evaluate = nullptr;
    expect_bad(p, good, "evaluate");
    std::vector<int> zero_ops = {3, 0, 5};
    p = t.problem();
    p.n_ops = zero_ops.data();
    expect_bad(p, good, "layer 1 has 0 operators");
    t.pinned = {-1, 4, -1};
    p = t.problem();
    expect_bad(p, good, "layer 1 pinned to op 4");
    t.pinned.clear();
    p = t.problem();
    EvolutionConfig c = good;
    c.population = 0;
    expect_bad(p, c, "population 0");
    c = good;
    c.parents = 0;
    expect_bad(p, c, "parents 0");
    c = good;
    c.mutation_prob = 1.5;
    expect_bad(p, c, "mutation probability");
    c.mutation_prob = NAN;
    expect_bad(p, c, "mutation probability");
    c = good;
    c.iterations = 1000000;
    c.population = 1000000;
    expect_bad(p, c, "evaluations, expected at most");

    // Prior candidates: out of range, or the same architecture twice.
    std::vector<Candidate> prior(2);
    std::memset(prior.data(), 0, prior.size() * sizeof(Candidate));
    prior[1].ops[2] = 5;
    p.prior = prior.data();
    p.prior_count = 2;
    expect_bad(p, good, "prior candidate 1: layer 2 has op 5");
    prior[1].ops[2] = 0;
    expect_bad(p, good, "prior candidates 0 and 1 are the same architecture");

    SearchResult r;
    HwErr err = {{0}, 0};
    p = t.problem();
    EXPECT_EQ(random_search(&p, 0, 0, &r, &err), -1);
    EXPECT_TRUE(contains(err.msg, "budget 0")) << err.msg;
}

// ---------------------------------------------------------------- Pareto front

namespace {
Candidate point(double latency, double top1) {
    Candidate c;
    std::memset(&c, 0, sizeof c);
    c.latency_ms = latency;
    c.top1 = top1;
    return c;
}
}  // namespace

TEST(Pareto, HandMadeSet) {
    std::vector<Candidate> c = {
        point(5, 0.70),   // 0 front
        point(3, 0.60),   // 1 dominated by 2 (same latency, less accurate)
        point(3, 0.65),   // 2 front
        point(8, 0.70),   // 3 dominated by 0 (same accuracy, slower)
        point(10, 0.90),  // 4 front
        point(1, 0.50),   // 5 front
        point(6, 0.69),   // 6 dominated by 0
        point(5, 0.70),   // 7 identical to 0: only the earlier is kept
        point(12, 0.85),  // 8 dominated by 4
        point(9, 0.80),   // 9 front
    };
    std::vector<int> idx(c.size());
    int n = pareto_front(c.data(), (int)c.size(), idx.data());
    idx.resize(n);
    EXPECT_EQ(idx, (std::vector<int>{5, 2, 0, 9, 4}));
    EXPECT_EQ(pareto_front(c.data(), 0, idx.data()), 0);
    EXPECT_EQ(pareto_front(c.data(), 1, idx.data()), 1);
    EXPECT_EQ(idx[0], 0);
}

// Against the definition on random sets with many ties.
TEST(Pareto, MatchesTheDefinition) {
    Rng r;
    rng_seed(&r, 99, 0, 0, 0);
    for (int trial = 0; trial < 20; trial++) {
        int n = 1 + (int)rng_below(&r, 150);
        std::vector<Candidate> c;
        for (int i = 0; i < n; i++) c.push_back(point(rng_below(&r, 12), rng_below(&r, 10) / 10.0));
        std::vector<int> want;
        for (int i = 0; i < n; i++) {
            bool out = false;
            for (int j = 0; j < n && !out; j++) {
                bool no_worse = c[j].latency_ms <= c[i].latency_ms && c[j].top1 >= c[i].top1;
                bool better = c[j].latency_ms < c[i].latency_ms || c[j].top1 > c[i].top1;
                out = no_worse && (better || j < i);
            }
            if (!out) want.push_back(i);
        }
        std::sort(want.begin(), want.end(), [&](int a, int b) { return c[a].latency_ms < c[b].latency_ms; });
        std::vector<int> got(n);
        got.resize(pareto_front(c.data(), n, got.data()));
        EXPECT_EQ(got, want) << "trial " << trial;
    }
}

// ---------------------------------------------------------------- search.csv

TEST(SearchCsv, AppendReadRoundTripAndParetoCsv) {
    std::vector<int> n_ops = {3, 1, 4};
    TableNames names(n_ops);
    TempDir tmp("search");
    std::string csv = tmp.file("search.csv");
    std::vector<Candidate> rows;
    const char* origins[] = {"random", "mutation", "crossover", "fill"};
    double awkward[] = {0.1, 1.0 / 3, 123.45678901234567, 0, 1, 5e-324, 2.5e-17, 0.9999999999999999};
    for (int i = 0; i < 8; i++) {
        Candidate c;
        std::memset(&c, 0, sizeof c);
        c.ops[0] = i % 3;
        c.ops[1] = 0;
        c.ops[2] = (i * 3) % 4;
        c.latency_ms = awkward[i] * 100;
        c.top1 = awkward[(i + 3) % 8] > 1 ? 1 / awkward[(i + 3) % 8] : awkward[(i + 3) % 8];
        c.top5 = awkward[(i + 5) % 8] > 1 ? 0.5 : awkward[(i + 5) % 8];
        c.generation = i - 1;
        std::strcpy(c.origin, origins[i % 4]);
        for (int k = 0; k < SEARCH_COST_COUNT; k++) c.cost[k] = awkward[(i + k) % 8] * 1000;
        rows.push_back(c);
        HwErr err = {{0}, 0};
        ASSERT_EQ(search_csv_append(csv.c_str(), &c, &names.names, &err), 0) << err.msg;
    }
    std::string text = slurp(csv);
    EXPECT_EQ(text.rfind(std::string(SEARCH_CSV_HEADER) + "\nop0_l0 op0_l1 op0_l2,10,", 0), 0u) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 9);
    Candidate* back = nullptr;
    int count = 0;
    HwErr err = {{0}, 0};
    ASSERT_EQ(search_csv_read(csv.c_str(), 3, search_names_resolve, &names.names, &back, &count, &err), 0)
        << err.msg;
    ASSERT_EQ(count, 8);
    for (int i = 0; i < 8; i++) EXPECT_TRUE(same_candidate(back[i], rows[i])) << "row " << i;
    free(back);

    std::string pareto = tmp.file("pareto.csv");
    ASSERT_EQ(pareto_csv_write(pareto.c_str(), rows.data(), (int)rows.size(), &names.names, &err), 0)
        << err.msg;
    std::vector<int> front(rows.size());
    front.resize(pareto_front(rows.data(), (int)rows.size(), front.data()));
    std::string want = std::string(PARETO_CSV_HEADER) + "\n";
    for (int i : front) {
        char line[256];
        std::snprintf(line, sizeof line, "%.17g,%.17g,%s %s %s,%.17g,%.17g,%.17g\n", rows[i].latency_ms,
                      rows[i].top1, names.text[0][rows[i].ops[0]].c_str(), names.text[1][rows[i].ops[1]].c_str(),
                      names.text[2][rows[i].ops[2]].c_str(), rows[i].cost[COST_PARAMS], rows[i].cost[COST_MFLOPS],
                      rows[i].cost[COST_PEAK_KB]);
        want += line;
    }
    EXPECT_EQ(slurp(pareto), want);
    EXPECT_GE(front.size(), 2u);

    // CRLF line ends (a file edited on Windows) read the same.
    std::string crlf;
    for (char ch : text) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
    std::string crlf_path = tmp.write("crlf.csv", crlf);
    ASSERT_EQ(search_csv_read(crlf_path.c_str(), 3, search_names_resolve, &names.names, &back, &count, &err),
              0)
        << err.msg;
    EXPECT_EQ(count, 8);
    free(back);
}

TEST(SearchCsv, BadFilesNameFileAndLine) {
    std::vector<int> n_ops = {2, 3};
    TableNames names(n_ops);
    TempDir tmp("search");
    const std::string h = std::string(SEARCH_CSV_HEADER) + "\n";
    const std::string ok = "op0_l0 op2_l1,1.5,0.5,0.75,-1,random,1,2,3\n";
    int case_no = 0;
    auto expect_error = [&](const std::string& text, int line, const std::string& part) {
        std::string f = tmp.write("bad" + std::to_string(case_no++) + ".csv", text);
        Candidate* out = reinterpret_cast<Candidate*>(1);
        int count = -1;
        HwErr err = {{0}, 0};
        EXPECT_EQ(search_csv_read(f.c_str(), 2, search_names_resolve, &names.names, &out, &count, &err), -1)
            << text;
        EXPECT_EQ(out, nullptr);
        EXPECT_EQ(count, 0);
        EXPECT_EQ(err.code, HW_EXIT_INPUT);
        std::string prefix = f + ":" + std::to_string(line) + ": ";
        EXPECT_EQ(std::string(err.msg).rfind(prefix, 0), 0u) << "want " << prefix << "\n got " << err.msg;
        EXPECT_TRUE(contains(err.msg, part)) << "want '" << part << "' in: " << err.msg;
    };
    expect_error("ops,latency,top1,top5,generation,origin\n" + ok, 1, "header");
    expect_error(h + ok + "op0_l0 op2_l1,1.5,0.5,0.75,-1\n", 3, "5 fields, expected 9");
    expect_error(h + ok + "op0_l0 op2_l1,1.5,0.5,0.75,-1,random\n", 3, "6 fields, expected 9");
    expect_error(h + ok + "op0_l0 op2_l1,1.5,0.5,0.75,-1,random,1,2,3,x\n", 3, "more than 9 fields");
    expect_error(h + "op0_l0 op3_l1,1.5,0.5,0.75,-1,random,1,2,3\n", 2, "layer 1: 'op3_l1' is not an operator");
    expect_error(h + "op0_l1 op2_l1,1.5,0.5,0.75,-1,random,1,2,3\n", 2, "layer 0: 'op0_l1'");
    expect_error(h + "op0_l0,1.5,0.5,0.75,-1,random,1,2,3\n", 2, "1 operators, expected 2");
    expect_error(h + "op0_l0 op1_l1 op1_l1,1.5,0.5,0.75,-1,random,1,2,3\n", 2, "3 operators, expected 2");
    expect_error(h + "op0_l0  op1_l1,1.5,0.5,0.75,-1,random,1,2,3\n", 2, "3 operators");
    expect_error(h + ok + "op0_l0 op1_l1,abc,0.5,0.75,-1,random,1,2,3\n", 3, "latency_ms 'abc'");
    expect_error(h + "op0_l0 op1_l1,-1,0.5,0.75,-1,random,1,2,3\n", 2, "latency_ms '-1'");
    expect_error(h + "op0_l0 op1_l1,nan,0.5,0.75,-1,random,1,2,3\n", 2, "latency_ms 'nan'");
    expect_error(h + "op0_l0 op1_l1,inf,0.5,0.75,-1,random,1,2,3\n", 2, "latency_ms 'inf'");
    expect_error(h + "op0_l0 op1_l1,,0.5,0.75,-1,random,1,2,3\n", 2, "latency_ms ''");
    expect_error(h + "op0_l0 op1_l1,1,1.5,0.75,-1,random,1,2,3\n", 2, "top1 '1.5'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75x,-1,random,1,2,3\n", 2, "top5 '0.75x'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75,-2,random,1,2,3\n", 2, "generation '-2'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75,1.0,random,1,2,3\n", 2, "generation '1.0'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75,3,magic,1,2,3\n", 2, "origin 'magic'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75,3,fill,x,2,3\n", 2, "params 'x'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75,3,fill,1,nan,3\n", 2, "mflops 'nan'");
    expect_error(h + "op0_l0 op1_l1,1,0.5,0.75,3,fill,1,2,-3\n", 2, "peak_kb '-3'");
    expect_error(h + ok + ok.substr(0, 20), 3, "no newline");

    // Missing file: code 2, names the file.
    HwErr err = {{0}, 0};
    Candidate* out = nullptr;
    int count = 0;
    std::string missing = tmp.path + "/missing.csv";
    EXPECT_EQ(search_csv_read(missing.c_str(), 2, search_names_resolve, &names.names, &out, &count, &err),
              -1);
    EXPECT_EQ(std::string(err.msg).rfind(missing + ": cannot open", 0), 0u) << err.msg;
    // An empty file and a header-only file are empty searches, not errors.
    for (const std::string& text : {std::string(), h}) {
        std::string f = tmp.write("empty" + std::to_string(text.size()) + ".csv", text);
        ASSERT_EQ(search_csv_read(f.c_str(), 2, search_names_resolve, &names.names, &out, &count, &err), 0)
            << err.msg;
        EXPECT_EQ(count, 0);
        free(out);
    }
}

TEST(SearchCsv, AppendRejectsUnwritableRows) {
    std::vector<int> n_ops = {2, 2};
    TableNames names(n_ops);
    TempDir tmp("search");
    std::string csv = tmp.file("search.csv");
    Candidate c;
    std::memset(&c, 0, sizeof c);
    std::strcpy(c.origin, "random");
    c.ops[1] = 2;  // layer 1 has ops 0..1
    HwErr err = {{0}, 0};
    EXPECT_EQ(search_csv_append(csv.c_str(), &c, &names.names, &err), -1);
    EXPECT_TRUE(contains(err.msg, "layer 1: op 2, expected 0..1")) << err.msg;
    EXPECT_EQ(slurp(csv), "");  // nothing half-written
    c.ops[1] = 1;
    std::strcpy(c.origin, "mutant");
    EXPECT_EQ(search_csv_append(csv.c_str(), &c, &names.names, &err), -1);
    EXPECT_TRUE(contains(err.msg, "origin 'mutant'")) << err.msg;
    std::strcpy(c.origin, "random");
    names.layer_ptrs[1][1] = "bad,name";
    EXPECT_EQ(search_csv_append(csv.c_str(), &c, &names.names, &err), -1);
    EXPECT_TRUE(contains(err.msg, "'bad,name'")) << err.msg;
    names.layer_ptrs[1][1] = "has space";
    EXPECT_EQ(search_csv_append(csv.c_str(), &c, &names.names, &err), -1);
    names.layer_ptrs[1][1] = names.text[1][1].c_str();
    ASSERT_EQ(search_csv_append(csv.c_str(), &c, &names.names, &err), 0) << err.msg;
    EXPECT_EQ(slurp(csv), std::string(SEARCH_CSV_HEADER) + "\nop0_l0 op1_l1,0,0,0,0,random,0,0,0\n");
    std::string nowhere = tmp.path + "/no/such/dir/search.csv";
    EXPECT_EQ(search_csv_append(nowhere.c_str(), &c, &names.names, &err), -1);
    EXPECT_TRUE(contains(err.msg, "cannot open")) << err.msg;
}
