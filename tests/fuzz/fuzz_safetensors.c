// Subnet weights (supernet/safetensors.c): header JSON, dtypes, shapes and
// offsets against the tiny space's path 0.
#include "fuzz_net.h"
#include "supernet/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Supernet* sn = fuzz_supernet();
    int path[SPACE_MAX_LAYERS] = {0};
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    HwErr err = {0};
    safetensors_read_subnet(sn, path, f.path, &err);
    fuzz_file_close(&f);
    return 0;
}
