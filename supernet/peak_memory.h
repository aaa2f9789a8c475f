// Peak activation memory of one path at batch 1: what decides whether a net
// fits a microcontroller's or DSP's on-chip memory.
#ifndef HWNAS_PEAK_MEMORY_H
#define HWNAS_PEAK_MEMORY_H

#include <stddef.h>

#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

// Floats of activations the inference executor (supernet_forward in
// MODE_EVAL) holds at once for `path` at batch 1, maximized over positions.
// What is counted at a position (stem, each searchable layer, head): the
// block's input tensor (the previous block's output, or the image for the
// stem) plus every other slot of the block, because bind_slots gives every
// non-input slot its own place in the eval region for the whole block run
// (block_activation_floats). Not counted: parameters, BN statistics, the
// conv scratch (im2col) buffer and the logits copy. A skip holds only its
// input. Outputs of earlier blocks are dead by then: eval mode alternates two
// regions, so only the input survives from the previous position.
size_t supernet_path_peak_floats(const Supernet* sn, const int* path);
// The same in KiB of float32 (floats * 4 / 1024).
double supernet_path_peak_kb(const Supernet* sn, const int* path);

#ifdef __cplusplus
}
#endif
#endif
