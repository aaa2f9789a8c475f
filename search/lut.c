// Latency lookup tables: keys, the hash index, YAML reading and writing, and
// the analytic roofline model. See lut.h for the file format and key grammar.
#include "search/lut.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/yaml_tree.h"

#define LUT_MAX_DIM LIMIT_LUT_DIM  // any dimension or class count above is a typo

static const char* const kMethodNames[] = {"measured", "imported", "analytic"};

const char* lut_method_name(LutMethod m) {
    return (m >= LUT_MEASURED && m <= LUT_ANALYTIC) ? kMethodNames[m] : "unknown";
}

static const char* const kTimingNames[] = {"", "median", "q20-rounds"};

const char* lut_timing_name(LutTiming t) {
    return (t >= LUT_TIMING_UNSTATED && t <= LUT_TIMING_Q20_ROUNDS) ? kTimingNames[t] : "";
}

// ---------------------------------------------------------------- keys

static int valid_op_name(const char* op) {
    size_t n = strlen(op);
    if (n == 0 || n >= LUT_OP_MAX || !strcmp(op, "stem") || !strcmp(op, "head")) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = op[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

static int valid_dims(const int* v, int n) {
    for (int i = 0; i < n; i++)
        if (v[i] < 1 || v[i] > LUT_MAX_DIM) return 0;
    return 1;
}

static int fits(int written, size_t cap) { return written > 0 && (size_t)written < cap ? 0 : -1; }

int lut_block_key(char* out, size_t cap, const char* op, int ih, int iw, int ic, int oh, int ow,
                  int oc, int stride) {
    int dims[7] = {ih, iw, ic, oh, ow, oc, stride};
    if (!op || !valid_op_name(op) || !valid_dims(dims, 7)) return -1;
    return fits(snprintf(out, cap, "%s-in:%dx%dx%d-out:%dx%dx%d-s:%d", op, ih, iw, ic, oh, ow, oc,
                         stride),
                cap);
}

int lut_stem_key(char* out, size_t cap, int ih, int iw, int ic, int oh, int ow, int oc) {
    int dims[6] = {ih, iw, ic, oh, ow, oc};
    if (!valid_dims(dims, 6)) return -1;
    return fits(snprintf(out, cap, "stem-in:%dx%dx%d-out:%dx%dx%d", ih, iw, ic, oh, ow, oc), cap);
}

int lut_head_key(char* out, size_t cap, int ih, int iw, int ic, int classes) {
    int dims[4] = {ih, iw, ic, classes};
    if (!valid_dims(dims, 4)) return -1;
    return fits(snprintf(out, cap, "head-in:%dx%dx%d-out:%d", ih, iw, ic, classes), cap);
}

// Reads digits into *v; returns the position after them or NULL.
static const char* parse_number(const char* p, int* v) {
    long x = 0;
    const char* start = p;
    while (*p >= '0' && *p <= '9' && p - start < 8) x = x * 10 + (*p++ - '0');
    if (p == start) return NULL;
    *v = (int)x;
    return p;
}

static const char* parse_shape(const char* p, int* h, int* w, int* c) {
    if (!(p = parse_number(p, h)) || *p++ != 'x') return NULL;
    if (!(p = parse_number(p, w)) || *p++ != 'x') return NULL;
    return parse_number(p, c);
}

// Loose parse, then a rebuild that must give the same text: this rejects
// leading zeros, signs, spaces and anything else non-canonical.
int lut_parse_key(const char* key, LutKey* out) {
    LutKey k;
    memset(&k, 0, sizeof k);
    const char* dash = key ? strstr(key, "-in:") : NULL;
    if (!dash || dash == key || (size_t)(dash - key) >= LUT_OP_MAX) return -1;
    memcpy(k.op, key, (size_t)(dash - key));
    const char* p = parse_shape(dash + 4, &k.in_h, &k.in_w, &k.in_c);
    if (!p || strncmp(p, "-out:", 5) != 0) return -1;
    p += 5;
    char canon[LUT_KEY_MAX];
    int rc;
    if (!strcmp(k.op, "head")) {
        k.kind = LUT_KEY_HEAD;
        if (!(p = parse_number(p, &k.out_c))) return -1;
        k.out_h = k.out_w = 1;
        rc = lut_head_key(canon, sizeof canon, k.in_h, k.in_w, k.in_c, k.out_c);
    } else if (!strcmp(k.op, "stem")) {
        k.kind = LUT_KEY_STEM;
        if (!(p = parse_shape(p, &k.out_h, &k.out_w, &k.out_c))) return -1;
        rc = lut_stem_key(canon, sizeof canon, k.in_h, k.in_w, k.in_c, k.out_h, k.out_w, k.out_c);
    } else {
        k.kind = LUT_KEY_BLOCK;
        if (!(p = parse_shape(p, &k.out_h, &k.out_w, &k.out_c))) return -1;
        if (strncmp(p, "-s:", 3) != 0 || !parse_number(p + 3, &k.stride)) return -1;
        rc = lut_block_key(canon, sizeof canon, k.op, k.in_h, k.in_w, k.in_c, k.out_h, k.out_w,
                           k.out_c, k.stride);
    }
    if (rc != 0 || strcmp(canon, key) != 0) return -1;
    if (out) *out = k;
    return 0;
}

// ---------------------------------------------------------------- table

Lut* lut_new(void) {
    Lut* lut = calloc(1, sizeof *lut);
    if (lut) lut->method = LUT_MEASURED, lut->scale = 1.0, lut->pinned = -1;
    return lut;
}

void lut_free(Lut* lut) {
    if (!lut) return;
    for (int i = 0; i < lut->count; i++) free(lut->entries[i].key);
    free(lut->entries);
    free(lut->slots);
    free(lut);
}

static uint64_t key_hash(const char* s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

// The slot holding key, or the empty slot where it would go.
static size_t find_slot(const Lut* lut, const char* key) {
    size_t mask = lut->slot_cap - 1;
    size_t s = (size_t)key_hash(key) & mask;
    while (lut->slots[s] >= 0 && strcmp(lut->entries[lut->slots[s]].key, key) != 0)
        s = (s + 1) & mask;
    return s;
}

// Keeps the index at most half full so probes stay short.
static int grow_index(Lut* lut, int need) {
    if (lut->slot_cap >= (size_t)need * 2 && lut->slot_cap) return 0;
    size_t cap = 64;
    while (cap < (size_t)need * 2) cap *= 2;
    int* slots = malloc(cap * sizeof *slots);
    if (!slots) return -1;
    free(lut->slots);
    lut->slots = slots;
    lut->slot_cap = cap;
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    for (int i = 0; i < lut->count; i++) slots[find_slot(lut, lut->entries[i].key)] = i;
    return 0;
}

const LutEntry* lut_find(const Lut* lut, const char* key) {
    if (!lut || !key || lut->slot_cap == 0) return NULL;
    int i = lut->slots[find_slot(lut, key)];
    return i >= 0 ? &lut->entries[i] : NULL;
}

int lut_add(Lut* lut, const char* key, double mean_ms, double std_ms, int n, HwErr* err) {
    const char* file = lut->path[0] ? lut->path : NULL;
    if (lut_parse_key(key, NULL) != 0)
        return hw_bad_input(err, file, 0,
                            "latency key '%.200s' does not follow the key grammar, expected "
                            "OP-in:HxWxC-out:HxWxC-s:S, stem-in:HxWxC-out:HxWxC or head-in:HxWxC-out:N",
                            key);
    if (!isfinite(mean_ms) || mean_ms < 0 || !isfinite(std_ms) || std_ms < 0 || n < 0)
        return hw_bad_input(err, file, 0,
                            "%s: found mean %g ms, std %g ms, n %d, expected finite values >= 0",
                            key, mean_ms, std_ms, n);
    if (lut_find(lut, key))
        return hw_bad_input(err, file, 0, "duplicate latency key '%s', expected each key once", key);
    if (lut->count == lut->cap) {
        int cap = lut->cap ? lut->cap * 2 : 256;
        LutEntry* e = realloc(lut->entries, (size_t)cap * sizeof *e);
        if (!e) return hw_runtime(err, file, 0, "out of memory");
        lut->entries = e;
        lut->cap = cap;
    }
    char* copy = strdup(key);
    if (!copy || grow_index(lut, lut->count + 1)) {
        free(copy);
        return hw_runtime(err, file, 0, "out of memory");
    }
    lut->entries[lut->count] = (LutEntry){copy, mean_ms, std_ms, n};
    lut->slots[find_slot(lut, key)] = lut->count;
    lut->count++;
    return 0;
}

int lut_lookup(const Lut* lut, const char* key, double* ms, HwErr* err) {
    const LutEntry* e = lut_find(lut, key);
    if (!e)
        return hw_bad_input(err, lut->path[0] ? lut->path : "latency target", 0,
                            "no entry for '%s', expected the target to cover every operator and "
                            "shape of the search space (re-profile or use another target)",
                            key);
    *ms = e->mean;
    return 0;
}

double lut_analytic_ms(const Lut* lut, double flops, double bytes) {
    if (!lut || lut->method != LUT_ANALYTIC || lut->peak_gflops <= 0 || lut->bandwidth_gbs <= 0)
        return -1.0;
    double compute_ms = flops / (lut->peak_gflops * 1e9) * 1e3;
    double memory_ms = bytes / (lut->bandwidth_gbs * 1e9) * 1e3;
    return (compute_ms > memory_ms ? compute_ms : memory_ms) + lut->overhead_ms;
}

// ---------------------------------------------------------------- reading

static const char* const kTopKeys[] = {"device",  "unit",        "method",        "source",
                                       "date",    "hwnas_version", "threads",     "batch",
                                       "notes",   "entries",     "peak_gflops",   "bandwidth_gbs",
                                       "overhead_ms", "scale",       "offset_ms",     "timing",
                                       "pinned",  "runtime", "reference_ops", "reference_ms", NULL};
static const char* const kEntryKeys[] = {"mean", "std", "n", NULL};

static int read_required_string(const YamlDoc* d, const char* key, char* out, size_t cap,
                                HwErr* err) {
    const YamlNode* n = yaml_get(d->root, key);
    if (!n)
        return hw_bad_input(err, d->path, d->root->line, "missing key '%s', expected a latency "
                            "target with device, unit, method and source", key);
    return yaml_string(d, n, key, out, cap, err);
}

static int read_optional_string(const YamlDoc* d, const char* key, char* out, size_t cap,
                                HwErr* err) {
    const YamlNode* n = yaml_get(d->root, key);
    return n ? yaml_string(d, n, key, out, cap, err) : 0;
}

static int read_optional_int(const YamlDoc* d, const char* key, long hi, int* out, HwErr* err) {
    const YamlNode* n = yaml_get(d->root, key);
    long v = 0;
    if (n && yaml_int(d, n, key, 0, hi, &v, err)) return -1;
    *out = (int)v;
    return 0;
}

static int read_method(const YamlDoc* d, Lut* lut, HwErr* err) {
    char unit[16], method[16];
    if (read_required_string(d, "unit", unit, sizeof unit, err)) return -1;
    if (strcmp(unit, "ms") != 0)
        return hw_bad_input(err, d->path, yaml_get(d->root, "unit")->line,
                            "unit: found '%s', expected ms", unit);
    if (read_required_string(d, "method", method, sizeof method, err)) return -1;
    for (int m = LUT_MEASURED; m <= LUT_ANALYTIC; m++)
        if (!strcmp(method, kMethodNames[m])) {
            lut->method = (LutMethod)m;
            return 0;
        }
    return hw_bad_input(err, d->path, yaml_get(d->root, "method")->line,
                        "method: found '%.60s', expected measured, imported or analytic", method);
}

// How the entries were timed; both keys are optional (older tables and
// imported ones do not say).
static int read_timing(const YamlDoc* d, Lut* lut, HwErr* err) {
    const YamlNode* n = yaml_get(d->root, "timing");
    if (n) {
        char word[32];
        if (yaml_string(d, n, "timing", word, sizeof word, err)) return -1;
        int t = LUT_TIMING_MEDIAN;
        while (t <= LUT_TIMING_Q20_ROUNDS && strcmp(word, kTimingNames[t])) t++;
        if (t > LUT_TIMING_Q20_ROUNDS)
            return hw_bad_input(err, d->path, n->line, "timing: found '%.40s', expected median or q20-rounds", word);
        lut->timing = (LutTiming)t;
    }
    n = yaml_get(d->root, "pinned");
    return n ? yaml_bool(d, n, "pinned", &lut->pinned, err) : 0;
}

// peak_gflops and bandwidth_gbs are required for analytic targets and
// meaningless (so rejected) for the others.
static int read_analytic(const YamlDoc* d, Lut* lut, HwErr* err) {
    static const char* const keys[] = {"peak_gflops", "bandwidth_gbs", "overhead_ms"};
    double* values[] = {&lut->peak_gflops, &lut->bandwidth_gbs, &lut->overhead_ms};
    for (int i = 0; i < 3; i++) {
        const YamlNode* n = yaml_get(d->root, keys[i]);
        if (n && lut->method != LUT_ANALYTIC)
            return hw_bad_input(err, d->path, n->line, "%s: found in a %s target, expected it only "
                                "with method: analytic", keys[i], lut_method_name(lut->method));
        if (!n && lut->method == LUT_ANALYTIC && i < 2)
            return hw_bad_input(err, d->path, d->root->line,
                                "missing key '%s', expected it with method: analytic", keys[i]);
        if (n && yaml_float(d, n, keys[i], i < 2 ? 1e-9 : 0.0, 1e12, values[i], err)) return -1;
    }
    return 0;
}

static int read_entry(const YamlDoc* d, const char* key, int key_line, const YamlNode* v, Lut* lut,
                      HwErr* err) {
    char what[LUT_KEY_MAX + 16];
    snprintf(what, sizeof what, "entries.%s", key);
    if (!v || v->kind != YAML_MAPPING)
        return hw_bad_input(err, d->path, v ? v->line : key_line,
                            "%s: found %s, expected a mapping {mean: ms, std: ms, n: count}", what,
                            v && v->kind == YAML_SEQUENCE ? "a sequence" : "a scalar");
    if (yaml_check_keys(d, v, what, kEntryKeys, err)) return -1;
    const YamlNode* mean = yaml_get(v, "mean");
    if (!mean)
        return hw_bad_input(err, d->path, v->line, "%s: missing mean, expected {mean: ms, ...}",
                            what);
    double ms = 0, sd = 0;
    long n = 0;
    snprintf(what, sizeof what, "entries.%s.mean", key);
    if (yaml_float(d, mean, what, 0.0, 1e12, &ms, err)) return -1;
    const YamlNode* node = yaml_get(v, "std");
    snprintf(what, sizeof what, "entries.%s.std", key);
    if (node && yaml_float(d, node, what, 0.0, 1e12, &sd, err)) return -1;
    node = yaml_get(v, "n");
    snprintf(what, sizeof what, "entries.%s.n", key);
    if (node && yaml_int(d, node, what, 0, 2000000000, &n, err)) return -1;
    if (lut_parse_key(key, NULL) != 0)
        return hw_bad_input(err, d->path, key_line,
                            "found key '%.200s', expected OP-in:HxWxC-out:HxWxC-s:S, "
                            "stem-in:HxWxC-out:HxWxC or head-in:HxWxC-out:N", key);
    return lut_add(lut, key, ms, sd, (int)n, err);
}

static int read_entries(const YamlDoc* d, Lut* lut, HwErr* err) {
    const YamlNode* e = yaml_get(d->root, "entries");
    if (!e) {
        if (lut->method == LUT_ANALYTIC) return 0;
        return hw_bad_input(err, d->path, d->root->line,
                            "missing key 'entries', expected a mapping of latency entries");
    }
    if (e->kind == YAML_SCALAR && !e->scalar[0]) return 0;  // `entries:` with none
    if (e->kind != YAML_MAPPING)
        return hw_bad_input(err, d->path, e->line, "entries: found %s, expected a mapping",
                            e->kind == YAML_SEQUENCE ? "a sequence" : "a scalar");
    if (grow_index(lut, e->count)) return hw_runtime(err, d->path, 0, "out of memory");
    for (int i = 0; i < e->count; i++)
        if (read_entry(d, e->keys[i], e->key_lines[i], e->items[i], lut, err)) return -1;
    return 0;
}

// reference_ops and reference_ms come together; the names are checked
// against a space where the check uses them (latency_check).
static int read_reference(const YamlDoc* d, Lut* lut, HwErr* err) {
    const YamlNode* ops = yaml_get(d->root, "reference_ops");
    const YamlNode* ms = yaml_get(d->root, "reference_ms");
    if (!ops && !ms) return 0;
    if (!ops || !ms)
        return hw_bad_input(err, d->path, (ops ? ops : ms)->line,
                            "found only one of reference_ops and reference_ms, expected both or neither");
    if (yaml_string(d, ops, "reference_ops", lut->reference_ops, sizeof lut->reference_ops, err)) return -1;
    if (!lut->reference_ops[0])
        return hw_bad_input(err, d->path, ops->line, "reference_ops: found an empty string, expected networks");
    return yaml_float(d, ms, "reference_ms", 1e-6, 1e9, &lut->reference_ms, err);
}

static int read_lut(const YamlDoc* d, Lut* lut, HwErr* err) {
    if (d->root->kind != YAML_MAPPING)
        return hw_bad_input(err, d->path, d->root->line,
                            "found no mapping at the top level, expected a latency target");
    if (yaml_check_keys(d, d->root, "latency target", kTopKeys, err)) return -1;
    if (read_required_string(d, "device", lut->device, sizeof lut->device, err)) return -1;
    if (read_method(d, lut, err)) return -1;
    if (read_required_string(d, "source", lut->source, sizeof lut->source, err)) return -1;
    if (read_optional_string(d, "date", lut->date, sizeof lut->date, err)) return -1;
    if (read_optional_string(d, "hwnas_version", lut->hwnas_version, sizeof lut->hwnas_version, err))
        return -1;
    if (read_optional_string(d, "notes", lut->notes, sizeof lut->notes, err)) return -1;
    if (read_optional_string(d, "runtime", lut->runtime, sizeof lut->runtime, err)) return -1;
    // Both go to the device as they are (latency check runs at them): the
    // config's limits, so a file cannot ask for 100,000 threads.
    if (read_optional_int(d, "threads", CONFIG_MAX_THREADS, &lut->threads, err)) return -1;
    if (read_optional_int(d, "batch", CONFIG_MAX_BATCH, &lut->batch, err)) return -1;
    if (read_timing(d, lut, err) || read_analytic(d, lut, err)) return -1;
    const YamlNode* cal = yaml_get(d->root, "scale");
    if (cal && yaml_float(d, cal, "scale", LUT_SCALE_MIN, LUT_SCALE_MAX, &lut->scale, err)) return -1;
    cal = yaml_get(d->root, "offset_ms");
    if (cal && yaml_float(d, cal, "offset_ms", 0.0, 1e9, &lut->offset_ms, err)) return -1;
    if (read_reference(d, lut, err)) return -1;
    return read_entries(d, lut, err);
}

Lut* lut_load(const char* path, HwErr* err) {
    YamlDoc* d = yaml_load_file(path, err);
    if (!d) return NULL;
    Lut* lut = lut_new();
    if (!lut) {
        yaml_free(d);
        hw_runtime(err, path, 0, "out of memory");
        return NULL;
    }
    snprintf(lut->path, sizeof lut->path, "%s", path);
    int rc = read_lut(d, lut, err);
    yaml_free(d);
    if (rc) {
        lut_free(lut);
        return NULL;
    }
    return lut;
}

// ---------------------------------------------------------------- writing

static void write_text(FILE* fp, const char* key, const char* value) {
    if (!value[0]) return;
    fprintf(fp, "%s: ", key);
    yaml_write_string(fp, value);
    fputc('\n', fp);
}

static void write_number(FILE* fp, const char* key, double v) {
    fprintf(fp, "%s: ", key);
    yaml_write_double(fp, v);
    fputc('\n', fp);
}

static void write_lut(FILE* fp, const Lut* lut) {
    fputs("# hwnas latency target (see search/lut.h for the format)\n", fp);
    write_text(fp, "device", lut->device[0] ? lut->device : "unknown");
    fputs("unit: ms\n", fp);
    fprintf(fp, "method: %s\n", lut_method_name(lut->method));
    write_text(fp, "source", lut->source[0] ? lut->source : "unknown");
    write_text(fp, "date", lut->date);
    write_text(fp, "hwnas_version", lut->hwnas_version);
    write_text(fp, "runtime", lut->runtime);
    if (lut->threads > 0) fprintf(fp, "threads: %d\n", lut->threads);
    if (lut->batch > 0) fprintf(fp, "batch: %d\n", lut->batch);
    if (lut->timing != LUT_TIMING_UNSTATED) fprintf(fp, "timing: %s\n", lut_timing_name(lut->timing));
    if (lut->pinned >= 0) fprintf(fp, "pinned: %s\n", lut->pinned ? "true" : "false");
    write_text(fp, "notes", lut->notes);
    if (lut->method == LUT_ANALYTIC) {
        write_number(fp, "peak_gflops", lut->peak_gflops);
        write_number(fp, "bandwidth_gbs", lut->bandwidth_gbs);
        write_number(fp, "overhead_ms", lut->overhead_ms);
    }
    if (lut->scale != 1.0 || lut->offset_ms != 0.0) {
        write_number(fp, "scale", lut->scale);
        write_number(fp, "offset_ms", lut->offset_ms);
    }
    if (lut->reference_ops[0]) {
        write_text(fp, "reference_ops", lut->reference_ops);
        write_number(fp, "reference_ms", lut->reference_ms);
    }
    fputs(lut->count ? "entries:\n" : "entries: {}\n", fp);
    for (int i = 0; i < lut->count; i++) {
        const LutEntry* e = &lut->entries[i];
        fputs("  ", fp);
        yaml_write_string(fp, e->key);
        fputs(": {mean: ", fp);
        yaml_write_double(fp, e->mean);
        fputs(", std: ", fp);
        yaml_write_double(fp, e->std);
        fprintf(fp, ", n: %d}\n", e->n);
    }
}

int lut_write(const Lut* lut, const char* path, HwErr* err) {
    char tmp[SAFE_PATH_MAX + 8];
    FILE* fp = yaml_file_begin(path, tmp, sizeof tmp, err);
    if (!fp) return -1;
    write_lut(fp, lut);
    return yaml_file_commit(fp, tmp, path, err);
}

int lut_fit_calibration(double sx, double sy, double sxx, double sxy, double n, int negative_offset_ok,
                        double* scale, double* offset, HwErr* err) {
    double var = sxx - sx * sx / n;
    *scale = var > 1e-12 * sxx ? (sxy - sx * sy / n) / var : sy / sx;
    *offset = (sy - *scale * sx) / n;
    int usable = *scale >= LUT_SCALE_MIN && *scale <= LUT_SCALE_MAX;
    if (!usable || (*offset < 0 && !negative_offset_ok)) *scale = sxy / sxx, *offset = 0;
    if (*scale >= LUT_SCALE_MIN && *scale <= LUT_SCALE_MAX) return 0;
    return hw_runtime(err, NULL, 0, "calibration: networks measured %.3g times the sum of their operators; "
                      "expected %g to %g (the timings are unusable: profile again on a quiet machine)",
                      *scale, LUT_SCALE_MIN, LUT_SCALE_MAX);
}
