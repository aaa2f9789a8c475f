#include "supernet/trainer.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/rng.h"
#include "common/safe_file.h"
#include "data/loader.h"
#include "supernet/batch_feed.h"
#include "supernet/checkpoint.h"

float lr_at(LrSchedule schedule, float peak, int64_t step, int64_t total, int64_t warmup) {
    if (warmup > 0 && step < warmup) return peak * (float)(step + 1) / (float)warmup;
    if (schedule == LR_CONSTANT || total <= warmup) return peak;
    double t = (double)(step - warmup) / (double)(total - warmup);
    if (t > 1) t = 1;
    if (schedule == LR_LINEAR) return (float)(peak * (1.0 - t));
    return (float)(0.5 * peak * (1.0 + cos(M_PI * t)));
}

void sample_path(const Supernet* sn, uint64_t seed, uint64_t step, int attempt, const int* pinned, int* path) {
    Rng rng;
    rng_seed(&rng, seed, step, (uint64_t)attempt, 0x5A3F1ull);
    for (int l = 0; l < sn->space.n_layers; l++) {
        uint32_t draw = rng_below(&rng, (uint32_t)sn->space.layers[l].n_ops);
        path[l] = (pinned && pinned[l] >= 0) ? pinned[l] : (int)draw;
    }
}

#define LOG_HEADER "step,epoch,lr,loss,top1,images_per_s,seconds\n"

// Copies the rows of the old log whose first column (step) is <= last_step,
// so a resumed run continues the log as if it had never stopped. The old log
// is read without following a link; without one the new log gets a header.
static int copy_kept_rows(const char* path, int64_t last_step, SafeFile* log, HwErr* err) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE* in = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!in) {
        if (fd >= 0) close(fd);
        safe_file_printf(log, LOG_HEADER);
        return 0;
    }
    char line[512];
    int first = 1;
    while (fgets(line, sizeof line, in)) {
        // A last row without its newline was cut by a kill: its step may read as any prefix.
        int whole = strchr(line, '\n') != NULL;
        if (first || (whole && atoll(line) <= last_step)) safe_file_printf(log, "%s", line);
        first = 0;
    }
    if (first) safe_file_printf(log, LOG_HEADER);  // an empty old log
    int bad = ferror(in);
    fclose(in);
    return bad ? hw_runtime(err, path, 0, "cannot read the training log to continue it") : 0;
}

// The training log grows row by row while the run goes. It starts as a new
// temporary file (the header, or the kept rows of a resumed run) renamed over
// the old log, so a link planted at its name is replaced, never followed; the
// rows are then appended to that file. Write errors stop the run.
static int open_log(SafeFile* log, const char* csv, int resume, int64_t last_step, HwErr* err) {
    if (safe_file_begin(log, csv, err) < 0) return -1;
    int rc = 0;
    if (resume && log->tmp[0]) rc = copy_kept_rows(csv, last_step, log, err);
    else safe_file_printf(log, LOG_HEADER);  // a device (/dev/null) has no old rows to keep
    if (rc < 0 || safe_file_publish(log, err) < 0) {
        safe_file_abort(log);
        return -1;
    }
    return 0;
}

typedef struct Window {
    double loss_sum, seconds;
    int64_t correct, images, steps;
} Window;

static void progress(const TrainJob* job, int epoch, int epochs, int b, int batches, double loss, double top1,
                     double ips, double eta) {
    if (job->quiet) return;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\repoch %d/%d  step %d/%d  loss %.4f  top1 %.3f  %.0f img/s  ETA %.0fs   ", epoch + 1, epochs,
                b, batches, loss, top1, ips, eta);
    else
        fprintf(stderr, "epoch %d/%d step %d/%d loss %.4f top1 %.3f %.0f img/s ETA %.0fs\n", epoch + 1, epochs, b,
                batches, loss, top1, ips, eta);
}

