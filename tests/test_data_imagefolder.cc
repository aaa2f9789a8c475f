// Image folders: scanning order and classes, the file cache, decoding of every
// file kind (RGB/grayscale/CMYK JPEG, PNG, BMP, corrupt files), DCT scaling,
// and the dataset splits with corrupt files skipped and replaced.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include <stb_image.h>

#include "data/augment.h"
#include "data/image_decode.h"
#include "data/imagefolder.h"
#include "data/loader.h"
#include "test_data_util.h"

namespace {

// Largest and mean absolute difference between two uint8 buffers.
void diff_stats(const uint8_t* a, const uint8_t* b, size_t n, int* max_diff, double* mean_diff) {
    *max_diff = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = std::abs((int)a[i] - (int)b[i]);
        *max_diff = std::max(*max_diff, d);
        sum += d;
    }
    *mean_diff = sum / (double)n;
}

struct Folder {
    TempDir dir{"data"};
    bool ok;
    Folder() : ok(build_test_folder(dir.path)) {}
    std::string path(const char* rel) const { return dir / rel; }
};

std::vector<std::string> list_names(const ImageList& l) {
    std::vector<std::string> out;
    for (int i = 0; i < l.count; i++) out.push_back(std::string(l.class_names[l.labels[i]]) + "/" + image_list_name(&l, i));
    return out;
}

}  // namespace

TEST(DataImageFolder, ScansLikeTorchvision) {
    Folder f;
    ASSERT_TRUE(f.ok);
    ImageList l;
    HwErr err = {};
    ASSERT_EQ(imagefolder_scan(f.path("train").c_str(), nullptr, 0, nullptr, &l, &err), 0) << err.msg;
    ASSERT_EQ(l.classes, 3);
    EXPECT_STREQ(l.class_names[0], "cat");
    EXPECT_STREQ(l.class_names[1], "dog");
    EXPECT_STREQ(l.class_names[2], "zebra");
    EXPECT_EQ(l.class_counts[0], 4);
    EXPECT_EQ(l.class_counts[1], 4);
    EXPECT_EQ(l.class_counts[2], 2);
    // torchvision: sorted(os.walk(class dir)) then sorted file names; .txt ignored.
    std::vector<std::string> want = {"cat/a.jpg",      "cat/b.png",    "cat/c_gray.jpg", "cat/sub/d.jpg",
                                     "dog/cmyk.jpg",   "dog/e.JPEG",   "dog/fake.jpg",   "dog/trunc.jpg",
                                     "zebra/empty.png", "zebra/f.bmp"};
    EXPECT_EQ(list_names(l), want);
    char path[4096];
    ASSERT_EQ(image_list_path(&l, 3, path, sizeof path), 0);
    EXPECT_EQ(std::string(path), f.path("train/cat/sub/d.jpg"));
    EXPECT_EQ(image_list_path(&l, 3, path, 8), -1);
    image_list_free(&l);

    // The validation folder takes the training classes' indices.
    char* names[] = {(char*)"cat", (char*)"dog", (char*)"zebra"};
    ASSERT_EQ(imagefolder_scan(f.path("val").c_str(), names, 3, nullptr, &l, &err), 0) << err.msg;
    EXPECT_EQ(l.count, 2);
    EXPECT_EQ(l.labels[0], 0);
    EXPECT_EQ(l.labels[1], 2);
    EXPECT_EQ(l.class_counts[1], 0);
    image_list_free(&l);
    err = {};
    EXPECT_EQ(imagefolder_scan(f.path("val").c_str(), names, 2, nullptr, &l, &err), -1);
    EXPECT_NE(std::string(err.msg).find("class directory 'zebra' is not one of the 2 training classes"),
              std::string::npos) << err.msg;

    err = {};
    EXPECT_EQ(imagefolder_scan(f.path("nothing").c_str(), nullptr, 0, nullptr, &l, &err), -1);
    EXPECT_NE(std::string(err.msg).find(f.path("nothing")), std::string::npos) << err.msg;
    make_dirs(f.path("flat"));
    write_bytes(f.path("flat/x.jpg"), "x", 1);
    err = {};
    EXPECT_EQ(imagefolder_scan(f.path("flat").c_str(), nullptr, 0, nullptr, &l, &err), -1);
    EXPECT_NE(std::string(err.msg).find("no class subdirectories"), std::string::npos) << err.msg;
    make_dirs(f.path("emptyclass/a"));
    make_dirs(f.path("emptyclass/b"));
    write_bytes(f.path("emptyclass/a/x.png"), "x", 1);
    err = {};
    EXPECT_EQ(imagefolder_scan(f.path("emptyclass").c_str(), nullptr, 0, nullptr, &l, &err), -1);
    EXPECT_NE(std::string(err.msg).find("class directory 'b' has no image files"), std::string::npos) << err.msg;
}

