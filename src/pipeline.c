// hwnas run: target -> hardware-specific space -> (two-stage) supernet
// training and search -> extract -> fine-tune -> test -> report.
#include "src/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/rng.h"
#include "common/safe_file.h"
#include "search/latency.h"
#include "search/search_csv.h"
#include "search/search_run.h"
#include "search/space_gen.h"
#include "src/cmd_common.h"
#include "src/device.h"
#include "src/svg.h"
#include "supernet/evaluate.h"
#include "supernet/checkpoint.h"
#include "supernet/safetensors.h"
#include "supernet/trainer.h"

// A file of the run directory: an error (exit 2) rather than a cut-off name.
static int run_file(char* out, size_t cap, const char* dir, const char* name, HwErr* err) {
    return safe_path(out, cap, err, "%s/%s", dir, name);
}

static void say(const char* fmt, const char* a, double b) {
    fprintf(stderr, "hwnas run: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
}

void pipeline_quick_config(Config* cfg) {
    cfg->data.limit_train = 8000;
    cfg->data.holdout = 1000;
    cfg->data.limit_test = 2000;
    cfg->train.epochs = 2;
    cfg->stages.stage1_epochs = 1;
    cfg->stages.stage2_epochs = 1;
    cfg->search.population = 12;
    cfg->search.parents = 4;
    cfg->search.iterations = 3;
    cfg->search.mutations = 6;
    cfg->search.crossovers = 6;
    cfg->search.bn_images = 256;
    cfg->search.val_images = 500;
    cfg->finetune.epochs = 1;
}

// The latency target: a file, or "cpu" = this machine, measured once per run
// directory (target-cpu.yaml is reused when present).
static Lut* open_target(const Config* cfg, const Space* pool, const char* run_dir, int quick, HwErr* err) {
    if (cfg->target.kind == TARGET_FILE) return target_open(&cfg->target, pool, cfg->train.threads, quick, err);
    char path[SAFE_PATH_MAX];
    if (run_file(path, sizeof path, run_dir, "target-cpu.yaml", err) < 0) return NULL;
    if (access(path, F_OK) == 0) return lut_load(path, err);
    Lut* lut = target_open(&cfg->target, pool, cfg->train.threads, quick, err);
    if (lut) {
        snprintf(lut->source, sizeof lut->source, "hwnas run (latency profile of %s)", pool->name);
        if (lut_write(lut, path, err) < 0) {
            lut_free(lut);
            return NULL;
        }
    }
    return lut;
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

// Automatic limit: the 40th percentile of the predicted latency of 1000
// random architectures of the searched space, so the limit binds and is
// reachable.
static int auto_limit(const Lut* lut, const Space* pool, uint64_t seed, double* limit, HwErr* err) {
    enum { N = 1000 };
    double* v = malloc(N * sizeof(double));
    int ops[SPACE_MAX_LAYERS];
    if (!v) return hw_runtime(err, NULL, 0, "out of memory");
    for (int i = 0; i < N; i++) {
        Rng rng;
        rng_seed(&rng, seed, 77, (uint64_t)i, 0);
        for (int l = 0; l < pool->n_layers; l++) ops[l] = (int)rng_below(&rng, (uint32_t)pool->layers[l].n_ops);
        if (latency_predict(lut, pool, ops, &v[i], err) < 0) return free(v), -1;
    }
    qsort(v, N, sizeof(double), compare_doubles);
    *limit = v[N * 2 / 5];
    free(v);
    return 0;
}

typedef struct Run {
    const Config* cfg;
    const char* dir;
    Device dev;
    Supernet* sn;
    Evaluator* ev;
    const Lut* lut;
    LatencyModel model;   // lut over the searched space, for train.sampling latency
    PathFilter filter;    // train.sampling (supernet/path_filter.h)
    volatile sig_atomic_t* interrupted;
} Run;

static int train_stage(Run* r, const char* ckpt, const char* csv, int epochs, const int* pinned, double* seconds,
                       HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (run_file(path, sizeof path, r->dir, ckpt, err) < 0) return -1;
    TrainJob job = {0};
    job.train = &r->cfg->train;
    job.data = &r->cfg->data;
    job.config_path = r->cfg->path;
    job.filter = &r->filter;
    job.run_dir = r->dir;
    job.checkpoint_name = ckpt;
    job.csv_name = csv;
    job.epochs = epochs;
    job.lr = r->cfg->train.lr;
    job.pinned = pinned;
    job.interrupted = r->interrupted;
    // A finished stage is not trained again when the run is restarted.
    if (access(path, F_OK) == 0) {
        TrainState st;
        Supernet* sn = r->sn;
        if (checkpoint_load(path, sn, &st, NULL, err) < 0) return -1;
        if ((int)st.epoch >= epochs) return 0;
        job.resume = 1;
    }
    TrainResult res;
    if (train_run(r->sn, &job, &res, err) < 0) return -1;
    *seconds += res.seconds;
    if (res.interrupted) return hw_runtime(err, NULL, 0, "interrupted; run again to continue from %s", path);
    return 0;
}

static int search_stage(Run* r, const char* prefix, const int* pinned, double limit, int random_baseline,
                        SearchOutcome* out, double* seconds, HwErr* err) {
    SearchJob job = {&r->cfg->search, r->sn, r->ev, r->lut, limit, pinned, r->dir, prefix, random_baseline, 0};
    double t0 = clock_seconds();
    int rc = search_run(&job, out, err);
    *seconds += clock_seconds() - t0;
    return rc;
}

// Latency of architecture `ops` of the run's space, end to end at batch 1 on
// this machine (median of 50 runs), with the weights in `weights` (NULL:
// freshly initialized; the latency does not depend on them). Both the
// latency check and the winner's final number use it, so they time alike.
static int measure_arch(Run* r, const int* ops, const char* weights, double* ms, HwErr* err) {
    Space one;
    space_restrict(&r->sn->space, ops, &one);
    int zeros[SPACE_MAX_LAYERS] = {0};
    Supernet* net = supernet_create(&one, &ops_cpu, &r->dev.ctx, 1, err);
    if (!net) return -1;
    int rc = supernet_init_params(net, 1, err);
    if (rc == 0 && weights) rc = safetensors_read_subnet(net, zeros, weights, err);
    if (rc == 0) {
        ProfileOptions opt = {5, 50, 1, 1};
        *ms = latency_measure_path(net, zeros, &opt);
    }
    supernet_destroy(net);
    return rc;
}

// The winner's latency with the weights in `weights` (-1 when the target is
// not this CPU).
static int measure_winner(Run* r, const Candidate* best, const char* weights, PipelineResult* res, HwErr* err) {
    res->measured_ms = -1;
    if (r->cfg->target.kind != TARGET_CPU) return 0;
    return measure_arch(r, best->ops, weights, &res->measured_ms, err);
}

// Without fine-tuning: the winner's test accuracy with the weights it
// inherits from the supernet, BN recalibrated over 2,000 training images (at
// least the search's number), as the training-time benchmark compares
// supernets.
static int test_inherited(Run* r, const Candidate* best, PipelineResult* res, HwErr* err) {
    char inherited[SAFE_PATH_MAX];
    if (run_file(inherited, sizeof inherited, r->dir, "best-inherited.safetensors", err) < 0 ||
        safetensors_write_subnet(r->sn, best->ops, inherited, err) < 0)
        return -1;
    int recal = r->cfg->search.bn_images > 2000 ? r->cfg->search.bn_images : 2000;
    EvalOptions eo = eval_options(r->cfg, SPLIT_TEST, recal, r->cfg->data.limit_test);
    Evaluator* test = evaluator_create(r->sn, &eo, err);
    if (!test) return -1;
    int rc = evaluator_score(test, best->ops, &res->test_top1, &res->test_top5, err);
    evaluator_destroy(test);
    if (rc == 0) rc = measure_winner(r, best, inherited, res, err);
    return rc;
}

// Every candidate of a search.csv of space s.
static int read_candidates(const char* path, const Space* s, Candidate** c, int* count, HwErr* err) {
    return search_read_candidates(path, s, c, count, err);
}

static int by_top1_then_latency(const void* a, const void* b) {
    const Candidate *x = a, *y = b;
    if (x->top1 != y->top1) return x->top1 < y->top1 ? 1 : -1;
    return (x->latency_ms > y->latency_ms) - (x->latency_ms < y->latency_ms);
}

// When the target is this machine, the prediction is checked: the best
// candidates of the final search (by validation top-1) are measured end to
// end at batch 1, and the first whose measured latency meets the limit wins.
// The latency model is accurate to a few percent on average but a network at
// its tail can be 10% slower than predicted, and a winner is by construction
// close to the limit.
static int check_winner_latency(Run* r, const char* csv, SearchOutcome* so, PipelineResult* res, HwErr* err) {
    res->n_checks = 0;
    if (r->cfg->target.kind != TARGET_CPU || res->limit_ms <= 0) return 0;
    const Space* s = &r->sn->space;
    Candidate* c = NULL;
    int n = 0, legal = 0;
    if (read_candidates(csv, s, &c, &n, err) < 0) return -1;
    for (int i = 0; i < n; i++)
        if (c[i].latency_ms <= res->limit_ms) c[legal++] = c[i];
    qsort(c, (size_t)legal, sizeof *c, by_top1_then_latency);
    int chosen = -1;
    for (int i = 0; i < legal && i < PIPE_MAX_CHECKS && chosen < 0; i++) {
        LatencyCheck* k = &res->checks[res->n_checks++];
        *k = (LatencyCheck){i + 1, c[i].top1, c[i].latency_ms, -1};
        if (measure_arch(r, c[i].ops, NULL, &k->measured_ms, err) < 0) return free(c), -1;
        if (k->measured_ms <= res->limit_ms) chosen = i;
    }
    if (chosen >= 0) so->best = c[chosen];
    else if (legal > 0)
        fprintf(stderr, "hwnas run: warning: none of the %d best candidates measures under %.3f ms; keeping the "
                        "best by prediction\n", res->n_checks, res->limit_ms);
    free(c);
    return 0;
}

// Fine-tunes the winner from its inherited weights on the whole training
// set, tests it and measures its latency end to end.
static int finetune_winner(Run* r, const Candidate* best, PipelineResult* res, HwErr* err) {
    const Config* cfg = r->cfg;
    char inherited[SAFE_PATH_MAX], final_path[SAFE_PATH_MAX];
    if (run_file(inherited, sizeof inherited, r->dir, "best-inherited.safetensors", err) < 0 ||
        run_file(final_path, sizeof final_path, r->dir, "best.safetensors", err) < 0 ||
        safetensors_write_subnet(r->sn, best->ops, inherited, err) < 0)
        return -1;
    Config ft = *cfg;
    ft.data.holdout = 0;
    Space one;
    space_restrict(&r->sn->space, best->ops, &one);
    int zeros[SPACE_MAX_LAYERS] = {0};
    Supernet* sub = supernet_create(&one, r->dev.ops, &r->dev.ctx, cfg->train.batch, err);
    if (!sub || supernet_init_params(sub, cfg->train.seed, err) < 0 || safetensors_read_subnet(sub, zeros, inherited, err) < 0) {
        supernet_destroy(sub);
        return -1;
    }
    TrainJob job = {0};
    job.train = &ft.train;
    job.data = &ft.data;
    job.config_path = ft.path;
    job.run_dir = r->dir;
    job.checkpoint_name = "finetune.ckpt";
    job.csv_name = "finetune.csv";
    job.epochs = cfg->finetune.epochs;
    job.lr = cfg->finetune.lr;
    job.fixed_path = zeros;
    job.interrupted = r->interrupted;
    TrainResult tr;
    double t0 = clock_seconds();
    int rc = train_run(sub, &job, &tr, err);
    res->seconds_finetune = clock_seconds() - t0;
    Evaluator* test = NULL;
    if (rc == 0 && tr.interrupted) rc = hw_runtime(err, NULL, 0, "interrupted during fine-tuning");
    if (rc == 0 && safetensors_write_subnet(sub, zeros, final_path, err) < 0) rc = -1;
    EvalOptions eo = eval_options(&ft, SPLIT_TEST, 0, cfg->data.limit_test);
    if (rc == 0 && !(test = evaluator_create(sub, &eo, err))) rc = -1;
    if (rc == 0 && evaluator_accuracy(test, zeros, &res->test_top1, &res->test_top5, NULL, err) < 0) rc = -1;
    evaluator_destroy(test);
    supernet_destroy(sub);
    if (rc == 0 && measure_winner(r, best, final_path, res, err) < 0) rc = -1;
    return rc;
}

static void arch_string(const Space* s, const int* ops, char* out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    for (int l = 0; l < s->n_layers && len + 24 < cap; l++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", l ? " " : "", s->layers[l].names[ops[l]]);
}

static int load_csv_points(const char* path, const Space* s, double** x, double** y, int* n) {
    Candidate* c = NULL;
    int count = 0;
    HwErr err = {0};
    *n = 0;
    if (read_candidates(path, s, &c, &count, &err) < 0) return -1;
    *x = malloc(sizeof(double) * (size_t)(count + 1));
    *y = malloc(sizeof(double) * (size_t)(count + 1));
    for (int i = 0; i < count; i++) (*x)[i] = c[i].latency_ms, (*y)[i] = c[i].top1;
    *n = count;
    free(c);
    return 0;
}

// The scatter of every candidate searched (and of the random baseline), the
// limit and the winner.
static int write_pareto_plot(const Run* r, const PipelineResult* res, HwErr* err) {
    char path[SAFE_PATH_MAX], csv[SAFE_PATH_MAX];
    double *ex = NULL, *ey = NULL, *rx = NULL, *ry = NULL;
    int en = 0, rn = 0;
    if (run_file(path, sizeof path, r->dir, "pareto.svg", err) < 0) return -1;
    // The plot shows what can be read: a missing random.csv is an empty series.
    if (run_file(csv, sizeof csv, r->dir, "search.csv", err) == 0) load_csv_points(csv, &r->sn->space, &ex, &ey, &en);
    if (run_file(csv, sizeof csv, r->dir, "random.csv", err) == 0) load_csv_points(csv, &r->sn->space, &rx, &ry, &rn);
    double bx = res->best.latency_ms, by = res->best.top1;
    double lx[2] = {res->limit_ms, res->limit_ms}, ly[2] = {0, 0};
    for (int i = 0; i < en; i++) ly[0] = fmin(ly[0] == 0 ? ey[i] : ly[0], ey[i]), ly[1] = fmax(ly[1], ey[i]);
    SvgSeries s[4] = {{rx, ry, rn, "#bbbbbb", "random search", 0, 3},
                      {ex, ey, en, "#1f77b4", "evolution", 0, 3},
                      {lx, ly, 2, "#d62728", "latency limit", 1, 1},
                      {&bx, &by, 1, "#ff7f0e", "chosen", 0, 7}};
    int rc = svg_plot(path, "Validation top-1 (inherited weights) vs predicted latency", "latency (ms)", "top-1", s, 4,
                      err);
    free(ex), free(ey), free(rx), free(ry);
    return rc;
}

// The loss of one training log, the mean of every 20 steps, its steps shifted
// by *offset (phases one after another). 0 with *n points (malloc'd *x, *y),
// -1 when the log is absent or memory runs out.
static int read_loss_curve(const char* csv, double* offset, double** x, double** y, int* n) {
    FILE* fp = fopen(csv, "r");
    if (!fp) return -1;
    char line[512];
    int cap = 1024;
    double window = 0, last_step = 0;
    int in_window = 0;
    *n = 0;
    *x = malloc(sizeof(double) * (size_t)cap);
    *y = malloc(sizeof(double) * (size_t)cap);
    if (!fgets(line, sizeof line, fp)) line[0] = 0;
    while (*x && *y && fgets(line, sizeof line, fp)) {
        double step, epoch, lr, loss;
        if (sscanf(line, "%lf,%lf,%lf,%lf", &step, &epoch, &lr, &loss) != 4) continue;
        window += loss, in_window++, last_step = step;
        if (in_window < 20) continue;
        if (*n == cap) {
            cap *= 2;
            double* bx = realloc(*x, sizeof(double) * (size_t)cap);
            if (bx) *x = bx;
            double* by = realloc(*y, sizeof(double) * (size_t)cap);
            if (by) *y = by;
            if (!bx || !by) break;
        }
        (*x)[*n] = *offset + step, (*y)[(*n)++] = window / 20;
        window = 0, in_window = 0;
    }
    fclose(fp);
    *offset += last_step;
    if (*x && *y) return 0;
    free(*x), free(*y);
    return -1;
}

// Training curves: loss per step of every training phase, smoothed over 20 steps.
static int write_train_plot(const Run* r, HwErr* err) {
    const char* files[] = {"train.csv", "train-stage1.csv", "train-stage2.csv", "finetune.csv"};
    const char* colors[] = {"#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"};
    SvgSeries curves[4];
    double* xs[4] = {0};
    double* ys[4] = {0};
    int count = 0, n;
    double offset = 0;
    char path[SAFE_PATH_MAX];
    for (int f = 0; f < 4; f++) {
        if (run_file(path, sizeof path, r->dir, files[f], err) < 0) return -1;
        if (read_loss_curve(path, &offset, &xs[count], &ys[count], &n) < 0) continue;
        curves[count] = (SvgSeries){xs[count], ys[count], n, colors[f], files[f], 1, 2};
        count++;
    }
    int rc = run_file(path, sizeof path, r->dir, "train.svg", err);
    if (rc == 0)
        rc = svg_plot(path, "Training loss (mean of 20 steps)", "step (phases one after another)", "loss", curves,
                      count, err);
    for (int i = 0; i < count; i++) free(xs[i]), free(ys[i]);
    return rc;
}

static const char* mode_name(PipelineMode m) {
    return m == PIPE_TWO_STAGE ? "two-stage (HURRICANE)" : m == PIPE_SPOS_HW ? "SPOS, hardware-specific space"
                                                                              : "SPOS, full operator pool";
}

// The candidates measured on this machine, best first, until one met the limit.
static void write_latency_checks(SafeFile* md, const PipelineOptions* opt, const PipelineResult* res) {
    if (res->n_checks <= 0) return;
    safe_file_printf(md, "\n## Latency check on this machine\n\nThe best candidates by validation top-1, measured "
                         "end to end (batch 1, median of 50 runs) until one meets the limit.\n\n"
                         "| rank | validation top-1 | predicted (ms) | measured (ms) | |\n|---|---|---|---|---|\n");
    for (int i = 0; i < res->n_checks; i++) {
        const LatencyCheck* k = &res->checks[i];
        safe_file_printf(md, "| %d | %.4f | %.3f | %.3f | %s |\n", k->rank, k->top1, k->predicted_ms, k->measured_ms,
                         k->measured_ms <= res->limit_ms ? "meets the limit" : "over the limit");
    }
    // The check stops at the first candidate that meets the limit, the
    // winner: its last row and the winner's final measurement time the
    // same network at two moments.
    double checked = res->checks[res->n_checks - 1].measured_ms;
    int met = checked <= res->limit_ms;
    if (!met)
        safe_file_printf(md, "\nNone of the %d candidates measured meets the limit; the winner is the best by "
                             "prediction.\n", res->n_checks);
    if (met && res->measured_ms > 0 && fabs(res->measured_ms - checked) > 0.1 * checked)
        safe_file_printf(md, "\nThe winner measured %.3f ms here and %.3f ms %s: the same network timed twice; the "
                             "difference is other load on this machine's cores.\n",
                         checked, res->measured_ms, opt->finetune ? "after fine-tuning" : "at the end");
}

// report.md, then the two plots it shows. Every write is checked: a report
// or plot that cannot be written fails the run (exit 1), naming the file.
static int write_report(const Run* r, const PipelineOptions* opt, const PipelineResult* res, HwErr* err) {
    char path[SAFE_PATH_MAX], arch[2048];
    SafeFile report;  // a temporary file renamed into place: no planted link is followed
    if (run_file(path, sizeof path, r->dir, "report.md", err) < 0 || safe_file_begin(&report, path, err) < 0)
        return -1;
    SafeFile* md = &report;
    const Space* s = &r->sn->space;
    arch_string(s, res->best.ops, arch, sizeof arch);
    safe_file_printf(md, "# hwnas run report\n\n");
    safe_file_printf(md, "Method: %s. Space: `%s` (10^%.1f architectures). Target: %s (%s).\n\n",
                     mode_name(opt->mode), s->name, space_log10_size(s), r->lut->device, config_target_name(&r->cfg->target));
    safe_file_printf(md, "## Winner\n\n| | |\n|---|---|\n");
    safe_file_printf(md, "| architecture | `%s` |\n", arch);
    safe_file_printf(md, "| latency limit | %.3f ms |\n| predicted latency | %.3f ms |\n", res->limit_ms,
                     res->best.latency_ms);
    if (res->measured_ms >= 0)
        safe_file_printf(md, "| measured latency (end to end, batch 1) | %.3f ms |\n", res->measured_ms);
    safe_file_printf(md, "| FLOPs | %.2f M |\n| parameters | %.3f M |\n", res->flops / 1e6, res->params / 1e6);
    safe_file_printf(md, "| validation top-1, inherited weights | %.4f |\n", res->best.top1);
    safe_file_printf(md, "| test top-1 %s | %.4f |\n| test top-5 | %.4f |\n",
                     opt->finetune ? "after fine-tuning" : "with inherited weights (no fine-tuning)", res->test_top1,
                     res->test_top5);
    safe_file_printf(md, "\n## Time per phase\n\n| phase | seconds |\n|---|---|\n");
    safe_file_printf(md, "| latency profile | %.1f |\n| space generation | %.1f |\n| supernet training | %.1f |\n",
                     res->seconds_profile, res->seconds_space, res->seconds_train);
    safe_file_printf(md, "| search (%d candidates evaluated) | %.1f |\n| fine-tuning and test | %.1f |\n",
                     res->evaluated, res->seconds_search, res->seconds_finetune);
    write_latency_checks(md, opt, res);
    if (res->has_random)
        safe_file_printf(md,
                         "\n## Evolution vs random search\n\nSame supernet, same limit, same number of evaluations "
                         "(%d).\n\n| search | best validation top-1 | its latency (ms) |\n|---|---|---|\n"
                         "| evolution | %.4f | %.3f |\n| random | %.4f | %.3f |\n",
                         res->random_evaluated, res->best.top1, res->best.latency_ms, res->random_best.top1,
                         res->random_best.latency_ms);
    safe_file_printf(md, "\n## Plots\n\n![Pareto front](pareto.svg)\n\n![Training curves](train.svg)\n");
    safe_file_printf(md, "\nFiles: `space.yaml`, `search.csv`, `pareto.csv`, `best.yaml`, `best.safetensors`, "
                         "`train*.csv`.\n");
    if (safe_file_commit(&report, err) < 0) return -1;
    return write_pareto_plot(r, res, err) < 0 || write_train_plot(r, err) < 0 ? -1 : 0;
}

int pipeline_run(const Config* cfg_in, const char* run_dir, const PipelineOptions* opt, PipelineResult* res,
                 HwErr* err) {
    Config cfg = *cfg_in;
    memset(res, 0, sizeof *res);
    res->measured_ms = -1;
    Run r = {0};
    r.cfg = &cfg;
    r.dir = run_dir;
    r.interrupted = install_interrupt_handler();
    Space pool, space;
    Lut* lut = NULL;
    RankTable* tables = NULL;
    int rc = -1;
    char path[SAFE_PATH_MAX];
    // The space and the data's shape are checked before the run directory is touched.
    if (run_file(path, sizeof path, run_dir, "config.yaml", err) < 0 || space_load(&pool, cfg.space, err) < 0 ||
        batch_feed_check_data(&cfg.data, cfg.path, &pool, err) < 0 || make_dirs(run_dir, err) < 0 || config_write(&cfg, path, err) < 0)
        return -1;
    double t0 = clock_seconds();
    if (!(lut = open_target(&cfg, &pool, run_dir, opt->quick, err))) return -1;
    r.lut = lut;
    res->seconds_profile = clock_seconds() - t0;
    // The search space.
    t0 = clock_seconds();
    space = pool;
    if (opt->mode != PIPE_SPOS_POOL) {
        tables = calloc((size_t)pool.n_layers, sizeof(RankTable));
        if (!tables || run_file(path, sizeof path, run_dir, "space.yaml", err) < 0 ||
            space_generate(&pool, lut, &cfg.space_gen, cfg.target.kind == TARGET_CPU ? "cpu" : "target", &space, tables,
                           err) < 0 ||
            space_write_ranked(&space, tables, config_target_name(&cfg.target), path, err) < 0)
            goto done;
    }
    res->seconds_space = clock_seconds() - t0;
    if (opt->mode != PIPE_SPOS_POOL) {
        // The run's config points at the generated space, so `hwnas eval/extract
        // -c RUN_DIR/config.yaml` work on the run's files.
        if (run_file(cfg.space, sizeof cfg.space, run_dir, "space.yaml", err) < 0 ||
            run_file(path, sizeof path, run_dir, "config.yaml", err) < 0 || config_write(&cfg, path, err) < 0)
            goto done;
    }
    say("search space %s: 10^%.1f architectures", space.name, space_log10_size(&space));
    // The limit must be reachable in the space actually searched.
    res->limit_ms = cfg.latency_ms;
    if (res->limit_ms <= 0 && auto_limit(lut, &space, cfg.train.seed, &res->limit_ms, err) < 0) goto done;
    say("latency limit %s%.3f ms", cfg.latency_ms > 0 ? "" : "(automatic: 40th percentile of random architectures of the space) ",
        res->limit_ms);
    if (device_open(&r.dev, cfg.train.device, cfg.train.threads, err) < 0) goto done;
    EvalOptions valid = eval_options(&cfg, SPLIT_VALID, cfg.search.bn_images, cfg.search.val_images);
    if (!(r.sn = supernet_create(&space, r.dev.ops, &r.dev.ctx, cfg.train.batch, err)) ||
        supernet_init_params(r.sn, cfg.train.seed, err) < 0 || !(r.ev = evaluator_create(r.sn, &valid, err)))
        goto done;
    r.model = (LatencyModel){lut, &space};
    if (path_filter_init(&r.filter, &cfg.train, r.sn, latency_model_predict, &r.model, cfg.path, err) < 0) goto done;
    int n = space.n_layers;
    int pinned[SPACE_MAX_LAYERS];
    SearchOutcome so;
    if (opt->mode == PIPE_TWO_STAGE) {
        int t = cfg.stages.split > 0 && cfg.stages.split < n ? cfg.stages.split : n / 2;
        // Stage 1: layers t+1..n searchable; layers 1..t fixed to their top-ranked operator
        // (fill "first") or sampled uniformly during training (fill "uniform").
        int uniform_fill = cfg.stages.fill == FILL_UNIFORM;
        // Layers 1..t are fixed to their fastest operator on the target, so
        // stage 1 has the most latency room for the layers it searches.
        int fastest[SPACE_MAX_LAYERS];
        for (int l = 0; l < t; l++) {
            double best = INFINITY, ms;
            fastest[l] = 0;
            for (int o = 0; o < space.layers[l].n_ops; o++)
                if (latency_of_layer_op(lut, &space, l, o, &ms, err) == 0 && ms < best) best = ms, fastest[l] = o;
        }
        err->msg[0] = 0;
        for (int l = 0; l < n; l++) pinned[l] = (l < t && !uniform_fill) ? fastest[l] : -1;
        say("stage 1: training layers %s..%.0f", "t+1", (double)n);
        if (train_stage(&r, "stage1.ckpt", "train-stage1.csv", cfg.stages.stage1_epochs, pinned, &res->seconds_train, err) < 0)
            goto done;
        for (int l = 0; l < n; l++) pinned[l] = l < t ? fastest[l] : -1;
        if (search_stage(&r, "stage1-", pinned, res->limit_ms, 0, &so, &res->seconds_search, err) < 0) goto done;
        res->evaluated += so.evaluated;
        // Stage 2: the last layers fixed to stage 1's result, layers 1..t searchable.
        for (int l = 0; l < n; l++) pinned[l] = l < t ? -1 : so.best.ops[l];
        say("stage 2: training layers 1..%s%.0f", "", (double)t);
        if (train_stage(&r, "stage2.ckpt", "train-stage2.csv", cfg.stages.stage2_epochs, pinned, &res->seconds_train, err) < 0)
            goto done;
        if (search_stage(&r, "", pinned, res->limit_ms, 0, &so, &res->seconds_search, err) < 0) goto done;
        res->evaluated += so.evaluated;
    } else {
        if (train_stage(&r, "supernet.ckpt", "train.csv", cfg.train.epochs, NULL, &res->seconds_train, err) < 0) goto done;
        if (search_stage(&r, "", NULL, res->limit_ms, 0, &so, &res->seconds_search, err) < 0) goto done;
        res->evaluated = so.evaluated;
    }
    if (run_file(path, sizeof path, run_dir, "search.csv", err) < 0 ||
        check_winner_latency(&r, path, &so, res, err) < 0)
        goto done;
    res->best = so.best;
    res->flops = 2.0 * supernet_path_macs(r.sn, so.best.ops);
    res->params = supernet_path_params(r.sn, so.best.ops);
    say("winner: validation top-1 %s%.4f", "", so.best.top1);
    if (opt->random_baseline) {
        // Random search over the whole space on the final supernet, with as
        // many evaluations as the method used.
        SearchJob rj = {&cfg.search, r.sn, r.ev, lut, res->limit_ms, NULL, run_dir, "", 0, 1};
        SearchOutcome ro;
        memset(&ro, 0, sizeof ro);
        if (search_random(&rj, res->evaluated, &ro, err) < 0) goto done;
        res->has_random = 1;
        res->random_best = ro.random_best;
        res->random_evaluated = ro.random_evaluated;
    }
    if (opt->finetune) {
        say("fine-tuning the winner for %s%.0f epochs", "", (double)cfg.finetune.epochs);
        if (finetune_winner(&r, &res->best, res, err) < 0) goto done;
        say("test top-1 %s%.4f", "", res->test_top1);
    } else {
        if (test_inherited(&r, &res->best, res, err) < 0) goto done;
        say("test top-1 with inherited weights %s%.4f", "", res->test_top1);
    }
    Candidate winner = res->best;
    if (run_file(path, sizeof path, run_dir, "best.yaml", err) < 0 || search_write_arch(r.sn, &winner, path, err) < 0)
        goto done;
    if (opt->report && write_report(&r, opt, res, err) < 0) goto done;
    rc = 0;
done:
    evaluator_destroy(r.ev);
    supernet_destroy(r.sn);
    device_close(&r.dev);
    lut_free(lut);
    free(tables);
    return rc;
}
