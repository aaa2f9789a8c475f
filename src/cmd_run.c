// hwnas run: the whole pipeline on the config's data and target.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "A run stopped by Ctrl-C continues where it stopped when started again.\n";

int cmd_run(int argc, char** argv) {
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"quick", no_argument, 0, 'q'},        {"target", required_argument, 0, 'T'},
        {"latency-ms", required_argument, 0, 'L'}, {"method", required_argument, 0, 'm'},
        {"no-random-baseline", no_argument, 0, 'R'}, {"help", no_argument, 0, 'h'},
        {"set", required_argument, 0, 'X'},
        {0, 0, 0, 0}};
    const char *config = "configs/fmnist.yaml", *out = NULL, *target = NULL, *method = "two-stage";
    double latency = -1;
    int quick = 0, random = 1, opt;
    const char* sets[32];
    int n_sets = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quick = 1; break;
        case 'T': target = optarg; break;
        case 'L': latency = atof(optarg); break;
        case 'm': method = optarg; break;
        case 'R': random = 0; break;
        case 'X':
            if (n_sets < 32) sets[n_sets++] = optarg;
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
    if (target) snprintf(cfg.target, sizeof cfg.target, "%s", target);
    if (latency >= 0) cfg.latency_ms = (float)latency;
    for (int i = 0; i < n_sets; i++)
        if (config_override(&cfg, sets[i], &err) < 0) return cli_fail(&err);
    if (!out) out = quick ? "runs/fmnist-quick" : "runs/fmnist";
    PipelineResult res;
    if (pipeline_run(&cfg, out, &po, &res, &err) < 0) return cli_fail(&err);
    printf("test top1 %.4f latency_ms %.3f (predicted %.3f, limit %.3f) report %s/report.md\n", res.test_top1,
           res.measured_ms, res.best.latency_ms, res.limit_ms, out);
    return 0;
}

// hwnas bench pipeline: SPOS (full pool), SPOS over the hardware-specific
// space and the two-stage method on the same data, target and limit.
int bench_pipeline_main(int argc, char** argv) {
    const char *config = "configs/fmnist.yaml", *out = "runs/bench-pipeline";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) config = argv[++i];
        else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: hwnas bench pipeline [-c CONFIG] [-o DIR] [--quick]\n");
            return 2;
        }
    }
    HwErr err = {0};
    Config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, config, &err) < 0) return cli_fail(&err);
    static const char* names[] = {"spos-pool", "spos-hw", "two-stage"};
    PipelineMode modes[] = {PIPE_SPOS_POOL, PIPE_SPOS_HW, PIPE_TWO_STAGE};
    PipelineResult res[3];
    char dir[1100], target[CFG_PATH_MAX];
    for (int m = 0; m < 3; m++) {
        snprintf(dir, sizeof dir, "%s/%s", out, names[m]);
        if (make_dirs(dir, &err) < 0) return cli_fail(&err);
        if (m > 0 && !strcmp(cfg.target, "cpu")) {
            // Every method uses the table measured for the first one.
            if (snprintf(target, sizeof target, "%s/%s/target-cpu.yaml", out, names[0]) >= (int)sizeof target)
                return fprintf(stderr, "hwnas: error: %s: path too long\n", out), 2;
            memcpy(cfg.target, target, sizeof target);
        }
        if (m > 0 && cfg.latency_ms <= 0) cfg.latency_ms = (float)res[0].limit_ms;
        PipelineOptions po = {modes[m], quick, 0, 1, 1};
        if (pipeline_run(&cfg, dir, &po, &res[m], &err) < 0) return cli_fail(&err);
    }
    printf("method,train_seconds,search_seconds,evaluated,val_top1,test_top1,predicted_ms,limit_ms\n");
    for (int m = 0; m < 3; m++)
        printf("%s,%.1f,%.1f,%d,%.4f,%.4f,%.3f,%.3f\n", names[m], res[m].seconds_train, res[m].seconds_search,
               res[m].evaluated, res[m].best.top1, res[m].test_top1, res[m].best.latency_ms, res[m].limit_ms);
    printf("two-stage training time vs SPOS (full pool): %.1f%% less\n",
           100.0 * (1.0 - res[2].seconds_train / res[0].seconds_train));
    return 0;
}
