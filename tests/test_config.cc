// The run configuration: defaults, loading, errors with file and line, and
// the round trip config_load(config_write(x)) == x.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "test_util.h"

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool same_config(Config a, Config b) {
    memset(a.path, 0, sizeof a.path);
    memset(b.path, 0, sizeof b.path);
    return memcmp(&a, &b, sizeof a) == 0;
}

// Loads text that must fail: code 2 and the message starts with "FILE:LINE: ".
std::string expect_load_error(TempDir& tmp, const std::string& text, int line) {
    std::string f = tmp.write("bad" + std::to_string(tmp.files.size()) + ".yaml", text);
    Config cfg;
    config_defaults(&cfg);
    HwErr err = {{0}, 0};
    EXPECT_EQ(config_load(&cfg, f.c_str(), &err), -1) << text;
    EXPECT_EQ(err.code, 2) << err.msg;
    std::string prefix = f + ":" + std::to_string(line) + ": ";
    EXPECT_EQ(std::string(err.msg).rfind(prefix, 0), 0u) << "want " << prefix << "\n got " << err.msg;
    return err.msg;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sets a string field with a zeroed tail, as config_load does, so configs
// compare byte-wise.
void set_text(char* dst, size_t cap, const char* s) {
    memset(dst, 0, cap);
    snprintf(dst, cap, "%s", s);
}

}  // namespace

TEST(Config, DefaultsMatchTheHeader) {
    Config c;
    memset(&c, 0x5a, sizeof c);  // every byte must be set by config_defaults
    config_defaults(&c);
    EXPECT_STREQ(c.path, "");
    EXPECT_EQ(c.data.kind, DATA_IDX);
    EXPECT_STREQ(c.data.root, "/usr/share/datasets/fashion-mnist");
    EXPECT_STREQ(c.data.train_images, "train-images-idx3-ubyte.gz");
    EXPECT_STREQ(c.data.test_labels, "t10k-labels-idx1-ubyte.gz");
    EXPECT_EQ(c.data.input_size, 28);
    EXPECT_EQ(c.data.channels, 1);
    EXPECT_EQ(c.data.holdout, 10000);
    EXPECT_EQ(c.data.limit_train, 0);
    EXPECT_EQ(c.data.pad_crop, 2);
    EXPECT_EQ(c.data.hflip, 1);
    EXPECT_FLOAT_EQ(c.data.rrc_scale[0], 0.08f);
    EXPECT_FLOAT_EQ(c.data.rrc_ratio[1], 4.0f / 3.0f);
    EXPECT_EQ(c.data.val_resize, 256);
    EXPECT_FLOAT_EQ(c.data.mean[0], 0.2860f);
    EXPECT_FLOAT_EQ(c.data.std[2], 0.3530f);
    EXPECT_EQ(c.data.workers, 2);
    EXPECT_STREQ(c.space, "configs/spaces/hurricane-fmnist.yaml");
    EXPECT_EQ(c.train.epochs, 10);
    EXPECT_EQ(c.train.batch, 128);
    EXPECT_FLOAT_EQ(c.train.lr, 0.1f);
    EXPECT_EQ(c.train.lr_schedule, LR_COSINE);
    EXPECT_FLOAT_EQ(c.train.warmup_epochs, 0.5f);
    EXPECT_FLOAT_EQ(c.train.momentum, 0.9f);
    EXPECT_EQ(c.train.nesterov, 1);
    EXPECT_FLOAT_EQ(c.train.weight_decay, 4e-5f);
    EXPECT_FLOAT_EQ(c.train.label_smoothing, 0.1f);
    EXPECT_EQ(c.train.seed, 1u);
    EXPECT_EQ(c.train.sampling, SAMPLING_UNIFORM);
    EXPECT_EQ(c.train.device, DEVICE_CPU);
    EXPECT_EQ(c.search.population, 50);
    EXPECT_EQ(c.search.parents, 10);
    EXPECT_EQ(c.search.iterations, 20);
    EXPECT_FLOAT_EQ(c.search.mutation_prob, 0.1f);
    EXPECT_EQ(c.search.bn_images, 2000);
    EXPECT_EQ(c.search.bn_mode, BN_EXACT);
    EXPECT_EQ(c.search.val_images, 10000);
    EXPECT_EQ(c.search.max_params, 0);  // no constraints beside latency unless asked
    EXPECT_EQ(c.search.max_mflops, 0.0f);
    EXPECT_EQ(c.search.max_peak_kb, 0.0f);
    EXPECT_EQ(c.space_gen.top_k, 4);
    EXPECT_EQ(c.space_gen.score, SCORE_CAPACITY_PER_LATENCY);
    EXPECT_EQ(c.space_gen.capacity, CAPACITY_FLOPS);
    EXPECT_EQ(c.stages.enabled, 1);
    EXPECT_EQ(c.stages.split, 0);
    EXPECT_EQ(c.stages.stage1_epochs, 6);
    EXPECT_EQ(c.stages.fill, FILL_UNIFORM);
    EXPECT_EQ(c.finetune.retrain_epochs, 30);
    EXPECT_FLOAT_EQ(c.finetune.lr, 0.02f);
    EXPECT_EQ(c.target.kind, TARGET_CPU);
    EXPECT_STREQ(c.target.file, "");
    EXPECT_EQ(c.latency_ms, 0.0f);
    Config zero;
    memset(&zero, 0, sizeof zero);
    config_defaults(&zero);
    EXPECT_EQ(memcmp(&c, &zero, sizeof c), 0) << "config_defaults must set every byte";
}

