// Helpers shared by the subcommands: errors, run directories, Ctrl-C.
#ifndef HWNAS_CMD_COMMON_H
#define HWNAS_CMD_COMMON_H

#include <signal.h>

#include "common/config.h"
#include "common/error.h"

// Prints `hwnas: error: MSG` and returns the exit status (err->code or 1).
int cli_fail(const HwErr* err);
// mkdir -p; returns 0 or -1 with err.
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

// Installs the SIGINT/SIGTERM handler; returns the flag it sets.
volatile sig_atomic_t* install_interrupt_handler(void);

#endif
