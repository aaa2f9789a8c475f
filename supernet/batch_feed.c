#include "supernet/batch_feed.h"

#include <stdio.h>
#include <string.h>

static size_t floats_per_image(const Supernet* sn) {
    return (size_t)sn->space.in_h * sn->space.in_w * sn->space.in_c;
}

// Samples of size x size x channels against the space's input; `from` says
// where the data's shape was set.
static int check_shape(int size, int channels, const char* from, const Space* s, HwErr* err) {
    if (size == s->in_h && size == s->in_w && channels == s->in_c) return 0;
    return hw_bad_input(err, NULL, 0,
                        "the data gives %dx%dx%d samples (data.input_size %d, data.channels %d: %s) but the space %s "
                        "has input [%d, %d, %d], expected samples of that shape",
                        size, size, channels, size, channels, from, s->path[0] ? s->path : s->name, s->in_h, s->in_w,
                        s->in_c);
}

int batch_feed_check_data(const DataSection* data, const char* config_path, const Space* space, HwErr* err) {
    char from[CFG_PATH_MAX + 32];
    snprintf(from, sizeof from, "config %s or --set", config_path && config_path[0] ? config_path : "defaults");
    return check_shape(data->input_size, data->channels, from, space, err);
}

// The backend has printed and recorded the details (file, line, call).
static int upload_failed(HwErr* err) { return hw_runtime(err, NULL, 0, "backend error while uploading a batch"); }

int batch_feed_init(BatchFeed* f, Supernet* sn, int batch, HwErr* err) {
    memset(f, 0, sizeof *f);
    f->sn = sn;
    f->batch = batch;
    if (batch < 1 || batch > sn->max_batch)
        return hw_runtime(err, NULL, 0, "batch %d: expected 1 to %d (the supernet's largest batch)", batch,
                          sn->max_batch);
    const Ops* ops = sn->ops;
    for (int s = 0; s < OPS_UPLOAD_SLOTS; s++) {
        f->host_images[s] = ops->host_alloc(&sn->ctx, (size_t)batch * floats_per_image(sn) * sizeof(float));
        f->host_labels[s] = ops->host_alloc(&sn->ctx, (size_t)batch * sizeof(int));
        if (!f->host_images[s] || !f->host_labels[s])
            return hw_runtime(err, NULL, 0, "out of %s host memory for batches of %d", ops->name, batch);
    }
    return 0;
}

void batch_feed_free(BatchFeed* f) {
    Supernet* sn = f->sn;
    if (!sn) return;
    for (int s = 0; s < OPS_UPLOAD_SLOTS; s++) {
        // A batch fetched ahead may still be copying from these buffers.
        (void)sn->ops->upload_wait_host(&sn->ctx, s);
        if (f->host_images[s]) sn->ops->host_free(&sn->ctx, f->host_images[s]);
        if (f->host_labels[s]) sn->ops->host_free(&sn->ctx, f->host_labels[s]);
    }
    supernet_select_input(sn, 0);
    memset(f, 0, sizeof *f);
}

int batch_feed_fetch(BatchFeed* f, int slot, DataLoader* loader, int limit, HwErr* err) {
    Supernet* sn = f->sn;
    const Ops* ops = sn->ops;
    // The slot's previous upload must be done before its host buffer is refilled.
    if (ops->upload_wait_host(&sn->ctx, slot) < 0) return upload_failed(err);
    int size, channels;
    loader_sample_shape(loader, &size, &channels);
    if (check_shape(size, channels, "the loader's dataset", &sn->space, err) < 0) return -1;
    int n = loader_next(loader, f->host_images[slot], f->host_labels[slot], err);
    if (n <= 0) return n;
    if (limit > 0 && n > limit) n = limit;
    size_t image_bytes = (size_t)n * floats_per_image(sn) * sizeof(float);
    if (ops->upload_async(&sn->ctx, slot, sn->slot_images[slot], f->host_images[slot], image_bytes) < 0 ||
        ops->upload_async(&sn->ctx, slot, sn->slot_labels[slot], f->host_labels[slot], (size_t)n * sizeof(int)) < 0)
        return upload_failed(err);
    return n;
}

int batch_feed_use(BatchFeed* f, int slot, HwErr* err) {
    Supernet* sn = f->sn;
    if (sn->ops->upload_acquire(&sn->ctx, slot) < 0) return upload_failed(err);
    supernet_select_input(sn, slot);
    return 0;
}

int batch_feed_done(BatchFeed* f, int slot, HwErr* err) {
    Supernet* sn = f->sn;
    if (sn->ops->upload_release(&sn->ctx, slot) < 0) return upload_failed(err);
    return 0;
}
