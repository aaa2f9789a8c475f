// The batch loader: epoch coverage, determinism across worker counts, exact
// mid-epoch resume, sharding, drop_last, augmentation offsets, restarts and
// shutdown mid-epoch, pinned-buffer hooks, and the real Fashion-MNIST.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>

#include "data/loader.h"
#include "test_data_util.h"

namespace {

const int kSide = 10, kCount = 103, kHoldout = 10;  // 93 training samples: batches of 8 leave 5

// Sample i of the synthetic IDX set: pixel 0 holds i (identifies it after a
// centred crop), the rest a pattern that shows crops and flips.
uint8_t pixel_of(int i, int y, int x) { return (uint8_t)(y == 0 && x == 0 ? i : 1 + ((i * 7 + y * 13 + x * 29) % 250)); }

struct IdxSet {
    TempDir dir{"data"};
    DataSection cfg;
    IdxSet() {
        std::vector<uint8_t> pixels((size_t)kCount * kSide * kSide), labels(kCount);
        for (int i = 0; i < kCount; i++) {
            labels[i] = (uint8_t)(i % 10);
            for (int y = 0; y < kSide; y++)
                for (int x = 0; x < kSide; x++) pixels[((size_t)i * kSide + y) * kSide + x] = pixel_of(i, y, x);
        }
        auto img = idx_bytes(0x803, {kCount, kSide, kSide}, pixels);
        auto lab = idx_bytes(0x801, {kCount}, labels);
        write_gz(dir / "train-images-idx3-ubyte.gz", img.data(), img.size());
        write_gz(dir / "train-labels-idx1-ubyte.gz", lab.data(), lab.size());
        write_gz(dir / "t10k-images-idx3-ubyte.gz", img.data(), img.size());
        write_gz(dir / "t10k-labels-idx1-ubyte.gz", lab.data(), lab.size());
        cfg = idx_section(dir.path);
        cfg.input_size = kSide;
        cfg.holdout = kHoldout;
        cfg.mean[0] = 0.0f;
        cfg.std[0] = 1.0f / 255.0f;  // samples keep their uint8 values
    }
};

LoaderOptions options(int batch, int workers, int augment = 1, int shuffle = 1, uint64_t seed = 7) {
    LoaderOptions o = {};
    o.batch = batch;
    o.augment = augment;
    o.shuffle = shuffle;
    o.seed = seed;
    o.workers = workers;
    o.world = 1;
    o.prefetch = 2;
    return o;
}

struct Epoch {
    std::vector<std::vector<float>> images;
    std::vector<std::vector<int>> labels;
};

// Reads batches [first_batch, end) of one epoch.
Epoch read_epoch(Dataset* ds, const LoaderOptions& opt, int epoch, int first_batch = 0, int max_batches = 1 << 30) {
    Epoch e;
    HwErr err = {};
    DataLoader* l = loader_create(ds, &opt, &err);
    EXPECT_NE(l, nullptr) << err.msg;
    if (!l) return e;
    size_t floats = (size_t)kSide * kSide;
    std::vector<float> images(opt.batch * floats);
    std::vector<int> labels(opt.batch);
    loader_start_epoch(l, epoch, first_batch);
    int n;
    while ((int)e.images.size() < max_batches && (n = loader_next(l, images.data(), labels.data(), &err)) > 0) {
        e.images.emplace_back(images.begin(), images.begin() + n * floats);
        e.labels.emplace_back(labels.begin(), labels.begin() + n);
    }
    loader_destroy(l);
    return e;
}

}  // namespace

