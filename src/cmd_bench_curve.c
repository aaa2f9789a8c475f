// hwnas bench curve: time to accuracy. Each method (SPOS over the full
// pool, SPOS over the hardware-specific space, the two-stage method) is run
// at several supernet-training budgets, every budget a run of its own with
// its own learning-rate schedule, all with one latency table, one limit and
// one search budget. The winner's test top-1 (inherited weights, BN
// recalibrated) against supernet training time is the curve; the training
// time each method needs to reach an accuracy is read off it
// (search/time_to_accuracy.h). Wiring only: every run is pipeline_run.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "search/latency_limit.h"
#include "search/time_to_accuracy.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/pipeline.h"
#include "src/svg.h"
#include "supernet/run_dir.h"

#define CURVE_MAX_BUDGETS 8
#define CURVE_METHODS 3
#define CURVE_ROW_FILE "curve-row.csv"
#define CURVE_ROW_HEADER                                                                                             \
    "method,budget,epochs,train_seconds,search_seconds,evaluated,val_top1,test_top1,predicted_ms,measured_ms,"       \
    "limit_ms,train_resumed\n"

static const char* kCurveUsage =
    "usage: hwnas bench curve [-c CONFIG] [-o DIR] [--budgets 1,2,3,5] [--methods spos,spos-hw,two-stage]\n"
    "                         [--quick] [--report-only] [--set KEY=VALUE ...]\n"
    "Time to accuracy: every method searched after every supernet-training budget E\n"
    "(epoch-equivalents: SPOS trains E epochs; the two-stage method splits E between\n"
    "its stages in the config's stage1_epochs:stage2_epochs ratio, at least 1 each, so\n"
    "it needs E >= 2). Each (method, E) is a run of its own in DIR/METHOD-eE, with its own\n"
    "learning-rate schedule, the same latency table (DIR/target-cpu.yaml for target cpu),\n"
    "the same limit (latency_ms, else the 40th percentile of the full pool) and the same\n"
    "search budget; no fine-tuning. Writes DIR/curve.csv, DIR/curve.md (the curves and\n"
    "the training time each method needs to reach an accuracy) and DIR/curve.svg (test\n"
    "top-1 with inherited weights against supernet training seconds). Finished runs\n"
    "are kept (DIR/METHOD-eE/curve-row.csv); run the same command again to continue,\n"
    "or with more budgets or methods to extend the curves. --report-only writes the three\n"
    "files from the finished runs alone and runs nothing (a budget not run is left out).\n"
    "Default DIR runs/bench-curve.\n";

typedef struct CurveMethod {
    const char* name;
    const char* label;
    const char* color;
    PipelineMode mode;
} CurveMethod;

static const CurveMethod kMethods[CURVE_METHODS] = {
    {"spos", "SPOS, full pool", "#d62728", PIPE_SPOS_POOL},
    {"spos-hw", "SPOS, hardware-specific space", "#ff7f0e", PIPE_SPOS_HW},
    {"two-stage", "two-stage (HURRICANE)", "#1f77b4", PIPE_TWO_STAGE},
};

typedef struct CurveRow {
    int done;      // 0: not run (two-stage at E < 2)
    int e1, e2;    // epochs (SPOS: e1 only)
    PipelineResult res;
} CurveRow;

typedef struct Curve {
    const char* out;
    int quick, report_only;
    Config cfg;
    int use[CURVE_METHODS];
    int budgets[CURVE_MAX_BUDGETS], n_budgets;
    double limit_ms;
    CurveRow rows[CURVE_METHODS][CURVE_MAX_BUDGETS];
} Curve;

// "1,2,3,5": 1..CURVE_MAX_BUDGETS increasing epoch counts in 1..10000.
static int parse_budgets(const char* text, Curve* c, HwErr* err) {
    char item[32];
    const char* p = text;
    c->n_budgets = 0;
    for (;;) {
        const char* comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int e = 0;
        if (len >= sizeof item || c->n_budgets == CURVE_MAX_BUDGETS) break;
        snprintf(item, sizeof item, "%.*s", (int)len, p);
        if (flag_int("--budgets", item, 1, 10000, &e, err) < 0) break;
        if (c->n_budgets > 0 && e <= c->budgets[c->n_budgets - 1]) break;
        c->budgets[c->n_budgets++] = e;
        if (!comma) return 0;
        p = comma + 1;
    }
    return hw_bad_input(err, NULL, 0, "--budgets: found '%s', expected 1 to %d increasing epoch counts, e.g. 1,2,3,5",
                        text, CURVE_MAX_BUDGETS);
}

