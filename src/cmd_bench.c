// hwnas bench: speed measurements with machine-readable output.
//   hwnas bench train [--space S] [--batch N] [--steps N] [--warmup N] [--threads N] [--paths-out F]
//   hwnas bench data --root DIR [...]          (see bench_data_main)
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"

int bench_data_main(int argc, char** argv);

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

// Supernet train steps (forward, loss, backward, SGD) on random paths and
// random Fashion-MNIST-shaped data: images/s over the timed steps.
static int bench_train(int argc, char** argv) {
    static const struct option longopts[] = {
        {"space", required_argument, 0, 's'},   {"batch", required_argument, 0, 'b'},
        {"steps", required_argument, 0, 'n'},   {"warmup", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 't'}, {"device", required_argument, 0, 'd'},
        {"paths-out", required_argument, 0, 'p'}, {"seed", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *space_path = "configs/spaces/hurricane-fmnist.yaml", *device = "cpu", *paths_out = NULL;
    int batch = 128, steps = 20, warmup = 3, threads = 0, opt;
    uint64_t seed = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': space_path = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 'n': steps = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'd': device = optarg; break;
        case 'p': paths_out = optarg; break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'h':
            printf("usage: hwnas bench train [--space S] [--batch 128] [--steps 20] [--warmup 3] [--threads N]\n"
                   "                         [--device cpu|cuda] [--paths-out FILE] [--seed 1]\n");
            return 0;
        default: return 2;
        }
    }
    if (batch < 1 || steps < 1 || warmup < 0) {
        fprintf(stderr, "hwnas: error: bench train: batch and steps must be positive\n");
        return 2;
    }
    HwErr err = {0};
    Space space;
    Device dev;
    if (space_load(&space, space_path, &err) < 0 || device_open(&dev, device, threads, &err) < 0) return cli_fail(&err);
    Supernet* sn = supernet_create(&space, dev.ops, &dev.ctx, batch, &err);
    if (!sn) return cli_fail(&err);
    supernet_init_params(sn, seed);
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
    FILE* pf = paths_out ? fopen(paths_out, "w") : NULL;
    SgdConfig sgd = {0.05f, 0.9f, 4e-5f, 1};
    double total = 0;
    for (int s = 0; s < warmup + steps; s++) {
        sample_path(sn, seed, (uint64_t)s, 0, NULL, path);
        if (pf && s >= warmup) {
            for (int l = 0; l < space.n_layers; l++) fprintf(pf, "%s%s", l ? " " : "", space.layers[l].names[path[l]]);
            fprintf(pf, "\n");
        }
        double t0 = seconds_now();
        supernet_forward(sn, path, batch, MODE_TRAIN, 0.1f);
        dev.ops->cross_entropy_forward_backward(&dev.ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, batch,
                                                space.classes, 0.1f);
        supernet_zero_path_grads(sn, path);
        supernet_backward(sn);
        supernet_sgd_path(sn, path, &sgd);
        dev.ops->synchronize(&dev.ctx);
        double dt = seconds_now() - t0;
        if (s >= warmup) step_ms[s - warmup] = dt * 1e3, total += dt;
    }
    if (pf) fclose(pf);
    qsort(step_ms, (size_t)steps, sizeof(double), compare_doubles);
    printf("bench train space=%s device=%s threads=%d batch=%d steps=%d images_per_s=%.1f ms_per_step_mean=%.1f "
           "ms_per_step_median=%.1f\n",
           space.name, dev.ops->name, dev.ctx.threads, batch, steps, steps * batch / total, total * 1e3 / steps,
           step_ms[steps / 2]);
    free(images);
    free(labels);
    free(path);
    free(step_ms);
    supernet_destroy(sn);
    device_close(&dev);
    return 0;
}

int cmd_bench(int argc, char** argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: hwnas bench train [options]   supernet train-step images/s\n"
                "       hwnas bench data --root DIR   data loader images/s\n"
                "       hwnas bench pipeline [--quick] training time of SPOS vs the two-stage method\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "data")) return bench_data_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "pipeline")) return bench_pipeline_main(argc - 1, argv + 1);
    fprintf(stderr, "hwnas: error: bench: unknown benchmark '%s' (train, data)\n", argv[1]);
    return 2;
}
