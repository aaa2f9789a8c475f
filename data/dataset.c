// Opening a split: checks the data configuration, reads IDX files or scans an
// image folder, and keeps the split's samples.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "data/augment.h"
#include "data/dataset_internal.h"

// Fixed key of the imagefolder split order: the TRAIN/VALID split must not
// move when the run seed changes.
static const uint64_t kSplitKey = 0x68776E6173737031ull;

static int join_path(char* buf, size_t n, const char* root, const char* name) {
    int w = name[0] == '/' ? snprintf(buf, n, "%s", name) : snprintf(buf, n, "%s/%s", root, name);
    return w >= 0 && (size_t)w < n ? 0 : -1;
}

static int check_config(const DataSection* c, int is_idx, HwErr* err) {
    if (c->input_size < 1 || c->input_size > AUG_MAX_SIDE)
        return hw_bad_input(err, NULL, 0, "data.input_size %d, expected 1..%d", c->input_size, AUG_MAX_SIDE);
    if (is_idx && c->channels != 1)
        return hw_bad_input(err, NULL, 0, "data.channels %d, expected 1 for idx data", c->channels);
    if (c->channels != 1 && c->channels != 3)
        return hw_bad_input(err, NULL, 0, "data.channels %d, expected 1 or 3", c->channels);
    for (int k = 0; k < c->channels; k++)
        if (!(c->std[k] > 0.0f))
            return hw_bad_input(err, NULL, 0, "data.std[%d] %g, expected > 0", k, c->std[k]);
    if (c->holdout < 0 || c->limit_train < 0 || c->limit_test < 0 || c->pad_crop < 0)
        return hw_bad_input(err, NULL, 0, "data.holdout %d, limit_train %d, limit_test %d, pad_crop %d: expected >= 0",
                            c->holdout, c->limit_train, c->limit_test, c->pad_crop);
    if (is_idx) return 0;
    if (c->val_resize < c->input_size)
        return hw_bad_input(err, NULL, 0, "data.val_resize %d, expected >= input_size %d", c->val_resize, c->input_size);
    if (!(c->rrc_scale[0] > 0.0f && c->rrc_scale[0] <= c->rrc_scale[1]))
        return hw_bad_input(err, NULL, 0, "data.rrc_scale [%g, %g], expected 0 < min <= max", c->rrc_scale[0], c->rrc_scale[1]);
    if (!(c->rrc_ratio[0] > 0.0f && c->rrc_ratio[0] <= c->rrc_ratio[1]))
        return hw_bad_input(err, NULL, 0, "data.rrc_ratio [%g, %g], expected 0 < min <= max", c->rrc_ratio[0], c->rrc_ratio[1]);
    if (!(c->color_jitter >= 0.0f && c->color_jitter <= 1.0f))
        return hw_bad_input(err, NULL, 0, "data.color_jitter %g, expected 0..1", c->color_jitter);
    return 0;
}

// The [first, first + count) range of a split among n samples.
static int split_range(const DataSection* c, DataSplit split, int n, const char* where, int* first, int* count,
                       HwErr* err) {
    if (split == SPLIT_TEST) {
        *first = 0;
        *count = c->limit_test > 0 && c->limit_test < n ? c->limit_test : n;
        return 0;
    }
    int total = c->limit_train > 0 && c->limit_train < n ? c->limit_train : n;
    if (c->holdout >= total)
        return hw_bad_input(err, where, 0, "data.holdout %d leaves no training samples of %d, expected < %d",
                            c->holdout, total, total);
    if (split == SPLIT_VALID && c->holdout == 0)
        return hw_bad_input(err, where, 0, "data.holdout 0 makes the validation split empty, expected > 0");
    *first = split == SPLIT_VALID ? total - c->holdout : 0;
    *count = split == SPLIT_VALID ? c->holdout : total - c->holdout;
    return 0;
}

static int max_label(const IdxLabels* l) {
    int m = 0;
    for (int i = 0; i < l->count; i++)
        if (l->labels[i] > m) m = l->labels[i];
    return m;
}

static int open_idx(Dataset* ds, HwErr* err) {
    const DataSection* c = &ds->cfg;
    char images_path[DATA_PATH_MAX], labels_path[DATA_PATH_MAX], train_labels[DATA_PATH_MAX];
    int test = ds->split == SPLIT_TEST;
    if (join_path(images_path, sizeof images_path, c->root, test ? c->test_images : c->train_images) ||
        join_path(labels_path, sizeof labels_path, c->root, test ? c->test_labels : c->train_labels) ||
        join_path(train_labels, sizeof train_labels, c->root, c->train_labels))
        return hw_bad_input(err, c->root, 0, "data file path too long, expected < %d bytes", DATA_PATH_MAX);
    // The class count comes from the training labels; test labels must fall inside it.
    IdxLabels tl;
    if (idx_read_labels(train_labels, 0, &tl, err)) return -1;
    ds->classes = max_label(&tl) + 1;
    idx_labels_free(&tl);
    IdxLabels labels;
    if (idx_read_pair(images_path, labels_path, ds->classes, &ds->images, &labels, err)) return -1;
    int first, count;
    if (split_range(c, ds->split, ds->images.count, images_path, &first, &count, err)) {
        idx_labels_free(&labels);
        return -1;
    }
    // Keep only the split: move it to the front and shrink.
    size_t per = (size_t)ds->images.rows * ds->images.cols;
    memmove(ds->images.pixels, ds->images.pixels + (size_t)first * per, (size_t)count * per);
    memmove(labels.labels, labels.labels + first, (size_t)count);
    uint8_t* p = realloc(ds->images.pixels, (size_t)count * per);
    if (p) ds->images.pixels = p;
    ds->images.count = count;
    ds->labels8 = labels.labels;
    ds->count = count;
    return 0;
}

