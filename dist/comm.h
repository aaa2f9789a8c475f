// Data-parallel training across processes and machines: one process per
// device (or per machine on the CPU), launched with mpirun.
//
// Every rank samples the same path (a path depends only on the seed and the
// step), reads its own shard of each global batch (loader rank/world) and
// computes the gradients of that path on it. comm_allreduce_mean then
// averages the path's gradients over the ranks, so every rank applies the
// same update and the weights stay identical without ever being sent.
// Batch-norm running statistics stay per rank, as in PyTorch DDP without
// SyncBatchNorm: rank 0's are the ones saved, and the search recalibrates
// them before scoring a candidate anyway.
//
// Transports: MPI over host memory (a CUDA backend's buffers go through a
// host staging buffer) and NCCL over CUDA device memory, on the compute
// stream, bootstrapped over MPI. A single process needs neither: every call
// is then a no-op, and nothing of MPI is initialised.
#ifndef HWNAS_COMM_H
#define HWNAS_COMM_H

#include <stddef.h>

#include "common/error.h"
#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum CommKind { COMM_SINGLE = 0, COMM_MPI, COMM_NCCL } CommKind;

typedef struct Comm {
    CommKind kind;
    int rank, size, local_rank;
    const Ops* ops;         // the backend whose memory the collectives read and write
    const OpContext* ctx;
    float* staging;         // MPI over device memory: the host copy
    size_t staging_floats;
    void* nccl;             // NcclState* when kind == COMM_NCCL
    int mpi_owned;          // this Comm initialised MPI and finalises it
} Comm;

// The process layout from the launcher's environment, readable before any
// device is opened so that a rank can pick its GPU (local_rank % GPUs):
// OMPI_COMM_WORLD_{SIZE,RANK,LOCAL_RANK} (Open MPI), else PMI_SIZE/PMI_RANK
// (MPICH, Slurm), else 1 process of rank 0.
void comm_launch_layout(int* size, int* rank, int* local_rank);

// mode "auto": a single process -> no transport; several -> NCCL when the
// backend is CUDA and hwnas was built with NCCL, MPI otherwise. "mpi" and
// "nccl" force a transport; "none" refuses to run under a multi-process
// launch. Errors: built without MPI but launched with several processes,
// unknown mode (2); a failing MPI or NCCL start (1).
int comm_init(Comm* c, const char* mode, const Ops* ops, const OpContext* ctx, HwErr* err);
void comm_finalize(Comm* c);
// After an error on some ranks: stops every rank (MPI_Abort) rather than
// leave the others waiting in a collective. Returns for a single process.
void comm_abort(Comm* c, int code);
// 1 on the rank that writes files and prints progress.
static inline int comm_is_root(const Comm* c) { return !c || c->rank == 0; }

// In-place mean over the ranks of n floats in the backend's memory.
int comm_allreduce_mean(Comm* c, float* buf, size_t n, HwErr* err);
// In-place sum over the ranks of n host doubles (loss, counts, flags).
int comm_allreduce_host(Comm* c, double* v, int n, HwErr* err);
// Rank 0's `bytes` of backend memory to every rank.
int comm_broadcast(Comm* c, void* buf, size_t bytes, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
