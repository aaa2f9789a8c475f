// Block list of a space and the import of per-block CSV timings (see lut_csv.h).
#include "search/lut_csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/limits.h"
#include "search/latency.h"

int lut_csv_rows(const Space* s, BlockRow** rows, int* n, HwErr* err) {
    int total = 2;
    for (int l = 0; l < s->n_layers; l++) total += s->layers[l].n_ops;
    BlockRow* r = calloc((size_t)total, sizeof *r);
    if (!r) return hw_runtime(err, NULL, 0, "out of memory");
    int k = 0, rc = 0;
    r[k] = (BlockRow){.position = 0, .layer = -1, .in_h = s->in_h, .in_w = s->in_w, .in_c = s->in_c};
    snprintf(r[k].layer_name, sizeof r[k].layer_name, "stem"), snprintf(r[k].op_name, LUT_OP_MAX, "stem");
    rc |= latency_stem_key(s, r[k++].key, LUT_KEY_MAX);
    for (int l = 0; l < s->n_layers; l++) {
        const SpaceLayer* L = &s->layers[l];
        for (int o = 0; o < L->n_ops; o++, k++) {
            r[k] = (BlockRow){.position = l + 1, .layer = l, .op = o, .in_h = L->in_h, .in_w = L->in_w, .in_c = L->in_c};
            snprintf(r[k].layer_name, sizeof r[k].layer_name, "%d", l);
            snprintf(r[k].op_name, LUT_OP_MAX, "%s", L->names[o]);
            rc |= latency_layer_key(s, l, o, r[k].key, LUT_KEY_MAX);
        }
    }
    const SpaceLayer* last = &s->layers[s->n_layers - 1];
    r[k] = (BlockRow){.position = s->n_layers + 1, .layer = s->n_layers, .in_c = last->out_c};
    r[k].in_h = (last->in_h + last->stride - 1) / last->stride, r[k].in_w = (last->in_w + last->stride - 1) / last->stride;
    snprintf(r[k].layer_name, sizeof r[k].layer_name, "head"), snprintf(r[k].op_name, LUT_OP_MAX, "head");
    rc |= latency_head_key(s, r[k++].key, LUT_KEY_MAX);
    if (rc) {
        free(r);
        return hw_bad_input(err, NULL, 0, "space %s: a block has no latency key", s->name);
    }
    *rows = r, *n = k;
    return 0;
}

// ---------------------------------------------------------------- CSV reading

enum { CSV_MAX_COLUMNS = 32 };

typedef struct CsvReader {
    FILE* fp;
    const char* path;
    int line;
    char buf[LIMIT_CSV_ROW_BYTES + 2];
    char* fields[CSV_MAX_COLUMNS];
    int n_fields;
} CsvReader;

// Next line split at commas; 1 when read, 0 at end of file, -1 on error.
static int csv_next(CsvReader* r, HwErr* err) {
    if (!fgets(r->buf, sizeof r->buf, r->fp)) return 0;
    r->line++;
    size_t len = strlen(r->buf);
    if (len == sizeof r->buf - 1 && r->buf[len - 1] != '\n')
        return hw_bad_input(err, r->path, r->line, "line longer than %d bytes, expected a CSV row", LIMIT_CSV_ROW_BYTES);
    if (strlen(r->buf) != len || memchr(r->buf, '"', len))
        return hw_bad_input(err, r->path, r->line, "found a NUL byte or a quote, expected plain comma-separated fields");
    while (len && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r')) r->buf[--len] = '\0';
    r->n_fields = 0;
    for (char* p = r->buf;;) {
        if (r->n_fields == CSV_MAX_COLUMNS)
            return hw_bad_input(err, r->path, r->line, "more than %d fields, expected a CSV row", CSV_MAX_COLUMNS);
        r->fields[r->n_fields++] = p;
        char* comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0', p = comma + 1;
    }
    return 1;
}

enum { COL_LAYER, COL_OP, COL_MS, COL_STD, COL_N, COL_KEY, COL_COUNT };
static const char* const kColumns[COL_COUNT] = {"layer", "op", "ms", "std", "n", "key"};

static int read_header(CsvReader* r, int* col, HwErr* err) {
    int got = csv_next(r, err);
    if (got < 0) return -1;
    if (got == 0) return hw_bad_input(err, r->path, 1, "empty file, expected a header with columns layer, op, ms");
    for (int c = 0; c < COL_COUNT; c++) col[c] = -1;
    for (int f = 0; f < r->n_fields; f++)
        for (int c = 0; c < COL_COUNT; c++)
            if (!strcmp(r->fields[f], kColumns[c])) {
                if (col[c] >= 0) return hw_bad_input(err, r->path, 1, "column %s appears twice", kColumns[c]);
                col[c] = f;
            }
    if (col[COL_LAYER] < 0 || col[COL_OP] < 0 || col[COL_MS] < 0)
        return hw_bad_input(err, r->path, 1, "header lacks %s, expected columns layer, op, ms [, std, n, key, ...]",
                            col[COL_LAYER] < 0 ? "layer" : col[COL_OP] < 0 ? "op" : "ms");
    return 0;
}

static int parse_ms(const CsvReader* r, const char* name, const char* text, double* v, HwErr* err) {
    char* end;
    *v = strtod(text, &end);
    if (end == text || *end || !isfinite(*v) || *v < 0 || *v > 1e9)
        return hw_bad_input(err, r->path, r->line, "%s '%.40s': expected a number of ms in 0..1e9", name, text);
    return 0;
}

// The row of blocks matching (layer, op), or -1 with err.
static int find_block(const CsvReader* r, const BlockRow* rows, int n, const char* layer, const char* op,
                      HwErr* err) {
    int layer_known = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].layer_name, layer) != 0) continue;
        layer_known = 1;
        if (!strcmp(rows[i].op_name, op)) return i;
    }
    if (!layer_known)
        return hw_bad_input(err, r->path, r->line, "layer '%.40s': expected stem, head or 0..%d", layer,
                            rows[n - 1].layer - 1);
    return hw_bad_input(err, r->path, r->line, "layer %s has no operator '%.40s' in this space", layer, op);
}

