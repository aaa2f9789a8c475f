// Subnet commands: extract (weights out of a supernet checkpoint), eval,
// finetune (from extracted weights) and retrain (from scratch).
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/safe_file.h"
#include "dist/comm.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/arch.h"
#include "supernet/checkpoint.h"
#include "supernet/evaluate.h"
#include "supernet/run_dir.h"
#include "supernet/safetensors.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"

typedef struct SubnetArgs {
    const char *config, *arch, *weights, *init, *supernet, *out, *device, *logits_out;
    const char *epochs, *threads, *lr;  // numeric flags, read over the loaded config
    int resume;
    ConfigOverrides sets;
} SubnetArgs;

static int parse_args(int argc, char** argv, SubnetArgs* a, const char* usage) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', SubnetArgs, config),    FLAG_TEXT_ROW("arch", 0, SubnetArgs, arch),
        FLAG_TEXT_ROW("weights", 0, SubnetArgs, weights),    FLAG_TEXT_ROW("init", 0, SubnetArgs, init),
        FLAG_TEXT_ROW("supernet", 0, SubnetArgs, supernet),  FLAG_TEXT_ROW("out", 'o', SubnetArgs, out),
        FLAG_TEXT_ROW("device", 0, SubnetArgs, device),      FLAG_TEXT_ROW("epochs", 0, SubnetArgs, epochs),
        FLAG_TEXT_ROW("threads", 0, SubnetArgs, threads),    FLAG_TEXT_ROW("lr", 0, SubnetArgs, lr),
        FLAG_ON_ROW("resume", SubnetArgs, resume),           FLAG_TEXT_ROW("logits-out", 0, SubnetArgs, logits_out),
        FLAG_SET_ROW(SubnetArgs, sets),                      FLAG_END};
    memset(a, 0, sizeof *a);
    return flags_parse(argc, argv, flags, a, usage, NULL);
}

// --epochs and --lr stand for finetune.epochs and finetune.lr, or for
// finetune.retrain_epochs and finetune.retrain_lr when training from scratch.
static int load_config(Config* cfg, const char* path, const SubnetArgs* a, int from_scratch, HwErr* err) {
    config_defaults(cfg);
    if (path && run_dir_config_load(cfg, path, err) < 0) return -1;
    if (a->device && config_override_flag(cfg, "--device", "train.device", a->device, err) < 0) return -1;
    const char* epochs_key = from_scratch ? "finetune.retrain_epochs" : "finetune.epochs";
    const char* lr_key = from_scratch ? "finetune.retrain_lr" : "finetune.lr";
    if ((a->threads && config_override_flag(cfg, "--threads", "train.threads", a->threads, err) < 0) ||
        (a->epochs && config_override_flag(cfg, "--epochs", epochs_key, a->epochs, err) < 0) ||
        (a->lr && config_override_flag(cfg, "--lr", lr_key, a->lr, err) < 0))
        return -1;
    return overrides_apply(&a->sets, cfg, err);
}

// The files a command reads when given a run directory or an architecture
// file alone: --arch DIR means DIR/best.yaml; without -c, the config.yaml
// beside the architecture file; the space the architecture file names
// (`space_file:`, beside it) over the config's; and a weights file beside it
// when none is given (`name`: best.safetensors for eval, ...).
typedef struct RunInputs {
    char arch[SAFE_PATH_MAX], config[SAFE_PATH_MAX], space[SAFE_PATH_MAX], weights[SAFE_PATH_MAX];
    int has_config, has_space, has_weights;
} RunInputs;

static int resolve_inputs(const SubnetArgs* a, const char* weights_name, RunInputs* in, HwErr* err) {
    memset(in, 0, sizeof *in);
    if (run_dir_arch_path(in->arch, sizeof in->arch, a->arch, err) < 0) return -1;
    if (a->config) {
        if (safe_path(in->config, sizeof in->config, err, "%s", a->config) < 0) return -1;
        in->has_config = 1;
    } else if ((in->has_config = run_dir_sibling(in->config, sizeof in->config, in->arch, RUN_CONFIG, err)) < 0) {
        return -1;
    }
    if ((in->has_space = arch_space_file(in->arch, in->space, sizeof in->space, err)) < 0) return -1;
    if (weights_name && (in->has_weights = run_dir_sibling(in->weights, sizeof in->weights, in->arch, weights_name,
                                                           err)) < 0)
        return -1;
    return 0;
}

