#include "search/search_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/progress.h"
#include "common/clock.h"
#include "common/safe_file.h"
#include "search/latency.h"
#include "search/search_csv.h"
#include "supernet/peak_memory.h"

typedef struct Ctx {
    const SearchJob* job;
    SpaceNames names;
    char csv[SAFE_PATH_MAX];
    HwErr latency_err;
    int latency_failed;
    Progress progress;  // candidates evaluated of the expected number
    int evaluated;
} Ctx;

static double predict(void* user, const int* ops) {
    Ctx* c = user;
    double ms;
    if (latency_predict(c->job->lut, &c->job->sn->space, ops, &ms, &c->latency_err) < 0) {
        c->latency_failed = 1;
        return INFINITY;
    }
    return ms;
}

static int evaluate(void* user, const int* ops, double* top1, double* top5, HwErr* err) {
    Ctx* c = user;
    if (c->latency_failed) {
        *err = c->latency_err;
        return -1;
    }
    return evaluator_score(c->job->ev, ops, top1, top5, err);
}

// The costs the search can be limited by (search.max_params, max_mflops,
// max_peak_kb), all from the supernet's own bookkeeping of the path.
static void path_costs(void* user, const int* ops, double* cost) {
    const Supernet* sn = ((Ctx*)user)->job->sn;
    cost[COST_PARAMS] = supernet_path_params(sn, ops);
    cost[COST_MFLOPS] = supernet_path_mflops(sn, ops);
    cost[COST_PEAK_KB] = supernet_path_peak_kb(sn, ops);
}

static int append(void* user, const Candidate* cand, HwErr* err) {
    Ctx* c = user;
    if (!c->job->quiet) progress_update(&c->progress, ++c->evaluated);
    return search_csv_append(c->csv, cand, &c->names.names, err);
}

static void progress(void* user, int generation, const Candidate* best, int evaluated) {
    Ctx* c = user;
    if (c->job->quiet) return;
    fprintf(stderr, "%ssearch generation %d: best top1 %.4f at %.3f ms, %d candidates evaluated%s",
            isatty(STDERR_FILENO) ? "\r" : "", generation + 1, best ? best->top1 : 0, best ? best->latency_ms : 0,
            evaluated, isatty(STDERR_FILENO) ? "   " : "\n");
}

int search_write_arch(const Supernet* sn, const Candidate* c, const char* path, HwErr* err) {
    Arch a;
    arch_init(&a, &sn->space);
    memcpy(a.ops, c->ops, sizeof(int) * (size_t)sn->space.n_layers);
    a.latency_ms = c->latency_ms;
    a.top1 = c->top1;
    a.flops = 2.0 * supernet_path_macs(sn, c->ops);
    a.params = supernet_path_params(sn, c->ops);
    a.peak_kb = supernet_path_peak_kb(sn, c->ops);
    return arch_write(&a, &sn->space, path, err);
}

// A file of the search's directory; never a cut-off name (it is unlinked and written).
static int path_in(char* out, size_t cap, const SearchJob* job, const char* name, HwErr* err) {
    return safe_path(out, cap, err, "%s/%s%s", job->out_dir, job->prefix ? job->prefix : "", name);
}

void search_names_of(const Space* s, SpaceNames* out) {
    memset(out, 0, sizeof *out);
    for (int l = 0; l < s->n_layers; l++) {
        for (int o = 0; o < s->layers[l].n_ops; o++) out->rows[l][o] = s->layers[l].names[o];
        out->row_ptrs[l] = out->rows[l];
        out->n_ops[l] = s->layers[l].n_ops;
    }
    out->names = (SearchNames){s->n_layers, out->n_ops, out->row_ptrs};
}

int search_read_candidates(const char* path, const Space* s, Candidate** c, int* count, HwErr* err) {
    SpaceNames* names = malloc(sizeof *names);
    *c = NULL, *count = 0;
    if (!names) return hw_runtime(err, path, 0, "out of memory");
    search_names_of(s, names);
    int rc = search_csv_read(path, s->n_layers, search_names_resolve, &names->names, c, count, err);
    free(names);
    return rc;
}

static void ctx_init(Ctx* c, const SearchJob* job) {
    memset(c, 0, sizeof *c);
    c->job = job;
    search_names_of(&job->sn->space, &c->names);
}

