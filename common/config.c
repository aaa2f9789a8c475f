// The run configuration: defaults, YAML loading with range checks, and the
// resolved-config writer. One table per section describes every key (name,
// type, place in the struct, allowed range or words), so loading and writing
// cannot drift apart and config_load(config_write(x)) == x by construction.
//
// config_load starts from the defaults (what *cfg held before is replaced)
// and changes *cfg only when the whole file is valid. Paths (space, target,
// data.root) are kept as written, i.e. relative to the working directory.
#include "common/config.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/yaml_tree.h"

// ---------------------------------------------------------------- defaults

static void set_str(char* dst, size_t cap, const char* s) { snprintf(dst, cap, "%s", s); }
#define SET_STR(field, s) set_str((field), sizeof(field), (s))

static void set3(float* v, float a, float b, float c) { v[0] = a, v[1] = b, v[2] = c; }

void config_defaults(Config* cfg) {
    memset(cfg, 0, sizeof *cfg);  // zero padding and string tails: configs compare byte-wise
    DataSection* d = &cfg->data;
    d->kind = DATA_IDX;
    SET_STR(d->root, "/usr/share/datasets/fashion-mnist");
    SET_STR(d->train_images, "train-images-idx3-ubyte.gz");
    SET_STR(d->train_labels, "train-labels-idx1-ubyte.gz");
    SET_STR(d->test_images, "t10k-images-idx3-ubyte.gz");
    SET_STR(d->test_labels, "t10k-labels-idx1-ubyte.gz");
    d->input_size = 28;
    d->channels = 1;
    d->holdout = 10000;
    d->pad_crop = 2;
    d->hflip = 1;
    d->rrc_scale[0] = 0.08f, d->rrc_scale[1] = 1.0f;
    d->rrc_ratio[0] = 0.75f, d->rrc_ratio[1] = 4.0f / 3.0f;
    d->val_resize = 256;
    set3(d->mean, 0.2860f, 0.2860f, 0.2860f);
    set3(d->std, 0.3530f, 0.3530f, 0.3530f);
    d->workers = 2;

    SET_STR(cfg->space, "configs/spaces/hurricane-fmnist.yaml");

    TrainSection* t = &cfg->train;
    t->epochs = 10;
    t->batch = 128;
    t->lr = 0.1f;
    t->lr_schedule = LR_COSINE;
    t->warmup_epochs = 0.5f;
    t->momentum = 0.9f;
    t->nesterov = 1;
    t->weight_decay = 4e-5f;
    t->label_smoothing = 0.1f;
    t->seed = 1;
    t->sampling = SAMPLING_UNIFORM;
    t->device = DEVICE_CPU;
    t->checkpoint_every_minutes = 10.0f;

    SearchSection* s = &cfg->search;
    s->population = 50;
    s->parents = 10;
    s->iterations = 20;
    s->mutation_prob = 0.1f;
    s->mutations = 25;
    s->crossovers = 25;
    s->bn_images = 2000;
    s->bn_mode = BN_EXACT;
    s->val_images = 10000;
    s->seed = 1;

    cfg->space_gen.top_k = 4;
    cfg->space_gen.capacity = CAPACITY_FLOPS;
    cfg->space_gen.score = SCORE_CAPACITY_PER_LATENCY;

    StagesSection* st = &cfg->stages;
    st->enabled = 1;
    st->stage1_epochs = 6;
    st->stage2_epochs = 4;
    st->fill = FILL_UNIFORM;

    cfg->finetune.epochs = 10;
    cfg->finetune.lr = 0.02f;
    cfg->finetune.retrain_epochs = 30;
    cfg->finetune.retrain_lr = 0.1f;

    cfg->target.kind = TARGET_CPU;
    cfg->latency_ms = 0.0f;
}

// ---------------------------------------------------------------- key tables

typedef enum FieldType {
    F_INT,     // int in [lo, hi]
    F_U64,     // uint64_t (seeds), any value
    F_FLOAT,   // float in [lo, hi], ends excluded by `open`
    F_BOOL,    // int 0/1
    F_STR,     // char[size], any text (paths, file names)
    F_WORD,    // an enum: the index of its word in `words` ("a|b|c")
    F_TARGET,  // Target: the word `cpu` or a file
    F_PAIR,    // float[2] in [lo, hi], first <= second
    F_TRIPLE,  // float[3], 1 value (repeated) or 3 values, in the interval
} FieldType;

