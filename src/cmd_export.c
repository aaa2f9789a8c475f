// hwnas export: an architecture and its weights as an ONNX model (deploy/).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "deploy/onnx_export.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/arch.h"
#include "supernet/safetensors.h"
#include "supernet/space.h"
#include "supernet/supernet.h"

static const char* kUsage =
    "usage: hwnas export --arch ARCH.yaml --weights W.safetensors -o MODEL.onnx\n"
    "                    [-c CONFIG | --space SPACE.yaml] [--batch N] [--opset N]\n"
    "Writes the architecture with its weights as a standard ONNX model (float32,\n"
    "NCHW input `input`, output `logits`, BatchNorm folded into the convolutions),\n"
    "as torch.onnx.export would. The space comes from CONFIG's `space:`, or\n"
    "--space, or configs/spaces/NAME.yaml for the architecture's `space: NAME`.\n"
    "--batch N fixes the batch size (default: a symbolic `batch` dimension);\n"
    "--opset 13..17 (default 17).\n";

typedef struct ExportArgs {
    const char *config, *space, *arch, *weights, *out, *batch, *opset;
} ExportArgs;

static int parse_args(int argc, char** argv, ExportArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', ExportArgs, config), FLAG_TEXT_ROW("space", 0, ExportArgs, space),
        FLAG_TEXT_ROW("arch", 0, ExportArgs, arch),       FLAG_TEXT_ROW("weights", 0, ExportArgs, weights),
        FLAG_TEXT_ROW("out", 'o', ExportArgs, out),       FLAG_TEXT_ROW("batch", 0, ExportArgs, batch),
        FLAG_TEXT_ROW("opset", 0, ExportArgs, opset),     FLAG_END};
    memset(a, 0, sizeof *a);
    int next, rc = flags_parse(argc, argv, flags, a, kUsage, &next);
    if (rc) return rc;
    if (next != argc || !a->arch || !a->weights || !a->out) return fputs(kUsage, stderr), 2;
    return 0;
}

// The space: -c CONFIG's, else --space or the architecture's own name.
static int resolve_space(const ExportArgs* a, Space* space, HwErr* err) {
    if (a->config && a->space)
        return hw_bad_input(err, NULL, 0, "-c and --space both name the space: pass one of them");
    if (!a->config) return space_for_arch(a->space, a->arch, space, err);
    Config cfg;
    config_defaults(&cfg);
    if (config_load(&cfg, a->config, err) < 0) return -1;
    return space_load(space, cfg.space, err);
}

static int read_options(const ExportArgs* a, OnnxOptions* opt, HwErr* err) {
    *opt = onnx_options_default();
    if (a->batch && flag_int("--batch", a->batch, 1, 65536, &opt->batch, err) < 0) return -1;
    if (a->opset && flag_int("--opset", a->opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX, &opt->opset, err) < 0) return -1;
    return 0;
}

// Loads the weights into a one-architecture supernet on the CPU and exports it.
static int export_model(const ExportArgs* a, const OnnxOptions* opt, HwErr* err) {
    Space full, one;
    Arch arch;
    Device dev;
    if (resolve_space(a, &full, err) < 0 || arch_load(&arch, a->arch, &full, err) < 0) return -1;
    space_restrict(&full, arch.ops, &one);
    if (device_open(&dev, DEVICE_CPU, 1, err) < 0) return -1;
    int path[SPACE_MAX_LAYERS] = {0}, rc = -1;
    Supernet* sn = supernet_create(&one, dev.ops, &dev.ctx, 1, err);
    if (sn && supernet_init_params(sn, 0, err) == 0 && safetensors_read_subnet(sn, path, a->weights, err) == 0 &&
        onnx_export_subnet(sn, path, opt, a->out, err) == 0)
        rc = 0;
    else if (sn && !err->msg[0])
        hw_runtime(err, NULL, 0, "out of memory initializing the subnet");
    supernet_destroy(sn);
    device_close(&dev);
    return rc;
}

int cmd_export(int argc, char** argv) {
    ExportArgs a;
    int p = parse_args(argc, argv, &a);
    if (p) return p == 1 ? 0 : 2;
    HwErr err = {0};
    OnnxOptions opt;
    if (read_options(&a, &opt, &err) < 0 || export_model(&a, &opt, &err) < 0) return cli_fail(&err);
    fprintf(stderr, "hwnas export: %s + %s -> %s (opset %d)\n", a.arch, a.weights, a.out, opt.opset);
    return 0;
}
