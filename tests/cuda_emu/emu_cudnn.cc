// cuda-emu's cuDNN: 4-d fp32 convolutions as a test oracle.
//
// Descriptors keep exactly what was set (validated as cuDNN documents), and
// the convolutions are direct loops that address memory only through those
// descriptors' layouts, so a wrong format or stride gives wrong numbers, as it
// would on a GPU. Arguments are checked during the call; the arithmetic runs
// later as work on the handle's stream, after checking that every operand
// (and the workspace) lies inside one device allocation.
//
// The *_v7 heuristics return a fixed list per direction, built so that
// callers' filters are exercised: non-deterministic algorithms first for the
// backward directions (as cuDNN documents BWD_DATA_ALGO_0 and BWD_FILTER_ALGO_0
// and _3 to be), TF32 tensor-op entries before the FMA ones whenever the
// descriptor's math type permits TF32, and NOT_SUPPORTED entries for layouts
// an algorithm cannot handle (FFT and Winograd need NCHW). Running a
// tensor-op-capable algorithm with a math type other than CUDNN_FMA_MATH
// rounds its inputs to TF32, as CUDNN_DEFAULT_MATH permits on Ampere and
// later; so forgetting to ask for FMA shows as lost precision.
//
// CUDA_EMU_CUDNN=unavailable makes every call but cudnnGetVersion and
// cudnnGetErrorString fail with CUDNN_STATUS_NOT_INITIALIZED.
#include <cudnn.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "emu_internal.h"

struct cudnnContext {
    cudaStream_t stream = 0;  // the legacy default stream until cudnnSetStream
};

struct cudnnTensorStruct {
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int n = 0, c = 0, h = 0, w = 0;
    int n_stride = 0, c_stride = 0, h_stride = 0, w_stride = 0;  // in elements
};

struct cudnnFilterStruct {
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
    int k = 0, c = 0, r = 0, s = 0;
};

struct cudnnConvolutionStruct {
    bool set = false;
    int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    cudnnDataType_t compute_type = CUDNN_DATA_FLOAT;
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    int groups = 1;
};

