// ImageNet-style folders: DIR/CLASS/**/FILE. Classes are the subdirectories of
// DIR sorted by name (torchvision's ImageFolder order); files are found
// recursively (following links, each directory once per class, so symlink
// loops end) with torchvision's image extensions and sorted
// like torchvision's make_dataset (by directory, then by name). Hidden
// entries (names starting with '.') are ignored. The list lives in memory and,
// when the caller gives a cache path, also in a small text file there; the
// cache is reused only while every class directory keeps its mtime.
#ifndef HWNAS_DATA_IMAGEFOLDER_H
#define HWNAS_DATA_IMAGEFOLDER_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ImageList {
    char* dir;              // the scanned directory
    int classes;
    char** class_names;     // [classes], sorted
    int* class_counts;      // [classes]: files per class
    int count;
    int* labels;            // [count]
    size_t* name_offsets;   // [count]: offsets into names of the path relative to the class dir
    char* names;
    size_t names_len;
    int from_cache;         // 1 when the list came from the cache file
    int cache_written;      // 1 when the cache file was (re)written
} ImageList;

// Scans dir. When class_names is given (e.g. the training classes for the
// validation folder), labels index into it and every class directory of dir
// must be one of them (missing classes are allowed); otherwise the classes are
// dir's subdirectories. cache_path may be NULL. 0 or -1 (err names the path).
int imagefolder_scan(const char* dir, char* const* class_names, int n_class_names, const char* cache_path,
                     ImageList* out, HwErr* err);
void image_list_free(ImageList* list);

// File i relative to the class directory / full path into buf. 0, or -1 when
// buf is too small.
const char* image_list_name(const ImageList* list, int i);
int image_list_path(const ImageList* list, int i, char* buf, size_t size);

// The class subdirectories of dir, sorted (callers free each and the array).
int imagefolder_classes(const char* dir, char*** names, int* count, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
