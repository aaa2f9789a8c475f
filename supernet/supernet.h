// The weight-sharing supernet: one Block per (layer, candidate operator) plus
// the stem and head, all parameters in one flat buffer, activations in arenas
// sized once for the largest path. A path is one operator index per layer.
//
// Positions: 0 = stem, 1..n = searchable layers, n+1 = head.
#ifndef HWNAS_SUPERNET_H
#define HWNAS_SUPERNET_H

#include <stdint.h>

#include "common/error.h"
#include "kernels/ops.h"
#include "supernet/block.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ForwardMode {
    MODE_TRAIN,   // batch statistics, running stats updated, activations kept for backward
    MODE_EVAL,    // running statistics
} ForwardMode;

typedef struct Supernet {
    Space space;
    const Ops* ops;
    OpContext ctx;
    int max_batch;

    int n_blocks;            // stem + every (layer, op) + head
    Block* blocks;           // host descriptions
    int* layer_first;        // block index of (layer l, op 0); head = n_blocks-1
    size_t* param_offset;    // per block, floats into params
    size_t* running_offset;  // per block, floats into running
    int64_t* bn_batches;     // per block: BN num_batches_tracked (host)
    size_t param_floats, running_floats;

    // Backend memory.
    float* params;
    float* grads;
    float* momentum;
    float* running;          // BN running mean/var pairs
    // 1 while grads and momentum are still all zero as alloc returned them,
    // so supernet_init_params need not zero (and first-touch) them again;
    // whatever writes either clears it.
    int grads_momentum_zero;
    float* act_arena;        // per position, sized for its largest block
    size_t* act_offset;      // per position: where the last training forward's path put it
    size_t eval_offset[2];   // inference alternates two regions (cache-friendly, no backward to keep)
    float* stat_arena;       // BN saved mean/rstd, per position
    size_t* stat_offset;
    float* grad_arena;       // internal slot gradients of the block being run backward
    float* boundary[2];      // gradients flowing between blocks
    float* tmp[2];           // for accumulating a second gradient into a slot
    float* scratch;
    float* logits;           // [max_batch][classes]
    float* dlogits;
    float* loss;             // [1]
    int* correct;            // [2]: top-1, top-5
    int* labels;             // [max_batch], of the selected input slot
    float* images;           // [max_batch][H][W][C], of the selected input slot
    // Two input slots, so the next batch can be uploaded into one while a
    // step reads the other (supernet_select_input); slot 0 at creation.
    int* slot_labels[OPS_UPLOAD_SLOTS];
    float* slot_images[OPS_UPLOAD_SLOTS];

    // Per-forward bookkeeping (host): block run at each position and the
    // pointer to each position's output.
    int* run_blocks;
    float** outputs;
    int last_batch;
    // HWNAS_PROFILE=1: seconds per node kind, forward [0] and backward [1],
    // printed by supernet_destroy.
    int profile;
    double node_seconds[2][16];
} Supernet;

Supernet* supernet_create(const Space* space, const Ops* ops, const OpContext* ctx, int max_batch,
                          HwErr* err);
void supernet_destroy(Supernet* sn);

// He-normal conv/linear weights, classifier N(0, 0.01), BN gamma 1 beta 0,
// running mean 0 var 1; deterministic for seed.
int supernet_init_params(Supernet* sn, uint64_t seed, HwErr* err);

// Points images/labels at input slot `slot` (0 <= slot < OPS_UPLOAD_SLOTS).
void supernet_select_input(Supernet* sn, int slot);

// Block index run at `position` for `path`.
int supernet_block_at(const Supernet* sn, const int* path, int position);
static inline int supernet_positions(const Supernet* sn) { return sn->space.n_layers + 2; }

// Forward of the path on sn->images (batch images already uploaded) into
// sn->logits. In MODE_TRAIN, BN running stats are updated with bn_momentum
// (1/(k+1) at the k-th batch gives an exact average).
void supernet_forward(Supernet* sn, const int* path, int batch, ForwardMode mode, float bn_momentum);
// Runs one block alone on `input` (backend memory, the block's input shape)
// and returns its output (in the position's arena, or `input` for skip).
// Used to time operators for latency tables.
float* supernet_block_forward(Supernet* sn, int position, int block, float* input, int batch, ForwardMode mode);
// Backward of the last forward from sn->dlogits; accumulates into sn->grads.
void supernet_backward(Supernet* sn);

void supernet_zero_path_grads(Supernet* sn, const int* path);
void supernet_sgd_path(Supernet* sn, const int* path, const SgdConfig* cfg);
// Resets BN running statistics of the blocks of `path` (mean 0, var 1), as
// supernet_init_params sets them. 0, or -1 with err when out of memory.
int supernet_reset_path_bn(Supernet* sn, const int* path, HwErr* err);

// Global parameter naming (PyTorch style). `subnet` = names of an extracted
// subnet ("layers.3.dw.conv.weight"); else supernet names with the operator
// ("layers.3.mb_k3_e6.dw.conv.weight").
void supernet_param_name(const Supernet* sn, int block, const char* rel, int subnet, char* out,
                         size_t cap);
int supernet_block_layer(const Supernet* sn, int block);  // -1 stem, n head

// Multiply-accumulates and parameters of a path (per image).
double supernet_path_macs(const Supernet* sn, const int* path);
double supernet_path_params(const Supernet* sn, const int* path);
// FLOPs per image in millions (2 x MACs / 1e6): train.sampling flops and
// search.max_mflops count the same number.
double supernet_path_mflops(const Supernet* sn, const int* path);

#ifdef __cplusplus
}
#endif
#endif
