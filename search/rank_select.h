// The subnets `hwnas bench ranking` compares: N architectures spread over
// the predicted latency range of a space, deterministic in the seed.
#ifndef HWNAS_RANK_SELECT_H
#define HWNAS_RANK_SELECT_H

#include <stdint.h>

#include "common/error.h"
#include "search/lut.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

// Random architectures drawn as candidates (plus the fastest and the slowest
// of the space).
#define RANK_SELECT_POOL 2000
// The most subnets one ranking takes (each is trained stand-alone).
#define RANK_SELECT_MAX 200

typedef struct RankPick {
    int ops[SPACE_MAX_LAYERS];
    double latency_ms;  // predicted from the table
} RankPick;

// Draws RANK_SELECT_POOL uniform random architectures (seeded by `seed`),
// adds the fastest and the slowest architecture of the space (the table is a
// sum over layers, so each is the per-layer minimum / maximum), and picks,
// for each of n evenly spaced latencies from the fastest to the slowest, the
// distinct not yet picked architecture nearest to it (ties: the earliest
// drawn). picks[0..n-1] come out in that order (ascending target latency).
// Errors: n outside 1..RANK_SELECT_MAX or more than the distinct
// architectures drawn (code 2), a missing table entry (named).
int rank_select_stratified(const Space* s, const Lut* lut, int n, uint64_t seed, RankPick* picks, HwErr* err);

// Whether two picks are the same architecture.
int rank_pick_same_ops(const Space* s, const int* a, const int* b);

#ifdef __cplusplus
}
#endif
#endif
