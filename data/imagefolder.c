#include "data/imagefolder.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/safe_file.h"

enum {
    MAX_DEPTH = LIMIT_FOLDER_DEPTH,
    PATH_BUF = 4096,
    // Directories walked under one class directory (links followed). Each is
    // walked once, so symlink loops and diamonds (three links to "." made
    // 3^16 paths down to MAX_DEPTH) cost one visit; the cap bounds the set.
    MAX_DIRS_PER_CLASS = LIMIT_FOLDER_DIRS_PER_CLASS,
};
static const char kCacheMagic[] = "hwnas-imagefolder-cache 1";

// torchvision's IMG_EXTENSIONS, compared case-insensitively.
static int has_image_extension(const char* name) {
    static const char* const kExt[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof kExt / sizeof kExt[0]; i++) {
        size_t e = strlen(kExt[i]);
        if (n > e && !strcasecmp(name + n - e, kExt[i])) return 1;
    }
    return 0;
}

static int cmp_strings(const void* a, const void* b) {
    return strcmp(*(char* const*)a, *(char* const*)b);
}

// 1 directory, 0 regular file, -1 other or unreadable (links are followed).
static int entry_kind(const char* full, const struct dirent* e) {
    if (e->d_type == DT_DIR) return 1;
    if (e->d_type == DT_REG) return 0;
    struct stat st;
    if (stat(full, &st)) return -1;
    return S_ISDIR(st.st_mode) ? 1 : (S_ISREG(st.st_mode) ? 0 : -1);
}

static void free_strings(char** s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

int imagefolder_classes(const char* dir, char*** names, int* count, HwErr* err) {
    *names = NULL;
    *count = 0;
    DIR* d = opendir(dir);
    if (!d) return hw_bad_input(err, dir, 0, "cannot open directory (%s), expected DIR/CLASS/ subdirectories", strerror(errno));
    char** list = NULL;
    int n = 0, cap = 0, rc = 0;
    char full[PATH_BUF];
    for (struct dirent* e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= (int)sizeof full) continue;
        if (entry_kind(full, e) != 1) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char** grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) { rc = -1; break; }
            list = grown;
        }
        if (!(list[n] = strdup(e->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc) {
        free_strings(list, n);
        return hw_runtime(err, dir, 0, "out of memory listing classes");
    }
    if (n > 1) qsort(list, (size_t)n, sizeof *list, cmp_strings);
    *names = list;
    *count = n;
    return 0;
}

// ---- list building -------------------------------------------------------

typedef struct Entry {
    size_t off;     // into the names blob
    int dirlen;     // length of the subdirectory part of the relative path
    int label;
} Entry;

typedef struct Builder {
    char* names;
    size_t len, cap;
    Entry* entries;
    int count, entries_cap;
} Builder;

static int builder_add(Builder* b, const char* rel, int dirlen, int label) {
    size_t n = strlen(rel) + 1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (b->len + n > cap) cap *= 2;
        char* grown = realloc(b->names, cap);
        if (!grown) return -1;
        b->names = grown;
        b->cap = cap;
    }
    if (b->count == b->entries_cap) {
        int cap = b->entries_cap ? 2 * b->entries_cap : 1024;
        Entry* grown = realloc(b->entries, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        b->entries = grown;
        b->entries_cap = cap;
    }
    memcpy(b->names + b->len, rel, n);
    b->entries[b->count++] = (Entry){b->len, dirlen, label};
    b->len += n;
    return 0;
}

// The directories already walked under one class, by (device, inode): an
// open-addressing hash set whose capacity is a power of two, kept at most
// half full.
typedef struct DirSet {
    uint64_t* keys;   // [cap][2]: st_dev, st_ino + 1 (0 marks a free slot)
    size_t cap, count;
} DirSet;

// Linear probing: the slot holding (dev, ino), or the free slot where it goes.
static size_t dir_slot(const DirSet* s, uint64_t dev, uint64_t ino) {
    uint64_t h = (dev * 0x9E3779B97F4A7C15ull) ^ (ino * 0xC2B2AE3D27D4EB4Full);
    size_t mask = s->cap - 1, i = (size_t)(h ^ (h >> 29)) & mask;
    while (s->keys[2 * i + 1] && (s->keys[2 * i] != dev || s->keys[2 * i + 1] != ino + 1))
        i = (i + 1) & mask;
    return i;
}

static int dir_set_grow(DirSet* s) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    DirSet bigger = {calloc(2 * cap, sizeof(uint64_t)), cap, s->count};
    if (!bigger.keys) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[2 * i + 1]) continue;
        size_t j = dir_slot(&bigger, s->keys[2 * i], s->keys[2 * i + 1] - 1);
        bigger.keys[2 * j] = s->keys[2 * i];
        bigger.keys[2 * j + 1] = s->keys[2 * i + 1];
    }
    free(s->keys);
    *s = bigger;
    return 0;
}

