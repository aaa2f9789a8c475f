// report.md and its plots, from the run directory's files and the run's numbers.
#include "src/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/safe_file.h"
#include "search/search_run.h"
#include "search/winner_check.h"
#include "src/svg.h"
#include "supernet/run_dir.h"

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
    if (search_read_candidates(path, s, &c, &count, &err) < 0) return -1;
    *x = malloc(sizeof(double) * (size_t)(count + 1));
    *y = malloc(sizeof(double) * (size_t)(count + 1));
    for (int i = 0; i < count; i++) (*x)[i] = c[i].latency_ms, (*y)[i] = c[i].top1;
    *n = count;
    free(c);
    return 0;
}

// The scatter of every candidate searched (and of the random baseline), the
// limit and the winner.
static int write_pareto_plot(const ReportInput* in, HwErr* err) {
    const PipelineResult* res = in->res;
    char path[SAFE_PATH_MAX], csv[SAFE_PATH_MAX];
    double *ex = NULL, *ey = NULL, *rx = NULL, *ry = NULL;
    int en = 0, rn = 0;
    if (run_dir_file(path, sizeof path, in->dir, RUN_PARETO_SVG, err) < 0) return -1;
    // The plot shows what can be read: a missing random.csv is an empty series.
    if (run_dir_file(csv, sizeof csv, in->dir, RUN_SEARCH_CSV, err) == 0) load_csv_points(csv, in->space, &ex, &ey, &en);
    if (run_dir_file(csv, sizeof csv, in->dir, RUN_RANDOM_CSV, err) == 0) load_csv_points(csv, in->space, &rx, &ry, &rn);
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
static int write_train_plot(const char* dir, HwErr* err) {
    const char* files[] = {RUN_TRAIN_CSV, RUN_STAGE1_CSV, RUN_STAGE2_CSV, RUN_FINETUNE_CSV};
    const char* colors[] = {"#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"};
    SvgSeries curves[4];
    double* xs[4] = {0};
    double* ys[4] = {0};
    int count = 0, n;
    double offset = 0;
    char path[SAFE_PATH_MAX];
    for (int f = 0; f < 4; f++) {
        if (run_dir_file(path, sizeof path, dir, files[f], err) < 0) return -1;
        if (read_loss_curve(path, &offset, &xs[count], &ys[count], &n) < 0) continue;
        curves[count] = (SvgSeries){xs[count], ys[count], n, colors[f], files[f], 1, 2};
        count++;
    }
    int rc = run_dir_file(path, sizeof path, dir, RUN_TRAIN_SVG, err);
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
static void write_latency_checks(SafeFile* md, int finetune, const PipelineResult* res) {
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
                         checked, res->measured_ms, finetune ? "after fine-tuning" : "at the end");
}

// The constraints beside latency that the search had (search.max_*), if any.
static void write_cost_limits(SafeFile* md, const PipelineResult* res) {
    static const char* const kWhat[SEARCH_COST_COUNT] = {"parameter limit", "FLOPs limit",
                                                         "peak activation memory limit"};
    static const char* const kUnit[SEARCH_COST_COUNT] = {"", " M", " KiB"};
    for (int k = 0; k < SEARCH_COST_COUNT; k++)
        if (res->cost_limit[k] > 0)
            safe_file_printf(md, "| %s (search.max_%s) | %.10g%s |\n", kWhat[k], search_cost_name((SearchCost)k),
                             res->cost_limit[k], kUnit[k]);
}

// report.md, then the two plots it shows. Every write is checked: a report
// or plot that cannot be written fails the run (exit 1), naming the file.
int report_write(const ReportInput* in, HwErr* err) {
    const PipelineResult* res = in->res;
    char path[SAFE_PATH_MAX], arch[2048];
    SafeFile report;  // a temporary file renamed into place: no planted link is followed
    if (run_dir_file(path, sizeof path, in->dir, RUN_REPORT, err) < 0 || safe_file_begin(&report, path, err) < 0)
        return -1;
    SafeFile* md = &report;
    const Space* s = in->space;
    arch_string(s, res->best.ops, arch, sizeof arch);
    safe_file_printf(md, "# hwnas run report\n\n");
    safe_file_printf(md, "Method: %s. Space: `%s` (10^%.1f architectures). Target: %s (%s).\n\n",
                     mode_name(in->mode), s->name, space_log10_size(s), in->target_device, in->target);
    safe_file_printf(md, "## Winner\n\n| | |\n|---|---|\n");
    safe_file_printf(md, "| architecture | `%s` |\n", arch);
    safe_file_printf(md, "| latency limit | %.3f ms |\n| predicted latency | %.3f ms |\n", res->limit_ms,
                     res->best.latency_ms);
    if (res->measured_ms >= 0)
        safe_file_printf(md, "| measured latency (end to end, batch 1) | %.3f ms |\n", res->measured_ms);
    safe_file_printf(md, "| FLOPs | %.2f M |\n| parameters | %.3f M |\n", res->flops / 1e6, res->params / 1e6);
    safe_file_printf(md, "| peak activation memory (batch 1, float32) | %.1f KiB |\n", res->peak_kb);
    write_cost_limits(md, res);
    safe_file_printf(md, "| validation top-1, inherited weights | %.4f |\n", res->best.top1);
    safe_file_printf(md, "| test top-1 %s | %.4f |\n| test top-5 | %.4f |\n",
                     in->finetune ? "after fine-tuning" : "with inherited weights (no fine-tuning)", res->test_top1,
                     res->test_top5);
    safe_file_printf(md, "\n## Time per phase\n\n| phase | seconds |\n|---|---|\n");
    safe_file_printf(md, "| latency profile | %.1f |\n| space generation | %.1f |\n| supernet training | %.1f |\n",
                     res->seconds_profile, res->seconds_space, res->seconds_train);
    safe_file_printf(md, "| search (%d candidates evaluated) | %.1f |\n| fine-tuning and test | %.1f |\n",
                     res->evaluated, res->seconds_search, res->seconds_finetune);
    write_latency_checks(md, in->finetune, res);
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
    return write_pareto_plot(in, err) < 0 || write_train_plot(in->dir, err) < 0 ? -1 : 0;
}
