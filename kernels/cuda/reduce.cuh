// Deterministic reductions shared by the CUDA families. No float atomics
// anywhere: every sum is taken in an order fixed by the shape alone, so two
// runs give bit-identical results.
//
//   column_sums(st, term, finish, rows, cols): for each col < cols,
//       finish(col, sum over r < rows of term(r, col)), term returning two
//       values at once (a double2), summed in double. This is the per-channel
//       reduction of NHWC data (BatchNorm statistics, bias and weight
//       gradients), where a row is a pixel and a column a channel.
//   block_sum / block_max: one value per thread -> one per block.
#ifndef HWNAS_CUDA_REDUCE_CUH
#define HWNAS_CUDA_REDUCE_CUH

#include "kernels/cuda/cuda_common.h"

#define REDUCE_TILE 32          // columns per block and row lanes per column
#define REDUCE_MIN_CHUNK 256    // default rows per chunk at least (8 per row lane)
#define REDUCE_MAX_CHUNKS 1024

__device__ __forceinline__ double2 double2_add(double2 a, double2 b) {
    return make_double2(a.x + b.x, a.y + b.y);
}

// Sum over the 32 lanes of a warp by an xor butterfly. Every lane ends with
// the same value (a + b == b + a in IEEE arithmetic), and the order is fixed.
__device__ __forceinline__ double warp_sum(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}
__device__ __forceinline__ int warp_sum_int(int v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 (<= 1024), 1-D blocks. All
// threads must call it; all get the result. `shared` holds 32 doubles.
__device__ __forceinline__ double block_sum(double v, double* shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // `shared` may still be read by a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0;
    return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : -INFINITY;
    return warp_max(v);
}
__device__ __forceinline__ int block_sum_int(int v, int* shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum_int(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0;
    return warp_sum_int(v);
}

// Stage 1. Block (32, 32) covers 32 columns of one chunk of rows: thread
// (x, y) sums rows y, y+32, ... of column x; the 32 partials of a column are
// transposed through shared memory so that warp y reduces column y with
// shuffles. With one chunk the result goes straight to `finish`; otherwise to
// partial[chunk][col]. The launch bound caps registers at 64 per thread, so
// a 1024-thread block always fits (without it a costly Term could make the
// launch fail with "too many resources requested").
template <class Term, class Finish>
__global__ void __launch_bounds__(REDUCE_TILE * REDUCE_TILE)
    column_partials_kernel(Term term, Finish finish, int rows, int cols, int rows_per_chunk,
                           double2* partial) {
    __shared__ double2 tile[REDUCE_TILE][REDUCE_TILE + 1];
    int col = blockIdx.x * REDUCE_TILE + threadIdx.x;
    int r0 = blockIdx.y * rows_per_chunk;
    int r1 = min(rows, r0 + rows_per_chunk);
    double2 acc = make_double2(0.0, 0.0);
    if (col < cols)
        for (int r = r0 + threadIdx.y; r < r1; r += REDUCE_TILE)
            acc = double2_add(acc, term(r, col));
    tile[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    double2 v = tile[threadIdx.x][threadIdx.y];
    v.x = warp_sum(v.x);
    v.y = warp_sum(v.y);
    int out_col = blockIdx.x * REDUCE_TILE + threadIdx.y;
    if (threadIdx.x == 0 && out_col < cols) {
        if (partial)
            partial[(size_t)blockIdx.y * cols + out_col] = v;
        else
            finish(out_col, v);
    }
}

// Stage 2: one thread per column adds its chunk partials in chunk order.
template <class Finish>
__global__ void column_finish_kernel(Finish finish, const double2* partial, int chunks, int cols) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    double2 sum = make_double2(0.0, 0.0);
    for (int c = 0; c < chunks; c++) sum = double2_add(sum, partial[(size_t)c * cols + col]);
    finish(col, sum);
}

// How many row chunks: enough blocks to fill the GPU on tall inputs, bounded
// by the scratch. Depends only on the shape (and the fixed scratch size), so
// the summation order is reproducible.
static inline int column_chunks(const CudaState* st, int rows, int cols, int min_chunk) {
    size_t chunks = ((size_t)rows + (size_t)min_chunk - 1) / (size_t)min_chunk;
    if (chunks > REDUCE_MAX_CHUNKS) chunks = REDUCE_MAX_CHUNKS;
    size_t fit = st->reduce_scratch_doubles / (2 * (size_t)cols);
    if (chunks > fit) chunks = fit;
    return chunks < 1 ? 1 : (int)chunks;
}

// Queues both stages on the compute stream. Term: __device__ double2
// operator()(int row, int col) const; Finish: __device__ void
// operator()(int col, double2 sum) const. min_chunk: the fewest rows a chunk
// may have (smaller for costly terms). Returns 0 or -1 (error recorded).
template <class Term, class Finish>
static int column_sums(CudaState* st, Term term, Finish finish, int rows, int cols,
                       int min_chunk = REDUCE_MIN_CHUNK) {
    if (rows <= 0 || cols <= 0) return 0;
    int chunks = column_chunks(st, rows, cols, min_chunk < 1 ? 1 : min_chunk);
    int rows_per_chunk = (rows + chunks - 1) / chunks;
    chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;  // no empty chunk
    double2* partial = chunks > 1 ? (double2*)st->reduce_scratch : NULL;
    dim3 grid((unsigned)((cols + REDUCE_TILE - 1) / REDUCE_TILE), (unsigned)chunks);
    dim3 block(REDUCE_TILE, REDUCE_TILE);
    LAUNCH_KERNEL(column_partials_kernel, grid, block, 0, st->compute, term, finish, rows, cols,
                  rows_per_chunk, partial);
    if (CUDA_CHECK_LAUNCH(st, "column_partials_kernel")) return -1;
    if (!partial) return 0;
    int threads = 256;
    LAUNCH_KERNEL(column_finish_kernel, (cols + threads - 1) / threads, threads, 0, st->compute,
                  finish, partial, chunks, cols);
    return CUDA_CHECK_LAUNCH(st, "column_finish_kernel");
}

#endif
