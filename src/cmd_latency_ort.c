// hwnas latency export-blocks | import --format csv | profile --runtime onnxruntime
//                           | check --runtime onnxruntime
// Latency tables for runtimes other than hwnas's engine (src/latency_ort.h,
// search/lut_csv.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/safe_file.h"
#include "search/latency.h"
#include "search/lut_csv.h"
#include "search/speed_reference.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "src/latency_ort.h"
#include "supernet/space.h"
#include "supernet/trainer.h"

static const char* kUsage =
    "usage: hwnas latency export-blocks --space SPACE.yaml -o DIR\n"
    "       hwnas latency import  --format csv --space SPACE.yaml --csv TIMINGS.csv -o TARGET.yaml\n"
    "                             [--device-name TEXT] [--runtime-name TEXT] [--threads N]\n"
    "       hwnas latency profile --runtime onnxruntime --space SPACE.yaml -o TARGET.yaml\n"
    "                             [--threads N] [--warmup 10] [--runs 50] [--calibration 20] [--work DIR]\n"
    "       hwnas latency check   --runtime onnxruntime --target TARGET --space SPACE.yaml\n"
    "                             [--samples 100] [--seed S] [--csv FILE] [--threads N] [--warmup 10] [--runs 50]\n"
    "export-blocks writes one batch-1 ONNX model per block (stem, every (layer, op), head)\n"
    "and DIR/manifest.csv (layer,op,key,file,input). Time the models with any runtime, add\n"
    "a column ms (and optionally std, n), then `latency import --format csv` makes the target.\n"
    "profile/check time the blocks and whole subnets in ONNX Runtime (node tools/ort_time.js;\n"
    "--threads = its intraOpNumThreads, default all cores; --work defaults to TARGET.ort/).\n"
    "check times 10 subnets at a time beside the table's reference networks and prints\n"
    "what `hwnas latency check` prints (see `hwnas latency --help`).\n";

// Block models loaded and timed interleaved at once by a profile (a space of
// 64 layers x 32 operators has 2,050 blocks: timed in 3 chunks).
enum { ORT_BLOCK_CHUNK = 1024 };

typedef struct OrtArgs {
    const char *space, *out, *target, *format, *csv, *runtime, *work, *device_name, *runtime_name;
    int threads, threads_set, warmup, runs, calibration, samples;
    int seed;
} OrtArgs;

static int parse(int argc, char** argv, OrtArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("space", 0, OrtArgs, space),       FLAG_TEXT_ROW("out", 'o', OrtArgs, out),
        FLAG_TEXT_ROW("target", 0, OrtArgs, target),     FLAG_TEXT_ROW("format", 0, OrtArgs, format),
        FLAG_TEXT_ROW("csv", 0, OrtArgs, csv),           FLAG_TEXT_ROW("runtime", 0, OrtArgs, runtime),
        FLAG_TEXT_ROW("work", 0, OrtArgs, work),         FLAG_TEXT_ROW("device-name", 0, OrtArgs, device_name),
        FLAG_TEXT_ROW("runtime-name", 0, OrtArgs, runtime_name),
        FLAG_INT_ROW("threads", 0, OrtArgs, threads, 1, CONFIG_MAX_THREADS),
        FLAG_INT_ROW("warmup", 0, OrtArgs, warmup, 0, 1000000),
        FLAG_INT_ROW("runs", 0, OrtArgs, runs, 1, 1000000),
        FLAG_INT_ROW("calibration", 0, OrtArgs, calibration, 2, 10000),
        FLAG_INT_ROW("samples", 0, OrtArgs, samples, 1, 100000),
        FLAG_INT_ROW("seed", 0, OrtArgs, seed, 0, 2147483647), FLAG_END};
    *a = (OrtArgs){.warmup = 10, .runs = 50, .calibration = 20, .samples = 100, .seed = 1};
    int next, rc = flags_parse(argc, argv, flags, a, kUsage, &next);
    if (rc) return rc;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    a->threads_set = a->threads > 0;  // 0: not given (--threads is at least 1)
    if (!a->threads_set) a->threads = cores > 0 ? (int)cores : 1;
    if (next < argc && !a->csv) a->csv = argv[next++];  // `import --format csv FILE` as the other formats
    if (next != argc) return fputs(kUsage, stderr), 2;
    if (a->runtime && strcmp(a->runtime, "onnxruntime") != 0) {
        fprintf(stderr, "hwnas: error: --runtime '%s': expected onnxruntime (or no --runtime for hwnas's engine)\n",
                a->runtime);
        return 2;
    }
    return 0;
}

