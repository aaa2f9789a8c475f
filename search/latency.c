#include "search/latency.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/safe_file.h"
#include "supernet/trainer.h"

static void stem_out(const Space* s, int* h, int* w, int* c) {
    *h = conv_out_size(s->in_h, s->stem.kernel, s->stem.stride, s->stem.kernel / 2);
    *w = conv_out_size(s->in_w, s->stem.kernel, s->stem.stride, s->stem.kernel / 2);
    *c = s->stem.has_first ? s->stem.first_out_c : s->stem.out_c;
}

static void layer_out(const Space* s, int l, int* h, int* w) {
    const SpaceLayer* L = &s->layers[l];
    *h = conv_out_size(L->in_h, 3, L->stride, 1);
    *w = conv_out_size(L->in_w, 3, L->stride, 1);
}

int latency_stem_key(const Space* s, char* out, size_t cap) {
    int h, w, c;
    stem_out(s, &h, &w, &c);
    return lut_stem_key(out, cap, s->in_h, s->in_w, s->in_c, h, w, c);
}

int latency_layer_key(const Space* s, int layer, int op, char* out, size_t cap) {
    const SpaceLayer* L = &s->layers[layer];
    int h, w;
    layer_out(s, layer, &h, &w);
    return lut_block_key(out, cap, L->names[op], L->in_h, L->in_w, L->in_c, h, w, L->out_c, L->stride);
}

int latency_head_key(const Space* s, char* out, size_t cap) {
    int h, w;
    layer_out(s, s->n_layers - 1, &h, &w);
    return lut_head_key(out, cap, h, w, s->layers[s->n_layers - 1].out_c, s->classes);
}

// Roofline estimate of a block at batch 1: MACs*2 and the bytes of its
// input, output and weights.
static double analytic_block_ms(const Lut* lut, const Block* b) {
    double bytes = 4.0 * (double)b->param_floats;
    bytes += 4.0 * (double)slot_numel(b, 0, 1) + 4.0 * (double)slot_numel(b, b->output, 1);
    return lut_analytic_ms(lut, 2.0 * b->macs, bytes);
}

// position: -1 stem, n_layers head, else a layer.
static int block_for(const Space* s, int position, int op, Block* b) {
    const char* why = NULL;
    if (position < 0)
        return block_build_stem(b, s->in_h, s->in_w, s->in_c, s->stem.out_c, s->stem.kernel, s->stem.stride,
                                s->stem.act, s->stem.has_first ? &s->stem.first : NULL, s->stem.first_out_c, &why);
    if (position == s->n_layers) {
        int h, w;
        layer_out(s, s->n_layers - 1, &h, &w);
        return block_build_head(b, h, w, s->layers[s->n_layers - 1].out_c, s->head.features, s->head.act, s->classes,
                                &why);
    }
    const SpaceLayer* L = &s->layers[position];
    return block_build_operator(b, &L->ops[op], L->in_h, L->in_w, L->in_c, L->out_c, L->stride, s->block_act, &why);
}

static int lookup(const Lut* lut, const Space* s, int position, int op, const char* key, double* ms, HwErr* err) {
    const LutEntry* e = lut_find(lut, key);
    if (e) {
        *ms = e->mean;
        return 0;
    }
    if (position >= 0 && position < s->n_layers && s->layers[position].ops[op].family == OPF_SKIP) {
        *ms = 0;
        return 0;
    }
    if (lut->method == LUT_ANALYTIC) {
        Block* b = malloc(sizeof(Block));
        if (!b || block_for(s, position, op, b) < 0) {
            free(b);
            return hw_runtime(err, NULL, 0, "cannot build %s for the analytic model", key);
        }
        *ms = analytic_block_ms(lut, b);
        free(b);
        return 0;
    }
    return lut_lookup(lut, key, ms, err);  // the error names the key and the file
}

int latency_of_layer_op(const Lut* lut, const Space* s, int layer, int op, double* ms, HwErr* err) {
    char key[LUT_KEY_MAX];
    if (layer < 0) latency_stem_key(s, key, sizeof key);
    else if (layer >= s->n_layers) latency_head_key(s, key, sizeof key);
    else latency_layer_key(s, layer, op, key, sizeof key);
    return lookup(lut, s, layer < 0 ? -1 : layer, op, key, ms, err);
}

int latency_predict(const Lut* lut, const Space* s, const int* ops, double* ms, HwErr* err) {
    double total = 0, part;
    if (latency_of_layer_op(lut, s, -1, 0, &part, err) < 0) return -1;
    total += part;
    for (int l = 0; l < s->n_layers; l++) {
        if (latency_of_layer_op(lut, s, l, ops[l], &part, err) < 0) return -1;
        total += part;
    }
    if (latency_of_layer_op(lut, s, s->n_layers, 0, &part, err) < 0) return -1;
    *ms = lut->scale * (total + part) + lut->offset_ms;
    return 0;
}

