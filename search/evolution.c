// SPOS evolutionary search, random search and the Pareto front; see
// evolution.h for the algorithm and its rules.
#include "search/evolution.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

// Far above any real search (the SPOS default is 1050); keeps the up-front
// allocation of the candidate array sane when a config has a typo.
#define SEARCH_MAX_CANDIDATES 10000000

// Rng stream kinds: each (iteration, kind) has its own stream, so one phase's
// draws never shift another's.
enum { STREAM_FILL = 1, STREAM_MUTATION = 2, STREAM_CROSSOVER = 3, STREAM_RANDOM_SEARCH = 4 };

const char* search_cost_name(SearchCost c) {
    static const char* const kNames[SEARCH_COST_COUNT] = {"params", "mflops", "peak_kb"};
    return c >= 0 && c < SEARCH_COST_COUNT ? kNames[c] : "?";
}

// ---------------------------------------------------------------- memo

// Open-addressing hash set of architectures. An entry is either a prior
// candidate not yet replayed (evaluated_at -1) or a candidate evaluated in
// this run. Keys point into the prior array or the run's candidate array,
// both of which stay put for the whole search.
typedef struct Memo {
    int* slots;  // entry index, -1 = empty
    size_t mask;
    const int** keys;
    int* evaluated_at;  // index in the run's candidates, -1 = not yet
    int* prior_at;      // index in SearchProblem.prior, -1 = none
    int count, cap;
    int n_layers;
} Memo;

static uint64_t ops_hash(const int* ops, int n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < n; i++) h = (h ^ (uint32_t)ops[i]) * 0x100000001B3ull;
    return splitmix64(&h);
}

static int memo_init(Memo* m, int cap, int n_layers) {
    memset(m, 0, sizeof *m);
    size_t slots = 16;
    while (slots < 2 * (size_t)cap) slots *= 2;
    m->slots = malloc(slots * sizeof *m->slots);
    m->keys = malloc((size_t)cap * sizeof *m->keys);
    m->evaluated_at = malloc((size_t)cap * sizeof *m->evaluated_at);
    m->prior_at = malloc((size_t)cap * sizeof *m->prior_at);
    if (!m->slots || !m->keys || !m->evaluated_at || !m->prior_at) return -1;
    for (size_t i = 0; i < slots; i++) m->slots[i] = -1;
    m->mask = slots - 1;
    m->cap = cap;
    m->n_layers = n_layers;
    return 0;
}

static void memo_free(Memo* m) {
    free(m->slots);
    free(m->keys);
    free(m->evaluated_at);
    free(m->prior_at);
    memset(m, 0, sizeof *m);
}

// The slot holding ops, or the empty slot where it would go.
static size_t memo_slot(const Memo* m, const int* ops) {
    size_t i = (size_t)ops_hash(ops, m->n_layers) & m->mask;
    size_t bytes = (size_t)m->n_layers * sizeof(int);
    while (m->slots[i] >= 0 && memcmp(m->keys[m->slots[i]], ops, bytes) != 0) i = (i + 1) & m->mask;
    return i;
}

static int memo_find(const Memo* m, const int* ops) { return m->slots[memo_slot(m, ops)]; }

// Adds a new key (the caller checked it is absent and that there is room).
static int memo_insert(Memo* m, const int* ops, int evaluated_at, int prior_at) {
    int e = m->count++;
    m->slots[memo_slot(m, ops)] = e;
    m->keys[e] = ops;
    m->evaluated_at[e] = evaluated_at;
    m->prior_at[e] = prior_at;
    return e;
}

// ---------------------------------------------------------------- ranking

typedef int (*RankBefore)(const Candidate* c, int a, int b);

// Higher top1, then lower latency, then earlier.
static int rank_by_top1(const Candidate* c, int a, int b) {
    if (c[a].top1 != c[b].top1) return c[a].top1 > c[b].top1;
    if (c[a].latency_ms != c[b].latency_ms) return c[a].latency_ms < c[b].latency_ms;
    return a < b;
}

