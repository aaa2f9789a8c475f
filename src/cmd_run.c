// hwnas run: the whole pipeline on the config's data and target.
#include <getopt.h>
#include <math.h>
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
    ConfigOverrides sets = {0};
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
    if (target) snprintf(cfg.target, sizeof cfg.target, "%s", target);
    if (latency >= 0) cfg.latency_ms = (float)latency;
    if (overrides_apply(&sets, &cfg, &err) < 0) return cli_fail(&err);
    if (!out) out = quick ? "runs/fmnist-quick" : "runs/fmnist";
    PipelineResult res;
    if (pipeline_run(&cfg, out, &po, &res, &err) < 0) return cli_fail(&err);
    printf("test top1 %.4f latency_ms %.3f (predicted %.3f, limit %.3f) report %s/report.md\n", res.test_top1,
           res.measured_ms, res.best.latency_ms, res.limit_ms, out);
    return 0;
}

// hwnas bench pipeline: plain SPOS (full pool), SPOS over the
// hardware-specific space and the two-stage method, at its configured
// schedule and at a shorter one, on the same data, target and limit. The
// short schedule is the time-to-accuracy question: HURRICANE's saving comes
// from training smaller sub-spaces for fewer epochs, so the claim holds when
// the two-stage method with less training finds a network at least as
// accurate as SPOS's.
typedef struct BenchMethod {
    const char* name;
    const char* label;
    PipelineMode mode;
    int epochs1, epochs2;  // SPOS: epochs1 only
} BenchMethod;

static const char* kBenchUsage =
    "usage: hwnas bench pipeline [-c CONFIG] [-o DIR] [--quick] [--short E1,E2] [--finetune]\n"
    "                            [--set KEY=VALUE ...]\n"
    "Runs spos-pool, two-stage-short, two-stage and spos-hw one after another in DIR\n"
    "(default runs/bench-pipeline) and writes DIR/bench.md and DIR/bench.csv. Test top-1 is\n"
    "measured with inherited weights unless --finetune. --short sets the epochs of the\n"
    "shorter two-stage schedule (default half of each stage, at least 1). Stopped runs\n"
    "continue where they stopped.\n";

static int write_bench(const char* out, const BenchMethod* m, const PipelineResult* res, int n, int finetune,
                       HwErr* err) {
    char path[1100];
    snprintf(path, sizeof path, "%s/bench.csv", out);
    FILE* csv = fopen(path, "w");
    if (!csv) return hw_runtime(err, path, 0, "cannot write");
    fprintf(csv, "method,epochs,train_seconds,search_seconds,evaluated,val_top1,test_top1,predicted_ms,measured_ms,"
                 "limit_ms,train_saving_vs_spos\n");
    snprintf(path, sizeof path, "%s/bench.md", out);
    FILE* md = fopen(path, "w");
    if (!md) return fclose(csv), hw_runtime(err, path, 0, "cannot write");
    fprintf(md, "# Training time: SPOS vs the two-stage method\n\nSame data, target and latency limit (%.3f ms). "
                "Test top-1 %s.\n\n", res[0].limit_ms, finetune ? "after fine-tuning" : "with inherited weights");
    fprintf(md, "| method | epochs | supernet training (s) | search (s) | evaluated | val top-1 | test top-1 | "
                "predicted / measured ms | training time vs SPOS |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        double saving = 100.0 * (1.0 - res[i].seconds_train / res[0].seconds_train);
        char epochs[32];
        if (m[i].mode == PIPE_TWO_STAGE) snprintf(epochs, sizeof epochs, "%d+%d", m[i].epochs1, m[i].epochs2);
        else snprintf(epochs, sizeof epochs, "%d", m[i].epochs1);
        fprintf(csv, "%s,%s,%.1f,%.1f,%d,%.4f,%.4f,%.3f,%.3f,%.3f,%.1f\n", m[i].name, epochs, res[i].seconds_train,
                res[i].seconds_search, res[i].evaluated, res[i].best.top1, res[i].test_top1, res[i].best.latency_ms,
                res[i].measured_ms, res[i].limit_ms, saving);
        char versus[32] = "baseline";
        if (i > 0) snprintf(versus, sizeof versus, "%s%.1f%%", saving >= 0 ? "-" : "+", fabs(saving));
        fprintf(md, "| %s | %s | %.1f | %.1f | %d | %.4f | %.4f | %.3f / %.3f | %s |\n", m[i].label, epochs,
                res[i].seconds_train, res[i].seconds_search, res[i].evaluated, res[i].best.top1, res[i].test_top1,
                res[i].best.latency_ms, res[i].measured_ms, versus);
    }
    for (int i = 1; i < n; i++) {
        if (m[i].mode != PIPE_TWO_STAGE) continue;
        int as_good = res[i].test_top1 >= res[0].test_top1;
        fprintf(md, "\n%s: %.1f%% %s supernet training time than SPOS (full pool), test top-1 %.4f vs %.4f (%s).",
                m[i].label, fabs(100.0 * (1.0 - res[i].seconds_train / res[0].seconds_train)),
                res[i].seconds_train <= res[0].seconds_train ? "less" : "more", res[i].test_top1, res[0].test_top1,
                as_good ? "equal or better" : "worse");
    }
    fprintf(md, "\n\nHURRICANE reports 30.4%% less training time than SPOS at equal or better top-1.\n");
    fclose(csv);
    if (fclose(md) != 0) return hw_runtime(err, path, 0, "cannot write");
    return 0;
}

