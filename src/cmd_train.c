// hwnas train: supernet training with single-path uniform sampling.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/safe_file.h"
#include "data/loader.h"
#include "dist/comm.h"
#include "supernet/batch_feed.h"
#include "supernet/checkpoint.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"
#include "search/latency.h"
#include "search/lut.h"

static void train_usage(char* out, size_t cap) {
    snprintf(out, cap,
            "usage: hwnas train -c CONFIG -o RUN_DIR [options]\n"
            "Trains the supernet of the config's search space with single-path uniform\n"
            "sampling: each step one random operator per layer, only that path updated\n"
            "(train.sampling flops|latency: only paths inside train.window, as SPOS).\n"
            "\n"
            "  -c, --config FILE     run configuration (YAML)\n"
            "  -o, --out DIR         run directory (created); checkpoints, train.csv. A DIR that\n"
            "                        is a symbolic link is refused unless HWNAS_ALLOW_SYMLINK_OUTPUT=1\n"
            "      --resume          continue from DIR/supernet.ckpt exactly (from the beginning\n"
            "                        while DIR has no checkpoint yet)\n"
            "      --space FILE      search space (overrides the config's `space`)\n"
            "      --device cpu|cuda default cpu\n"
            "      --epochs N        overrides train.epochs\n"
            "      --threads N       overrides train.threads (0 = all cores, at most %d)\n"
            "      --set KEY=VALUE   overrides any config key, e.g. --set data.root=/data/imagenet\n",
            CONFIG_MAX_THREADS);
}

typedef struct TrainArgs {
    const char *config, *out, *space, *device;
    const char *epochs, *threads;  // numeric flags, read over the loaded config
    int resume;
    ConfigOverrides sets;
} TrainArgs;

// 0 to run, 1 after --help, 2 on a usage error (printed).
static int parse_train_args(int argc, char** argv, TrainArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', TrainArgs, config), FLAG_TEXT_ROW("out", 'o', TrainArgs, out),
        FLAG_ON_ROW("resume", TrainArgs, resume),        FLAG_TEXT_ROW("space", 0, TrainArgs, space),
        FLAG_TEXT_ROW("device", 0, TrainArgs, device),   FLAG_TEXT_ROW("epochs", 0, TrainArgs, epochs),
        FLAG_TEXT_ROW("threads", 0, TrainArgs, threads), FLAG_SET_ROW(TrainArgs, sets),
        FLAG_END};
    char usage[2048];
    train_usage(usage, sizeof usage);
    memset(a, 0, sizeof *a);
    int next, rc = flags_parse(argc, argv, flags, a, usage, &next);
    if (rc) return rc;
    if (!a->out || next != argc) {
        fprintf(stderr, "hwnas: error: train needs -o RUN_DIR (see hwnas train --help)\n");
        return 2;
    }
    return 0;
}

// The config file, --space and --device, the numeric flags (as the keys they
// stand for), then --set.
static int load_train_config(const TrainArgs* a, Config* cfg, HwErr* err) {
    config_defaults(cfg);
    if (a->config && config_load(cfg, a->config, err) < 0) return -1;
    if (a->space && safe_path(cfg->space, sizeof cfg->space, err, "%s", a->space) < 0) return -1;  // never cut
    if ((a->device && config_override_flag(cfg, "--device", "train.device", a->device, err) < 0) ||
        (a->epochs && config_override_flag(cfg, "--epochs", "train.epochs", a->epochs, err) < 0) ||
        (a->threads && config_override_flag(cfg, "--threads", "train.threads", a->threads, err) < 0))
        return -1;
    return overrides_apply(&a->sets, cfg, err);
}

// Keys `hwnas train` does not use: warned about when set (train.window and
// target matter only to constrained sampling).
static void warn_train_unused(const Config* cfg) {
    static const char* const kOthers[] = {"search.", "space_gen.", "stages.", "finetune.", "latency_ms", NULL};
    static const char* const kWindow[] = {"train.window", NULL};
    static const char* const kTarget[] = {"target", NULL};
    const char* const* lists[3] = {kOthers, cfg->train.sampling == SAMPLING_UNIFORM ? kWindow : NULL,
                                   cfg->train.sampling != SAMPLING_LATENCY ? kTarget : NULL};
    const char* keys[16];
    int n = 0;
    for (int i = 0; i < 3; i++)
        for (const char* const* k = lists[i]; k && *k; k++) keys[n++] = *k;
    keys[n] = NULL;
    warn_unused_keys("train", cfg, NULL, keys);
}

// Everything is checked (space, data, target of latency sampling) before
// anything is written.
static int check_train_inputs(const Config* cfg, Space* space, Lut** lut, HwErr* err) {
    if (space_load(space, cfg->space, err) < 0 || batch_feed_check_data(&cfg->data, cfg->path, space, err) < 0) return -1;
    Dataset* check = dataset_open(&cfg->data, SPLIT_TRAIN, err);
    if (!check) return -1;
    dataset_close(check);
    if (cfg->train.sampling != SAMPLING_LATENCY) return 0;
    if (cfg->target.kind != TARGET_FILE)
        return hw_bad_input(err, cfg->path[0] ? cfg->path : NULL, 0,
                            "train.sampling latency needs `target` to be a latency table file");
    *lut = lut_load(cfg->target.file, err);
    return *lut ? 0 : -1;
}