TEST(Config, LoadsTheDefaultRunConfig) {
    Config c;
    HwErr err = {{0}, 0};
    ASSERT_EQ(config_load(&c, "configs/fmnist.yaml", &err), 0) << err.msg;
    EXPECT_STREQ(c.path, "configs/fmnist.yaml");
    EXPECT_EQ(c.data.kind, DATA_IDX);
    EXPECT_STREQ(c.space, "configs/spaces/hurricane-fmnist.yaml");
    EXPECT_EQ(c.target.kind, TARGET_CPU);
    EXPECT_STREQ(c.target.file, "");
    EXPECT_EQ(c.train.batch, 128);
    EXPECT_FLOAT_EQ(c.train.weight_decay, 4e-5f);
    EXPECT_FLOAT_EQ(c.data.mean[2], 0.2860f);  // one value fills every channel
}

TEST(Config, OverridesOnlyTheGivenKeys) {
    TempDir tmp("config");
    std::string f = tmp.write("c.yaml",
                              "data:\n"
                              "  kind: imagefolder\n"
                              "  root: /data/imagenet\n"
                              "  input_size: 224\n"
                              "  channels: 3\n"
                              "  rrc_scale: [0.35, 1]\n"
                              "train:\n"
                              "  batch: 1\n"
                              "  lr: 1e-3\n"
                              "  nesterov: no\n"
                              "  seed: 18446744073709551615\n"
                              "  window: [10, 20.5]\n"
                              "  sampling: latency\n"
                              "search:\n"
                              "stages: {enabled: false, split: 7}\n"
                              "latency_ms: 12.5\n"
                              "target: targets/pixel.yaml\n");
    Config c;
    HwErr err = {{0}, 0};
    ASSERT_EQ(config_load(&c, f.c_str(), &err), 0) << err.msg;
    Config d;
    config_defaults(&d);
    EXPECT_EQ(c.data.kind, DATA_IMAGEFOLDER);
    EXPECT_EQ(c.data.input_size, 224);
    EXPECT_FLOAT_EQ(c.data.rrc_scale[0], 0.35f);
    // imagefolder without explicit normalization: the ImageNet statistics.
    EXPECT_FLOAT_EQ(c.data.mean[0], 0.485f);
    EXPECT_FLOAT_EQ(c.data.mean[2], 0.406f);
    EXPECT_FLOAT_EQ(c.data.std[1], 0.224f);
    EXPECT_EQ(c.train.batch, 1);
    EXPECT_FLOAT_EQ(c.train.lr, 1e-3f);
    EXPECT_EQ(c.train.nesterov, 0);
    EXPECT_EQ(c.train.seed, UINT64_MAX);
    EXPECT_FLOAT_EQ(c.train.window[1], 20.5f);
    EXPECT_EQ(c.train.sampling, SAMPLING_LATENCY);
    EXPECT_EQ(c.stages.enabled, 0);
    EXPECT_EQ(c.stages.split, 7);
    EXPECT_FLOAT_EQ(c.latency_ms, 12.5f);
    EXPECT_EQ(c.target.kind, TARGET_FILE);
    EXPECT_STREQ(c.target.file, "targets/pixel.yaml");
    // Untouched keys keep their defaults.
    EXPECT_EQ(c.train.epochs, d.train.epochs);
    EXPECT_EQ(c.search.population, d.search.population);
    EXPECT_STREQ(c.data.train_images, d.data.train_images);
    EXPECT_EQ(c.stages.stage1_epochs, d.stages.stage1_epochs);
}