typedef struct Timing {
    double ms, std;
    int n, seen;
} Timing;

static int read_row(const CsvReader* r, const int* col, int header_fields, const BlockRow* rows, int n, Timing* t,
                    HwErr* err) {
    if (r->n_fields != header_fields)
        return hw_bad_input(err, r->path, r->line, "found %d fields, expected %d as in the header", r->n_fields,
                            header_fields);
    int i = find_block(r, rows, n, r->fields[col[COL_LAYER]], r->fields[col[COL_OP]], err);
    if (i < 0) return -1;
    if (t[i].seen)
        return hw_bad_input(err, r->path, r->line, "second row for layer %s op %s, expected one per block",
                            rows[i].layer_name, rows[i].op_name);
    if (col[COL_KEY] >= 0 && strcmp(r->fields[col[COL_KEY]], rows[i].key) != 0)
        return hw_bad_input(err, r->path, r->line, "key '%.100s', expected %s (was the CSV made for another space?)",
                            r->fields[col[COL_KEY]], rows[i].key);
    t[i].seen = 1;
    if (parse_ms(r, "ms", r->fields[col[COL_MS]], &t[i].ms, err)) return -1;
    if (col[COL_STD] >= 0 && r->fields[col[COL_STD]][0] &&
        parse_ms(r, "std", r->fields[col[COL_STD]], &t[i].std, err))
        return -1;
    if (col[COL_N] >= 0 && r->fields[col[COL_N]][0]) {
        char* end;
        long v = strtol(r->fields[col[COL_N]], &end, 10);
        if (*end || v < 0 || v > 1000000000)
            return hw_bad_input(err, r->path, r->line, "n '%.40s': expected a count of runs >= 0", r->fields[col[COL_N]]);
        t[i].n = (int)v;
    }
    return 0;
}

// One entry per distinct key: the mean of its rows.
static Lut* build_table(const BlockRow* rows, int n, const Timing* t, const char* path, HwErr* err) {
    Lut* lut = lut_new();
    if (!lut) return hw_runtime(err, path, 0, "out of memory"), NULL;
    for (int i = 0; i < n; i++) {
        if (!t[i].seen) {
            hw_bad_input(err, path, 0, "no row for layer %s op %s, expected one row per block of the space",
                         rows[i].layer_name, rows[i].op_name);
            goto fail;
        }
        if (lut_find(lut, rows[i].key)) continue;
        double ms = 0, std = 0;
        int count = 0;
        for (int j = i; j < n; j++)
            if (t[j].seen && !strcmp(rows[j].key, rows[i].key)) ms += t[j].ms, std += t[j].std, count++;
        if (lut_add(lut, rows[i].key, ms / count, std / count, t[i].n, err) < 0) goto fail;
    }
    lut->method = LUT_IMPORTED;
    return lut;
fail:
    lut_free(lut);
    return NULL;
}

Lut* lut_csv_import(const Space* s, const char* path, HwErr* err) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > LIMIT_LATENCY_CSV_BYTES)
        return hw_bad_input(err, path, 0, "%lld bytes, expected at most %ld", (long long)st.st_size,
                            (long)LIMIT_LATENCY_CSV_BYTES), NULL;
    CsvReader* r = calloc(1, sizeof *r);
    BlockRow* rows = NULL;
    Timing* t = NULL;
    Lut* lut = NULL;
    int n = 0, col[COL_COUNT];
    if (!r) return hw_runtime(err, path, 0, "out of memory"), NULL;
    r->path = path;
    r->fp = fopen(path, "r");
    if (!r->fp) {
        hw_bad_input(err, path, 0, "cannot open: expected a readable CSV file");
        free(r);
        return NULL;
    }
    if (lut_csv_rows(s, &rows, &n, err) == 0 && read_header(r, col, err) == 0) {
        int header_fields = r->n_fields, got = 0;
        t = calloc((size_t)n, sizeof *t);
        if (!t) hw_runtime(err, path, 0, "out of memory"), got = -1;
        while (got >= 0 && (got = csv_next(r, err)) > 0)
            if (!(r->n_fields == 1 && !r->fields[0][0]) && read_row(r, col, header_fields, rows, n, t, err) < 0) got = -1;
        if (got == 0) lut = build_table(rows, n, t, path, err);
    }
    fclose(r->fp);
    free(r);
    free(rows);
    free(t);
    return lut;
}
