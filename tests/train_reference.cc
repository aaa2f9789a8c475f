#include "train_reference.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "supernet/evaluate.h"
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
            sgd.lr = lr_at(cfg.train.lr_schedule, lr, step, total, warmup);
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
    int exact = cfg.search.bn_mode == BN_EXACT;
    ASSERT_EQ(supernet_reset_path_bn(sn, path, nullptr), 0);
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

FeedSetup::FeedSetup(const Ops* backend, const OpContext& context, int workers) : ops(backend), ctx(context) {
    EXPECT_TRUE(write_synthetic_idx(data.path, 1024 + 256, 64));
    synthetic_config(&cfg, data.path, workers);
    ctx.threads = cfg.train.threads;
    HwErr err = {};
    EXPECT_EQ(space_load(&space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
}

Supernet* FeedSetup::net() {
    HwErr err = {};
    Supernet* sn = supernet_create(&space, ops, &ctx, cfg.train.batch, &err);
    EXPECT_NE(sn, nullptr) << err.msg;
    if (sn) {
        EXPECT_EQ(supernet_init_params(sn, cfg.train.seed, nullptr), 0);
    }
    return sn;
}

// Backend memory read back through the backend itself (a copy on the CPU).
static std::vector<float> download(Supernet* sn, const float* p, size_t n) {
    std::vector<float> host(n);
    sn->ops->download(&sn->ctx, host.data(), p, n * sizeof(float));
    EXPECT_EQ(sn->ops->synchronize(&sn->ctx), 0);
    return host;
}

void expect_trainer_matches_reference(FeedSetup& s) {
    Supernet* fed = s.net();
    Supernet* ref = s.net();
    ASSERT_TRUE(fed && ref);
    TempDir run{"train"};
    TrainJob job = {};
    job.train = &s.cfg.train;
    job.data = &s.cfg.data;
    job.config_path = s.cfg.path;
    job.run_dir = run.path.c_str();
    job.checkpoint_name = "supernet.ckpt";
    job.csv_name = "train.csv";
    job.epochs = 2;
    job.lr = 0.1f;
    job.quiet = 1;
    TrainResult res;
    HwErr err = {};
    ASSERT_EQ(train_run(fed, &job, &res, &err), 0) << err.msg;
    std::vector<float> losses = reference_train(ref, s.cfg, 2, 0.1f);
    std::vector<std::string> logged = csv_losses(run / "train.csv");
    ASSERT_EQ(losses.size(), 32u);
    ASSERT_EQ(logged.size(), losses.size());
    for (size_t i = 0; i < losses.size(); i++) EXPECT_EQ(logged[i], csv_loss(losses[i])) << "step " << i + 1;
    expect_bitwise("weights", download(fed, fed->params, fed->param_floats),
                   download(ref, ref->params, ref->param_floats));
    expect_bitwise("momentum", download(fed, fed->momentum, fed->param_floats),
                   download(ref, ref->momentum, ref->param_floats));
    expect_bitwise("BN running statistics", download(fed, fed->running, fed->running_floats),
                   download(ref, ref->running, ref->running_floats));
    EXPECT_EQ(fed->images, fed->slot_images[0]) << "the trainer leaves input slot 0 selected";
    supernet_destroy(fed);
    supernet_destroy(ref);
}

void expect_evaluator_matches_reference(FeedSetup& s) {
    Supernet* sn = s.net();
    ASSERT_NE(sn, nullptr);
    int path[SPACE_MAX_LAYERS] = {1, 3, 0};
    HwErr err = {};
    EvalOptions valid = {&s.cfg.data, SPLIT_VALID, 100, 200, s.cfg.search.bn_mode, s.cfg.search.seed};
    Evaluator* ev = evaluator_create(sn, &valid, &err);
    ASSERT_NE(ev, nullptr) << err.msg;
    double top1 = 0, top5 = 0;
    int count = 0;
    ASSERT_EQ(evaluator_recalibrate(ev, path, &err), 0) << err.msg;
    ASSERT_EQ(evaluator_accuracy(ev, path, &top1, &top5, &count, &err), 0) << err.msg;
    evaluator_destroy(ev);
    std::vector<float> running = download(sn, sn->running, sn->running_floats);
    ReferenceScore want = reference_score(sn, s.cfg, SPLIT_VALID, 100, 200, path);
    EXPECT_EQ(count, 200);
    EXPECT_EQ(want.count, 200);
    EXPECT_EQ(top1, want.top1);
    EXPECT_EQ(top5, want.top5);
    EXPECT_GT(top5, top1) << "a random net still gets some top-5 hits beyond top-1";
    expect_bitwise("recalibrated BN statistics", running, download(sn, sn->running, sn->running_floats));
    supernet_destroy(sn);
}
