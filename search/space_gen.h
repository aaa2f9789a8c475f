// Hardware-specific search spaces (HURRICANE's generator): for every layer of
// a pool space, rank its operators on a target by capacity per unit of
// latency and keep the top k.
//
//   score = capacity / latency     (capacity = FLOPs, or parameters)
//   score = 1 / latency            (latency-only mode)
//
// `skip` has no capacity, so it would always rank last; it is kept in
// addition to the top k wherever the layer offers it, because it is how the
// search makes a network shallower (the cheapest choice on every target).
// Operators the target has no entry for are left out (and listed).
#ifndef HWNAS_SPACE_GEN_H
#define HWNAS_SPACE_GEN_H

#include "common/config.h"
#include "common/error.h"
#include "search/lut.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct RankRow {
    char op[OP_NAME_MAX];
    double latency_ms, flops, params, score;
    int kept;
    int missing;  // the target has no entry
} RankRow;

typedef struct RankTable {
    int layer;
    int count;
    RankRow rows[OP_POOL_SIZE];  // sorted by score, best first
} RankTable;

// Builds `out` from `pool` (same layers, fewer operators) and fills one
// RankTable per layer (tables: pool->n_layers entries).
int space_generate(const Space* pool, const Lut* lut, const SpaceGenSection* cfg, const char* target_name,
                   Space* out, RankTable* tables, HwErr* err);
// Writes the space with each layer's ranking table.
int space_write_ranked(const Space* s, const RankTable* tables, const char* target_name, const char* path,
                       HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
