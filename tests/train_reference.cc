#include "train_reference.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "supernet/trainer.h"
#include "test_data_util.h"
#include "test_util.h"

bool write_synthetic_idx(const std::string& dir, int train, int test) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    auto next_byte = [&x]() {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        return (uint8_t)(x >> 32);
    };
    struct Split {
        const char *images, *labels;
        int count;
    } splits[] = {{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", train},
                  {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", test}};
    for (const Split& s : splits) {
        std::vector<uint8_t> pixels((size_t)s.count * 28 * 28), labels((size_t)s.count);
        for (uint8_t& p : pixels) p = next_byte();
        for (uint8_t& l : labels) l = (uint8_t)(next_byte() % 10);
        std::vector<uint8_t> img = idx_bytes(0x803, {(uint32_t)s.count, 28, 28}, pixels);
        std::vector<uint8_t> lab = idx_bytes(0x801, {(uint32_t)s.count}, labels);
        if (!write_gz(dir + "/" + s.images, img.data(), img.size()) ||
            !write_gz(dir + "/" + s.labels, lab.data(), lab.size()))
            return false;
    }
    return true;
}

void synthetic_config(Config* cfg, const std::string& dir, int workers) {
    config_defaults(cfg);
    std::snprintf(cfg->data.root, sizeof cfg->data.root, "%s", dir.c_str());
    cfg->data.holdout = 256;
    cfg->data.workers = workers;
    cfg->train.batch = 64;
    cfg->train.threads = 2;
}

static DataLoader* open_loader(Dataset* ds, int batch, int augment, uint64_t seed, int workers, int drop_last) {
    LoaderOptions opt = {};
    opt.batch = batch;
    opt.augment = augment;
    opt.shuffle = augment;
    opt.seed = seed;
    opt.workers = workers;
    opt.world = 1;
    opt.drop_last = drop_last;
    opt.prefetch = 2;
    HwErr err = {};
    DataLoader* l = loader_create(ds, &opt, &err);
    EXPECT_NE(l, nullptr) << err.msg;
    return l;
}

static size_t floats_per_image(const Supernet* sn) {
    return (size_t)sn->space.in_h * sn->space.in_w * sn->space.in_c;
}

// The batch in images/labels to the supernet's selected input slot, at once.
static void upload_now(Supernet* sn, const std::vector<float>& images, const std::vector<int>& labels, int n) {
    sn->ops->upload(&sn->ctx, sn->images, images.data(), (size_t)n * floats_per_image(sn) * sizeof(float));
    sn->ops->upload(&sn->ctx, sn->labels, labels.data(), (size_t)n * sizeof(int));
}

std::vector<float> reference_train(Supernet* sn, const Config& cfg, int epochs, float lr) {
    std::vector<float> losses;
    HwErr err = {};
    Dataset* ds = dataset_open(&cfg.data, SPLIT_TRAIN, &err);
    EXPECT_NE(ds, nullptr) << err.msg;
    if (!ds) return losses;
    int batch = cfg.train.batch;
    DataLoader* loader = open_loader(ds, batch, 1, cfg.train.seed, cfg.data.workers, 1);
    const Ops* ops = sn->ops;
    int batches = loader ? loader_batches_per_epoch(loader) : 0;
    int64_t total = (int64_t)epochs * batches, warmup = (int64_t)(cfg.train.warmup_epochs * batches), step = 0;
    std::vector<float> images((size_t)batch * floats_per_image(sn));
    std::vector<int> labels((size_t)batch), path((size_t)sn->space.n_layers);
    SgdConfig sgd = {0, cfg.train.momentum, cfg.train.weight_decay, cfg.train.nesterov};
    for (int epoch = 0; loader && epoch < epochs; epoch++) {
        loader_start_epoch(loader, epoch, 0);
        for (int b = 0; b < batches; b++, step++) {
            int n = loader_next(loader, images.data(), labels.data(), &err);
            EXPECT_GT(n, 0) << err.msg;
            if (n <= 0) break;
            upload_now(sn, images, labels, n);
            sample_path(sn, cfg.train.seed, (uint64_t)step, 0, nullptr, path.data());
            sgd.lr = lr_at(&cfg, lr, step, total, warmup);
            supernet_forward(sn, path.data(), n, MODE_TRAIN, 0.1f);
            ops->cross_entropy_forward_backward(&sn->ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, n,
                                                sn->space.classes, cfg.train.label_smoothing);
            supernet_zero_path_grads(sn, path.data());
            supernet_backward(sn);
            float loss = 0;
            ops->download(&sn->ctx, &loss, sn->loss, sizeof loss);
            if (std::isfinite(loss)) supernet_sgd_path(sn, path.data(), &sgd);
            losses.push_back(loss);
        }
    }
    EXPECT_EQ(ops->synchronize(&sn->ctx), 0);
    loader_destroy(loader);
    dataset_close(ds);
    return losses;
}

static void reference_recalibrate(Supernet* sn, const Config& cfg, int recal_images, const int* path) {
    HwErr err = {};
    Dataset* ds = dataset_open(&cfg.data, SPLIT_TRAIN, &err);
    ASSERT_NE(ds, nullptr) << err.msg;
    DataLoader* loader = open_loader(ds, sn->max_batch, 1, cfg.search.seed, cfg.data.workers, 0);
    std::vector<float> images((size_t)sn->max_batch * floats_per_image(sn));
    std::vector<int> labels((size_t)sn->max_batch);
    int exact = std::strcmp(cfg.search.bn_mode, "ema") != 0;
    supernet_reset_path_bn(sn, path);
    loader_start_epoch(loader, 0, 0);
    for (int done = 0, k = 0, n; loader && done < recal_images; done += n, k++) {
        n = loader_next(loader, images.data(), labels.data(), &err);
        if (n <= 0) break;
        if (n > recal_images - done) n = recal_images - done;
        upload_now(sn, images, labels, n);
        supernet_forward(sn, path, n, MODE_TRAIN, exact ? 1.0f / (float)(k + 1) : 0.1f);
    }
    loader_destroy(loader);
    dataset_close(ds);
}

ReferenceScore reference_score(Supernet* sn, const Config& cfg, DataSplit split, int recal_images,
                               int val_images, const int* path) {
    ReferenceScore r;
    if (recal_images > 0) reference_recalibrate(sn, cfg, recal_images, path);
    HwErr err = {};
    Dataset* ds = dataset_open(&cfg.data, split, &err);
    EXPECT_NE(ds, nullptr) << err.msg;
    if (!ds) return r;
    DataLoader* loader = open_loader(ds, sn->max_batch, 0, cfg.search.seed, cfg.data.workers, 0);
    std::vector<float> images((size_t)sn->max_batch * floats_per_image(sn));
    std::vector<int> labels((size_t)sn->max_batch);
    int limit = val_images > 0 ? val_images : dataset_size(ds);
    long c1 = 0, c5 = 0;
    loader_start_epoch(loader, 0, 0);
    for (int n; loader && r.count < limit; r.count += n) {
        n = loader_next(loader, images.data(), labels.data(), &err);
        if (n <= 0) break;
        if (n > limit - r.count) n = limit - r.count;
        upload_now(sn, images, labels, n);
        supernet_forward(sn, path, n, MODE_EVAL, 0);
        sn->ops->topk_correct(&sn->ctx, sn->correct, sn->correct + 1, sn->logits, sn->labels, n,
                              sn->space.classes);
        int counts[2];
        sn->ops->download(&sn->ctx, counts, sn->correct, sizeof counts);
        c1 += counts[0], c5 += counts[1];
    }
    if (r.count > 0) r.top1 = (double)c1 / r.count, r.top5 = (double)c5 / r.count;
    loader_destroy(loader);
    dataset_close(ds);
    return r;
}

std::vector<std::string> csv_losses(const std::string& csv_path) {
    std::ifstream csv(csv_path);
    std::vector<std::string> losses;
    std::string line;
    std::getline(csv, line);  // header
    while (std::getline(csv, line)) {
        std::stringstream ss(line);
        std::string field;
        for (int i = 0; i < 4; i++) std::getline(ss, field, ',');  // step,epoch,lr,loss
        losses.push_back(field);
    }
    return losses;
}

std::string csv_loss(float loss) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f", loss);
    return buf;
}
