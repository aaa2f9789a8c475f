// A config file, then --set overrides: the input is the config text, a line
// "---SET---", and one KEY=VALUE per line (as the command line gives them).
#include "common/config.h"
#include "fuzz_input.h"

enum { MAX_SETS = 40 };

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char* text = fuzz_text(data, size);
    char* sets = strstr(text, "\n---SET---\n");
    if (sets) *sets = 0, sets += 11;
    FuzzFile f;
    fuzz_file_open(&f, (const uint8_t*)text, strlen(text));
    Config* cfg = (Config*)malloc(sizeof(Config));
    HwErr err = {0};
    if (cfg && config_load(cfg, f.path, &err) == 0 && sets) {
        const char* list[MAX_SETS];
        int n = 0;
        for (char* line = strtok(sets, "\n"); line && n < MAX_SETS; line = strtok(NULL, "\n")) list[n++] = line;
        config_override(cfg, list, n, &err);
    }
    free(cfg);
    fuzz_file_close(&f);
    free(text);
    return 0;
}
