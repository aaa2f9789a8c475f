// Times the CPU backend's hot ops at the supernet's batch-128 shapes, forward
// and backward separately: a warm-up, then the median of repeated calls.
// Prints one machine-readable line per op,
//   RESULT op=<op> n=.. h=.. w=.. cin=.. cout=.. k=.. s=.. threads=.. fwd_ms=.. bwd_ms=..
//          fwd_min_ms=.. bwd_min_ms=.. fwd_flop=.. bwd_flop=..
// (medians, and minimums, which are steadier on a shared machine), which
// bench/bench_ops.py parses and times again in PyTorch.
//
//   bench_ops [--threads N] [--reps R] [--warmup W] [--filter SUBSTRING] [--case I] [--list]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "kernels/cpu/cpu_ops.h"

typedef enum { OP_DEPTHWISE, OP_POINTWISE, OP_CONV2D, OP_BATCHNORM, OP_RELU6 } OpKind;
static const char* kOpNames[] = {"depthwise", "pointwise", "conv2d", "batchnorm", "relu6"};

typedef struct BenchCase {
    OpKind op;
    int n, h, w, cin, cout, k, stride;
} BenchCase;

typedef struct Buffers {
    float *in, *out, *weight, *bias, *dout, *din, *dweight, *dbias, *scratch, *mean, *rstd;
} Buffers;

// ---- the benchmarked shapes ------------------------------------------------

enum { MAX_CASES = 128 };

static int add_case(BenchCase* cases, int count, BenchCase c) {
    if (count < MAX_CASES) cases[count++] = c;
    return count;
}

// Maps of the supernet's stages at batch 128: 28x28x24, 14x14x48, 7x7x96.
static int build_cases(BenchCase* cases) {
    static const int maps[3][2] = {{28, 24}, {14, 48}, {7, 96}};
    int count = 0;
    for (int m = 0; m < 3; m++)  // depthwise on the x3 / x6 expanded maps
        for (int e = 3; e <= 6; e += 3)
            for (int k = 3; k <= 7; k += 2)
                for (int s = 1; s <= 2; s++) {
                    int h = maps[m][0], c = maps[m][1] * e;
                    count = add_case(cases, count, (BenchCase){OP_DEPTHWISE, 128, h, h, c, c, k, s});
                }
    for (int m = 0; m < 3; m++) {  // pointwise expand x6 and project back
        int h = maps[m][0], c = maps[m][1];
        count = add_case(cases, count, (BenchCase){OP_POINTWISE, 128, h, h, c, 6 * c, 1, 1});
        count = add_case(cases, count, (BenchCase){OP_POINTWISE, 128, h, h, 6 * c, c, 1, 1});
    }
    // Dense: the stem, and fused-MBConv 3x3 expands.
    count = add_case(cases, count, (BenchCase){OP_CONV2D, 128, 28, 28, 1, 16, 3, 1});
    count = add_case(cases, count, (BenchCase){OP_CONV2D, 128, 28, 28, 24, 144, 3, 1});
    count = add_case(cases, count, (BenchCase){OP_CONV2D, 128, 14, 14, 48, 288, 3, 1});
    count = add_case(cases, count, (BenchCase){OP_BATCHNORM, 128, 28, 28, 144, 144, 1, 1});
    count = add_case(cases, count, (BenchCase){OP_RELU6, 128, 28, 28, 144, 144, 1, 1});
    return count;
}

static ConvShape conv_shape(const BenchCase* c) {
    int pad = c->op == OP_POINTWISE ? 0 : c->k / 2;
    return (ConvShape){c->n, c->h, c->w, c->cin, c->cout, c->k, c->stride, pad};
}

static long out_pixels(const BenchCase* c) {
    ConvShape s = conv_shape(c);
    return (long)c->n * conv_out_h(&s) * conv_out_w(&s);
}

// Nominal FLOPs: 2 per multiply-add; backward = input + weight gradients
// (twice the forward). BatchNorm and ReLU6 count a nominal 1 per element per
// pass over the data (BN forward 2 passes, backward 2), to compare rates.
static void case_flops(const BenchCase* c, double* fwd, double* bwd) {
    double px = (double)out_pixels(c), elems = (double)c->n * c->h * c->w * c->cin;
    *fwd = 0.0;
    switch (c->op) {
    case OP_DEPTHWISE: *fwd = 2.0 * px * c->cin * c->k * c->k; break;
    case OP_POINTWISE:
    case OP_CONV2D: *fwd = 2.0 * px * c->cout * c->k * c->k * c->cin; break;
    case OP_BATCHNORM: *fwd = 2.0 * elems; break;
    case OP_RELU6: *fwd = elems; break;
    }
    *bwd = c->op == OP_RELU6 ? elems : 2.0 * *fwd;
}