typedef struct Field {
    const char* name;
    FieldType type;
    size_t offset, size;
    double lo, hi;
    int open;  // bit 1: lo excluded, bit 2: hi excluded
    const char* words;
} Field;

#define F(sec, field, type, lo, hi, open, words) \
    {#field, type, offsetof(sec, field), sizeof(((sec*)0)->field), lo, hi, open, words}
#define INT(sec, field, lo, hi) F(sec, field, F_INT, lo, hi, 0, NULL)
#define FLT(sec, field, lo, hi) F(sec, field, F_FLOAT, lo, hi, 0, NULL)
#define POS(sec, field, hi) F(sec, field, F_FLOAT, 0, hi, 1, NULL)
#define BOOL(sec, field) F(sec, field, F_BOOL, 0, 1, 0, NULL)
#define STR(sec, field) F(sec, field, F_STR, 0, 0, 0, NULL)
#define WORD(sec, field, words) F(sec, field, F_WORD, 0, 0, 0, words)
#define U64(sec, field) F(sec, field, F_U64, 0, 0, 0, NULL)
#define END {NULL, F_INT, 0, 0, 0, 0, 0, NULL}

static const Field kDataFields[] = {
    WORD(DataSection, kind, "idx|imagefolder"),
    STR(DataSection, root),
    STR(DataSection, train_images),
    STR(DataSection, train_labels),
    STR(DataSection, test_images),
    STR(DataSection, test_labels),
    INT(DataSection, input_size, 8, 1024),
    INT(DataSection, channels, 1, 3),
    INT(DataSection, holdout, 0, 100000000),
    INT(DataSection, limit_train, 0, 2000000000),
    INT(DataSection, limit_test, 0, 2000000000),
    INT(DataSection, pad_crop, 0, 64),
    BOOL(DataSection, hflip),
    F(DataSection, rrc_scale, F_PAIR, 0.001, 1.0, 0, NULL),
    F(DataSection, rrc_ratio, F_PAIR, 0.01, 100.0, 0, NULL),
    INT(DataSection, val_resize, 8, 4096),
    FLT(DataSection, color_jitter, 0.0, 1.0),
    F(DataSection, mean, F_TRIPLE, -1000.0, 1000.0, 0, NULL),
    F(DataSection, std, F_TRIPLE, 0.0, 1000.0, 1, NULL),
    INT(DataSection, workers, 0, 256),
    END,
};

static const Field kTrainFields[] = {
    INT(TrainSection, epochs, 0, 100000),
    INT(TrainSection, batch, 1, CONFIG_MAX_BATCH),
    POS(TrainSection, lr, 100.0),
    WORD(TrainSection, lr_schedule, "cosine|linear|constant"),
    FLT(TrainSection, warmup_epochs, 0.0, 100000.0),
    F(TrainSection, momentum, F_FLOAT, 0.0, 1.0, 2, NULL),
    BOOL(TrainSection, nesterov),
    FLT(TrainSection, weight_decay, 0.0, 1.0),
    F(TrainSection, label_smoothing, F_FLOAT, 0.0, 1.0, 2, NULL),
    U64(TrainSection, seed),
    INT(TrainSection, threads, 0, CONFIG_MAX_THREADS),
    WORD(TrainSection, sampling, "uniform|latency|flops"),
    F(TrainSection, window, F_PAIR, 0.0, 1e9, 0, NULL),
    WORD(TrainSection, device, "cpu|cuda"),
    INT(TrainSection, checkpoint_every_steps, 0, 2000000000),
    FLT(TrainSection, checkpoint_every_minutes, 0.0, 1000000.0),
    END,
};

static const Field kSearchFields[] = {
    INT(SearchSection, population, 1, 1000000),
    INT(SearchSection, parents, 1, 1000000),
    INT(SearchSection, iterations, 0, 1000000),
    FLT(SearchSection, mutation_prob, 0.0, 1.0),
    INT(SearchSection, mutations, 0, 1000000),
    INT(SearchSection, crossovers, 0, 1000000),
    INT(SearchSection, bn_images, 0, 100000000),
    WORD(SearchSection, bn_mode, "exact|ema"),
    INT(SearchSection, val_images, 1, 100000000),
    U64(SearchSection, seed),
    INT(SearchSection, max_params, 0, 2000000000),
    FLT(SearchSection, max_mflops, 0.0, 1e9),
    FLT(SearchSection, max_peak_kb, 0.0, 1e9),
    END,
};

static const Field kSpaceGenFields[] = {
    INT(SpaceGenSection, top_k, 1, 64),
    WORD(SpaceGenSection, capacity, "flops|params"),
    WORD(SpaceGenSection, score, "capacity_per_latency|latency"),
    END,
};

static const Field kStagesFields[] = {
    BOOL(StagesSection, enabled),
    INT(StagesSection, split, 0, 10000),
    INT(StagesSection, stage1_epochs, 0, 100000),
    INT(StagesSection, stage2_epochs, 0, 100000),
    WORD(StagesSection, fill, "uniform|first"),
    END,
};

static const Field kFinetuneFields[] = {
    INT(FinetuneSection, epochs, 0, 100000),
    POS(FinetuneSection, lr, 100.0),
    INT(FinetuneSection, retrain_epochs, 0, 100000),
    POS(FinetuneSection, retrain_lr, 100.0),
    END,
};

// Top level: sections (fields != NULL) and plain keys, in file order.
typedef struct Section {
    const char* name;
    const Field* fields;  // NULL: a top-level scalar described by `scalar`
    size_t offset;
    Field scalar;
} Section;

static const Section kSections[] = {
    {"data", kDataFields, offsetof(Config, data), END},
    {"space", NULL, 0, STR(Config, space)},
    {"train", kTrainFields, offsetof(Config, train), END},
    {"search", kSearchFields, offsetof(Config, search), END},
    {"space_gen", kSpaceGenFields, offsetof(Config, space_gen), END},
    {"stages", kStagesFields, offsetof(Config, stages), END},
    {"finetune", kFinetuneFields, offsetof(Config, finetune), END},
    {"target", NULL, 0, F(Config, target, F_TARGET, 0, 0, 0, NULL)},
    {"latency_ms", NULL, 0, FLT(Config, latency_ms, 0.0, 1e9)},
    {NULL, NULL, 0, END},
};

// ---------------------------------------------------------------- reading

// What a key is called in messages: "train.batch".
static void key_name(char* out, size_t cap, const char* section, const char* key) {
    if (section)
        snprintf(out, cap, "%s.%s", section, key);
    else
        snprintf(out, cap, "%s", key);
}

static int read_u64(const YamlDoc* d, const YamlNode* n, const char* what, uint64_t* out,
                    HwErr* err) {
    const char* expected = "an integer in 0..18446744073709551615";
    if (!n || n->kind != YAML_SCALAR || !n->scalar[0])
        return hw_bad_input(err, d->path, n ? n->line : 0, "%s: found %s, expected %s", what,
                            !n ? "nothing" : n->kind != YAML_SCALAR ? "a collection" : "an empty value",
                            expected);
    for (const char* p = n->scalar; *p; p++)
        if (*p < '0' || *p > '9')
            return hw_bad_input(err, d->path, n->line, "%s: found '%.60s', expected %s", what,
                                n->scalar, expected);
    errno = 0;
    unsigned long long v = strtoull(n->scalar, NULL, 10);
    if (errno == ERANGE)
        return hw_bad_input(err, d->path, n->line, "%s: found '%.60s', expected %s", what,
                            n->scalar, expected);
    *out = (uint64_t)v;
    return 0;
}

// A float in the field's interval; `open` bit 1 excludes lo (lr > 0), bit 2
// excludes hi (momentum < 1).
static int read_float(const YamlDoc* d, const YamlNode* n, const char* what, const Field* f,
                      float* out, HwErr* err) {
    HwErr scratch;
    double v;
    if (n && n->kind == YAML_SCALAR && !yaml_float(d, n, what, -DBL_MAX, DBL_MAX, &v, &scratch)) {
        int below = (f->open & 1) ? v <= f->lo : v < f->lo;
        int above = (f->open & 2) ? v >= f->hi : v > f->hi;
        if (!below && !above) {
            *out = (float)v;
            return 0;
        }
    }
    char expected[96];
    snprintf(expected, sizeof expected, "a number in %c%g, %g%c", (f->open & 1) ? '(' : '[', f->lo,
             f->hi, (f->open & 2) ? ')' : ']');
    if (!n || n->kind != YAML_SCALAR)
        return hw_bad_input(err, d->path, n ? n->line : 0, "%s: found %s, expected %s", what,
                            n ? "a collection" : "nothing", expected);
    return hw_bad_input(err, d->path, n->line, "%s: found '%.60s', expected %s", what, n->scalar,
                        expected);
}

// Word `index` of a "a|b|c" list, its length in *len; NULL past the end.
static const char* nth_word(const char* words, int index, size_t* len) {
    const char* w = words;
    for (int i = 0; w && i < index; i++) {
        w = strchr(w, '|');
        if (w) w++;
    }
    if (!w || index < 0) return NULL;
    const char* bar = strchr(w, '|');
    *len = bar ? (size_t)(bar - w) : strlen(w);
    return w;
}

// An enum key: the index of the word found among the field's words.
static int read_word(const YamlDoc* d, const YamlNode* n, const char* what, const Field* f, int* out,
                     HwErr* err) {
    char word[64];
    if (yaml_string(d, n, what, word, sizeof word, err)) return -1;
    size_t len = strlen(word), wl;
    const char* w;
    for (int i = 0; len > 0 && (w = nth_word(f->words, i, &wl)) != NULL; i++)
        if (wl == len && !strncmp(w, word, len)) {
            *out = i;
            return 0;
        }
    char words[160];
    size_t len_words = 0;
    for (const char* p = f->words; *p && len_words + 3 < sizeof words; p++) {
        if (*p == '|') {
            words[len_words++] = ',';
            words[len_words++] = ' ';
        } else {
            words[len_words++] = *p;
        }
    }
    words[len_words] = '\0';
    return hw_bad_input(err, d->path, n->line, "%s: found '%.60s', expected one of: %s", what,
                        word, words);
}

// `target`: the word cpu, or the path of a latency target file.
static int read_target(const YamlDoc* d, const YamlNode* n, const char* what, Target* out, HwErr* err) {
    Target t;
    memset(&t, 0, sizeof t);  // zero tails: configs compare byte-wise
    if (yaml_string(d, n, what, t.file, sizeof t.file, err)) return -1;
    t.kind = strcmp(t.file, "cpu") == 0 ? TARGET_CPU : TARGET_FILE;
    if (t.kind == TARGET_CPU) memset(t.file, 0, sizeof t.file);
    *out = t;
    return 0;
}

// A sequence of `lo_count`..`hi_count` floats; returns how many were read.
static int read_floats(const YamlDoc* d, const YamlNode* n, const char* what, const Field* f,
                       int lo_count, int hi_count, float* out, HwErr* err) {
    if (n->kind == YAML_SCALAR && lo_count == 1)
        return read_float(d, n, what, f, out, err) ? -1 : 1;
    if (n->kind != YAML_SEQUENCE || (n->count != lo_count && n->count != hi_count)) {
        char found[32], expected[48];
        if (n->kind == YAML_SEQUENCE)
            snprintf(found, sizeof found, "%d values", n->count);
        else
            snprintf(found, sizeof found, "%s", n->kind == YAML_MAPPING ? "a mapping" : "a scalar");
        if (lo_count == hi_count)
            snprintf(expected, sizeof expected, "a sequence of %d numbers", lo_count);
        else
            snprintf(expected, sizeof expected, "a sequence of %d or %d numbers", lo_count, hi_count);
        return hw_bad_input(err, d->path, n->line, "%s: found %s, expected %s", what, found,
                            expected);
    }
    for (int i = 0; i < n->count; i++) {
        char item[96];
        snprintf(item, sizeof item, "%s[%d]", what, i);
        if (read_float(d, n->items[i], item, f, &out[i], err)) return -1;
    }
    return n->count;
}

static int read_field(const YamlDoc* d, const YamlNode* n, const char* what, const Field* f,
                      void* base, HwErr* err) {
    void* p = (char*)base + f->offset;
    long v = 0;
    switch (f->type) {
        case F_INT:
            if (yaml_int(d, n, what, (long)f->lo, (long)f->hi, &v, err)) return -1;
            *(int*)p = (int)v;
            return 0;
        case F_U64: return read_u64(d, n, what, (uint64_t*)p, err);
        case F_FLOAT: return read_float(d, n, what, f, (float*)p, err);
        case F_BOOL: return yaml_bool(d, n, what, (int*)p, err);
        case F_STR: return yaml_string(d, n, what, (char*)p, f->size, err);
        case F_WORD: return read_word(d, n, what, f, (int*)p, err);
        case F_TARGET: return read_target(d, n, what, (Target*)p, err);
        case F_PAIR: {
            float pair[2];
            if (read_floats(d, n, what, f, 2, 2, pair, err) < 0) return -1;
            if (pair[0] > pair[1])
                return hw_bad_input(err, d->path, n->line,
                                    "%s: found [%g, %g], expected the first value <= the second",
                                    what, pair[0], pair[1]);
            memcpy(p, pair, sizeof pair);
            return 0;
        }
        case F_TRIPLE: {
            float v3[3];
            int got = read_floats(d, n, what, f, 1, 3, v3, err);
            if (got < 0) return -1;
            if (got == 1) v3[1] = v3[2] = v3[0];
            memcpy(p, v3, sizeof v3);
            return 0;
        }
    }
    return -1;
}

static int check_keys(const YamlDoc* d, const YamlNode* map, const char* what,
                      const char* const* names, HwErr* err) {
    return yaml_check_keys(d, map, what, names, err);
}

static int read_section(const YamlDoc* d, const YamlNode* map, const Section* s, Config* cfg,
                        HwErr* err) {
    const char* names[40];
    int count = 0;
    for (const Field* f = s->fields; f->name && count < 39; f++) names[count++] = f->name;
    names[count] = NULL;
    if (check_keys(d, map, s->name, names, err)) return -1;
    if (map->kind != YAML_MAPPING) return 0;  // `section:` alone keeps the defaults
    void* base = (char*)cfg + s->offset;
    for (const Field* f = s->fields; f->name; f++) {
        const YamlNode* n = yaml_get(map, f->name);
        if (!n) continue;
        char what[96];
        key_name(what, sizeof what, s->name, f->name);
        if (read_field(d, n, what, f, base, err)) return -1;
    }
    return 0;
}

// The line where a document gave each key that the checks across keys
// involve, 0 when it did not.
typedef struct RelationKeys {
    int parents, population;
    int mean3, std3;  // data.mean / data.std given as 3 values
} RelationKeys;

// Adds what `root` gives to *k (a later document's keys replace earlier ones).
static void note_relation_keys(const YamlNode* root, RelationKeys* k) {
    const YamlNode* search = yaml_get(root, "search");
    const YamlNode* data = yaml_get(root, "data");
    const YamlNode *parents = yaml_get(search, "parents"), *population = yaml_get(search, "population");
    const YamlNode *mean = yaml_get(data, "mean"), *std = yaml_get(data, "std");
    if (parents) k->parents = parents->line;
    if (population) k->population = population->line;
    if (mean) k->mean3 = mean->kind == YAML_SEQUENCE && mean->count == 3 ? mean->line : 0;
    if (std) k->std3 = std->kind == YAML_SEQUENCE && std->count == 3 ? std->line : 0;
}

// Checks that involve two keys, run on the final values, so the order of
// keys or overrides does not matter; reported at the line of the later key
// (no line for overrides: lines of their generated documents mean nothing).
static int check_relations(const char* path, int with_lines, const RelationKeys* k, const Config* c, HwErr* err) {
    if (c->search.parents > c->search.population)
        return hw_bad_input(err, path, with_lines ? (k->parents ? k->parents : k->population) : 0,
                            "search.parents: found %d, expected at most search.population (%d)",
                            c->search.parents, c->search.population);
    const int given[2] = {k->mean3, k->std3};
    const char* names[2] = {"mean", "std"};
    for (int i = 0; i < 2; i++)
        if (given[i] && c->data.channels != 3)
            return hw_bad_input(err, path, with_lines ? given[i] : 0,
                                "data.%s: found 3 values for %d input channel(s), expected 1 value",
                                names[i], c->data.channels);
    return 0;
}

// imagefolder data without explicit normalization gets the ImageNet values.
static void apply_kind_defaults(const YamlNode* root, Config* c) {
    if (c->data.kind != DATA_IMAGEFOLDER) return;
    const YamlNode* data = yaml_get(root, "data");
    if (!yaml_get(data, "kind")) return;  // only where the document sets the kind
    if (!yaml_get(data, "mean")) set3(c->data.mean, 0.485f, 0.456f, 0.406f);
    if (!yaml_get(data, "std")) set3(c->data.std, 0.229f, 0.224f, 0.225f);
}

// Reads every key of `d` over *c; the checks across keys are the caller's.
static int read_config_keys(const YamlDoc* d, Config* c, HwErr* err) {
    const YamlNode* root = d->root;
    const char* names[16];
    int count = 0;
    for (const Section* s = kSections; s->name; s++) names[count++] = s->name;
    names[count] = NULL;
    if (root->kind != YAML_MAPPING)
        return hw_bad_input(err, d->path, root->line,
                            "found %s at the top level, expected a mapping of config sections",
                            root->kind == YAML_SEQUENCE ? "a sequence" : "a scalar");
    if (check_keys(d, root, "config", names, err)) return -1;
    for (const Section* s = kSections; s->name; s++) {
        const YamlNode* n = yaml_get(root, s->name);
        if (!n) continue;
        if (s->fields ? read_section(d, n, s, c, err) : read_field(d, n, s->name, &s->scalar, c, err))
            return -1;
    }
    apply_kind_defaults(root, c);
    return 0;
}

static int read_config(const YamlDoc* d, Config* c, HwErr* err) {
    if (read_config_keys(d, c, err)) return -1;
    RelationKeys keys = {0};
    note_relation_keys(d->root, &keys);
    return check_relations(d->path, 1, &keys, c, err);
}

int config_load(Config* cfg, const char* path, HwErr* err) {
    YamlDoc* d = yaml_load_file(path, err);
    if (!d) return -1;
    // Fill a copy so a failed load leaves *cfg untouched.
    Config* c = malloc(sizeof *c);
    if (!c) {
        yaml_free(d);
        return hw_runtime(err, path, 0, "out of memory");
    }
    config_defaults(c);
    int rc = read_config(d, c, err);
    if (rc == 0) {
        set_str(c->path, sizeof c->path, path);
        memcpy(cfg, c, sizeof *c);
    }
    free(c);
    yaml_free(d);
    return rc;
}

// Errors about an override name the line of the generated one-key document
// ("--set:2: ..."); the user typed an argument, so name that instead.
static void name_override_in_error(HwErr* err, const char* setting) {
    const char* msg = err->msg;
    if (strncmp(msg, "--set:", 6) != 0) return;
    const char* rest = strstr(msg + 6, ": ");
    rest = rest ? rest + 2 : msg + 6;
    char buf[sizeof err->msg];
    snprintf(buf, sizeof buf, "--set %.200s: %s", setting, rest);
    memcpy(err->msg, buf, sizeof buf);
}

// The one-key YAML document of an override: "section:\n  key: value\n", or
// "key: value\n" for a top-level key; -1 when it does not fit in cap.
static int override_document(char* text, size_t cap, const char* key, size_t key_len, const char* value) {
    const char* dot = memchr(key, '.', key_len);
    int n = dot ? snprintf(text, cap, "%.*s:\n  %.*s: %s\n", (int)(dot - key), key, (int)(key_len - (size_t)(dot - key) - 1),
                           dot + 1, value)
                : snprintf(text, cap, "%.*s: %s\n", (int)key_len, key, value);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

// Reads a generated document (named `name` in errors) over *c, so it gets
// exactly the checks of the file.
static int read_override_document(Config* c, const char* text, const char* name, RelationKeys* keys, HwErr* err) {
    YamlDoc* d = yaml_load_string(text, name, err);
    int rc = d ? read_config_keys(d, c, err) : -1;
    if (rc == 0) note_relation_keys(d->root, keys);
    yaml_free(d);
    return rc;
}

// One override "section.key=value" (or "key=value"); the value is YAML (a
// list like data.mean=[0.5,0.5,0.5] is one).
static int apply_override(Config* c, const char* setting, RelationKeys* keys, HwErr* err) {
    const char* eq = strchr(setting, '=');
    char text[1200];
    if (!eq || eq == setting || strlen(setting) > 1000 ||
        override_document(text, sizeof text, setting, (size_t)(eq - setting), eq + 1) < 0)
        return hw_bad_input(err, NULL, 0, "--set: found '%s', expected section.key=value", setting);
    int rc = read_override_document(c, text, "--set", keys, err);
    if (rc < 0) name_override_in_error(err, setting);
    return rc;
}

// Errors about a flag's document read "FLAG:LINE: KEY: found ..."; the user
// typed the flag, so the message becomes "FLAG: found ...".
static void name_flag_in_error(HwErr* err, const char* flag, const char* key) {
    size_t flag_len = strlen(flag), key_len = strlen(key);
    const char* rest = err->msg;
    if (strncmp(rest, flag, flag_len) != 0) return;
    rest += flag_len;
    if (*rest == ':') {
        rest++;
        while (*rest >= '0' && *rest <= '9') rest++;
    }
    if (*rest == ':') rest++;
    if (*rest == ' ') rest++;
    if (!strncmp(rest, key, key_len) && !strncmp(rest + key_len, ": ", 2)) rest += key_len + 2;
    char buf[sizeof err->msg];
    snprintf(buf, sizeof buf, "%s: %s", flag, rest);
    memcpy(err->msg, buf, sizeof buf);
}

int config_override_flag(Config* cfg, const char* flag, const char* key, const char* value, HwErr* err) {
    // Quoted when needed, so the value stays one scalar: `--epochs "5 # x"`
    // is the text '5 # x' (refused), not 5 and a comment.
    char* quoted = yaml_quoted(value);
    size_t cap = strlen(key) + (quoted ? strlen(quoted) : 0) + 16;
    char* text = quoted ? malloc(cap) : NULL;
    Config* c = malloc(sizeof *c);
    int rc = -1;
    if (!text || !c || override_document(text, cap, key, strlen(key), quoted) < 0) {
        hw_runtime(err, NULL, 0, "%s: out of memory", flag);
    } else {
        memcpy(c, cfg, sizeof *c);
        RelationKeys keys = {0};
        rc = read_override_document(c, text, flag, &keys, err);
        if (rc == 0) rc = check_relations(flag, 0, &keys, c, err);
        if (rc == 0) memcpy(cfg, c, sizeof *c);
        else name_flag_in_error(err, flag, key);
    }
    free(c);
    free(text);
    free(quoted);
    return rc;
}

int config_override(Config* cfg, const char* const* settings, int n, HwErr* err) {
    Config* c = malloc(sizeof *c);
    if (!c) return hw_runtime(err, NULL, 0, "out of memory");
    memcpy(c, cfg, sizeof *c);
    RelationKeys keys = {0};
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) rc = apply_override(c, settings[i], &keys, err);
    if (rc == 0) rc = check_relations("--set", 0, &keys, c, err);
    if (rc == 0) memcpy(cfg, c, sizeof *c);
    free(c);
    return rc;
}

// ---------------------------------------------------------------- writing

static void write_floats(FILE* fp, const float* v, int n) {
    fputc('[', fp);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", fp);
        yaml_write_float(fp, v[i]);
    }
    fputc(']', fp);
}