TEST(DataImageFolder, CacheFileOutsideTheRoot) {
    Folder f;
    ASSERT_TRUE(f.ok);
    TempDir cache_dir{"data"};
    std::string cache = cache_dir / "list.txt";
    ImageList a, b, c;
    HwErr err = {};
    ASSERT_EQ(imagefolder_scan(f.path("train").c_str(), nullptr, 0, cache.c_str(), &a, &err), 0) << err.msg;
    EXPECT_EQ(a.from_cache, 0);
    EXPECT_EQ(a.cache_written, 1);
    ASSERT_EQ(imagefolder_scan(f.path("train").c_str(), nullptr, 0, cache.c_str(), &b, &err), 0) << err.msg;
    EXPECT_EQ(b.from_cache, 1);
    EXPECT_EQ(list_names(a), list_names(b));
    EXPECT_EQ(std::vector<int>(a.class_counts, a.class_counts + 3), std::vector<int>(b.class_counts, b.class_counts + 3));
    // Nothing was written into the dataset root.
    EXPECT_NE(access(f.path("train/list.txt").c_str(), F_OK), 0);
    // A new file changes its class directory's mtime: the cache is stale.
    ASSERT_TRUE(write_jpeg(f.path("train/dog/g.jpg"), test_pixels(8, 8, 3, 1), 8, 8, TJPF_RGB));
    ASSERT_EQ(imagefolder_scan(f.path("train").c_str(), nullptr, 0, cache.c_str(), &c, &err), 0) << err.msg;
    EXPECT_EQ(c.from_cache, 0);
    EXPECT_EQ(c.count, a.count + 1);
    image_list_free(&c);
    // A damaged cache file is ignored and rewritten.
    ASSERT_TRUE(write_bytes(cache, "hwnas-imagefolder-cache 1\ndir nowhere\n", 38));
    ASSERT_EQ(imagefolder_scan(f.path("train").c_str(), nullptr, 0, cache.c_str(), &c, &err), 0) << err.msg;
    EXPECT_EQ(c.from_cache, 0);
    EXPECT_EQ(c.cache_written, 1);
    EXPECT_EQ(c.count, a.count + 1);
    image_list_free(&a);
    image_list_free(&b);
    image_list_free(&c);
    // Through the dataset API the cache lands in the given directory.
    DataSection cfg = folder_section(f.dir.path, 16, 20);
    Dataset* ds = dataset_open_cached(&cfg, SPLIT_TEST, cache_dir.path.c_str(), &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    dataset_close(ds);
    EXPECT_EQ(access((cache_dir / "imagefolder-val.txt").c_str(), F_OK), 0);
}

TEST(DataImageFolder, DecodesEveryKind) {
    Folder f;
    ASSERT_TRUE(f.ok);
    ImageDecoder d;
    HwErr err = {};
    ASSERT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
    DecodedImage img;
    int maxd;
    double meand;
    // Against the source pixels (lossless formats exactly, JPEG loosely: the
    // test pattern has texture JPEG must lose) and, for JPEGs, against
    // stb_image's independent decoder of the same file (different IDCT and
    // upsampling rounding only).
    struct Case { int index; int max_src, max_stb; double mean_src; } cases[] = {
        {0, 24, 4, 4.0},    // JPEG q95 4:4:4
        {1, 0, 0, 0.0},     // PNG
        {3, 24, 4, 4.0},    // JPEG q95 4:4:4 in a subdirectory
        {4, 24, 4, 4.0},    // CMYK JPEG -> RGB
        {5, 255, 4, 40.0},  // JPEG q90 4:2:0: the per-channel texture does not survive chroma subsampling
        {9, 0, 0, 0.0},     // BMP
    };
    for (auto c : cases) {
        const FolderFile& ff = kFolderFiles[c.index];
        std::string path = f.path(ff.rel);
        ASSERT_EQ(image_open_file(&d, path.c_str()), 0) << ff.rel << ": " << d.why;
        EXPECT_EQ(d.height, ff.h);
        EXPECT_EQ(d.width, ff.w);
        ASSERT_EQ(image_decode(&d, 3, 1.0, &img), 0) << ff.rel << ": " << d.why;
        ASSERT_EQ(img.height, ff.h);
        ASSERT_EQ(img.width, ff.w);
        auto want = test_pixels(ff.h, ff.w, 3, ff.seed);
        diff_stats(img.pixels, want.data(), want.size(), &maxd, &meand);
        int sw, sh, sn;
        unsigned char* stb = stbi_load(path.c_str(), &sw, &sh, &sn, 3);
        ASSERT_NE(stb, nullptr) << ff.rel;
        ASSERT_EQ(sw * sh, ff.w * ff.h);
        int max_stb;
        double mean_stb;
        diff_stats(img.pixels, stb, want.size(), &max_stb, &mean_stb);
        stbi_image_free(stb);
        std::printf("decode %-22s vs source: max |diff| %3d mean %6.3f; vs stb_image: max %2d mean %.3f\n", ff.rel,
                    maxd, meand, max_stb, mean_stb);
        EXPECT_LE(maxd, c.max_src) << ff.rel;
        EXPECT_LE(meand, c.mean_src) << ff.rel;
        EXPECT_LE(max_stb, c.max_stb) << ff.rel;
    }
    // Grayscale JPEG -> RGB with equal channels.
    const FolderFile& g = kFolderFiles[2];
    ASSERT_EQ(image_open_file(&d, f.path(g.rel).c_str()), 0) << d.why;
    ASSERT_EQ(image_decode(&d, 3, 1.0, &img), 0) << d.why;
    auto gray = test_pixels(g.h, g.w, 1, g.seed);
    std::vector<uint8_t> red(gray.size());
    for (size_t i = 0; i < gray.size(); i++) {
        ASSERT_EQ(img.pixels[3 * i], img.pixels[3 * i + 1]);
        ASSERT_EQ(img.pixels[3 * i], img.pixels[3 * i + 2]);
        red[i] = img.pixels[3 * i];
    }
    diff_stats(red.data(), gray.data(), gray.size(), &maxd, &meand);
    std::printf("decode gray->rgb           max |diff| %3d, mean %.3f\n", maxd, meand);
    EXPECT_LE(maxd, 12);
    // RGB PNG -> one channel: luminance.
    const FolderFile& p = kFolderFiles[1];
    ASSERT_EQ(image_open_file(&d, f.path(p.rel).c_str()), 0) << d.why;
    ASSERT_EQ(image_decode(&d, 1, 1.0, &img), 0) << d.why;
    auto rgb = test_pixels(p.h, p.w, 3, p.seed);
    for (int i = 0; i < p.h * p.w; i++) {
        double y = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
        ASSERT_NEAR(img.pixels[i], y, 2.0) << i;
    }
    // Corrupt files fail with a reason, never crash.
    struct Bad { const char* rel; const char* why; } bad[] = {
        {"train/dog/fake.jpg", "not a decodable image"},
        {"train/zebra/empty.png", "empty"},
        {"train/missing.jpg", "cannot open"},
    };
    for (auto b : bad) {
        EXPECT_EQ(image_open_file(&d, f.path(b.rel).c_str()), -1) << b.rel;
        EXPECT_NE(std::string(d.why).find(b.why), std::string::npos) << b.rel << ": " << d.why;
    }
    ASSERT_EQ(image_open_file(&d, f.path("train/dog/trunc.jpg").c_str()), 0) << d.why;  // the header is intact
    EXPECT_EQ(image_decode(&d, 3, 1.0, &img), -1);
    EXPECT_NE(std::string(d.why).find("Premature end"), std::string::npos) << d.why;
    image_decoder_free(&d);
}

TEST(DataImageFolder, DctScaledDecoding) {
    TempDir dir{"data"};
    const int h = 192, w = 256;
    auto px = test_pixels(h, w, 3, 4);
    ASSERT_TRUE(write_jpeg(dir / "big.jpg", px, w, h, TJPF_RGB, 95));
    ImageDecoder d;
    HwErr err = {};
    ASSERT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
    ASSERT_EQ(image_open_file(&d, (dir / "big.jpg").c_str()), 0) << d.why;
    DecodedImage img;
    struct { double shrink; int denom; } cases[] = {{1.0, 1}, {1.99, 1}, {2.0, 2}, {3.9, 2}, {4.5, 4}, {8.0, 8}, {100.0, 8}};
    for (auto c : cases) {
        ASSERT_EQ(image_decode(&d, 3, c.shrink, &img), 0) << d.why;
        EXPECT_EQ(img.scale_num, 1);
        EXPECT_EQ(img.scale_denom, c.denom) << c.shrink;
        EXPECT_EQ(img.height, h / c.denom);
        EXPECT_EQ(img.width, w / c.denom);
    }
    // 1/4 scale approximates 4x4 box averages of the full-size decode.
    ASSERT_EQ(image_decode(&d, 3, 1.0, &img), 0);
    std::vector<uint8_t> full(img.pixels, img.pixels + (size_t)h * w * 3), boxed((size_t)h / 4 * (w / 4) * 3);
    for (int y = 0; y < h / 4; y++)
        for (int x = 0; x < w / 4; x++)
            for (int k = 0; k < 3; k++) {
                int s = 0;
                for (int dy = 0; dy < 4; dy++)
                    for (int dx = 0; dx < 4; dx++) s += full[((size_t)(4 * y + dy) * w + 4 * x + dx) * 3 + k];
                boxed[((size_t)y * (w / 4) + x) * 3 + k] = (uint8_t)((s + 8) / 16);
            }
    ASSERT_EQ(image_decode(&d, 3, 4.0, &img), 0);
    int maxd;
    double meand;
    diff_stats(img.pixels, boxed.data(), boxed.size(), &maxd, &meand);
    std::printf("dct 1/4 vs 4x4 box average: max |diff| %d, mean %.3f\n", maxd, meand);
    EXPECT_LE(meand, 3.0);
    d.dct_scaling = 0;
    ASSERT_EQ(image_decode(&d, 3, 8.0, &img), 0);
    EXPECT_EQ(img.scale_denom, 1);
    EXPECT_EQ(img.height, h);
    image_decoder_free(&d);
}

namespace {
struct SkipLog {
    std::set<std::string> paths;
    static void record(void* user, const char* path, const char* why) {
        static_cast<SkipLog*>(user)->paths.insert(path);
        EXPECT_NE(why[0], 0);
    }
};
}  // namespace

// The dataset over the folder: corrupt files are skipped, counted, reported
// once, and replaced so batches stay full; other samples are exactly the
// decode + Resize + CenterCrop + Normalize of their own file.
TEST(DataImageFolder, DatasetSkipsAndReplacesCorruptFiles) {
    Folder f;
    ASSERT_TRUE(f.ok);
    const int size = 16, resize = 20;
    DataSection cfg = folder_section(f.dir.path, size, resize);
    HwErr err = {};
    Dataset* ds = dataset_open(&cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    EXPECT_EQ(dataset_size(ds), 10);
    EXPECT_EQ(dataset_classes(ds), 3);
    SkipLog log;
    dataset_set_skip_callback(ds, SkipLog::record, &log);

    // Expected samples, computed directly for the valid files.
    const size_t floats = (size_t)size * size * 3;
    std::map<int, std::vector<float>> expected;  // by list position
    ImageDecoder d;
    ASSERT_EQ(image_decoder_init(&d, &err), 0);
    float mul[3], add[3];
    for (int k = 0; k < 3; k++) mul[k] = 1.0f / (255.0f * cfg.std[k]), add[k] = -cfg.mean[k] / cfg.std[k];
    for (int i = 0; i < 10; i++) {
        const FolderFile& ff = kFolderFiles[i];
        if (ff.h == 0) continue;
        ASSERT_EQ(image_open_file(&d, f.path(ff.rel).c_str()), 0) << d.why;
        ResampleSpec spec;
        resample_for_center(d.height, d.width, resize, size, &spec);
        DecodedImage img;
        ASSERT_EQ(image_decode(&d, 3, 1.0, &img), 0);  // these images are too small for DCT scaling
        std::vector<float> out(floats);
        resample_bilinear(img.pixels, img.height, img.width, 3, &spec, mul, add, out.data());
        expected[i] = out;
    }
    image_decoder_free(&d);

    LoaderOptions opt = {};
    opt.batch = 4;
    opt.world = 1;
    opt.seed = 3;
    DataLoader* l = loader_create(ds, &opt, &err);
    ASSERT_NE(l, nullptr) << err.msg;
    EXPECT_EQ(loader_batches_per_epoch(l), 3);
    loader_start_epoch(l, 0, 0);
    std::vector<float> images(opt.batch * floats);
    std::vector<int> labels(opt.batch);
    int pos = 0, n;
    const int want_labels[10] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2};
    while ((n = loader_next(l, images.data(), labels.data(), &err)) > 0) {
        EXPECT_EQ(n, pos < 8 ? 4 : 2);
        for (int s = 0; s < n; s++, pos++) {
            std::vector<float> got(images.begin() + s * floats, images.begin() + (s + 1) * floats);
            if (kFolderFiles[pos].h) {
                EXPECT_EQ(labels[s], want_labels[pos]) << pos;
                EXPECT_EQ(got, expected[pos]) << "sample " << pos;
            } else {  // replaced: some valid file, with its own label
                int match = -1;
                for (auto& e : expected)
                    if (e.second == got) match = e.first;
                ASSERT_GE(match, 0) << "replacement of " << kFolderFiles[pos].rel << " is no valid sample";
                EXPECT_EQ(labels[s], want_labels[match]);
            }
        }
    }
    EXPECT_EQ(n, 0) << err.msg;
    EXPECT_EQ(pos, 10);
    EXPECT_EQ(dataset_skipped(ds), 3);
    EXPECT_EQ(log.paths, (std::set<std::string>{f.path("train/dog/fake.jpg"), f.path("train/dog/trunc.jpg"),
                                                f.path("train/zebra/empty.png")}));
    // A second epoch reports nothing new.
    loader_start_epoch(l, 1, 0);
    while ((n = loader_next(l, images.data(), labels.data(), &err)) > 0) {}
    EXPECT_EQ(dataset_skipped(ds), 3);
    EXPECT_EQ(log.paths.size(), 3u);
    loader_destroy(l);
    dataset_close(ds);
}

TEST(DataImageFolder, Splits) {
    Folder f;
    ASSERT_TRUE(f.ok);
    DataSection cfg = folder_section(f.dir.path, 16, 20);
    cfg.holdout = 3;
    HwErr err = {};
    Dataset* train = dataset_open(&cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(train, nullptr) << err.msg;
    Dataset* valid = dataset_open(&cfg, SPLIT_VALID, &err);
    ASSERT_NE(valid, nullptr) << err.msg;
    Dataset* test = dataset_open(&cfg, SPLIT_TEST, &err);
    ASSERT_NE(test, nullptr) << err.msg;
    EXPECT_EQ(dataset_size(train), 7);
    EXPECT_EQ(dataset_size(valid), 3);
    EXPECT_EQ(dataset_size(test), 2);
    EXPECT_EQ(dataset_classes(test), 3);
    EXPECT_EQ(dataset_label(test, 0), 0);
    EXPECT_EQ(dataset_label(test, 1), 2);
    // The two training splits partition the folder: label counts add up to 4, 4, 2.
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 7; i++) counts[dataset_label(train, i)]++;
    for (int i = 0; i < 3; i++) counts[dataset_label(valid, i)]++;
    EXPECT_EQ(counts[0], 4);
    EXPECT_EQ(counts[1], 4);
    EXPECT_EQ(counts[2], 2);
    dataset_close(train);
    dataset_close(valid);
    dataset_close(test);

    DataSection bad = cfg;
    bad.val_resize = 8;
    err = {};
    EXPECT_EQ(dataset_open(&bad, SPLIT_TRAIN, &err), nullptr);
    EXPECT_NE(std::string(err.msg).find("data.val_resize 8, expected >= input_size 16"), std::string::npos) << err.msg;
    bad = cfg;
    bad.rrc_scale[0] = 0.0f;
    err = {};
    EXPECT_EQ(dataset_open(&bad, SPLIT_TRAIN, &err), nullptr);
    EXPECT_NE(std::string(err.msg).find("data.rrc_scale"), std::string::npos) << err.msg;
    bad = cfg;
    snprintf(bad.root, sizeof bad.root, "%s", f.path("nowhere").c_str());
    err = {};
    EXPECT_EQ(dataset_open(&bad, SPLIT_TRAIN, &err), nullptr);
    EXPECT_NE(std::string(err.msg).find(f.path("nowhere/train")), std::string::npos) << err.msg;
}

// Large JPEGs shrunk a lot are decoded at 1/8 scale inside the pipeline; the
// result must stay close to resampling the full-size decode (smooth image:
// only the DCT-domain averaging differs, no shift of the geometry).
TEST(DataImageFolder, PipelineUsesDctScaling) {
    TempDir dir{"data"};
    const int h = 360, w = 480;
    std::vector<uint8_t> px((size_t)h * w * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                px[((size_t)y * w + x) * 3 + k] =
                    (uint8_t)(127 + 100 * std::sin(x / (40.0 + 10 * k)) * std::cos(y / (55.0 - 10 * k)));
    make_dirs(dir / "train/a");
    make_dirs(dir / "val/a");
    ASSERT_TRUE(write_jpeg(dir / "train/a/big.jpg", px, w, h, TJPF_RGB, 95));
    ASSERT_TRUE(write_jpeg(dir / "val/a/big.jpg", px, w, h, TJPF_RGB, 95));
    const int size = 24, resize = 28;  // shrink 360 / 28 = 12.9: the 1/8 scale
    DataSection cfg = folder_section(dir.path, size, resize);
    HwErr err = {};
    Dataset* ds = dataset_open(&cfg, SPLIT_TEST, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    LoaderOptions opt = {};
    opt.batch = 1;
    opt.world = 1;
    DataLoader* l = loader_create(ds, &opt, &err);
    ASSERT_NE(l, nullptr) << err.msg;
    std::vector<float> got((size_t)size * size * 3);
    int label;
    loader_start_epoch(l, 0, 0);
    ASSERT_EQ(loader_next(l, got.data(), &label, &err), 1) << err.msg;
    loader_destroy(l);
    dataset_close(ds);

    ImageDecoder d;
    ASSERT_EQ(image_decoder_init(&d, &err), 0);
    ASSERT_EQ(image_open_file(&d, (dir / "val/a/big.jpg").c_str()), 0) << d.why;
    ResampleSpec spec;
    resample_for_center(h, w, resize, size, &spec);
    DecodedImage img;
    ASSERT_EQ(image_decode(&d, 3, 1.0, &img), 0);
    float mul[3], add[3];
    for (int k = 0; k < 3; k++) mul[k] = 1.0f / (255.0f * cfg.std[k]), add[k] = -cfg.mean[k] / cfg.std[k];
    std::vector<float> full(got.size()), scaled(got.size());
    resample_bilinear(img.pixels, img.height, img.width, 3, &spec, mul, add, full.data());
    // The same sample through an explicit 1/8 decode reproduces the pipeline exactly.
    ASSERT_EQ(image_decode(&d, 3, 12.9, &img), 0);
    EXPECT_EQ(img.scale_denom, 8);
    ResampleSpec s8 = spec;
    resample_rescale(&s8, 1.0 / 8, img.height, img.width);
    resample_bilinear(img.pixels, img.height, img.width, 3, &s8, mul, add, scaled.data());
    image_decoder_free(&d);
    EXPECT_EQ(got, scaled);
    // 6 grey levels in normalized units (std 0.224): averaging over 8x8 blocks vs 2 taps.
    float tol = 6.0f / 255.0f / 0.224f;
    float max_err = 0;
    for (size_t i = 0; i < got.size(); i++) max_err = std::max(max_err, std::fabs(got[i] - full[i]));
    std::printf("dct 1/8 pipeline vs full-size decode: max |diff| %.4f (normalized), tolerance %.4f\n", max_err, tol);
    EXPECT_LE(max_err, tol);
}