// "spos,two-stage": a subset of the three methods, each named once.
static int parse_methods(const char* text, Curve* c, HwErr* err) {
    char item[32];
    const char* p = text;
    memset(c->use, 0, sizeof c->use);
    for (;;) {
        const char* comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int m = CURVE_METHODS;
        if (len < sizeof item) {
            snprintf(item, sizeof item, "%.*s", (int)len, p);
            for (m = 0; m < CURVE_METHODS && strcmp(item, kMethods[m].name); m++) {}
        }
        if (m == CURVE_METHODS || c->use[m]) break;
        c->use[m] = 1;
        if (!comma) return 0;
        p = comma + 1;
    }
    return hw_bad_input(err, NULL, 0, "--methods: found '%s', expected some of spos, spos-hw, two-stage, each once",
                        text);
}

typedef struct CurveArgs {
    const char *config, *out, *budgets, *methods;
    int quick, report_only;
    ConfigOverrides sets;
} CurveArgs;

// 0 to run, 1 after --help, 2 on a usage error (printed).
static int parse_curve_args(int argc, char** argv, CurveArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', CurveArgs, config),   FLAG_TEXT_ROW("out", 'o', CurveArgs, out),
        FLAG_TEXT_ROW("budgets", 0, CurveArgs, budgets),   FLAG_TEXT_ROW("methods", 0, CurveArgs, methods),
        FLAG_ON_ROW("quick", CurveArgs, quick),            FLAG_ON_ROW("report-only", CurveArgs, report_only),
        FLAG_SET_ROW(CurveArgs, sets),
        FLAG_END};
    *a = (CurveArgs){.config = "configs/fmnist.yaml", .out = "runs/bench-curve", .budgets = "1,2,3,5",
                     .methods = "spos,spos-hw,two-stage"};
    int next, rc = flags_parse(argc, argv, flags, a, kCurveUsage, &next);
    if (rc) return rc;
    if (next != argc) {
        fprintf(stderr, "hwnas: error: bench curve: unexpected argument '%s'\n", argv[next]);
        return 2;
    }
    return 0;
}

// The budgets, the methods and the config (--quick's settings, then --set).
static int curve_setup(const CurveArgs* a, Curve* c, HwErr* err) {
    c->out = a->out, c->quick = a->quick, c->report_only = a->report_only;
    if (parse_budgets(a->budgets, c, err) < 0 || parse_methods(a->methods, c, err) < 0) return -1;
    config_defaults(&c->cfg);
    if (config_load(&c->cfg, a->config, err) < 0) return -1;
    if (c->quick) pipeline_quick_config(&c->cfg);
    return overrides_apply(&a->sets, &c->cfg, err);
}

// Stage epochs of the two-stage method at budget e: the config's ratio,
// rounded, at least 1 each (2 -> 1+1, 3 -> 2+1, 5 -> 3+2 for 3:2).
static void split_budget(const Config* cfg, int e, int* e1, int* e2) {
    int s1 = cfg->stages.stage1_epochs, s2 = cfg->stages.stage2_epochs;
    int first = (int)lround((double)e * s1 / (s1 + s2));
    if (first < 1) first = 1;
    if (first > e - 1) first = e - 1;
    *e1 = first, *e2 = e - first;
}

// The first run: saves DIR/config.yaml. Later runs: refused when the
// config differs (the curves would mix two experiments).
static int check_or_save_config(const Curve* c, HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (run_dir_file(path, sizeof path, c->out, RUN_CONFIG, err) < 0) return -1;
    if (access(path, F_OK) != 0) return config_write(&c->cfg, path, err);
    static const char* const kAll[] = {"data.", "space", "train.", "search.", "stages.", "space_gen.", "target",
                                       "latency_ms", NULL};
    char changed[512];
    int n = config_file_changed_keys(&c->cfg, path, kAll, changed, sizeof changed, err);
    return n > 0 ? hw_bad_input(err, path, 0, "these curves used other values of %s; use another -o", changed) : n;
}