namespace {

// ---------------------------------------------------------------- registry

// Live objects of each kind, so that destroyed or made-up handles and
// descriptors are refused instead of read (guarded by ApiLock).
template <class T>
std::unordered_set<const T*>& live() {
    static std::unordered_set<const T*> objects;
    return objects;
}

template <class T>
bool is_live(const T* p) {
    return p && live<T>().count(p) != 0;
}

template <class T>
cudnnStatus_t create_object(T** out) {
    if (!out) return CUDNN_STATUS_BAD_PARAM;
    T* p = new T();
    live<T>().insert(p);
    *out = p;
    return CUDNN_STATUS_SUCCESS;
}

template <class T>
cudnnStatus_t destroy_object(T* p) {
    if (!p) return CUDNN_STATUS_SUCCESS;  // destroying nothing is a no-op
    if (!is_live(p)) return CUDNN_STATUS_BAD_PARAM;
    live<T>().erase(p);
    delete p;
    return CUDNN_STATUS_SUCCESS;
}

// The failure switch (see emu_internal.h): the library "cannot be loaded".
bool library_unavailable() {
    const char* s = cuda_emu::setting("CUDA_EMU_CUDNN");
    return s && strcmp(s, "unavailable") == 0;
}

// NULL is a bad parameter; a handle that is not live was never created (or
// was destroyed), so the library is not initialized for it.
cudnnStatus_t handle_status(cudnnHandle_t h) {
    if (!h) return CUDNN_STATUS_BAD_PARAM;
    return is_live(h) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_INITIALIZED;
}

bool data_type_valid(cudnnDataType_t t) {
    return (int)t >= CUDNN_DATA_FLOAT && (int)t <= CUDNN_DATA_FP8_E5M2;
}

bool format_valid(cudnnTensorFormat_t f) {
    return f == CUDNN_TENSOR_NCHW || f == CUDNN_TENSOR_NHWC || f == CUDNN_TENSOR_NCHW_VECT_C;
}

// The checks shared by tensor and filter descriptors: enumerants, then
// sizes, then what this emulator computes with (fp32, no vector layouts).
cudnnStatus_t check_4d(cudnnDataType_t type, cudnnTensorFormat_t format, int a, int b, int c,
                       int d) {
    if (!data_type_valid(type) || !format_valid(format)) return CUDNN_STATUS_BAD_PARAM;
    if (a <= 0 || b <= 0 || c <= 0 || d <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    // NCHW_VECT_C exists only for the vector integer types.
    if (format == CUDNN_TENSOR_NCHW_VECT_C) return CUDNN_STATUS_BAD_PARAM;
    // cuDNN's limit: at most 2 Giga-elements per tensor.
    if ((long long)a * b * c * d > INT_MAX) return CUDNN_STATUS_NOT_SUPPORTED;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- geometry

// A 4-d tensor as the loops address it: element (n, c, h, w) is at
// n * ns + c * cs + h * hs + w * ws floats from the base pointer.
struct TensorLayout {
    int n, c, h, w;
    long long ns, cs, hs, ws;
    long long at(int in, int ic, int ih, int iw) const {
        return in * ns + ic * cs + ih * hs + iw * ws;
    }
    size_t bytes() const { return (size_t)(at(n - 1, c - 1, h - 1, w - 1) + 1) * sizeof(float); }
    bool packed_nchw() const {
        return ws == 1 && hs == w && cs == (long long)h * w && ns == cs * c;
    }
};

// A filter: element (k, c, r, s), laid out [k][c][r][s] for NCHW and
// [k][r][s][c] for NHWC.
struct FilterLayout {
    int k, c, r, s;
    long long ks, cs, rs, ss;
    bool nchw;
    long long at(int ik, int ic, int ir, int is) const {
        return ik * ks + ic * cs + ir * rs + is * ss;
    }
    size_t bytes() const { return (size_t)k * c * r * s * sizeof(float); }
};

// Everything a convolution needs, copied out of the descriptors at call time
// (the caller may change or destroy them before the stream runs the work).
// x is the input side (x or dx), y the output side (y or dy), w the filter.
struct ConvGeometry {
    TensorLayout x, y;
    FilterLayout w;
    int pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
    bool flip;  // CUDNN_CONVOLUTION: the filter is applied mirrored
    cudnnMathType_t math;
};

TensorLayout tensor_layout(const cudnnTensorStruct& t) {
    return TensorLayout{t.n, t.c, t.h, t.w, t.n_stride, t.c_stride, t.h_stride, t.w_stride};
}

FilterLayout filter_layout(const cudnnFilterStruct& f) {
    FilterLayout l{f.k, f.c, f.r, f.s, 0, 0, 0, 0, f.format == CUDNN_TENSOR_NCHW};
    if (l.nchw) {  // [k][c][r][s]
        l.ss = 1, l.rs = f.s, l.cs = (long long)f.r * f.s, l.ks = l.cs * f.c;
    } else {  // [k][r][s][c]
        l.cs = 1, l.ss = f.c, l.rs = (long long)f.s * f.c, l.ks = l.rs * f.r;
    }
    return l;
}

// cuDNN's output size formula; <= 0 when the dilated filter does not fit.
int output_dim(int in, int pad, int filter, int dilation, int stride) {
    int span = (filter - 1) * dilation + 1;
    if (in + 2 * pad < span) return 0;
    return 1 + (in + 2 * pad - span) / stride;
}

bool descriptors_usable(const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                        const cudnnConvolutionStruct* conv) {
    return is_live(x) && x->set && is_live(w) && w->set && is_live(conv) && conv->set;
}

// Validates x, w and conv together (what GetConvolution2dForwardOutputDim
// needs): BAD_PARAM for unusable descriptors, differing data types, input
// channels that differ, or a dilated filter larger than the padded input.
cudnnStatus_t check_input_and_filter(const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                                     const cudnnConvolutionStruct* conv) {
    if (!descriptors_usable(x, w, conv)) return CUDNN_STATUS_BAD_PARAM;
    if (x->type != w->type) return CUDNN_STATUS_BAD_PARAM;
    if (x->c != w->c * conv->groups) return CUDNN_STATUS_BAD_PARAM;
    if (output_dim(x->h, conv->pad_h, w->r, conv->dilation_h, conv->stride_h) <= 0 ||
        output_dim(x->w, conv->pad_w, w->s, conv->dilation_w, conv->stride_w) <= 0)
        return CUDNN_STATUS_BAD_PARAM;
    return CUDNN_STATUS_SUCCESS;
}

// The full shape check of a convolution call. y's batch and channels must
// match x and w (BAD_PARAM); its spatial size must be the forward output
// size (cuDNN documents a mismatch there as NOT_SUPPORTED).
cudnnStatus_t conv_geometry(const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                            const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y,
                            ConvGeometry* g) {
    cudnnStatus_t st = check_input_and_filter(x, w, conv);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (!is_live(y) || !y->set || y->type != x->type) return CUDNN_STATUS_BAD_PARAM;
    if (y->n != x->n || y->c != w->k) return CUDNN_STATUS_BAD_PARAM;
    if (y->h != output_dim(x->h, conv->pad_h, w->r, conv->dilation_h, conv->stride_h) ||
        y->w != output_dim(x->w, conv->pad_w, w->s, conv->dilation_w, conv->stride_w))
        return CUDNN_STATUS_NOT_SUPPORTED;
    g->x = tensor_layout(*x);
    g->y = tensor_layout(*y);
    g->w = filter_layout(*w);
    g->pad_h = conv->pad_h, g->pad_w = conv->pad_w;
    g->stride_h = conv->stride_h, g->stride_w = conv->stride_w;
    g->dilation_h = conv->dilation_h, g->dilation_w = conv->dilation_w;
    g->flip = conv->mode == CUDNN_CONVOLUTION;
    g->math = conv->math;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- algorithms

enum class Direction { kForward, kBackwardData, kBackwardFilter };

// Which configurations an algorithm runs (the rest: NOT_SUPPORTED).
enum class Support { kAlways, kNever, kFft, kFftTiling, kWinograd, kWinogradNonfused };
// How its workspace size follows from the shapes.
enum class Workspace { kNone, kIndexTable, kIm2col, kFilterCopy, kFft, kFftTiling, kWinogradTiles };

// Whether an algorithm has a tensor-core variant (TF32 for fp32 data).
enum class Math { kFmaOnly, kTensorOps };

struct AlgoInfo {
    int algo;
    cudnnDeterminism_t determinism;
    Math math;  // kTensorOps: computes in TF32 unless the descriptor asks for FMA math
    Support support;
    Workspace workspace;
};

constexpr cudnnDeterminism_t kDet = CUDNN_DETERMINISTIC, kNonDet = CUDNN_NON_DETERMINISTIC;
constexpr Math kFma = Math::kFmaOnly, kTensor = Math::kTensorOps;

// Each table is in the heuristics' order of preference.
// clang-format off
const AlgoInfo kForwardAlgos[] = {
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, kDet, kTensor, Support::kAlways, Workspace::kIndexTable},
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,         kDet, kFma,    Support::kAlways, Workspace::kNone},
    {CUDNN_CONVOLUTION_FWD_ALGO_GEMM,                  kDet, kFma,    Support::kAlways, Workspace::kIm2col},
    {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD,              kDet, kFma,    Support::kWinograd, Workspace::kNone},
    {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED,     kDet, kTensor, Support::kWinogradNonfused, Workspace::kWinogradTiles},
    {CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,            kDet, kFma,    Support::kFftTiling, Workspace::kFftTiling},
    {CUDNN_CONVOLUTION_FWD_ALGO_FFT,                   kDet, kFma,    Support::kFft, Workspace::kFft},
    {CUDNN_CONVOLUTION_FWD_ALGO_DIRECT,                kDet, kFma,    Support::kNever, Workspace::kNone},
};
const AlgoInfo kBackwardDataAlgos[] = {
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,                 kNonDet, kFma,    Support::kAlways, Workspace::kNone},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,                 kDet,    kTensor, Support::kAlways, Workspace::kIndexTable},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,          kDet,    kFma,    Support::kWinograd, Workspace::kNone},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, kDet,    kTensor, Support::kWinogradNonfused, Workspace::kWinogradTiles},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,        kDet,    kFma,    Support::kFftTiling, Workspace::kFftTiling},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,               kDet,    kFma,    Support::kFft, Workspace::kFft},
};
const AlgoInfo kBackwardFilterAlgos[] = {
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,                 kNonDet, kFma,    Support::kAlways, Workspace::kNone},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3,                 kNonDet, kFma,    Support::kAlways, Workspace::kFilterCopy},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,                 kDet,    kTensor, Support::kAlways, Workspace::kIndexTable},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, kDet,    kTensor, Support::kWinogradNonfused, Workspace::kWinogradTiles},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,        kDet,    kFma,    Support::kFftTiling, Workspace::kFftTiling},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT,               kDet,    kFma,    Support::kFft, Workspace::kFft},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD,          kDet,    kFma,    Support::kNever, Workspace::kNone},
};
// clang-format on