// Lower latency, then higher top1, then earlier (the Pareto sweep order).
static int rank_by_latency(const Candidate* c, int a, int b) {
    if (c[a].latency_ms != c[b].latency_ms) return c[a].latency_ms < c[b].latency_ms;
    if (c[a].top1 != c[b].top1) return c[a].top1 > c[b].top1;
    return a < b;
}

static void sift_down(const Candidate* c, RankBefore before, int* idx, int root, int n) {
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) return;
        // A max-heap under "ranks later", so the heap sort yields rank order.
        if (child + 1 < n && before(c, idx[child], idx[child + 1])) child++;
        if (!before(c, idx[root], idx[child])) return;
        int t = idx[root];
        idx[root] = idx[child];
        idx[child] = t;
        root = child;
    }
}

// Heap sort of candidate indices: no allocation, and the rank functions are
// total orders (index breaks ties), so the result is deterministic.
static void sort_indices(const Candidate* c, RankBefore before, int* idx, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(c, before, idx, i, n);
    for (int end = n - 1; end > 0; end--) {
        int t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_down(c, before, idx, 0, end);
    }
}

static int best_index(const Candidate* c, int count) {
    int best = 0;
    for (int i = 1; i < count; i++)
        if (rank_by_top1(c, i, best)) best = i;
    return best;
}

int pareto_front(const Candidate* c, int count, int* out_indices) {
    if (!c || count <= 0) return 0;
    for (int i = 0; i < count; i++) out_indices[i] = i;
    sort_indices(c, rank_by_latency, out_indices, count);
    // Sweeping by latency, a point is on the front iff it beats every faster
    // (or equally fast, earlier-ranked) point's top1.
    int kept = 0;
    for (int i = 0; i < count; i++) {
        int k = out_indices[i];
        if (kept == 0 || c[k].top1 > c[out_indices[kept - 1]].top1) out_indices[kept++] = k;
    }
    return kept;
}

// ---------------------------------------------------------------- search state

typedef struct Search {
    const SearchProblem* p;
    Memo memo;
    Candidate* evaluated;  // preallocated to cap: never moves, the memo points into it
    int count, cap;
    int rejected_latency, rejected_cost[SEARCH_COST_COUNT], duplicates;
    double space_size;     // architectures with the pinned layers fixed
    double fastest_drawn;  // for the "nothing fits the limits" error
    double lowest_cost[SEARCH_COST_COUNT];  // lowest of each cost drawn, same use
    HwErr* err;
} Search;

static int check_problem(const SearchProblem* p, HwErr* err) {
    if (!p) return hw_bad_input(err, NULL, 0, "search: no problem given");
    if (p->n_layers < 1 || p->n_layers > SEARCH_MAX_LAYERS)
        return hw_bad_input(err, NULL, 0, "search: n_layers %d, expected 1..%d", p->n_layers,
                            SEARCH_MAX_LAYERS);
    if (!p->n_ops || !p->latency || !p->evaluate)
        return hw_bad_input(err, NULL, 0, "search: n_ops, latency and evaluate are required");
    for (int l = 0; l < p->n_layers; l++) {
        if (p->n_ops[l] < 1)
            return hw_bad_input(err, NULL, 0, "search: layer %d has %d operators, expected >= 1", l,
                                p->n_ops[l]);
        if (p->pinned && (p->pinned[l] < -1 || p->pinned[l] >= p->n_ops[l]))
            return hw_bad_input(err, NULL, 0, "search: layer %d pinned to op %d, expected -1 (free) or 0..%d",
                                l, p->pinned[l], p->n_ops[l] - 1);
    }
    for (int k = 0; k < SEARCH_COST_COUNT; k++)
        if (!(p->cost_limit[k] <= 0 || isfinite(p->cost_limit[k])) || (p->cost_limit[k] > 0 && !p->costs))
            return hw_bad_input(err, NULL, 0, "search: %s limit %g needs a finite value and a costs callback",
                                search_cost_name((SearchCost)k), p->cost_limit[k]);
    if (p->prior_count < 0 || (p->prior_count > 0 && !p->prior))
        return hw_bad_input(err, NULL, 0, "search: prior_count %d without prior candidates", p->prior_count);
    for (int i = 0; i < p->prior_count; i++)
        for (int l = 0; l < p->n_layers; l++)
            if (p->prior[i].ops[l] < 0 || p->prior[i].ops[l] >= p->n_ops[l])
                return hw_bad_input(err, NULL, 0,
                                    "search: prior candidate %d: layer %d has op %d, expected 0..%d (a "
                                    "search.csv of another space?)",
                                    i, l, p->prior[i].ops[l], p->n_ops[l] - 1);
    return 0;
}