TEST(Loader, EpochCoversEverySampleOnce) {
    IdxSet set;
    HwErr err = {};
    Dataset* ds = dataset_open(&set.cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    ASSERT_EQ(dataset_size(ds), kCount - kHoldout);
    for (int workers : {0, 2}) {
        Epoch e = read_epoch(ds, options(8, workers, 0, 1), 0);
        ASSERT_EQ(e.images.size(), 12u);
        EXPECT_EQ(e.labels.back().size(), 5u);
        std::multiset<int> seen;
        for (size_t b = 0; b < e.images.size(); b++)
            for (size_t s = 0; s < e.labels[b].size(); s++) {
                int id = (int)e.images[b][s * kSide * kSide];  // pixel 0 = sample index
                EXPECT_EQ(e.labels[b][s], id % 10);
                seen.insert(id);
            }
        ASSERT_EQ(seen.size(), 93u);
        for (int i = 0; i < 93; i++) EXPECT_EQ(seen.count(i), 1u) << i;
    }
    // Without shuffling the order is the dataset order; with it, it is not.
    Epoch plain = read_epoch(ds, options(8, 0, 0, 0), 0);
    EXPECT_EQ(plain.images[0][0], 0.0f);
    EXPECT_EQ(plain.images[0][kSide * kSide], 1.0f);
    Epoch e0 = read_epoch(ds, options(8, 0, 0, 1), 0), e1 = read_epoch(ds, options(8, 0, 0, 1), 1);
    EXPECT_NE(e0.labels, e1.labels);
    EXPECT_NE(e0.labels, plain.labels);
    dataset_close(ds);
}

TEST(Loader, SameBatchesForAnyWorkerCount) {
    IdxSet set;
    HwErr err = {};
    Dataset* ds = dataset_open(&set.cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    for (int epoch : {0, 3}) {
        Epoch ref = read_epoch(ds, options(8, 0), epoch);
        ASSERT_EQ(ref.images.size(), 12u);
        for (int workers : {1, 2, 3}) {
            Epoch e = read_epoch(ds, options(8, workers), epoch);
            EXPECT_EQ(e.labels, ref.labels) << workers << " workers";
            EXPECT_TRUE(e.images == ref.images) << workers << " workers";
        }
        LoaderOptions o = options(8, 2);
        o.prefetch = 5;
        EXPECT_TRUE(read_epoch(ds, o, epoch).images == ref.images);
    }
    // Another seed gives another epoch.
    EXPECT_FALSE(read_epoch(ds, options(8, 0, 1, 1, 8), 0).images == read_epoch(ds, options(8, 0), 0).images);
    dataset_close(ds);
}

TEST(Loader, ResumesMidEpochExactly) {
    IdxSet set;
    HwErr err = {};
    Dataset* ds = dataset_open(&set.cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    Epoch full = read_epoch(ds, options(8, 2), 5);
    for (int k : {1, 4, 11, 12}) {
        for (int workers : {0, 2}) {
            Epoch part = read_epoch(ds, options(8, workers), 5, k);
            ASSERT_EQ(part.images.size(), full.images.size() - k) << k;
            for (size_t b = 0; b < part.images.size(); b++) {
                EXPECT_TRUE(part.images[b] == full.images[k + b]) << "resume at " << k << ", batch " << b;
                EXPECT_EQ(part.labels[b], full.labels[k + b]);
            }
        }
    }
    dataset_close(ds);
}

TEST(Loader, ShardsAndDropLast) {
    IdxSet set;
    HwErr err = {};
    Dataset* ds = dataset_open(&set.cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    LoaderOptions o = options(8, 0);
    Epoch whole = read_epoch(ds, o, 2);  // 12 global batches, the last of 5
    for (int drop : {0, 1}) {
        for (int world : {1, 2, 3, 5}) {
            size_t total = 0;
            for (int rank = 0; rank < world; rank++) {
                LoaderOptions r = options(8, rank % 2 ? 2 : 0);
                r.rank = rank;
                r.world = world;
                r.drop_last = drop;
                DataLoader* l = loader_create(ds, &r, &err);
                ASSERT_NE(l, nullptr) << err.msg;
                int per = loader_batches_per_epoch(l);
                loader_destroy(l);
                int want = drop ? (93 / 8) / world : (12 - rank + world - 1) / world;
                EXPECT_EQ(per, want) << "rank " << rank << " of " << world << " drop " << drop;
                Epoch e = read_epoch(ds, r, 2);
                ASSERT_EQ((int)e.images.size(), want);
                for (int k = 0; k < want; k++) {
                    size_t g = (size_t)rank + (size_t)k * world;  // rank r takes every world-th batch
                    EXPECT_TRUE(e.images[k] == whole.images[g]) << rank << "/" << world << " batch " << k;
                    EXPECT_EQ(e.labels[k].size(), drop ? 8u : whole.labels[g].size());
                }
                total += e.images.size();
            }
            EXPECT_EQ(total, drop ? (size_t)(11 / world * world) : 12u);
        }
    }
    dataset_close(ds);
}

// Every augmented sample is the source under one of the 25 pad-crop offsets
// (padding 2) and possibly mirrored; both flips and several offsets occur.
TEST(Loader, AugmentationIsPadCropAndFlip) {
    IdxSet set;
    HwErr err = {};
    Dataset* ds = dataset_open(&set.cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    Epoch plain = read_epoch(ds, options(8, 0, 0, 1), 1);
    Epoch aug = read_epoch(ds, options(8, 2, 1, 1), 1);
    ASSERT_EQ(plain.images.size(), aug.images.size());
    std::set<std::pair<int, int>> offsets;
    int flips = 0, total = 0;
    for (size_t b = 0; b < aug.images.size(); b++)
        for (size_t s = 0; s < aug.labels[b].size(); s++) {
            int id = (int)plain.images[b][s * kSide * kSide];
            const float* got = &aug.images[b][s * kSide * kSide];
            int matches = 0;
            for (int t = -2; t <= 2; t++)
                for (int l = -2; l <= 2; l++)
                    for (int flip = 0; flip < 2; flip++) {
                        bool same = true;
                        for (int y = 0; y < kSide && same; y++)
                            for (int x = 0; x < kSide && same; x++) {
                                int sy = t + y, sx = l + x;
                                float v = sy >= 0 && sy < kSide && sx >= 0 && sx < kSide ? pixel_of(id, sy, sx) : 0;
                                same = got[y * kSide + (flip ? kSide - 1 - x : x)] == v;
                            }
                        if (same) {
                            matches++;
                            offsets.insert({t, l});
                            flips += flip;
                        }
                    }
            EXPECT_EQ(matches, 1) << "sample " << id;
            total++;
        }
    EXPECT_EQ(total, 93);
    EXPECT_GT(offsets.size(), 15u);
    EXPECT_GT(flips, 25);
    EXPECT_LT(flips, 68);
    dataset_close(ds);
}

namespace {
std::atomic<int> g_pinned_allocs{0}, g_pinned_frees{0};
void* test_alloc_pinned(size_t bytes) {
    g_pinned_allocs++;
    return malloc(bytes);
}
void test_free_pinned(void* p) {
    g_pinned_frees++;
    free(p);
}
}  // namespace

TEST(Loader, RestartsShutdownAndOptions) {
    IdxSet set;
    HwErr err = {};
    Dataset* ds = dataset_open(&set.cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    Epoch ref = read_epoch(ds, options(4, 0), 0);
    g_pinned_allocs = 0;
    g_pinned_frees = 0;
    // Abandon an epoch halfway and restart it: the same batches from the start.
    LoaderOptions o = options(4, 2);
    o.prefetch = 3;
    o.alloc_pinned = test_alloc_pinned;
    o.free_pinned = test_free_pinned;
    DataLoader* l = loader_create(ds, &o, &err);
    ASSERT_NE(l, nullptr) << err.msg;
    EXPECT_EQ(g_pinned_allocs.load(), 3);
    std::vector<float> images(4 * kSide * kSide);
    std::vector<int> labels(4);
    EXPECT_EQ(loader_next(l, images.data(), labels.data(), &err), -1);  // no epoch started
    EXPECT_NE(std::string(err.msg).find("loader_start_epoch"), std::string::npos);
    loader_start_epoch(l, 9, 0);
    for (int i = 0; i < 3; i++) ASSERT_EQ(loader_next(l, images.data(), labels.data(), &err), 4);
    loader_start_epoch(l, 0, 0);
    for (size_t b = 0; b < ref.images.size(); b++) {
        int n = loader_next(l, images.data(), labels.data(), &err);
        ASSERT_EQ(n, (int)ref.labels[b].size());
        EXPECT_TRUE(std::equal(ref.images[b].begin(), ref.images[b].end(), images.begin())) << b;
    }
    EXPECT_EQ(loader_next(l, images.data(), labels.data(), &err), 0);
    EXPECT_EQ(loader_next(l, images.data(), labels.data(), &err), 0);
    // Destroy with workers busy mid-epoch.
    loader_start_epoch(l, 1, 0);
    ASSERT_EQ(loader_next(l, images.data(), labels.data(), &err), 4);
    loader_destroy(l);
    EXPECT_EQ(g_pinned_frees.load(), 3);
    // Destroy right after creation, and right after starting.
    l = loader_create(ds, &o, &err);
    ASSERT_NE(l, nullptr);
    loader_destroy(l);
    l = loader_create(ds, &o, &err);
    loader_start_epoch(l, 0, 0);
    loader_destroy(l);

    struct { LoaderOptions o; const char* msg; } bad[] = {
        {options(0, 0), "batch 0"},
        {options(4, -1), "workers -1"},
        {options(4, 65), "workers 65"},
    };
    for (auto& b : bad) {
        err = {};
        EXPECT_EQ(loader_create(ds, &b.o, &err), nullptr);
        EXPECT_NE(std::string(err.msg).find(b.msg), std::string::npos) << err.msg;
    }
    LoaderOptions r = options(4, 0);
    r.rank = 2;
    r.world = 2;
    err = {};
    EXPECT_EQ(loader_create(ds, &r, &err), nullptr);
    EXPECT_NE(std::string(err.msg).find("rank 2 of world 2"), std::string::npos) << err.msg;
    dataset_close(ds);
}

// Augmented image-folder batches (random resized crop, flip, jitter, corrupt
// files replaced) are identical for 0, 1 and 2 workers and on resume.
TEST(Loader, ImageFolderDeterministic) {
    TempDir dir{"data"};
    ASSERT_TRUE(build_test_folder(dir.path));
    DataSection cfg = folder_section(dir.path, 12, 14);
    cfg.color_jitter = 0.3f;
    HwErr err = {};
    const size_t floats = 12 * 12 * 3;
    std::vector<std::vector<float>> runs[3];
    for (int workers = 0; workers < 3; workers++) {
        Dataset* ds = dataset_open(&cfg, SPLIT_TRAIN, &err);  // fresh: no corrupt file known yet
        ASSERT_NE(ds, nullptr) << err.msg;
        LoaderOptions o = options(3, workers);
        DataLoader* l = loader_create(ds, &o, &err);
        ASSERT_NE(l, nullptr) << err.msg;
        std::vector<float> images(3 * floats);
        std::vector<int> labels(3);
        for (int epoch = 0; epoch < 2; epoch++) {
            loader_start_epoch(l, epoch, 0);
            int n;
            while ((n = loader_next(l, images.data(), labels.data(), &err)) > 0) {
                EXPECT_EQ(n, runs[workers].size() % 4 == 3 ? 1 : 3);
                runs[workers].emplace_back(images.begin(), images.begin() + n * floats);
                runs[workers].back().insert(runs[workers].back().end(), labels.begin(), labels.begin() + n);
            }
            ASSERT_EQ(n, 0) << err.msg;
        }
        EXPECT_EQ(dataset_skipped(ds), 3);
        // Resume epoch 1 at batch 2.
        loader_start_epoch(l, 1, 2);
        ASSERT_EQ(loader_next(l, images.data(), labels.data(), &err), 3);
        EXPECT_TRUE(std::equal(images.begin(), images.end(), runs[workers][6].begin()));
        loader_destroy(l);
        dataset_close(ds);
    }
    ASSERT_EQ(runs[0].size(), 8u);
    EXPECT_TRUE(runs[1] == runs[0]);
    EXPECT_TRUE(runs[2] == runs[0]);
    EXPECT_FALSE(runs[0][0] == runs[0][4]);  // epochs differ
}

TEST(Loader, RealFashionMnistBatches) {
    DataSection cfg = idx_section("/usr/share/datasets/fashion-mnist");
    HwErr err = {};
    Dataset* ds = dataset_open(&cfg, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    EXPECT_EQ(dataset_size(ds), 50000);
    EXPECT_EQ(dataset_classes(ds), 10);
    LoaderOptions o = options(128, 2);
    o.drop_last = 1;
    DataLoader* l = loader_create(ds, &o, &err);
    ASSERT_NE(l, nullptr) << err.msg;
    EXPECT_EQ(loader_batches_per_epoch(l), 390);
    std::vector<float> images(128 * 28 * 28);
    std::vector<int> labels(128);
    loader_start_epoch(l, 0, 0);
    float lo = 1e9f, hi = -1e9f;
    for (int b = 0; b < 20; b++) {
        ASSERT_EQ(loader_next(l, images.data(), labels.data(), &err), 128) << err.msg;
        for (float v : images) lo = std::min(lo, v), hi = std::max(hi, v);
        for (int y : labels) ASSERT_TRUE(y >= 0 && y < 10);
    }
    // (0 - 0.286) / 0.353 and (1 - 0.286) / 0.353
    EXPECT_NEAR(lo, -0.2860f / 0.3530f, 1e-5f);
    EXPECT_NEAR(hi, (1.0f - 0.2860f) / 0.3530f, 1e-5f);
    loader_destroy(l);
    dataset_close(ds);
}
