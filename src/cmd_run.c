// hwnas run: the whole pipeline on the config's data and target.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/pipeline.h"

static const char* kUsage =
    "usage: hwnas run [-c CONFIG] [-o RUN_DIR] [--quick] [--target TARGET] [--latency-ms X]\n"
    "                 [--method two-stage|spos-hw|spos] [--no-random-baseline] [--set KEY=VALUE]\n"
    "                 [--max-params N] [--max-mflops X] [--max-peak-kb X]\n"
    "Profiles the target (or reuses RUN_DIR/target-cpu.yaml), generates the\n"
    "hardware-specific space, trains and searches the supernet in two stages,\n"
    "fine-tunes and tests the winner and writes RUN_DIR/report.md.\n"
    "Defaults: -c configs/fmnist.yaml, -o runs/fmnist (runs/fmnist-quick with --quick),\n"
    "--method two-stage (spos-hw when the config sets stages.enabled: false).\n"
    "--max-* limit the search beside latency (search.max_params, max_mflops: FLOPs\n"
    "per image in millions, max_peak_kb: peak activation KiB at batch 1; 0 = none).\n"
    "A run stopped by Ctrl-C continues where it stopped when started again.\n"
    "A RUN_DIR that is a symbolic link is refused unless HWNAS_ALLOW_SYMLINK_OUTPUT=1.\n";

// --method: 0, or -1 after printing the error.
static int parse_method(const char* method, PipelineMode* mode) {
    if (!strcmp(method, "two-stage")) *mode = PIPE_TWO_STAGE;
    else if (!strcmp(method, "spos-hw")) *mode = PIPE_SPOS_HW;
    else if (!strcmp(method, "spos")) *mode = PIPE_SPOS_POOL;
    else {
        fprintf(stderr, "hwnas: error: --method: found '%s', expected two-stage, spos-hw or spos\n", method);
        return -1;
    }
    return 0;
}

// What only the two-stage method reads.
static const char* const kTwoStageKeys[] = {"stages.split", "stages.stage1_epochs", "stages.stage2_epochs",
                                            "stages.fill", NULL};

typedef struct RunArgs {
    const char *config, *out, *target, *method, *latency;
    int quick, random;
    CostFlags costs;
    ConfigOverrides sets;
} RunArgs;

// 0 to run, 1 after --help, 2 on a usage error (printed).
static int parse_run_args(int argc, char** argv, RunArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', RunArgs, config),   FLAG_TEXT_ROW("out", 'o', RunArgs, out),
        FLAG_ON_ROW("quick", RunArgs, quick),            FLAG_TEXT_ROW("target", 0, RunArgs, target),
        FLAG_TEXT_ROW("latency-ms", 0, RunArgs, latency), FLAG_TEXT_ROW("method", 0, RunArgs, method),
        FLAG_OFF_ROW("no-random-baseline", RunArgs, random), FLAG_SET_ROW(RunArgs, sets),
        COST_FLAG_ROWS(RunArgs, costs),                  FLAG_END};
    *a = (RunArgs){.config = "configs/fmnist.yaml", .random = 1};
    return flags_parse(argc, argv, flags, a, kUsage, NULL);
}

// The config, then --quick's settings, then the flags and --set.
static int load_run_config(const RunArgs* a, Config* cfg, HwErr* err) {
    config_defaults(cfg);
    if (config_load(cfg, a->config, err) < 0) return -1;
    if (a->quick) pipeline_quick_config(cfg);
    if ((a->target && config_override_flag(cfg, "--target", "target", a->target, err) < 0) ||
        (a->latency && config_override_flag(cfg, "--latency-ms", "latency_ms", a->latency, err) < 0) ||
        cost_flags_apply(&a->costs, cfg, err) < 0 || overrides_apply(&a->sets, cfg, err) < 0)
        return -1;
    return 0;
}

int cmd_run(int argc, char** argv) {
    RunArgs a;
    int parsed = parse_run_args(argc, argv, &a);
    if (parsed) return parsed == 1 ? 0 : 2;
    PipelineOptions po = {PIPE_TWO_STAGE, a.quick, a.random, 1, 1};
    if (a.method && parse_method(a.method, &po.mode) < 0) return 2;
    HwErr err = {0};
    Config cfg;
    if (load_run_config(&a, &cfg, &err) < 0) return cli_fail(&err);
    // Without --method, stages.enabled chooses: two-stage, or SPOS over the
    // same hardware-specific space.
    if (!a.method && !cfg.stages.enabled) po.mode = PIPE_SPOS_HW;
    if (po.mode != PIPE_TWO_STAGE) {
        Config base;  // what the command would use unless told otherwise
        config_defaults(&base);
        if (a.quick) pipeline_quick_config(&base);
        warn_unused_keys("run", &cfg, &base, kTwoStageKeys);
    }
    const char* out = a.out ? a.out : a.quick ? "runs/fmnist-quick" : "runs/fmnist";
    PipelineResult res;
    if (pipeline_run(&cfg, out, &po, &res, &err) < 0) return cli_fail(&err);
    printf("test top1 %.4f latency_ms %.3f (predicted %.3f, limit %.3f) report %s/report.md\n", res.test_top1,
           res.measured_ms, res.best.latency_ms, res.limit_ms, out);
    return 0;
}
