#include "dist/comm.h"

#include <stdlib.h>
#include <string.h>

#if HWNAS_MPI
#include <mpi.h>
#endif
#if HWNAS_NCCL
#include "dist/comm_nccl.h"
#endif

static int env_int(const char* name, int fallback) {
    const char* v = getenv(name);
    if (!v || !*v) return fallback;
    char* end;
    long x = strtol(v, &end, 10);
    return (*end == 0 && x >= 0 && x < 1000000) ? (int)x : fallback;
}

void comm_launch_layout(int* size, int* rank, int* local_rank) {
    *size = env_int("OMPI_COMM_WORLD_SIZE", 0);
    if (*size > 0) {
        *rank = env_int("OMPI_COMM_WORLD_RANK", 0);
        *local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", *rank);
    } else {
        *size = env_int("PMI_SIZE", 1);
        *rank = env_int("PMI_RANK", 0);
        *local_rank = env_int("MPI_LOCALRANKID", *rank);
    }
    if (*size < 1) *size = 1;
    if (*rank >= *size) *rank = 0;
}

static inline int backend_is_host(const Comm* c) { return !c->ops || !strcmp(c->ops->name, "cpu"); }

#if HWNAS_MPI
// MPI counts are ints: big buffers go in chunks.
#define MPI_CHUNK ((size_t)1 << 28)

static int staging_reserve(Comm* c, size_t floats, HwErr* err) {
    if (c->staging_floats >= floats) return 0;
    float* p = realloc(c->staging, floats * sizeof(float));
    if (!p) return hw_runtime(err, NULL, 0, "out of memory for %zu floats of communication staging", floats);
    c->staging = p, c->staging_floats = floats;
    return 0;
}

