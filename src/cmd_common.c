#include "src/cmd_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

int make_dirs(const char* path, HwErr* err) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return hw_bad_input(err, path, 0, "path too long");
    for (char* p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return hw_runtime(err, buf, 0, "cannot create directory: %s", strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return hw_runtime(err, buf, 0, "cannot create directory: %s", strerror(errno));
    return 0;
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