TEST(Config, MeanAndStdTakeOneOrThreeValues) {
    TempDir tmp("config");
    std::string f = tmp.write("m.yaml", "data:\n  channels: 3\n  mean: [0.1, 0.2, 0.3]\n  std: 0.5\n");
    Config c;
    HwErr err = {{0}, 0};
    ASSERT_EQ(config_load(&c, f.c_str(), &err), 0) << err.msg;
    EXPECT_FLOAT_EQ(c.data.mean[1], 0.2f);
    EXPECT_FLOAT_EQ(c.data.std[0], 0.5f);
    EXPECT_FLOAT_EQ(c.data.std[2], 0.5f);
    std::string m = expect_load_error(tmp, "data:\n  mean: [0.1, 0.2]\n", 2);
    EXPECT_TRUE(contains(m, "data.mean: found 2 values, expected a sequence of 1 or 3 numbers")) << m;
    m = expect_load_error(tmp, "data:\n  channels: 1\n  std: [0.1, 0.2, 0.3]\n", 3);
    EXPECT_TRUE(contains(m, "3 values for 1 input channel")) << m;
    m = expect_load_error(tmp, "data:\n  std: [0.1, 0, 0.3]\n", 2);
    EXPECT_TRUE(contains(m, "data.std[1]: found '0', expected a number in (0, 1000]")) << m;
}

