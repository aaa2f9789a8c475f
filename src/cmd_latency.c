// hwnas latency profile | predict | check | import
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/safe_file.h"
#include "common/yaml_tree.h"
#include "search/latency.h"
#include "search/lut.h"
#include "search/lut_import.h"
#include "search/winner_check.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/run_dir.h"
#include "supernet/arch.h"
#include "supernet/space.h"
#include "supernet/supernet.h"

#define HWNAS_VERSION "0.1"

static const char* kUsage =
    "usage: hwnas latency profile --space SPACE.yaml -o TARGET.yaml [--device cpu|cuda] [--batch 1]\n"
    "                             [--runs 30] [--warmup 5] [--threads N] [--force]\n"
    "       hwnas latency predict --target TARGET --arch ARCH.yaml|RUN_DIR [--space SPACE.yaml] [--threads N] [--strict]\n"
    "                             [--measure]\n"
    "       hwnas latency check   --target TARGET --space SPACE.yaml --samples N [--csv FILE] [--threads N]\n"
    "                             [--force] [--strict]\n"
    "       hwnas latency import  --format proxyless|ofa FILE -o TARGET.yaml\n"
    "       hwnas latency export-blocks | import --format csv | profile|check --runtime onnxruntime:\n"
    "                             see `hwnas latency export-blocks --help`\n"
    "A target is a latency lookup table (YAML) in ms; `skip` costs 0 ms unless the\n"
    "table has an entry for it. --arch RUN_DIR means RUN_DIR/best.yaml. SPACE\n"
    "defaults to the file the architecture names (`space_file:`, beside it), else\n"
    "to configs/spaces/NAME.yaml for its `space: NAME`. predict prints the predicted\n"
    "ms; --measure adds `measured_ms X threads T`: the architecture timed end to end\n"
    "at batch 1 on this CPU with the table's threads, as `hwnas run` times its winner.\n"
    "Timings are the 20th percentile of runs in groups of 5, the networks or blocks\n"
    "compared interleaved, threads pinned where the OS allows. A machine too busy to\n"
    "measure is refused after 3 tries (exit 1); --force measures anyway with a warning.\n"
    "--threads other than the table's is a warning; --strict makes it an error.\n"
    "check prints within10, mape and bias for the table's predictions times the\n"
    "machine's speed now against when the table was made (`speed`: the table's\n"
    "reference networks timed again beside every 10 subnets), then raw_within10,\n"
    "raw_mape and raw_bias for the predictions as they are.\n";

typedef struct LatencyArgs {
    const char *space, *out, *device, *target, *arch, *format, *csv, *file;
    int batch, runs, warmup, threads, samples;
    int force, strict, measure;
    uint64_t seed;
    Config keys;  // --batch, --threads and --seed, read as the config keys they mirror
} LatencyArgs;

static int parse(int argc, char** argv, LatencyArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("space", 0, LatencyArgs, space),   FLAG_TEXT_ROW("out", 'o', LatencyArgs, out),
        FLAG_TEXT_ROW("device", 0, LatencyArgs, device), FLAG_TEXT_ROW("target", 0, LatencyArgs, target),
        FLAG_TEXT_ROW("arch", 0, LatencyArgs, arch),     FLAG_TEXT_ROW("format", 0, LatencyArgs, format),
        FLAG_TEXT_ROW("csv", 0, LatencyArgs, csv),       FLAG_CONFIG_ROW("batch", LatencyArgs, keys, "train.batch"),
        FLAG_INT_ROW("runs", 0, LatencyArgs, runs, 1, 1000000),
        FLAG_INT_ROW("warmup", 0, LatencyArgs, warmup, 0, 1000000),
        FLAG_CONFIG_ROW("threads", LatencyArgs, keys, "train.threads"),
        FLAG_INT_ROW("samples", 0, LatencyArgs, samples, 1, 1000000),
        FLAG_CONFIG_ROW("seed", LatencyArgs, keys, "train.seed"),
        FLAG_ON_ROW("force", LatencyArgs, force),        FLAG_ON_ROW("strict", LatencyArgs, strict),
        FLAG_ON_ROW("measure", LatencyArgs, measure),    FLAG_END};
    memset(a, 0, sizeof *a);
    a->device = "cpu", a->runs = 30, a->warmup = 5, a->samples = 100;
    config_defaults(&a->keys);
    a->keys.train.batch = 1;
    int next, rc = flags_parse(argc, argv, flags, a, kUsage, &next);
    if (rc) return rc;
    a->batch = a->keys.train.batch, a->threads = a->keys.train.threads, a->seed = a->keys.train.seed;
    if (next < argc) a->file = argv[next++];
    if (next != argc) return fputs(kUsage, stderr), 2;
    return 0;
}