// A CPU supernet of the space with random weights (latency does not depend on them).
static Supernet* open_supernet(const char* space_path, Space* space, Device* dev, HwErr* err) {
    if (space_load(space, space_path, err) < 0 || device_open(dev, DEVICE_CPU, 1, err) < 0) return NULL;
    Supernet* sn = supernet_create(space, dev->ops, &dev->ctx, 1, err);
    if (sn && supernet_init_params(sn, 1, err) < 0) {
        supernet_destroy(sn);
        sn = NULL;
    }
    if (!sn) device_close(dev);
    return sn;
}

static void close_supernet(Supernet* sn, Device* dev) {
    supernet_destroy(sn);
    device_close(dev);
}

static int export_blocks(const OrtArgs* a) {
    if (!a->space || !a->out) return fputs(kUsage, stderr), 2;
    HwErr err = {0};
    Space space;
    Device dev;
    Supernet* sn = open_supernet(a->space, &space, &dev, &err);
    if (!sn) return cli_fail(&err);
    int rc = ort_export_blocks(sn, a->out, &err) < 0 ? cli_fail(&err) : 0;
    if (rc == 0) fprintf(stderr, "hwnas latency export-blocks: %d blocks -> %s/manifest.csv\n", sn->n_blocks, a->out);
    close_supernet(sn, &dev);
    return rc;
}

static void stamp(Lut* lut, const char* source) {
    snprintf(lut->source, sizeof lut->source, "%.500s", source);
    time_t now = time(NULL);
    strftime(lut->date, sizeof lut->date, "%Y-%m-%d", gmtime(&now));
    snprintf(lut->hwnas_version, sizeof lut->hwnas_version, "0.1");
    lut->batch = 1;
}

static int import_csv(const OrtArgs* a) {
    if (!a->format || strcmp(a->format, "csv") != 0 || !a->space || !a->csv || !a->out)
        return fputs(kUsage, stderr), 2;
    HwErr err = {0};
    Space space;
    if (space_load(&space, a->space, &err) < 0) return cli_fail(&err);
    Lut* lut = lut_csv_import(&space, a->csv, &err);
    if (!lut) return cli_fail(&err);
    char source[600];
    snprintf(source, sizeof source, "hwnas latency import --format csv %.500s", a->csv);
    stamp(lut, source);
    snprintf(lut->device, sizeof lut->device, "%s", a->device_name ? a->device_name : "not stated (imported CSV)");
    if (a->threads_set) lut->threads = a->threads;
    if (a->runtime_name) snprintf(lut->runtime, sizeof lut->runtime, "%s", a->runtime_name);
    int rc = lut_write(lut, a->out, &err) < 0 ? cli_fail(&err) : 0;
    if (rc == 0) fprintf(stderr, "hwnas latency import: %d entries -> %s\n", lut->count, a->out);
    lut_free(lut);
    return rc;
}

static int work_dir(const OrtArgs* a, const char* out, char* dir, size_t cap, HwErr* err) {
    if (a->work) return safe_path(dir, cap, err, "%s", a->work);
    return safe_path(dir, cap, err, "%s.ort", out);
}

