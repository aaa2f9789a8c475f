#include "search/latency.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/safe_file.h"
#include "search/check_stats.h"
#include "search/measure.h"
#include "search/speed_reference.h"
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

const char* latency_timing_note(const Supernet* sn) {
    if (!strcmp(sn->ops->name, "cuda"))
        return "CUDA-event timings on the compute stream, L2 cache flushed (a buffer of twice its size "
               "overwritten) before every timed run";
    return "wall-clock timings (CLOCK_MONOTONIC), caches warm between runs";
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

static MeasureOptions measure_options(const ProfileOptions* opt) {
    MeasureOptions m = {opt->warmup, opt->runs, opt->force};
    return m;
}

// Where --force let a busy machine be measured, the figures are suspect: one
// line says so (on stderr, even when quiet: it is about the result).
static void warn_busy(const char* what, int busy, int total, const char* why) {
    if (busy > 0)
        fprintf(stderr, "hwnas: warning: %s: %d of %d measurements made on a busy machine (%s); their figures are "
                        "likely too high\n", what, busy, total, why);
}

// ms[i] of the whole networks paths[i * n_layers ...], i < n, timed interleaved.
static int measure_paths(Supernet* sn, const int* paths, int n, const ProfileOptions* opt, double* ms,
                         MeasureResult* res, HwErr* err) {
    int L = sn->space.n_layers;
    // calloc: gcc -O2 cannot see that n >= 1 fills every item below.
    PathArg* args = calloc((size_t)n, sizeof(PathArg));
    MeasureItem* items = calloc((size_t)n, sizeof(MeasureItem));
    TimingSummary* out = calloc((size_t)n, sizeof(TimingSummary));
    int rc = -1;
    if (!args || !items || !out) {
        hw_runtime(err, NULL, 0, "out of memory");
    } else {
        for (int i = 0; i < n; i++) {
            args[i] = (PathArg){paths + (size_t)i * L, opt->batch};
            items[i] = (MeasureItem){run_path, &args[i]};
        }
        MeasureOptions m = measure_options(opt);
        rc = measure_items(sn, &m, items, n, out, res, err);
        for (int i = 0; rc == 0 && i < n; i++) ms[i] = out[i].ms;
    }
    free(args), free(items), free(out);
    return rc;
}

int latency_measure_path(Supernet* sn, const int* path, const ProfileOptions* opt, double* ms, HwErr* err) {
    MeasureResult res;
    if (measure_paths(sn, path, 1, opt, ms, &res, err) < 0) return -1;
    warn_busy("latency", res.busy, 1, res.why);
    return 0;
}

// Blocks timed alone run with their weights and activations hot in cache; in
// a whole network every block starts colder, so the plain sum under-predicts
// (by ~10-20% on this 2-core machine at batch 1). Measure CALIBRATION_PATHS
// random networks end to end (interleaved) and fit measured = scale * sum +
// offset (least squares, offset >= 0); `latency check` then tests it on
// other networks.
enum { CALIBRATION_PATHS = 20 };

static int calibrate(Supernet* sn, Lut* lut, const ProfileOptions* opt, MeasureResult* res, HwErr* err) {
    const Space* s = &sn->space;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, sum[CALIBRATION_PATHS], meas[CALIBRATION_PATHS];
    int* paths = malloc(sizeof(int) * CALIBRATION_PATHS * (size_t)s->n_layers);
    if (!paths) return hw_runtime(err, NULL, 0, "out of memory");
    fill_random(sn, sn->images, (size_t)opt->batch * s->in_h * s->in_w * s->in_c, 5);
    lut->scale = 1.0, lut->offset_ms = 0.0;
    int rc = 0;
    for (int i = 0; i < CALIBRATION_PATHS && rc == 0; i++) {
        sample_path(sn, 0xCA11B, (uint64_t)i, 0, NULL, paths + (size_t)i * s->n_layers);
        rc = latency_predict(lut, s, paths + (size_t)i * s->n_layers, &sum[i], err);
    }
    if (rc == 0) rc = measure_paths(sn, paths, CALIBRATION_PATHS, opt, meas, res, err);
    // The first networks, timed here with the rest, are the machine-speed
    // reference that `latency check` times again.
    if (rc == 0) {
        double ref_ms = 0;
        for (int i = 0; i < (int)SPEED_REF_PATHS; i++) ref_ms += meas[i];
        rc = speed_reference_set(lut, s, paths, SPEED_REF_PATHS, ref_ms, err);
    }
    free(paths);
    if (rc < 0) return -1;
    for (int i = 0; i < CALIBRATION_PATHS; i++)
        sx += sum[i], sy += meas[i], sxx += sum[i] * sum[i], sxy += sum[i] * meas[i];
    return lut_fit_calibration(sx, sy, sxx, sxy, CALIBRATION_PATHS, 0, &lut->scale, &lut->offset_ms, err);
}

// What the profile did, for the table's fields and the busy warning.
typedef struct ProfileTally {
    int measurements, busy, pinned;
    char why[200];
} ProfileTally;

static void tally(ProfileTally* t, const MeasureResult* r) {
    t->measurements++;
    t->pinned = t->measurements == 1 ? r->pinned : t->pinned && r->pinned;
    if (r->busy) t->busy++, snprintf(t->why, sizeof t->why, "%s", r->why);
}

// The key of item o at position p (0 stem, positions - 1 head, else layer p - 1).
static void position_key(const Supernet* sn, int p, int o, char* key) {
    if (p == 0) latency_stem_key(&sn->space, key, LUT_KEY_MAX);
    else if (p == supernet_positions(sn) - 1) latency_head_key(&sn->space, key, LUT_KEY_MAX);
    else latency_layer_key(&sn->space, p - 1, o, key, LUT_KEY_MAX);
}

// The blocks of position p, interleaved, into lut.
static int profile_position(Supernet* sn, int p, float* input, const ProfileOptions* opt, Lut* lut,
                            ProfileTally* t, HwErr* err) {
    int positions = supernet_positions(sn);
    int first = p == 0 ? 0 : (p == positions - 1 ? sn->n_blocks - 1 : sn->layer_first[p - 1]);
    int count = (p == 0 || p == positions - 1) ? 1 : sn->space.layers[p - 1].n_ops;
    BlockArg args[OP_POOL_SIZE];
    MeasureItem items[OP_POOL_SIZE];
    TimingSummary out[OP_POOL_SIZE];
    for (int o = 0; o < count; o++) {
        args[o] = (BlockArg){p, first + o, opt->batch, input};
        items[o] = (MeasureItem){run_block, &args[o]};
    }
    MeasureOptions m = measure_options(opt);
    MeasureResult res;
    if (measure_items(sn, &m, items, count, out, &res, err) < 0) return -1;
    tally(t, &res);
    for (int o = 0; o < count; o++) {
        char key[LUT_KEY_MAX];
        position_key(sn, p, o, key);
        if (!lut_find(lut, key) && lut_add(lut, key, out[o].ms, out[o].std, res.runs, err) < 0) return -1;
        if (!opt->quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "\rprofiling layer %d/%d  %-48s %.4f ms   ", p + 1, positions, key, out[o].ms);
    }
    return 0;
}

static float* profile_input(Supernet* sn, const ProfileOptions* opt) {
    size_t most = 0;
    for (int b = 0; b < sn->n_blocks; b++)
        if (slot_numel(&sn->blocks[b], 0, opt->batch) > most) most = slot_numel(&sn->blocks[b], 0, opt->batch);
    float* input = sn->ops->alloc(&sn->ctx, most * sizeof(float) + 64);
    if (input) fill_random(sn, input, most, 11);
    return input;
}

Lut* latency_profile(Supernet* sn, const ProfileOptions* opt, HwErr* err) {
    Lut* lut = lut_new();
    float* input = lut ? profile_input(sn, opt) : NULL;
    if (!lut || !input) {
        hw_runtime(err, NULL, 0, "out of memory for profiling");
        lut_free(lut);
        return NULL;
    }
    ProfileTally t;
    memset(&t, 0, sizeof t);
    int rc = 0;
    for (int p = 0; p < supernet_positions(sn) && rc == 0; p++) rc = profile_position(sn, p, input, opt, lut, &t, err);
    if (!opt->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    sn->ops->release(&sn->ctx, input);
    MeasureResult cal;
    if (rc == 0 && (rc = calibrate(sn, lut, opt, &cal, err)) == 0) tally(&t, &cal);
    if (rc < 0) return lut_free(lut), NULL;
    warn_busy("latency profile", t.busy, t.measurements, t.why);
    lut->threads = sn->ctx.threads;
    lut->batch = opt->batch;
    lut->timing = LUT_TIMING_Q20_ROUNDS;
    lut->pinned = strcmp(sn->ops->name, "cuda") ? t.pinned : -1;  // host threads do not time GPU kernels
    return lut;
}

// The reference networks of a check and their time in the table.
typedef struct CheckReference {
    int n;  // 0: the table has none (speed 1)
    int paths[SPEED_REF_PATHS * SPACE_MAX_LAYERS];
    double table_ms;
} CheckReference;

int latency_check_group_paths(Supernet* sn, const Lut* lut, uint64_t seed, int i0, int n, const int* ref, int ref_n,
                              int* paths, double* pred, HwErr* err) {
    const Space* s = &sn->space;
    for (int i = 0; i < n; i++) {
        sample_path(sn, seed, (uint64_t)(i0 + i), 0, NULL, paths + (size_t)i * s->n_layers);
        if (latency_predict(lut, s, paths + (size_t)i * s->n_layers, &pred[i], err) < 0) return -1;
    }
    memcpy(paths + (size_t)n * s->n_layers, ref, sizeof(int) * (size_t)ref_n * s->n_layers);
    return 0;
}

// Subnets i0 .. i0 + n - 1 of the check: predicted, then timed interleaved
// with the reference networks (after them in paths), whose time now over
// their time in the table is this group's speed factor.
static int check_group(Supernet* sn, const Lut* lut, uint64_t seed, int i0, int n, const ProfileOptions* opt,
                       const CheckReference* ref, int* paths, CheckSums* c, HwErr* err) {
    double pred[CHECK_GROUP], meas[CHECK_GROUP + SPEED_REF_PATHS];
    if (latency_check_group_paths(sn, lut, seed, i0, n, ref->paths, ref->n, paths, pred, err) < 0) return -1;
    MeasureResult res;
    if (measure_paths(sn, paths, n + ref->n, opt, meas, &res, err) < 0) return -1;
    if (res.busy) c->busy_groups++, snprintf(c->why, sizeof c->why, "%s", res.why);
    check_group_rows(&sn->space, paths, n, pred, meas, ref->n, ref->table_ms, c);
    return 0;
}

int latency_check(Supernet* sn, const Lut* lut, int samples, uint64_t seed, const ProfileOptions* opt,
                  const char* csv, CheckResult* out, HwErr* err) {
    const Space* s = &sn->space;
    memset(out, 0, sizeof *out);
    CheckReference ref = {0};
    if ((ref.n = speed_reference_paths(lut, s, ref.paths, err)) < 0) return -1;
    ref.table_ms = lut->reference_ms;
    int* paths = calloc((size_t)s->n_layers * (CHECK_GROUP + SPEED_REF_PATHS), sizeof(int));
    if (!paths) return hw_runtime(err, NULL, 0, "out of memory");
    CheckSums c;
    memset(&c, 0, sizeof c);
    c.table = check_table_open(csv, err);
    if (csv && !c.table) return free(paths), -1;
    fill_random(sn, sn->images, (size_t)opt->batch * s->in_h * s->in_w * s->in_c, 5);
    int rc = 0;
    for (int i = 0; i < samples && rc == 0; i += CHECK_GROUP) {
        int n = samples - i < CHECK_GROUP ? samples - i : CHECK_GROUP;
        rc = check_group(sn, lut, seed, i, n, opt, &ref, paths, &c, err);
        if (rc == 0 && !opt->quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "\rchecking %d/%d  within 10%%: %d   ", c.done, samples, c.within);
    }
    if (!opt->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    check_result(&c, samples, ref.n, out);
    free(paths);
    rc = check_table_close(c.table, rc, err);
    // After the table: a failing command's stderr stays its one error line.
    if (rc == 0) warn_busy("latency check", c.busy_groups, c.groups, c.why);
    return rc;
}