// The table every run uses and the limit: measured once into DIR for
// target cpu (each run directory gets a copy), the target's file otherwise.
static int prepare_target(Curve* c, HwErr* err) {
    Space pool;
    char path[SAFE_PATH_MAX];
    if (space_load(&pool, c->cfg.space, err) < 0) return -1;
    Lut* lut = NULL;
    if (c->cfg.target.kind == TARGET_FILE) {
        lut = target_open(&c->cfg.target, &pool, c->cfg.train.threads, c->quick, err);
    } else if (run_dir_file(path, sizeof path, c->out, RUN_TARGET_CPU, err) == 0) {
        if (access(path, F_OK) == 0) {
            lut = lut_load(path, err);
        } else if ((lut = target_open(&c->cfg.target, &pool, c->cfg.train.threads, c->quick, err))) {
            snprintf(lut->source, sizeof lut->source, "hwnas bench curve (latency profile of %s)", pool.name);
            if (lut_write(lut, path, err) < 0) lut_free(lut), lut = NULL;
        }
    }
    if (!lut) return -1;
    c->limit_ms = c->cfg.latency_ms;
    int rc = c->limit_ms > 0 ? 0 : latency_auto_limit(lut, &pool, c->cfg.train.seed, &c->limit_ms, err);
    lut_free(lut);
    return rc;
}

// DIR made, its config checked (or saved) and the table and limit read.
// --report-only makes nothing: DIR must hold an earlier curve's config and,
// for target cpu, its table (else it would be measured now).
static int prepare_out(Curve* c, HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (c->report_only) {
        const char* need[] = {RUN_CONFIG, RUN_TARGET_CPU};
        for (int i = 0; i < (c->cfg.target.kind == TARGET_CPU ? 2 : 1); i++) {
            if (run_dir_file(path, sizeof path, c->out, need[i], err) < 0) return -1;
            if (access(path, F_OK) != 0)
                return hw_bad_input(err, path, 0, "not found: --report-only needs the runs of an earlier bench curve");
        }
    } else if (make_dirs(c->out, err) < 0) {
        return -1;
    }
    return check_or_save_config(c, err) < 0 || prepare_target(c, err) < 0 ? -1 : 0;
}

static int finished_points(const Curve* c) {
    int n = 0;
    for (int m = 0; m < CURVE_METHODS; m++)
        for (int k = 0; k < c->n_budgets; k++) n += c->use[m] && c->rows[m][k].done;
    return n;
}

static void epochs_text(const CurveRow* row, char* out, size_t cap) {
    if (row->e2 > 0) snprintf(out, cap, "%d+%d", row->e1, row->e2);
    else snprintf(out, cap, "%d", row->e1);
}

static void print_row(SafeFile* f, const CurveMethod* m, int budget, const CurveRow* row) {
    const PipelineResult* r = &row->res;
    char epochs[32];
    epochs_text(row, epochs, sizeof epochs);
    safe_file_printf(f, "%s,%d,%s,%.1f,%.1f,%d,%.4f,%.4f,%.3f,%.3f,%.3f,%d\n", m->name, budget, epochs,
                     r->seconds_train, r->seconds_search, r->evaluated, r->best.top1, r->test_top1,
                     r->best.latency_ms, r->measured_ms, r->limit_ms, r->train_resumed);
}

static int write_row_file(const char* dir, const CurveMethod* m, int budget, const CurveRow* row, HwErr* err) {
    char path[SAFE_PATH_MAX];
    SafeFile f;
    if (run_dir_file(path, sizeof path, dir, CURVE_ROW_FILE, err) < 0 || safe_file_begin(&f, path, err) < 0)
        return -1;
    safe_file_printf(&f, CURVE_ROW_HEADER);
    print_row(&f, m, budget, row);
    return safe_file_commit(&f, err);
}

