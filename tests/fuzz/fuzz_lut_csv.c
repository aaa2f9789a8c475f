// Per-block timing CSVs (search/lut_csv.c), as `hwnas latency import
// --format csv` reads them for the space tests/spaces/tiny.yaml (every
// operator of the pool, so every layer name and operator name is valid).
#include "fuzz_input.h"
#include "search/lut.h"
#include "search/lut_csv.h"
#include "supernet/space.h"

static const Space* fuzz_space(void) {
    static Space space;
    static int loaded;
    if (!loaded) {
        HwErr err = {0};
        if (space_load(&space, "tests/spaces/tiny.yaml", &err) < 0) {
            fprintf(stderr, "fuzz: run from the repository root: %s\n", err.msg);
            abort();
        }
        loaded = 1;
    }
    return &space;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Space* space = fuzz_space();
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    HwErr err = {0};
    Lut* lut = lut_csv_import(space, f.path, &err);
    lut_free(lut);
    fuzz_file_close(&f);
    return 0;
}