static void write_word(FILE* fp, const char* words, int index) {
    size_t len = 0;
    const char* w = nth_word(words, index, &len);
    if (w) fprintf(fp, "%.*s", (int)len, w);
}

static void write_field(FILE* fp, const Field* f, const void* base) {
    const void* p = (const char*)base + f->offset;
    switch (f->type) {
        case F_INT: fprintf(fp, "%d", *(const int*)p); break;
        case F_U64: fprintf(fp, "%llu", (unsigned long long)*(const uint64_t*)p); break;
        case F_FLOAT: yaml_write_float(fp, *(const float*)p); break;
        case F_BOOL: fputs(*(const int*)p ? "true" : "false", fp); break;
        case F_STR: yaml_write_string(fp, (const char*)p); break;
        case F_WORD: write_word(fp, f->words, *(const int*)p); break;
        case F_TARGET: yaml_write_string(fp, config_target_name((const Target*)p)); break;
        case F_PAIR: write_floats(fp, (const float*)p, 2); break;
        case F_TRIPLE: {
            const float* v = (const float*)p;
            write_floats(fp, v, (v[0] == v[1] && v[1] == v[2]) ? 1 : 3);
            break;
        }
    }
}

static void write_config(FILE* fp, const Config* cfg) {
    fputs("# hwnas resolved configuration: every key, defaults included.\n", fp);
    for (const Section* s = kSections; s->name; s++) {
        if (!s->fields) {
            fprintf(fp, "%s: ", s->name);
            write_field(fp, &s->scalar, cfg);
            fputc('\n', fp);
            continue;
        }
        fprintf(fp, "%s:\n", s->name);
        const void* base = (const char*)cfg + s->offset;
        for (const Field* f = s->fields; f->name; f++) {
            fprintf(fp, "  %s: ", f->name);
            write_field(fp, f, base);
            fputc('\n', fp);
        }
    }
}

