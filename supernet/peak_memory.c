// Peak activation memory of a path at batch 1, from the executor's buffer
// plan (see peak_memory.h for what is counted and why).
#include "supernet/peak_memory.h"

#include "supernet/block.h"

size_t supernet_path_peak_floats(const Supernet* sn, const int* path) {
    size_t peak = 0;
    for (int p = 0; p < supernet_positions(sn); p++) {
        const Block* b = &sn->blocks[supernet_block_at(sn, path, p)];
        // The input slot lives in the other eval region (or the image
        // buffer); the block's own slots all sit in this one.
        size_t live = slot_numel(b, 0, 1) + block_activation_floats(b, 1);
        if (live > peak) peak = live;
    }
    return peak;
}

double supernet_path_peak_kb(const Supernet* sn, const int* path) {
    return (double)supernet_path_peak_floats(sn, path) * sizeof(float) / 1024.0;
}