// Overrides (`--set`) apply in order with the file's checks; the checks
// across keys see the final values, so their order does not matter, and a
// failed set leaves the config untouched.
TEST(Config, OverridesInAnyOrderAndNamedWhenBad) {
    Config c;
    config_defaults(&c);
    ASSERT_GT(c.search.parents, 3);  // so population=3 alone would be an error
    HwErr err = {{0}, 0};
    const char* shrink[] = {"search.population=3", "search.parents=2", "train.epochs=7"};
    ASSERT_EQ(config_override(&c, shrink, 3, &err), 0) << err.msg;
    EXPECT_EQ(c.search.population, 3);
    EXPECT_EQ(c.search.parents, 2);
    EXPECT_EQ(c.train.epochs, 7);
    const char* grow[] = {"search.parents=9", "search.population=12"};
    ASSERT_EQ(config_override(&c, grow, 2, &err), 0) << err.msg;
    EXPECT_EQ(c.search.parents, 9);
    EXPECT_EQ(c.search.population, 12);
    const char* three_means[] = {"data.mean=[0.1, 0.2, 0.3]", "data.channels=3"};
    ASSERT_EQ(config_override(&c, three_means, 2, &err), 0) << err.msg;
    EXPECT_FLOAT_EQ(c.data.mean[2], 0.3f);

    Config before = c;
    struct Case {
        std::vector<const char*> settings;
        const char* want;
    } cases[] = {
        {{"train.epochs=2", "search.parents=13"},
         "--set: search.parents: found 13, expected at most search.population (12)"},
        {{"data.std=[1, 2, 3]", "data.channels=1"}, "--set: data.std: found 3 values for 1 input channel(s)"},
        {{"train.epochs=2", "train.epochs=abc"},
         "--set train.epochs=abc: train.epochs: found 'abc', expected an integer in 0..100000"},
        {{"train.bacth=64"}, "--set train.bacth=64: train: unknown key 'bacth'"},
        {{"epochs"}, "--set: found 'epochs', expected section.key=value"},
    };
    for (const Case& k : cases) {
        HwErr e = {{0}, 0};
        EXPECT_EQ(config_override(&c, k.settings.data(), (int)k.settings.size(), &e), -1) << k.want;
        EXPECT_EQ(e.code, 2);
        EXPECT_EQ(std::string(e.msg).rfind(k.want, 0), 0u) << e.msg;
        EXPECT_EQ(memcmp(&c, &before, sizeof c), 0) << "a failed --set changed the config: " << k.want;
    }
}

TEST(Config, UnknownKeysAreErrorsWithLine) {
    TempDir tmp("config");
    std::string m = expect_load_error(tmp, "train:\n  epochs: 3\n  bacth: 64\n", 3);
    EXPECT_TRUE(contains(m, "train: unknown key 'bacth', expected one of: epochs, batch, lr")) << m;
    m = expect_load_error(tmp, "data: {kind: idx}\n\ntrainer:\n  epochs: 3\n", 3);
    EXPECT_TRUE(contains(m, "unknown key 'trainer'")) << m;
    EXPECT_TRUE(contains(m, "data, space, train, search, space_gen, stages, finetune, target, latency_ms")) << m;
    expect_load_error(tmp, "search:\n  population: 10\n  parents: 2\n  mutation: 0.1\n", 4);
}

