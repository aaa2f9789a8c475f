// Helpers shared by the subcommands: errors, run directories, Ctrl-C.
#ifndef HWNAS_CMD_COMMON_H
#define HWNAS_CMD_COMMON_H

#include <signal.h>

#include "common/error.h"

// Prints `hwnas: error: MSG` and returns the exit status (err->code or 1).
int cli_fail(const HwErr* err);
// mkdir -p; returns 0 or -1 with err.
int make_dirs(const char* path, HwErr* err);
// Installs the SIGINT/SIGTERM handler; returns the flag it sets.
volatile sig_atomic_t* install_interrupt_handler(void);

#endif
