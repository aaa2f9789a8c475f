#include "ref_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_exact(FILE* fp, void* dst, size_t n) { return fread(dst, 1, n, fp) == n; }

static void ref_free_tensors(RefTensor* t, int count) {
    for (int i = 0; i < count; i++) {
        free(t[i].name);
        free(t[i].data);
    }
    free(t);
}

static int read_tensor(FILE* fp, RefTensor* t) {
    uint32_t name_len, dtype, ndim;
    if (!read_exact(fp, &name_len, 4) || name_len == 0 || name_len > 4096) return 0;
    t->name = calloc(name_len + 1, 1);
    if (!t->name || !read_exact(fp, t->name, name_len)) return 0;
    if (!read_exact(fp, &dtype, 4) || !read_exact(fp, &ndim, 4)) return 0;
    if (dtype > REF_I32 || ndim > REF_MAX_DIMS) return 0;
    t->dtype = (int)dtype;
    t->ndim = (int)ndim;
    t->numel = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if (!read_exact(fp, &t->dims[d], 8) || t->dims[d] < 0 || t->dims[d] > (1 << 28)) return 0;
        t->numel *= (size_t)t->dims[d];
        if (t->numel > ((size_t)1 << 30)) return 0;
    }
    t->data = malloc(t->numel * 4 + 1);
    return t->data && read_exact(fp, t->data, t->numel * 4);
}

RefFile* ref_open(const char* path, char* err, size_t err_size) {
    FILE* fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, err_size, "%s: cannot open reference file (run `make ref`; needs Debian python3-torch)", path);
        return NULL;
    }
    char magic[8];
    uint32_t count;
    if (!read_exact(fp, magic, 8) || memcmp(magic, "HWREF001", 8) != 0 || !read_exact(fp, &count, 4) ||
        count > 100000) {
        snprintf(err, err_size, "%s: not a HWREF001 reference file", path);
        fclose(fp);
        return NULL;
    }
    RefFile* f = calloc(1, sizeof(RefFile));
    f->tensors = calloc(count ? count : 1, sizeof(RefTensor));
    for (uint32_t i = 0; i < count; i++) {
        if (!read_tensor(fp, &f->tensors[i])) {
            snprintf(err, err_size, "%s: tensor %u is truncated or malformed", path, i);
            ref_free_tensors(f->tensors, (int)i + 1);
            free(f);
            fclose(fp);
            return NULL;
        }
    }
    f->count = (int)count;
    fclose(fp);
    return f;
}

const RefTensor* ref_get(const RefFile* f, const char* name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

void ref_close(RefFile* f) {
    if (!f) return;
    ref_free_tensors(f->tensors, f->count);
    free(f);
}
