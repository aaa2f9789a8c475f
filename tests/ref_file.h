// Reader for the reference files written by tools/refio.py.
#ifndef HWNAS_REF_FILE_H
#define HWNAS_REF_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { REF_F32 = 0, REF_I32 = 1, REF_MAX_DIMS = 8 };

typedef struct RefTensor {
    char* name;
    int dtype;
    int ndim;
    int64_t dims[REF_MAX_DIMS];
    size_t numel;
    void* data;
} RefTensor;

typedef struct RefFile {
    RefTensor* tensors;
    int count;
} RefFile;

// Returns NULL and fills err (one line) when the file is missing or malformed.
RefFile* ref_open(const char* path, char* err, size_t err_size);
const RefTensor* ref_get(const RefFile* f, const char* name);
void ref_close(RefFile* f);

#ifdef __cplusplus
}
#endif
#endif
