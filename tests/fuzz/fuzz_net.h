// One CPU supernet of tests/spaces/tiny.yaml (every operator), made once per
// fuzzing process, for the targets that read weights into a supernet.
#ifndef HWNAS_FUZZ_NET_H
#define HWNAS_FUZZ_NET_H

#include "fuzz_input.h"
#include "kernels/ops.h"
#include "supernet/space.h"
#include "supernet/supernet.h"

static Supernet* fuzz_supernet(void) {
    static Supernet* sn;
    static Space space;
    static OpContext ctx = {1, NULL};
    if (!sn) {
        HwErr err = {0};
        if (space_load(&space, "tests/spaces/tiny.yaml", &err) < 0 ||
            !(sn = supernet_create(&space, &ops_cpu, &ctx, 2, &err)) || supernet_init_params(sn, 1, &err) < 0) {
            fprintf(stderr, "fuzz: run from the repository root: %s\n", err.msg);
            abort();
        }
    }
    return sn;
}

#endif
