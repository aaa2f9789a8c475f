// hwnas bench: speed measurements with machine-readable output.
//   hwnas bench train [--space S] [--batch N] [--steps N] [--warmup N] [--threads N] [--paths-out F]
//   hwnas bench data --root DIR [...]          (see bench_data_main)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "common/safe_file.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"

int bench_data_main(int argc, char** argv);

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

typedef struct BenchTrainArgs {
    const char *space, *device, *paths_out;
    int steps, warmup;
    Config keys;  // --batch, --threads and --seed, read as the config keys they mirror
} BenchTrainArgs;

// 0 to run, 1 after --help, 2 on a usage error (printed).
static int parse_bench_train(int argc, char** argv, BenchTrainArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("space", 0, BenchTrainArgs, space),
        FLAG_CONFIG_ROW("batch", BenchTrainArgs, keys, "train.batch"),
        FLAG_INT_ROW("steps", 0, BenchTrainArgs, steps, 1, 1000000),
        FLAG_INT_ROW("warmup", 0, BenchTrainArgs, warmup, 0, 1000000),
        FLAG_CONFIG_ROW("threads", BenchTrainArgs, keys, "train.threads"),
        FLAG_TEXT_ROW("device", 0, BenchTrainArgs, device),
        FLAG_TEXT_ROW("paths-out", 0, BenchTrainArgs, paths_out),
        FLAG_CONFIG_ROW("seed", BenchTrainArgs, keys, "train.seed"),
        FLAG_END};
    static const char* kUsage =
        "usage: hwnas bench train [--space S] [--batch 128] [--steps 20] [--warmup 3] [--threads N]\n"
        "                         [--device cpu|cuda] [--paths-out FILE] [--seed 1]\n";
    a->space = "configs/spaces/hurricane-fmnist.yaml", a->device = "cpu", a->paths_out = NULL;
    a->steps = 20, a->warmup = 3;
    config_defaults(&a->keys);
    a->keys.train.batch = 128;
    return flags_parse(argc, argv, flags, a, kUsage, NULL);
}

// Supernet train steps (forward, loss, backward, SGD) on random paths and
// random Fashion-MNIST-shaped data: images/s over the timed steps.
static int bench_train(int argc, char** argv) {
    BenchTrainArgs a;
    int parsed = parse_bench_train(argc, argv, &a);
    if (parsed) return parsed == 1 ? 0 : 2;
    const char *space_path = a.space, *device = a.device, *paths_out = a.paths_out;
    const int steps = a.steps, warmup = a.warmup, batch = a.keys.train.batch, threads = a.keys.train.threads;
    const uint64_t seed = a.keys.train.seed;
    HwErr err = {0};
    Space space;
    Device dev;
    DeviceKind kind;
    if (device_parse(device, &kind, &err) < 0 || space_load(&space, space_path, &err) < 0 ||
        device_open(&dev, kind, threads, &err) < 0)
        return cli_fail(&err);
    // --paths-out is written like every output (common/safe_file.h): never
    // through a planted link, and a write error is an error.
    SafeFile paths;
    if (paths_out && safe_file_begin(&paths, paths_out, &err) < 0) return cli_fail(&err);
    Supernet* sn = supernet_create(&space, dev.ops, &dev.ctx, batch, &err);
    if (!sn) {
        if (paths_out) safe_file_abort(&paths);
        return cli_fail(&err);
    }
    if (supernet_init_params(sn, seed, &err) < 0) {
        if (paths_out) safe_file_abort(&paths);
        supernet_destroy(sn);
        return cli_fail(&err);
    }
    size_t floats = (size_t)batch * space.in_h * space.in_w * space.in_c;
    float* images = malloc(floats * sizeof(float));
    int* labels = malloc((size_t)batch * sizeof(int));
    int* path = malloc(sizeof(int) * (size_t)space.n_layers);
    double* step_ms = malloc(sizeof(double) * (size_t)steps);
    Rng rng;
    rng_seed(&rng, seed, 7, 0, 0);
    for (size_t i = 0; i < floats; i++) images[i] = rng_normal(&rng);
    for (int i = 0; i < batch; i++) labels[i] = (int)rng_below(&rng, (uint32_t)space.classes);
    dev.ops->upload(&dev.ctx, sn->images, images, floats * sizeof(float));
    dev.ops->upload(&dev.ctx, sn->labels, labels, (size_t)batch * sizeof(int));
    SgdConfig sgd = {0.05f, 0.9f, 4e-5f, 1};
    double total = 0, macs = 0;
    for (int s = 0; s < warmup + steps; s++) {
        sample_path(sn, seed, (uint64_t)s, 0, NULL, path);
        if (s >= warmup) macs += supernet_path_macs(sn, path);
        if (paths_out && s >= warmup) {
            for (int l = 0; l < space.n_layers; l++)
                safe_file_printf(&paths, "%s%s", l ? " " : "", space.layers[l].names[path[l]]);
            safe_file_printf(&paths, "\n");
        }
        double t0 = clock_seconds();
        supernet_forward(sn, path, batch, MODE_TRAIN, 0.1f);
        dev.ops->cross_entropy_forward_backward(&dev.ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, batch,
                                                space.classes, 0.1f);
        supernet_zero_path_grads(sn, path);
        supernet_backward(sn);
        supernet_sgd_path(sn, path, &sgd);
        dev.ops->synchronize(&dev.ctx);
        double dt = clock_seconds() - t0;
        if (s >= warmup) step_ms[s - warmup] = dt * 1e3, total += dt;
    }
    int rc = paths_out && safe_file_commit(&paths, &err) < 0 ? cli_fail(&err) : 0;
    qsort(step_ms, (size_t)steps, sizeof(double), compare_doubles);
    if (rc == 0)
        printf("bench train space=%s device=%s threads=%d batch=%d steps=%d images_per_s=%.1f "
               "ms_per_step_mean=%.1f ms_per_step_median=%.1f mflops_per_image=%.2f\n",
               space.name, dev.ops->name, dev.ctx.threads, batch, steps, steps * batch / total, total * 1e3 / steps,
               step_ms[steps / 2], 2.0 * macs / steps / 1e6);
    free(images);
    free(labels);
    free(path);
    free(step_ms);
    supernet_destroy(sn);
    device_close(&dev);
    return rc;
}

int cmd_bench(int argc, char** argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: hwnas bench train [options]   supernet train-step images/s\n"
                "       hwnas bench data --root DIR   data loader images/s\n"
                "       hwnas bench pipeline [--quick] training time of SPOS vs the two-stage method\n"
                "       hwnas bench ranking --supernet RUN_DIR|CKPT  supernet vs stand-alone ranking\n"
                "       hwnas bench curve [--budgets 1,2,3,5]  time to accuracy, SPOS vs two-stage\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "data")) return bench_data_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "pipeline")) return bench_pipeline_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ranking")) return bench_ranking_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "curve")) return bench_curve_main(argc - 1, argv + 1);
    fprintf(stderr, "hwnas: error: bench: unknown benchmark '%s' (train, data, pipeline, ranking, curve)\n", argv[1]);
    return 2;
}