static int cmp_int(const void* a, const void* b) {
    int x = *(const int*)a, y = *(const int*)b;
    return (x > y) - (x < y);
}

static int open_folder(Dataset* ds, const char* cache_dir, HwErr* err) {
    const DataSection* c = &ds->cfg;
    char train_dir[DATA_PATH_MAX], dir[DATA_PATH_MAX], cache[DATA_PATH_MAX];
    int test = ds->split == SPLIT_TEST;
    if (join_path(train_dir, sizeof train_dir, c->root, "train") ||
        join_path(dir, sizeof dir, c->root, test ? "val" : "train") ||
        (cache_dir && join_path(cache, sizeof cache, cache_dir, test ? "imagefolder-val.txt" : "imagefolder-train.txt")))
        return hw_bad_input(err, c->root, 0, "path too long, expected < %d bytes", DATA_PATH_MAX);
    char** classes = NULL;
    int n_classes = 0, rc;
    if (test && imagefolder_classes(train_dir, &classes, &n_classes, err)) return -1;
    if (test && n_classes == 0)
        rc = hw_bad_input(err, train_dir, 0, "no class subdirectories, expected the training classes");
    else
        rc = imagefolder_scan(dir, classes, n_classes, cache_dir ? cache : NULL, &ds->list, err);
    for (int i = 0; i < n_classes; i++) free(classes[i]);
    free(classes);
    if (rc) return -1;
    ds->classes = ds->list.classes;
    int n = ds->list.count, first, count;
    if (split_range(c, ds->split, n, dir, &first, &count, err)) return -1;
    // A fixed shuffle of the class-sorted list, so limits and holdouts span all classes.
    int* order = malloc((size_t)n * sizeof *order);
    if (!order) return hw_runtime(err, dir, 0, "out of memory");
    for (int i = 0; i < n; i++) order[i] = i;
    Rng r;
    rng_seed(&r, kSplitKey, (uint64_t)n, 0, 0);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    memmove(order, order + first, (size_t)count * sizeof *order);
    qsort(order, (size_t)count, sizeof *order, cmp_int);
    ds->members = order;
    ds->count = count;
    ds->bad = calloc((size_t)count, sizeof *ds->bad);
    if (!ds->bad) return hw_runtime(err, dir, 0, "out of memory");
    return 0;
}

Dataset* dataset_open_cached(const DataSection* cfg, DataSplit split, const char* cache_dir, HwErr* err) {
    int is_idx = cfg->kind == DATA_IDX;
    if (!is_idx && cfg->kind != DATA_IMAGEFOLDER) {
        hw_bad_input(err, NULL, 0, "data.kind %d, expected idx (%d) or imagefolder (%d)", (int)cfg->kind, DATA_IDX,
                     DATA_IMAGEFOLDER);
        return NULL;
    }
    if (split != SPLIT_TRAIN && split != SPLIT_VALID && split != SPLIT_TEST) {
        hw_bad_input(err, NULL, 0, "split %d, expected SPLIT_TRAIN, SPLIT_VALID or SPLIT_TEST", (int)split);
        return NULL;
    }
    if (check_config(cfg, is_idx, err)) return NULL;
    Dataset* ds = calloc(1, sizeof *ds);
    if (!ds) {
        hw_runtime(err, NULL, 0, "out of memory");
        return NULL;
    }
    ds->cfg = *cfg;
    ds->split = split;
    ds->is_idx = is_idx;
    ds->size = cfg->input_size;
    ds->channels = cfg->channels;
    atomic_init(&ds->skipped, 0);
    pthread_mutex_init(&ds->skip_lock, NULL);
    if (is_idx ? open_idx(ds, err) : open_folder(ds, cache_dir, err)) {
        dataset_close(ds);
        return NULL;
    }
    return ds;
}

Dataset* dataset_open(const DataSection* cfg, DataSplit split, HwErr* err) {
    return dataset_open_cached(cfg, split, NULL, err);
}

int dataset_size(const Dataset* ds) { return ds->count; }
int dataset_classes(const Dataset* ds) { return ds->classes; }
int dataset_skipped(const Dataset* ds) { return atomic_load(&((Dataset*)ds)->skipped); }

int dataset_label(const Dataset* ds, int i) {
    return ds->is_idx ? ds->labels8[i] : ds->list.labels[ds->members[i]];
}

void dataset_set_skip_callback(Dataset* ds, DatasetSkipFn fn, void* user) {
    pthread_mutex_lock(&ds->skip_lock);
    ds->on_skip = fn;
    ds->on_skip_user = user;
    pthread_mutex_unlock(&ds->skip_lock);
}

void dataset_close(Dataset* ds) {
    if (!ds) return;
    idx_images_free(&ds->images);
    free(ds->labels8);
    image_list_free(&ds->list);
    free(ds->members);
    free((void*)ds->bad);
    pthread_mutex_destroy(&ds->skip_lock);
    free(ds);
}
