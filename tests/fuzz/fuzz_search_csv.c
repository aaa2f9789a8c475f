// search.csv as read back on --resume (search/search_csv.c), against three
// layers whose operators are named in a small table.
#include "fuzz_input.h"
#include "search/search_csv.h"

static int resolve(void* user, int layer, const char* name) {
    static const char* const kOps[] = {"mb_k3_e3", "mb_k5_e6", "skip", "sep_k3", "shuffle_x"};
    (void)user, (void)layer;
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, kOps[i])) return i;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    Candidate* c = NULL;
    int count = 0;
    HwErr err = {0};
    search_csv_read(f.path, 3, resolve, NULL, &c, &count, &err);
    free(c);
    fuzz_file_close(&f);
    return 0;
}