static void describe(Lut* lut, const OrtArgs* a, const char* version, double per_entry) {
    char cpu[160];
    cpu_model_name(cpu, sizeof cpu);
    snprintf(lut->device, sizeof lut->device, "CPU %.100s, %d threads (ONNX Runtime, %.60s)", cpu, a->threads, version);
    snprintf(lut->runtime, sizeof lut->runtime, "%.60s, CPU execution provider", version);
    lut->method = LUT_MEASURED;
    lut->threads = a->threads;
    snprintf(lut->notes, sizeof lut->notes,
             "each block exported alone as a batch-1 ONNX model and timed in ONNX Runtime (tools/ort_time.js: "
             "intraOpNumThreads %d, sequential, all graph optimizations): %d warm-up runs, then mean = 20th percentile "
             "of %d timed runs, 16 models interleaved in rounds of 5; scale/offset_ms fitted on %d random subnets exported whole and timed the same way; %.4f ms "
             "(one run's fixed cost, paid once per subnet) taken off every entry; the raw CSV is timings.csv in the work folder (%s)",
             a->threads, a->warmup, a->runs, a->calibration, per_entry, a->work ? "--work" : "TARGET.ort/");
}

static int profile_ort(const OrtArgs* a) {
    if (!a->space || !a->out) return fputs(kUsage, stderr), 2;
    HwErr err = {0};
    Space space;
    Device dev;
    char dir[SAFE_PATH_MAX], manifest[SAFE_PATH_MAX], timings[SAFE_PATH_MAX], subnets[SAFE_PATH_MAX], version[128];
    if (work_dir(a, a->out, dir, sizeof dir, &err) < 0 || ort_version(version, sizeof version, &err) < 0)
        return cli_fail(&err);
    Supernet* sn = open_supernet(a->space, &space, &dev, &err);
    if (!sn) return cli_fail(&err);
    // Every block model in the same rounds: a change of the machine's speed
    // while they are timed then moves them all alike.
    OrtTiming t = {a->threads, a->warmup, a->runs, ORT_BLOCK_CHUNK};
    double t0 = clock_seconds();
    Lut* lut = NULL;
    int rc = safe_path(manifest, sizeof manifest, &err, "%s/blocks/manifest.csv", dir) < 0 ||
             safe_path(timings, sizeof timings, &err, "%s/timings.csv", dir) < 0 ||
             safe_path(subnets, sizeof subnets, &err, "%s/subnets", dir) < 0 || safe_output_dir(dir, &err) < 0;
    char blocks[SAFE_PATH_MAX];
    if (!rc) rc = safe_path(blocks, sizeof blocks, &err, "%s/blocks", dir) < 0 || ort_export_blocks(sn, blocks, &err) < 0 ||
                  ort_time_csv(manifest, timings, &t, &err) < 0;
    if (!rc) rc = !(lut = lut_csv_import(&space, timings, &err));
    double per_entry = 0;
    if (!rc) rc = ort_calibrate(sn, lut, a->calibration, subnets, &t, &per_entry, &err) < 0;
    double seconds = clock_seconds() - t0;
    if (!rc) {
        char source[600];
        snprintf(source, sizeof source, "hwnas latency profile --runtime onnxruntime --space %.500s", a->space);
        stamp(lut, source);
        describe(lut, a, version, per_entry);
        rc = lut_write(lut, a->out, &err) < 0;
    }
    if (!rc)
        fprintf(stderr, "hwnas latency profile: %d entries (ONNX Runtime, %d threads), scale %.3f offset %.4f ms, "
                "in %.1f s -> %s (CSV: %s)\n", lut->count, a->threads, lut->scale, lut->offset_ms,
                seconds, a->out, timings);
    lut_free(lut);
    close_supernet(sn, &dev);
    return rc ? cli_fail(&err) : 0;
}

// Subnets i0 .. i0 + n - 1 of the check, predicted, then exported whole and
// timed in ONNX Runtime interleaved with the table's ref_n reference
// networks (after them in paths), whose time now over their time in the
// table is the group's speed factor (search/speed_reference.h).
static int check_group(Supernet* sn, const Lut* lut, const OrtArgs* a, const char* dir, int i0, int n,
                       const int* ref, int ref_n, int* paths, CheckSums* c, HwErr* err) {
    double pred[CHECK_GROUP], meas[CHECK_GROUP + SPEED_REF_PATHS];
    if (latency_check_group_paths(sn, lut, (uint64_t)a->seed, i0, n, ref, ref_n, paths, pred, err) < 0) return -1;
    OrtTiming t = {a->threads, a->warmup, a->runs, n + ref_n};
    if (ort_time_subnets(sn, paths, n + ref_n, dir, &t, meas, err) < 0) return -1;
    for (int i = 0; i < n + ref_n; i++)
        if (!(meas[i] > 0)) return hw_runtime(err, NULL, 0, "subnet %d: ONNX Runtime gave no positive time", i0 + i);
    check_group_rows(&sn->space, paths, n, pred, meas, ref_n, lut->reference_ms, c);
    return 0;
}