struct AlgoTable {
    const AlgoInfo* begin;
    size_t count;
};

AlgoTable algo_table(Direction d) {
    switch (d) {
        case Direction::kForward: return {kForwardAlgos, sizeof kForwardAlgos / sizeof(AlgoInfo)};
        case Direction::kBackwardData:
            return {kBackwardDataAlgos, sizeof kBackwardDataAlgos / sizeof(AlgoInfo)};
        case Direction::kBackwardFilter: break;
    }
    return {kBackwardFilterAlgos, sizeof kBackwardFilterAlgos / sizeof(AlgoInfo)};
}

// NULL for a value that is not an algorithm of the direction.
const AlgoInfo* find_algo(Direction d, int algo) {
    AlgoTable t = algo_table(d);
    for (size_t i = 0; i < t.count; i++)
        if (t.begin[i].algo == algo) return &t.begin[i];
    return nullptr;
}

// FFT and Winograd variants: packed NCHW tensors, an NCHW filter, unit
// stride and dilation, and their own filter size limits.
bool algo_supported(const AlgoInfo& a, const ConvGeometry& g) {
    if (a.support == Support::kAlways) return true;
    if (a.support == Support::kNever) return false;
    if (!g.x.packed_nchw() || !g.y.packed_nchw() || !g.w.nchw) return false;
    if (g.stride_h != 1 || g.stride_w != 1 || g.dilation_h != 1 || g.dilation_w != 1) return false;
    switch (a.support) {
        case Support::kFft:
            return g.pad_h < g.w.r && g.pad_w < g.w.s && g.x.h + 2 * g.pad_h <= 256 &&
                   g.x.w + 2 * g.pad_w <= 256;
        case Support::kFftTiling:
            return g.pad_h < g.w.r && g.pad_w < g.w.s && g.w.r <= 32 && g.w.s <= 32;
        case Support::kWinograd: return g.w.r == 3 && g.w.s == 3;
        case Support::kWinogradNonfused: return g.w.r == g.w.s && (g.w.r == 3 || g.w.r == 5);
        default: break;
    }
    return false;
}

