// Latency tables hwnas writes and reads (search/lut.c).
#include "fuzz_input.h"
#include "search/lut.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    HwErr err = {0};
    lut_free(lut_load(f.path, &err));
    fuzz_file_close(&f);
    return 0;
}
