#include "supernet/path_filter.h"

#include <string.h>

int path_filter_init(PathFilter* f, const TrainSection* train, const Supernet* sn, PathLatencyFn latency,
                     const void* model, const char* source, HwErr* err) {
    memset(f, 0, sizeof *f);
    f->sampling = train->sampling;
    f->lo = train->window[0];
    f->hi = train->window[1];
    f->sn = sn;
    if (train->sampling != SAMPLING_LATENCY) return 0;
    if (!latency)
        return hw_bad_input(err, source && source[0] ? source : NULL, 0,
                            "train.sampling latency needs `target` to be a latency table file");
    f->latency = latency;
    f->model = model;
    return 0;
}

int path_filter_accepts(const PathFilter* f, const int* path) {
    double value;
    switch (f->sampling) {
        case SAMPLING_UNIFORM: return 1;
        case SAMPLING_FLOPS: value = supernet_path_mflops(f->sn, path); break;
        case SAMPLING_LATENCY:
            if (f->latency(f->model, path, &value) < 0) return 0;
            break;
        default: return 1;
    }
    return value >= f->lo && value <= f->hi;
}