int config_write(const Config* cfg, const char* path, HwErr* err) {
    char tmp[SAFE_PATH_MAX + 8];
    FILE* fp = yaml_file_begin(path, tmp, sizeof tmp, err);
    if (!fp) return -1;
    write_config(fp, cfg);
    return yaml_file_commit(fp, tmp, path, err);
}

// ---------------------------------------------------------------- naming

const char* config_target_name(const Target* t) { return t->kind == TARGET_CPU ? "cpu" : t->file; }

const char* config_device_name(DeviceKind d) { return d == DEVICE_CUDA ? "cuda" : "cpu"; }

// Whether `key` ("train.epochs", or "search." for the section) covers the
// field `name` of section `section` (NULL for a top-level key).
static int key_covers(const char* key, const char* section, const char* name) {
    size_t len = strlen(key);
    if (!section) return strcmp(key, name) == 0;
    size_t sl = strlen(section);
    if (len <= sl || strncmp(key, section, sl) != 0 || key[sl] != '.') return 0;
    return key[sl + 1] == '\0' || strcmp(key + sl + 1, name) == 0;
}

static void append_key(char* out, size_t cap, size_t* len, const char* section, const char* name) {
    char what[96];
    key_name(what, sizeof what, section, name);
    int n = snprintf(out + *len, cap - *len, "%s%s", *len ? ", " : "", what);
    if (n > 0 && *len + (size_t)n < cap) *len += (size_t)n;
}

static int field_changed(const Field* f, const void* base, const void* default_base) {
    return memcmp((const char*)base + f->offset, (const char*)default_base + f->offset, f->size) != 0;
}

int config_changed_keys(const Config* cfg, const Config* base, const char* const* keys, char* out, size_t cap) {
    Config* def = malloc(sizeof *def);
    int count = 0;
    size_t len = 0;
    if (cap) out[0] = '\0';
    if (!def) return 0;
    if (base) memcpy(def, base, sizeof *def);
    else config_defaults(def);
    for (const Section* s = kSections; s->name; s++) {
        const char* section = s->fields ? s->name : NULL;
        const Field* fields = s->fields ? s->fields : &s->scalar;
        const void* base = (const char*)cfg + s->offset;
        const void* default_base = (const char*)def + s->offset;
        for (const Field* f = fields; f->name; f++) {
            const char* name = s->fields ? f->name : s->name;
            for (const char* const* k = keys; *k; k++)
                if (key_covers(*k, section, name) && field_changed(f, base, default_base)) {
                    append_key(out, cap, &len, section, name);
                    count++;
                    break;
                }
            if (!s->fields) break;
        }
    }
    free(def);
    return count;
}