static int open_loader(const TrainJob* job, const Comm* comm, Dataset** ds, DataLoader** loader, HwErr* err) {
    *ds = dataset_open(job->data, SPLIT_TRAIN, err);
    if (!*ds) return -1;
    LoaderOptions opt = {0};
    opt.batch = job->train->batch;
    opt.augment = 1;
    opt.shuffle = 1;
    opt.seed = job->train->seed;
    opt.workers = job->data->workers;
    opt.rank = comm ? comm->rank : 0;
    opt.world = comm ? comm->size : 1;
    opt.drop_last = 1;
    opt.prefetch = 2;
    *loader = loader_create(*ds, &opt, err);
    return *loader ? 0 : -1;
}

// The path of `step`: 0, or 1 when no draw met the filter (the last is used).
static int draw_path(Supernet* sn, const TrainJob* job, uint64_t step, int* path) {
    if (job->fixed_path) {
        memcpy(path, job->fixed_path, sizeof(int) * (size_t)sn->space.n_layers);
        return 0;
    }
    // At most 500 draws, then the last one is used (as SPOS does).
    for (int attempt = 0; attempt < 500; attempt++) {
        sample_path(sn, job->train->seed, step, attempt, job->pinned, path);
        if (!job->filter || path_filter_accepts(job->filter, path)) return 0;
    }
    return 1;
}

// An optimizer step in two halves, so the next batch can be fetched and its
// upload queued between them. The first queues every op that reads the
// batch: forward, loss, top-1 count, backward.
void train_forward_backward(Supernet* sn, const int* path, int batch, float smoothing) {
    const Ops* ops = sn->ops;
    supernet_forward(sn, path, batch, MODE_TRAIN, 0.1f);
    ops->cross_entropy_forward_backward(&sn->ctx, sn->loss, sn->dlogits, sn->logits, sn->labels, batch,
                                        sn->space.classes, smoothing);
    ops->topk_correct(&sn->ctx, sn->correct, sn->correct + 1, sn->logits, sn->labels, batch, sn->space.classes);
    supernet_zero_path_grads(sn, path);
    supernet_backward(sn);
}

typedef struct StepOutcome {
    float loss;       // mean over every rank's batch
    int correct, images;
    int stop;         // some rank was interrupted
} StepOutcome;

// Averages the sampled path's gradients over the ranks.
int train_average_path_grads(Supernet* sn, const int* path, Comm* comm, HwErr* err) {
    if (!comm || comm->size == 1) return 0;
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        if (sn->blocks[b].param_floats &&
            comm_allreduce_mean(comm, sn->grads + sn->param_offset[b], sn->blocks[b].param_floats, err) < 0)
            return -1;
    }
    return 0;
}

// The second waits for the loss (host) and the top-1 count, agrees on them
// (and on stopping) with the other ranks, and updates the weights unless the
// loss is not finite. Every rank takes the same decision from the same sums.
static int finish_step(Supernet* sn, const int* path, const SgdConfig* sgd, Comm* comm, int images, int stop,
                       StepOutcome* out, HwErr* err) {
    float loss;
    int counts[2];
    sn->ops->download(&sn->ctx, &loss, sn->loss, sizeof loss);
    sn->ops->download(&sn->ctx, counts, sn->correct, sizeof counts);
    double sums[4] = {loss, counts[0], images, stop};
    if (comm_allreduce_host(comm, sums, 4, err) < 0) return -1;
    int ranks = comm ? comm->size : 1;
    out->loss = (float)(sums[0] / ranks);
    out->correct = (int)sums[1], out->images = (int)sums[2], out->stop = sums[3] > 0;
    if (!isfinite(out->loss)) return 0;
    if (train_average_path_grads(sn, path, comm, err) < 0) return -1;
    supernet_sgd_path(sn, path, sgd);
    return 0;
}

// Rank 0's weights and momentum to every rank at the end of an epoch: the
// averaged updates keep the ranks identical already; this makes sure
// nothing (a different BLAS on another machine) lets them drift apart.
static int sync_weights(Supernet* sn, Comm* comm, HwErr* err) {
    if (!comm || comm->size == 1) return 0;
    if (comm_broadcast(comm, sn->params, sn->param_floats * sizeof(float), err) < 0) return -1;
    sn->grads_momentum_zero = 0;
    return comm_broadcast(comm, sn->momentum, sn->param_floats * sizeof(float), err);
}

