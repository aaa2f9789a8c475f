#include "src/device.h"

#include <omp.h>
#include <string.h>

#include "common/config.h"
#include "dist/comm.h"

#if HWNAS_CUDA
#include "kernels/cuda/cuda_context.h"
#endif

int device_parse(const char* name, DeviceKind* kind, HwErr* err) {
    if (!strcmp(name, "cpu")) *kind = DEVICE_CPU;
    else if (!strcmp(name, "cuda")) *kind = DEVICE_CUDA;
    else return hw_bad_input(err, NULL, 0, "--device: found '%s', expected cpu or cuda", name);
    return 0;
}

int device_open(Device* d, DeviceKind kind, int threads, HwErr* err) {
    memset(d, 0, sizeof *d);
    // Every count reaching here was range-checked (config, flags, target
    // files); this keeps "all cores" of a huge machine within the same cap.
    if (threads > CONFIG_MAX_THREADS)
        return hw_bad_input(err, NULL, 0, "threads: found %d, expected at most %d", threads, CONFIG_MAX_THREADS);
    if (threads <= 0) threads = omp_get_num_procs() < CONFIG_MAX_THREADS ? omp_get_num_procs() : CONFIG_MAX_THREADS;
    d->ctx.threads = threads;
    if (kind == DEVICE_CPU) {
        d->ops = &ops_cpu;
        return 0;
    }
#if HWNAS_CUDA
    char why[256];
    if (!cuda_device_available(why, sizeof why)) return hw_runtime(err, NULL, 0, "--device cuda: %s", why);
    // Under mpirun each process of a machine takes its own GPU.
    int size, rank, local_rank;
    comm_launch_layout(&size, &rank, &local_rank);
    CudaState* st = cuda_state_create(local_rank % cuda_device_available(NULL, 0), err);
    if (!st) return -1;
    d->cuda_state = st;
    d->ctx.cuda = st;
    d->ops = ops_cuda();
    return 0;
#else
    return hw_runtime(err, NULL, 0, "--device cuda: this hwnas was built without CUDA (nvcc was not found at build time)");
#endif
}

void device_close(Device* d) {
#if HWNAS_CUDA
    if (d->cuda_state) cuda_state_destroy(d->cuda_state);
#endif
    d->cuda_state = NULL;
}
