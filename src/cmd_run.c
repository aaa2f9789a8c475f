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
    "Profiles the target (or reuses RUN_DIR/target-cpu.yaml), generates the\n"
    "hardware-specific space, trains and searches the supernet in two stages,\n"
    "fine-tunes and tests the winner and writes RUN_DIR/report.md.\n"
    "Defaults: -c configs/fmnist.yaml, -o runs/fmnist (runs/fmnist-quick with --quick).\n"
    "A run stopped by Ctrl-C continues where it stopped when started again.\n"
    "A RUN_DIR that is a symbolic link is refused unless HWNAS_ALLOW_SYMLINK_OUTPUT=1.\n";

int cmd_run(int argc, char** argv) {
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"quick", no_argument, 0, 'q'},        {"target", required_argument, 0, 'T'},
        {"latency-ms", required_argument, 0, 'L'}, {"method", required_argument, 0, 'm'},
        {"no-random-baseline", no_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
        {"set", required_argument, 0, 'X'},
        {0, 0, 0, 0}};
    const char *config = "configs/fmnist.yaml", *out = NULL, *target = NULL, *method = "two-stage", *latency = NULL;
    int quick = 0, random = 1, opt;
    ConfigOverrides sets = {0};
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
        default: fputs(kUsage, stderr); return 2;
        }
    }
    if (optind != argc) return fputs(kUsage, stderr), 2;
    PipelineOptions po = {PIPE_TWO_STAGE, quick, random, 1, 1};
    if (!strcmp(method, "spos-hw")) po.mode = PIPE_SPOS_HW;
    else if (!strcmp(method, "spos")) po.mode = PIPE_SPOS_POOL;
    else if (strcmp(method, "two-stage") != 0) {
        fprintf(stderr, "hwnas: error: --method: found '%s', expected two-stage, spos-hw or spos\n", method);
        return 2;
    }
    HwErr err = {0};
    Config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, config, &err) < 0) return cli_fail(&err);
    if (quick) pipeline_quick_config(&cfg);
    if (target && safe_path(cfg.target, sizeof cfg.target, &err, "%s", target) < 0) return cli_fail(&err);
    if ((latency && config_override_flag(&cfg, "--latency-ms", "latency_ms", latency, &err) < 0) ||
        overrides_apply(&sets, &cfg, &err) < 0)
        return cli_fail(&err);
    if (!out) out = quick ? "runs/fmnist-quick" : "runs/fmnist";
    PipelineResult res;
    if (pipeline_run(&cfg, out, &po, &res, &err) < 0) return cli_fail(&err);
    printf("test top1 %.4f latency_ms %.3f (predicted %.3f, limit %.3f) report %s/report.md\n", res.test_top1,
           res.measured_ms, res.best.latency_ms, res.limit_ms, out);
    return 0;
}