// ---- running one op --------------------------------------------------------

static float* alloc_random(size_t n, unsigned* seed) {
    float* p = alloc_cpu(NULL, n * sizeof(float));
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)(*seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
    return p;
}

static size_t scratch_floats(const OpContext* ctx, const BenchCase* c) {
    ConvShape s = conv_shape(c);
    switch (c->op) {
    case OP_DEPTHWISE: return depthwise_conv2d_scratch_floats(ctx, &s);
    case OP_CONV2D: return conv2d_scratch_floats(ctx, &s);
    case OP_BATCHNORM: return batchnorm_scratch_floats(ctx, c->cin);
    default: return 1;
    }
}

static int setup(const OpContext* ctx, const BenchCase* c, Buffers* b) {
    unsigned seed = 12345;
    size_t in_n = (size_t)c->n * c->h * c->w * c->cin;
    size_t out_n = (size_t)out_pixels(c) * c->cout;
    size_t w_n = (size_t)c->cout * c->k * c->k * (c->op == OP_DEPTHWISE ? 1 : c->cin);
    memset(b, 0, sizeof *b);
    b->in = alloc_random(in_n, &seed);
    b->din = alloc_random(in_n, &seed);
    b->out = alloc_random(out_n, &seed);
    b->dout = alloc_random(out_n, &seed);
    b->weight = alloc_random(w_n, &seed);
    b->dweight = alloc_random(w_n, &seed);
    b->bias = alloc_random(c->cout, &seed);
    b->dbias = alloc_random(c->cout, &seed);
    b->mean = alloc_random(c->cout, &seed);
    b->rstd = alloc_random(c->cout, &seed);
    b->scratch = alloc_random(scratch_floats(ctx, c), &seed);
    return b->in && b->din && b->out && b->dout && b->weight && b->dweight && b->bias &&
                   b->dbias && b->mean && b->rstd && b->scratch
               ? 0
               : -1;
}

static void release(Buffers* b) {
    float* all[] = {b->in,   b->out,   b->weight, b->bias, b->dout,   b->din,
                    b->dweight, b->dbias, b->scratch, b->mean, b->rstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) release_cpu(NULL, all[i]);
}

static void run_forward(const OpContext* ctx, const BenchCase* c, Buffers* b) {
    ConvShape s = conv_shape(c);
    long rows = (long)c->n * c->h * c->w;
    switch (c->op) {
    case OP_DEPTHWISE: depthwise_conv2d_forward_cpu(ctx, &s, b->out, b->in, b->weight); break;
    case OP_POINTWISE:
        linear_forward_cpu(ctx, b->out, b->in, b->weight, NULL, (int)rows, c->cin, c->cout);
        break;
    case OP_CONV2D: conv2d_forward_cpu(ctx, &s, b->out, b->in, b->weight, NULL, b->scratch); break;
    case OP_BATCHNORM:
        batchnorm_act_forward_train_cpu(ctx, ACT_NONE, b->out, b->in, b->weight, b->bias, b->mean,
                                        b->rstd, NULL, NULL, (int)rows, c->cin, 0.1f, 1e-5f);
        break;
    case OP_RELU6: activation_forward_cpu(ctx, ACT_RELU6, b->out, b->in, (size_t)rows * c->cin);
    }
}

