// YAML tree on libyaml's event API. The document loader of libyaml expands
// aliases (recursive ones loop, nested ones explode), so we consume events
// ourselves, reject anchors and aliases, and build nodes in one arena that
// yaml_free releases at once.
#include "common/yaml_tree.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>
#include <yaml.h>

// ---------------------------------------------------------------- arena

typedef struct ArenaChunk {
    struct ArenaChunk* next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} ArenaChunk;

typedef struct YamlArena {
    ArenaChunk* head;
} YamlArena;

static void* arena_alloc(YamlArena* a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    ArenaChunk* c = a->head;
    if (!c || c->cap - c->used < size) {
        // Big requests get a chunk of their own, so chunks stay mostly full.
        size_t cap = size > (64u << 10) ? size : (64u << 10);
        ArenaChunk* fresh = malloc(sizeof(ArenaChunk) + cap);
        if (!fresh) return NULL;
        fresh->used = 0;
        fresh->cap = cap;
        fresh->next = c;
        a->head = fresh;
        c = fresh;
    }
    void* p = c->data + c->used;
    c->used += size;
    return p;
}

static char* arena_strndup(YamlArena* a, const char* s, size_t n) {
    char* p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free(YamlArena* a) {
    if (!a) return;
    for (ArenaChunk* c = a->head; c;) {
        ArenaChunk* next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

// ---------------------------------------------------------------- builder

// One open collection. Buffers belong to the depth level and are reused by
// every collection opened at that depth, then copied into the arena on close.
typedef struct Frame {
    YamlNode* node;
    YamlNode** items;
    const char** keys;
    int* key_lines;
    int count, cap;
    int have_key;  // mapping: a key was read, its value comes next
} Frame;

typedef struct Builder {
    YamlDoc* doc;
    HwErr* err;
    Frame frames[YAML_MAX_DEPTH];
    int depth;
    int documents;
    long nodes;  // made so far, at most LIMIT_YAML_NODES
    int* hash;  // duplicate-key check scratch
    size_t hash_cap;
} Builder;

static int build_oom(Builder* b) {
    return hw_runtime(b->err, b->doc->path, 0, "out of memory while reading YAML");
}

static int frame_reserve(Builder* b, Frame* f) {
    if (f->count < f->cap) return 0;
    int cap = f->cap ? f->cap * 2 : 16;
    YamlNode** items = realloc(f->items, (size_t)cap * sizeof *items);
    if (!items) return build_oom(b);
    f->items = items;
    const char** keys = realloc(f->keys, (size_t)cap * sizeof *keys);
    if (!keys) return build_oom(b);
    f->keys = keys;
    int* lines = realloc(f->key_lines, (size_t)cap * sizeof *lines);
    if (!lines) return build_oom(b);
    f->key_lines = lines;
    f->cap = cap;
    return 0;
}

static uint64_t hash_string(const char* s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

// Duplicate keys are an error; a hash set keeps this linear for mappings with
// 100k keys (latency tables).
static int check_duplicate_keys(Builder* b, const Frame* f) {
    size_t need = 16;
    while (need < (size_t)f->count * 2) need *= 2;
    if (need > b->hash_cap) {
        int* h = realloc(b->hash, need * sizeof *h);
        if (!h) return build_oom(b);
        b->hash = h;
        b->hash_cap = need;
    }
    for (size_t i = 0; i < need; i++) b->hash[i] = -1;
    for (int i = 0; i < f->count; i++) {
        size_t slot = (size_t)hash_string(f->keys[i]) & (need - 1);
        while (b->hash[slot] >= 0) {
            int j = b->hash[slot];
            if (!strcmp(f->keys[j], f->keys[i]))
                return hw_bad_input(b->err, b->doc->path, f->key_lines[i],
                                    "duplicate key '%.200s' (first at line %d), expected each key once",
                                    f->keys[i], f->key_lines[j]);
            slot = (slot + 1) & (need - 1);
        }
        b->hash[slot] = i;
    }
    return 0;
}

static YamlNode* new_node(Builder* b, YamlKind kind, int line) {
    if (++b->nodes > LIMIT_YAML_NODES) {
        hw_bad_input(b->err, b->doc->path, line, "more than %ld values, expected at most %ld (LIMIT_YAML_NODES)",
                     (long)LIMIT_YAML_NODES, (long)LIMIT_YAML_NODES);
        return NULL;
    }
    YamlNode* n = arena_alloc(b->doc->arena, sizeof *n);
    if (!n) {
        build_oom(b);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

// Hangs a finished node (or a key scalar) under the innermost open collection.
static int attach(Builder* b, YamlNode* n) {
    if (b->depth == 0) {
        b->doc->root = n;
        return 0;
    }
    Frame* f = &b->frames[b->depth - 1];
    if (f->node->kind == YAML_MAPPING && !f->have_key) {
        if (n->kind != YAML_SCALAR)
            return hw_bad_input(b->err, b->doc->path, n->line,
                                "found a %s used as a mapping key, expected a plain scalar key",
                                n->kind == YAML_MAPPING ? "mapping" : "sequence");
        if (frame_reserve(b, f)) return -1;
        f->keys[f->count] = n->scalar;
        f->key_lines[f->count] = n->line;
        f->have_key = 1;
        return 0;
    }
    if (frame_reserve(b, f)) return -1;
    f->items[f->count++] = n;
    f->have_key = 0;
    return 0;
}

static int open_collection(Builder* b, YamlKind kind, int line) {
    if (b->depth >= YAML_MAX_DEPTH)
        return hw_bad_input(b->err, b->doc->path, line,
                            "nesting deeper than %d levels, expected a flatter document",
                            YAML_MAX_DEPTH);
    YamlNode* n = new_node(b, kind, line);
    if (!n) return -1;
    // Key check before pushing: a collection cannot be a key.
    if (b->depth > 0) {
        Frame* parent = &b->frames[b->depth - 1];
        if (parent->node->kind == YAML_MAPPING && !parent->have_key) return attach(b, n);
    }
    Frame* f = &b->frames[b->depth++];
    f->node = n;
    f->count = 0;
    f->have_key = 0;
    return 0;
}

static int close_collection(Builder* b) {
    Frame* f = &b->frames[b->depth - 1];
    YamlNode* n = f->node;
    YamlArena* a = b->doc->arena;
    if (n->kind == YAML_MAPPING && check_duplicate_keys(b, f)) return -1;
    n->count = f->count;
    if (f->count > 0) {
        n->items = arena_alloc(a, (size_t)f->count * sizeof *n->items);
        if (!n->items) return build_oom(b);
        memcpy(n->items, f->items, (size_t)f->count * sizeof *n->items);
        if (n->kind == YAML_MAPPING) {
            const char** keys = arena_alloc(a, (size_t)f->count * sizeof *keys);
            int* lines = arena_alloc(a, (size_t)f->count * sizeof *lines);
            if (!keys || !lines) return build_oom(b);
            memcpy(keys, f->keys, (size_t)f->count * sizeof *keys);
            memcpy(lines, f->key_lines, (size_t)f->count * sizeof *lines);
            n->keys = keys;
            n->key_lines = lines;
        }
    }
    b->depth--;
    return attach(b, n);
}

static int reject_anchor_and_tag(Builder* b, const yaml_char_t* anchor, const yaml_char_t* tag,
                                 int line) {
    if (anchor)
        return hw_bad_input(b->err, b->doc->path, line,
                            "found anchor '&%.100s', expected no anchors or aliases (not supported)",
                            (const char*)anchor);
    if (tag)
        return hw_bad_input(b->err, b->doc->path, line,
                            "found tag '%.100s', expected untagged values (tags are not supported)",
                            (const char*)tag);
    return 0;
}

static int add_scalar(Builder* b, const yaml_event_t* ev, int line) {
    if (reject_anchor_and_tag(b, ev->data.scalar.anchor, ev->data.scalar.tag, line)) return -1;
    const char* text = (const char*)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(text, '\0', len))
        return hw_bad_input(b->err, b->doc->path, line,
                            "found a NUL character in a scalar, expected text without NUL");
    YamlNode* n = new_node(b, YAML_SCALAR, line);
    if (!n) return -1;
    n->scalar = arena_strndup(b->doc->arena, text, len);
    if (!n->scalar) return build_oom(b);
    if (b->depth == 0 && len == 0 && ev->data.scalar.plain_implicit)
        return hw_bad_input(b->err, b->doc->path, line,
                            "found an empty document, expected YAML content");
    return attach(b, n);
}

static int report_parser_error(Builder* b, const yaml_parser_t* p) {
    if (p->error == YAML_MEMORY_ERROR) return build_oom(b);
    int line = (int)p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR)
        return hw_bad_input(b->err, b->doc->path, 0,
                            "YAML reader error at byte %zu: %s, expected UTF-8 text",
                            p->problem_offset, p->problem ? p->problem : "unknown");
    if (p->context)
        return hw_bad_input(b->err, b->doc->path, line, "YAML syntax error: %s (%s at line %d)",
                            p->problem ? p->problem : "unknown", p->context,
                            (int)p->context_mark.line + 1);
    return hw_bad_input(b->err, b->doc->path, line, "YAML syntax error: %s",
                        p->problem ? p->problem : "unknown");
}

// Handles one event; returns 1 at the end of the stream, 0 to go on, -1 on error.
static int handle_event(Builder* b, const yaml_event_t* ev) {
    int line = (int)ev->start_mark.line + 1;
    switch (ev->type) {
        case YAML_DOCUMENT_START_EVENT:
            if (b->documents++ > 0)
                return hw_bad_input(b->err, b->doc->path, line,
                                    "found a second document, expected exactly one");
            return 0;
        case YAML_ALIAS_EVENT:
            return hw_bad_input(b->err, b->doc->path, line,
                                "found alias '*%.100s', expected no anchors or aliases (not supported)",
                                (const char*)ev->data.alias.anchor);
        case YAML_SCALAR_EVENT:
            return add_scalar(b, ev, line);
        case YAML_SEQUENCE_START_EVENT:
            if (reject_anchor_and_tag(b, ev->data.sequence_start.anchor,
                                      ev->data.sequence_start.tag, line))
                return -1;
            return open_collection(b, YAML_SEQUENCE, line);
        case YAML_MAPPING_START_EVENT:
            if (reject_anchor_and_tag(b, ev->data.mapping_start.anchor,
                                      ev->data.mapping_start.tag, line))
                return -1;
            return open_collection(b, YAML_MAPPING, line);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            return close_collection(b);
        case YAML_STREAM_END_EVENT:
            return 1;
        default:
            return 0;
    }
}

static void builder_release(Builder* b) {
    for (int i = 0; i < YAML_MAX_DEPTH; i++) {
        free(b->frames[i].items);
        free(b->frames[i].keys);
        free(b->frames[i].key_lines);
    }
    free(b->hash);
}

static YamlDoc* doc_new(const char* name, HwErr* err) {
    YamlDoc* d = calloc(1, sizeof *d);
    if (d) d->arena = calloc(1, sizeof *d->arena);
    if (d) d->path = strdup(name ? name : "<yaml>");
    if (!d || !d->arena || !d->path) {
        yaml_free(d);
        hw_runtime(err, name, 0, "out of memory while reading YAML");
        return NULL;
    }
    return d;
}

static YamlDoc* load_buffer(const char* text, size_t len, const char* name, HwErr* err) {
    if (len > (size_t)YAML_MAX_FILE_BYTES) {
        hw_bad_input(err, name, 0, "found %zu bytes, expected a YAML file of at most %ld MiB", len,
                     YAML_MAX_FILE_BYTES >> 20);
        return NULL;
    }
    YamlDoc* d = doc_new(name, err);
    if (!d) return NULL;
    Builder b;
    memset(&b, 0, sizeof b);
    b.doc = d;
    b.err = err;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        yaml_free(d);
        hw_runtime(err, name, 0, "out of memory while reading YAML");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char*)text, len);
    int rc = 0;
    while (rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = report_parser_error(&b, &parser);
            break;
        }
        rc = handle_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    builder_release(&b);
    if (rc >= 0 && !d->root)
        rc = hw_bad_input(err, name, 0, "found an empty document, expected YAML content");
    if (rc < 0) {
        yaml_free(d);
        return NULL;
    }
    return d;
}

YamlDoc* yaml_load_string(const char* text, const char* name, HwErr* err) {
    return load_buffer(text ? text : "", text ? strlen(text) : 0, name, err);
}

// Reads at most limit+1 bytes, so a huge file or an endless device (a pipe,
// /dev/zero) is caught without reading it all.
static char* read_capped(FILE* fp, size_t limit, size_t* len) {
    size_t cap = 1 << 16, n = 0;
    char* buf = malloc(cap);
    if (!buf) return NULL;
    while (n <= limit) {
        if (n == cap) {
            char* grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
        size_t want = cap - n < limit + 1 - n ? cap - n : limit + 1 - n;
        size_t got = fread(buf + n, 1, want, fp);
        n += got;
        if (got == 0) break;
    }
    *len = n;
    return buf;
}

YamlDoc* yaml_load_file(const char* path, HwErr* err) {
    struct stat st;
    int have_stat = stat(path, &st) == 0;
    if (have_stat && S_ISDIR(st.st_mode)) {
        hw_bad_input(err, path, 0, "is a directory, expected a YAML file");
        return NULL;
    }
    if (have_stat && S_ISREG(st.st_mode) && st.st_size > YAML_MAX_FILE_BYTES) {
        hw_bad_input(err, path, 0, "found %lld bytes, expected a YAML file of at most %ld MiB",
                     (long long)st.st_size, YAML_MAX_FILE_BYTES >> 20);
        return NULL;
    }
    FILE* fp = fopen(path, "rb");
    if (!fp) {
        hw_bad_input(err, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t len = 0;
    char* text = read_capped(fp, (size_t)YAML_MAX_FILE_BYTES, &len);
    int failed = ferror(fp);
    fclose(fp);
    if (!text || failed) {
        free(text);
        hw_runtime(err, path, 0, text ? "read error" : "out of memory while reading");
        return NULL;
    }
    YamlDoc* d = load_buffer(text, len, path, err);
    free(text);
    return d;
}

void yaml_free(YamlDoc* doc) {
    if (!doc) return;
    arena_free(doc->arena);
    free(doc->path);
    free(doc);
}

const YamlNode* yaml_get(const YamlNode* map, const char* key) {
    if (!map || map->kind != YAML_MAPPING || !key) return NULL;
    for (int i = 0; i < map->count; i++)
        if (!strcmp(map->keys[i], key)) return map->items[i];
    return NULL;
}

// ---------------------------------------------------------------- typed reads

static const char* kind_name(YamlKind k) {
    return k == YAML_MAPPING ? "a mapping" : k == YAML_SEQUENCE ? "a sequence" : "a scalar";
}

// Quotes a scalar for a message: at most 60 characters, control bytes as '?'.
static const char* shown(const char* s, char* buf, size_t cap) {
    size_t n = 0;
    for (; s[n] && n + 4 < cap && n < 60; n++)
        buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

// The common error for a value that is not what `expected` says.
static int bad_value(const YamlDoc* d, const YamlNode* n, const char* what, HwErr* err,
                     const char* expected) {
    const char* path = d ? d->path : NULL;
    if (!n) return hw_bad_input(err, path, 0, "%s: missing, expected %s", what, expected);
    if (n->kind != YAML_SCALAR)
        return hw_bad_input(err, path, n->line, "%s: found %s, expected %s", what,
                            kind_name(n->kind), expected);
    char buf[72];
    if (!n->scalar[0])
        return hw_bad_input(err, path, n->line, "%s: found an empty value, expected %s", what,
                            expected);
    return hw_bad_input(err, path, n->line, "%s: found '%s', expected %s", what,
                        shown(n->scalar, buf, sizeof buf), expected);
}

int yaml_int(const YamlDoc* d, const YamlNode* n, const char* what, long lo, long hi, long* out,
             HwErr* err) {
    char expected[96];
    snprintf(expected, sizeof expected, "an integer in %ld..%ld", lo, hi);
    if (!n || n->kind != YAML_SCALAR) return bad_value(d, n, what, err, expected);
    const char* s = n->scalar;
    const char* digits = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!*digits) return bad_value(d, n, what, err, expected);
    for (const char* p = digits; *p; p++)
        if (!isdigit((unsigned char)*p)) return bad_value(d, n, what, err, expected);
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi) return bad_value(d, n, what, err, expected);
    *out = v;
    return 0;
}

// sign? digits [. digits] [e sign? digits], with at least one mantissa digit.
static int is_decimal_number(const char* s) {
    if (*s == '+' || *s == '-') s++;
    int mantissa = 0;
    while (isdigit((unsigned char)*s)) s++, mantissa++;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++) mantissa++;
    if (!mantissa) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    return *s == '\0';
}

int yaml_float(const YamlDoc* d, const YamlNode* n, const char* what, double lo, double hi,
               double* out, HwErr* err) {
    char expected[96];
    snprintf(expected, sizeof expected, "a finite number in [%g, %g]", lo, hi);
    if (!n || n->kind != YAML_SCALAR || !is_decimal_number(n->scalar))
        return bad_value(d, n, what, err, expected);
    double v = strtod(n->scalar, NULL);
    if (!isfinite(v) || v < lo || v > hi) return bad_value(d, n, what, err, expected);
    *out = v;
    return 0;
}

int yaml_bool(const YamlDoc* d, const YamlNode* n, const char* what, int* out, HwErr* err) {
    static const char* const yes[] = {"true", "yes", "1"};
    static const char* const no[] = {"false", "no", "0"};
    const char* expected = "true/false, yes/no or 1/0";
    if (!n || n->kind != YAML_SCALAR) return bad_value(d, n, what, err, expected);
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(n->scalar, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(n->scalar, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return bad_value(d, n, what, err, expected);
}

int yaml_string(const YamlDoc* d, const YamlNode* n, const char* what, char* out, size_t cap,
                HwErr* err) {
    char expected[64];
    snprintf(expected, sizeof expected, "a string of at most %zu characters", cap ? cap - 1 : 0);
    if (!n || n->kind != YAML_SCALAR) return bad_value(d, n, what, err, expected);
    size_t len = strlen(n->scalar);
    if (len + 1 > cap)
        return hw_bad_input(err, d ? d->path : NULL, n->line,
                            "%s: found a string of %zu characters, expected %s", what, len,
                            expected);
    memset(out, 0, cap);
    memcpy(out, n->scalar, len);
    return 0;
}

int yaml_check_keys(const YamlDoc* d, const YamlNode* map, const char* what,
                    const char* const* allowed, HwErr* err) {
    const char* path = d ? d->path : NULL;
    // `section:` with nothing after it is an empty mapping.
    if (map && map->kind == YAML_SCALAR && !map->scalar[0]) return 0;
    if (!map || map->kind != YAML_MAPPING) return bad_value(d, map, what, err, "a mapping");
    for (int i = 0; i < map->count; i++) {
        int known = 0;
        for (const char* const* a = allowed; *a && !known; a++) known = !strcmp(*a, map->keys[i]);
        if (known) continue;
        char list[640];
        size_t n = 0;
        list[0] = '\0';
        for (const char* const* a = allowed; *a && n < sizeof list; a++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", a == allowed ? "" : ", ", *a);
            if (w < 0) break;
            n += (size_t)w;
        }
        char buf[72];
        return hw_bad_input(err, path, map->key_lines[i], "%s: unknown key '%s', expected one of: %s",
                            what, shown(map->keys[i], buf, sizeof buf), list);
    }
    return 0;
}

// ---------------------------------------------------------------- writing

static int is_special_word(const char* s) {
    static const char* const words[] = {"null", "~", "true", "false", "yes", "no", "on",
                                        "off", "y", "n", ".inf", "-.inf", "+.inf", ".nan", NULL};
    for (const char* const* w = words; *w; w++)
        if (!strcasecmp(s, *w)) return 1;
    return 0;
}

// Characters that a reader would not give back as written: U+0085 (NEL),
// U+2028 and U+2029 are line breaks to YAML (a plain or quoted scalar folds
// them), C1 controls, the byte-order mark U+FEFF and U+FFFE/U+FFFF are not
// printable. Returns the length of such a character at p (0: none) and puts
// its double-quoted escape into esc.
static int needs_unicode_escape(const unsigned char* p, char esc[8]) {
    unsigned cp = 0;
    int len = 0;
    if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
        cp = p[1], len = 2;  // U+0080..U+009F
    } else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
        cp = p[2] == 0xA8 ? 0x2028 : 0x2029, len = 3;
    } else if (p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        cp = 0xFEFF, len = 3;
    } else if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
        cp = p[2] == 0xBE ? 0xFFFE : 0xFFFF, len = 3;
    }
    if (!len) return 0;
    if (cp == 0x85) snprintf(esc, 8, "\\N");
    else if (cp == 0x2028) snprintf(esc, 8, "\\L");
    else if (cp == 0x2029) snprintf(esc, 8, "\\P");
    else if (cp < 0x100) snprintf(esc, 8, "\\x%02x", cp);
    else snprintf(esc, 8, "\\u%04X", cp);
    return len;
}

static int plain_is_safe(const char* s) {
    size_t len = strlen(s);
    if (len == 0 || is_special_word(s)) return 0;
    // Digits, signs and dots first: numbers, dates, YAML 1.1 sexagesimals.
    if (strchr("-?:,[]{}#&*!|>'\"%@`+.0123456789", s[0])) return 0;
    if (s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':') return 0;
    char esc[8];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || strchr(",[]{}", c)) return 0;
        if (c == ':' && s[i + 1] == ' ') return 0;
        if (c == '#' && s[i - 1] == ' ') return 0;  // i > 0: s[0] is not '#'
        if (c >= 0x80 && needs_unicode_escape((const unsigned char*)s + i, esc)) return 0;
    }
    return 1;
}