// The config of the inputs (defaults without one), the space of the
// architecture file over its own.
static int load_inputs(Config* cfg, const RunInputs* in, const SubnetArgs* a, int from_scratch, HwErr* err) {
    if (load_config(cfg, in->has_config ? in->config : NULL, a, from_scratch, err) < 0) return -1;
    return in->has_space ? safe_path(cfg->space, sizeof cfg->space, err, "%s", in->space) : 0;
}

// A supernet holding exactly the architecture (one candidate per layer).
typedef struct Subnet {
    Space full, one;
    Arch arch;
    Device dev;
    Supernet* sn;
    int* path;  // all zeros
} Subnet;

static int subnet_open(Subnet* s, const Config* cfg, const char* arch_path, HwErr* err) {
    memset(s, 0, sizeof *s);
    if (space_load(&s->full, cfg->space, err) < 0 || batch_feed_check_data(&cfg->data, cfg->path, &s->full, err) < 0 ||
        arch_load(&s->arch, arch_path, &s->full, err) < 0)
        return -1;
    space_restrict(&s->full, s->arch.ops, &s->one);
    if (device_open(&s->dev, cfg->train.device, cfg->train.threads, err) < 0) return -1;
    s->sn = supernet_create(&s->one, s->dev.ops, &s->dev.ctx, cfg->train.batch, err);
    if (!s->sn) return -1;
    s->path = calloc(SPACE_MAX_LAYERS, sizeof(int));
    if (!s->path) return hw_runtime(err, NULL, 0, "out of memory");
    return supernet_init_params(s->sn, cfg->train.seed, err);
}

static void subnet_close(Subnet* s) {
    supernet_destroy(s->sn);
    device_close(&s->dev);
    free(s->path);
}

static int test_accuracy(Subnet* s, const Config* cfg, double* top1, double* top5, int* n, HwErr* err) {
    EvalOptions eo = eval_options(cfg, SPLIT_TEST, 0, cfg->data.limit_test);
    Evaluator* ev = evaluator_create(s->sn, &eo, err);
    if (!ev) return -1;
    int rc = evaluator_accuracy(ev, s->path, top1, top5, n, err);
    evaluator_destroy(ev);
    return rc;
}

static const char* kEvalUsage =
    "usage: hwnas eval [-c CONFIG] --arch ARCH.yaml|RUN_DIR [--weights W.safetensors] [--device cpu|cuda]\n"
    "                  [--logits-out FILE] [--set KEY=VALUE ...]\n"
    "Prints `top1 0.xxxx top5 0.xxxx n N` for the test split of the config's data.\n"
    "--arch RUN_DIR means RUN_DIR/best.yaml. Defaults beside the architecture file:\n"
    "CONFIG config.yaml, W best.safetensors; the space is the one it names.\n"
    "--logits-out writes the logits of the first 64 test images (raw float32).\n";

// Logits of the first 64 test images, for comparing with tools/torch_model.py.
static int write_logits(Subnet* s, const Config* cfg, const char* path, HwErr* err) {
    EvalOptions eo = eval_options(cfg, SPLIT_TEST, 0, 64);
    Evaluator* ev = evaluator_create(s->sn, &eo, err);
    if (!ev) return -1;
    loader_start_epoch(ev->val, 0, 0);
    int n = batch_feed_fetch(&ev->feed, 0, ev->val, 64, err), rc = -1;
    if (n > 0 && batch_feed_use(&ev->feed, 0, err) == 0) {
        Supernet* sn = s->sn;
        // No batch_feed_done needed: the download below waits for this forward.
        supernet_forward(sn, s->path, n, MODE_EVAL, 0);
        size_t count = (size_t)n * sn->space.classes;
        float* host = malloc(count * sizeof(float));
        if (!host) {
            hw_runtime(err, path, 0, "out of memory");
        } else {
            sn->ops->download(&sn->ctx, host, sn->logits, count * sizeof(float));
            rc = safe_write_whole(path, host, count * sizeof(float), err);  // atomic, every error reported
        }
        free(host);
    }
    evaluator_destroy(ev);
    return rc;
}

