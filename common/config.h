// The run configuration (YAML, see configs/fmnist.yaml). Every key has a
// default; unknown keys are errors naming the file and line.
#ifndef HWNAS_CONFIG_H
#define HWNAS_CONFIG_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CFG_PATH_MAX 512
// The most threads hwnas starts (train.threads, --threads, a latency target's
// `threads`): above the hardware threads of any one machine it runs on, far
// below the counts at which thread creation fails (libgomp crashed at 100,000).
#define CONFIG_MAX_THREADS 1024
// The largest batch (train.batch, --batch, a latency target's `batch`).
#define CONFIG_MAX_BATCH 65536

// Every word value of the file is one of these from the moment it is read;
// config_write writes the word back. The order of each enum is the order of
// its words in the key table (common/config.c).
typedef enum DataKind { DATA_IDX, DATA_IMAGEFOLDER } DataKind;
typedef enum LrSchedule { LR_COSINE, LR_LINEAR, LR_CONSTANT } LrSchedule;
// SPOS-style constrained sampling: paths outside train.window are redrawn.
typedef enum Sampling { SAMPLING_UNIFORM, SAMPLING_LATENCY, SAMPLING_FLOPS } Sampling;
typedef enum DeviceKind { DEVICE_CPU, DEVICE_CUDA } DeviceKind;
typedef enum BnMode { BN_EXACT, BN_EMA } BnMode;
typedef enum Capacity { CAPACITY_FLOPS, CAPACITY_PARAMS } Capacity;
typedef enum RankScore { SCORE_CAPACITY_PER_LATENCY, SCORE_LATENCY } RankScore;
typedef enum StageFill { FILL_UNIFORM, FILL_FIRST } StageFill;

// The latency target: the word `cpu` (measure this machine) or a file.
typedef enum TargetKind { TARGET_CPU, TARGET_FILE } TargetKind;
typedef struct Target {
    TargetKind kind;
    char file[CFG_PATH_MAX];    // TARGET_FILE only; "" for TARGET_CPU
} Target;

typedef struct DataSection {
    DataKind kind;              // idx | imagefolder                          default idx
    char root[CFG_PATH_MAX];    // directory                                  default "/usr/share/datasets/fashion-mnist"
    char train_images[128];     // idx file names inside root                 default "train-images-idx3-ubyte.gz"
    char train_labels[128];     //                                            default "train-labels-idx1-ubyte.gz"
    char test_images[128];      //                                            default "t10k-images-idx3-ubyte.gz"
    char test_labels[128];      //                                            default "t10k-labels-idx1-ubyte.gz"
    int input_size;             // network input H = W                        default 28
    int channels;               // network input channels                     default 1
    int holdout;                // last N training samples = search validation default 10000
    int limit_train;            // use only the first N (0 = all)             default 0
    int limit_test;             //                                            default 0
    int pad_crop;               // idx: random crop with zero padding         default 2
    int hflip;                  // random horizontal flip                     default 1
    float rrc_scale[2];         // imagefolder random-resized-crop scale      default 0.08 1.0
    float rrc_ratio[2];         //                                ratio       default 0.75 1.3333333
    int val_resize;             // imagefolder validation resize before center crop, default 256
    float color_jitter;         // imagefolder brightness/contrast/saturation, default 0 (off)
    float mean[3];              // normalization                              default 0.2860 (fmnist) / ImageNet values
    float std[3];               //                                            default 0.3530
    int workers;                // loader threads                             default 2
} DataSection;

typedef struct TrainSection {
    int epochs;                 // default 10
    int batch;                  // default 128
    float lr;                   // peak learning rate, default 0.1
    LrSchedule lr_schedule;     // cosine | linear | constant, default cosine
    float warmup_epochs;        // linear warm-up from 0, default 0.5
    float momentum;             // default 0.9
    int nesterov;               // default 1
    float weight_decay;         // default 4e-5 (not on BN or bias)
    float label_smoothing;      // default 0.1
    uint64_t seed;              // default 1
    int threads;                // 0 = all cores (at most CONFIG_MAX_THREADS), default 0
    Sampling sampling;          // uniform | latency | flops (SPOS window rejection), default uniform
    float window[2];            // accepted [min, max] of the sampling metric (ms or MFLOPs), default 0 0
    DeviceKind device;          // cpu | cuda, default cpu
    int checkpoint_every_steps; // also a checkpoint every N optimizer steps (0 = off), default 0
    float checkpoint_every_minutes; // and whenever M minutes passed since the last one (0 = off), default 10
} TrainSection;