// Predictions against `samples` random subnets exported whole and timed in
// ONNX Runtime, CHECK_GROUP at a time, as `hwnas latency check` does.
static int check_subnets(Supernet* sn, const Lut* lut, const OrtArgs* a, const char* dir, HwErr* err) {
    const Space* s = &sn->space;
    int ref[SPEED_REF_PATHS * SPACE_MAX_LAYERS];
    int ref_n = speed_reference_paths(lut, s, ref, err);
    if (ref_n < 0) return -1;
    int* paths = calloc((size_t)(CHECK_GROUP + SPEED_REF_PATHS) * s->n_layers, sizeof(int));
    if (!paths) return hw_runtime(err, NULL, 0, "out of memory");
    CheckSums c;
    memset(&c, 0, sizeof c);
    c.table = check_table_open(a->csv, err);
    int rc = a->csv && !c.table ? -1 : 0;
    for (int i = 0; rc == 0 && i < a->samples; i += CHECK_GROUP) {
        int n = a->samples - i < CHECK_GROUP ? a->samples - i : CHECK_GROUP;
        rc = check_group(sn, lut, a, dir, i, n, ref, ref_n, paths, &c, err);
    }
    free(paths);
    rc = check_table_close(c.table, rc, err);
    if (rc == 0) {
        CheckResult r;
        char line[256];
        check_result(&c, a->samples, ref_n, &r);
        check_result_line(&r, line, sizeof line);
        puts(line);
    }
    return rc;
}

static int check_ort(OrtArgs* a) {
    if (!a->target || !a->space) return fputs(kUsage, stderr), 2;
    HwErr err = {0};
    Lut* lut = lut_load(a->target, &err);
    if (!lut) return cli_fail(&err);
    if (!a->threads_set && lut->threads > 0) a->threads = lut->threads;  // time as the table was made
    char dir[SAFE_PATH_MAX];
    Space space;
    Device dev;
    Supernet* sn = NULL;
    int rc = work_dir(a, a->target, dir, sizeof dir, &err) < 0 || safe_output_dir(dir, &err) < 0 ||
             safe_path(dir + strlen(dir), sizeof dir - strlen(dir), &err, "/check") < 0 ||
             !(sn = open_supernet(a->space, &space, &dev, &err));
    if (!rc) rc = check_subnets(sn, lut, a, dir, &err) < 0;
    if (sn) close_supernet(sn, &dev);
    lut_free(lut);
    return rc ? cli_fail(&err) : 0;
}

int latency_ort_wants(int argc, char** argv) {
    if (argc >= 2 && !strcmp(argv[1], "export-blocks")) return 1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--runtime") || !strncmp(argv[i], "--runtime=", 10)) return 1;
        if ((!strcmp(argv[i], "--format") && i + 1 < argc && !strcmp(argv[i + 1], "csv")) ||
            !strcmp(argv[i], "--format=csv"))
            return 1;
    }
    return 0;
}

int cmd_latency_ort(int argc, char** argv) {
    OrtArgs a;
    int p = parse(argc - 1, argv + 1, &a);
    if (p) return p == 1 ? 0 : 2;
    if (!strcmp(argv[1], "export-blocks")) return export_blocks(&a);
    if (!strcmp(argv[1], "import")) return import_csv(&a);
    if (!strcmp(argv[1], "profile")) return profile_ort(&a);
    if (!strcmp(argv[1], "check")) return check_ort(&a);
    fprintf(stderr, "hwnas: error: latency %s: --runtime and --format csv go with profile, check and import\n", argv[1]);
    return 2;
}
