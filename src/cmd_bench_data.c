// `hwnas bench data`: images per second of the image-folder training pipeline
// (read, decode, RandomResizedCrop, flip, normalize into float NHWC batches).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "data/loader.h"
#include "src/cmd_common.h"

int bench_data_main(int argc, char** argv);

static void bench_data_usage(FILE* fp) {
    fprintf(fp,
            "usage: hwnas bench data --root DIR [options]\n"
            "  --root DIR      image folder with DIR/train/CLASS/*.jpg (required)\n"
            "  --workers N     decoding threads, 0 = in the calling thread (default 2)\n"
            "  --batches N     timed batches (default 20)\n"
            "  --batch N       images per batch (default 64)\n"
            "  --size N        output side (default 224)\n"
            "  --warmup N      untimed batches first (default 1)\n"
            "  --seed N        shuffle/augmentation seed (default 1)\n"
            "  --val           the validation pipeline (ROOT/val, resize 256 + centre crop)\n");
}

// The options of bench data: the numeric ones read as the config keys they
// mirror, or by the config's parser with a range where none does.
typedef struct BenchDataArgs {
    const char* root;
    int batches, warmup, val;
    Config keys;  // data.workers, train.batch, data.input_size, train.seed
} BenchDataArgs;

// One numeric option and its value; 0, or -1 with err.
static int parse_number(BenchDataArgs* a, const char* flag, const char* value, HwErr* err) {
    if (!value) return hw_bad_input(err, NULL, 0, "%s: found nothing, expected a value", flag);
    if (!strcmp(flag, "--workers")) return config_override_flag(&a->keys, flag, "data.workers", value, err);
    if (!strcmp(flag, "--batch")) return config_override_flag(&a->keys, flag, "train.batch", value, err);
    if (!strcmp(flag, "--size")) return config_override_flag(&a->keys, flag, "data.input_size", value, err);
    if (!strcmp(flag, "--seed")) return config_override_flag(&a->keys, flag, "train.seed", value, err);
    if (!strcmp(flag, "--batches")) return flag_int(flag, value, 1, 1000000, &a->batches, err);
    return flag_int(flag, value, 0, 1000000, &a->warmup, err);  // --warmup
}

// 0 to run, 1 after --help, 2 on a usage error (printed).
static int parse_bench_data(int argc, char** argv, BenchDataArgs* a) {
    static const char* const kNumeric[] = {"--workers", "--batches", "--batch", "--size", "--warmup", "--seed", NULL};
    memset(a, 0, sizeof *a);
    a->batches = 20, a->warmup = 1;
    config_defaults(&a->keys);
    a->keys.data.workers = 2, a->keys.train.batch = 64, a->keys.data.input_size = 224;
    HwErr err = {{0}, 0};
    for (int i = 1; i < argc; i++) {
        const char* f = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        int numeric = 0;
        for (const char* const* n = kNumeric; *n; n++) numeric |= !strcmp(f, *n);
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            bench_data_usage(stdout);
            return 1;
        } else if (!strcmp(f, "--root") && v) {
            a->root = v, i++;
        } else if (!strcmp(f, "--val")) {
            a->val = 1;
        } else if (numeric) {
            if (parse_number(a, f, v, &err) < 0) return cli_fail(&err);
            i++;
        } else {
            hw_bad_input(&err, NULL, 0, "bench data: unknown option '%s' (see hwnas bench data --help)", f);
            return cli_fail(&err);
        }
    }
    if (a->root) return 0;
    fprintf(stderr, "hwnas: error: bench data: --root DIR is required\n");
    return 2;
}

static void imagenet_section(DataSection* d, const char* root, int size) {
    memset(d, 0, sizeof *d);
    d->kind = DATA_IMAGEFOLDER;
    snprintf(d->root, sizeof d->root, "%s", root);
    d->input_size = size;
    d->channels = 3;
    d->hflip = 1;
    d->rrc_scale[0] = 0.08f, d->rrc_scale[1] = 1.0f;
    d->rrc_ratio[0] = 0.75f, d->rrc_ratio[1] = 4.0f / 3.0f;
    d->val_resize = size * 8 / 7;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int k = 0; k < 3; k++) d->mean[k] = mean[k], d->std[k] = std[k];
}

// Reads n batches, starting a new epoch when one ends. 0 or -1.
static int read_batches(DataLoader* l, int n, int* epoch, float* images, int* labels) {
    HwErr err = {{0}, 0};
    for (int b = 0; b < n;) {
        int got = loader_next(l, images, labels, &err);
        if (got < 0) {
            fprintf(stderr, "hwnas: error: %s\n", err.msg);
            return -1;
        }
        if (got == 0) {
            loader_start_epoch(l, ++*epoch, 0);
            continue;
        }
        b++;
    }
    return 0;
}

int bench_data_main(int argc, char** argv) {
    BenchDataArgs args;
    int parsed = parse_bench_data(argc, argv, &args);
    if (parsed) return parsed == 1 ? 0 : 2;
    const char* root = args.root;
    const int workers = args.keys.data.workers, batches = args.batches, batch = args.keys.train.batch;
    const int size = args.keys.data.input_size, warmup = args.warmup, val = args.val;
    const uint64_t seed = args.keys.train.seed;
    DataSection cfg;
    imagenet_section(&cfg, root, size);
    HwErr err = {{0}, 0};
    Dataset* ds = dataset_open(&cfg, val ? SPLIT_TEST : SPLIT_TRAIN, &err);
    if (!ds) {
        fprintf(stderr, "hwnas: error: %s\n", err.msg);
        return err.code ? err.code : 1;
    }
    LoaderOptions opt = {.batch = batch, .augment = !val, .shuffle = 1, .seed = seed,
                         .workers = workers, .rank = 0, .world = 1, .drop_last = 1, .prefetch = 2};
    DataLoader* l = loader_create(ds, &opt, &err);
    float* images = malloc((size_t)batch * size * size * 3 * sizeof *images);
    int* labels = malloc((size_t)batch * sizeof *labels);
    int rc = 1;
    if (!l || !images || !labels) {
        fprintf(stderr, "hwnas: error: %s\n", l ? "out of memory" : err.msg);
    } else if (loader_batches_per_epoch(l) == 0) {
        fprintf(stderr, "hwnas: error: %s: %d images, expected at least one batch of %d\n", root, dataset_size(ds), batch);
    } else {
        int epoch = 0;
        loader_start_epoch(l, epoch, 0);
        if (read_batches(l, warmup, &epoch, images, labels) == 0) {
            double t0 = clock_seconds();
            if (read_batches(l, batches, &epoch, images, labels) == 0) {
                double dt = clock_seconds() - t0;
                printf("bench data: root %s split %s workers %d batch %d size %d batches %d images %d "
                       "seconds %.3f images_per_s %.1f skipped %d\n",
                       root, val ? "val" : "train", workers, batch, size, batches, batches * batch, dt,
                       batches * batch / dt, dataset_skipped(ds));
                rc = 0;
            }
        }
    }
    free(images);
    free(labels);
    loader_destroy(l);
    dataset_close(ds);
    return rc;
}
