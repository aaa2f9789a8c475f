#include "data/idx.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { IDX_TYPE_UBYTE = 0x08 };

// gzread takes an unsigned length: read large payloads in chunks. Returns the
// number of bytes read (short at end of file); *broken is set when zlib met a
// damaged or cut-off gzip stream.
static long long gz_read_fully(gzFile f, uint8_t* dst, size_t n, int* broken) {
    size_t done = 0;
    *broken = 0;
    while (done < n) {
        size_t want = n - done;
        if (want > (1u << 30)) want = 1u << 30;
        int got = gzread(f, dst + done, (unsigned)want);
        if (got < 0) {
            *broken = 1;
            break;
        }
        if (got == 0) break;
        done += (size_t)got;
    }
    return (long long)done;
}

static uint32_t read_be32(const uint8_t* p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static gzFile open_idx(const char* path, HwErr* err) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) hw_bad_input(err, path, 0, "cannot open (%s), expected a readable IDX file",
                         errno ? strerror(errno) : "out of memory");
    return f;
}

// Reads the magic word and `ndims` big-endian sizes after it, checking the
// element type (unsigned byte) and the dimension count.
static int read_header(gzFile f, const char* path, int ndims, uint32_t* dims, HwErr* err) {
    uint8_t head[4 + 4 * 3];
    size_t want = 4 + 4 * (size_t)ndims;
    uint32_t expect_magic = (uint32_t)(IDX_TYPE_UBYTE << 8 | ndims);
    const char* what = ndims == 3 ? "images" : "labels";
    int broken;
    long long got = gz_read_fully(f, head, want, &broken);
    if (broken && got < 4) return hw_bad_input(err, path, 0, "corrupt gzip stream, expected an IDX %s file", what);
    if (got < 4 || head[0] != 0 || head[1] != 0 || head[2] != IDX_TYPE_UBYTE)
        return hw_bad_input(err, path, 0, "bad magic 0x%08x, expected 0x%08x (IDX uint8 %s)",
                            got >= 4 ? read_be32(head) : 0u, expect_magic, what);
    if (head[3] != ndims)
        return hw_bad_input(err, path, 0, "%d dimensions (magic 0x%08x), expected %d (magic 0x%08x, IDX %s)",
                            head[3], read_be32(head), ndims, expect_magic, what);
    if ((size_t)got < want)
        return hw_bad_input(err, path, 0, "truncated header (%lld of %zu bytes), expected %d sizes",
                            got, want, ndims);
    for (int i = 0; i < ndims; i++) dims[i] = read_be32(head + 4 + 4 * i);
    return 0;
}

// Reads exactly n payload bytes into a new buffer (*out) and checks that
// nothing follows them. The buffer grows with what the file really holds
// (doubling from 1 MiB), so a short file that claims 2^31 images costs what
// it contains, not what its header says.
static int read_payload(gzFile f, const char* path, size_t n, const char* what, uint8_t** out, HwErr* err) {
    size_t cap = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20), have = 0;
    uint8_t* buf = NULL;
    int broken = 0;
    for (;;) {
        uint8_t* grown = realloc(buf, cap ? cap : 1);
        if (!grown) {
            free(buf);
            return hw_runtime(err, path, 0, "out of memory for %zu bytes of %s", cap, what);
        }
        buf = grown;
        long long got = gz_read_fully(f, buf + have, cap - have, &broken);
        have += got > 0 ? (size_t)got : 0;
        if (broken || have < cap || cap == n) break;
        cap = cap > n / 2 ? n : 2 * cap;
    }
    int rc = 0;
    uint8_t extra;
    if (broken)
        rc = hw_bad_input(err, path, 0, "corrupt or truncated gzip stream after %zu bytes of %s, expected %zu", have,
                          what, n);
    else if (have < n)
        rc = hw_bad_input(err, path, 0, "truncated: %zu bytes of %s, expected %zu", have, what, n);
    else if (gzread(f, &extra, 1) != 0)
        rc = hw_bad_input(err, path, 0, "data continues after the %zu bytes of %s, expected the end of the file", n,
                          what);
    if (rc) free(buf);
    else *out = buf;
    return rc;
}

int idx_read_images(const char* path, IdxImages* out, HwErr* err) {
    memset(out, 0, sizeof *out);
    gzFile f = open_idx(path, err);
    if (!f) return -1;
    uint32_t dims[3] = {0, 0, 0};
    int rc = read_header(f, path, 3, dims, err);
    if (rc == 0 && (dims[0] == 0 || dims[0] > LIMIT_IDX_ITEMS))
        rc = hw_bad_input(err, path, 0, "image count %u, expected 1..%d (LIMIT_IDX_ITEMS)", dims[0], LIMIT_IDX_ITEMS);
    if (rc == 0 && (dims[1] == 0 || dims[2] == 0 || dims[1] > IDX_MAX_SIDE || dims[2] > IDX_MAX_SIDE))
        rc = hw_bad_input(err, path, 0, "image size %ux%u, expected 1..%d per side (28x28 for Fashion-MNIST)",
                          dims[1], dims[2], IDX_MAX_SIDE);
    size_t bytes = (size_t)dims[0] * dims[1] * dims[2];
    uint8_t* pixels = NULL;
    if (rc == 0) rc = read_payload(f, path, bytes, "pixels", &pixels, err);
    gzclose(f);
    if (rc) {
        free(pixels);
        return -1;
    }
    *out = (IdxImages){(int)dims[0], (int)dims[1], (int)dims[2], pixels};
    return 0;
}

int idx_read_labels(const char* path, int num_classes, IdxLabels* out, HwErr* err) {
    memset(out, 0, sizeof *out);
    gzFile f = open_idx(path, err);
    if (!f) return -1;
    uint32_t count = 0;
    int rc = read_header(f, path, 1, &count, err);
    if (rc == 0 && (count == 0 || count > LIMIT_IDX_ITEMS))
        rc = hw_bad_input(err, path, 0, "label count %u, expected 1..%d (LIMIT_IDX_ITEMS)", count, LIMIT_IDX_ITEMS);
    uint8_t* labels = NULL;
    if (rc == 0) rc = read_payload(f, path, count, "labels", &labels, err);
    gzclose(f);
    for (uint32_t i = 0; rc == 0 && num_classes > 0 && i < count; i++)
        if (labels[i] >= num_classes)
            rc = hw_bad_input(err, path, 0, "label %d at index %u, expected 0..%d", labels[i], i, num_classes - 1);
    if (rc) {
        free(labels);
        return -1;
    }
    *out = (IdxLabels){(int)count, labels};
    return 0;
}

int idx_read_pair(const char* images_path, const char* labels_path, int num_classes,
                  IdxImages* images, IdxLabels* labels, HwErr* err) {
    if (idx_read_images(images_path, images, err)) return -1;
    if (idx_read_labels(labels_path, num_classes, labels, err)) {
        idx_images_free(images);
        return -1;
    }
    if (images->count != labels->count) {
        hw_bad_input(err, labels_path, 0, "%d labels, expected %d to match the images in %s",
                     labels->count, images->count, images_path);
        idx_images_free(images);
        idx_labels_free(labels);
        return -1;
    }
    return 0;
}

void idx_images_free(IdxImages* images) {
    free(images->pixels);
    memset(images, 0, sizeof *images);
}

void idx_labels_free(IdxLabels* labels) {
    free(labels->labels);
    memset(labels, 0, sizeof *labels);
}