static int mpi_sum_floats(float* host, size_t n, HwErr* err) {
    for (size_t off = 0; off < n; off += MPI_CHUNK) {
        int count = (int)(n - off < MPI_CHUNK ? n - off : MPI_CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, host + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return hw_runtime(err, NULL, 0, "MPI_Allreduce of %zu floats failed", n);
    }
    return 0;
}

static int mpi_broadcast_bytes(void* host, size_t bytes, HwErr* err) {
    for (size_t off = 0; off < bytes; off += MPI_CHUNK) {
        int count = (int)(bytes - off < MPI_CHUNK ? bytes - off : MPI_CHUNK);
        if (MPI_Bcast((char*)host + off, count, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
            return hw_runtime(err, NULL, 0, "MPI_Bcast of %zu bytes failed", bytes);
    }
    return 0;
}

#if HWNAS_NCCL
// NCCL's unique id is made by rank 0 and sent over MPI; every rank learns
// whether that worked, so none waits in ncclCommInitRank for a missing peer.
static int start_nccl(Comm* c, HwErr* err) {
    unsigned char id[COMM_NCCL_ID_BYTES] = {0};
    int ok = c->rank != 0 || comm_nccl_unique_id(id, err) == 0, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_ok) return c->rank == 0 ? -1 : hw_runtime(err, NULL, 0, "NCCL could not start on rank 0");
    if (mpi_broadcast_bytes(id, sizeof id, err) < 0) return -1;
    c->nccl = comm_nccl_create(id, c->size, c->rank, c->ctx, err);
    if (!c->nccl) return -1;
    c->kind = COMM_NCCL;
    return 0;
}
#endif
#endif

int comm_init(Comm* c, const char* mode, const Ops* ops, const OpContext* ctx, HwErr* err) {
    memset(c, 0, sizeof *c);
    c->ops = ops, c->ctx = ctx, c->size = 1;
    int size, rank, local;
    comm_launch_layout(&size, &rank, &local);
    if (!mode) mode = "auto";
    int force_mpi = !strcmp(mode, "mpi"), force_nccl = !strcmp(mode, "nccl");
    if (strcmp(mode, "auto") && strcmp(mode, "none") && !force_mpi && !force_nccl)
        return hw_bad_input(err, NULL, 0, "distributed mode: found '%s', expected auto, none, mpi or nccl", mode);
    if (size == 1) return 0;
    if (!strcmp(mode, "none"))
        return hw_bad_input(err, NULL, 0, "launched as %d processes, but the distributed mode is none", size);
#if !HWNAS_MPI
    (void)local;
    return hw_bad_input(err, NULL, 0,
                        "launched as %d processes, but this hwnas was built without MPI (install libopenmpi-dev and "
                        "rebuild)",
                        size);
#else
    int started = 0, provided = 0;
    MPI_Initialized(&started);
    if (!started) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return hw_runtime(err, NULL, 0, "MPI_Init_thread failed");
        c->mpi_owned = 1;
    }
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    c->local_rank = local;
    c->kind = COMM_MPI;
    if (force_nccl && backend_is_host(c))
        return hw_bad_input(err, NULL, 0, "distributed mode nccl needs the CUDA backend (--device cuda)");
    if (!backend_is_host(c) && !force_mpi) {
#if HWNAS_NCCL
        return start_nccl(c, err);
#else
        if (force_nccl) return hw_bad_input(err, NULL, 0, "this hwnas was built without NCCL");
#endif
    }
    return 0;
#endif
}

void comm_finalize(Comm* c) {
    if (!c) return;
#if HWNAS_NCCL
    if (c->nccl) comm_nccl_destroy(c->nccl);
#endif
    c->nccl = NULL;
    free(c->staging);
    c->staging = NULL, c->staging_floats = 0;
#if HWNAS_MPI
    if (c->mpi_owned) MPI_Finalize();
#endif
    c->mpi_owned = 0;
}

void comm_abort(Comm* c, int code) {
#if HWNAS_MPI
    if (c && c->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)c, (void)code;
#endif
}

int comm_allreduce_mean(Comm* c, float* buf, size_t n, HwErr* err) {
    if (!c || c->size == 1 || n == 0) return 0;
#if HWNAS_NCCL
    if (c->kind == COMM_NCCL) return comm_nccl_allreduce_mean(c->nccl, buf, n, err);
#endif
#if HWNAS_MPI
    float* host = buf;
    if (!backend_is_host(c)) {
        if (staging_reserve(c, n, err) < 0) return -1;
        host = c->staging;
        c->ops->download(c->ctx, host, buf, n * sizeof(float));
    }
    if (mpi_sum_floats(host, n, err) < 0) return -1;
    // Every rank scales the same sum by the same factor: the ranks stay
    // bit-identical.
    float scale = 1.0f / (float)c->size;
    for (size_t i = 0; i < n; i++) host[i] *= scale;
    if (host != buf) c->ops->upload(c->ctx, buf, host, n * sizeof(float));
    return 0;
#else
    (void)buf;
    return hw_runtime(err, NULL, 0, "built without MPI");
#endif
}

int comm_allreduce_host(Comm* c, double* v, int n, HwErr* err) {
    if (!c || c->size == 1 || n <= 0) return 0;
#if HWNAS_MPI
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return hw_runtime(err, NULL, 0, "MPI_Allreduce of %d doubles failed", n);
    return 0;
#else
    (void)v;
    return hw_runtime(err, NULL, 0, "built without MPI");
#endif
}

int comm_broadcast(Comm* c, void* buf, size_t bytes, HwErr* err) {
    if (!c || c->size == 1 || bytes == 0) return 0;
#if HWNAS_NCCL
    if (c->kind == COMM_NCCL) return comm_nccl_broadcast(c->nccl, buf, bytes, err);
#endif
#if HWNAS_MPI
    void* host = buf;
    if (!backend_is_host(c)) {
        if (staging_reserve(c, (bytes + sizeof(float) - 1) / sizeof(float), err) < 0) return -1;
        host = c->staging;
        if (c->rank == 0) c->ops->download(c->ctx, host, buf, bytes);
    }
    if (mpi_broadcast_bytes(host, bytes, err) < 0) return -1;
    if (host != buf && c->rank != 0) c->ops->upload(c->ctx, buf, host, bytes);
    return 0;
#else
    (void)buf;
    return hw_runtime(err, NULL, 0, "built without MPI");
#endif
}
