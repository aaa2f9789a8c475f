// The automatic latency limit of a search when the config sets none.
#ifndef HWNAS_LATENCY_LIMIT_H
#define HWNAS_LATENCY_LIMIT_H

#include <stdint.h>

#include "common/error.h"
#include "search/lut.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

// The 40th percentile of the predicted latency of 1000 random architectures
// of space s (drawn from seed), so the limit binds and is reachable in the
// space actually searched. 0, or -1 with err when an operator has no entry.
int latency_auto_limit(const Lut* lut, const Space* s, uint64_t seed, double* limit, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