// A finished run's row, as write_row_file wrote it: the header, then one
// row of this method and budget with finite numbers.
static int read_row_file(const char* path, const CurveMethod* m, int budget, CurveRow* row, HwErr* err) {
    char text[2048] = {0}, name[32], epochs[32];
    FILE* fp = fopen(path, "r");
    if (!fp) return hw_bad_input(err, path, 0, "cannot read: %s", strerror(errno));
    size_t got = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    size_t header = strlen(CURVE_ROW_HEADER);
    PipelineResult* r = &row->res;
    int b = 0, resumed = 0, used = 0;
    if (got <= header || memcmp(text, CURVE_ROW_HEADER, header) != 0)
        return hw_bad_input(err, path, 1, "expected the header %.*s", (int)header - 1, CURVE_ROW_HEADER);
    if (sscanf(text + header, "%31[^,],%d,%31[^,],%lf,%lf,%d,%lf,%lf,%lf,%lf,%lf,%d\n%n", name, &b, epochs,
               &r->seconds_train, &r->seconds_search, &r->evaluated, &r->best.top1, &r->test_top1,
               &r->best.latency_ms, &r->measured_ms, &r->limit_ms, &resumed, &used) != 12 ||
        header + (size_t)used != got || strcmp(name, m->name) || b != budget || !isfinite(r->seconds_train) ||
        !isfinite(r->seconds_search) || !isfinite(r->best.top1) || !isfinite(r->test_top1) ||
        !isfinite(r->best.latency_ms) || !isfinite(r->measured_ms) || !isfinite(r->limit_ms))
        return hw_bad_input(err, path, 2, "expected one row of method %s, budget %d, with finite numbers", m->name,
                            budget);
    r->train_resumed = resumed != 0;
    row->done = 1;
    return 0;
}

// Runs (or reads back) method m at budget index k.
static int run_point(Curve* c, int m, int k, HwErr* err) {
    const CurveMethod* M = &kMethods[m];
    CurveRow* row = &c->rows[m][k];
    int e = c->budgets[k];
    char dir[SAFE_PATH_MAX], path[SAFE_PATH_MAX];
    Config cfg = c->cfg;
    if (M->mode == PIPE_TWO_STAGE) {
        if (e < 2) return 0;
        split_budget(&cfg, e, &row->e1, &row->e2);
        cfg.stages.stage1_epochs = row->e1, cfg.stages.stage2_epochs = row->e2;
    } else {
        row->e1 = cfg.train.epochs = e;
    }
    if (safe_path(dir, sizeof dir, err, "%s/%s-e%d", c->out, M->name, e) < 0 ||
        run_dir_file(path, sizeof path, dir, CURVE_ROW_FILE, err) < 0)
        return -1;
    if (access(path, F_OK) == 0) {
        if (read_row_file(path, M, e, row, err) < 0) return -1;
        fprintf(stderr, "hwnas bench curve: %s, %d epoch%s: kept from %s\n", M->label, e, e == 1 ? "" : "s", path);
        return 0;
    }
    if (c->report_only) {
        fprintf(stderr, "hwnas bench curve: %s, %d epoch%s: not run, left out\n", M->label, e, e == 1 ? "" : "s");
        return 0;
    }
    if (make_dirs(dir, err) < 0) return -1;
    if (cfg.target.kind == TARGET_CPU) {
        char from[SAFE_PATH_MAX], to[SAFE_PATH_MAX];
        if (run_dir_file(from, sizeof from, c->out, RUN_TARGET_CPU, err) < 0 ||
            run_dir_file(to, sizeof to, dir, RUN_TARGET_CPU, err) < 0 || copy_file_atomic(from, to, err) < 0)
            return -1;
    }
    cfg.latency_ms = (float)c->limit_ms;
    fprintf(stderr, "hwnas bench curve: %s, %d epoch%s, in %s\n", M->label, e, e == 1 ? "" : "s", dir);
    PipelineOptions po = {M->mode, c->quick, 0, 0, 1};
    if (pipeline_run(&cfg, dir, &po, &row->res, err) < 0) return -1;
    row->done = 1;
    return write_row_file(dir, M, e, row, err);
}

// One method's finished points, in budget order.
typedef struct CurvePoints {
    double seconds[CURVE_MAX_BUDGETS], top1[CURVE_MAX_BUDGETS];
    int n;
} CurvePoints;

static void collect_points(const Curve* c, CurvePoints pts[CURVE_METHODS]) {
    for (int m = 0; m < CURVE_METHODS; m++) {
        pts[m].n = 0;
        for (int k = 0; k < c->n_budgets; k++) {
            const CurveRow* row = &c->rows[m][k];
            if (!c->use[m] || !row->done) continue;
            pts[m].seconds[pts[m].n] = row->res.seconds_train, pts[m].top1[pts[m].n] = row->res.test_top1;
            pts[m].n++;
        }
    }
}