// A checkpoint within an epoch: every train.checkpoint_every_steps steps
// (counted over the whole run, so a resumed run saves at the same steps),
// or once train.checkpoint_every_minutes passed since the last one. Saving
// changes nothing in the state, so the run's result does not depend on it.
static int periodic_due(const TrainSection* t, int64_t steps_done, double last_save) {
    if (t->checkpoint_every_steps > 0 && steps_done % t->checkpoint_every_steps == 0) return 1;
    return t->checkpoint_every_minutes > 0 && clock_seconds() - last_save >= 60.0 * t->checkpoint_every_minutes;
}

// A kill -9 during a checkpoint or log write leaves NAME.XXXXXX behind
// (never read); a restarted run removes them.
static int remove_leftovers(const char* ckpt, const char* csv, int quiet, HwErr* err) {
    int a = safe_remove_leftovers(ckpt, err);
    int b = a < 0 ? -1 : safe_remove_leftovers(csv, err);
    if (b < 0) return -1;
    if (a + b > 0 && !quiet)
        fprintf(stderr, "hwnas: removed %d temporary file%s left by an interrupted write of %s\n", a + b,
                a + b == 1 ? "" : "s", a ? ckpt : csv);
    return 0;
}

// Everything one training job holds while it runs.
typedef struct Loop {
    Supernet* sn;
    const TrainJob* job;
    TrainResult* result;
    Dataset* ds;
    DataLoader* loader;
    BatchFeed feed;
    SafeFile log;
    int log_open, root, quiet;
    char ckpt[SAFE_PATH_MAX], csv[SAFE_PATH_MAX];
    int* path;
    int batch, batches;
    int64_t step, total, warmup;
    SgdConfig sgd;
    Window win;
    double start, last_save;
    TrainState st;
} Loop;

// The loader, the checks of the data against the space, the batch buffers,
// the resumed state and the log.
static int loop_open(Loop* L, HwErr* err) {
    const TrainJob* job = L->job;
    const char* source = job->config_path && job->config_path[0] ? job->config_path : NULL;
    if (safe_path(L->ckpt, sizeof L->ckpt, err, "%s/%s", job->run_dir, job->checkpoint_name) < 0 ||
        safe_path(L->csv, sizeof L->csv, err, "%s/%s", job->run_dir, job->csv_name) < 0)
        return -1;
    L->path = calloc((size_t)L->sn->space.n_layers + 1, sizeof(int));
    if (!L->path) return hw_runtime(err, NULL, 0, "out of memory");
    if (open_loader(job, job->comm, &L->ds, &L->loader, err) < 0) return -1;
    if (dataset_classes(L->ds) > L->sn->space.classes)
        return hw_bad_input(err, source, 0, "the data has %d classes, the space %s has %d outputs",
                            dataset_classes(L->ds), L->sn->space.name, L->sn->space.classes);
    L->batch = job->train->batch;
    L->batches = loader_batches_per_epoch(L->loader);
    if (L->batches <= 0)
        return hw_bad_input(err, source, 0, "the training split has fewer samples than one batch (%d)", L->batch);
    if (batch_feed_init(&L->feed, L->sn, L->batch, err) < 0) return -1;
    if (job->resume && (checkpoint_load(L->ckpt, L->sn, &L->st, NULL, err) < 0 ||
                        checkpoint_check_state(L->ckpt, &L->st, job->epochs, L->batches, err) < 0))
        return -1;
    if (L->root) {
        if (remove_leftovers(L->ckpt, L->csv, L->quiet, err) < 0 ||
            open_log(&L->log, L->csv, job->resume, (int64_t)L->st.step, err) < 0)
            return -1;
        L->log_open = 1;
    }
    const TrainSection* t = job->train;
    L->total = (int64_t)job->epochs * L->batches;
    L->warmup = (int64_t)(t->warmup_epochs * L->batches);
    L->sgd = (SgdConfig){0, t->momentum, t->weight_decay, t->nesterov};
    L->step = (int64_t)L->st.step;
    L->start = L->last_save = clock_seconds();
    return 0;
}

