// hwnas bench pipeline: plain SPOS (full pool), SPOS over the
// hardware-specific space and the two-stage method, at its configured
// schedule and at a shorter one, on the same data, target and limit. The
// short schedule is the time-to-accuracy question: HURRICANE's saving comes
// from training smaller sub-spaces for fewer epochs, so the claim holds when
// the two-stage method with less training finds a network at least as
// accurate as SPOS's.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/pipeline.h"
#include "supernet/run_dir.h"

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
    "continue where they stopped. A DIR that is a symbolic link is refused unless\n"
    "HWNAS_ALLOW_SYMLINK_OUTPUT=1.\n";

// One row per method in bench.csv and bench.md, then the verdicts.
static void write_bench_rows(SafeFile* csv, SafeFile* md, const BenchMethod* m, const PipelineResult* res, int n) {
    for (int i = 0; i < n; i++) {
        double saving = 100.0 * (1.0 - res[i].seconds_train / res[0].seconds_train);
        char epochs[32];
        if (m[i].mode == PIPE_TWO_STAGE) snprintf(epochs, sizeof epochs, "%d+%d", m[i].epochs1, m[i].epochs2);
        else snprintf(epochs, sizeof epochs, "%d", m[i].epochs1);
        safe_file_printf(csv, "%s,%s,%.1f,%.1f,%d,%.4f,%.4f,%.3f,%.3f,%.3f,%.1f\n", m[i].name, epochs,
                         res[i].seconds_train, res[i].seconds_search, res[i].evaluated, res[i].best.top1,
                         res[i].test_top1, res[i].best.latency_ms, res[i].measured_ms, res[i].limit_ms, saving);
        char versus[32] = "baseline";
        if (i > 0) snprintf(versus, sizeof versus, "%s%.1f%%", saving >= 0 ? "-" : "+", fabs(saving));
        safe_file_printf(md, "| %s | %s | %.1f | %.1f | %d | %.4f | %.4f | %.3f / %.3f | %s |\n", m[i].label, epochs,
                         res[i].seconds_train, res[i].seconds_search, res[i].evaluated, res[i].best.top1,
                         res[i].test_top1, res[i].best.latency_ms, res[i].measured_ms, versus);
    }
    for (int i = 1; i < n; i++) {
        if (m[i].mode != PIPE_TWO_STAGE) continue;
        int as_good = res[i].test_top1 >= res[0].test_top1;
        safe_file_printf(md, "\n%s: %.1f%% %s supernet training time than SPOS (full pool), test top-1 %.4f vs %.4f "
                             "(%s).",
                         m[i].label, fabs(100.0 * (1.0 - res[i].seconds_train / res[0].seconds_train)),
                         res[i].seconds_train <= res[0].seconds_train ? "less" : "more", res[i].test_top1,
                         res[0].test_top1, as_good ? "equal or better" : "worse");
    }
}

static int write_bench(const char* out, const BenchMethod* m, const PipelineResult* res, int n, int finetune,
                       HwErr* err) {
    // Temporary files renamed into place: a link planted at either name is
    // replaced, never followed, and every write error is reported.
    char path[SAFE_PATH_MAX];
    SafeFile csv, md;
    if (safe_path(path, sizeof path, err, "%s/bench.csv", out) < 0 || safe_file_begin(&csv, path, err) < 0) return -1;
    if (safe_path(path, sizeof path, err, "%s/bench.md", out) < 0 || safe_file_begin(&md, path, err) < 0) {
        safe_file_abort(&csv);
        return -1;
    }
    safe_file_printf(&csv, "method,epochs,train_seconds,search_seconds,evaluated,val_top1,test_top1,predicted_ms,"
                           "measured_ms,limit_ms,train_saving_vs_spos\n");
    safe_file_printf(&md, "# Training time: SPOS vs the two-stage method\n\nSame data, target and latency limit "
                          "(%.3f ms). Test top-1 %s.\n\n",
                     res[0].limit_ms, finetune ? "after fine-tuning" : "with inherited weights");
    safe_file_printf(&md, "| method | epochs | supernet training (s) | search (s) | evaluated | val top-1 | "
                          "test top-1 | predicted / measured ms | training time vs SPOS |\n"
                          "|---|---|---|---|---|---|---|---|---|\n");
    write_bench_rows(&csv, &md, m, res, n);
    safe_file_printf(&md, "\n\nHURRICANE reports 30.4%% less training time than SPOS at equal or better top-1.\n");
    if (safe_file_commit(&csv, err) < 0) {
        safe_file_abort(&md);
        return -1;
    }
    return safe_file_commit(&md, err);
}