static void run_backward(const OpContext* ctx, const BenchCase* c, Buffers* b) {
    ConvShape s = conv_shape(c);
    long rows = (long)c->n * c->h * c->w;
    switch (c->op) {
    case OP_DEPTHWISE:
        depthwise_conv2d_backward_cpu(ctx, &s, b->din, b->dweight, b->dout, b->in, b->weight,
                                      b->scratch);
        break;
    case OP_POINTWISE:
        linear_backward_cpu(ctx, b->din, b->dweight, NULL, b->dout, b->in, b->weight, (int)rows,
                            c->cin, c->cout);
        break;
    case OP_CONV2D:
        conv2d_backward_cpu(ctx, &s, b->din, b->dweight, NULL, b->dout, b->in, b->weight,
                            b->scratch);
        break;
    case OP_BATCHNORM:
        batchnorm_act_backward_cpu(ctx, ACT_NONE, b->din, b->dweight, b->dbias, b->dout, b->in,
                                   b->weight, NULL, b->mean, b->rstd, (int)rows, c->cin,
                                   b->scratch);
        break;
    case OP_RELU6:
        activation_backward_cpu(ctx, ACT_RELU6, b->din, b->dout, b->in, (size_t)rows * c->cin);
    }
}

// ---- timing ------------------------------------------------------------------

static double now_ms(void) { return 1e3 * clock_seconds(); }

static int compare_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

enum { MAX_REPS = 64 };

// Median and minimum milliseconds of `reps` calls after `warmup` untimed ones.
static void time_calls(const OpContext* ctx, const BenchCase* c, Buffers* b, int backward,
                       int warmup, int reps, double* median, double* min) {
    double t[MAX_REPS];
    for (int i = 0; i < warmup + reps; i++) {
        double start = now_ms();
        if (backward) run_backward(ctx, c, b);
        else run_forward(ctx, c, b);
        if (i >= warmup) t[i - warmup] = now_ms() - start;
    }
    qsort(t, (size_t)reps, sizeof t[0], compare_double);
    *median = t[reps / 2];
    *min = t[0];
}

static void format_spec(const BenchCase* c, char* buf, size_t size) {
    snprintf(buf, size, "op=%s n=%d h=%d w=%d cin=%d cout=%d k=%d s=%d", kOpNames[c->op], c->n,
             c->h, c->w, c->cin, c->cout, c->k, c->stride);
}

static int parse_args(int argc, char** argv, int* threads, int* reps, int* warmup,
                      const char** filter, int* only, int* list) {
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--threads") && has_value) *threads = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && has_value) *reps = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && has_value) *warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--filter") && has_value) *filter = argv[++i];
        else if (!strcmp(a, "--case") && has_value) *only = atoi(argv[++i]);
        else if (!strcmp(a, "--list")) *list = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--threads N] [--reps R] [--warmup W] [--filter S] [--case I] "
                    "[--list]\n",
                    argv[0]);
            return -1;
        }
    }
    if (*threads < 1 || *reps < 1 || *reps > MAX_REPS || *warmup < 0) {
        fprintf(stderr, "bench_ops: need threads >= 1, 1 <= reps <= %d, warmup >= 0\n", MAX_REPS);
        return -1;
    }
    return 0;
}

int main(int argc, char** argv) {
    int threads = 2, reps = 5, warmup = 2, list = 0, only = -1;
    const char* filter = NULL;
    if (parse_args(argc, argv, &threads, &reps, &warmup, &filter, &only, &list)) return 2;
    OpContext ctx = {threads, NULL};
    BenchCase cases[MAX_CASES];
    int count = build_cases(cases);
    for (int i = 0; i < count; i++) {
        char spec[160];
        format_spec(&cases[i], spec, sizeof spec);
        if ((filter && !strstr(spec, filter)) || (only >= 0 && only != i)) continue;
        if (list) {
            printf("CASE %d %s\n", i, spec);
            continue;
        }
        Buffers b;
        if (setup(&ctx, &cases[i], &b)) {
            fprintf(stderr, "bench_ops: out of memory for %s\n", spec);
            release(&b);
            return 1;
        }
        double fwd_flop, bwd_flop;
        case_flops(&cases[i], &fwd_flop, &bwd_flop);
        double fwd, fwd_min, bwd, bwd_min;
        time_calls(&ctx, &cases[i], &b, 0, warmup, reps, &fwd, &fwd_min);
        time_calls(&ctx, &cases[i], &b, 1, warmup, reps, &bwd, &bwd_min);
        printf("RESULT %s threads=%d fwd_ms=%.4f bwd_ms=%.4f fwd_min_ms=%.4f bwd_min_ms=%.4f "
               "fwd_flop=%.6g bwd_flop=%.6g\n",
               spec, threads, fwd, bwd, fwd_min, bwd_min, fwd_flop, bwd_flop);
        fflush(stdout);
        release(&b);
    }
    return 0;
}
