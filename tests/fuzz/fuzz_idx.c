// IDX image and label files (data/idx.c), gzip or not: the first byte picks
// images or labels.
#include "data/idx.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    FuzzFile f;
    fuzz_file_open(&f, data + 1, size - 1);
    HwErr err = {0};
    if (data[0] & 1) {
        IdxLabels labels;
        memset(&labels, 0, sizeof labels);
        if (idx_read_labels(f.path, 10, &labels, &err) == 0) idx_labels_free(&labels);
    } else {
        IdxImages images;
        memset(&images, 0, sizeof images);
        if (idx_read_images(f.path, &images, &err) == 0) idx_images_free(&images);
    }
    fuzz_file_close(&f);
    return 0;
}
