// Helpers for the data pipeline tests: temporary directories, IDX/JPEG/PNG/BMP
// writers and DataSection presets. Header-only (inline) so every data test
// file can use them.
#ifndef HWNAS_TEST_DATA_UTIL_H
#define HWNAS_TEST_DATA_UTIL_H

#include <stdlib.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <stb_image_write.h>

#include "common/config.h"
#include "test_util.h"  // TempDir

// A directory under /tmp removed (recursively) when the object goes away.
inline void make_dirs(const std::string& path) {
    for (size_t i = 1; i <= path.size(); i++)
        if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

inline bool write_bytes(const std::string& path, const void* data, size_t n) {
    FILE* f = fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = n == 0 || fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

inline bool write_gz(const std::string& path, const void* data, size_t n) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = gzwrite(f, data, (unsigned)n) == (int)n;
    return gzclose(f) == Z_OK && ok;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::vector<uint8_t> out;
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) return out;
    uint8_t buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.insert(out.end(), buf, buf + n);
    fclose(f);
    return out;
}

inline void put_be32(std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back((uint8_t)(x >> s));
}

// IDX bytes: magic, dims, then payload.
inline std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> v;
    put_be32(v, magic);
    for (uint32_t d : dims) put_be32(v, d);
    v.insert(v.end(), payload.begin(), payload.end());
    return v;
}

// Deterministic test pixels: smooth colour gradients with some texture.
inline std::vector<uint8_t> test_pixels(int h, int w, int c, int seed) {
    std::vector<uint8_t> p((size_t)h * w * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                int v = (x * (3 + k) * 255 / (w + 1) + y * (5 - k) * 255 / (h + 1) / 2 + seed * 37 + ((x * 7 + y * 13) % 9)) % 256;
                p[((size_t)y * w + x) * c + k] = (uint8_t)v;
            }
    return p;
}

// Encodes pixels (TJPF_RGB, TJPF_GRAY or TJPF_CMYK) as a JPEG file.
inline bool write_jpeg(const std::string& path, const std::vector<uint8_t>& pixels, int w, int h, int pixel_format,
                       int quality = 95, int subsamp = TJSAMP_444) {
    tjhandle tj = tjInitCompress();
    if (!tj) return false;
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    if (pixel_format == TJPF_GRAY) subsamp = TJSAMP_GRAY;
    int rc = tjCompress2(tj, pixels.data(), w, 0, h, pixel_format, &jpeg, &size, subsamp, quality, 0);
    bool ok = rc == 0 && write_bytes(path, jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    return ok;
}

// libjpeg-turbo's RGB -> CMYK (inverted Adobe convention, as its tjbench uses).
inline std::vector<uint8_t> rgb_to_cmyk(const std::vector<uint8_t>& rgb) {
    std::vector<uint8_t> out(rgb.size() / 3 * 4);
    for (size_t i = 0; i < rgb.size() / 3; i++) {
        double c = 1.0 - rgb[3 * i] / 255.0, m = 1.0 - rgb[3 * i + 1] / 255.0, y = 1.0 - rgb[3 * i + 2] / 255.0;
        double k = c < m ? (c < y ? c : y) : (m < y ? m : y);
        if (k == 1.0) c = m = y = 0.0;
        else c = (c - k) / (1.0 - k), m = (m - k) / (1.0 - k), y = (y - k) / (1.0 - k);
        out[4 * i] = (uint8_t)(255.0 - c * 255.0 + 0.5);
        out[4 * i + 1] = (uint8_t)(255.0 - m * 255.0 + 0.5);
        out[4 * i + 2] = (uint8_t)(255.0 - y * 255.0 + 0.5);
        out[4 * i + 3] = (uint8_t)(255.0 - k * 255.0 + 0.5);
    }
    return out;
}

inline DataSection idx_section(const std::string& root) {
    DataSection d;
    memset(&d, 0, sizeof d);
    d.kind = DATA_IDX;
    snprintf(d.root, sizeof d.root, "%s", root.c_str());
    snprintf(d.train_images, sizeof d.train_images, "train-images-idx3-ubyte.gz");
    snprintf(d.train_labels, sizeof d.train_labels, "train-labels-idx1-ubyte.gz");
    snprintf(d.test_images, sizeof d.test_images, "t10k-images-idx3-ubyte.gz");
    snprintf(d.test_labels, sizeof d.test_labels, "t10k-labels-idx1-ubyte.gz");
    d.input_size = 28;
    d.channels = 1;
    d.holdout = 10000;
    d.pad_crop = 2;
    d.hflip = 1;
    d.rrc_scale[0] = 0.08f, d.rrc_scale[1] = 1.0f;
    d.rrc_ratio[0] = 0.75f, d.rrc_ratio[1] = 4.0f / 3.0f;
    d.val_resize = 256;
    d.mean[0] = d.mean[1] = d.mean[2] = 0.2860f;
    d.std[0] = d.std[1] = d.std[2] = 0.3530f;
    d.workers = 2;
    return d;
}

inline DataSection folder_section(const std::string& root, int input_size, int val_resize) {
    DataSection d = idx_section(root);
    d.kind = DATA_IMAGEFOLDER;
    d.input_size = input_size;
    d.val_resize = val_resize;
    d.channels = 3;
    d.holdout = 0;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int k = 0; k < 3; k++) d.mean[k] = mean[k], d.std[k] = std[k];
    return d;
}

