// Helpers shared by the subcommands: errors, run directories, Ctrl-C.
#ifndef HWNAS_CMD_COMMON_H
#define HWNAS_CMD_COMMON_H

#include <signal.h>

#include "common/config.h"
#include "common/error.h"
#include "search/lut.h"
#include "supernet/evaluate.h"
#include "supernet/space.h"
#include "src/cli_flags.h"

// Prints `hwnas: error: MSG` and returns the exit status (err->code or 1).
int cli_fail(const HwErr* err);
// mkdir -p; returns 0 or -1 with err. The directory itself must not be a
// symbolic link unless HWNAS_ALLOW_SYMLINK_OUTPUT=1 (exit 2).
int make_dirs(const char* path, HwErr* err);
// `--set KEY=VALUE` options, applied after the config file in the order given.
#define CLI_MAX_OVERRIDES 32
typedef struct ConfigOverrides {
    const char* items[CLI_MAX_OVERRIDES];
    int n;
} ConfigOverrides;
// Records one; prints an error and returns 2 when there are too many.
int overrides_add(ConfigOverrides* o, const char* setting);
// Applies them all; -1 with err (file "--set") on an unknown key or bad value.
int overrides_apply(const ConfigOverrides* o, Config* cfg, HwErr* err);

// Numeric flags. One that stands for a config key is read by
// config_override_flag (`--epochs X` exactly as `--set train.epochs=X`);
// one without a key is an integer in [lo, hi] read by the config's own
// parser, with the same message: "--steps: found 'x', expected an integer in
// 1..1000000". Both return 0 or -1 with err (code 2).
int flag_int(const char* flag, const char* value, long lo, long hi, int* out, HwErr* err);

// --max-params N, --max-mflops X, --max-peak-kb X (`hwnas run`, `hwnas
// search`): the search's limits beside latency, read by config_override_flag
// as search.max_params, search.max_mflops, search.max_peak_kb (same ranges,
// errors name the flag).
enum { COST_FLAG_COUNT = 3 };
typedef struct CostFlags {
    const char* value[COST_FLAG_COUNT];  // NULL: not given
} CostFlags;
// The three flags as rows of a flag table (src/cli_flags.h) filling the
// CostFlags FIELD of argument struct S.
#define COST_FLAG_ROWS(S, FIELD)                                                                   \
    FLAG_TEXT_ROW("max-params", 0, S, FIELD.value[0]), FLAG_TEXT_ROW("max-mflops", 0, S, FIELD.value[1]), \
        FLAG_TEXT_ROW("max-peak-kb", 0, S, FIELD.value[2])
// Applies the flags given over cfg; 0 or -1 with err (code 2).
int cost_flags_apply(const CostFlags* f, Config* cfg, HwErr* err);

// `--resume` where RUN_DIR holds no checkpoint yet (a run killed before its
// first one; a preemption wrapper passes --resume every time): says so in one
// line, "no checkpoint in RUN_DIR yet: starting from the beginning", and
// returns 0 (start afresh). Returns 1 when the checkpoint is there or cannot
// be looked at, so that loading it reports what is wrong.
int resume_has_checkpoint(const char* command, const char* run_dir, const char* checkpoint_name);

// The keys of `keys` (as config_changed_keys) whose values in cfg differ
// from those of the config file `path`, listed in `out`: how many, or -1
// with err when the file cannot be read.
int config_file_changed_keys(const Config* cfg, const char* path, const char* const* keys, char* out, size_t cap,
                             HwErr* err);

// Copies a file (a run's target table) to `to` atomically (common/safe_file.h).
int copy_file_atomic(const char* from, const char* to, HwErr* err);

// The space of an architecture file: SPACE_PATH when not NULL, else
// configs/spaces/NAME.yaml for the file's `space: NAME` (a plain name only).
int space_for_arch(const char* space_path, const char* arch_path, Space* space, HwErr* err);

// A config key the command does not use is never silently ignored: prints
// one line, "hwnas COMMAND: warning: CONFIG sets keys COMMAND does not use:
// a.b, c.d", for those of `keys` (NULL-terminated; "section." = the whole
// section) whose values differ from base's (NULL: the defaults; --quick
// passes its own settings). Nothing when none does.
void warn_unused_keys(const char* command, const Config* cfg, const Config* base, const char* const* keys);

// The evaluator options of a config: its data, search.bn_mode, search.seed.
EvalOptions eval_options(const Config* cfg, DataSplit split, int recal_images, int val_images);

// The latency table of a target: its file, or for `cpu` this machine's CPU
// measured now over every operator of every layer of `space` (30 timed runs
// after 5 warm-up runs, 2 when `quick`), its device and source filled in.
Lut* target_open(const Target* target, const Space* space, int threads, int quick, HwErr* err);

// This machine's CPU as /proc/cpuinfo names it ("model name"), for a
// measured table's device line; "unknown CPU" when it does not say.
void cpu_model_name(char* out, size_t cap);

// Installs the SIGINT/SIGTERM handler; returns the flag it sets.
volatile sig_atomic_t* install_interrupt_handler(void);

#endif