int latency_model_predict(const void* model, const int* path, double* ms) {
    const LatencyModel* m = model;
    HwErr ignore = {0};
    return latency_predict(m->lut, m->space, path, ms, &ignore);
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

const char* latency_timing_note(const Supernet* sn) {
    if (!strcmp(sn->ops->name, "cuda"))
        return "CUDA-event timings on the compute stream, L2 cache flushed (a buffer of twice its size "
               "overwritten) before every timed run";
    return "wall-clock timings (CLOCK_MONOTONIC), caches warm between runs";
}

// Median and standard deviation of the timed runs of `run`; median -1 when
// the backend failed.
typedef struct Timing {
    double median, std;
} Timing;

// The backend's timer around each run: wall time on the CPU, CUDA events on
// the GPU. flush_cache comes before the timer starts (a no-op on the CPU,
// whose tables time warm runs and are corrected by `calibrate`).
static Timing time_runs(Supernet* sn, const ProfileOptions* opt, double* samples,
                        void (*run)(Supernet*, void*), void* arg) {
    const Ops* ops = sn->ops;
    Timing failed = {-1, 0};
    for (int i = 0; i < opt->warmup; i++) run(sn, arg);
    if (ops->synchronize(&sn->ctx) < 0) return failed;
    double sum = 0, sq = 0;
    for (int i = 0; i < opt->runs; i++) {
        OpTimer timer;
        if (ops->flush_cache(&sn->ctx) < 0 || ops->timer_begin(&sn->ctx, &timer) < 0) return failed;
        run(sn, arg);
        samples[i] = ops->timer_end_ms(&sn->ctx, &timer);
        if (samples[i] < 0) return failed;
        sum += samples[i];
    }
    double mean = sum / opt->runs;
    for (int i = 0; i < opt->runs; i++) sq += (samples[i] - mean) * (samples[i] - mean);
    qsort(samples, (size_t)opt->runs, sizeof(double), compare_doubles);
    Timing t = {samples[opt->runs / 2], opt->runs > 1 ? sqrt(sq / (opt->runs - 1)) : 0};
    return t;
}

typedef struct BlockArg {
    int position, block, batch;
    float* input;
} BlockArg;

static void run_block(Supernet* sn, void* p) {
    BlockArg* a = p;
    supernet_block_forward(sn, a->position, a->block, a->input, a->batch, MODE_EVAL);
}

typedef struct PathArg {
    const int* path;
    int batch;
} PathArg;

static void run_path(Supernet* sn, void* p) {
    PathArg* a = p;
    supernet_forward(sn, a->path, a->batch, MODE_EVAL, 0);
}

static void fill_random(Supernet* sn, float* dst, size_t n, uint64_t seed) {
    float* host = malloc(n * sizeof(float));
    if (!host) return;
    Rng rng;
    rng_seed(&rng, seed, 1, 2, 3);
    for (size_t i = 0; i < n; i++) host[i] = rng_normal(&rng);
    sn->ops->upload(&sn->ctx, dst, host, n * sizeof(float));
    free(host);
}

double latency_measure_path(Supernet* sn, const int* path, const ProfileOptions* opt);

// Blocks timed alone run with their weights and activations hot in cache; in
// a whole network every block starts colder, so the plain sum under-predicts
// (by ~10-20% on this 2-core machine at batch 1). Measure CALIBRATION_PATHS
// random networks end to end and fit measured = scale * sum + offset (least
// squares, offset >= 0); `latency check` then tests it on other networks.
enum { CALIBRATION_PATHS = 20 };

static int calibrate(Supernet* sn, Lut* lut, const ProfileOptions* opt, HwErr* err) {
    const Space* s = &sn->space;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int path[SPACE_MAX_LAYERS];
    fill_random(sn, sn->images, (size_t)opt->batch * s->in_h * s->in_w * s->in_c, 5);
    lut->scale = 1.0, lut->offset_ms = 0.0;
    for (int i = 0; i < CALIBRATION_PATHS; i++) {
        sample_path(sn, 0xCA11B, (uint64_t)i, 0, NULL, path);
        double sum, meas;
        if (latency_predict(lut, s, path, &sum, err) < 0) return -1;
        meas = latency_measure_path(sn, path, opt);
        if (meas < 0) return hw_runtime(err, NULL, 0, "backend error while timing a whole network");
        sx += sum, sy += meas, sxx += sum * sum, sxy += sum * meas;
    }
    double n = CALIBRATION_PATHS, var = sxx - sx * sx / n;
    double scale = var > 0 ? (sxy - sx * sy / n) / var : sy / sx;
    double offset = (sy - scale * sx) / n;
    if (offset < 0 || scale <= 0) scale = sxy / sxx, offset = 0;  // through the origin
    lut->scale = scale, lut->offset_ms = offset;
    return 0;
}

Lut* latency_profile(Supernet* sn, const ProfileOptions* opt, HwErr* err) {
    const Space* s = &sn->space;
    Lut* lut = lut_new();
    double* samples = malloc(sizeof(double) * (size_t)opt->runs);
    size_t most = 0;
    for (int b = 0; b < sn->n_blocks; b++)
        if (slot_numel(&sn->blocks[b], 0, opt->batch) > most) most = slot_numel(&sn->blocks[b], 0, opt->batch);
    float* input = sn->ops->alloc(&sn->ctx, most * sizeof(float) + 64);
    if (!lut || !samples || !input) {
        hw_runtime(err, NULL, 0, "out of memory for profiling");
        goto fail;
    }
    fill_random(sn, input, most, 11);
    int positions = supernet_positions(sn), total = sn->n_blocks, done = 0;
    for (int p = 0; p < positions; p++) {
        int first = p == 0 ? 0 : (p == positions - 1 ? sn->n_blocks - 1 : sn->layer_first[p - 1]);
        int count = (p == 0 || p == positions - 1) ? 1 : s->layers[p - 1].n_ops;
        for (int o = 0; o < count; o++) {
            char key[LUT_KEY_MAX];
            if (p == 0) latency_stem_key(s, key, sizeof key);
            else if (p == positions - 1) latency_head_key(s, key, sizeof key);
            else latency_layer_key(s, p - 1, o, key, sizeof key);
            BlockArg arg = {p, first + o, opt->batch, input};
            Timing t = time_runs(sn, opt, samples, run_block, &arg);
            if (t.median < 0) {
                hw_runtime(err, NULL, 0, "backend error while timing %s", key);
                goto fail;
            }
            if (!lut_find(lut, key) && lut_add(lut, key, t.median, t.std, opt->runs, err) < 0) goto fail;
            done++;
            if (!opt->quiet && isatty(STDERR_FILENO))
                fprintf(stderr, "\rprofiling %d/%d  %-48s %.4f ms   ", done, total, key, t.median);
        }
    }
    if (!opt->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    sn->ops->release(&sn->ctx, input);
    free(samples);
    if (calibrate(sn, lut, opt, err) < 0) {
        lut_free(lut);
        return NULL;
    }
    return lut;
fail:
    if (input) sn->ops->release(&sn->ctx, input);
    free(samples);
    lut_free(lut);
    return NULL;
}

double latency_measure_path(Supernet* sn, const int* path, const ProfileOptions* opt) {
    double* samples = malloc(sizeof(double) * (size_t)opt->runs);
    if (!samples) return -1;
    PathArg arg = {path, opt->batch};
    Timing t = time_runs(sn, opt, samples, run_path, &arg);
    free(samples);
    return t.median;
}

// The optional table of a check (--csv): a SafeFile, so a link at its name
// is replaced, not followed, and a full disk is an error.
static SafeFile* open_check_table(const char* csv, HwErr* err) {
    if (!csv) return NULL;
    SafeFile* f = malloc(sizeof *f);
    if (!f) {
        hw_runtime(err, csv, 0, "out of memory");
        return NULL;
    }
    if (safe_file_begin(f, csv, err) < 0) {
        free(f);
        return NULL;
    }
    safe_file_printf(f, "ops,predicted_ms,measured_ms,error_pct\n");
    return f;
}

// Commits (rc 0) or abandons the table; returns rc, or -1 when the commit fails.
static int close_check_table(SafeFile* f, int rc, HwErr* err) {
    if (!f) return rc;
    if (rc == 0) rc = safe_file_commit(f, err);
    else safe_file_abort(f);
    free(f);
    return rc;
}

int latency_check(Supernet* sn, const Lut* lut, int samples, uint64_t seed, const ProfileOptions* opt,
                  const char* csv, CheckResult* out, HwErr* err) {
    const Space* s = &sn->space;
    memset(out, 0, sizeof *out);
    int* path = calloc((size_t)s->n_layers, sizeof(int));
    if (!path) return hw_runtime(err, NULL, 0, "out of memory");
    SafeFile* table = open_check_table(csv, err);
    if (csv && !table) {
        free(path);
        return -1;
    }
    fill_random(sn, sn->images, (size_t)opt->batch * s->in_h * s->in_w * s->in_c, 5);
    int within = 0, rc = 0;
    double abs_sum = 0, bias_sum = 0;
    for (int i = 0; i < samples && rc == 0; i++) {
        sample_path(sn, seed, (uint64_t)i, 0, NULL, path);
        double pred, meas;
        if (latency_predict(lut, s, path, &pred, err) < 0) {
            rc = -1;
            break;
        }
        meas = latency_measure_path(sn, path, opt);
        if (meas < 0) {
            rc = hw_runtime(err, NULL, 0, "backend error while timing a whole network");
            break;
        }
        double rel = (pred - meas) / meas;
        within += fabs(rel) <= 0.10;
        abs_sum += fabs(rel);
        bias_sum += rel;
        if (table) {
            for (int l = 0; l < s->n_layers; l++) safe_file_printf(table, "%s%s", l ? " " : "", s->layers[l].names[path[l]]);
            safe_file_printf(table, ",%.5f,%.5f,%.2f\n", pred, meas, 100 * rel);
        }
        if (!opt->quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "\rchecking %d/%d  predicted %.3f ms measured %.3f ms   ", i + 1, samples, pred, meas);
    }
    if (!opt->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    out->samples = samples;
    out->within10 = samples ? (double)within / samples : 0;
    out->mape = samples ? 100 * abs_sum / samples : 0;
    out->mean_bias = samples ? 100 * bias_sum / samples : 0;
    free(path);
    return close_check_table(table, rc, err);
}