static int open_supernet(const char* space_path, const char* device, int threads, int batch, Space* space,
                         Device* dev, Supernet** sn, HwErr* err) {
    DeviceKind kind;
    if (device_parse(device, &kind, err) < 0 || space_load(space, space_path, err) < 0 ||
        device_open(dev, kind, threads, err) < 0)
        return -1;
    *sn = supernet_create(space, dev->ops, &dev->ctx, batch, err);
    if (!*sn) return -1;
    return supernet_init_params(*sn, 1, err);
}

static int profile(const LatencyArgs* a) {
    if (!a->space || !a->out) {
        fputs(kUsage, stderr);
        return 2;
    }
    if (a->runs < 30) {
        fprintf(stderr, "hwnas: error: --runs: found %d, expected at least 30 timed runs\n", a->runs);
        return 2;
    }
    HwErr err = {0};
    Space space;
    Device dev;
    Supernet* sn = NULL;
    if (open_supernet(a->space, a->device, a->threads, a->batch, &space, &dev, &sn, &err) < 0) return cli_fail(&err);
    ProfileOptions opt = {a->warmup, a->runs, a->batch, 0, a->force};
    double t0 = clock_seconds();
    Lut* lut = latency_profile(sn, &opt, &err);
    double seconds = clock_seconds() - t0;
    int rc = 0;
    if (!lut) {
        rc = cli_fail(&err);
    } else {
        char cpu[160];
        cpu_model_name(cpu, sizeof cpu);
        snprintf(lut->device, sizeof lut->device, "%s %s, %d threads (hwnas %s backend)", dev.ops->name == ops_cpu.name ? "CPU" : "GPU",
                 cpu, dev.ctx.threads, dev.ops->name);
        lut->method = LUT_MEASURED;
        snprintf(lut->source, sizeof lut->source, "hwnas latency profile --space %s", a->space);
        time_t now = time(NULL);
        strftime(lut->date, sizeof lut->date, "%Y-%m-%d", gmtime(&now));
        snprintf(lut->hwnas_version, sizeof lut->hwnas_version, "%s", HWNAS_VERSION);
        snprintf(lut->notes, sizeof lut->notes,
                 "each block timed with hwnas's inference path (eval mode), the blocks of a layer interleaved round by "
                 "round: %d warm-up runs, then mean = 20th percentile of %d timed runs in groups of 5, std = their "
                 "standard deviation; threads %s; %s",
                 a->warmup, a->runs,
                 lut->pinned < 0 ? "not pinned (GPU)" : lut->pinned ? "pinned to CPUs" : "not pinned (the OS refused or cannot)",
                 latency_timing_note(sn));
        if (lut_write(lut, a->out, &err) < 0) rc = cli_fail(&err);
        else
            fprintf(stderr, "hwnas latency profile: %d entries in %.1f s -> %s\n", sn->n_blocks,
                    seconds, a->out);
        lut_free(lut);
    }
    supernet_destroy(sn);
    device_close(&dev);
    return rc;
}

// A table measured with T threads predicts for T threads: figures of another
// thread count do not compare (--threads 1 against a 2-thread table once gave
// 0% within 10% without a word). A warning, or with --strict an error (2).
static int thread_mismatch(const Lut* lut, const LatencyArgs* a) {
    if (lut->threads <= 0 || a->threads <= 0 || a->threads == lut->threads) return 0;
    if (a->strict) {
        HwErr err = {0};
        hw_bad_input(&err, a->target, 0, "threads: measured with %d, found --threads %d (--strict refuses a mismatch)",
                     lut->threads, a->threads);
        return cli_fail(&err);
    }
    fprintf(stderr, "hwnas: warning: %s: measured with %d threads, not %d; figures of other thread counts do not "
                    "compare (pass --threads %d)\n", a->target, lut->threads, a->threads, lut->threads);
    return 0;
}

// A check of a table timed another way compares unlike statistics: the
// median of runs is a few % above their 20th percentile.
static void timing_mismatch(const Lut* lut, const char* target) {
    if (lut->method != LUT_MEASURED || lut->timing == LUT_TIMING_Q20_ROUNDS) return;
    fprintf(stderr, "hwnas: warning: %s: timing %s, this check measures q20-rounds; re-profile to compare like with "
                    "like\n", target, lut->timing == LUT_TIMING_UNSTATED ? "not stated" : lut_timing_name(lut->timing));
}