// The log row of a step, and every 20 steps (and at an epoch's end) the
// progress line.
static int log_step(Loop* L, int epoch, int b, const StepOutcome* o, double step_seconds, HwErr* err) {
    // One row per step, so a resumed run continues the log exactly.
    if (L->log_open)
        safe_file_printf(&L->log, "%lld,%d,%.6g,%.6f,%.4f,%.1f,%.3f\n", (long long)L->step + 1, epoch + 1, L->sgd.lr,
                         o->loss, (double)o->correct / o->images, o->images / step_seconds, clock_seconds() - L->start);
    Window* w = &L->win;
    w->loss_sum += o->loss, w->correct += o->correct, w->images += o->images, w->steps++;
    w->seconds += step_seconds;
    if (w->steps < 20 && b != L->batches - 1) return 0;
    double ips = w->images / w->seconds;
    double eta = (double)(L->total - L->step - 1) * (w->seconds / (double)w->steps);
    if (L->log_open && safe_file_flush(&L->log, err) < 0) return -1;
    if (!L->quiet)
        progress(L->job, epoch, L->job->epochs, b + 1, L->batches, w->loss_sum / w->steps,
                 (double)w->correct / w->images, ips, eta);
    L->result->final_loss = w->loss_sum / w->steps;
    memset(w, 0, sizeof *w);
    return 0;
}

// Step b of the epoch on the n images in input slot b % 2, fetching the
// next batch into the other slot meanwhile (*next_n: its size). Sets *stop
// when some rank was interrupted.
static int run_step(Loop* L, int epoch, int b, int n, int* next_n, int* stop, HwErr* err) {
    Supernet* sn = L->sn;
    const TrainJob* job = L->job;
    double t0 = clock_seconds();
    int slot = b % 2;
    L->result->unfiltered += draw_path(sn, job, (uint64_t)L->step, L->path);
    L->sgd.lr = lr_at(job->train->lr_schedule, job->lr, L->step, L->total, L->warmup);
    if (batch_feed_use(&L->feed, slot, err) < 0) return -1;
    train_forward_backward(sn, L->path, n, job->train->label_smoothing);
    if (batch_feed_done(&L->feed, slot, err) < 0) return -1;
    *next_n = b + 1 < L->batches ? batch_feed_fetch(&L->feed, slot ^ 1, L->loader, L->batch, err) : 0;
    StepOutcome o;
    int stop_here = job->interrupted && *job->interrupted;
    if (finish_step(sn, L->path, &L->sgd, job->comm, n, stop_here, &o, err) < 0) return -1;
    if (sn->ops->synchronize(&sn->ctx) < 0)
        return hw_runtime(err, NULL, 0, "backend error at step %lld", (long long)L->step);
    if (!isfinite(o.loss))
        return hw_runtime(err, NULL, 0,
                          "loss is %s at step %lld (epoch %d, lr %.4g): training diverged; the last good checkpoint "
                          "%s is intact",
                          isnan(o.loss) ? "NaN" : "infinite", (long long)L->step, epoch + 1, L->sgd.lr, L->ckpt);
    if (log_step(L, epoch, b, &o, clock_seconds() - t0, err) < 0) return -1;
    L->result->steps++;
    *stop = o.stop;
    return 0;
}

// The checkpoint of state `st`. The log's rows up to it reach the file
// first, so a kill after it loses none.
static int save_state(Loop* L, const TrainState* st, HwErr* err) {
    if (L->log_open && safe_file_flush(&L->log, err) < 0) return -1;
    if (L->root && checkpoint_save(L->ckpt, L->sn, st, NULL, err) < 0) return -1;
    L->last_save = clock_seconds();
    return 0;
}

