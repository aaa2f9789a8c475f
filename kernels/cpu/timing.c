// Timing support of the CPU backend: ops run when called, so wall time
// around them is their latency.
#include "common/clock.h"
#include "cpu_ops.h"

static double monotonic_ms(void) { return 1e3 * clock_seconds(); }

int timer_begin_cpu(const OpContext* ctx, OpTimer* t) {
    t->start_ms = monotonic_ms();
    return 0;
}

// The monotonic clock never goes back, so the result is >= 0.
double timer_end_ms_cpu(const OpContext* ctx, OpTimer* t) { return monotonic_ms() - t->start_ms; }

// Nothing: CPU latency tables deliberately time warm, steady-state runs and
// correct for whole networks by calibration (search/latency.c).
int flush_cache_cpu(const OpContext* ctx) { return 0; }
