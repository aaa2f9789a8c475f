// Batch scheduling. Worker threads claim samples of the oldest unfinished
// batch and write them straight into a fixed ring of batch buffers (no
// allocation after loader_create); loader_next waits for its batch, in order,
// copies it out and frees the ring slot. With workers = 0 the caller's thread
// decodes directly into the caller's buffers.
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "data/dataset_internal.h"

enum { MAX_WORKERS = 64, IDX_CLAIM = 32 };
static const uint64_t kPermKey = 0xFFFFFFFFFFFFull;  // rng_seed b-key of the epoch permutation

typedef struct Slot {
    float* images;
    int* labels;
    int batch;        // rank-local batch index it holds or is filling, -1 when free
    int count;        // samples in that batch
    int remaining;    // samples not finished yet
    int ready;
    int failed;
    HwErr err;
} Slot;

typedef struct Worker {
    DataLoader* loader;
    SampleWorker sw;
    pthread_t thread;
    int started;
} Worker;

struct DataLoader {
    Dataset* ds;
    LoaderOptions opt;
    size_t sample_floats;
    int per_epoch;            // batches this rank reads per epoch
    int* perm;                // [ds->count] sample order of the current epoch
    int epoch, next, started;
    int n_workers;            // threads (0 = synchronous)
    Worker* workers;          // max(1, n_workers): workers[0] decodes in sync mode
    Slot* slots;
    int n_slots;
    pthread_mutex_t lock;
    pthread_cond_t work_cond, ready_cond, idle_cond;
    int claim_batch, claim_sample;   // next unclaimed work
    int busy;                        // workers processing claimed samples
    int stop;
};

// Sample positions [*first, *first + *count) in the permutation for rank-local batch k.
static void batch_range(const DataLoader* l, int k, int* first, int* count) {
    long long global = (long long)l->opt.rank + (long long)k * l->opt.world;
    long long start = global * l->opt.batch, n = l->ds->count;
    long long end = start + l->opt.batch < n ? start + l->opt.batch : n;
    *first = (int)start;
    *count = (int)(end - start);
}

static int compute_per_epoch(const DataLoader* l) {
    int n = l->ds->count, b = l->opt.batch, world = l->opt.world, rank = l->opt.rank;
    if (l->opt.drop_last) return (n / b) / world;
    int total = (n + b - 1) / b;
    return total > rank ? (total - rank + world - 1) / world : 0;
}

static int load_one(DataLoader* l, SampleWorker* sw, int pos, float* out, int* label, HwErr* err) {
    return sample_load(l->ds, sw, l->opt.seed, l->epoch, l->perm[pos], l->opt.augment, out, label, err);
}

// ---- worker threads ------------------------------------------------------

// Whether the next work item can be claimed: its batch is in this epoch and its
// ring slot is free or already being filled with it.
static int claimable(const DataLoader* l) {
    if (l->claim_batch >= l->per_epoch) return 0;
    const Slot* s = &l->slots[l->claim_batch % l->n_slots];
    return s->batch == -1 || s->batch == l->claim_batch;
}

static void* worker_main(void* arg) {
    Worker* w = arg;
    DataLoader* l = w->loader;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->stop && !claimable(l)) pthread_cond_wait(&l->work_cond, &l->lock);
        if (l->stop) break;
        int k = l->claim_batch, s0 = l->claim_sample;
        Slot* slot = &l->slots[k % l->n_slots];
        int first, count;
        batch_range(l, k, &first, &count);
        if (slot->batch != k) *slot = (Slot){slot->images, slot->labels, k, count, count, 0, 0, {{0}, 0}};
        int take = l->ds->is_idx ? IDX_CLAIM : 1;
        if (take > count - s0) take = count - s0;
        l->claim_sample += take;
        if (l->claim_sample == count) {
            l->claim_batch++;
            l->claim_sample = 0;
        }
        l->busy++;
        pthread_mutex_unlock(&l->lock);

        HwErr err = {{0}, 0};
        int rc = 0;
        for (int s = s0; s < s0 + take && rc == 0; s++)
            rc = load_one(l, &w->sw, first + s, slot->images + (size_t)s * l->sample_floats, &slot->labels[s], &err);

        pthread_mutex_lock(&l->lock);
        l->busy--;
        if (rc && !slot->failed) {
            slot->failed = 1;
            slot->err = err;
        }
        slot->remaining -= take;
        if (slot->remaining == 0) {
            slot->ready = 1;
            pthread_cond_broadcast(&l->ready_cond);
        }
        if (l->busy == 0) pthread_cond_broadcast(&l->idle_cond);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