void yaml_write_string(FILE* fp, const char* s) {
    if (plain_is_safe(s)) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    char esc[8];
    for (const unsigned char* p = (const unsigned char*)s; *p; p++) {
        int len = *p >= 0x80 ? needs_unicode_escape(p, esc) : 0;
        if (len) {
            fputs(esc, fp);
            p += len - 1;
            continue;
        }
        switch (*p) {
            case '"': fputs("\\\"", fp); break;
            case '\\': fputs("\\\\", fp); break;
            case '\n': fputs("\\n", fp); break;
            case '\t': fputs("\\t", fp); break;
            case '\r': fputs("\\r", fp); break;
            default:
                if (*p < 0x20 || *p == 0x7f)
                    fprintf(fp, "\\x%02x", *p);
                else
                    fputc(*p, fp);
        }
    }
    fputc('"', fp);
}

char* yaml_quoted(const char* s) {
    char* buf = NULL;
    size_t len = 0;
    FILE* fp = open_memstream(&buf, &len);
    if (!fp) return NULL;
    yaml_write_string(fp, s);
    if (fclose(fp) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void yaml_write_double(FILE* fp, double v) {
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, fp);
}

void yaml_write_float(FILE* fp, float v) {
    char buf[40];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    fputs(buf, fp);
}

// ---------------------------------------------------------------- atomic files

// The YAML writers use the safe_file module like every other writer.
FILE* yaml_file_begin(const char* path, char* tmp, size_t cap, HwErr* err) {
    return safe_begin(path, tmp, cap, err);
}

int yaml_file_commit(FILE* fp, const char* tmp, const char* path, HwErr* err) {
    return safe_commit(fp, tmp, path, 0, err);
}

void yaml_file_abort(FILE* fp, const char* tmp) { safe_abort(fp, tmp); }