static int is_pinned(const SearchProblem* p, int layer) { return p->pinned && p->pinned[layer] >= 0; }

static void search_free(Search* s) {
    memo_free(&s->memo);
    free(s->evaluated);
    s->evaluated = NULL;
}

static int search_init(Search* s, const SearchProblem* p, long long cap, HwErr* err) {
    memset(s, 0, sizeof *s);
    s->p = p;
    s->err = err;
    s->fastest_drawn = INFINITY;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) s->lowest_cost[k] = INFINITY;
    if (cap > SEARCH_MAX_CANDIDATES)
        return hw_bad_input(err, NULL, 0, "search: up to %lld evaluations, expected at most %d", cap,
                            SEARCH_MAX_CANDIDATES);
    s->cap = (int)cap;
    s->space_size = 1;
    for (int l = 0; l < p->n_layers; l++)
        if (!is_pinned(p, l)) s->space_size *= p->n_ops[l];
    s->evaluated = calloc((size_t)s->cap, sizeof *s->evaluated);
    if (!s->evaluated || memo_init(&s->memo, s->cap + p->prior_count, p->n_layers) != 0) {
        search_free(s);
        return hw_runtime(err, NULL, 0, "search: out of memory for %d candidates", s->cap);
    }
    for (int i = 0; i < p->prior_count; i++) {
        int e = memo_find(&s->memo, p->prior[i].ops);
        if (e >= 0) {
            int first = s->memo.prior_at[e];
            search_free(s);
            return hw_bad_input(err, NULL, 0, "search: prior candidates %d and %d are the same architecture",
                                first, i);
        }
        memo_insert(&s->memo, p->prior[i].ops, -1, i);
    }
    return 0;
}

static int search_full(const Search* s) { return s->count >= s->cap; }
static int space_exhausted(const Search* s) { return (double)s->count >= s->space_size; }

// Evaluates a fresh architecture, or takes a prior candidate's fitness.
static int fitness_of(Search* s, int memo_entry, Candidate* c) {
    const SearchProblem* p = s->p;
    if (memo_entry >= 0) {
        const Candidate* old = &p->prior[s->memo.prior_at[memo_entry]];
        c->top1 = old->top1;
        c->top5 = old->top5;
        return 0;
    }
    if (s->err) s->err->msg[0] = '\0';
    if (p->evaluate(p->user, c->ops, &c->top1, &c->top5, s->err) != 0) {
        if (s->err && !s->err->msg[0])
            hw_runtime(s->err, NULL, 0, "search: evaluate failed on candidate %d", s->count);
        return -1;
    }
    if (!isfinite(c->top1) || !isfinite(c->top5))
        return hw_runtime(s->err, NULL, 0,
                          "search: evaluate gave top1 %g, top5 %g for candidate %d, expected finite", c->top1,
                          c->top5, s->count);
    return 0;
}

// The costs of a draw (all 0 without a callback); 0, or -1 when the callback
// gave a value that is not finite and >= 0.
static int costs_of(Search* s, const int* ops, double* cost) {
    const SearchProblem* p = s->p;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) cost[k] = 0;
    if (!p->costs) return 0;
    p->costs(p->user, ops, cost);
    for (int k = 0; k < SEARCH_COST_COUNT; k++) {
        if (!isfinite(cost[k]) || cost[k] < 0)
            return hw_runtime(s->err, NULL, 0, "search: the %s of an architecture is %g, expected a finite value >= 0",
                              search_cost_name((SearchCost)k), cost[k]);
        if (cost[k] < s->lowest_cost[k]) s->lowest_cost[k] = cost[k];
    }
    return 0;
}

