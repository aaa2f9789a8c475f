#include "supernet/run_dir.h"

#include "common/safe_file.h"

int run_dir_file(char* out, size_t cap, const char* dir, const char* name, HwErr* err) {
    return safe_path(out, cap, err, "%s/%s", dir, name);
}