static int copy_file(const char* from, const char* to, HwErr* err) {
    FILE* in = fopen(from, "rb");
    if (!in) return hw_runtime(err, from, 0, "cannot read");
    FILE* o = fopen(to, "wb");
    if (!o) return fclose(in), hw_runtime(err, to, 0, "cannot write");
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, o) != n) rc = -1;
    if (ferror(in)) rc = -1;
    fclose(in);
    if (fclose(o) != 0) rc = -1;
    return rc < 0 ? hw_runtime(err, to, 0, "cannot copy %s", from) : 0;
}

static int parse_short(const char* s, int* e1, int* e2) {
    char tail;
    return sscanf(s, "%d,%d%c", e1, e2, &tail) == 2 && *e1 >= 1 && *e2 >= 1 && *e1 <= 10000 && *e2 <= 10000 ? 0 : -1;
}

int bench_pipeline_main(int argc, char** argv) {
    const char *config = "configs/fmnist.yaml", *out = "runs/bench-pipeline", *short_epochs = NULL;
    int quick = 0, finetune = 0;
    ConfigOverrides sets = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (overrides_add(&sets, argv[++i])) return 2;
        }
        else if (!strcmp(argv[i], "--finetune")) finetune = 1;
        else if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) config = argv[++i];
        else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--short") && i + 1 < argc) short_epochs = argv[++i];
        else return fputs(kBenchUsage, strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? stderr : stdout),
                    strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
    }
    HwErr err = {0};
    Config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, config, &err) < 0) return cli_fail(&err);
    if (quick) pipeline_quick_config(&cfg);
    if (overrides_apply(&sets, &cfg, &err) < 0) return cli_fail(&err);
    int s1 = cfg.stages.stage1_epochs, s2 = cfg.stages.stage2_epochs;
    int h1 = s1 / 2 > 0 ? s1 / 2 : 1, h2 = s2 / 2 > 0 ? s2 / 2 : 1;
    if (short_epochs && parse_short(short_epochs, &h1, &h2) < 0) {
        fprintf(stderr, "hwnas: error: --short: found '%s', expected two epoch counts E1,E2 (1..10000)\n",
                short_epochs);
        return 2;
    }
    // SPOS first: it measures the target table and sets the limit the others use.
    BenchMethod m[4] = {{"spos-pool", "SPOS, full pool", PIPE_SPOS_POOL, cfg.train.epochs, 0},
                        {"two-stage-short", "two-stage, short schedule", PIPE_TWO_STAGE, h1, h2},
                        {"two-stage", "two-stage", PIPE_TWO_STAGE, s1, s2},
                        {"spos-hw", "SPOS, hardware-specific space", PIPE_SPOS_HW, cfg.train.epochs, 0}};
    PipelineResult res[4];
    char dir[1100];
    for (int i = 0; i < 4; i++) {
        Config c = cfg;
        if (m[i].mode == PIPE_TWO_STAGE) c.stages.stage1_epochs = m[i].epochs1, c.stages.stage2_epochs = m[i].epochs2;
        snprintf(dir, sizeof dir, "%s/%s", out, m[i].name);
        if (make_dirs(dir, &err) < 0) return cli_fail(&err);
        // Every method uses the table measured for the first one: the
        // pipeline reuses RUN_DIR/target-cpu.yaml when it is there.
        if (i > 0 && !strcmp(cfg.target, "cpu")) {
            char from[1200], to[1200];
            if (snprintf(from, sizeof from, "%s/%s/target-cpu.yaml", out, m[0].name) >= (int)sizeof from)
                return fprintf(stderr, "hwnas: error: %s: path too long\n", out), 2;
            snprintf(to, sizeof to, "%s/target-cpu.yaml", dir);
            if (copy_file(from, to, &err) < 0) return cli_fail(&err);
        }
        if (i > 0 && c.latency_ms <= 0) c.latency_ms = (float)res[0].limit_ms;
        fprintf(stderr, "hwnas bench pipeline: %s in %s\n", m[i].label, dir);
        PipelineOptions po = {m[i].mode, quick, 0, finetune, 1};
        if (pipeline_run(&c, dir, &po, &res[i], &err) < 0) return cli_fail(&err);
    }
    if (write_bench(out, m, res, 4, finetune, &err) < 0) return cli_fail(&err);
    // The table on stdout as well.
    snprintf(dir, sizeof dir, "%s/bench.md", out);
    FILE* md = fopen(dir, "r");
    if (md) {
        char line[1024];
        while (fgets(line, sizeof line, md)) fputs(line, stdout);
        fclose(md);
    }
    printf("table: %s/bench.md\n", out);
    return 0;
}