// ---- public --------------------------------------------------------------

static int check_options(const Dataset* ds, const LoaderOptions* o, HwErr* err) {
    if (o->batch < 1) return hw_bad_input(err, NULL, 0, "loader batch %d, expected >= 1", o->batch);
    if (o->world < 1 || o->rank < 0 || o->rank >= o->world)
        return hw_bad_input(err, NULL, 0, "loader rank %d of world %d, expected 0 <= rank < world", o->rank, o->world);
    if (o->workers < 0 || o->workers > MAX_WORKERS)
        return hw_bad_input(err, NULL, 0, "loader workers %d, expected 0..%d", o->workers, MAX_WORKERS);
    if (o->prefetch < 0) return hw_bad_input(err, NULL, 0, "loader prefetch %d, expected >= 0", o->prefetch);
    if (!!o->alloc_pinned != !!o->free_pinned)
        return hw_bad_input(err, NULL, 0, "loader alloc_pinned and free_pinned must be given together");
    if (ds->count < 1) return hw_bad_input(err, NULL, 0, "empty dataset, expected at least one sample");
    return 0;
}

static void* alloc_buffer(const LoaderOptions* o, size_t bytes) {
    return o->alloc_pinned ? o->alloc_pinned(bytes) : malloc(bytes);
}

static void free_buffer(const LoaderOptions* o, void* p) {
    if (!p) return;
    if (o->free_pinned)
        o->free_pinned(p);
    else
        free(p);
}

DataLoader* loader_create(Dataset* ds, const LoaderOptions* opt, HwErr* err) {
    if (check_options(ds, opt, err)) return NULL;
    DataLoader* l = calloc(1, sizeof *l);
    if (!l) {
        hw_runtime(err, NULL, 0, "out of memory");
        return NULL;
    }
    l->ds = ds;
    l->opt = *opt;
    if (l->opt.prefetch == 0) l->opt.prefetch = 2;
    l->sample_floats = (size_t)ds->size * ds->size * ds->channels;
    l->per_epoch = compute_per_epoch(l);
    l->n_workers = opt->workers;
    l->n_slots = opt->workers ? l->opt.prefetch : 0;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->work_cond, NULL);
    pthread_cond_init(&l->ready_cond, NULL);
    pthread_cond_init(&l->idle_cond, NULL);
    int n_ctx = opt->workers ? opt->workers : 1;
    l->perm = malloc((size_t)ds->count * sizeof *l->perm);
    l->workers = calloc((size_t)n_ctx, sizeof *l->workers);
    l->slots = calloc((size_t)l->n_slots + 1, sizeof *l->slots);
    int rc = !l->perm || !l->workers || !l->slots ? hw_runtime(err, NULL, 0, "out of memory") : 0;
    for (int i = 0; rc == 0 && i < l->n_slots; i++) {
        Slot* s = &l->slots[i];
        s->batch = -1;
        s->images = alloc_buffer(opt, (size_t)opt->batch * l->sample_floats * sizeof(float));
        s->labels = malloc((size_t)opt->batch * sizeof *s->labels);
        if (!s->images || !s->labels)
            rc = hw_runtime(err, NULL, 0, "out of memory for %d batch buffers of %d samples", l->n_slots, opt->batch);
    }
    for (int i = 0; rc == 0 && i < n_ctx; i++) {
        l->workers[i].loader = l;
        rc = sample_worker_init(&l->workers[i].sw, err);
    }
    l->claim_batch = l->per_epoch;  // nothing to claim before loader_start_epoch
    for (int i = 0; rc == 0 && i < l->n_workers; i++) {
        if (pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]))
            rc = hw_runtime(err, NULL, 0, "cannot start loader thread %d of %d", i + 1, l->n_workers);
        else
            l->workers[i].started = 1;
    }
    if (rc) {
        loader_destroy(l);
        return NULL;
    }
    return l;
}

