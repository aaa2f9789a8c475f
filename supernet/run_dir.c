#include "supernet/run_dir.h"

#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/safe_file.h"

int run_dir_file(char* out, size_t cap, const char* dir, const char* name, HwErr* err) {
    return safe_path(out, cap, err, "%s/%s", dir, name);
}

int run_dir_beside(char* out, size_t cap, const char* file, const char* rel, HwErr* err) {
    const char* slash = strrchr(file, '/');
    if (rel[0] == '/' || !slash) return safe_path(out, cap, err, "%s", rel);
    return safe_path(out, cap, err, "%.*s/%s", (int)(slash - file), file, rel);
}

static int is_dir(const char* path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int run_dir_arch_path(char* out, size_t cap, const char* arg, HwErr* err) {
    if (is_dir(arg)) return run_dir_file(out, cap, arg, RUN_BEST_ARCH, err);
    return safe_path(out, cap, err, "%s", arg);
}

int run_dir_sibling(char* out, size_t cap, const char* file, const char* name, HwErr* err) {
    if (run_dir_beside(out, cap, file, name, err) < 0) return -1;
    struct stat st;
    return stat(out, &st) == 0 ? 1 : 0;
}

int run_dir_config_load(Config* cfg, const char* path, HwErr* err) {
    if (config_load(cfg, path, err) < 0) return -1;
    if (cfg->space[0] == '/' || !cfg->space[0]) return 0;
    char beside[SAFE_PATH_MAX];
    struct stat st;
    if (run_dir_beside(beside, sizeof beside, path, cfg->space, err) < 0) return -1;
    if (strcmp(beside, cfg->space) == 0 || stat(beside, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    return safe_path(cfg->space, sizeof cfg->space, err, "%s", beside);
}
