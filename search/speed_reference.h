// The machine-speed reference of a measured latency table: a few networks of
// the profiled space, timed with the calibration when the table is made and
// again beside every group of subnets in `latency check`. Their time ratio,
// now against then, is how much faster or slower the machine runs than when
// the table was made (a VM host's clock, thermal state, a noisy neighbour on
// the host that Linux inside the guest does not see), which no table can
// predict. The check reports its error with and without that factor.
#ifndef HWNAS_SPEED_REFERENCE_H
#define HWNAS_SPEED_REFERENCE_H

#include "common/error.h"
#include "search/lut.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

// Networks in a reference: enough that one network's noise moves the factor
// little (about 1/sqrt(3)), few enough to add a quarter to a check's time.
enum { SPEED_REF_PATHS = 3 };

// Stores the n <= SPEED_REF_PATHS networks paths[i * s->n_layers ...] and
// their total time total_ms in lut (reference_ops, reference_ms). Errors: n
// out of range, the names do not fit LUT_REF_OPS_MAX. 0 or -1.
int speed_reference_set(Lut* lut, const Space* s, const int* paths, int n, double total_ms, HwErr* err);

// The reference networks of lut as paths of s (n_layers ints each, at most
// SPEED_REF_PATHS networks): their count, 0 when the table has none, or -1
// (code 2, naming the table) when one does not fit the space: too many
// networks, a count of names other than s's layers, a name that is not an
// operator of its layer.
int speed_reference_paths(const Lut* lut, const Space* s, int* paths, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
