// Feeding loader batches to a supernet with the upload of the next batch
// overlapping the step that reads the current one. Each batch goes from the
// loader into host memory of the backend (pinned on CUDA, ops->host_alloc),
// then by ops->upload_async into one of the supernet's two input slots.
// On the CPU every call is a plain copy: results are exactly those of
// uploading each batch with ops->upload just before its step.
//
// A loop over batches, slot s alternating 0, 1, 0, ...:
//
//   n = batch_feed_fetch(&feed, 0, loader, limit, err);     // the first batch
//   while (n > 0) {
//       batch_feed_use(&feed, s, err);   // ops queued from here read slot s
//       ... queue every op that reads sn->images / sn->labels ...
//       batch_feed_done(&feed, s, err);  // none queued later reads slot s
//       next = batch_feed_fetch(&feed, s ^ 1, loader, limit, err);  // overlaps
//       ... wait for the step's results ...
//       n = next, s ^= 1;
//   }
#ifndef HWNAS_BATCH_FEED_H
#define HWNAS_BATCH_FEED_H

#include "common/error.h"
#include "data/loader.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct BatchFeed {
    Supernet* sn;
    int batch;                                   // the loader's batch size
    float* host_images[OPS_UPLOAD_SLOTS];        // [batch][H][W][C], ops->host_alloc
    int* host_labels[OPS_UPLOAD_SLOTS];          // [batch]
} BatchFeed;

// Refuses data whose samples are not the space's input: the loader writes
// data.input_size x data.input_size x data.channels floats per sample into
// buffers sized for the space's H x W x C (a mismatch overflowed them). Every
// command that feeds data to a supernet calls it before it reads or writes
// anything else; batch_feed_fetch checks each loader the same way.
// 0, or -1 with err (exit 2) naming both shapes and where they come from.
int batch_feed_check_data(const DataSection* data, const char* config_path, const Space* space, HwErr* err);

// Host buffers for batches of `batch` (at most sn->max_batch) samples.
// 0, or -1 with err filled (then batch_feed_free is still safe).
int batch_feed_init(BatchFeed* f, Supernet* sn, int batch, HwErr* err);
// Waits for uploads in flight, frees the host buffers and selects input slot 0.
void batch_feed_free(BatchFeed* f);

// Reads the loader's next batch into `slot` and queues its upload into the
// supernet's input slot. At most `limit` samples are kept (limit <= 0: all).
// Returns the sample count, 0 at the end of the epoch, -1 on error (also
// when the loader's samples are not the space's input shape).
int batch_feed_fetch(BatchFeed* f, int slot, DataLoader* loader, int limit, HwErr* err);
// Selects input slot `slot` for the ops queued next, after its upload.
int batch_feed_use(BatchFeed* f, int slot, HwErr* err);
// Marks the ops queued so far as the last readers of input slot `slot`.
int batch_feed_done(BatchFeed* f, int slot, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