int cmd_eval(int argc, char** argv) {
    SubnetArgs a;
    int p = parse_args(argc, argv, &a, kEvalUsage);
    if (p) return p == 1 ? 0 : 2;
    if (!a.arch) {
        fputs(kEvalUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    RunInputs in;
    if (resolve_inputs(&a, RUN_BEST_WEIGHTS, &in, &err) < 0) return cli_fail(&err);
    if (!a.weights && !in.has_weights) return fputs(kEvalUsage, stderr), 2;
    const char* weights = a.weights ? a.weights : in.weights;
    Config cfg;
    Subnet s;
    memset(&s, 0, sizeof s);
    double top1, top5;
    int n = 0, rc = 0;
    if (load_inputs(&cfg, &in, &a, 0, &err) < 0 || subnet_open(&s, &cfg, in.arch, &err) < 0 ||
        safetensors_read_subnet(s.sn, s.path, weights, &err) < 0 || test_accuracy(&s, &cfg, &top1, &top5, &n, &err) < 0 ||
        (a.logits_out && write_logits(&s, &cfg, a.logits_out, &err) < 0))
        rc = cli_fail(&err);
    else
        printf("top1 %.4f top5 %.4f n %d\n", top1, top5, n);
    if (s.sn || s.path) subnet_close(&s);
    return rc;
}

static const char* kExtractUsage =
    "usage: hwnas extract [--supernet CKPT] --arch ARCH.yaml|RUN_DIR -o SUBNET.safetensors [-c CONFIG]\n"
    "Writes the architecture's weights, inherited from the supernet checkpoint, as\n"
    "safetensors with PyTorch names. --arch RUN_DIR means RUN_DIR/best.yaml; CKPT\n"
    "defaults to stage2.ckpt (else supernet.ckpt) beside the architecture file,\n"
    "CONFIG to config.yaml beside CKPT; the space is the one the architecture names.\n";

int cmd_extract(int argc, char** argv) {
    SubnetArgs a;
    int p = parse_args(argc, argv, &a, kExtractUsage);
    if (p) return p == 1 ? 0 : 2;
    if (!a.arch || !a.out) {
        fputs(kExtractUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    RunInputs in;
    char supernet[SAFE_PATH_MAX];
    if (resolve_inputs(&a, NULL, &in, &err) < 0) return cli_fail(&err);
    if (a.supernet) {
        if (safe_path(supernet, sizeof supernet, &err, "%s", a.supernet) < 0) return cli_fail(&err);
    } else {
        // The run's last supernet: stage 2 of the two-stage method, else SPOS's.
        int found = run_dir_sibling(supernet, sizeof supernet, in.arch, RUN_STAGE2_CKPT, &err);
        if (found == 0) found = run_dir_sibling(supernet, sizeof supernet, in.arch, RUN_SUPERNET_CKPT, &err);
        if (found < 0) return cli_fail(&err);
        if (found == 0) return fputs(kExtractUsage, stderr), 2;
    }
    // The config: -c, else the one beside the checkpoint.
    if (!a.config) {
        if (run_dir_beside(in.config, sizeof in.config, supernet, RUN_CONFIG, &err) < 0) return cli_fail(&err);
        in.has_config = 1;  // a missing one is reported by name when it is read
    }
    Config cfg;
    Space space;
    Arch arch;
    Device dev;
    TrainState st;
    if (load_inputs(&cfg, &in, &a, 0, &err) < 0 || space_load(&space, cfg.space, &err) < 0 ||
        arch_load(&arch, in.arch, &space, &err) < 0 || device_open(&dev, DEVICE_CPU, cfg.train.threads, &err) < 0)
        return cli_fail(&err);
    Supernet* sn = supernet_create(&space, dev.ops, &dev.ctx, 1, &err);
    int rc = 0;
    if (!sn || checkpoint_load(supernet, sn, &st, NULL, &err) < 0 ||
        safetensors_write_subnet(sn, arch.ops, a.out, &err) < 0)
        rc = cli_fail(&err);
    else
        fprintf(stderr, "hwnas extract: %s (%.3f M parameters) -> %s\n", in.arch,
                supernet_path_params(sn, arch.ops) / 1e6, a.out);
    supernet_destroy(sn);
    device_close(&dev);
    return rc;
}

static const char* kFinetuneUsage =
    "usage: hwnas finetune [-c CONFIG] --arch ARCH.yaml|RUN_DIR [--init SUBNET.safetensors] -o DIR [--epochs N]\n"
    "                      [--lr X]\n"
    "       hwnas retrain  [-c CONFIG] --arch ARCH.yaml|RUN_DIR -o DIR [--epochs N] [--lr X]\n"
    "--arch RUN_DIR means RUN_DIR/best.yaml. Defaults beside the architecture file:\n"
    "CONFIG config.yaml, SUBNET best-inherited.safetensors; the space is the one it names.\n"
    "Trains one fixed architecture on the whole training set (holdout included),\n"
    "writes DIR/subnet.safetensors, DIR/train.csv and prints the test top-1.\n"
    "Defaults: finetune.epochs/lr (finetune), finetune.retrain_epochs/retrain_lr (retrain).\n"
    "Also: --device cpu|cuda, --threads N, --resume, --set KEY=VALUE (any config key,\n"
    "e.g. --set data.limit_train=6400).\n"
    "A DIR that is a symbolic link is refused unless HWNAS_ALLOW_SYMLINK_OUTPUT=1.\n";

// Under mpirun the training is data parallel (dist/comm.h) and rank 0 alone
// writes the weights and tests them.
static int train_fixed(int argc, char** argv, int from_scratch) {
    SubnetArgs a;
    int p = parse_args(argc, argv, &a, kFinetuneUsage);
    if (p) return p == 1 ? 0 : 2;
    if (!a.arch || !a.out) {
        fputs(kFinetuneUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    RunInputs in;
    if (resolve_inputs(&a, from_scratch ? NULL : RUN_BEST_INHERITED, &in, &err) < 0) return cli_fail(&err);
    if (!from_scratch && !a.init && !in.has_weights) return fputs(kFinetuneUsage, stderr), 2;
    const char* init = a.init ? a.init : in.weights;
    Config cfg;
    Subnet s;
    Comm comm;
    memset(&s, 0, sizeof s);
    memset(&comm, 0, sizeof comm);
    int rc = 0;
    if (load_inputs(&cfg, &in, &a, from_scratch, &err) < 0) return cli_fail(&err);
    cfg.data.holdout = 0;  // final training sees every training image
    int resume = a.resume && resume_has_checkpoint(from_scratch ? "retrain" : "finetune", a.out, "subnet.ckpt");
    if (subnet_open(&s, &cfg, in.arch, &err) < 0 || comm_init(&comm, "auto", s.dev.ops, &s.dev.ctx, &err) < 0 ||
        (comm_is_root(&comm) && make_dirs(a.out, &err) < 0) ||
        (!from_scratch && !resume && safetensors_read_subnet(s.sn, s.path, init, &err) < 0)) {
        rc = cli_fail(&err);
        goto done;
    }
    TrainJob job = {0};
    job.train = &cfg.train;
    job.data = &cfg.data;
    job.config_path = cfg.path;
    job.run_dir = a.out;
    job.checkpoint_name = "subnet.ckpt";
    job.csv_name = "train.csv";
    job.resume = resume;
    job.epochs = from_scratch ? cfg.finetune.retrain_epochs : cfg.finetune.epochs;
    job.lr = from_scratch ? cfg.finetune.retrain_lr : cfg.finetune.lr;
    job.fixed_path = s.path;
    job.interrupted = install_interrupt_handler();
    job.comm = &comm;
    TrainResult res;
    if (train_run(s.sn, &job, &res, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (res.interrupted) {
        rc = 130;
        goto done;
    }
    if (!comm_is_root(&comm)) goto done;
    char out[SAFE_PATH_MAX];
    double top1, top5;
    int n;
    if (safe_path(out, sizeof out, &err, "%s/subnet.safetensors", a.out) < 0 ||
        safetensors_write_subnet(s.sn, s.path, out, &err) < 0 || test_accuracy(&s, &cfg, &top1, &top5, &n, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    printf("top1 %.4f top5 %.4f n %d\n", top1, top5, n);
    fprintf(stderr, "hwnas %s: %lld steps in %.1f s, weights in %s\n", from_scratch ? "retrain" : "finetune",
            (long long)res.steps, res.seconds, out);
done:
    if (rc != 0 && rc != 130) comm_abort(&comm, rc);
    comm_finalize(&comm);
    if (s.sn || s.path) subnet_close(&s);
    return rc;
}

int cmd_finetune(int argc, char** argv) { return train_fixed(argc, argv, 0); }
int cmd_retrain(int argc, char** argv) { return train_fixed(argc, argv, 1); }
