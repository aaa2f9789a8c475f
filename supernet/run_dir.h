// The layout of a run directory (`hwnas run -o DIR`, `hwnas train -o DIR`):
// the name of every artifact, and how a path inside the directory resolves.
#ifndef HWNAS_RUN_DIR_H
#define HWNAS_RUN_DIR_H

#include <stddef.h>

#include "common/config.h"
#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

// Artifacts, in the order a run writes them.
#define RUN_CONFIG "config.yaml"            // the config the run used
#define RUN_TARGET_CPU "target-cpu.yaml"    // this machine's latency table (target cpu), reused on restart
#define RUN_SPACE "space.yaml"              // the hardware-specific space, with its ranking tables
#define RUN_SUPERNET_CKPT "supernet.ckpt"   // one-stage training (SPOS)
#define RUN_TRAIN_CSV "train.csv"
#define RUN_STAGE1_CKPT "stage1.ckpt"       // two-stage training
#define RUN_STAGE1_CSV "train-stage1.csv"
#define RUN_STAGE1_PREFIX "stage1-"         // stage 1's search files: stage1-search.csv, ...
#define RUN_STAGE2_CKPT "stage2.ckpt"
#define RUN_STAGE2_CSV "train-stage2.csv"
#define RUN_SEARCH_CSV "search.csv"         // the final search
#define RUN_RANDOM_CSV "random.csv"         // the random baseline
#define RUN_PARETO_CSV "pareto.csv"
#define RUN_BEST_INHERITED "best-inherited.safetensors"  // the winner's weights taken from the supernet
#define RUN_FINETUNE_CKPT "finetune.ckpt"
#define RUN_FINETUNE_CSV "finetune.csv"
#define RUN_BEST_WEIGHTS "best.safetensors"  // the winner after fine-tuning
#define RUN_BEST_ARCH "best.yaml"
#define RUN_REPORT "report.md"
#define RUN_PARETO_SVG "pareto.svg"
#define RUN_TRAIN_SVG "train.svg"

// out = DIR/NAME; -1 with err (code 2) when it does not fit, rather than a
// cut-off name.
int run_dir_file(char* out, size_t cap, const char* dir, const char* name, HwErr* err);

// How paths inside a run directory resolve. Files of the run directory name
// each other relative to themselves (config.yaml says `space: space.yaml`,
// best.yaml says `space_file: space.yaml`), so the directory works from any
// working directory and after it is moved or copied.

// out = the file `rel` beside `file` (in the same directory); an absolute
// rel is kept as it is.
int run_dir_beside(char* out, size_t cap, const char* file, const char* rel, HwErr* err);

// An --arch argument: a directory means its best.yaml.
int run_dir_arch_path(char* out, size_t cap, const char* arg, HwErr* err);

// out = NAME beside `file` when that file exists: 1; 0 when it does not
// (out then holds the path looked at); -1 with err.
int run_dir_sibling(char* out, size_t cap, const char* file, const char* name, HwErr* err);

// Reads a config file over the defaults (config_load), then resolves its
// relative `space` against the config's own directory when the file is
// there (a run directory's config.yaml), else keeps it relative to the
// working directory (configs/fmnist.yaml names configs/spaces/...).
int run_dir_config_load(Config* cfg, const char* path, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
