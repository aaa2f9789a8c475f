// Import of published latency tables (ProxylessNAS, OFA, Dynamic-OFA); see
// lut_import.h for the formats and the mapping to our keys.
#include "search/lut_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/yaml_tree.h"
#include "supernet/operator.h"

typedef enum SrcLayer { SRC_CONV, SRC_BLOCK, SRC_CONV_1, SRC_POOL, SRC_CONV_2, SRC_LOGITS } SrcLayer;

static const char* const kLayerNames[] = {"Conv", "expanded_conv", "Conv_1", "AvgPool2D", "Conv_2",
                                          "Logits"};

// One entry of the source table, its key taken apart.
typedef struct SrcEntry {
    const char* key;
    int line;
    int parsed;       // the key follows the source grammar
    SrcLayer layer;
    int in[3], out[3];
    int out_dims;     // 3, or 1 for Logits (classes)
    int expand, kernel, stride, idskip, se, hs;
    double mean, var;
    int count;
    int used;         // imported or merged
} SrcEntry;

typedef struct Importer {
    int ofa;          // expand is the mid channel count (else the ratio)
    const YamlDoc* doc;
    SrcEntry* src;
    int n;
    Lut* lut;
    LutImportReport* rep;
    HwErr* err;
} Importer;

// ---------------------------------------------------------------- source keys

// "HxWxC" (3 numbers) or "N" (1 number); returns how many, 0 if malformed.
static int parse_dims(const char* s, int* v) {
    int n = 0;
    while (n < 3) {
        char* end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 1 || x > 1000000) return 0;
        v[n++] = (int)x;
        if (*end == '\0') return (n == 1 || n == 3) ? n : 0;
        if (*end != 'x') return 0;
        s = end + 1;
    }
    return 0;
}

static int parse_field(SrcEntry* e, const char* name, const char* value) {
    if (!strcmp(name, "input")) return parse_dims(value, e->in) == 3 ? 0 : -1;
    if (!strcmp(name, "output")) return (e->out_dims = parse_dims(value, e->out)) ? 0 : -1;
    int* ints[] = {&e->expand, &e->kernel, &e->stride, &e->idskip, &e->se, &e->hs};
    static const char* const names[] = {"expand", "kernel", "stride", "idskip", "se", "hs"};
    for (int i = 0; i < 6; i++) {
        if (strcmp(name, names[i]) != 0) continue;
        char* end;
        long x = strtol(value, &end, 10);
        if (end == value || *end || x < 0 || x > 1000000) return -1;
        *ints[i] = (int)x;
        return 0;
    }
    return -1;
}

// Splits "Layer-field:value-field:value..." and checks what each layer needs.
static void parse_source_key(SrcEntry* e) {
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", e->key) >= (int)sizeof buf) return;
    e->expand = e->kernel = e->stride = e->idskip = -1;
    e->se = e->hs = 0;
    char* save = NULL;
    char* tok = strtok_r(buf, "-", &save);
    int layer = -1;
    for (int i = 0; tok && i < 6; i++)
        if (!strcmp(tok, kLayerNames[i])) layer = i;
    if (layer < 0) return;
    e->layer = (SrcLayer)layer;
    int have_in = 0, have_out = 0;
    while ((tok = strtok_r(NULL, "-", &save))) {
        char* colon = strchr(tok, ':');
        if (!colon) return;
        *colon = '\0';
        if (parse_field(e, tok, colon + 1)) return;
        have_in |= !strcmp(tok, "input");
        have_out |= !strcmp(tok, "output");
    }
    if (!have_in || !have_out) return;
    if ((e->layer == SRC_LOGITS) != (e->out_dims == 1)) return;
    if (e->layer == SRC_BLOCK && (e->expand < 1 || e->kernel < 1 || e->stride < 1 || e->idskip < 0))
        return;
    e->parsed = 1;
}

// ---------------------------------------------------------------- reading