// "E1,E2": two epoch counts in 1..10000, each read like every numeric flag
// (sscanf's %d would wrap 4294967297 to 1).
static int parse_short(const char* s, int* e1, int* e2) {
    const char* comma = strchr(s, ',');
    char first[32];
    HwErr ignore = {0};
    if (!comma || (size_t)(comma - s) >= sizeof first) return -1;
    snprintf(first, sizeof first, "%.*s", (int)(comma - s), s);
    if (flag_int("--short", first, 1, 10000, e1, &ignore) < 0) return -1;
    return flag_int("--short", comma + 1, 1, 10000, e2, &ignore);
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
        else {
            int help = !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
            fputs(kBenchUsage, help ? stdout : stderr);
            return help ? 0 : 2;
        }
    }
    HwErr err = {0};
    int short1 = 0, short2 = 0;
    if (short_epochs && parse_short(short_epochs, &short1, &short2) < 0) {
        hw_bad_input(&err, NULL, 0, "--short: found '%s', expected two epoch counts E1,E2 (1..10000)", short_epochs);
        return cli_fail(&err);
    }
    Config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, config, &err) < 0) return cli_fail(&err);
    if (quick) pipeline_quick_config(&cfg);
    if (overrides_apply(&sets, &cfg, &err) < 0) return cli_fail(&err);
    static const char* const kMethodChoice[] = {"stages.enabled", NULL};  // every method runs
    warn_unused_keys("bench pipeline", &cfg, NULL, kMethodChoice);
    int s1 = cfg.stages.stage1_epochs, s2 = cfg.stages.stage2_epochs;
    int h1 = short_epochs ? short1 : s1 / 2 > 0 ? s1 / 2 : 1, h2 = short_epochs ? short2 : s2 / 2 > 0 ? s2 / 2 : 1;
    // SPOS first: it measures the target table and sets the limit the others use.
    BenchMethod m[4] = {{"spos-pool", "SPOS, full pool", PIPE_SPOS_POOL, cfg.train.epochs, 0},
                        {"two-stage-short", "two-stage, short schedule", PIPE_TWO_STAGE, h1, h2},
                        {"two-stage", "two-stage", PIPE_TWO_STAGE, s1, s2},
                        {"spos-hw", "SPOS, hardware-specific space", PIPE_SPOS_HW, cfg.train.epochs, 0}};
    PipelineResult res[4];
    char dir[SAFE_PATH_MAX];
    if (make_dirs(out, &err) < 0) return cli_fail(&err);  // refuses a link (bench.csv, bench.md are written there)
    for (int i = 0; i < 4; i++) {
        Config c = cfg;
        if (m[i].mode == PIPE_TWO_STAGE) c.stages.stage1_epochs = m[i].epochs1, c.stages.stage2_epochs = m[i].epochs2;
        if (safe_path(dir, sizeof dir, &err, "%s/%s", out, m[i].name) < 0 || make_dirs(dir, &err) < 0)
            return cli_fail(&err);
        // Every method uses the table measured for the first one: the
        // pipeline reuses RUN_DIR/target-cpu.yaml when it is there.
        if (i > 0 && cfg.target.kind == TARGET_CPU) {
            char from[SAFE_PATH_MAX], to[SAFE_PATH_MAX];
            if (safe_path(from, sizeof from, &err, "%s/%s/%s", out, m[0].name, RUN_TARGET_CPU) < 0 ||
                run_dir_file(to, sizeof to, dir, RUN_TARGET_CPU, &err) < 0 || copy_file_atomic(from, to, &err) < 0)
                return cli_fail(&err);
        }
        if (i > 0 && c.latency_ms <= 0) c.latency_ms = (float)res[0].limit_ms;
        fprintf(stderr, "hwnas bench pipeline: %s in %s\n", m[i].label, dir);
        PipelineOptions po = {m[i].mode, quick, 0, finetune, 1};
        if (pipeline_run(&c, dir, &po, &res[i], &err) < 0) return cli_fail(&err);
    }
    if (write_bench(out, m, res, 4, finetune, &err) < 0) return cli_fail(&err);
    // The table on stdout as well.
    FILE* md = safe_path(dir, sizeof dir, &err, "%s/bench.md", out) == 0 ? fopen(dir, "r") : NULL;
    if (md) {
        char line[1024];
        while (fgets(line, sizeof line, md)) fputs(line, stdout);
        fclose(md);
    }
    printf("table: %s/bench.md\n", out);
    return 0;
}
