// Data-parallel check, run as `mpirun -np 2 build/tests/dp_check SPACE` by
// tests/test_data_parallel.cc. On the supernet of SPACE, each rank trains a
// few steps on its own batch and averages the path's gradients with
// train_average_path_grads; every rank also computes, alone, the gradients
// of BOTH ranks' batches. Checked bit for bit at every step:
//   - the averaged gradients equal (g0 + g1) * 0.5 computed locally;
//   - after the SGD step the weights and momentum equal rank 0's.
// Exit 0 when every check holds, 1 with the first difference on stderr.
//
// A second argument picks the backend: `cpu` (the default; MPI over host
// memory) or `cuda` (each rank on its own GPU, local rank % GPUs, as
// src/device.c does; NCCL over device memory). Supernet memory is then
// device memory: the host reaches it only through ops->upload/download.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "dist/comm.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "supernet/trainer.h"

#if HWNAS_CUDA
#include "kernels/cuda/cuda_context.h"
#endif

enum { BATCH = 6, STEPS = 4 };

// The backend of the run and the distributed mode that goes with it.
typedef struct Backend {
    const Ops* ops;
    OpContext ctx;
    const char* comm_mode;
} Backend;

static int open_backend(Backend* b, int cuda, HwErr* err) {
    memset(b, 0, sizeof *b);
    b->ctx.threads = 1;
    b->ops = &ops_cpu, b->comm_mode = "auto";
    if (!cuda) return 0;
#if HWNAS_CUDA
    char why[256];
    int devices = cuda_device_available(why, sizeof why);
    if (!devices) return hw_runtime(err, NULL, 0, "cuda: %s", why);
    int size, rank, local_rank;
    comm_launch_layout(&size, &rank, &local_rank);
    CudaState* st = cuda_state_create(local_rank % devices, err);
    if (!st) return -1;
    b->ctx.cuda = st, b->ops = ops_cuda(), b->comm_mode = "nccl";
    return 0;
#else
    return hw_bad_input(err, NULL, 0, "cuda: this dp_check was built without the CUDA backend (HWNAS_CUDA=0)");
#endif
}

static void close_backend(Backend* b) {
#if HWNAS_CUDA
    if (b->ctx.cuda) cuda_state_destroy((CudaState*)b->ctx.cuda);
#endif
    b->ctx.cuda = NULL;
}

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

// Host buffers, plus `root_dev`: backend memory for broadcasting a copy of
// rank 0's state (NCCL broadcasts device memory only).
typedef struct Buffers {
    float *images, *g0, *g1, *mine, *root, *root_dev;
    int labels[BATCH];
    int* path;
} Buffers;

static int alloc_buffers(Buffers* b, Supernet* sn) {
    size_t pixels = (size_t)sn->space.in_h * sn->space.in_w * sn->space.in_c;
    size_t bytes = sn->param_floats * sizeof(float);
    b->images = malloc(BATCH * pixels * sizeof(float));
    b->g0 = malloc(bytes), b->g1 = malloc(bytes), b->mine = malloc(bytes), b->root = malloc(bytes);
    b->path = malloc(sizeof(int) * (size_t)sn->space.n_layers);
    b->root_dev = sn->ops->alloc(&sn->ctx, bytes);
    return b->images && b->g0 && b->g1 && b->mine && b->root && b->path && b->root_dev ? 0 : -1;
}

static void free_buffers(Buffers* b, Supernet* sn) {
    free(b->images), free(b->g0), free(b->g1), free(b->mine), free(b->root), free(b->path);
    if (b->root_dev) sn->ops->release(&sn->ctx, b->root_dev);
}

// Weights and momentum identical to rank 0's: failures, or -1 on an error.
static int check_state(Supernet* sn, Comm* comm, Buffers* b, int step, HwErr* err) {
    const float* state[2] = {sn->params, sn->momentum};
    size_t bytes = sn->param_floats * sizeof(float);
    int failures = 0;
    for (int k = 0; k < 2; k++) {
        sn->ops->copy(&sn->ctx, b->root_dev, state[k], bytes);
        if (comm_broadcast(comm, b->root_dev, bytes, err) < 0) return -1;
        sn->ops->download(&sn->ctx, b->root, b->root_dev, bytes);
        sn->ops->download(&sn->ctx, b->mine, state[k], bytes);
        int at = first_difference(b->mine, b->root, sn->param_floats);
        if (at >= 0) {
            fprintf(stderr, "dp_check: rank %d step %d: %s %d differs from rank 0's\n", comm->rank, step,
                    k ? "momentum" : "weight", at);
            failures++;
        }
    }
    return failures;
}