// A checkpoint after step b of the epoch, so --resume continues exactly:
// on Ctrl-C, or when a periodic one is due (the epoch's end saves anyway).
static int save_within_epoch(Loop* L, int epoch, int b, int stop, HwErr* err) {
    if (!stop && (b + 1 == L->batches || !periodic_due(L->job->train, L->step + 1, L->last_save))) return 0;
    TrainState now = {(uint64_t)L->step + 1, (uint32_t)epoch, (uint32_t)b + 1};
    if (b + 1 == L->batches) now.epoch++, now.batch_in_epoch = 0;
    if (save_state(L, &now, err) < 0) return -1;
    if (!stop) return 0;
    if (!L->quiet) fprintf(stderr, "\ninterrupted: checkpoint saved to %s; continue with --resume\n", L->ckpt);
    L->result->interrupted = 1;
    return 0;
}

// One epoch (from the resumed batch on the first), then the epoch's
// checkpoint. Stops early, with result->interrupted, on Ctrl-C.
static int run_epoch(Loop* L, int epoch, HwErr* err) {
    int first = epoch == (int)L->st.epoch ? (int)L->st.batch_in_epoch : 0;
    loader_start_epoch(L->loader, epoch, first);
    // Batch b is in input slot b % 2; batch b + 1 is fetched and uploaded
    // into the other slot while step b runs (within the epoch).
    int n = first < L->batches ? batch_feed_fetch(&L->feed, first % 2, L->loader, L->batch, err) : 0;
    for (int b = first; b < L->batches; b++, L->step++) {
        if (n < 0) return -1;
        if (n == 0) break;
        int next_n = 0, stop = 0;
        if (run_step(L, epoch, b, n, &next_n, &stop, err) < 0) return -1;
        n = next_n;
        if (save_within_epoch(L, epoch, b, stop, err) < 0) return -1;
        if (stop) return 0;
    }
    TrainState next = {(uint64_t)L->step, (uint32_t)epoch + 1, 0};
    if (sync_weights(L->sn, L->job->comm, err) < 0) return -1;
    return save_state(L, &next, err);
}

// Closes the log (committed after success; after an error the rows so far
// stay and the first error is the one reported) and frees the loop.
static int loop_close(Loop* L, int rc, HwErr* err) {
    if (L->log_open) {
        if (rc == 0) rc = safe_file_commit(&L->log, err) < 0 ? -1 : 0;
        else safe_file_abort(&L->log);
    }
    loader_destroy(L->loader);
    batch_feed_free(&L->feed);
    dataset_close(L->ds);
    free(L->path);
    return rc;
}

// Says once how often the filter's window could not be met.
static void warn_unfiltered(const Loop* L) {
    const TrainResult* r = L->result;
    const PathFilter* f = L->job->filter;
    if (L->quiet || !f || r->unfiltered == 0) return;
    fprintf(stderr, "%shwnas: warning: train.window [%g, %g] (train.sampling %s): %lld of %lld steps found no path inside "
                    "it in 500 draws and trained the last draw\n",
            isatty(STDERR_FILENO) ? "\n" : "", f->lo, f->hi, f->sampling == SAMPLING_FLOPS ? "flops" : "latency",
            (long long)r->unfiltered, (long long)r->steps);
}

int train_run(Supernet* sn, const TrainJob* job, TrainResult* result, HwErr* err) {
    memset(result, 0, sizeof *result);
    Loop L;
    memset(&L, 0, sizeof L);
    L.sn = sn, L.job = job, L.result = result;
    L.root = comm_is_root(job->comm);
    L.quiet = job->quiet || !L.root;
    double t_begin = clock_seconds();
    int rc = loop_open(&L, err);
    for (int epoch = (int)L.st.epoch; rc == 0 && epoch < job->epochs && !result->interrupted; epoch++)
        rc = run_epoch(&L, epoch, err);
    if (rc == 0 && !L.quiet && isatty(STDERR_FILENO) && !result->interrupted) fprintf(stderr, "\n");
    warn_unfiltered(&L);
    result->seconds = clock_seconds() - t_begin;
    if (result->seconds > 0)
        result->images_per_s =
            (double)result->steps * job->train->batch * (job->comm ? job->comm->size : 1) / result->seconds;
    return loop_close(&L, rc, err);
}