// Whether a draw breaks a constraint; counts it under the first it breaks.
static int breaks_a_constraint(Search* s, double latency, const double* cost) {
    const SearchProblem* p = s->p;
    if (p->latency_limit_ms > 0 && latency > p->latency_limit_ms) {
        s->rejected_latency++;
        return 1;
    }
    for (int k = 0; k < SEARCH_COST_COUNT; k++)
        if (p->cost_limit[k] > 0 && cost[k] > p->cost_limit[k]) {
            s->rejected_cost[k]++;
            return 1;
        }
    return 0;
}

// One draw: 1 when it was legal and is now evaluated (appended), 0 when it was
// a duplicate or broke a constraint, -1 on error.
static int try_candidate(Search* s, const int* ops, int generation, const char* origin) {
    const SearchProblem* p = s->p;
    int e = memo_find(&s->memo, ops);
    if (e >= 0 && s->memo.evaluated_at[e] >= 0) {
        s->duplicates++;
        return 0;
    }
    double latency = p->latency(p->user, ops), cost[SEARCH_COST_COUNT];
    if (!isfinite(latency))
        return hw_runtime(s->err, NULL, 0, "search: the latency prediction is %g, expected a finite value",
                          latency);
    if (latency < s->fastest_drawn) s->fastest_drawn = latency;
    if (costs_of(s, ops, cost) != 0) return -1;
    if (breaks_a_constraint(s, latency, cost)) return 0;
    Candidate* c = &s->evaluated[s->count];
    memset(c, 0, sizeof *c);
    memcpy(c->ops, ops, (size_t)p->n_layers * sizeof *ops);
    c->latency_ms = latency;
    memcpy(c->cost, cost, sizeof c->cost);
    c->generation = generation;
    strncpy(c->origin, origin, sizeof c->origin - 1);
    if (fitness_of(s, e, c) != 0) return -1;
    if (e >= 0)
        s->memo.evaluated_at[e] = s->count;
    else
        memo_insert(&s->memo, c->ops, s->count, -1);
    s->count++;
    if (e < 0 && p->on_evaluated && p->on_evaluated(p->user, c, s->err) != 0) {
        if (s->err && !s->err->msg[0]) hw_runtime(s->err, NULL, 0, "search: on_evaluated failed");
        return -1;
    }
    return 1;
}

static void random_ops(const SearchProblem* p, Rng* rng, int* ops) {
    for (int l = 0; l < p->n_layers; l++)
        ops[l] = is_pinned(p, l) ? p->pinned[l] : (int)rng_below(rng, (uint32_t)p->n_ops[l]);
}

// Uniform random candidates until the population that started at `start` has
// `target` members, the cap is reached, the space is used up, or
// SEARCH_MAX_FUTILE_DRAWS draws in a row failed.
static int fill_random(Search* s, Rng* rng, int start, int target, int generation, const char* origin) {
    int ops[SEARCH_MAX_LAYERS] = {0};
    int futile = 0;
    while (s->count - start < target && !search_full(s) && !space_exhausted(s) &&
           futile < SEARCH_MAX_FUTILE_DRAWS) {
        random_ops(s->p, rng, ops);
        int r = try_candidate(s, ops, generation, origin);
        if (r < 0) return -1;
        futile = r ? 0 : futile + 1;
    }
    return 0;
}

// Every limit that is set, with the lowest value drawn, into text.
static void describe_limits(const Search* s, char* text, size_t cap) {
    const SearchProblem* p = s->p;
    size_t len = 0;
    text[0] = '\0';
    if (p->latency_limit_ms > 0)
        len += (size_t)snprintf(text, cap, "the latency limit of %g ms (the fastest drawn predicts %g ms)", p->latency_limit_ms,
                                s->fastest_drawn);
    for (int k = 0; k < SEARCH_COST_COUNT && len < cap; k++)
        if (p->cost_limit[k] > 0)
            len += (size_t)snprintf(text + len, cap - len, "%ssearch.max_%s %g (the lowest drawn has %g)", len ? ", " : "",
                                    search_cost_name((SearchCost)k), p->cost_limit[k], s->lowest_cost[k]);
}