// One step: failures, or -1 on an error (in err).
static int check_step(Supernet* sn, Comm* comm, Buffers* b, int step, HwErr* err) {
    SgdConfig sgd = {0.05f, 0.9f, 1e-4f, 1};
    int failures = 0;
    sample_path(sn, 3, (uint64_t)step, 0, NULL, b->path);
    // Alone: the gradients of both batches (BN statistics are not touched by
    // what is compared: gradients use batch statistics).
    run_batch(sn, b->path, step, 0, b->images, b->labels);
    size_t n = path_grads(sn, b->path, b->g0);
    run_batch(sn, b->path, step, 1, b->images, b->labels);
    path_grads(sn, b->path, b->g1);
    for (size_t i = 0; i < n; i++) b->g0[i] = (b->g0[i] + b->g1[i]) * 0.5f;
    // Together: this rank's batch, then the average over the ranks.
    run_batch(sn, b->path, step, comm->rank, b->images, b->labels);
    if (train_average_path_grads(sn, b->path, comm, err) < 0) return -1;
    path_grads(sn, b->path, b->mine);
    int at = first_difference(b->mine, b->g0, n);
    if (at >= 0) {
        fprintf(stderr, "dp_check: rank %d step %d: averaged gradient %d is %.9g, expected %.9g\n", comm->rank, step,
                at, b->mine[at], b->g0[at]);
        failures++;
    }
    supernet_sgd_path(sn, b->path, &sgd);
    int state = check_state(sn, comm, b, step, err);
    if (state < 0) return -1;
    // A failed backend (CUDA) has skipped work since: count it.
    if (sn->ops->synchronize(&sn->ctx) < 0) {
        fprintf(stderr, "dp_check: rank %d step %d: the %s backend failed\n", comm->rank, step, sn->ops->name);
        failures++;
    }
    return failures + state;
}

static int parse_backend(int argc, char** argv, int* cuda) {
    *cuda = argc == 3 && !strcmp(argv[2], "cuda");
    if (argc == 2 || (argc == 3 && (*cuda || !strcmp(argv[2], "cpu")))) return 0;
    fprintf(stderr, "usage: dp_check SPACE.yaml [cpu|cuda]\n");
    return -1;
}

int main(int argc, char** argv) {
    int cuda;
    if (parse_backend(argc, argv, &cuda) < 0) return 2;
    HwErr err = {0};
    Backend be;
    Space space;
    Comm comm;
    if (space_load(&space, argv[1], &err) < 0 || open_backend(&be, cuda, &err) < 0 ||
        comm_init(&comm, be.comm_mode, be.ops, &be.ctx, &err) < 0)
        return fprintf(stderr, "dp_check: %s\n", err.msg), err.code == HW_EXIT_INPUT && cuda ? 2 : 1;
    if (comm.size != 2) return fprintf(stderr, "dp_check: run me with mpirun -np 2 (size %d)\n", comm.size), 1;
    Supernet* sn = supernet_create(&space, be.ops, &be.ctx, BATCH, &err);
    if (!sn || supernet_init_params(sn, 1, &err) < 0) return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
    Buffers buf = {0};
    if (alloc_buffers(&buf, sn) < 0) return fprintf(stderr, "dp_check: out of memory\n"), 1;
    int failures = 0;
    for (int step = 0; step < STEPS && !failures; step++) {
        failures = check_step(sn, &comm, &buf, step, &err);
        if (failures < 0) return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
    }
    double all[1] = {failures};
    if (comm_allreduce_host(&comm, all, 1, &err) < 0) return fprintf(stderr, "dp_check: %s\n", err.msg), 1;
    if (comm.rank == 0 && all[0] == 0)
        printf("dp_check: %d ranks, %d steps of %s: averaged gradients and weights bit-identical%s\n", comm.size,
               STEPS, space.name, cuda ? " (CUDA, NCCL)" : "");
    free_buffers(&buf, sn);
    supernet_destroy(sn);
    comm_finalize(&comm);
    close_backend(&be);
    return all[0] == 0 ? 0 : 1;
}