size_t next_pow2(size_t v) {
    size_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

// Plausible sizes derived from the shapes; only their being zero or not,
// and consistent between the query and the call, matters to callers.
size_t workspace_bytes(const AlgoInfo& a, Direction d, const ConvGeometry& g) {
    size_t n = g.x.n, c = g.x.c, k = g.y.c, r = g.w.r, s = g.w.s, p = g.y.h, q = g.y.w;
    size_t planes = n * c + k * c + n * k;  // transformed inputs, filters and outputs
    switch (a.workspace) {
        case Workspace::kNone: return 0;
        case Workspace::kIndexTable:  // one offset per tap of the reduction
            return sizeof(int) * (d == Direction::kBackwardData ? k : c) * r * s;
        case Workspace::kIm2col: return sizeof(float) * c * r * s * p * q;
        case Workspace::kFilterCopy: return sizeof(float) * k * c * r * s;
        case Workspace::kFft: {
            size_t fh = next_pow2(g.x.h + 2 * g.pad_h), fw = next_pow2(g.x.w + 2 * g.pad_w);
            return 2 * sizeof(float) * planes * fh * (fw / 2 + 1);
        }
        case Workspace::kFftTiling: return 2 * sizeof(float) * planes * 32 * 17;
        case Workspace::kWinogradTiles: {
            size_t tiles = ((p + 3) / 4) * ((q + 3) / 4);
            return sizeof(float) * 36 * (n * c * tiles + k * c + n * k * tiles);
        }
    }
    return 0;
}

bool descriptor_allows_tf32(cudnnMathType_t m) { return m != CUDNN_FMA_MATH; }

// Whether running algorithm a with this descriptor math computes in TF32.
bool runs_tf32(const AlgoInfo& a, const ConvGeometry& g) {
    return a.math == Math::kTensorOps && descriptor_allows_tf32(g.math);
}

// One entry of a heuristic answer.
struct Heuristic {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
};

Heuristic heuristic_entry(const AlgoInfo& a, Direction d, const ConvGeometry& g,
                          cudnnMathType_t math) {
    bool ok = algo_supported(a, g);
    return Heuristic{a.algo, ok ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED,
                     ok ? workspace_bytes(a, d, g) : 0, a.determinism, math};
}

// The heuristic list: supported non-deterministic algorithms, then the
// preferred tensor-op algorithm in TF32 (when the descriptor permits TF32),
// then the deterministic ones with FMA math, then the unsupported ones. One
// TF32 entry only, so that an array of *_ALGO_COUNT entries (what callers
// pass) loses at most the least preferred entry.
std::vector<Heuristic> heuristics(Direction d, const ConvGeometry& g) {
    AlgoTable t = algo_table(d);
    std::vector<Heuristic> out;
    cudnnMathType_t tensor_math = g.math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION
                                      ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION
                                      : CUDNN_TENSOR_OP_MATH;
    for (size_t i = 0; i < t.count; i++)
        if (t.begin[i].determinism == kNonDet && algo_supported(t.begin[i], g))
            out.push_back(heuristic_entry(t.begin[i], d, g, CUDNN_FMA_MATH));
    if (descriptor_allows_tf32(g.math))
        for (size_t i = 0; i < t.count; i++)
            if (t.begin[i].math == Math::kTensorOps && algo_supported(t.begin[i], g)) {
                out.push_back(heuristic_entry(t.begin[i], d, g, tensor_math));
                break;
            }
    for (size_t i = 0; i < t.count; i++)
        if (t.begin[i].determinism == kDet && algo_supported(t.begin[i], g))
            out.push_back(heuristic_entry(t.begin[i], d, g, CUDNN_FMA_MATH));
    for (size_t i = 0; i < t.count; i++)
        if (!algo_supported(t.begin[i], g))
            out.push_back(heuristic_entry(t.begin[i], d, g, CUDNN_FMA_MATH));
    return out;
}

// Writes the first requested entries into a caller's *AlgoPerf_t array.
template <class Perf, class Algo>
cudnnStatus_t write_heuristics(Direction d, const ConvGeometry& g, int requested, int* returned,
                               Perf* perf) {
    if (requested < 1 || !returned || !perf) return CUDNN_STATUS_BAD_PARAM;
    std::vector<Heuristic> list = heuristics(d, g);
    int count = std::min(requested, (int)list.size());
    for (int i = 0; i < count; i++) {
        Perf p;
        memset(&p, 0, sizeof p);
        p.algo = (Algo)list[i].algo;
        p.status = list[i].status;
        p.time = -1.0f;  // heuristics do not time anything
        p.memory = list[i].memory;
        p.determinism = list[i].determinism;
        p.mathType = list[i].math;
        perf[i] = p;
    }
    *returned = count;
    return CUDNN_STATUS_SUCCESS;
}

// The workspace an algorithm needs for a call: BAD_PARAM for a value that is
// not an algorithm, NOT_SUPPORTED where it does not run.
cudnnStatus_t algo_workspace(Direction d, int algo, const ConvGeometry& g, size_t* bytes,
                             const AlgoInfo** info) {
    const AlgoInfo* a = find_algo(d, algo);
    if (!a) return CUDNN_STATUS_BAD_PARAM;
    if (!algo_supported(*a, g)) return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = workspace_bytes(*a, d, g);
    if (info) *info = a;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- arithmetic

// TF32 keeps fp32's exponent and 10 mantissa bits (round to nearest even);
// infinities and NaN pass unchanged.
float round_to_tf32(float x) {
    if (!isfinite(x)) return x;
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u += 0xFFFu + ((u >> 13) & 1u);
    u &= ~0x1FFFu;
    memcpy(&x, &u, sizeof u);
    return x;
}

// A convolution call, captured by value for the stream work. Pointers by
// role: x input side, w filter, y output side; which one is written
// depends on the direction.
struct ConvCall {
    const char* name;
    Direction direction;
    ConvGeometry g;
    float alpha, beta;
    float *x, *w, *y;
    void* workspace;
    size_t workspace_bytes;
    bool tf32;

    float in(const float* p, long long at) const { return tf32 ? round_to_tf32(p[at]) : p[at]; }
    // out = alpha * acc + beta * out; with beta == 0 out is not read.
    void store(float* p, long long at, float acc) const {
        float v = alpha * acc;
        p[at] = beta == 0.0f ? v : v + beta * p[at];
    }
};

// The filter tap (r, s) as stored: mirrored for CUDNN_CONVOLUTION.
int tap(bool flip, int i, int size) { return flip ? size - 1 - i : i; }

// y[n][k][oh][ow] = sum over r, s, c of x[n][c][ih][iw] * w[k][c][r][s].
void forward_loops(const ConvCall& cc) {
    const ConvGeometry& g = cc.g;
    for (int n = 0; n < g.y.n; n++)
        for (int k = 0; k < g.y.c; k++)
            for (int oh = 0; oh < g.y.h; oh++)
                for (int ow = 0; ow < g.y.w; ow++) {
                    float acc = 0.0f;
                    for (int r = 0; r < g.w.r; r++) {
                        int ih = oh * g.stride_h - g.pad_h + r * g.dilation_h;
                        if (ih < 0 || ih >= g.x.h) continue;
                        for (int s = 0; s < g.w.s; s++) {
                            int iw = ow * g.stride_w - g.pad_w + s * g.dilation_w;
                            if (iw < 0 || iw >= g.x.w) continue;
                            int fr = tap(g.flip, r, g.w.r), fs = tap(g.flip, s, g.w.s);
                            for (int c = 0; c < g.x.c; c++)
                                acc = fmaf(cc.in(cc.x, g.x.at(n, c, ih, iw)),
                                           cc.in(cc.w, g.w.at(k, c, fr, fs)), acc);
                        }
                    }
                    cc.store(cc.y, g.y.at(n, k, oh, ow), acc);
                }
}

// The output index that input index i feeds through tap t, or -1 when the
// tap does not land on a strided output position.
int output_of(int i, int t, int pad, int dilation, int stride, int out_size) {
    int o = i + pad - t * dilation;
    if (o < 0 || o % stride != 0) return -1;
    o /= stride;
    return o < out_size ? o : -1;
}

// dx[n][c][ih][iw] = sum over the (r, s, k) that read it of dy * w.
void backward_data_loops(const ConvCall& cc) {
    const ConvGeometry& g = cc.g;
    for (int n = 0; n < g.x.n; n++)
        for (int c = 0; c < g.x.c; c++)
            for (int ih = 0; ih < g.x.h; ih++)
                for (int iw = 0; iw < g.x.w; iw++) {
                    float acc = 0.0f;
                    for (int r = 0; r < g.w.r; r++) {
                        int oh = output_of(ih, r, g.pad_h, g.dilation_h, g.stride_h, g.y.h);
                        if (oh < 0) continue;
                        for (int s = 0; s < g.w.s; s++) {
                            int ow = output_of(iw, s, g.pad_w, g.dilation_w, g.stride_w, g.y.w);
                            if (ow < 0) continue;
                            int fr = tap(g.flip, r, g.w.r), fs = tap(g.flip, s, g.w.s);
                            for (int k = 0; k < g.y.c; k++)
                                acc = fmaf(cc.in(cc.y, g.y.at(n, k, oh, ow)),
                                           cc.in(cc.w, g.w.at(k, c, fr, fs)), acc);
                        }
                    }
                    cc.store(cc.x, g.x.at(n, c, ih, iw), acc);
                }
}

// dw[k][c][fr][fs] = sum over n, oh, ow of dy[n][k][oh][ow] * x[n][c][ih][iw]
// where (fr, fs) is the stored position of the tap (r, s) that read x there.
void backward_filter_loops(const ConvCall& cc) {
    const ConvGeometry& g = cc.g;
    for (int k = 0; k < g.w.k; k++)
        for (int c = 0; c < g.w.c; c++)
            for (int r = 0; r < g.w.r; r++)
                for (int s = 0; s < g.w.s; s++) {
                    float acc = 0.0f;
                    for (int n = 0; n < g.x.n; n++)
                        for (int oh = 0; oh < g.y.h; oh++) {
                            int ih = oh * g.stride_h - g.pad_h + r * g.dilation_h;
                            if (ih < 0 || ih >= g.x.h) continue;
                            for (int ow = 0; ow < g.y.w; ow++) {
                                int iw = ow * g.stride_w - g.pad_w + s * g.dilation_w;
                                if (iw < 0 || iw >= g.x.w) continue;
                                acc = fmaf(cc.in(cc.y, g.y.at(n, k, oh, ow)),
                                           cc.in(cc.x, g.x.at(n, c, ih, iw)), acc);
                            }
                        }
                    int fr = tap(g.flip, r, g.w.r), fs = tap(g.flip, s, g.w.s);
                    cc.store(cc.w, g.w.at(k, c, fr, fs), acc);
                }
}

// ---------------------------------------------------------------- execution

// The names cuDNN's documentation gives each role's pointer, per direction.
struct OperandNames {
    const char *x, *w, *y;
};

OperandNames operand_names(Direction d) {
    switch (d) {
        case Direction::kForward: return {"x", "w", "y"};
        case Direction::kBackwardData: return {"dx", "w", "dy"};
        case Direction::kBackwardFilter: break;
    }
    return {"x", "dw", "dy"};
}

bool region_ok(const ConvCall& cc, const char* operand, const void* p, size_t bytes) {
    if (cuda_emu::device_range_ok(p, bytes)) return true;
    cuda_emu::fault(cudaErrorIllegalAddress, "%s: %s (%zu bytes at %p) %s", cc.name, operand, bytes,
                    p, cuda_emu::describe_address(p, bytes).c_str());
    return false;
}

// The stream work: every operand checked, the workspace used as scratch
// (scribbled over, so nothing may rely on its contents), then the loops.
void convolution_execute(const ConvCall& cc) {
    OperandNames names = operand_names(cc.direction);
    if (!region_ok(cc, names.x, cc.x, cc.g.x.bytes()) ||
        !region_ok(cc, names.w, cc.w, cc.g.w.bytes()) ||
        !region_ok(cc, names.y, cc.y, cc.g.y.bytes()))
        return;
    if (cc.workspace_bytes > 0) {
        if (!region_ok(cc, "workSpace", cc.workspace, cc.workspace_bytes)) return;
        memset(cc.workspace, 0xff, cc.workspace_bytes);
    }
    switch (cc.direction) {
        case Direction::kForward: forward_loops(cc); break;
        case Direction::kBackwardData: backward_data_loops(cc); break;
        case Direction::kBackwardFilter: backward_filter_loops(cc); break;
    }
}

// The checks every convolution call shares once its geometry is known, then
// the work on the handle's stream.
cudnnStatus_t submit_convolution(cudnnHandle_t handle, ConvCall cc, int algo, const void* alpha,
                                 const void* beta, size_t workspace_given) {
    if (!alpha || !beta || !cc.x || !cc.w || !cc.y) return CUDNN_STATUS_BAD_PARAM;
    const AlgoInfo* info = nullptr;
    cudnnStatus_t st = algo_workspace(cc.direction, algo, cc.g, &cc.workspace_bytes, &info);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (workspace_given < cc.workspace_bytes) return CUDNN_STATUS_BAD_PARAM;
    if (cc.workspace_bytes > 0 && !cc.workspace) return CUDNN_STATUS_BAD_PARAM;
    cc.alpha = *static_cast<const float*>(alpha);  // host scalars, read now
    cc.beta = *static_cast<const float*>(beta);
    cc.tf32 = runs_tf32(*info, cc.g);
    cudaError_t e =
        cuda_emu::enqueue_work(handle->stream, cc.name, [cc]() { convolution_execute(cc); });
    return e == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

// Refusal common to every call but Create/GetVersion/GetErrorString.
cudnnStatus_t entry_status(cudnnHandle_t handle) {
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return handle_status(handle);
}

}  // namespace

// ---------------------------------------------------------------- library

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
        case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case CUDNN_STATUS_ALLOC_FAILED: return "CUDNN_STATUS_ALLOC_FAILED";
        case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
        case CUDNN_STATUS_INVALID_VALUE: return "CUDNN_STATUS_INVALID_VALUE";
        case CUDNN_STATUS_ARCH_MISMATCH: return "CUDNN_STATUS_ARCH_MISMATCH";
        case CUDNN_STATUS_MAPPING_ERROR: return "CUDNN_STATUS_MAPPING_ERROR";
        case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
        case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
        case CUDNN_STATUS_LICENSE_ERROR: return "CUDNN_STATUS_LICENSE_ERROR";
        case CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING:
            return "CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING";
        case CUDNN_STATUS_RUNTIME_IN_PROGRESS: return "CUDNN_STATUS_RUNTIME_IN_PROGRESS";
        case CUDNN_STATUS_RUNTIME_FP_OVERFLOW: return "CUDNN_STATUS_RUNTIME_FP_OVERFLOW";
        case CUDNN_STATUS_VERSION_MISMATCH: return "CUDNN_STATUS_VERSION_MISMATCH";
    }
    return "CUDNN_STATUS_UNKNOWN";
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
    cuda_emu::ApiLock lock;
    if (handle) *handle = nullptr;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    // A context cannot be made on a device that has faulted.
    if (cuda_emu::sticky_error() != cudaSuccess) return CUDNN_STATUS_NOT_INITIALIZED;
    return create_object(handle);
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
    cuda_emu::ApiLock lock;
    cudnnStatus_t st = entry_status(handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    // Queued work captured what it needs, so it may outlive the handle.
    return destroy_object(handle);
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) {
    cuda_emu::ApiLock lock;
    cudnnStatus_t st = entry_status(handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (!cuda_emu::stream_valid(streamId)) return CUDNN_STATUS_BAD_PARAM;
    handle->stream = streamId;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* streamId) {
    cuda_emu::ApiLock lock;
    cudnnStatus_t st = entry_status(handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (!streamId) return CUDNN_STATUS_BAD_PARAM;
    *streamId = handle->stream;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- tensor descriptors

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return create_object(tensorDesc);
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return destroy_object(tensorDesc);
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc,
                                         cudnnTensorFormat_t format, cudnnDataType_t dataType,
                                         int n, int c, int h, int w) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(tensorDesc)) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_4d(dataType, format, n, c, h, w);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    cudnnTensorStruct& t = *tensorDesc;
    t.type = dataType;
    t.n = n, t.c = c, t.h = h, t.w = w;
    if (format == CUDNN_TENSOR_NCHW) {
        t.w_stride = 1, t.h_stride = w, t.c_stride = h * w, t.n_stride = c * h * w;
    } else {  // NHWC
        t.c_stride = 1, t.w_stride = c, t.h_stride = w * c, t.n_stride = h * w * c;
    }
    t.set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t tensorDesc,
                                           cudnnDataType_t dataType, int n, int c, int h, int w,
                                           int nStride, int cStride, int hStride, int wStride) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(tensorDesc)) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_4d(dataType, CUDNN_TENSOR_NCHW, n, c, h, w);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (nStride < 1 || cStride < 1 || hStride < 1 || wStride < 1) return CUDNN_STATUS_BAD_PARAM;
    long long last = (long long)(n - 1) * nStride + (long long)(c - 1) * cStride +
                     (long long)(h - 1) * hStride + (long long)(w - 1) * wStride;
    if (last >= INT_MAX) return CUDNN_STATUS_NOT_SUPPORTED;  // the 2 Giga-element limit
    cudnnTensorStruct& t = *tensorDesc;
    t.type = dataType;
    t.n = n, t.c = c, t.h = h, t.w = w;
    t.n_stride = nStride, t.c_stride = cStride, t.h_stride = hStride, t.w_stride = wStride;
    t.set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t tensorDesc,
                                         cudnnDataType_t* dataType, int* n, int* c, int* h, int* w,
                                         int* nStride, int* cStride, int* hStride, int* wStride) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(tensorDesc) || !tensorDesc->set) return CUDNN_STATUS_BAD_PARAM;
    if (!dataType || !n || !c || !h || !w || !nStride || !cStride || !hStride || !wStride)
        return CUDNN_STATUS_BAD_PARAM;
    const cudnnTensorStruct& t = *tensorDesc;
    *dataType = t.type;
    *n = t.n, *c = t.c, *h = t.h, *w = t.w;
    *nStride = t.n_stride, *cStride = t.c_stride, *hStride = t.h_stride, *wStride = t.w_stride;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- filter descriptors

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return create_object(filterDesc);
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return destroy_object(filterDesc);
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc,
                                         cudnnDataType_t dataType, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(filterDesc)) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_4d(dataType, format, k, c, h, w);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    cudnnFilterStruct& f = *filterDesc;
    f.type = dataType;
    f.format = format;
    f.k = k, f.c = c, f.r = h, f.s = w;
    f.set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetFilter4dDescriptor(const cudnnFilterDescriptor_t filterDesc,
                                         cudnnDataType_t* dataType, cudnnTensorFormat_t* format,
                                         int* k, int* c, int* h, int* w) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(filterDesc) || !filterDesc->set) return CUDNN_STATUS_BAD_PARAM;
    if (!dataType || !format || !k || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM;
    const cudnnFilterStruct& f = *filterDesc;
    *dataType = f.type;
    *format = f.format;
    *k = f.k, *c = f.c, *h = f.r, *w = f.s;
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- convolution descriptors

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return create_object(convDesc);
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    return destroy_object(convDesc);
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h,
                                              int pad_w, int u, int v, int dilation_h,
                                              int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(convDesc)) return CUDNN_STATUS_BAD_PARAM;
    if (pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0)
        return CUDNN_STATUS_BAD_PARAM;
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_BAD_PARAM;
    if (!data_type_valid(computeType)) return CUDNN_STATUS_BAD_PARAM;
    if (computeType != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    cudnnConvolutionStruct& cv = *convDesc;
    cv.pad_h = pad_h, cv.pad_w = pad_w, cv.stride_h = u, cv.stride_w = v;
    cv.dilation_h = dilation_h, cv.dilation_w = dilation_w;
    cv.mode = mode;
    cv.compute_type = computeType;
    cv.set = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dDescriptor(const cudnnConvolutionDescriptor_t convDesc,
                                              int* pad_h, int* pad_w, int* u, int* v,
                                              int* dilation_h, int* dilation_w,
                                              cudnnConvolutionMode_t* mode,
                                              cudnnDataType_t* computeType) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(convDesc) || !convDesc->set) return CUDNN_STATUS_BAD_PARAM;
    if (!pad_h || !pad_w || !u || !v || !dilation_h || !dilation_w || !mode || !computeType)
        return CUDNN_STATUS_BAD_PARAM;
    const cudnnConvolutionStruct& cv = *convDesc;
    *pad_h = cv.pad_h, *pad_w = cv.pad_w, *u = cv.stride_h, *v = cv.stride_w;
    *dilation_h = cv.dilation_h, *dilation_w = cv.dilation_w;
    *mode = cv.mode;
    *computeType = cv.compute_type;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc,
                                          cudnnMathType_t mathType) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(convDesc)) return CUDNN_STATUS_BAD_PARAM;
    if ((int)mathType < CUDNN_DEFAULT_MATH || (int)mathType > CUDNN_FMA_MATH)
        return CUDNN_STATUS_BAD_PARAM;
    convDesc->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc,
                                          cudnnMathType_t* mathType) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(convDesc) || !mathType) return CUDNN_STATUS_BAD_PARAM;
    *mathType = convDesc->math;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int groupCount) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(convDesc) || groupCount < 1) return CUDNN_STATUS_BAD_PARAM;
    if (groupCount != 1) return CUDNN_STATUS_NOT_SUPPORTED;  // not emulated
    convDesc->groups = groupCount;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc,
                                            int* groupCount) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!is_live(convDesc) || !groupCount) return CUDNN_STATUS_BAD_PARAM;
    *groupCount = convDesc->groups;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                    const cudnnTensorDescriptor_t inputTensorDesc,
                                                    const cudnnFilterDescriptor_t filterDesc,
                                                    int* n, int* c, int* h, int* w) {
    cuda_emu::ApiLock lock;
    if (library_unavailable()) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t st = check_input_and_filter(inputTensorDesc, filterDesc, convDesc);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (!n || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM;
    const cudnnConvolutionStruct& cv = *convDesc;
    *n = inputTensorDesc->n;
    *c = filterDesc->k;
    *h = output_dim(inputTensorDesc->h, cv.pad_h, filterDesc->r, cv.dilation_h, cv.stride_h);
    *w = output_dim(inputTensorDesc->w, cv.pad_w, filterDesc->s, cv.dilation_w, cv.stride_w);
    return CUDNN_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- algorithm queries

namespace {

cudnnStatus_t max_count(cudnnHandle_t handle, int* count, int value) {
    cudnnStatus_t st = entry_status(handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (!count) return CUDNN_STATUS_BAD_PARAM;
    *count = value;
    return CUDNN_STATUS_SUCCESS;
}

// Handle and shape checks of a query; the geometry on success.
cudnnStatus_t query_geometry(cudnnHandle_t handle, const cudnnTensorStruct* x,
                             const cudnnFilterStruct* w, const cudnnConvolutionStruct* conv,
                             const cudnnTensorStruct* y, ConvGeometry* g) {
    cudnnStatus_t st = entry_status(handle);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return conv_geometry(x, w, conv, y, g);
}

cudnnStatus_t workspace_query(Direction d, int algo, const ConvGeometry& g, size_t* sizeInBytes) {
    if (!sizeInBytes) return CUDNN_STATUS_BAD_PARAM;
    size_t bytes = 0;
    cudnnStatus_t st = algo_workspace(d, algo, g, &bytes, nullptr);
    if (st == CUDNN_STATUS_SUCCESS) *sizeInBytes = bytes;
    return st;
}

}  // namespace

cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
    cuda_emu::ApiLock lock;
    return max_count(handle, count, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
    cuda_emu::ApiLock lock;
    return max_count(handle, count, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
    cuda_emu::ApiLock lock;
    return max_count(handle, count, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t* perfResults) {
    cuda_emu::ApiLock lock;
    ConvGeometry g;
    cudnnStatus_t st = query_geometry(handle, srcDesc, filterDesc, convDesc, destDesc, &g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return write_heuristics<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
        Direction::kForward, g, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t* perfResults) {
    cuda_emu::ApiLock lock;
    ConvGeometry g;
    cudnnStatus_t st = query_geometry(handle, gradDesc, filterDesc, convDesc, diffDesc, &g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return write_heuristics<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
        Direction::kBackwardData, g, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t* perfResults) {
    cuda_emu::ApiLock lock;
    ConvGeometry g;
    cudnnStatus_t st = query_geometry(handle, srcDesc, gradDesc, convDesc, diffDesc, &g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return write_heuristics<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
        Direction::kBackwardFilter, g, requestedAlgoCount, returnedAlgoCount, perfResults);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,
    cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes) {
    cuda_emu::ApiLock lock;
    ConvGeometry g;
    cudnnStatus_t st = query_geometry(handle, xDesc, wDesc, convDesc, yDesc, &g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return workspace_query(Direction::kForward, algo, g, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes) {
    cuda_emu::ApiLock lock;
    ConvGeometry g;
    cudnnStatus_t st = query_geometry(handle, dxDesc, wDesc, convDesc, dyDesc, &g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return workspace_query(Direction::kBackwardData, algo, g, sizeInBytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes) {
    cuda_emu::ApiLock lock;
    ConvGeometry g;
    cudnnStatus_t st = query_geometry(handle, xDesc, gradDesc, convDesc, dyDesc, &g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    return workspace_query(Direction::kBackwardFilter, algo, g, sizeInBytes);
}

// ---------------------------------------------------------------- convolutions

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                      const cudnnTensorDescriptor_t xDesc, const void* x,
                                      const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc,
                                      cudnnConvolutionFwdAlgo_t algo, void* workSpace,
                                      size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
    cuda_emu::ApiLock lock;
    ConvCall cc = {};
    cc.name = "cudnnConvolutionForward";
    cc.direction = Direction::kForward;
    cudnnStatus_t st = query_geometry(handle, xDesc, wDesc, convDesc, yDesc, &cc.g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    cc.x = static_cast<float*>(const_cast<void*>(x));
    cc.w = static_cast<float*>(const_cast<void*>(w));
    cc.y = static_cast<float*>(y);
    cc.workspace = workSpace;
    return submit_convolution(handle, cc, algo, alpha, beta, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t wDesc, const void* w,
                                           const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                           size_t workSpaceSizeInBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxDesc, void* dx) {
    cuda_emu::ApiLock lock;
    ConvCall cc = {};
    cc.name = "cudnnConvolutionBackwardData";
    cc.direction = Direction::kBackwardData;
    cudnnStatus_t st = query_geometry(handle, dxDesc, wDesc, convDesc, dyDesc, &cc.g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    cc.x = static_cast<float*>(dx);
    cc.w = static_cast<float*>(const_cast<void*>(w));
    cc.y = static_cast<float*>(const_cast<void*>(dy));
    cc.workspace = workSpace;
    return submit_convolution(handle, cc, algo, alpha, beta, workSpaceSizeInBytes);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void* x,
                                             const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             const cudnnFilterDescriptor_t dwDesc, void* dw) {
    cuda_emu::ApiLock lock;
    ConvCall cc = {};
    cc.name = "cudnnConvolutionBackwardFilter";
    cc.direction = Direction::kBackwardFilter;
    cudnnStatus_t st = query_geometry(handle, xDesc, dwDesc, convDesc, dyDesc, &cc.g);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    cc.x = static_cast<float*>(const_cast<void*>(x));
    cc.w = static_cast<float*>(dw);
    cc.y = static_cast<float*>(const_cast<void*>(dy));
    cc.workspace = workSpace;
    return submit_convolution(handle, cc, algo, alpha, beta, workSpaceSizeInBytes);
}