typedef struct SearchSection {
    int population;             // default 50
    int parents;                // default 10
    int iterations;             // default 20
    float mutation_prob;        // default 0.1
    int mutations;              // default 25
    int crossovers;             // default 25
    int bn_images;              // BN recalibration images, default 2000
    BnMode bn_mode;             // exact | ema, default exact
    int val_images;             // validation images per candidate, default 10000
    uint64_t seed;              // default 1
    // Constraints beside latency_ms: candidates over one are redrawn before
    // evaluation, like those over the latency limit. 0 = none.
    int max_params;             // parameters of the subnet, default 0
    float max_mflops;           // 2 x MACs per image in millions (as train.sampling flops), default 0
    float max_peak_kb;          // peak activation memory at batch 1, KiB of float32, default 0
} SearchSection;

typedef struct SpaceGenSection {
    int top_k;                  // operators kept per layer, default 4
    Capacity capacity;          // flops | params, default flops
    RankScore score;            // capacity_per_latency | latency, default capacity_per_latency
} SpaceGenSection;

typedef struct StagesSection {
    int enabled;                // `hwnas run`: two-stage search (1) or SPOS over the
                                // hardware-specific space (0, as --method spos-hw), default 1
    int split;                  // t: stage 1 searches layers t+1..n, default n/2 when 0
    int stage1_epochs;          // default 6
    int stage2_epochs;          // default 4
    StageFill fill;             // stage 1 policy for layers 1..t: uniform | first, default uniform
} StagesSection;

typedef struct FinetuneSection {
    int epochs;                 // fine-tune of the extracted winner, default 10
    float lr;                   // default 0.02
    int retrain_epochs;         // `hwnas retrain` from scratch, default 30
    float retrain_lr;           // default 0.1
} FinetuneSection;

typedef struct Config {
    char path[CFG_PATH_MAX];    // the file it was read from ("" for defaults)
    DataSection data;
    char space[CFG_PATH_MAX];   // search-space file, default "configs/spaces/hurricane-fmnist.yaml"
    TrainSection train;
    SearchSection search;
    SpaceGenSection space_gen;
    StagesSection stages;
    FinetuneSection finetune;
    Target target;              // `cpu` = measure this machine, or a latency target file, default cpu
    float latency_ms;           // latency limit for the search, default 0 = none
} Config;

// Fills every field with its default.
void config_defaults(Config* cfg);
// Reads a YAML config over the defaults. Unknown keys, wrong types and values
// out of range are errors with file and line (err->code 2). Returns 0 or -1.
int config_load(Config* cfg, const char* path, HwErr* err);
// Applies command-line overrides "section.key=value" (or "key=value") in
// order, with the checks of the file; checks across keys (search.parents <=
// search.population, ...) run once on the result, so the order of overrides
// does not matter. Errors name the override as typed; on error *cfg is
// unchanged.
int config_override(Config* cfg, const char* const* settings, int n, HwErr* err);
// A command-line flag that stands for a config key (`--epochs 5` for
// train.epochs): read exactly as `--set KEY=VALUE` (same parser, same range),
// except that the value is always one scalar, never YAML syntax. Errors name
// the flag: "--epochs: found '1x', expected an integer in 0..100000". On error
// *cfg is unchanged.
int config_override_flag(Config* cfg, const char* flag, const char* key, const char* value, HwErr* err);
// Writes the resolved configuration (every key) as YAML; returns 0 or -1.
int config_write(const Config* cfg, const char* path, HwErr* err);

// The word of a target as the config writes it: "cpu" or the file.
const char* config_target_name(const Target* t);
// The word of a device as the config writes it: "cpu" or "cuda".
const char* config_device_name(DeviceKind d);

// The keys among `keys` (NULL-terminated) whose value in cfg differs from
// base (NULL: the defaults), as "a.b, c.d" in table order; a key ending in
// '.' stands for its whole section, e.g. "search.". Returns how many; the
// list is cut to fit `cap`.
int config_changed_keys(const Config* cfg, const Config* base, const char* const* keys, char* out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
