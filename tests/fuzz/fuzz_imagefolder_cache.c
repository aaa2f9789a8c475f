// The file-list cache of image folders (data/imagefolder.c): a folder of two
// classes is made once per process; the input is its cache file.
#include <sys/stat.h>

#include "data/imagefolder.h"
#include "fuzz_input.h"

static const char* fuzz_folder(void) {
    static char dir[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/hwnas-fuzz-folder-%d", (int)getpid());
        char path[256];
        const char* files[] = {"a/1.png", "a/2.jpg", "b/3.bmp"};
        mkdir(dir, 0700);
        snprintf(path, sizeof path, "%s/a", dir), mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/b", dir), mkdir(path, 0700);
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            FILE* fp = fopen(path, "w");
            if (fp) fputs("x", fp), fclose(fp);
        }
    }
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* dir = fuzz_folder();
    FuzzFile f;
    fuzz_file_open(&f, data, size);
    ImageList list;
    memset(&list, 0, sizeof list);
    HwErr err = {0};
    // The scan may rewrite a cache it finds stale; the memfd takes it.
    if (imagefolder_scan(dir, NULL, 0, f.path, &list, &err) == 0) image_list_free(&list);
    fuzz_file_close(&f);
    return 0;
}