// The supernet, initialized or resumed, and the run directory with its
// resolved config. The run's batches per epoch are known once its data
// loader exists (train_run checks the rest); the epochs are known now.
static Supernet* prepare_supernet(const Config* cfg, const Space* space, Device* dev, const char* out, int resume,
                                  int root, HwErr* err) {
    Supernet* sn = supernet_create(space, dev->ops, &dev->ctx, cfg->train.batch, err);
    char path[SAFE_PATH_MAX];
    TrainState st;
    if (!sn) return NULL;
    int rc = supernet_init_params(sn, cfg->train.seed, err);
    if (rc == 0) rc = safe_path(path, sizeof path, err, "%s/supernet.ckpt", out);
    if (rc == 0 && resume &&
        (checkpoint_load(path, sn, &st, NULL, err) < 0 || checkpoint_check_state(path, &st, cfg->train.epochs, 0, err) < 0))
        rc = -1;
    if (rc == 0) rc = safe_path(path, sizeof path, err, "%s/config.yaml", out);
    if (rc == 0 && root && (make_dirs(out, err) < 0 || config_write(cfg, path, err) < 0)) rc = -1;
    if (rc == 0) return sn;
    supernet_destroy(sn);
    return NULL;
}

static void say_training(const Config* cfg, const Space* space, const Supernet* sn, const Device* dev,
                         const Comm* comm) {
    fprintf(stderr,
            "hwnas train: space %s (%d layers, 10^%.1f architectures, %.2f M supernet parameters), %s, %d threads\n",
            space->name, space->n_layers, space_log10_size(space), sn->param_floats / 1e6, dev->ops->name,
            dev->ctx.threads);
    if (comm->size > 1)
        fprintf(stderr, "hwnas train: data parallel over %d processes (%s), global batch %d\n", comm->size,
                comm->kind == COMM_NCCL ? "NCCL" : "MPI", cfg->train.batch * comm->size);
}

// The training job of the config, its sampling filtered (train.sampling).
static int train_supernet(const Config* cfg, Supernet* sn, const Lut* lut, const char* out, int resume, Comm* comm,
                          TrainResult* res, HwErr* err) {
    LatencyModel model = {lut, &sn->space};
    PathFilter filter;
    if (path_filter_init(&filter, &cfg->train, sn, lut ? latency_model_predict : NULL, &model, cfg->path, err) < 0)
        return -1;
    TrainJob job = {0};
    job.train = &cfg->train;
    job.data = &cfg->data;
    job.config_path = cfg->path;
    job.run_dir = out;
    job.checkpoint_name = "supernet.ckpt";
    job.csv_name = "train.csv";
    job.resume = resume;
    job.epochs = cfg->train.epochs;
    job.lr = cfg->train.lr;
    job.filter = &filter;
    job.interrupted = install_interrupt_handler();
    job.comm = comm;
    return train_run(sn, &job, res, err);
}

int cmd_train(int argc, char** argv) {
    TrainArgs a;
    int parsed = parse_train_args(argc, argv, &a);
    if (parsed) return parsed == 1 ? 0 : 2;
    HwErr err = {0};
    Config cfg;
    Space space;
    Lut* lut = NULL;
    if (load_train_config(&a, &cfg, &err) < 0 || check_train_inputs(&cfg, &space, &lut, &err) < 0) {
        lut_free(lut);
        return cli_fail(&err);
    }
    int resume = a.resume && resume_has_checkpoint("train", a.out, "supernet.ckpt");
    Device dev;
    if (device_open(&dev, cfg.train.device, cfg.train.threads, &err) < 0) {
        lut_free(lut);
        return cli_fail(&err);
    }
    // Under mpirun: data parallel, rank 0 writes. From here on an error on
    // one rank stops all of them (comm_abort) so none waits in a collective.
    Comm comm;
    int rc = comm_init(&comm, "auto", dev.ops, &dev.ctx, &err);
    int root = rc == 0 && comm_is_root(&comm);
    Supernet* sn = rc == 0 ? prepare_supernet(&cfg, &space, &dev, a.out, resume, root, &err) : NULL;
    TrainResult res = {0};
    if (sn && root) {
        // Once the inputs are known good, so that an error stays one line.
        warn_train_unused(&cfg);
        say_training(&cfg, &space, sn, &dev, &comm);
    }
    rc = sn ? train_supernet(&cfg, sn, lut, a.out, resume, &comm, &res, &err) : -1;
    if (rc == 0 && root)
        fprintf(stderr, "hwnas train: %lld steps in %.1f s (%.1f images/s), final loss %.4f%s\n", (long long)res.steps,
                res.seconds, res.images_per_s, res.final_loss, res.interrupted ? " (interrupted)" : "");
    lut_free(lut);
    supernet_destroy(sn);
    int code = rc < 0 ? cli_fail(&err) : res.interrupted ? 130 : 0;
    if (rc < 0) comm_abort(&comm, code);
    comm_finalize(&comm);
    device_close(&dev);
    return code;
}