// A small ImageNet-style folder with every kind of file the loader meets:
//   train/cat/a.jpg (RGB 40x30), b.png (33x21), c_gray.jpg (grayscale 24x36),
//             notes.txt (ignored), sub/d.jpg (20x20, nested)
//   train/dog/cmyk.jpg (CMYK 32x24), e.JPEG (28x28), fake.jpg (text),
//             trunc.jpg (a JPEG cut in half)
//   train/zebra/empty.png (0 bytes), f.bmp (17x13)
//   train/.hidden/x.jpg (ignored)
//   val/cat/v1.jpg (26x22), val/zebra/v2.png (19x23)
// Valid files hold test_pixels(h, w, 3, seed) (1 channel for c_gray.jpg, CMYK-encoded for cmyk.jpg).
struct FolderFile {
    const char* rel;   // under train/ or val/
    int h, w, seed;    // 0x0 = no image content
};
static const FolderFile kFolderFiles[] = {
    {"train/cat/a.jpg", 30, 40, 1},  {"train/cat/b.png", 21, 33, 2},     {"train/cat/c_gray.jpg", 36, 24, 3},
    {"train/cat/sub/d.jpg", 20, 20, 4}, {"train/dog/cmyk.jpg", 24, 32, 5}, {"train/dog/e.JPEG", 28, 28, 6},
    {"train/dog/fake.jpg", 0, 0, 0}, {"train/dog/trunc.jpg", 0, 0, 0},   {"train/zebra/empty.png", 0, 0, 0},
    {"train/zebra/f.bmp", 13, 17, 7}, {"val/cat/v1.jpg", 22, 26, 8},    {"val/zebra/v2.png", 23, 19, 9},
};

inline bool build_test_folder(const std::string& root) {
    for (const char* d : {"train/cat/sub", "train/dog", "train/zebra", "train/.hidden", "val/cat", "val/zebra"})
        make_dirs(root + "/" + d);
    bool ok = true;
    auto rgb = [](const FolderFile& f) { return test_pixels(f.h, f.w, 3, f.seed); };
    const FolderFile* F = kFolderFiles;
    ok &= write_jpeg(root + "/" + F[0].rel, rgb(F[0]), F[0].w, F[0].h, TJPF_RGB);
    ok &= stbi_write_png((root + "/" + F[1].rel).c_str(), F[1].w, F[1].h, 3, rgb(F[1]).data(), F[1].w * 3) != 0;
    ok &= write_jpeg(root + "/" + F[2].rel, test_pixels(F[2].h, F[2].w, 1, F[2].seed), F[2].w, F[2].h, TJPF_GRAY);
    ok &= write_bytes(root + "/train/cat/notes.txt", "not an image\n", 13);
    ok &= write_jpeg(root + "/" + F[3].rel, rgb(F[3]), F[3].w, F[3].h, TJPF_RGB);
    ok &= write_jpeg(root + "/" + F[4].rel, rgb_to_cmyk(rgb(F[4])), F[4].w, F[4].h, TJPF_CMYK);
    ok &= write_jpeg(root + "/" + F[5].rel, rgb(F[5]), F[5].w, F[5].h, TJPF_RGB, 90, TJSAMP_420);
    ok &= write_bytes(root + "/" + F[6].rel, "this is a text file, not a JPEG\n", 32);
    ok &= write_jpeg(root + "/tmp_full.jpg", test_pixels(64, 48, 3, 11), 48, 64, TJPF_RGB);
    std::vector<uint8_t> full = read_bytes(root + "/tmp_full.jpg");
    remove((root + "/tmp_full.jpg").c_str());
    ok &= full.size() > 100 && write_bytes(root + "/" + F[7].rel, full.data(), full.size() / 2);
    ok &= write_bytes(root + "/" + F[8].rel, "", 0);
    ok &= stbi_write_bmp((root + "/" + F[9].rel).c_str(), F[9].w, F[9].h, 3, rgb(F[9]).data()) != 0;
    ok &= write_jpeg(root + "/train/.hidden/x.jpg", rgb(F[0]), F[0].w, F[0].h, TJPF_RGB);
    ok &= write_jpeg(root + "/" + F[10].rel, rgb(F[10]), F[10].w, F[10].h, TJPF_RGB);
    ok &= stbi_write_png((root + "/" + F[11].rel).c_str(), F[11].w, F[11].h, 3, rgb(F[11]).data(), F[11].w * 3) != 0;
    return ok;
}

#endif
