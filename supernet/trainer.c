#include "supernet/trainer.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/rng.h"
#include "common/safe_file.h"
#include "data/loader.h"
#include "supernet/batch_feed.h"
#include "supernet/checkpoint.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float lr_at(const Config* cfg, float peak, int64_t step, int64_t total, int64_t warmup) {
    if (warmup > 0 && step < warmup) return peak * (float)(step + 1) / (float)warmup;
    if (!strcmp(cfg->train.lr_schedule, "constant") || total <= warmup) return peak;
    double t = (double)(step - warmup) / (double)(total - warmup);
    if (t > 1) t = 1;
    if (!strcmp(cfg->train.lr_schedule, "linear")) return (float)(peak * (1.0 - t));
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

static int open_loader(const Config* cfg, const Comm* comm, Dataset** ds, DataLoader** loader, HwErr* err) {
    *ds = dataset_open(&cfg->data, SPLIT_TRAIN, err);
    if (!*ds) return -1;
    LoaderOptions opt = {0};
    opt.batch = cfg->train.batch;
    opt.augment = 1;
    opt.shuffle = 1;
    opt.seed = cfg->train.seed;
    opt.workers = cfg->data.workers;
    opt.rank = comm ? comm->rank : 0;
    opt.world = comm ? comm->size : 1;
    opt.drop_last = 1;
    opt.prefetch = 2;
    *loader = loader_create(*ds, &opt, err);
    return *loader ? 0 : -1;
}

// SPOS's constrained sampling by FLOPs: the path's MFLOPs (2 x MACs) must
// fall in train.window.
static int flops_in_window(const Supernet* sn, const Config* cfg, const int* path) {
    double mflops = 2.0 * supernet_path_macs(sn, path) / 1e6;
    return mflops >= cfg->train.window[0] && mflops <= cfg->train.window[1];
}

static void draw_path(Supernet* sn, const TrainJob* job, uint64_t step, int* path) {
    if (job->fixed_path) {
        memcpy(path, job->fixed_path, sizeof(int) * (size_t)sn->space.n_layers);
        return;
    }
    int by_flops = !strcmp(job->cfg->train.sampling, "flops");
    // At most 500 draws, then the last one is used (as SPOS does).
    for (int attempt = 0; attempt < 500; attempt++) {
        sample_path(sn, job->cfg->train.seed, step, attempt, job->pinned, path);
        if (by_flops && !flops_in_window(sn, job->cfg, path)) continue;
        if (!job->accept || job->accept(job->accept_user, path)) return;
    }
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
    return comm_broadcast(comm, sn->momentum, sn->param_floats * sizeof(float), err);
}