static int no_legal_candidate(const Search* s) {
    int limited = s->p->latency_limit_ms > 0;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) limited |= s->p->cost_limit[k] > 0;
    if (limited) {
        char limits[512];
        describe_limits(s, limits, sizeof limits);
        return hw_bad_input(s->err, NULL, 0,
                            "search: no architecture within the limits in %d random draws: %s; raise the "
                            "limit (latency_ms, search.max_params, search.max_mflops, search.max_peak_kb) or "
                            "use a smaller or faster space",
                            SEARCH_MAX_FUTILE_DRAWS, limits);
    }
    return hw_runtime(s->err, NULL, 0, "search: no architecture could be evaluated");
}

static void finish(Search* s, SearchResult* out) {
    out->evaluated = s->evaluated;
    out->count = s->count;
    out->best = best_index(s->evaluated, s->count);
    out->rejected_latency = s->rejected_latency;
    out->rejected = s->rejected_latency;
    for (int k = 0; k < SEARCH_COST_COUNT; k++) {
        out->rejected_cost[k] = s->rejected_cost[k];
        out->rejected += s->rejected_cost[k];
    }
    out->duplicates = s->duplicates;
    s->evaluated = NULL;
    search_free(s);
}

static void report_generation(const Search* s, int generation) {
    const SearchProblem* p = s->p;
    if (p->on_generation)
        p->on_generation(p->user, generation, &s->evaluated[best_index(s->evaluated, s->count)], s->count);
}

// ---------------------------------------------------------------- evolution

EvolutionConfig evolution_default_config(uint64_t seed) {
    EvolutionConfig c = {.population = 50,
                         .parents = 10,
                         .iterations = 20,
                         .mutations = 25,
                         .crossovers = 25,
                         .mutation_prob = 0.1,
                         .seed = seed,
                         .max_evaluations = 0};
    return c;
}

static int check_config(const EvolutionConfig* c, HwErr* err) {
    if (!c) return hw_bad_input(err, NULL, 0, "search: no evolution config given");
    if (c->population < 1 || c->parents < 1 || c->iterations < 0 || c->mutations < 0 || c->crossovers < 0 ||
        c->max_evaluations < 0)
        return hw_bad_input(err, NULL, 0,
                            "search: population %d, parents %d, iterations %d, mutations %d, crossovers %d, "
                            "max_evaluations %d: expected population and parents >= 1, the rest >= 0",
                            c->population, c->parents, c->iterations, c->mutations, c->crossovers,
                            c->max_evaluations);
    if (!(c->mutation_prob >= 0 && c->mutation_prob <= 1))
        return hw_bad_input(err, NULL, 0, "search: mutation probability %g, expected 0..1", c->mutation_prob);
    return 0;
}

// The most candidates one generation can add.
static int generation_size(const EvolutionConfig* c) {
    long long children = (long long)c->mutations + c->crossovers;
    return children > c->population
               ? (int)(children > SEARCH_MAX_CANDIDATES ? SEARCH_MAX_CANDIDATES : children)
               : c->population;
}

// Top-k over (previous top-k + the population [start, count)), in place.
static int select_parents(const Search* s, int* topk, int topk_n, int parents, int start) {
    for (int i = start; i < s->count; i++) topk[topk_n++] = i;
    sort_indices(s->evaluated, rank_by_top1, topk, topk_n);
    return topk_n < parents ? topk_n : parents;
}

static int make_mutations(Search* s, const EvolutionConfig* cfg, int iteration, const int* topk, int topk_n) {
    const SearchProblem* p = s->p;
    Rng rng;
    rng_seed(&rng, cfg->seed, (uint64_t)iteration + 1, STREAM_MUTATION, 0);
    int ops[SEARCH_MAX_LAYERS] = {0};
    int made = 0;
    for (long long attempt = 0; made < cfg->mutations && attempt < 10LL * cfg->mutations && !search_full(s);
         attempt++) {
        const Candidate* parent = &s->evaluated[topk[rng_below(&rng, (uint32_t)topk_n)]];
        for (int l = 0; l < p->n_layers; l++) {
            ops[l] = parent->ops[l];
            if (!is_pinned(p, l) && rng_uniform_double(&rng) < cfg->mutation_prob)
                ops[l] = (int)rng_below(&rng, (uint32_t)p->n_ops[l]);
        }
        int r = try_candidate(s, ops, iteration, "mutation");
        if (r < 0) return -1;
        made += r;
    }
    return 0;
}

