// Search-space files (supernet/space.c).
#include "fuzz_input.h"
#include "supernet/space.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    Space* s = (Space*)malloc(sizeof(Space));
    HwErr err = {0};
    if (s) space_load(s, f.path, &err);
    free(s);
    fuzz_file_close(&f);
    return 0;
}
