// `hwnas bench data`: images per second of the image-folder training pipeline
// (read, decode, RandomResizedCrop, flip, normalize into float NHWC batches).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "data/loader.h"

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

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse_int(const char* flag, const char* value, int min, int* out) {
    char* end;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *end || v < min || v > 1 << 30) {
        fprintf(stderr, "hwnas: error: bench data: %s '%s', expected an integer >= %d\n", flag, value ? value : "",
                min);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void imagenet_section(DataSection* d, const char* root, int size) {
    memset(d, 0, sizeof *d);
    snprintf(d->kind, sizeof d->kind, "imagefolder");
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
    const char* root = NULL;
    int workers = 2, batches = 20, batch = 64, size = 224, warmup = 1, seed = 1, val = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_data_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--root") && v) {
            root = v;
        } else if (!strcmp(a, "--workers")) {
            rc = parse_int(a, v, 0, &workers);
        } else if (!strcmp(a, "--batches")) {
            rc = parse_int(a, v, 1, &batches);
        } else if (!strcmp(a, "--batch")) {
            rc = parse_int(a, v, 1, &batch);
        } else if (!strcmp(a, "--size")) {
            rc = parse_int(a, v, 1, &size);
        } else if (!strcmp(a, "--warmup")) {
            rc = parse_int(a, v, 0, &warmup);
        } else if (!strcmp(a, "--seed")) {
            rc = parse_int(a, v, 0, &seed);
        } else if (!strcmp(a, "--val")) {
            val = 1;
            continue;
        } else {
            fprintf(stderr, "hwnas: error: bench data: unknown option '%s' (see hwnas bench data --help)\n", a);
            return 2;
        }
        if (rc) return 2;
        i++;
    }
    if (!root) {
        fprintf(stderr, "hwnas: error: bench data: --root DIR is required\n");
        return 2;
    }
    DataSection cfg;
    imagenet_section(&cfg, root, size);
    HwErr err = {{0}, 0};
    Dataset* ds = dataset_open(&cfg, val ? SPLIT_TEST : SPLIT_TRAIN, &err);
    if (!ds) {
        fprintf(stderr, "hwnas: error: %s\n", err.msg);
        return err.code ? err.code : 1;
    }
    LoaderOptions opt = {.batch = batch, .augment = !val, .shuffle = 1, .seed = (uint64_t)seed,
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
            double t0 = now_seconds();
            if (read_batches(l, batches, &epoch, images, labels) == 0) {
                double dt = now_seconds() - t0;
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
