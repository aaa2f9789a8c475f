// MNIST-format IDX files (images: magic 0x00000803, [count][rows][cols] uint8;
// labels: magic 0x00000801, [count] uint8), gzip'd or raw. Every size is
// checked and every error names the file and what was expected.
#ifndef HWNAS_DATA_IDX_H
#define HWNAS_DATA_IDX_H

#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { IDX_MAX_SIDE = LIMIT_IDX_SIDE };

typedef struct IdxImages {
    int count, rows, cols;
    uint8_t* pixels;  // [count][rows][cols]
} IdxImages;

typedef struct IdxLabels {
    int count;
    uint8_t* labels;  // [count]
} IdxLabels;

// Reads a whole image file (any rows x cols up to IDX_MAX_SIDE). 0 or -1.
int idx_read_images(const char* path, IdxImages* out, HwErr* err);
// Reads a label file; every label must be < num_classes (0 = no bound). 0 or -1.
int idx_read_labels(const char* path, int num_classes, IdxLabels* out, HwErr* err);
// Both files of a split; the counts must match. 0 or -1 (nothing left allocated).
int idx_read_pair(const char* images_path, const char* labels_path, int num_classes,
                  IdxImages* images, IdxLabels* labels, HwErr* err);

void idx_images_free(IdxImages* images);
void idx_labels_free(IdxLabels* labels);

#ifdef __cplusplus
}
#endif
#endif
