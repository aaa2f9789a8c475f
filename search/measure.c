#include "search/measure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "kernels/cpu_team.h"

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// The CUDA backend's host thread sleeps in event waits, and its team does not
// compute: the CPU signals mean nothing there, only the spread does.
static int on_cpu(const Supernet* sn) { return strcmp(sn->ops->name, "cuda") != 0; }

// Clocks at one end of a try.
typedef struct Window {
    double wall, cpu;  // s: monotonic, the measuring thread's CPU time
    long long wait;    // ns the team waited for a CPU, -1 unknown
} Window;

static Window window_now(const Supernet* sn) {
    Window w = {clock_seconds(), clock_thread_cpu_seconds(), -1};
    if (on_cpu(sn)) w.wait = cpu_team_wait_ns(sn->ctx.threads);
    return w;
}

static TimingSignals window_signals(const Supernet* sn, Window a, Window b) {
    TimingSignals s = {-1, -1};
    const char* hook = getenv(MEASURE_BUSY_ENV);
    if (hook && !strcmp(hook, "1")) return (TimingSignals){0.5, 0.5};
    double wall = b.wall - a.wall;
    if (!on_cpu(sn) || wall <= 0) return s;
    s.cpu_share = (b.cpu - a.cpu) / wall;
    if (a.wait >= 0 && b.wait >= a.wait) s.stolen = 1e-9 * (double)(b.wait - a.wait) / (wall * sn->ctx.threads);
    return s;
}

// One timed run with the backend's timer: wall time on the CPU, CUDA events
// (after an L2 flush) on the GPU.
static int time_one(Supernet* sn, const MeasureItem* it, double* ms) {
    const Ops* ops = sn->ops;
    OpTimer timer;
    if (ops->flush_cache(&sn->ctx) < 0 || ops->timer_begin(&sn->ctx, &timer) < 0) return -1;
    it->run(sn, it->arg);
    *ms = ops->timer_end_ms(&sn->ctx, &timer);
    return *ms < 0 ? -1 : 0;
}

// One try: samples[i * per + k] is item i's k-th timed run. Interleaving
// spreads a burst of other work over all items instead of one item's runs.
static int measure_try(Supernet* sn, const MeasureOptions* opt, const MeasureItem* items, int n, int per,
                       double* samples, TimingSignals* sig) {
    for (int i = 0; i < n; i++)
        for (int w = 0; w < opt->warmup; w++) items[i].run(sn, items[i].arg);
    if (sn->ops->synchronize(&sn->ctx) < 0) return -1;
    Window start = window_now(sn);
    for (int r = 0; r < per / MEASURE_GROUP; r++)
        for (int j = 0; j < n; j++) {
            const MeasureItem* it = &items[(j + r) % n];
            it->run(sn, it->arg);
            double* at = samples + (size_t)((j + r) % n) * (size_t)per + (size_t)r * MEASURE_GROUP;
            for (int g = 0; g < MEASURE_GROUP; g++)
                if (time_one(sn, it, &at[g]) < 0) return -1;
        }
    if (sn->ops->synchronize(&sn->ctx) < 0) return -1;
    *sig = window_signals(sn, start, window_now(sn));
    return 0;
}

// Tries until one is quiet or MEASURE_TRIES were busy; v is the last verdict.
static int measure_tries(Supernet* sn, const MeasureOptions* opt, const MeasureItem* items, int n, int per,
                         double* samples, double* spreads, TimingSummary* out, MeasureResult* res,
                         TimingVerdict* v, HwErr* err) {
    for (res->tries = 1;; res->tries++) {
        TimingSignals sig;
        if (measure_try(sn, opt, items, n, per, samples, &sig) < 0)
            return hw_runtime(err, NULL, 0, "the %s backend failed while timing", sn->ops->name);
        for (int i = 0; i < n; i++) {
            out[i] = timing_summarize(samples + (size_t)i * (size_t)per, per);
            spreads[i] = out[i].spread;
        }
        timing_verdict(spreads, n, sig, v);
        if (!v->busy || res->tries == MEASURE_TRIES) return 0;
        pause_ms(MEASURE_PAUSE_MS * res->tries);
    }
}

int measure_items(Supernet* sn, const MeasureOptions* opt, const MeasureItem* items, int n, TimingSummary* out,
                  MeasureResult* res, HwErr* err) {
    memset(res, 0, sizeof *res);
    if (n < 1) return hw_runtime(err, NULL, 0, "nothing to measure");
    int per = (opt->runs + MEASURE_GROUP - 1) / MEASURE_GROUP * MEASURE_GROUP;
    if (per < MEASURE_GROUP) per = MEASURE_GROUP;
    double* samples = malloc(sizeof(double) * (size_t)n * (size_t)per);
    double* spreads = malloc(sizeof(double) * (size_t)n);
    if (!samples || !spreads) {
        free(samples), free(spreads);
        return hw_runtime(err, NULL, 0, "out of memory for %d x %d timings", n, per);
    }
    CpuTeamPin pin;
    memset(&pin, 0, sizeof pin);
    if (on_cpu(sn)) res->pinned = cpu_team_pin(sn->ctx.threads, &pin);
    res->runs = per;
    TimingVerdict v;
    int rc = measure_tries(sn, opt, items, n, per, samples, spreads, out, res, &v, err);
    cpu_team_unpin(&pin);
    free(samples), free(spreads);
    if (rc < 0) return -1;
    snprintf(res->why, sizeof res->why, "%s", v.why);
    if (!v.busy) return 0;
    const char* on_busy = getenv(MEASURE_ON_BUSY_ENV);
    if (opt->force || (on_busy && !strcmp(on_busy, "warn"))) return res->busy = 1, 0;
    return hw_runtime(err, NULL, 0,
                      "machine too busy to measure latency: %s, in %d tries; stop other work and retry "
                      "(--force or " MEASURE_ON_BUSY_ENV "=warn measures anyway)",
                      v.why, res->tries);
}
