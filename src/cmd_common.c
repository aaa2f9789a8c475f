#include "src/cmd_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/safe_file.h"
#include "common/yaml_tree.h"
#include "supernet/arch.h"
#include "dist/comm.h"
#include "search/latency.h"
#include "src/device.h"

int cli_fail(const HwErr* err) {
    fprintf(stderr, "hwnas: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return err->code ? err->code : 1;
}

int overrides_add(ConfigOverrides* o, const char* setting) {
    if (o->n == CLI_MAX_OVERRIDES) {
        fprintf(stderr, "hwnas: error: --set: at most %d overrides\n", CLI_MAX_OVERRIDES);
        return 2;
    }
    o->items[o->n++] = setting;
    return 0;
}

int overrides_apply(const ConfigOverrides* o, Config* cfg, HwErr* err) {
    return config_override(cfg, o->items, o->n, err);
}

// Output directories: a symbolic link is refused unless allowed (safe_file.h).
int make_dirs(const char* path, HwErr* err) { return safe_output_dir(path, err); }

int flag_int(const char* flag, const char* value, long lo, long hi, int* out, HwErr* err) {
    YamlNode scalar = {YAML_SCALAR, 0, value, 0, NULL, NULL, NULL};
    long v;
    if (yaml_int(NULL, &scalar, flag, lo, hi, &v, err) < 0) return -1;
    *out = (int)v;
    return 0;
}

int resume_has_checkpoint(const char* command, const char* run_dir, const char* checkpoint_name) {
    char path[1100];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", run_dir, checkpoint_name) >= (int)sizeof path) return 1;
    if (stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR)) return 1;
    // Under mpirun every rank decides alike (they share the run directory); one says it.
    int size, rank, local_rank;
    comm_launch_layout(&size, &rank, &local_rank);
    if (rank == 0) fprintf(stderr, "hwnas %s: no checkpoint in %s yet: starting from the beginning\n", command, run_dir);
    return 0;
}

void warn_unused_keys(const char* command, const Config* cfg, const Config* base, const char* const* keys) {
    char list[1024];
    if (config_changed_keys(cfg, base, keys, list, sizeof list) == 0) return;
    // Under mpirun every rank reads the same config; one says it.
    int size, rank, local_rank;
    comm_launch_layout(&size, &rank, &local_rank);
    if (rank == 0)
        fprintf(stderr, "hwnas %s: warning: %s sets keys %s does not use: %s\n", command,
                cfg->path[0] ? cfg->path : "--set", command, list);
}

EvalOptions eval_options(const Config* cfg, DataSplit split, int recal_images, int val_images) {
    EvalOptions o = {&cfg->data, split, recal_images, val_images, cfg->search.bn_mode, cfg->search.seed};
    return o;
}

Lut* target_open(const Target* target, const Space* space, int threads, int quick, HwErr* err) {
    if (target->kind == TARGET_FILE) return lut_load(target->file, err);
    Device dev;
    if (device_open(&dev, DEVICE_CPU, threads, err) < 0) return NULL;
    Supernet* sn = supernet_create(space, dev.ops, &dev.ctx, 1, err);
    Lut* lut = NULL;
    if (sn && supernet_init_params(sn, 1, err) == 0) {
        ProfileOptions opt = {quick ? 2 : 5, 30, 1, 0, 0};
        lut = latency_profile(sn, &opt, err);
    }
    supernet_destroy(sn);
    device_close(&dev);
    if (lut) {
        snprintf(lut->device, sizeof lut->device, "this machine's CPU, %d threads", dev.ctx.threads);
        snprintf(lut->source, sizeof lut->source, "hwnas (latency profile of %s)", space->name);
    }
    return lut;
}

// The one piece of global state: a signal handler can only reach a global.
static volatile sig_atomic_t g_interrupted = 0;

static void on_interrupt(int sig) {
    (void)sig;
    g_interrupted = 1;
}

volatile sig_atomic_t* install_interrupt_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &g_interrupted;
}

// A space name that can only mean configs/spaces/NAME.yaml: letters, digits,
// '-', '_' and '.', not starting with '.'. An architecture file may come from
// anywhere; `space: ../../x` must not open (and quote in an error) x.yaml.
static int plain_space_name(const char* name) {
    if (!name[0] || name[0] == '.') return 0;
    for (const char* p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    return 1;
}

// The space of an architecture file: --space, else the file it names
// (`space_file:`, beside it), else configs/spaces/NAME.yaml.
int space_for_arch(const char* space_path, const char* arch_path, Space* space, HwErr* err) {
    char guess[SAFE_PATH_MAX];
    int named = space_path ? 0 : arch_space_file(arch_path, guess, sizeof guess, err);
    if (named < 0) return -1;
    if (named) space_path = guess;
    if (!space_path) {
        YamlDoc* d = yaml_load_file(arch_path, err);
        if (!d) return -1;
        char name[64] = "";
        const YamlNode* n = yaml_get(d->root, "space");
        int ok = n && yaml_string(d, n, "space", name, sizeof name, err) == 0, line = n ? n->line : 0;
        yaml_free(d);
        if (!ok) return err->msg[0] ? -1 : hw_bad_input(err, arch_path, 0, "no `space:` name; pass --space");
        if (!plain_space_name(name))
            return hw_bad_input(err, arch_path, line,
                                "space: '%s' is not a plain space name, expected letters, digits, '-', '_' or '.' "
                                "(no '/', not starting with '.') naming configs/spaces/NAME.yaml; pass --space FILE",
                                name);
        if (safe_path(guess, sizeof guess, err, "configs/spaces/%s.yaml", name) < 0) return -1;
        space_path = guess;
    }
    return space_load(space, space_path, err);
}

static const char* const kCostFlags[COST_FLAG_COUNT] = {"--max-params", "--max-mflops", "--max-peak-kb"};
static const char* const kCostKeys[COST_FLAG_COUNT] = {"search.max_params", "search.max_mflops",
                                                       "search.max_peak_kb"};

int cost_flags_apply(const CostFlags* f, Config* cfg, HwErr* err) {
    for (int i = 0; i < COST_FLAG_COUNT; i++)
        if (f->value[i] && config_override_flag(cfg, kCostFlags[i], kCostKeys[i], f->value[i], err) < 0) return -1;
    return 0;
}

int copy_file_atomic(const char* from, const char* to, HwErr* err) {
    FILE* in = fopen(from, "rb");
    if (!in) return hw_runtime(err, from, 0, "cannot read: %s", strerror(errno));
    SafeFile o;
    if (safe_file_begin(&o, to, err) < 0) {
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) safe_file_write(&o, buf, n);
    int bad = ferror(in);
    fclose(in);
    if (bad) {
        safe_file_abort(&o);
        return hw_runtime(err, from, 0, "read error while copying it to %s", to);
    }
    return safe_file_commit(&o, err);
}

int config_file_changed_keys(const Config* cfg, const char* path, const char* const* keys, char* out, size_t cap,
                             HwErr* err) {
    Config saved;
    config_defaults(&saved);
    if (config_load(&saved, path, err) < 0) return -1;
    return config_changed_keys(cfg, &saved, keys, out, cap);
}

void cpu_model_name(char* out, size_t cap) {
    snprintf(out, cap, "unknown CPU");
    FILE* fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        char* v = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && v && v[1]) {
            v[strcspn(v, "\n")] = 0;
            snprintf(out, cap, "%s", v + 2);
            break;
        }
    }
    fclose(fp);
}