TEST(Config, RangeAndTypeErrorsWithLine) {
    TempDir tmp("config");
    struct Case {
        const char* text;
        int line;
        const char* want;
    } cases[] = {
        {"train:\n  batch: 0\n", 2, "train.batch: found '0', expected an integer in 1..65536"},
        {"train:\n  batch: 65537\n", 2, "train.batch: found '65537'"},
        {"train:\n  batch: 12.5\n", 2, "expected an integer"},
        {"train:\n  lr: 0\n", 2, "train.lr: found '0', expected a number in (0, 100]"},
        {"train:\n  lr: -0.1\n", 2, "train.lr: found '-0.1'"},
        {"train:\n  lr: .nan\n", 2, "train.lr: found '.nan'"},
        {"train:\n  lr: fast\n", 2, "train.lr: found 'fast'"},
        {"train:\n  momentum: 1.0\n", 2, "train.momentum: found '1.0', expected a number in [0, 1)"},
        {"train:\n  momentum: -0.1\n", 2, "train.momentum"},
        {"train:\n  epochs: -1\n", 2, "train.epochs: found '-1', expected an integer in 0..100000"},
        {"train:\n  lr_schedule: step\n", 2,
         "train.lr_schedule: found 'step', expected one of: cosine, linear, constant"},
        {"train:\n  nesterov: maybe\n", 2, "train.nesterov: found 'maybe', expected true/false"},
        {"train:\n  seed: -1\n", 2, "train.seed: found '-1', expected an integer in 0..18446744073709551615"},
        {"train:\n  seed: 18446744073709551616\n", 2, "train.seed"},
        {"train:\n  device: gpu\n", 2, "expected one of: cpu, cuda"},
        {"train:\n  window: [5, 1]\n", 2, "train.window: found [5, 1], expected the first value <= the second"},
        {"train:\n  window: 5\n", 2, "train.window: found a scalar, expected a sequence of 2 numbers"},
        {"data:\n  kind: csv\n", 2, "data.kind: found 'csv', expected one of: idx, imagefolder"},
        {"data:\n  rrc_scale: [0.5, 0.2]\n", 2, "data.rrc_scale"},
        {"data:\n  rrc_scale: [0.5, 1.5]\n", 2, "data.rrc_scale[1]: found '1.5'"},
        {"data:\n  channels: 4\n", 2, "data.channels: found '4', expected an integer in 1..3"},
        {"data:\n  color_jitter: 2\n", 2, "data.color_jitter"},
        {"data:\n  root: [a, b]\n", 2, "data.root: found a sequence, expected a string"},
        {"search:\n  population: 5\n  parents: 6\n", 3,
         "search.parents: found 6, expected at most search.population (5)"},
        {"search:\n  bn_mode: fast\n", 2, "expected one of: exact, ema"},
        {"search:\n  mutation_prob: 1.5\n", 2, "search.mutation_prob"},
        {"search:\n  max_params: -1\n", 2, "search.max_params: found '-1', expected an integer in 0..2000000000"},
        {"search:\n  max_params: 1.5e6\n", 2, "search.max_params: found '1.5e6'"},
        {"search:\n  max_mflops: .nan\n", 2, "search.max_mflops: found '.nan', expected a number in [0, 1e+09]"},
        {"search:\n  max_peak_kb: -2\n", 2, "search.max_peak_kb: found '-2', expected a number in [0, 1e+09]"},
        {"space_gen:\n  top_k: 0\n", 2, "space_gen.top_k"},
        {"stages:\n  fill: last\n", 2, "stages.fill"},
        {"finetune:\n  retrain_lr: 0\n", 2, "finetune.retrain_lr"},
        {"latency_ms: -3\n", 1, "latency_ms: found '-3'"},
        {"space: {a: 1}\n", 1, "space: found a mapping"},
        {"train: 5\n", 1, "train: found '5', expected a mapping"},
        {"- train\n", 1, "expected a mapping of config sections"},
    };
    for (const Case& c : cases) {
        std::string m = expect_load_error(tmp, c.text, c.line);
        EXPECT_TRUE(contains(m, c.want)) << "text:\n" << c.text << "message: " << m;
    }
    std::string long_path(600, 'p');
    std::string m = expect_load_error(tmp, "target: " + long_path + "\n", 1);
    EXPECT_TRUE(contains(m, "target: found a string of 600 characters, expected a string of at most 511")) << m;
}