// A failed search: the latency model's error when it was the cause.
static int search_failed(const Ctx* c, HwErr* err) {
    if (c->latency_failed) *err = c->latency_err;
    return -1;
}

static SearchProblem problem_of(Ctx* c) {
    const SearchJob* job = c->job;
    SearchProblem p = {0};
    p.n_layers = job->sn->space.n_layers;
    p.n_ops = c->names.n_ops;
    p.pinned = job->pinned;
    p.latency_limit_ms = job->limit_ms;
    p.latency = predict;
    p.costs = path_costs;
    p.cost_limit[COST_PARAMS] = job->search->max_params;
    p.cost_limit[COST_MFLOPS] = job->search->max_mflops;
    p.cost_limit[COST_PEAK_KB] = job->search->max_peak_kb;
    p.evaluate = evaluate;
    p.user = c;
    p.on_evaluated = append;
    return p;
}

int search_random(const SearchJob* job, int budget, SearchOutcome* out, HwErr* err) {
    Ctx c;
    ctx_init(&c, job);
    if (path_in(c.csv, sizeof c.csv, job, "random.csv", err) < 0) return -1;
    unlink(c.csv);  // the baseline always starts afresh
    SearchProblem p = problem_of(&c);
    SearchResult rr = {0};
    double t1 = clock_seconds();
    progress_begin(&c.progress, "hwnas", "random search, candidates", budget);
    int rc = random_search(&p, budget, job->search->seed + 1, &rr, err);
    progress_end(&c.progress);
    if (rc < 0) {
        search_result_free(&rr);
        return search_failed(&c, err);
    }
    out->random_seconds = clock_seconds() - t1;
    out->has_random = 1;
    out->random_best = rr.evaluated[rr.best];
    out->random_evaluated = rr.count;
    search_result_free(&rr);
    return 0;
}

int search_run(const SearchJob* job, SearchOutcome* out, HwErr* err) {
    const Space* s = &job->sn->space;
    const SearchSection* cfg = job->search;
    memset(out, 0, sizeof *out);
    Ctx c;
    ctx_init(&c, job);
    if (path_in(c.csv, sizeof c.csv, job, "search.csv", err) < 0) return -1;
    Candidate* prior = NULL;
    int prior_count = 0;
    if (access(c.csv, F_OK) == 0 &&
        search_csv_read(c.csv, s->n_layers, search_names_resolve, &c.names.names, &prior, &prior_count, err) < 0)
        return -1;
    SearchProblem p = problem_of(&c);
    p.prior = prior;
    p.prior_count = prior_count;
    p.on_generation = progress;
    EvolutionConfig ec = evolution_default_config(cfg->seed);
    ec.population = cfg->population;
    ec.parents = cfg->parents;
    ec.iterations = cfg->iterations;
    ec.mutations = cfg->mutations;
    ec.crossovers = cfg->crossovers;
    ec.mutation_prob = cfg->mutation_prob;
    SearchResult r = {0};
    double t0 = clock_seconds();
    // The expected number of evaluations (fewer when the limit or duplicates
    // leave too few legal candidates).
    progress_begin(&c.progress, "hwnas", "search, candidates", ec.population * (ec.iterations + 1) - prior_count);
    int rc = evolution_search(&p, &ec, &r, err);
    progress_end(&c.progress);
    free(prior);
    if (!job->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    if (rc < 0) return search_failed(&c, err);
    out->seconds = clock_seconds() - t0;
    out->best = r.evaluated[r.best];
    out->evaluated = r.count;
    out->rejected = r.rejected;
    out->rejected_latency = r.rejected_latency;
    memcpy(out->rejected_cost, r.rejected_cost, sizeof out->rejected_cost);
    char path[SAFE_PATH_MAX];
    if (path_in(path, sizeof path, job, "pareto.csv", err) < 0 ||
        pareto_csv_write(path, r.evaluated, r.count, &c.names.names, err) < 0)
        goto fail;
    if (path_in(path, sizeof path, job, "best.yaml", err) < 0) goto fail;
    if (search_write_arch(job->sn, &out->best, path, err) < 0) goto fail;
    if (job->random_baseline && search_random(job, r.count, out, err) < 0) goto fail;
    search_result_free(&r);
    return 0;
fail:
    search_result_free(&r);
    return -1;
}