// --measure: the architecture timed end to end at batch 1 on this CPU, as
// `hwnas run` times its winner (search/winner_check.h), with the table's
// thread count.
static int measure_arch(const Space* space, const int* ops, int threads) {
    HwErr err = {0};
    Device dev;
    double ms;
    if (device_open(&dev, DEVICE_CPU, threads, &err) < 0) return cli_fail(&err);
    int rc = winner_measure(space, ops, NULL, &dev.ctx, &ms, &err);
    device_close(&dev);
    if (rc < 0) return cli_fail(&err);
    printf("measured_ms %.4f threads %d\n", ms, threads);
    return 0;
}

static int predict(const LatencyArgs* a) {
    if (!a->target || !a->arch) {
        fputs(kUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    Space space;
    Arch arch;
    char arch_path[SAFE_PATH_MAX];
    if (run_dir_arch_path(arch_path, sizeof arch_path, a->arch, &err) < 0 ||
        space_for_arch(a->space, arch_path, &space, &err) < 0 || arch_load(&arch, arch_path, &space, &err) < 0)
        return cli_fail(&err);
    Lut* lut = lut_load(a->target, &err);
    if (!lut) return cli_fail(&err);
    int mismatch = thread_mismatch(lut, a);
    if (mismatch) return lut_free(lut), mismatch;
    double ms;
    int threads = lut->threads > 0 ? lut->threads : a->threads;
    int rc = latency_predict(lut, &space, arch.ops, &ms, &err);
    lut_free(lut);
    if (rc < 0) return cli_fail(&err);
    printf("%.4f\n", ms);
    return a->measure ? measure_arch(&space, arch.ops, threads) : 0;
}

// The figures with the machine-speed factor, then (for a table with a
// reference) the factor and the figures without it.
static void print_check(const CheckResult* r) {
    char line[256];
    check_result_line(r, line, sizeof line);
    puts(line);
}

static int check(const LatencyArgs* a) {
    if (!a->target || !a->space) {
        fputs(kUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    Space space;
    Device dev;
    Supernet* sn = NULL;
    Lut* lut = lut_load(a->target, &err);
    if (!lut) return cli_fail(&err);
    int mismatch = thread_mismatch(lut, a);
    if (mismatch) return lut_free(lut), mismatch;
    timing_mismatch(lut, a->target);
    int batch = lut->batch > 0 ? lut->batch : a->batch;
    if (open_supernet(a->space, a->device, a->threads ? a->threads : lut->threads, batch, &space, &dev, &sn, &err) < 0) {
        lut_free(lut);
        return cli_fail(&err);
    }
    ProfileOptions opt = {a->warmup, a->runs, batch, 0, a->force};
    CheckResult res;
    int rc = latency_check(sn, lut, a->samples, a->seed, &opt, a->csv, &res, &err);
    if (rc < 0) rc = cli_fail(&err);
    else print_check(&res);
    lut_free(lut);
    supernet_destroy(sn);
    device_close(&dev);
    return rc;
}

static int import(const LatencyArgs* a) {
    if (!a->format || !a->file || !a->out) {
        fputs(kUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    Lut* lut = NULL;
    LutImportReport rep;
    memset(&rep, 0, sizeof rep);
    if (lut_import(a->format, a->file, &lut, &rep, &err) < 0) return cli_fail(&err);
    int rc = lut_write(lut, a->out, &err) < 0 ? cli_fail(&err) : 0;
    if (rc == 0) {
        fprintf(stderr, "hwnas latency import: %d source entries -> %d entries (%d folded into stem/head), %d without counterpart\n",
                rep.source_entries, rep.imported, rep.merged, rep.unmatched_count);
        for (int i = 0; i < rep.unmatched_count; i++)
            fprintf(stderr, "  no counterpart: %s:%d: %s (%s)\n", a->file, rep.unmatched[i].line, rep.unmatched[i].key,
                    rep.unmatched[i].reason);
    }
    lut_import_report_free(&rep);
    lut_free(lut);
    return rc;
}

int cmd_latency(int argc, char** argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (latency_ort_wants(argc, argv)) return cmd_latency_ort(argc, argv);
    LatencyArgs a;
    int p = parse(argc - 1, argv + 1, &a);
    if (p) return p == 1 ? 0 : 2;
    if (!strcmp(argv[1], "profile")) return profile(&a);
    if (!strcmp(argv[1], "predict")) return predict(&a);
    if (!strcmp(argv[1], "check")) return check(&a);
    if (!strcmp(argv[1], "import")) return import(&a);
    fprintf(stderr, "hwnas: error: latency: unknown subcommand '%s' (profile, predict, check, import)\n", argv[1]);
    return 2;
}
