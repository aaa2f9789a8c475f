// hwnas run: the whole pipeline on the config's data and target.
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"
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

int cmd_run(int argc, char** argv) {
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"quick", no_argument, 0, 'q'},        {"target", required_argument, 0, 'T'},
        {"latency-ms", required_argument, 0, 'L'}, {"method", required_argument, 0, 'm'},
        {"no-random-baseline", no_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
        {"set", required_argument, 0, 'X'},    COST_FLAG_OPTIONS,
        {0, 0, 0, 0}};
    const char *config = "configs/fmnist.yaml", *out = NULL, *target = NULL, *method = NULL, *latency = NULL;
    int quick = 0, random = 1, opt;
    ConfigOverrides sets = {0};
    CostFlags costs = {{0}};
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quick = 1; break;
        case 'T': target = optarg; break;
        case 'L': latency = optarg; break;
        case 'm': method = optarg; break;
        case 'R': random = 0; break;
        case 'X':
            if (overrides_add(&sets, optarg)) return 2;
            break;
        case 'h': fputs(kUsage, stdout); return 0;
        default:
            if (cost_flags_take(&costs, opt, optarg)) break;
            fputs(kUsage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(kUsage, stderr);
        return 2;
    }
    PipelineOptions po = {PIPE_TWO_STAGE, quick, random, 1, 1};
    if (method && parse_method(method, &po.mode) < 0) return 2;
    HwErr err = {0};
    Config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, config, &err) < 0) return cli_fail(&err);
    if (quick) pipeline_quick_config(&cfg);
    if ((target && config_override_flag(&cfg, "--target", "target", target, &err) < 0) ||
        (latency && config_override_flag(&cfg, "--latency-ms", "latency_ms", latency, &err) < 0) ||
        cost_flags_apply(&costs, &cfg, &err) < 0 || overrides_apply(&sets, &cfg, &err) < 0)
        return cli_fail(&err);
    // Without --method, stages.enabled chooses: two-stage, or SPOS over the
    // same hardware-specific space.
    if (!method && !cfg.stages.enabled) po.mode = PIPE_SPOS_HW;
    if (po.mode != PIPE_TWO_STAGE) {
        Config base;  // what the command would use unless told otherwise
        config_defaults(&base);
        if (quick) pipeline_quick_config(&base);
        warn_unused_keys("run", &cfg, &base, kTwoStageKeys);
    }
    if (!out) out = quick ? "runs/fmnist-quick" : "runs/fmnist";
    PipelineResult res;
    if (pipeline_run(&cfg, out, &po, &res, &err) < 0) return cli_fail(&err);
    printf("test top1 %.4f latency_ms %.3f (predicted %.3f, limit %.3f) report %s/report.md\n", res.test_top1,
           res.measured_ms, res.best.latency_ms, res.limit_ms, out);
    return 0;
}
