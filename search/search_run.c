#include "search/search_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/progress.h"
#include "common/safe_file.h"
#include "search/latency.h"
#include "search/search_csv.h"

typedef struct Ctx {
    const SearchJob* job;
    SearchNames names;
    const char* const* name_rows[SPACE_MAX_LAYERS];
    int n_ops[SPACE_MAX_LAYERS];
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

static int append(void* user, const Candidate* cand, HwErr* err) {
    Ctx* c = user;
    if (!c->job->quiet) progress_update(&c->progress, ++c->evaluated);
    return search_csv_append(c->csv, cand, &c->names, err);
}

static void progress(void* user, int generation, const Candidate* best, int evaluated) {
    Ctx* c = user;
    if (c->job->quiet) return;
    fprintf(stderr, "%ssearch generation %d: best top1 %.4f at %.3f ms, %d candidates evaluated%s",
            isatty(STDERR_FILENO) ? "\r" : "", generation + 1, best ? best->top1 : 0, best ? best->latency_ms : 0,
            evaluated, isatty(STDERR_FILENO) ? "   " : "\n");
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int search_write_arch(const Supernet* sn, const Candidate* c, const char* path, HwErr* err) {
    Arch a;
    arch_init(&a, &sn->space);
    memcpy(a.ops, c->ops, sizeof(int) * (size_t)sn->space.n_layers);
    a.latency_ms = c->latency_ms;
    a.top1 = c->top1;
    a.flops = 2.0 * supernet_path_macs(sn, c->ops);
    a.params = supernet_path_params(sn, c->ops);
    return arch_write(&a, &sn->space, path, err);
}

// A file of the search's directory; never a cut-off name (it is unlinked and written).
static int path_in(char* out, size_t cap, const SearchJob* job, const char* name, HwErr* err) {
    return safe_path(out, cap, err, "%s/%s%s", job->out_dir, job->prefix ? job->prefix : "", name);
}

static void ctx_init(Ctx* c, const SearchJob* job, const char* const (*rows)[OP_POOL_SIZE]) {
    const Space* s = &job->sn->space;
    memset(c, 0, sizeof *c);
    c->job = job;
    for (int l = 0; l < s->n_layers; l++) {
        c->name_rows[l] = rows[l];
        c->n_ops[l] = s->layers[l].n_ops;
    }
    c->names = (SearchNames){s->n_layers, c->n_ops, c->name_rows};
}

static void fill_rows(const Space* s, const char* rows[][OP_POOL_SIZE]) {
    for (int l = 0; l < s->n_layers; l++)
        for (int o = 0; o < s->layers[l].n_ops; o++) rows[l][o] = s->layers[l].names[o];
}

static SearchProblem problem_of(Ctx* c) {
    const SearchJob* job = c->job;
    SearchProblem p = {0};
    p.n_layers = job->sn->space.n_layers;
    p.n_ops = c->n_ops;
    p.pinned = job->pinned;
    p.latency_limit_ms = job->limit_ms;
    p.latency = predict;
    p.evaluate = evaluate;
    p.user = c;
    p.on_evaluated = append;
    return p;
}

int search_random(const SearchJob* job, int budget, SearchOutcome* out, HwErr* err) {
    const char* rows[SPACE_MAX_LAYERS][OP_POOL_SIZE];
    fill_rows(&job->sn->space, rows);
    Ctx c;
    ctx_init(&c, job, (const char* const(*)[OP_POOL_SIZE])rows);
    if (path_in(c.csv, sizeof c.csv, job, "random.csv", err) < 0) return -1;
    unlink(c.csv);  // the baseline always starts afresh
    SearchProblem p = problem_of(&c);
    SearchResult rr = {0};
    double t1 = seconds_now();
    progress_begin(&c.progress, "hwnas", "random search, candidates", budget);
    int rc = random_search(&p, budget, job->cfg->search.seed + 1, &rr, err);
    progress_end(&c.progress);
    if (rc < 0) {
        search_result_free(&rr);
        return c.latency_failed ? (*err = c.latency_err, -1) : -1;
    }
    out->random_seconds = seconds_now() - t1;
    out->has_random = 1;
    out->random_best = rr.evaluated[rr.best];
    out->random_evaluated = rr.count;
    search_result_free(&rr);
    return 0;
}

int search_run(const SearchJob* job, SearchOutcome* out, HwErr* err) {
    const Space* s = &job->sn->space;
    const Config* cfg = job->cfg;
    memset(out, 0, sizeof *out);
    const char* rows[SPACE_MAX_LAYERS][OP_POOL_SIZE];
    fill_rows(s, rows);
    Ctx c;
    ctx_init(&c, job, (const char* const(*)[OP_POOL_SIZE])rows);
    if (path_in(c.csv, sizeof c.csv, job, "search.csv", err) < 0) return -1;
    Candidate* prior = NULL;
    int prior_count = 0;
    if (access(c.csv, F_OK) == 0 &&
        search_csv_read(c.csv, s->n_layers, search_names_resolve, &c.names, &prior, &prior_count, err) < 0)
        return -1;
    SearchProblem p = problem_of(&c);
    p.prior = prior;
    p.prior_count = prior_count;
    p.on_generation = progress;
    EvolutionConfig ec = evolution_default_config(cfg->search.seed);
    ec.population = cfg->search.population;
    ec.parents = cfg->search.parents;
    ec.iterations = cfg->search.iterations;
    ec.mutations = cfg->search.mutations;
    ec.crossovers = cfg->search.crossovers;
    ec.mutation_prob = cfg->search.mutation_prob;
    SearchResult r = {0};
    double t0 = seconds_now();
    // The expected number of evaluations (fewer when the limit or duplicates
    // leave too few legal candidates).
    progress_begin(&c.progress, "hwnas", "search, candidates", ec.population * (ec.iterations + 1) - prior_count);
    int rc = evolution_search(&p, &ec, &r, err);
    progress_end(&c.progress);
    free(prior);
    if (!job->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    if (rc < 0) return c.latency_failed ? (*err = c.latency_err, -1) : -1;
    out->seconds = seconds_now() - t0;
    out->best = r.evaluated[r.best];
    out->evaluated = r.count;
    out->rejected = r.rejected;
    char path[SAFE_PATH_MAX];
    if (path_in(path, sizeof path, job, "pareto.csv", err) < 0 ||
        pareto_csv_write(path, r.evaluated, r.count, &c.names, err) < 0)
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
