// Published tables (search/lut_import.c): the first byte picks the format
// (ProxylessNAS YAML, OFA YAML/JSON), the rest is the file.
#include "fuzz_input.h"
#include "search/lut.h"
#include "search/lut_import.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const char* const kFormats[] = {"proxyless", "ofa"};
    if (size < 1) return 0;
    const char* format = kFormats[data[0] % 2];
    FuzzFile f;
    fuzz_file_open(&f, data + 1, size - 1);
    Lut* lut = NULL;
    LutImportReport rep;
    memset(&rep, 0, sizeof rep);
    HwErr err = {0};
    lut_import(format, f.path, &lut, &rep, &err);
    lut_import_report_free(&rep);
    lut_free(lut);
    fuzz_file_close(&f);
    return 0;
}