static int read_source_entry(Importer* im, int i, const YamlNode* v) {
    static const char* const allowed[] = {"count", "mean", "var", "std", NULL};
    const YamlDoc* d = im->doc;
    SrcEntry* e = &im->src[i];
    const char* key = d->root->keys[i];
    e->key = key;
    e->line = d->root->key_lines[i];
    if (v->kind != YAML_MAPPING)
        return hw_bad_input(im->err, d->path, v->line,
                            "%.200s: found no mapping, expected {count, mean, var or std}", key);
    if (yaml_check_keys(d, v, key, allowed, im->err)) return -1;
    const YamlNode* mean = yaml_get(v, "mean");
    if (!mean)
        return hw_bad_input(im->err, d->path, v->line, "%.200s: missing mean, expected {count, "
                            "mean, var or std}", key);
    if (yaml_float(d, mean, "mean", 0.0, 1e12, &e->mean, im->err)) return -1;
    const YamlNode* var = yaml_get(v, "var");
    const YamlNode* std = yaml_get(v, "std");
    double sd = 0;
    if (var && yaml_float(d, var, "var", 0.0, 1e24, &e->var, im->err)) return -1;
    if (std && yaml_float(d, std, "std", 0.0, 1e12, &sd, im->err)) return -1;
    if (std) e->var = sd * sd;
    long count = 0;
    const YamlNode* c = yaml_get(v, "count");
    if (c && yaml_int(d, c, "count", 0, 2000000000, &count, im->err)) return -1;
    e->count = (int)count;
    parse_source_key(e);
    return 0;
}

static int read_source(Importer* im) {
    const YamlNode* root = im->doc->root;
    if (root->kind != YAML_MAPPING)
        return hw_bad_input(im->err, im->doc->path, root->line,
                            "found no mapping at the top level, expected a latency lookup table");
    im->n = root->count;
    im->src = calloc(root->count ? (size_t)root->count : 1, sizeof *im->src);
    if (!im->src) return hw_runtime(im->err, im->doc->path, 0, "out of memory");
    for (int i = 0; i < root->count; i++)
        if (read_source_entry(im, i, root->items[i])) return -1;
    return 0;
}

// ---------------------------------------------------------------- mapping

static void unmatched(Importer* im, SrcEntry* e, const char* reason) {
    e->used = 1;
    LutImportReport* r = im->rep;
    if (!r) return;
    LutUnmatched* u = &r->unmatched[r->unmatched_count];
    u->key = strdup(e->key);
    u->line = e->line;
    u->reason = reason;
    if (u->key) r->unmatched_count++;
}