TEST(Config, MissingFileAndSyntaxErrors) {
    TempDir tmp("config");
    Config c;
    config_defaults(&c);
    c.train.batch = 77;
    HwErr err = {{0}, 0};
    std::string missing = tmp.path + "/none.yaml";
    EXPECT_EQ(config_load(&c, missing.c_str(), &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_TRUE(contains(err.msg, missing + ": cannot open")) << err.msg;
    expect_load_error(tmp, "train:\n  batch: [1\n", 3);
    expect_load_error(tmp, "train:\n  batch: 1\ntrain:\n  batch: 2\n", 3);  // duplicate section
    // A failed load leaves the struct as it was.
    std::string f = tmp.write("partial.yaml", "train:\n  batch: 5\n  lr: -1\n");
    EXPECT_EQ(config_load(&c, f.c_str(), &err), -1);
    EXPECT_EQ(c.train.batch, 77);
}

TEST(Config, WriteThenLoadIsIdentity) {
    TempDir tmp("config");
    Config a;
    config_defaults(&a);
    std::string f1 = tmp.file("defaults.yaml");
    HwErr err = {{0}, 0};
    ASSERT_EQ(config_write(&a, f1.c_str(), &err), 0) << err.msg;
    Config b;
    ASSERT_EQ(config_load(&b, f1.c_str(), &err), 0) << err.msg << "\n" << slurp(f1);
    EXPECT_TRUE(same_config(a, b)) << slurp(f1);
    EXPECT_STREQ(b.path, f1.c_str());

    // Every section touched, awkward values: floats without a short decimal
    // form, strings YAML would retype, three distinct means, the largest seed.
    Config c;
    config_defaults(&c);
    c.data.kind = DATA_IMAGEFOLDER;
    set_text(c.data.root, sizeof c.data.root, "/data/my images #1: yes");
    set_text(c.data.train_images, sizeof c.data.train_images, "yes");
    set_text(c.data.test_images, sizeof c.data.test_images, "0123");
    c.data.channels = 3;
    c.data.mean[0] = 0.485f, c.data.mean[1] = 0.456f, c.data.mean[2] = 1.0f / 3.0f;
    c.data.std[0] = c.data.std[1] = c.data.std[2] = 0.25f;
    c.data.rrc_ratio[0] = 0.1f, c.data.rrc_ratio[1] = 7.0f / 3.0f;
    c.data.color_jitter = 0.4f;
    c.data.limit_train = 123;
    c.train.lr = 1.0f / 7.0f;
    c.train.weight_decay = 3.14159e-5f;
    c.train.seed = UINT64_MAX;
    c.train.window[0] = 1.5f, c.train.window[1] = 1e8f;
    c.train.lr_schedule = LR_LINEAR;
    c.train.device = DEVICE_CUDA;
    c.train.sampling = SAMPLING_FLOPS;
    c.train.nesterov = 0;
    c.search.population = 7, c.search.parents = 7;
    c.search.seed = 1234567890123456789ull;
    c.search.bn_mode = BN_EMA;
    c.space_gen.top_k = 32;
    c.space_gen.capacity = CAPACITY_PARAMS;
    c.space_gen.score = SCORE_LATENCY;
    c.stages.enabled = 0, c.stages.split = 9;
    c.stages.fill = FILL_FIRST;
    c.finetune.retrain_lr = 0.3f;
    set_text(c.space, sizeof c.space, "spaces/with space.yaml");
    c.target.kind = TARGET_FILE;
    set_text(c.target.file, sizeof c.target.file, "null");
    c.latency_ms = 33.3f;
    std::string f2 = tmp.file("custom.yaml");
    ASSERT_EQ(config_write(&c, f2.c_str(), &err), 0) << err.msg;
    Config d;
    ASSERT_EQ(config_load(&d, f2.c_str(), &err), 0) << err.msg << "\n" << slurp(f2);
    EXPECT_TRUE(same_config(c, d)) << slurp(f2);
    EXPECT_STREQ(d.data.root, "/data/my images #1: yes");
    EXPECT_EQ(d.target.kind, TARGET_FILE);
    EXPECT_STREQ(d.target.file, "null");
    // Writing the loaded config again gives the same text.
    std::string f3 = tmp.file("again.yaml");
    ASSERT_EQ(config_write(&d, f3.c_str(), &err), 0) << err.msg;
    EXPECT_EQ(slurp(f2), slurp(f3));
    // Every key is written.
    std::string text = slurp(f2);
    for (const char* key : {"  kind:", "  rrc_scale:", "  val_resize:", "  workers:", "  sampling:",
                            "  window:", "  bn_mode:", "  capacity:", "  fill:", "  retrain_lr:",
                            "\nspace:", "\ntarget:", "\nlatency_ms:"})
        EXPECT_TRUE(contains(text, key)) << key;
}

// Words are enums from the moment the file is read, and config.yaml keeps
// them as words: the resolved configs below were written by hwnas before the
// words became enums (fb6fc90), and the text must not change by one byte
// (but for the keys added since: train.checkpoint_every_* and
// search.max_params, max_mflops, max_peak_kb).
TEST(Config, WordsBecomeEnumsAndAreWrittenBackAsTheSameText) {
    TempDir tmp("config");
    HwErr err = {{0}, 0};
    Config c;
    config_defaults(&c);
    std::string f1 = tmp.file("defaults.yaml");
    ASSERT_EQ(config_write(&c, f1.c_str(), &err), 0) << err.msg;
    EXPECT_EQ(slurp(f1), slurp("tests/configs/defaults-resolved.yaml"));
    ASSERT_EQ(config_load(&c, "tests/configs/every-word.yaml", &err), 0) << err.msg;
    EXPECT_EQ(c.data.kind, DATA_IMAGEFOLDER);
    EXPECT_EQ(c.train.lr_schedule, LR_LINEAR);
    EXPECT_EQ(c.train.sampling, SAMPLING_LATENCY);
    EXPECT_EQ(c.train.device, DEVICE_CUDA);
    EXPECT_EQ(c.search.bn_mode, BN_EMA);
    EXPECT_EQ(c.space_gen.capacity, CAPACITY_PARAMS);
    EXPECT_EQ(c.space_gen.score, SCORE_LATENCY);
    EXPECT_EQ(c.stages.fill, FILL_FIRST);
    EXPECT_EQ(c.target.kind, TARGET_FILE);
    EXPECT_STREQ(c.target.file, "targets/pixel.yaml");
    std::string f2 = tmp.file("words.yaml");
    ASSERT_EQ(config_write(&c, f2.c_str(), &err), 0) << err.msg;
    EXPECT_EQ(slurp(f2), slurp("tests/configs/every-word-resolved.yaml"));
    // The last word of each list, and `cpu` spelled as a target, read back.
    const char* const sets[] = {"train.lr_schedule=constant", "train.sampling=flops", "target=cpu"};
    ASSERT_EQ(config_override(&c, sets, 3, &err), 0) << err.msg;
    EXPECT_EQ(c.train.lr_schedule, LR_CONSTANT);
    EXPECT_EQ(c.train.sampling, SAMPLING_FLOPS);
    EXPECT_EQ(c.target.kind, TARGET_CPU);
    EXPECT_STREQ(config_target_name(&c.target), "cpu");
    EXPECT_STREQ(config_device_name(c.train.device), "cuda");
}

// The keys a command does not use are found by comparing with the defaults.
TEST(Config, ChangedKeysListsTheNonDefaultValues) {
    Config c;
    config_defaults(&c);
    char list[256];
    const char* const keys[] = {"search.", "stages.fill", "target", "latency_ms", NULL};
    EXPECT_EQ(config_changed_keys(&c, nullptr, keys, list, sizeof list), 0);
    EXPECT_STREQ(list, "");
    c.search.population = 7, c.search.parents = 7;
    c.stages.fill = FILL_FIRST;
    c.stages.split = 3;  // not asked about
    c.target.kind = TARGET_FILE;
    c.train.epochs = 1;  // not asked about
    EXPECT_EQ(config_changed_keys(&c, nullptr, keys, list, sizeof list), 4);
    EXPECT_STREQ(list, "search.population, search.parents, stages.fill, target");
    // Against another baseline (hwnas run --quick's settings).
    Config base = c;
    base.search.parents = 10;
    EXPECT_EQ(config_changed_keys(&c, &base, keys, list, sizeof list), 1);
    EXPECT_STREQ(list, "search.parents");
}

TEST(Config, WriteFailsCleanlyOnBadPath) {
    Config c;
    config_defaults(&c);
    HwErr err = {{0}, 0};
    EXPECT_EQ(config_write(&c, "/nonexistent-dir/x/config.yaml", &err), -1);
    EXPECT_EQ(err.code, 1);
    EXPECT_TRUE(contains(err.msg, "/nonexistent-dir/x/config.yaml")) << err.msg;
}
