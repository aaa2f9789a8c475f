#include "dist/comm_nccl.h"

#include <nccl.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_common.h"

static_assert(sizeof(ncclUniqueId) == COMM_NCCL_ID_BYTES, "ncclUniqueId size changed");

struct NcclState {
    ncclComm_t comm;
    cudaStream_t stream;  // the backend's compute stream
    int size;
};

static int nccl_fail(HwErr* err, const char* call, ncclResult_t r) {
    return hw_runtime(err, NULL, 0, "%s: %s", call, ncclGetErrorString(r));
}

int comm_nccl_unique_id(unsigned char id[COMM_NCCL_ID_BYTES], HwErr* err) {
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return nccl_fail(err, "ncclGetUniqueId", r);
    memcpy(id, &u, sizeof u);
    return 0;
}

NcclState* comm_nccl_create(const unsigned char id[COMM_NCCL_ID_BYTES], int size, int rank, const OpContext* ctx,
                            HwErr* err) {
    CudaState* st = (CudaState*)ctx->cuda;
    if (!st) {
        hw_runtime(err, NULL, 0, "NCCL needs the CUDA backend");
        return NULL;
    }
    NcclState* s = (NcclState*)calloc(1, sizeof *s);
    if (!s) {
        hw_runtime(err, NULL, 0, "out of memory");
        return NULL;
    }
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    cudaError_t ce = cudaSetDevice(st->device);
    if (ce != cudaSuccess) {
        hw_runtime(err, NULL, 0, "cudaSetDevice(%d): %s", st->device, cudaGetErrorString(ce));
        free(s);
        return NULL;
    }
    ncclResult_t r = ncclCommInitRank(&s->comm, size, u, rank);
    if (r != ncclSuccess) {
        nccl_fail(err, "ncclCommInitRank", r);
        free(s);
        return NULL;
    }
    s->stream = st->compute;
    s->size = size;
    return s;
}

void comm_nccl_destroy(NcclState* s) {
    if (!s) return;
    ncclCommDestroy(s->comm);
    free(s);
}

int comm_nccl_allreduce_mean(NcclState* s, float* buf, size_t n, HwErr* err) {
    ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat, ncclAvg, s->comm, s->stream);
    return r == ncclSuccess ? 0 : nccl_fail(err, "ncclAllReduce", r);
}

int comm_nccl_broadcast(NcclState* s, void* buf, size_t bytes, HwErr* err) {
    ncclResult_t r = ncclBroadcast(buf, buf, bytes, ncclChar, 0, s->comm, s->stream);
    return r == ncclSuccess ? 0 : nccl_fail(err, "ncclBroadcast", r);
}
