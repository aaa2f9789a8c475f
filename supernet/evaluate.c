#include "supernet/evaluate.h"

#include <stdlib.h>
#include <string.h>

static DataLoader* make_loader(Dataset* ds, int batch, int augment, uint64_t seed, int workers, HwErr* err) {
    LoaderOptions opt = {0};
    opt.batch = batch;
    opt.augment = augment;
    opt.shuffle = augment;  // the recalibration subset is a fixed random sample
    opt.seed = seed;
    opt.workers = workers;
    opt.world = 1;
    opt.drop_last = 0;
    opt.prefetch = 2;
    return loader_create(ds, &opt, err);
}

Evaluator* evaluator_create(Supernet* sn, const EvalOptions* opt, HwErr* err) {
    Evaluator* ev = calloc(1, sizeof(Evaluator));
    if (!ev) {
        hw_runtime(err, NULL, 0, "out of memory");
        return NULL;
    }
    const DataSection* data = opt->data;
    ev->sn = sn;
    ev->batch = sn->max_batch;
    ev->recal_images = opt->recal_images;
    ev->val_images = opt->val_images;
    ev->exact = opt->bn_mode == BN_EXACT;
    if (batch_feed_init(&ev->feed, sn, ev->batch, err) < 0) goto fail;
    if (opt->recal_images > 0) {
        if (!(ev->recal_set = dataset_open(data, SPLIT_TRAIN, err))) goto fail;
        if (!(ev->recal = make_loader(ev->recal_set, ev->batch, 1, opt->seed, data->workers, err))) goto fail;
    }
    if (!(ev->val_set = dataset_open(data, opt->split, err))) goto fail;
    if (!(ev->val = make_loader(ev->val_set, ev->batch, 0, opt->seed, data->workers, err))) goto fail;
    return ev;
fail:
    if (!err->msg[0]) hw_runtime(err, NULL, 0, "out of memory");
    evaluator_destroy(ev);
    return NULL;
}

void evaluator_destroy(Evaluator* ev) {
    if (!ev) return;
    loader_destroy(ev->recal);
    loader_destroy(ev->val);
    dataset_close(ev->recal_set);
    dataset_close(ev->val_set);
    batch_feed_free(&ev->feed);
    free(ev);
}

// The next batch of at most `limit` samples into input slot `slot` (uploading
// while the previous batch computes); its size, 0 when limit or the data is
// exhausted, -1 on error.
static int next_batch(Evaluator* ev, int slot, DataLoader* l, int limit, HwErr* err) {
    return limit > 0 ? batch_feed_fetch(&ev->feed, slot, l, limit, err) : 0;
}

int evaluator_recalibrate(Evaluator* ev, const int* path, HwErr* err) {
    if (ev->recal_images <= 0) return 0;
    Supernet* sn = ev->sn;
    if (supernet_reset_path_bn(sn, path, err) < 0) return -1;
    loader_start_epoch(ev->recal, 0, 0);  // the same images for every candidate
    int done = 0, k = 0, slot = 0;
    int n = next_batch(ev, slot, ev->recal, ev->recal_images, err);
    while (n > 0) {
        // momentum 1/(k+1) makes the running values the exact mean over batches.
        float momentum = ev->exact ? 1.0f / (float)(k + 1) : 0.1f;
        if (batch_feed_use(&ev->feed, slot, err) < 0) return -1;
        supernet_forward(sn, path, n, MODE_TRAIN, momentum);
        if (batch_feed_done(&ev->feed, slot, err) < 0) return -1;
        done += n, k++, slot ^= 1;
        n = next_batch(ev, slot, ev->recal, ev->recal_images - done, err);
    }
    if (n < 0) return -1;
    return sn->ops->synchronize(&sn->ctx) < 0 ? hw_runtime(err, NULL, 0, "backend error in BN recalibration") : 0;
}

int evaluator_accuracy(Evaluator* ev, const int* path, double* top1, double* top5, int* count, HwErr* err) {
    Supernet* sn = ev->sn;
    loader_start_epoch(ev->val, 0, 0);
    int limit = ev->val_images > 0 ? ev->val_images : dataset_size(ev->val_set);
    long c1 = 0, c5 = 0, seen = 0;
    int slot = 0;
    int n = next_batch(ev, slot, ev->val, limit, err);
    while (n > 0) {
        if (batch_feed_use(&ev->feed, slot, err) < 0) return -1;
        supernet_forward(sn, path, n, MODE_EVAL, 0);
        sn->ops->topk_correct(&sn->ctx, sn->correct, sn->correct + 1, sn->logits, sn->labels, n, sn->space.classes);
        if (batch_feed_done(&ev->feed, slot, err) < 0) return -1;
        seen += n, slot ^= 1;
        progress_update(ev->progress, (int)seen);
        int next = next_batch(ev, slot, ev->val, limit - (int)seen, err);
        int counts[2];
        sn->ops->download(&sn->ctx, counts, sn->correct, sizeof counts);
        c1 += counts[0], c5 += counts[1];
        n = next;
    }
    if (n < 0) return -1;
    if (seen == 0) return hw_bad_input(err, NULL, 0, "the evaluation split is empty");
    *top1 = (double)c1 / (double)seen;
    *top5 = (double)c5 / (double)seen;
    if (count) *count = (int)seen;
    return 0;
}

int evaluator_images(const Evaluator* ev) {
    int all = dataset_size(ev->val_set);
    return ev->val_images > 0 && ev->val_images < all ? ev->val_images : all;
}

int evaluator_score(Evaluator* ev, const int* path, double* top1, double* top5, HwErr* err) {
    if (evaluator_recalibrate(ev, path, err) < 0) return -1;
    return evaluator_accuracy(ev, path, top1, top5, NULL, err);
}