static int make_crossovers(Search* s, const EvolutionConfig* cfg, int iteration, const int* topk,
                           int topk_n) {
    const SearchProblem* p = s->p;
    Rng rng;
    rng_seed(&rng, cfg->seed, (uint64_t)iteration + 1, STREAM_CROSSOVER, 0);
    int ops[SEARCH_MAX_LAYERS] = {0};
    int made = 0;
    for (long long attempt = 0; made < cfg->crossovers && attempt < 10LL * cfg->crossovers && !search_full(s);
         attempt++) {
        const Candidate* a = &s->evaluated[topk[rng_below(&rng, (uint32_t)topk_n)]];
        const Candidate* b = &s->evaluated[topk[rng_below(&rng, (uint32_t)topk_n)]];
        for (int l = 0; l < p->n_layers; l++)
            ops[l] = is_pinned(p, l) ? p->pinned[l] : (rng_below(&rng, 2) ? b->ops[l] : a->ops[l]);
        int r = try_candidate(s, ops, iteration, "crossover");
        if (r < 0) return -1;
        made += r;
    }
    return 0;
}

static int evolve(Search* s, const EvolutionConfig* cfg, int* topk) {
    Rng rng;
    rng_seed(&rng, cfg->seed, 0, STREAM_FILL, 0);
    if (fill_random(s, &rng, 0, cfg->population, -1, "random") != 0) return -1;
    if (s->count == 0) return no_legal_candidate(s);
    report_generation(s, -1);
    int population_start = 0, topk_n = 0;
    for (int it = 0; it < cfg->iterations && !search_full(s); it++) {
        topk_n = select_parents(s, topk, topk_n, cfg->parents, population_start);
        population_start = s->count;
        if (make_mutations(s, cfg, it, topk, topk_n) != 0 || make_crossovers(s, cfg, it, topk, topk_n) != 0)
            return -1;
        rng_seed(&rng, cfg->seed, (uint64_t)it + 1, STREAM_FILL, 0);
        if (fill_random(s, &rng, population_start, cfg->population, -1, "fill") != 0) return -1;
        report_generation(s, it);
    }
    return 0;
}

int evolution_search(const SearchProblem* p, const EvolutionConfig* cfg, SearchResult* out, HwErr* err) {
    memset(out, 0, sizeof *out);
    if (check_problem(p, err) != 0 || check_config(cfg, err) != 0) return -1;
    long long cap = cfg->population + (long long)cfg->iterations * generation_size(cfg);
    if (cfg->max_evaluations > 0 && cfg->max_evaluations < cap) cap = cfg->max_evaluations;
    Search s;
    if (search_init(&s, p, cap, err) != 0) return -1;
    int* topk = malloc(((size_t)cfg->parents + (size_t)generation_size(cfg)) * sizeof *topk);
    if (!topk) {
        search_free(&s);
        return hw_runtime(err, NULL, 0, "search: out of memory");
    }
    int rc = evolve(&s, cfg, topk);
    free(topk);
    if (rc != 0) {
        search_free(&s);
        return -1;
    }
    finish(&s, out);
    return 0;
}

// ---------------------------------------------------------------- random search

int random_search(const SearchProblem* p, int budget, uint64_t seed, SearchResult* out, HwErr* err) {
    memset(out, 0, sizeof *out);
    if (check_problem(p, err) != 0) return -1;
    if (budget < 1) return hw_bad_input(err, NULL, 0, "random search: budget %d, expected >= 1", budget);
    Search s;
    if (search_init(&s, p, budget, err) != 0) return -1;
    Rng rng;
    rng_seed(&rng, seed, 0, STREAM_RANDOM_SEARCH, 0);
    int rc = fill_random(&s, &rng, 0, budget, -1, "random");
    if (rc == 0 && s.count == 0) rc = no_legal_candidate(&s);
    if (rc != 0) {
        search_free(&s);
        return -1;
    }
    report_generation(&s, -1);
    finish(&s, out);
    return 0;
}

void search_result_free(SearchResult* r) {
    if (!r) return;
    free(r->evaluated);
    memset(r, 0, sizeof *r);
}
