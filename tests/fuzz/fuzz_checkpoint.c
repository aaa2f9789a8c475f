// Supernet checkpoints (supernet/checkpoint.c): header, sizes, CRC, the
// training state and the embedded config.
#include "fuzz_net.h"
#include "supernet/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Supernet* sn = fuzz_supernet();
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    TrainState st;
    char* config_text = NULL;
    HwErr err = {0};
    checkpoint_load(f.path, sn, &st, &config_text, &err);
    free(config_text);
    fuzz_file_close(&f);
    return 0;
}