// A checkpoint within an epoch: every train.checkpoint_every_steps steps
// (counted over the whole run, so a resumed run saves at the same steps),
// or once train.checkpoint_every_minutes passed since the last one. Saving
// changes nothing in the state, so the run's result does not depend on it.
static int periodic_due(const TrainSection* t, int64_t steps_done, double last_save) {
    if (t->checkpoint_every_steps > 0 && steps_done % t->checkpoint_every_steps == 0) return 1;
    return t->checkpoint_every_minutes > 0 && now_seconds() - last_save >= 60.0 * t->checkpoint_every_minutes;
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

int train_run(Supernet* sn, const TrainJob* job, TrainResult* result, HwErr* err) {
    const Config* cfg = job->cfg;
    memset(result, 0, sizeof *result);
    double t_begin = now_seconds();
    char ckpt[SAFE_PATH_MAX], csv[SAFE_PATH_MAX];
    if (safe_path(ckpt, sizeof ckpt, err, "%s/%s", job->run_dir, job->checkpoint_name) < 0 ||
        safe_path(csv, sizeof csv, err, "%s/%s", job->run_dir, job->csv_name) < 0)
        return -1;
    Dataset* ds = NULL;
    DataLoader* loader = NULL;
    int* path = calloc((size_t)sn->space.n_layers + 1, sizeof(int));
    BatchFeed feed = {0};
    SafeFile log;
    int log_open = 0, rc = -1;
    Comm* comm = job->comm;
    int root = comm_is_root(comm), quiet = job->quiet || !root;
    if (!path || open_loader(cfg, comm, &ds, &loader, err) < 0) goto done;
    if (dataset_classes(ds) > sn->space.classes) {
        hw_bad_input(err, cfg->path[0] ? cfg->path : NULL, 0, "the data has %d classes, the space %s has %d outputs",
                     dataset_classes(ds), sn->space.name, sn->space.classes);
        goto done;
    }
    int batch = cfg->train.batch, batches = loader_batches_per_epoch(loader);
    if (batches <= 0) {
        hw_bad_input(err, cfg->path, 0, "the training split has fewer samples than one batch (%d)", batch);
        goto done;
    }
    if (batch_feed_init(&feed, sn, batch, err) < 0) goto done;
    TrainState st = {0, 0, 0};
    if (job->resume) {
        if (checkpoint_load(ckpt, sn, &st, NULL, err) < 0 ||
            checkpoint_check_state(ckpt, &st, job->epochs, batches, err) < 0)
            goto done;
    }
    if (root) {
        if (remove_leftovers(ckpt, csv, quiet, err) < 0 ||
            open_log(&log, csv, job->resume, (int64_t)st.step, err) < 0)
            goto done;
        log_open = 1;
    }
    int64_t total = (int64_t)job->epochs * batches;
    int64_t warmup = (int64_t)(cfg->train.warmup_epochs * batches);
    SgdConfig sgd = {0, cfg->train.momentum, cfg->train.weight_decay, cfg->train.nesterov};
    Window win = {0};
    double start = now_seconds(), elapsed_before = 0, last_save = start;
    int64_t step = (int64_t)st.step;
    for (int epoch = (int)st.epoch; epoch < job->epochs; epoch++) {
        int first = epoch == (int)st.epoch ? (int)st.batch_in_epoch : 0;
        loader_start_epoch(loader, epoch, first);
        // Batch b is in input slot b % 2; batch b + 1 is fetched and uploaded
        // into the other slot while step b runs (within the epoch).
        int n = first < batches ? batch_feed_fetch(&feed, first % 2, loader, batch, err) : 0;
        for (int b = first; b < batches; b++, step++) {
            double t0 = now_seconds();
            if (n < 0) goto done;
            if (n == 0) break;
            int slot = b % 2;
            draw_path(sn, job, (uint64_t)step, path);
            sgd.lr = lr_at(cfg, job->lr, step, total, warmup);
            if (batch_feed_use(&feed, slot, err) < 0) goto done;
            train_forward_backward(sn, path, n, cfg->train.label_smoothing);
            if (batch_feed_done(&feed, slot, err) < 0) goto done;
            int next_n = b + 1 < batches ? batch_feed_fetch(&feed, slot ^ 1, loader, batch, err) : 0;
            StepOutcome o;
            int stop_here = job->interrupted && *job->interrupted;
            if (finish_step(sn, path, &sgd, comm, n, stop_here, &o, err) < 0) goto done;
            if (sn->ops->synchronize(&sn->ctx) < 0) {
                hw_runtime(err, NULL, 0, "backend error at step %lld", (long long)step);
                goto done;
            }
            if (!isfinite(o.loss)) {
                hw_runtime(err, NULL, 0,
                           "loss is %s at step %lld (epoch %d, lr %.4g): training diverged; the last good checkpoint "
                           "%s is intact",
                           isnan(o.loss) ? "NaN" : "infinite", (long long)step, epoch + 1, sgd.lr, ckpt);
                goto done;
            }
            double step_seconds = now_seconds() - t0;
            // One row per step, so a resumed run continues the log exactly.
            if (log_open)
                safe_file_printf(&log, "%lld,%d,%.6g,%.6f,%.4f,%.1f,%.3f\n", (long long)step + 1, epoch + 1, sgd.lr, o.loss,
                        (double)o.correct / o.images, o.images / step_seconds, elapsed_before + now_seconds() - start);
            win.loss_sum += o.loss, win.correct += o.correct, win.images += o.images, win.steps++;
            win.seconds += step_seconds;
            if (win.steps == 20 || b == batches - 1) {
                double ips = win.images / win.seconds;
                double eta = (double)(total - step - 1) * (win.seconds / (double)win.steps);
                if (log_open && safe_file_flush(&log, err) < 0) goto done;
                if (!quiet) progress(job, epoch, job->epochs, b + 1, batches, win.loss_sum / win.steps,
                         (double)win.correct / win.images, ips, eta);
                result->final_loss = win.loss_sum / win.steps;
                memset(&win, 0, sizeof win);
            }
            result->steps++;
            n = next_n;
            // Ctrl-C, or a periodic checkpoint within the epoch (its end saves below).
            if (o.stop || (b + 1 < batches && periodic_due(&cfg->train, step + 1, last_save))) {
                TrainState now = {(uint64_t)step + 1, (uint32_t)epoch, (uint32_t)b + 1};
                if (b + 1 == batches) now.epoch++, now.batch_in_epoch = 0;
                // The log's rows up to the checkpoint reach the file first, so a kill after it loses none.
                if (log_open && safe_file_flush(&log, err) < 0) goto done;
                if (root && checkpoint_save(ckpt, sn, &now, NULL, err) < 0) goto done;
                last_save = now_seconds();
            }
            if (o.stop) {
                if (!quiet) fprintf(stderr, "\ninterrupted: checkpoint saved to %s; continue with --resume\n", ckpt);
                result->interrupted = 1;
                rc = 0;
                goto done;
            }
        }
        TrainState next = {(uint64_t)step, (uint32_t)epoch + 1, 0};
        if (sync_weights(sn, comm, err) < 0) goto done;
        if (log_open && safe_file_flush(&log, err) < 0) goto done;
        if (root && checkpoint_save(ckpt, sn, &next, NULL, err) < 0) goto done;
        last_save = now_seconds();
    }
    if (!quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    rc = 0;
done:
    result->seconds = now_seconds() - t_begin;
    if (result->seconds > 0)
        result->images_per_s = (double)result->steps * cfg->train.batch * (comm ? comm->size : 1) / result->seconds;
    if (log_open) {
        // After an error the rows so far stay in the log; the first error is the one reported.
        if (rc == 0) rc = safe_file_commit(&log, err) < 0 ? -1 : 0;
        else safe_file_abort(&log);
    }
    loader_destroy(loader);
    batch_feed_free(&feed);
    dataset_close(ds);
    free(path);
    return rc;
}
