// NCCL transport of dist/comm.h: collectives over CUDA device memory on the
// backend's compute stream, so they queue behind the backward pass like any
// other op. The unique id travels over MPI (dist/comm.c).
#ifndef HWNAS_COMM_NCCL_H
#define HWNAS_COMM_NCCL_H

#include <stddef.h>

#include "common/error.h"
#include "kernels/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COMM_NCCL_ID_BYTES 128  // sizeof(ncclUniqueId), checked in comm_nccl.cu

typedef struct NcclState NcclState;

int comm_nccl_unique_id(unsigned char id[COMM_NCCL_ID_BYTES], HwErr* err);
// Collective: every rank calls it with the same id.
NcclState* comm_nccl_create(const unsigned char id[COMM_NCCL_ID_BYTES], int size, int rank, const OpContext* ctx,
                            HwErr* err);
void comm_nccl_destroy(NcclState* s);
int comm_nccl_allreduce_mean(NcclState* s, float* buf, size_t n, HwErr* err);
int comm_nccl_broadcast(NcclState* s, void* buf, size_t bytes, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
