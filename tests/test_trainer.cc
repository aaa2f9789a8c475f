// Supernet training on a Fashion-MNIST subset: the loss falls, resume is
// bit-identical, a diverging run stops with the last checkpoint intact, and
// a damaged checkpoint is refused with a clear error.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "supernet/checkpoint.h"
#include "supernet/path_filter.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"
#include "test_util.h"

namespace {

std::string temp_dir() { return test_temp_dir("trainer"); }

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void small_config(Config* cfg) {
    config_defaults(cfg);
    cfg->data.limit_train = 1536;  // 1024 for training after the holdout
    cfg->data.holdout = 512;
    cfg->data.workers = 0;
    cfg->train.batch = 64;
    cfg->train.lr = 0.1f;
    cfg->train.warmup_epochs = 0;
    cfg->train.threads = 2;
}

struct TrainRun {
    Space space;
    Supernet* sn = nullptr;
    ~TrainRun() { supernet_destroy(sn); }
};

void make_run(TrainRun* r, const Config& cfg) {
    HwErr err = {};
    ASSERT_EQ(space_load(&r->space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
    OpContext ctx = {cfg.train.threads, nullptr};
    r->sn = supernet_create(&r->space, &ops_cpu, &ctx, cfg.train.batch, &err);
    ASSERT_NE(r->sn, nullptr) << err.msg;
    ASSERT_EQ(supernet_init_params(r->sn, cfg.train.seed, &err), 0);
}

int train(Supernet* sn, const Config& cfg, const std::string& dir, int epochs, int resume, TrainResult* res,
          HwErr* err, volatile sig_atomic_t* flag = nullptr, float lr = 0.1f, const PathFilter* filter = nullptr) {
    TrainJob job = {};
    job.train = &cfg.train;
    job.data = &cfg.data;
    job.config_path = cfg.path;
    job.filter = filter;
    job.run_dir = dir.c_str();
    job.checkpoint_name = "supernet.ckpt";
    job.csv_name = "train.csv";
    job.resume = resume;
    job.epochs = epochs;
    job.lr = lr;
    job.interrupted = flag;
    job.quiet = 1;
    return train_run(sn, &job, res, err);
}

}  // namespace

TEST(Trainer, LossFallsOnFashionMnistSubset) {
    Config cfg;
    small_config(&cfg);
    // 320 steps of 32 images at a constant learning rate, no augmentation.
    cfg.data.limit_train = 2560;
    cfg.train.batch = 32;
    cfg.data.pad_crop = 0;
    cfg.data.hflip = 0;
    cfg.train.lr_schedule = LR_CONSTANT;
    TrainRun r;
    make_run(&r, cfg);
    std::string dir = temp_dir();
    HwErr err = {};
    TrainResult res;
    ASSERT_EQ(train(r.sn, cfg, dir, 5, 0, &res, &err), 0) << err.msg;
    // train.csv has one row per step: mean loss of the first and last epoch.
    std::ifstream csv(dir + "/train.csv");
    std::string line;
    std::getline(csv, line);
    EXPECT_EQ(line, "step,epoch,lr,loss,top1,images_per_s,seconds");
    std::vector<double> losses;
    while (std::getline(csv, line)) {
        std::vector<std::string> f;
        std::stringstream ss(line);
        std::string x;
        while (std::getline(ss, x, ',')) f.push_back(x);
        ASSERT_EQ(f.size(), 7u) << line;
        losses.push_back(std::atof(f[3].c_str()));
    }
    ASSERT_EQ(losses.size(), 320u);
    double l0 = 0, l1 = 0;
    for (int i = 0; i < 64; i++) l0 += losses[i] / 64, l1 += losses[losses.size() - 64 + i] / 64;
    std::printf("    mean loss epoch 1 %.4f, epoch 5 %.4f\n", l0, l1);
    EXPECT_GT(l0, 2.0);       // near ln(10) = 2.30 at the start
    EXPECT_LT(l1, 0.75 * l0);  // well below its start (PyTorch's twin: 2.29 -> 1.55 in 96 steps)
    EXPECT_EQ(res.steps, 5 * 64);
}

TEST(Trainer, ResumeIsBitIdenticalToAnUninterruptedRun) {
    Config cfg;
    small_config(&cfg);
    HwErr err = {};
    TrainResult res;
    std::string a = temp_dir(), b = temp_dir();
    {
        TrainRun r;
        make_run(&r, cfg);
        ASSERT_EQ(train(r.sn, cfg, a, 3, 0, &res, &err), 0) << err.msg;
    }
    // Interrupted twice mid-epoch (the flag is already set, so each run stops
    // after one step and saves), then resumed to the end.
    for (int phase = 0; phase < 3; phase++) {
        TrainRun r;
        make_run(&r, cfg);
        volatile sig_atomic_t flag = phase < 2;
        ASSERT_EQ(train(r.sn, cfg, b, 3, phase > 0, &res, &err, &flag), 0) << err.msg;
        EXPECT_EQ(res.interrupted, phase < 2);
        EXPECT_EQ(res.steps, phase < 2 ? 1 : 3 * 16 - 2);
    }
    std::string ca = read_file(a + "/supernet.ckpt"), cb = read_file(b + "/supernet.ckpt");
    ASSERT_GT(ca.size(), 1000u);
    EXPECT_TRUE(ca == cb) << "resumed checkpoint differs from the uninterrupted one";
    std::string la = read_file(a + "/train.csv"), lb = read_file(b + "/train.csv");
    // Same rows apart from timing columns: compare step,epoch,lr,loss,top1.
    auto strip = [](const std::string& s) {
        std::stringstream in(s), out;
        std::string line;
        while (std::getline(in, line)) {
            int commas = 0;
            size_t i = 0;
            for (; i < line.size() && commas < 5; i++) commas += line[i] == ',';
            out << line.substr(0, i) << "\n";
        }
        return out.str();
    };
    EXPECT_EQ(strip(la), strip(lb));
}

TEST(Trainer, DivergenceStopsWithTheLastCheckpointIntact) {
    Config cfg;
    small_config(&cfg);
    HwErr err = {};
    TrainResult res;
    std::string dir = temp_dir();
    TrainRun r;
    make_run(&r, cfg);
    ASSERT_EQ(train(r.sn, cfg, dir, 1, 0, &res, &err), 0) << err.msg;
    std::string before = read_file(dir + "/supernet.ckpt");
    cfg.train.lr_schedule = LR_CONSTANT;
    int rc = train(r.sn, cfg, dir, 3, 1, &res, &err, nullptr, 1e30f);
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(err.code, 1);
    EXPECT_NE(std::strstr(err.msg, "diverged"), nullptr) << err.msg;
    EXPECT_TRUE(read_file(dir + "/supernet.ckpt") == before) << "checkpoint changed by the diverged run";
}

TEST(Trainer, DamagedCheckpointIsRefused) {
    Config cfg;
    small_config(&cfg);
    HwErr err = {};
    TrainResult res;
    std::string dir = temp_dir();
    TrainRun r;
    make_run(&r, cfg);
    ASSERT_EQ(train(r.sn, cfg, dir, 1, 0, &res, &err), 0) << err.msg;
    std::string path = dir + "/supernet.ckpt";
    std::string full = read_file(path);
    TrainState st;
    // Truncated.
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(full.data(), (std::streamsize)(full.size() / 2));
    }
    err = {};
    EXPECT_EQ(checkpoint_load(path.c_str(), r.sn, &st, nullptr, &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_NE(std::strstr(err.msg, path.c_str()), nullptr) << err.msg;
    // One flipped byte.
    std::string flipped = full;
    flipped[flipped.size() / 2] ^= 0x10;
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(flipped.data(), (std::streamsize)flipped.size());
    }
    err = {};
    EXPECT_EQ(checkpoint_load(path.c_str(), r.sn, &st, nullptr, &err), -1);
    EXPECT_NE(std::strstr(err.msg, "checksum"), nullptr) << err.msg;
    // Not a checkpoint.
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f << "hello";
    }
    err = {};
    EXPECT_EQ(checkpoint_load(path.c_str(), r.sn, &st, nullptr, &err), -1);
    EXPECT_EQ(err.code, 2);
}

namespace {

// A predictor for the latency filter: the sum of the op indices, in "ms".
int index_sum_ms(const void* model, const int* path, double* ms) {
    const Space* s = static_cast<const Space*>(model);
    double sum = 0;
    for (int l = 0; l < s->n_layers; l++) sum += path[l];
    *ms = sum;
    return 0;
}

// Every path of steps 0..n-1 as train_run draws them with the filter.
std::vector<std::vector<int>> filtered_paths(const Supernet* sn, const Config& cfg, const PathFilter* f, int n) {
    std::vector<std::vector<int>> out;
    std::vector<int> path(sn->space.n_layers);
    for (int step = 0; step < n; step++) {
        for (int attempt = 0; attempt < 500; attempt++) {
            sample_path(sn, cfg.train.seed, (uint64_t)step, attempt, nullptr, path.data());
            if (path_filter_accepts(f, path.data())) break;
        }
        out.push_back(path);
    }
    return out;
}

}  // namespace

// train.sampling: flops and latency both reject paths outside train.window;
// uniform accepts every path; latency without a predictor is an error.
TEST(PathFilter, FlopsAndLatencyWindowsRejectPathsOutside) {
    Config cfg;
    small_config(&cfg);
    TrainRun r;
    make_run(&r, cfg);
    const Supernet* sn = r.sn;
    HwErr err = {};
    PathFilter f;
    ASSERT_EQ(path_filter_init(&f, &cfg.train, sn, nullptr, nullptr, "c.yaml", &err), 0) << err.msg;
    std::vector<int> all_last(sn->space.n_layers);
    for (int l = 0; l < sn->space.n_layers; l++) all_last[l] = sn->space.layers[l].n_ops - 1;
    EXPECT_TRUE(path_filter_accepts(&f, all_last.data()));
    // Latency: the sum of op indices in [1, 2].
    cfg.train.sampling = SAMPLING_LATENCY;
    cfg.train.window[0] = 1, cfg.train.window[1] = 2;
    err = {};
    EXPECT_EQ(path_filter_init(&f, &cfg.train, sn, nullptr, nullptr, "c.yaml", &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_NE(std::strstr(err.msg, "c.yaml: train.sampling latency needs `target`"), nullptr) << err.msg;
    ASSERT_EQ(path_filter_init(&f, &cfg.train, sn, index_sum_ms, &sn->space, "c.yaml", &err), 0) << err.msg;
    for (const auto& p : filtered_paths(sn, cfg, &f, 20)) {
        int sum = 0;
        for (int o : p) sum += o;
        EXPECT_GE(sum, 1);
        EXPECT_LE(sum, 2);
    }
    // FLOPs: the middle half of uniformly sampled paths' MFLOPs.
    std::vector<double> mflops_of_uniform;
    std::vector<int> p(sn->space.n_layers);
    for (int i = 0; i < 200; i++) {
        sample_path(sn, 99, (uint64_t)i, 0, nullptr, p.data());
        mflops_of_uniform.push_back(2.0 * supernet_path_macs(sn, p.data()) / 1e6);
    }
    std::sort(mflops_of_uniform.begin(), mflops_of_uniform.end());
    cfg.train.sampling = SAMPLING_FLOPS;
    cfg.train.window[0] = (float)mflops_of_uniform[50];
    cfg.train.window[1] = (float)mflops_of_uniform[150];
    ASSERT_LT(cfg.train.window[0], cfg.train.window[1]);
    ASSERT_EQ(path_filter_init(&f, &cfg.train, sn, nullptr, nullptr, nullptr, &err), 0) << err.msg;
    int inside = 0;
    for (const auto& p : filtered_paths(sn, cfg, &f, 20)) {
        double mflops = 2.0 * supernet_path_macs(sn, p.data()) / 1e6;
        inside += mflops >= cfg.train.window[0] && mflops <= cfg.train.window[1];
    }
    EXPECT_EQ(inside, 20);
}

// A window no path meets: every step trains its last draw, and the result
// says how many steps that was.
TEST(PathFilter, TrainerCountsStepsThatMissedTheWindow) {
    Config cfg;
    small_config(&cfg);
    cfg.train.sampling = SAMPLING_FLOPS;
    cfg.train.window[0] = 1e8f, cfg.train.window[1] = 1e9f;
    TrainRun r;
    make_run(&r, cfg);
    HwErr err = {};
    PathFilter f;
    ASSERT_EQ(path_filter_init(&f, &cfg.train, r.sn, nullptr, nullptr, nullptr, &err), 0) << err.msg;
    TrainResult res;
    ASSERT_EQ(train(r.sn, cfg, temp_dir(), 1, 0, &res, &err, nullptr, 0.1f, &f), 0) << err.msg;
    EXPECT_EQ(res.steps, 16);
    EXPECT_EQ(res.unfiltered, 16);
    // The same run without the filter: no step missed anything.
    TrainRun r2;
    make_run(&r2, cfg);
    ASSERT_EQ(train(r2.sn, cfg, temp_dir(), 1, 0, &res, &err), 0) << err.msg;
    EXPECT_EQ(res.unfiltered, 0);
}