static void write_md_points(SafeFile* md, const Curve* c) {
    safe_file_printf(md, "| method | budget | epochs | supernet training (s) | search (s) | evaluated | val top-1 | "
                         "test top-1 | predicted / measured ms |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int m = 0; m < CURVE_METHODS; m++)
        for (int k = 0; k < c->n_budgets; k++) {
            const CurveRow* row = &c->rows[m][k];
            if (!c->use[m] || !row->done) continue;
            const PipelineResult* r = &row->res;
            char epochs[32];
            epochs_text(row, epochs, sizeof epochs);
            safe_file_printf(md, "| %s | %d | %s | %.1f%s | %.1f | %d | %.4f | %.4f | %.3f / %.3f |\n",
                             kMethods[m].label, c->budgets[k], epochs, r->seconds_train,
                             r->train_resumed ? " (resumed: this process only)" : "", r->seconds_search,
                             r->evaluated, r->best.top1, r->test_top1, r->best.latency_ms, r->measured_ms);
        }
}

// The saving of method b over method a at one top-1: 1 - t_b / t_a. A time
// read at a curve's first point is only an upper bound, so the saving is a
// lower bound when b's is, and unknown when a's is.
static void print_saving(SafeFile* md, double t_a, int bound_a, double t_b, int bound_b) {
    double s = tta_saving(t_a, t_b);
    if (isnan(s) || bound_a) safe_file_printf(md, " - |");
    else safe_file_printf(md, " %s%.1f%% |", bound_b ? ">= " : "", 100.0 * s);
}

// One time cell; sets *bound when the time is read at the curve's first point.
static double print_time(SafeFile* md, const CurvePoints* p, double level, int* bound) {
    double t = tta_seconds(p->seconds, p->top1, p->n, level);
    *bound = t >= 0 && p->top1[0] >= level;
    if (t < 0) safe_file_printf(md, " not reached |");
    else safe_file_printf(md, " %s%.0f |", *bound ? "<= " : "", t);
    return t;
}

// Method b against method a at the highest top-1 both reach, and 2 and 5
// points below it. A level shared by every method would be the weakest
// curve's best, which the strong curves pass at their first budget, where
// a curve says nothing; each pair gets its own levels instead.
static void write_md_pair(SafeFile* md, const CurvePoints pts[CURVE_METHODS], int a, int b) {
    const double* top1[2] = {pts[a].top1, pts[b].top1};
    int n[2] = {pts[a].n, pts[b].n};
    double level = tta_common_level(top1, n, 2);
    if (pts[a].n == 0 || pts[b].n == 0 || level <= 0) return;
    safe_file_printf(md, "\n### %s vs %s\n\n%.4f is the highest test top-1 both reach.\n\n| test top-1 | %s (s) | "
                         "%s (s) | training time %s saves |\n|---|---|---|---|",
                     kMethods[b].label, kMethods[a].label, level, kMethods[a].label, kMethods[b].label,
                     kMethods[b].name);
    const double offsets[] = {0, 0.02, 0.05};
    for (int i = 0; i < 3; i++) {
        double lv = level - offsets[i];
        int bound_a, bound_b;
        safe_file_printf(md, "\n| %.4f |", lv);
        double t_a = print_time(md, &pts[a], lv, &bound_a);
        double t_b = print_time(md, &pts[b], lv, &bound_b);
        print_saving(md, t_a, bound_a, t_b, bound_b);
    }
    safe_file_printf(md, "\n");
}

// Training seconds each method needs to reach a top-1, pair by pair: the
// two-stage method against SPOS over each space, then what the hardware
// space alone buys (SPOS over it against SPOS over the full pool).
static void write_md_reach(SafeFile* md, const CurvePoints pts[CURVE_METHODS]) {
    int curves = 0;
    for (int m = 0; m < CURVE_METHODS; m++) curves += pts[m].n > 0;
    if (curves < 2) return;
    safe_file_printf(md, "\n## Training time to reach a test top-1\n\nRead off the curves (linear between "
                         "budgets; `<=` when a method's smallest budget already reaches it, so the curve says "
                         "nothing earlier, and a saving from it is a bound or unknown, `-`).\n");
    write_md_pair(md, pts, 1, 2);
    write_md_pair(md, pts, 0, 2);
    write_md_pair(md, pts, 0, 1);
}

static int write_md(const Curve* c, const CurvePoints pts[CURVE_METHODS], const char* path, HwErr* err) {
    SafeFile md;
    if (safe_file_begin(&md, path, err) < 0) return -1;
    safe_file_printf(&md, "# Time to accuracy: SPOS vs the two-stage method\n\nSpace `%s`, target `%s`, latency "
                          "limit %.3f ms, seed %llu. Each row is a run of its own (its own learning-rate schedule) "
                          "with the same search budget (population %d, %d iterations). Test top-1 of the winner "
                          "with inherited weights (BN recalibrated), no fine-tuning.\n\n",
                     c->cfg.space, config_target_name(&c->cfg.target), c->limit_ms,
                     (unsigned long long)c->cfg.train.seed, c->cfg.search.population, c->cfg.search.iterations);
    write_md_points(&md, c);
    write_md_reach(&md, pts);
    safe_file_printf(&md, "\nHURRICANE reports 30.4%% less training time than SPOS at equal or better top-1.\n\n"
                          "![test top-1 vs supernet training time](curve.svg)\n");
    return safe_file_commit(&md, err);
}

static int write_csv(const Curve* c, const char* path, HwErr* err) {
    SafeFile csv;
    if (safe_file_begin(&csv, path, err) < 0) return -1;
    safe_file_printf(&csv, CURVE_ROW_HEADER);
    for (int m = 0; m < CURVE_METHODS; m++)
        for (int k = 0; k < c->n_budgets; k++)
            if (c->use[m] && c->rows[m][k].done) print_row(&csv, &kMethods[m], c->budgets[k], &c->rows[m][k]);
    return safe_file_commit(&csv, err);
}

static int write_outputs(const Curve* c, HwErr* err) {
    CurvePoints pts[CURVE_METHODS];
    collect_points(c, pts);
    SvgSeries series[CURVE_METHODS];
    int count = 0;
    for (int m = 0; m < CURVE_METHODS; m++)
        if (pts[m].n > 0)
            series[count++] = (SvgSeries){pts[m].seconds, pts[m].top1, pts[m].n, kMethods[m].color,
                                          kMethods[m].label, 1, 2};
    char csv[SAFE_PATH_MAX], md[SAFE_PATH_MAX], svg[SAFE_PATH_MAX];
    if (run_dir_file(csv, sizeof csv, c->out, "curve.csv", err) < 0 ||
        run_dir_file(md, sizeof md, c->out, "curve.md", err) < 0 ||
        run_dir_file(svg, sizeof svg, c->out, "curve.svg", err) < 0 || write_csv(c, csv, err) < 0 ||
        write_md(c, pts, md, err) < 0)
        return -1;
    if (count > 0 && svg_plot(svg, "Winner's test top-1 vs supernet training time", "supernet training (s)",
                              "test top-1 (inherited weights)", series, count, err) < 0)
        return -1;
    printf("table: %s\n", md);
    return 0;
}

int bench_curve_main(int argc, char** argv) {
    Curve* c = calloc(1, sizeof *c);
    if (!c) return fputs("hwnas: error: out of memory\n", stderr), 1;
    CurveArgs a;
    HwErr err = {0};
    int parsed = parse_curve_args(argc, argv, &a);
    if (parsed || curve_setup(&a, c, &err) < 0) {
        free(c);
        return parsed ? (parsed == 1 ? 0 : parsed) : cli_fail(&err);
    }
    static const char* const kMethodChoice[] = {"stages.enabled", "train.epochs", "stages.stage1_epochs",
                                                "stages.stage2_epochs", "finetune.", NULL};
    Config base;
    config_defaults(&base);
    if (c->quick) pipeline_quick_config(&base);
    warn_unused_keys("bench curve", &c->cfg, &base, kMethodChoice);
    int rc = prepare_out(c, &err) < 0;
    for (int k = 0; !rc && k < c->n_budgets; k++)
        for (int m = 0; !rc && m < CURVE_METHODS; m++)
            if (c->use[m]) rc = run_point(c, m, k, &err) < 0;
    if (!rc && finished_points(c) == 0)
        rc = hw_bad_input(&err, c->out, 0, "no finished run of these methods and budgets to report") < 0;
    if (!rc) rc = write_outputs(c, &err) < 0;
    free(c);
    return rc ? cli_fail(&err) : 0;
}