int loader_batches_per_epoch(const DataLoader* l) { return l->per_epoch; }

void loader_sample_shape(const DataLoader* l, int* size, int* channels) {
    *size = l->ds->size;
    *channels = l->ds->channels;
}

static void make_permutation(DataLoader* l) {
    int n = l->ds->count;
    for (int i = 0; i < n; i++) l->perm[i] = i;
    if (!l->opt.shuffle) return;
    Rng r;
    rng_seed(&r, l->opt.seed, (uint64_t)l->epoch, kPermKey, 0);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint32_t)i + 1), t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
}

void loader_start_epoch(DataLoader* l, int epoch, int first_batch) {
    if (first_batch < 0) first_batch = 0;
    if (first_batch > l->per_epoch) first_batch = l->per_epoch;
    pthread_mutex_lock(&l->lock);
    // Stop handing out work and wait for samples in flight: after that no
    // worker reads the permutation or the slots until new work is published.
    l->claim_batch = l->per_epoch;
    while (l->busy > 0) pthread_cond_wait(&l->idle_cond, &l->lock);
    for (int i = 0; i < l->n_slots; i++) {
        l->slots[i].batch = -1;
        l->slots[i].ready = 0;
    }
    l->epoch = epoch;
    make_permutation(l);
    l->next = first_batch;
    l->started = 1;
    l->claim_batch = first_batch;
    l->claim_sample = 0;
    pthread_cond_broadcast(&l->work_cond);
    pthread_mutex_unlock(&l->lock);
}

static int next_sync(DataLoader* l, float* images, int* labels, HwErr* err) {
    int first, count;
    batch_range(l, l->next, &first, &count);
    l->next++;
    for (int s = 0; s < count; s++)
        if (load_one(l, &l->workers[0].sw, first + s, images + (size_t)s * l->sample_floats, &labels[s], err))
            return -1;
    return count;
}

int loader_next(DataLoader* l, float* images, int* labels, HwErr* err) {
    if (!l->started) return hw_runtime(err, NULL, 0, "loader_next before loader_start_epoch");
    if (l->next >= l->per_epoch) return 0;
    if (l->n_workers == 0) return next_sync(l, images, labels, err);
    int k = l->next;
    Slot* slot = &l->slots[k % l->n_slots];
    pthread_mutex_lock(&l->lock);
    while (!(slot->batch == k && slot->ready)) pthread_cond_wait(&l->ready_cond, &l->lock);
    pthread_mutex_unlock(&l->lock);
    // The slot stays ours until we free it below, so the copy needs no lock.
    int count = slot->count, failed = slot->failed;
    if (failed && err) *err = slot->err;
    if (!failed) {
        memcpy(images, slot->images, (size_t)count * l->sample_floats * sizeof(float));
        memcpy(labels, slot->labels, (size_t)count * sizeof *labels);
    }
    pthread_mutex_lock(&l->lock);
    slot->batch = -1;
    slot->ready = 0;
    l->next++;
    pthread_cond_broadcast(&l->work_cond);
    pthread_mutex_unlock(&l->lock);
    return failed ? -1 : count;
}

void loader_destroy(DataLoader* l) {
    if (!l) return;
    pthread_mutex_lock(&l->lock);
    l->stop = 1;
    pthread_cond_broadcast(&l->work_cond);
    pthread_mutex_unlock(&l->lock);
    int n_ctx = l->n_workers ? l->n_workers : 1;
    for (int i = 0; l->workers && i < n_ctx; i++) {
        if (l->workers[i].started) pthread_join(l->workers[i].thread, NULL);
        sample_worker_free(&l->workers[i].sw);
    }
    for (int i = 0; l->slots && i < l->n_slots; i++) {
        free_buffer(&l->opt, l->slots[i].images);
        free(l->slots[i].labels);
    }
    pthread_cond_destroy(&l->work_cond);
    pthread_cond_destroy(&l->ready_cond);
    pthread_cond_destroy(&l->idle_cond);
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l->workers);
    free(l->perm);
    free(l);
}
