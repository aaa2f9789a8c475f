// Index maps of the channel ops (shuffle, concat and split), shared by the CPU and
// CUDA backends. Channels are the innermost (NHWC) axis.
#ifndef HWNAS_CHANNEL_BODY_H
#define HWNAS_CHANNEL_BODY_H

#include <stddef.h>

#include "hostdevice.h"

// ShuffleNet shuffle: view the channels as [groups][channels/groups] and
// transpose, so out[j*groups + g] = in[g*(channels/groups) + j]. Returns the
// input channel that lands in output channel `out_c`. groups must divide
// channels; the inverse is the shuffle with channels/groups groups.
HD_INLINE int channel_shuffle_source(int out_c, int channels, int groups) {
    int per_group = channels / groups;
    int j = out_c / groups, g = out_c % groups;
    return g * per_group + j;
}

// Concat of a [rows][ca] and b [rows][cb] into [rows][ca+cb]: where flat output
// element `out_index` comes from. Returns 0 for a, 1 for b, and the flat index
// into that input in *src_index. split_channels, the concat's backward, is
// the same map read the other way.
HD_INLINE int concat_channels_source(size_t out_index, int ca, int cb, size_t* src_index) {
    size_t width = (size_t)ca + (size_t)cb;
    size_t row = out_index / width;
    size_t col = out_index - row * width;
    if (col < (size_t)ca) {
        *src_index = row * (size_t)ca + col;
        return 0;
    }
    *src_index = row * (size_t)cb + (col - (size_t)ca);
    return 1;
}

#endif