static int same_shape(const int* a, const int* b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

// Adds one merged or direct entry; a duplicate target key is reported as
// unmatched rather than failing the import.
static int add_entry(Importer* im, const char* key, double mean, double var, int count,
                     SrcEntry** parts, int nparts) {
    if (lut_find(im->lut, key)) {
        for (int i = 0; i < nparts; i++)
            unmatched(im, parts[i], "maps to a key that another entry already produced");
        return 0;
    }
    if (lut_add(im->lut, key, mean, sqrt(var), count, im->err)) return -1;
    for (int i = 0; i < nparts; i++) parts[i]->used = 1;
    if (im->rep && nparts > 1) im->rep->merged += nparts;
    return 0;
}

// The expansion ratio, or 0 when mid channels are not a multiple of the input.
static int block_ratio(const Importer* im, const SrcEntry* e) {
    if (!im->ofa) return e->expand;
    return e->expand % e->in[2] == 0 ? e->expand / e->in[2] : 0;
}

static int import_block(Importer* im, SrcEntry* e) {
    int ratio = block_ratio(im, e);
    int identity_shapes = e->stride == 1 && same_shape(e->in, e->out);
    if (ratio == 0) {
        unmatched(im, e, "mid channels are not a whole multiple of the input channels");
        return 0;
    }
    if (ratio == 1) return 0;  // only as part of the stem, decided later
    OpSpec spec = {OPF_MBCONV, e->kernel, ratio, e->se != 0, e->hs != 0};
    char op[LUT_OP_MAX];
    op_name(&spec, op, sizeof op);
    OpSpec check;
    if (op_parse(op, &check) < 0) {
        unmatched(im, e, "kernel other than 3, 5 or 7, or expand ratio above LIMIT_MB_EXPAND (8)");
        return 0;
    }
    if (e->idskip != identity_shapes) {
        unmatched(im, e, "idskip disagrees with the shapes (our blocks add the identity exactly "
                         "when stride is 1 and shapes match)");
        return 0;
    }
    char key[LUT_KEY_MAX];
    if (lut_block_key(key, sizeof key, op, e->in[0], e->in[1], e->in[2], e->out[0], e->out[1],
                      e->out[2], e->stride)) {
        unmatched(im, e, "shape outside the key grammar");
        return 0;
    }
    return add_entry(im, key, e->mean, e->var, e->count, &e, 1);
}

// The first unused parsed entry of `layer` reading shape `in`. For the block
// after the stem (ratio1) only stride-1, ratio-1 blocks qualify, and kernel 3
// wins: ProxylessNAS and OFA both fix that block at k3, the k5/k7 variants
// some tables also list are alternatives, not parts of the stem.
static SrcEntry* find_unused(Importer* im, SrcLayer layer, const int* in, int ratio1) {
    SrcEntry* found = NULL;
    for (int i = 0; i < im->n; i++) {
        SrcEntry* e = &im->src[i];
        if (e->used || !e->parsed || e->layer != layer || !same_shape(e->in, in)) continue;
        if (!ratio1) return e;
        if (block_ratio(im, e) != 1 || e->stride != 1) continue;
        if (e->kernel == 3) return e;
        if (!found) found = e;
    }
    return found;
}

static int min_count(int a, int b) { return a < b ? a : b; }

// Conv, plus the ratio-1 block that reads its output when there is one.
static int import_stem(Importer* im, SrcEntry* conv) {
    SrcEntry* parts[2] = {conv, find_unused(im, SRC_BLOCK, conv->out, 1)};
    const int* out = parts[1] ? parts[1]->out : conv->out;
    double mean = conv->mean, var = conv->var;
    int count = conv->count;
    if (parts[1]) {
        mean += parts[1]->mean;
        var += parts[1]->var;
        count = min_count(count, parts[1]->count);
    }
    char key[LUT_KEY_MAX];
    if (lut_stem_key(key, sizeof key, conv->in[0], conv->in[1], conv->in[2], out[0], out[1],
                     out[2])) {
        unmatched(im, conv, "shape outside the key grammar");
        return 0;
    }
    return add_entry(im, key, mean, var, count, parts, parts[1] ? 2 : 1);
}

// Conv_1, then whatever of AvgPool2D, Conv_2 and Logits reads the previous
// output, until Logits gives the class count.
static int import_head(Importer* im, SrcEntry* conv1) {
    static const SrcLayer next[] = {SRC_POOL, SRC_CONV_2, SRC_LOGITS};
    SrcEntry* parts[4] = {conv1};
    int nparts = 1;
    const int* cur = conv1->out;
    SrcEntry* logits = NULL;
    for (int i = 0; i < 3 && !logits; i++) {
        SrcEntry* e = find_unused(im, next[i], cur, 0);
        if (!e) continue;
        parts[nparts++] = e;
        if (next[i] == SRC_LOGITS)
            logits = e;
        else
            cur = e->out;
    }
    char key[LUT_KEY_MAX];
    if (!logits || lut_head_key(key, sizeof key, conv1->in[0], conv1->in[1], conv1->in[2],
                                logits->out[0]))
        return 0;  // left unused: reported with the other leftovers
    double mean = 0, var = 0;
    int count = parts[0]->count;
    for (int i = 0; i < nparts; i++) {
        mean += parts[i]->mean;
        var += parts[i]->var;
        count = min_count(count, parts[i]->count);
    }
    return add_entry(im, key, mean, var, count, parts, nparts);
}

static const char* leftover_reason(const SrcEntry* e) {
    if (!e->parsed) return "key not understood (unknown layer type or field)";
    switch (e->layer) {
        case SRC_BLOCK: return "expand ratio 1 block that does not follow a stem Conv";
        case SRC_CONV: return "stem Conv not imported";
        default: return "head part not on a complete Conv_1 ... Logits chain";
    }
}

// Order of the target: stems, blocks in source order, heads.
static int map_entries(Importer* im) {
    for (int i = 0; i < im->n; i++)
        if (im->src[i].parsed && im->src[i].layer == SRC_CONV && !im->src[i].used &&
            import_stem(im, &im->src[i]))
            return -1;
    for (int i = 0; i < im->n; i++)
        if (im->src[i].parsed && im->src[i].layer == SRC_BLOCK && !im->src[i].used &&
            import_block(im, &im->src[i]))
            return -1;
    for (int i = 0; i < im->n; i++)
        if (im->src[i].parsed && im->src[i].layer == SRC_CONV_1 && !im->src[i].used &&
            import_head(im, &im->src[i]))
            return -1;
    for (int i = 0; i < im->n; i++)
        if (!im->src[i].used) unmatched(im, &im->src[i], leftover_reason(&im->src[i]));
    return 0;
}

// ---------------------------------------------------------------- description

static const char* base_name(const char* path) {
    const char* slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// The device as the source's SOURCE.md describes it, recognized by the
// directory names of ../shared/data/latency; a generic text otherwise.
static void describe(Lut* lut, const char* format, const char* path) {
    const char* file = base_name(path);
    const char* notes = "";
    if (!strcmp(format, "proxyless")) {
        snprintf(lut->device, sizeof lut->device, "mobile phone CPU (ProxylessNAS %s)", file);
        notes = "device not named by the source (the ProxylessNAS paper names Pixel 1 with TF-Lite)";
    } else if (strstr(path, "jetson_GPU/")) {
        snprintf(lut->device, sizeof lut->device, "NVIDIA Jetson GPU (Dynamic-OFA jetson_GPU/%s)",
                 file);
        notes = "units not stated by the source (assumed ms); stem and head entries are Note10 "
                "values copied by the source, only the blocks were measured on the Jetson GPU";
    } else if (strstr(path, "jetson/")) {
        snprintf(lut->device, sizeof lut->device, "NVIDIA Jetson CPU (Dynamic-OFA jetson/%s)", file);
        notes = "units not stated by the source (assumed ms); the board is not named";
    } else if (strstr(path, "note10")) {
        snprintf(lut->device, sizeof lut->device, "Samsung Galaxy Note10 (OFA note10 %s)", file);
        notes = "OFA-MobileNetV3 w1.2 space";
    } else {
        snprintf(lut->device, sizeof lut->device, "unknown device (%s-format table %s)", format,
                 file);
    }
    snprintf(lut->notes, sizeof lut->notes,
             "%s%sstem = Conv + first block; head = Conv_1 through Logits; merged std = sqrt of "
             "summed variances",
             notes, notes[0] ? "; " : "");
    lut->method = LUT_IMPORTED;
    snprintf(lut->source, sizeof lut->source, "%s", path);
}

// ---------------------------------------------------------------- entry point

static int by_line(const void* a, const void* b) {
    return ((const LutUnmatched*)a)->line - ((const LutUnmatched*)b)->line;
}

static int run_import(Importer* im, const char* format, const char* path) {
    if (read_source(im)) return -1;
    if (im->rep) {
        im->rep->source_entries = im->n;
        im->rep->unmatched = calloc(im->n ? (size_t)im->n : 1, sizeof *im->rep->unmatched);
        if (!im->rep->unmatched) return hw_runtime(im->err, path, 0, "out of memory");
    }
    describe(im->lut, format, path);
    if (map_entries(im)) return -1;
    if (im->rep) {  // in file order, as a user reads the source
        im->rep->imported = im->lut->count;
        qsort(im->rep->unmatched, (size_t)im->rep->unmatched_count, sizeof *im->rep->unmatched, by_line);
    }
    return 0;
}

int lut_import(const char* format, const char* path, Lut** out, LutImportReport* rep, HwErr* err) {
    *out = NULL;
    if (rep) memset(rep, 0, sizeof *rep);
    int ofa = format && !strcmp(format, "ofa");
    if (!format || (!ofa && strcmp(format, "proxyless") != 0))
        return hw_bad_input(err, NULL, 0, "import format: found '%s', expected proxyless or ofa",
                            format ? format : "(none)");
    YamlDoc* doc = yaml_load_file(path, err);
    if (!doc) return -1;
    Importer im = {ofa, doc, NULL, 0, lut_new(), rep, err};
    int rc = im.lut ? run_import(&im, format, path) : hw_runtime(err, path, 0, "out of memory");
    free(im.src);
    yaml_free(doc);  // the keys in rep were copied
    if (rc) {
        lut_free(im.lut);
        lut_import_report_free(rep);
        return -1;
    }
    *out = im.lut;
    return 0;
}

void lut_import_report_free(LutImportReport* rep) {
    if (!rep) return;
    for (int i = 0; i < rep->unmatched_count; i++) free(rep->unmatched[i].key);
    free(rep->unmatched);
    memset(rep, 0, sizeof *rep);
}
