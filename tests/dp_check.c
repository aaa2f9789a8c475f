// Data-parallel check, run as `mpirun -np 2 build/tests/dp_check SPACE` by
// tests/test_data_parallel.cc. On the supernet of SPACE, each rank trains a
// few steps on its own batch and averages the path's gradients with
// train_average_path_grads; every rank also computes, alone, the gradients
// of BOTH ranks' batches. Checked bit for bit at every step:
//   - the averaged gradients equal (g0 + g1) * 0.5 computed locally;
//   - after the SGD step the weights and momentum equal rank 0's.
// Exit 0 when every check holds, 1 with the first difference on stderr.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "dist/comm.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"

enum { BATCH = 6, STEPS = 4 };

// Batch `which` of step `step`: images in [0, 1), labels below classes.
static void make_batch(const Space* s, int step, int which, float* images, int* labels) {
    Rng rng;
    rng_seed(&rng, 7, (uint64_t)step, (uint64_t)which, 0xD47Aull);
    size_t pixels = (size_t)s->in_h * s->in_w * s->in_c;
    for (size_t i = 0; i < BATCH * pixels; i++) images[i] = rng_uniform(&rng);
    for (int i = 0; i < BATCH; i++) labels[i] = (int)rng_below(&rng, (uint32_t)s->classes);
}

static void run_batch(Supernet* sn, const int* path, int step, int which, float* images, int* labels) {
    make_batch(&sn->space, step, which, images, labels);
    size_t pixels = (size_t)sn->space.in_h * sn->space.in_w * sn->space.in_c;
    supernet_select_input(sn, 0);
    sn->ops->upload(&sn->ctx, sn->images, images, BATCH * pixels * sizeof(float));
    sn->ops->upload(&sn->ctx, sn->labels, labels, BATCH * sizeof(int));
    train_forward_backward(sn, path, BATCH, 0.1f);
}

// The path's gradients (host copy, concatenated block by block).
static size_t path_grads(Supernet* sn, const int* path, float* out) {
    size_t n = 0;
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        size_t k = sn->blocks[b].param_floats;
        sn->ops->download(&sn->ctx, out + n, sn->grads + sn->param_offset[b], k * sizeof(float));
        n += k;
    }
    return n;
}

static int first_difference(const float* a, const float* b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return (int)i;
    return -1;
}

int main(int argc, char** argv) {
    if (argc != 2) return fprintf(stderr, "usage: dp_check SPACE.yaml\n"), 2;
    HwErr err = {0};
    OpContext ctx = {1, NULL};
    Space space;
    Comm comm;
    if (space_load(&space, argv[1], &err) < 0 || comm_init(&comm, "auto", &ops_cpu, &ctx, &err) < 0)
        return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
    if (comm.size != 2) return fprintf(stderr, "dp_check: run me with mpirun -np 2 (size %d)\n", comm.size), 1;
    Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, BATCH, &err);
    if (!sn || supernet_init_params(sn, 1) < 0) return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
    size_t pixels = (size_t)space.in_h * space.in_w * space.in_c;
    float* images = malloc(BATCH * pixels * sizeof(float));
    int labels[BATCH];
    float* g0 = malloc(sn->param_floats * sizeof(float));
    float* g1 = malloc(sn->param_floats * sizeof(float));
    float* mine = malloc(sn->param_floats * sizeof(float));
    float* root = malloc(sn->param_floats * sizeof(float));
    int* path = malloc(sizeof(int) * (size_t)space.n_layers);
    int failures = 0;
    SgdConfig sgd = {0.05f, 0.9f, 1e-4f, 1};
    for (int step = 0; step < STEPS && !failures; step++) {
        sample_path(sn, 3, (uint64_t)step, 0, NULL, path);
        // Alone: the gradients of both batches (BN statistics are not
        // touched by what is compared: gradients use batch statistics).
        run_batch(sn, path, step, 0, images, labels);
        size_t n = path_grads(sn, path, g0);
        run_batch(sn, path, step, 1, images, labels);
        path_grads(sn, path, g1);
        for (size_t i = 0; i < n; i++) g0[i] = (g0[i] + g1[i]) * 0.5f;
        // Together: this rank's batch, then the average over the ranks.
        run_batch(sn, path, step, comm.rank, images, labels);
        if (train_average_path_grads(sn, path, &comm, &err) < 0) return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
        path_grads(sn, path, mine);
        int at = first_difference(mine, g0, n);
        if (at >= 0) {
            fprintf(stderr, "dp_check: rank %d step %d: averaged gradient %d is %.9g, expected %.9g\n", comm.rank, step,
                    at, mine[at], g0[at]);
            failures++;
        }
        supernet_sgd_path(sn, path, &sgd);
        // Weights and momentum identical to rank 0's.
        float* state[2] = {sn->params, sn->momentum};
        for (int k = 0; k < 2; k++) {
            memcpy(root, state[k], sn->param_floats * sizeof(float));
            if (comm_broadcast(&comm, root, sn->param_floats * sizeof(float), &err) < 0)
                return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
            at = first_difference(state[k], root, sn->param_floats);
            if (at >= 0) {
                fprintf(stderr, "dp_check: rank %d step %d: %s %d differs from rank 0's\n", comm.rank, step,
                        k ? "momentum" : "weight", at);
                failures++;
            }
        }
    }
    double all[1] = {failures};
    if (comm_allreduce_host(&comm, all, 1, &err) < 0) return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
    if (comm.rank == 0 && all[0] == 0)
        printf("dp_check: %d ranks, %d steps of %s: averaged gradients and weights bit-identical\n", comm.size, STEPS,
               space.name);
    free(images), free(g0), free(g1), free(mine), free(root), free(path);
    supernet_destroy(sn);
    comm_finalize(&comm);
    return all[0] == 0 ? 0 : 1;
}