// 1 when the directory was walked before, 0 when it is new (now recorded),
// -1 when out of memory, -2 when it would be more than MAX_DIRS_PER_CLASS.
static int dir_set_visit(DirSet* s, const struct stat* st) {
    uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino;
    if (s->cap && s->keys[2 * dir_slot(s, dev, ino) + 1]) return 1;
    if (s->count >= MAX_DIRS_PER_CLASS) return -2;
    if (2 * (s->count + 1) > s->cap && dir_set_grow(s)) return -1;
    size_t i = dir_slot(s, dev, ino);
    s->keys[2 * i] = dev;
    s->keys[2 * i + 1] = ino + 1;
    s->count++;
    return 0;
}

// Whether to walk the open directory d: 1 yes, 0 already walked, -1 (err) error.
static int first_visit(DirSet* seen, DIR* d, const char* full, HwErr* err) {
    struct stat st;
    if (fstat(dirfd(d), &st)) return hw_bad_input(err, full, 0, "cannot stat directory (%s)", strerror(errno));
    int rc = dir_set_visit(seen, &st);
    if (rc == -2)
        return hw_bad_input(err, full, 0, "more than %d directories in one class, expected at most that",
                            MAX_DIRS_PER_CLASS);
    if (rc < 0) return hw_runtime(err, full, 0, "out of memory listing directories");
    return !rc;
}

// Adds the image files under full (relative path prefix rel, "" at the class
// directory), recursing into subdirectories not walked before.
static int walk(Builder* b, DirSet* seen, const char* full, const char* rel, int label, int depth, HwErr* err) {
    DIR* d = opendir(full);
    if (!d) return hw_bad_input(err, full, 0, "cannot open directory (%s)", strerror(errno));
    int fresh = first_visit(seen, d, full, err);
    if (fresh <= 0) {
        closedir(d);
        return fresh;
    }
    char child[PATH_BUF], child_rel[PATH_BUF];
    int rc = 0;
    size_t rel_len = strlen(rel);
    for (struct dirent* e; rc == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        int w1 = snprintf(child, sizeof child, "%s/%s", full, e->d_name);
        int w2 = snprintf(child_rel, sizeof child_rel, rel_len ? "%s/%s" : "%s%s", rel, e->d_name);
        if (w1 >= (int)sizeof child || w2 >= (int)sizeof child_rel) {
            rc = hw_bad_input(err, full, 0, "path of '%s' too long, expected < %d bytes", e->d_name, PATH_BUF);
            break;
        }
        int kind = entry_kind(child, e);
        if (kind == 1 && depth < MAX_DEPTH)
            rc = walk(b, seen, child, child_rel, label, depth + 1, err);
        else if (kind == 0 && has_image_extension(e->d_name) && builder_add(b, child_rel, (int)rel_len, label))
            rc = hw_runtime(err, full, 0, "out of memory listing files");
    }
    closedir(d);
    return rc;
}

typedef struct SortItem {
    const char* path;  // the relative path inside the names blob
    Entry entry;
} SortItem;

static int cmp_items(const void* pa, const void* pb) {
    const SortItem *a = pa, *b = pb;
    if (a->entry.label != b->entry.label) return a->entry.label - b->entry.label;
    // torchvision sorts os.walk() by directory path, then file names within it.
    int da = a->entry.dirlen, db = b->entry.dirlen;
    int c = memcmp(a->path, b->path, (size_t)(da < db ? da : db));
    if (c) return c;
    if (da != db) return da - db;
    int skip = da ? da + 1 : 0;
    return strcmp(a->path + skip, b->path + skip);
}

static int sort_entries(Builder* b) {
    SortItem* items = malloc((size_t)b->count * sizeof *items + 1);
    if (!items) return -1;
    for (int i = 0; i < b->count; i++) items[i] = (SortItem){b->names + b->entries[i].off, b->entries[i]};
    qsort(items, (size_t)b->count, sizeof *items, cmp_items);
    for (int i = 0; i < b->count; i++) b->entries[i] = items[i].entry;
    free(items);
    return 0;
}

