// Architecture files (supernet/arch.c), resolved against the space of every
// operator (tests/spaces/tiny.yaml, loaded once).
#include "fuzz_input.h"
#include "supernet/arch.h"
#include "supernet/space.h"

static Space* tiny_space(void) {
    static Space* s;
    if (!s) {
        HwErr err = {0};
        s = (Space*)malloc(sizeof(Space));
        if (!s || space_load(s, "tests/spaces/tiny.yaml", &err) < 0) {
            fprintf(stderr, "fuzz_arch: run from the repository root: %s\n", err.msg);
            abort();
        }
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Space* space = tiny_space();
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    Arch a;
    HwErr err = {0};
    arch_load(&a, f.path, space, &err);
    fuzz_file_close(&f);
    return 0;
}
