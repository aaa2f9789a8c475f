// hwnas run: target -> hardware-specific space -> (two-stage) supernet
// training and search -> extract -> fine-tune -> test -> report.
#include "src/pipeline.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/progress.h"
#include "common/safe_file.h"
#include "deploy/onnx_export.h"
#include "search/latency.h"
#include "search/latency_limit.h"
#include "search/search_run.h"
#include "supernet/peak_memory.h"
#include "search/space_gen.h"
#include "search/two_stage.h"
#include "search/winner_check.h"
#include "src/cmd_common.h"
#include "src/device.h"
#include "src/report.h"
#include "supernet/arch.h"
#include "supernet/checkpoint.h"
#include "supernet/evaluate.h"
#include "supernet/run_dir.h"
#include "supernet/safetensors.h"
#include "supernet/trainer.h"

__attribute__((format(printf, 1, 2))) static void say(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hwnas run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
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
    if (run_dir_file(path, sizeof path, run_dir, RUN_TARGET_CPU, err) < 0) return NULL;
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
    int train_resumed;    // a stage was (partly) trained by an earlier process
} Run;

static int train_stage(Run* r, const char* ckpt, const char* csv, int epochs, const int* pinned, double* seconds,
                       HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (run_dir_file(path, sizeof path, r->dir, ckpt, err) < 0) return -1;
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
        r->train_resumed = 1;
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

// The winner's latency with the weights in `weights` (-1 when the target is
// not this CPU).
static int measure_winner(Run* r, const Candidate* best, const char* weights, PipelineResult* res, HwErr* err) {
    res->measured_ms = -1;
    if (r->cfg->target.kind != TARGET_CPU) return 0;
    return winner_measure(&r->sn->space, best->ops, weights, &r->dev.ctx, &res->measured_ms, err);
}

// Without fine-tuning: the winner's test accuracy with the weights it
// inherits from the supernet, BN recalibrated over 2,000 training images (at
// least the search's number), as the training-time benchmark compares
// supernets. The weights are written after the recalibration, so that
// `hwnas eval` of best-inherited.safetensors gives the accuracy reported.
static int test_inherited(Run* r, const Candidate* best, PipelineResult* res, HwErr* err) {
    char inherited[SAFE_PATH_MAX];
    if (run_dir_file(inherited, sizeof inherited, r->dir, RUN_BEST_INHERITED, err) < 0) return -1;
    int recal = r->cfg->search.bn_images > 2000 ? r->cfg->search.bn_images : 2000;
    EvalOptions eo = eval_options(r->cfg, SPLIT_TEST, recal, r->cfg->data.limit_test);
    Evaluator* test = evaluator_create(r->sn, &eo, err);
    if (!test) return -1;
    Progress shown;
    progress_begin(&shown, "hwnas run", "test, images", evaluator_images(test));
    test->progress = &shown;
    int rc = evaluator_score(test, best->ops, &res->test_top1, &res->test_top5, err);
    progress_end(&shown);
    evaluator_destroy(test);
    if (rc == 0) rc = safetensors_write_subnet(r->sn, best->ops, inherited, err);
    if (rc == 0) rc = measure_winner(r, best, inherited, res, err);
    return rc;
}

// Fine-tunes the winner from its inherited weights on the whole training
// set, tests it and measures its latency end to end. A fine-tune stopped
// part way (killed, interrupted) continues from its last checkpoint when the
// run is started again: the search before it picks the same winner, so the
// checkpoint is this subnet's, and the trainer's resume is exact; a finished
// fine-tune is not trained again.
static int finetune_winner(Run* r, const Candidate* best, PipelineResult* res, HwErr* err) {
    const Config* cfg = r->cfg;
    char inherited[SAFE_PATH_MAX], final_path[SAFE_PATH_MAX], ckpt[SAFE_PATH_MAX];
    if (run_dir_file(inherited, sizeof inherited, r->dir, RUN_BEST_INHERITED, err) < 0 ||
        run_dir_file(final_path, sizeof final_path, r->dir, RUN_BEST_WEIGHTS, err) < 0 ||
        run_dir_file(ckpt, sizeof ckpt, r->dir, RUN_FINETUNE_CKPT, err) < 0 ||
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
    job.checkpoint_name = RUN_FINETUNE_CKPT;
    job.csv_name = RUN_FINETUNE_CSV;
    job.epochs = cfg->finetune.epochs;
    job.lr = cfg->finetune.lr;
    job.fixed_path = zeros;
    job.interrupted = r->interrupted;
    job.resume = access(ckpt, F_OK) == 0;
    if (job.resume) say("fine-tuning continues from %s", ckpt);
    TrainResult tr;
    double t0 = clock_seconds();
    int rc = train_run(sub, &job, &tr, err);
    res->seconds_finetune = clock_seconds() - t0;
    Evaluator* test = NULL;
    if (rc == 0 && tr.interrupted)
        rc = hw_runtime(err, NULL, 0, "interrupted during fine-tuning; run again to continue from %s", ckpt);
    if (rc == 0 && safetensors_write_subnet(sub, zeros, final_path, err) < 0) rc = -1;
    if (rc == 0 && onnx_export_beside(sub, zeros, final_path, err) < 0) rc = -1;  // best.onnx
    EvalOptions eo = eval_options(&ft, SPLIT_TEST, 0, cfg->data.limit_test);
    if (rc == 0 && !(test = evaluator_create(sub, &eo, err))) rc = -1;
    Progress shown;
    if (rc == 0) {
        progress_begin(&shown, "hwnas run", "test, images", evaluator_images(test));
        test->progress = &shown;
        if (evaluator_accuracy(test, zeros, &res->test_top1, &res->test_top5, NULL, err) < 0) rc = -1;
        progress_end(&shown);
    }
    evaluator_destroy(test);
    supernet_destroy(sub);
    if (rc == 0 && measure_winner(r, best, final_path, res, err) < 0) rc = -1;
    return rc;
}


// The space and the data's shape are checked before the run directory is
// touched; then the config is saved there.
static int prepare_run_dir(const Config* cfg, const char* dir, Space* pool, HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (run_dir_file(path, sizeof path, dir, RUN_CONFIG, err) < 0 || space_load(pool, cfg->space, err) < 0 ||
        batch_feed_check_data(&cfg->data, cfg->path, pool, err) < 0 || make_dirs(dir, err) < 0)
        return -1;
    return config_write(cfg, path, err);
}

// The searched space, written to space.yaml: the hardware-specific space
// with its ranking tables, or the pool itself for plain SPOS. The run's
// config.yaml then names it relative to itself, so `hwnas eval/extract -c
// RUN_DIR/config.yaml` work on the run's files from any working directory,
// and after the directory is moved.
static int make_space(Run* r, const Config* cfg, const Space* pool, PipelineMode mode, Space* space, HwErr* err) {
    *space = *pool;
    char path[SAFE_PATH_MAX];
    if (run_dir_file(path, sizeof path, r->dir, RUN_SPACE, err) < 0) return -1;
    if (mode == PIPE_SPOS_POOL) {
        if (space_write_with(pool, path, "# The operator pool `hwnas run --method spos` searched.\n", NULL, NULL,
                             err) < 0)
            return -1;
    } else {
        RankTable* tables = calloc((size_t)pool->n_layers, sizeof(RankTable));
        if (!tables) return hw_runtime(err, NULL, 0, "out of memory");
        int rc = space_generate(pool, r->lut, &cfg->space_gen, cfg->target.kind == TARGET_CPU ? "cpu" : "target", space,
                                tables, err);
        if (rc == 0) rc = space_write_ranked(space, tables, config_target_name(&cfg->target), path, err);
        free(tables);
        if (rc < 0) return -1;
    }
    Config saved = *cfg;
    snprintf(saved.space, sizeof saved.space, "%s", RUN_SPACE);
    return run_dir_file(path, sizeof path, r->dir, RUN_CONFIG, err) < 0 ? -1 : config_write(&saved, path, err);
}

// The configured limit, or the automatic one: it must be reachable in the
// space actually searched.
static int choose_limit(const Run* r, const Space* space, PipelineResult* res, HwErr* err) {
    res->limit_ms = r->cfg->latency_ms;
    if (res->limit_ms <= 0 && latency_auto_limit(r->lut, space, r->cfg->train.seed, &res->limit_ms, err) < 0)
        return -1;
    say("latency limit %s%.3f ms",
        r->cfg->latency_ms > 0 ? "" : "(automatic: 40th percentile of random architectures of the space) ",
        res->limit_ms);
    return 0;
}

static int open_supernet(Run* r, const Space* space, HwErr* err) {
    const Config* cfg = r->cfg;
    if (device_open(&r->dev, cfg->train.device, cfg->train.threads, err) < 0) return -1;
    if (!(r->sn = supernet_create(space, r->dev.ops, &r->dev.ctx, cfg->train.batch, err))) return -1;
    if (supernet_init_params(r->sn, cfg->train.seed, err) < 0) return -1;
    EvalOptions valid = eval_options(cfg, SPLIT_VALID, cfg->search.bn_images, cfg->search.val_images);
    if (!(r->ev = evaluator_create(r->sn, &valid, err))) return -1;
    r->model = (LatencyModel){r->lut, &r->sn->space};
    return path_filter_init(&r->filter, &cfg->train, r->sn, latency_model_predict, &r->model, cfg->path, err);
}

// The two-stage method (search/two_stage.h): stage 1 trains and searches the
// last layers, stage 2 the first ones with the last fixed to stage 1's best.
static int run_two_stage(Run* r, PipelineResult* res, SearchOutcome* so, HwErr* err) {
    const Config* cfg = r->cfg;
    StagePlan plan;
    TwoStageOptions opt = {cfg->stages.split, cfg->stages.fill == FILL_UNIFORM};
    two_stage_plan(&r->sn->space, r->lut, &opt, &plan);
    int n = plan.n_layers, t = plan.split, pins[SPACE_MAX_LAYERS];
    say("stage 1: training layers %d..%d", t + 1, n);
    if (train_stage(r, RUN_STAGE1_CKPT, RUN_STAGE1_CSV, cfg->stages.stage1_epochs, plan.stage1_train,
                    &res->seconds_train, err) < 0 ||
        search_stage(r, RUN_STAGE1_PREFIX, plan.stage1_search, res->limit_ms, 0, so, &res->seconds_search, err) < 0)
        return -1;
    res->evaluated += so->evaluated;
    two_stage_stage2_pins(&plan, so->best.ops, pins);
    say("stage 2: training layers 1..%d", t);
    if (train_stage(r, RUN_STAGE2_CKPT, RUN_STAGE2_CSV, cfg->stages.stage2_epochs, pins, &res->seconds_train, err) <
            0 ||
        search_stage(r, "", pins, res->limit_ms, 0, so, &res->seconds_search, err) < 0)
        return -1;
    res->evaluated += so->evaluated;
    return 0;
}

// SPOS: the whole space trained and searched at once.
static int run_one_stage(Run* r, PipelineResult* res, SearchOutcome* so, HwErr* err) {
    if (train_stage(r, RUN_SUPERNET_CKPT, RUN_TRAIN_CSV, r->cfg->train.epochs, NULL, &res->seconds_train, err) < 0 ||
        search_stage(r, "", NULL, res->limit_ms, 0, so, &res->seconds_search, err) < 0)
        return -1;
    res->evaluated = so->evaluated;
    return 0;
}

// The search's best, checked by measurement when the target is this machine.
static int pick_winner(Run* r, SearchOutcome* so, PipelineResult* res, HwErr* err) {
    char csv[SAFE_PATH_MAX];
    res->n_checks = 0;
    if (r->cfg->target.kind == TARGET_CPU && res->limit_ms > 0) {
        WinnerCheck wc;
        if (run_dir_file(csv, sizeof csv, r->dir, RUN_SEARCH_CSV, err) < 0 ||
            winner_check_latency(&r->sn->space, &r->dev.ctx, csv, res->limit_ms, &so->best, &wc, err) < 0)
            return -1;
        memcpy(res->checks, wc.checks, sizeof wc.checks);
        res->n_checks = wc.n_checks;
    }
    res->best = so->best;
    res->flops = 2.0 * supernet_path_macs(r->sn, so->best.ops);
    res->params = supernet_path_params(r->sn, so->best.ops);
    res->peak_kb = supernet_path_peak_kb(r->sn, so->best.ops);
    res->cost_limit[COST_PARAMS] = r->cfg->search.max_params;
    res->cost_limit[COST_MFLOPS] = r->cfg->search.max_mflops;
    res->cost_limit[COST_PEAK_KB] = r->cfg->search.max_peak_kb;
    say("winner: validation top-1 %.4f", so->best.top1);
    return 0;
}

// Random search over the whole space on the final supernet, with as many
// evaluations as the method used.
static int random_baseline(Run* r, PipelineResult* res, HwErr* err) {
    SearchJob rj = {&r->cfg->search, r->sn, r->ev, r->lut, res->limit_ms, NULL, r->dir, "", 0, 0};
    SearchOutcome ro;
    memset(&ro, 0, sizeof ro);
    if (search_random(&rj, res->evaluated, &ro, err) < 0) return -1;
    res->has_random = 1;
    res->random_best = ro.random_best;
    res->random_evaluated = ro.random_evaluated;
    return 0;
}

// Each block's BN statistics in the supernet are those of the last path
// that recalibrated it, and a run started again after a kill evaluates
// fewer paths (its search.csv holds the rest), so they depend on where the
// run was stopped. The winner's are recalibrated first, as the search did
// when it scored it: the weights it inherits are the same whether or not
// the run was ever stopped.
static int test_winner(Run* r, int finetune, PipelineResult* res, HwErr* err) {
    if (evaluator_recalibrate(r->ev, res->best.ops, err) < 0) return -1;
    if (finetune) {
        say("fine-tuning the winner for %d epochs", r->cfg->finetune.epochs);
        if (finetune_winner(r, &res->best, res, err) < 0) return -1;
        say("test top-1 %.4f", res->test_top1);
        return 0;
    }
    if (test_inherited(r, &res->best, res, err) < 0) return -1;
    say("test top-1 with inherited weights %.4f", res->test_top1);
    return 0;
}

static int write_outputs(Run* r, const PipelineOptions* opt, const PipelineResult* res, HwErr* err) {
    char path[SAFE_PATH_MAX];
    // best.yaml names its space file relative to itself.
    Arch best;
    arch_init(&best, &r->sn->space);
    snprintf(best.space_file, sizeof best.space_file, "%s", RUN_SPACE);
    memcpy(best.ops, res->best.ops, sizeof(int) * (size_t)r->sn->space.n_layers);
    best.latency_ms = res->best.latency_ms;
    best.top1 = res->best.top1;
    best.flops = res->flops;
    best.params = res->params;
    best.peak_kb = res->peak_kb;
    if (run_dir_file(path, sizeof path, r->dir, RUN_BEST_ARCH, err) < 0 || arch_write(&best, &r->sn->space, path, err) < 0)
        return -1;
    if (!opt->report) return 0;
    ReportInput in = {r->dir, &r->sn->space, config_target_name(&r->cfg->target), r->lut->device, opt->mode, opt->finetune, res};
    return report_write(&in, err);
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
    if (prepare_run_dir(&cfg, run_dir, &pool, err) < 0) return -1;
    double t0 = clock_seconds();
    Lut* lut = open_target(&cfg, &pool, run_dir, opt->quick, err);
    if (!lut) return -1;
    r.lut = lut;
    res->seconds_profile = clock_seconds() - t0;
    t0 = clock_seconds();
    int rc = make_space(&r, &cfg, &pool, opt->mode, &space, err);
    res->seconds_space = clock_seconds() - t0;
    if (rc == 0) {
        say("search space %s: 10^%.1f architectures", space.name, space_log10_size(&space));
        rc = choose_limit(&r, &space, res, err);
    }
    SearchOutcome so;
    if (rc == 0) rc = open_supernet(&r, &space, err);
    if (rc == 0) rc = opt->mode == PIPE_TWO_STAGE ? run_two_stage(&r, res, &so, err) : run_one_stage(&r, res, &so, err);
    if (rc == 0) rc = pick_winner(&r, &so, res, err);
    if (rc == 0 && opt->random_baseline) rc = random_baseline(&r, res, err);
    if (rc == 0) rc = test_winner(&r, opt->finetune, res, err);
    if (rc == 0) rc = write_outputs(&r, opt, res, err);
    res->train_resumed = r.train_resumed;
    evaluator_destroy(r.ev);
    supernet_destroy(r.sn);
    device_close(&r.dev);
    lut_free(lut);
    return rc;
}