static int find_class(char* const* names, int n, const char* name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

static int copy_classes(ImageList* out, char* const* names, int n) {
    out->classes = n;
    out->class_names = calloc((size_t)n + 1, sizeof *out->class_names);
    out->class_counts = calloc((size_t)n + 1, sizeof *out->class_counts);
    if (!out->class_names || !out->class_counts) return -1;
    for (int i = 0; i < n; i++)
        if (!(out->class_names[i] = strdup(names[i]))) return -1;
    return 0;
}

// Moves the builder's sorted entries into out.
static int finish_list(ImageList* out, Builder* b) {
    out->count = b->count;
    out->labels = malloc((size_t)b->count * sizeof *out->labels + 1);
    out->name_offsets = malloc((size_t)b->count * sizeof *out->name_offsets + 1);
    if (!out->labels || !out->name_offsets) return -1;
    for (int i = 0; i < b->count; i++) {
        out->labels[i] = b->entries[i].label;
        out->name_offsets[i] = b->entries[i].off;
        out->class_counts[b->entries[i].label]++;
    }
    out->names = b->names;
    out->names_len = b->len;
    b->names = NULL;
    return 0;
}

static int scan_dirs(const char* dir, char* const* dir_classes, int n_dir_classes, ImageList* out, HwErr* err) {
    Builder b = {0};
    int rc = 0;
    char full[PATH_BUF];
    for (int i = 0; rc == 0 && i < n_dir_classes; i++) {
        int label = find_class(out->class_names, out->classes, dir_classes[i]);
        if (label < 0) {
            rc = hw_bad_input(err, dir, 0, "class directory '%s' is not one of the %d training classes",
                              dir_classes[i], out->classes);
            break;
        }
        snprintf(full, sizeof full, "%s/%s", dir, dir_classes[i]);
        // A fresh set per class: a link from one class into another still
        // lists those files under both, as torchvision does.
        DirSet seen = {NULL, 0, 0};
        rc = walk(&b, &seen, full, "", label, 0, err);
        free(seen.keys);
    }
    if (rc == 0 && (sort_entries(&b) || finish_list(out, &b)))
        rc = hw_runtime(err, dir, 0, "out of memory listing files");
    free(b.names);
    free(b.entries);
    return rc;
}

// ---- cache file ----------------------------------------------------------

static int class_mtime(const char* dir, const char* cls, long long* sec, long* nsec) {
    char full[PATH_BUF];
    struct stat st;
    snprintf(full, sizeof full, "%s/%s", dir, cls);
    if (stat(full, &st)) return -1;
    *sec = (long long)st.st_mtim.tv_sec;
    *nsec = st.st_mtim.tv_nsec;
    return 0;
}

static void write_cache(const ImageList* l, char* const* dir_classes, int n_dir_classes, const char* path) {
    for (size_t i = 0; i < l->names_len; i++)
        if (l->names[i] == '\n') return;  // cannot be represented one per line
    for (int i = 0; i < l->classes; i++)
        if (strchr(l->class_names[i], '\n')) return;
    // A temporary file of a fresh name (mkstemp) renamed over the cache, so a
    // link planted there is never followed. The cache is optional: a failure
    // (err NULL) just leaves it unwritten.
    char tmp[SAFE_PATH_MAX + 8];
    FILE* f = safe_begin(path, tmp, sizeof tmp, NULL);
    if (!f) return;
    fprintf(f, "%s\ndir %s\nclasses %d\n", kCacheMagic, l->dir, n_dir_classes);
    for (int i = 0; i < n_dir_classes; i++) {
        long long sec = 0;
        long nsec = 0;
        class_mtime(l->dir, dir_classes[i], &sec, &nsec);
        fprintf(f, "%lld %ld %s\n", sec, nsec, dir_classes[i]);
    }
    fprintf(f, "labels %d\n", l->classes);
    for (int i = 0; i < l->classes; i++) fprintf(f, "%s\n", l->class_names[i]);
    fprintf(f, "files %d\n", l->count);
    for (int i = 0; i < l->count; i++) fprintf(f, "%d %s\n", l->labels[i], image_list_name(l, i));
    if (safe_commit(f, tmp, path, 0, NULL) < 0) return;
    ((ImageList*)l)->cache_written = 1;
}

static char* strip_newline(char* s, ssize_t n) {
    if (n > 0 && s[n - 1] == '\n') s[n - 1] = 0;
    return s;
}

// Loads the cache when it describes dir with exactly these class directories,
// unchanged. Returns 0 when out holds the list, -1 when a scan is needed.
static int read_cache(ImageList* out, char* const* dir_classes, int n_dir_classes, const char* path) {
    FILE* f = fopen(path, "r");
    if (!f) return -1;
    char* line = NULL;
    size_t cap = 0;
    ssize_t n;
    int ok = 0, classes = -1, files = -1;
    Builder b = {0};
    if ((n = getline(&line, &cap, f)) < 0 || strcmp(strip_newline(line, n), kCacheMagic)) goto done;
    if ((n = getline(&line, &cap, f)) < 0 || strncmp(line, "dir ", 4) || strcmp(strip_newline(line, n) + 4, out->dir))
        goto done;
    if (getline(&line, &cap, f) < 0 || sscanf(line, "classes %d", &classes) != 1 || classes != n_dir_classes) goto done;
    for (int i = 0; i < classes; i++) {
        long long sec, now_sec;
        long nsec, now_nsec;
        int used = 0;
        if ((n = getline(&line, &cap, f)) < 0 || sscanf(line, "%lld %ld %n", &sec, &nsec, &used) != 2) goto done;
        if (strcmp(strip_newline(line, n) + used, dir_classes[i])) goto done;
        if (class_mtime(out->dir, dir_classes[i], &now_sec, &now_nsec) || now_sec != sec || now_nsec != nsec) goto done;
    }
    if (getline(&line, &cap, f) < 0 || sscanf(line, "labels %d", &classes) != 1 || classes != out->classes) goto done;
    for (int i = 0; i < classes; i++)
        if ((n = getline(&line, &cap, f)) < 0 || strcmp(strip_newline(line, n), out->class_names[i])) goto done;
    if (getline(&line, &cap, f) < 0 || sscanf(line, "files %d", &files) != 1 || files < 0) goto done;
    for (int i = 0; i < files; i++) {
        int label, used = 0;
        if ((n = getline(&line, &cap, f)) < 0 || sscanf(line, "%d %n", &label, &used) != 1) goto done;
        if (label < 0 || label >= out->classes) goto done;
        const char* rel = strip_newline(line, n) + used;
        const char* slash = strrchr(rel, '/');
        if (builder_add(&b, rel, slash ? (int)(slash - rel) : 0, label)) goto done;
    }
    ok = finish_list(out, &b) == 0;
done:
    free(line);
    free(b.names);
    free(b.entries);
    fclose(f);
    if (!ok) {
        free(out->labels);
        free(out->name_offsets);
        out->labels = NULL;
        out->name_offsets = NULL;
        out->count = 0;
        memset(out->class_counts, 0, (size_t)out->classes * sizeof *out->class_counts);
    }
    return ok ? 0 : -1;
}

// ---- public --------------------------------------------------------------

static int check_list(const ImageList* out, int own_classes, HwErr* err) {
    if (out->count == 0)
        return hw_bad_input(err, out->dir, 0, "no image files, expected DIR/CLASS/*.jpg (or .jpeg .png .bmp .ppm .pgm .tif .webp)");
    for (int i = 0; own_classes && i < out->classes; i++)
        if (out->class_counts[i] == 0)
            return hw_bad_input(err, out->dir, 0, "class directory '%s' has no image files, expected at least one",
                                out->class_names[i]);
    return 0;
}

int imagefolder_scan(const char* dir, char* const* class_names, int n_class_names, const char* cache_path,
                     ImageList* out, HwErr* err) {
    memset(out, 0, sizeof *out);
    char** dir_classes = NULL;
    int n_dir_classes = 0;
    if (imagefolder_classes(dir, &dir_classes, &n_dir_classes, err)) return -1;
    int rc = 0;
    if (n_dir_classes == 0)
        rc = hw_bad_input(err, dir, 0, "no class subdirectories, expected DIR/CLASS/IMAGE files");
    else if (!(out->dir = strdup(dir)) ||
             (class_names ? copy_classes(out, class_names, n_class_names) : copy_classes(out, dir_classes, n_dir_classes)))
        rc = hw_runtime(err, dir, 0, "out of memory");
    if (rc == 0 && cache_path && read_cache(out, dir_classes, n_dir_classes, cache_path) == 0) {
        out->from_cache = 1;
    } else if (rc == 0) {
        rc = scan_dirs(dir, dir_classes, n_dir_classes, out, err);
        if (rc == 0 && cache_path) write_cache(out, dir_classes, n_dir_classes, cache_path);
    }
    if (rc == 0) rc = check_list(out, class_names == NULL, err);
    free_strings(dir_classes, n_dir_classes);
    if (rc) image_list_free(out);
    return rc;
}

void image_list_free(ImageList* l) {
    free_strings(l->class_names, l->classes);
    free(l->class_counts);
    free(l->labels);
    free(l->name_offsets);
    free(l->names);
    free(l->dir);
    memset(l, 0, sizeof *l);
}

const char* image_list_name(const ImageList* l, int i) { return l->names + l->name_offsets[i]; }

int image_list_path(const ImageList* l, int i, char* buf, size_t size) {
    int n = snprintf(buf, size, "%s/%s/%s", l->dir, l->class_names[l->labels[i]], image_list_name(l, i));
    return n >= 0 && (size_t)n < size ? 0 : -1;
}
