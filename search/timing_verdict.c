#include "search/timing_verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

double timing_quantile(double* v, int n, double q) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    double at = q <= 0 ? 0 : q >= 1 ? n - 1 : q * (n - 1);
    int lo = (int)at;
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (at - lo) * (v[lo + 1] - v[lo]);
}

TimingSummary timing_summarize(double* v, int n) {
    TimingSummary s = {0, 1, 0};
    if (n <= 0) return s;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    for (int i = 0; i < n; i++) sq += (v[i] - sum / n) * (v[i] - sum / n);
    s.std = n > 1 ? sqrt(sq / (n - 1)) : 0;
    s.ms = timing_quantile(v, n, TIMING_QUANTILE);
    double high = timing_quantile(v, n, TIMING_SPREAD_HIGH);  // v is sorted now
    s.spread = s.ms > 0 ? high / s.ms : 1;
    return s;
}

void timing_verdict(const double* spreads, int n, TimingSignals sig, TimingVerdict* v) {
    memset(v, 0, sizeof *v);
    double* copy = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (copy && n > 0) {
        memcpy(copy, spreads, sizeof(double) * (size_t)n);
        v->spread = timing_quantile(copy, n, 0.5);
    } else {
        v->spread = 1;
    }
    free(copy);
    if (sig.stolen > TIMING_MAX_STOLEN) {
        v->busy = 1;
        snprintf(v->why, sizeof v->why, "other processes held the CPUs for %.0f%% of the measuring threads' time "
                 "(at most %.0f%% allowed)", 100 * sig.stolen, 100 * TIMING_MAX_STOLEN);
    } else if (sig.stolen < 0 && sig.cpu_share >= 0 && sig.cpu_share < TIMING_MIN_CPU_SHARE) {
        v->busy = 1;
        snprintf(v->why, sizeof v->why, "the measuring thread ran %.0f%% of the wall time (at least %.0f%% needed)",
                 100 * sig.cpu_share, 100 * TIMING_MIN_CPU_SHARE);
    } else if (v->spread > TIMING_MAX_SPREAD) {
        v->busy = 1;
        snprintf(v->why, sizeof v->why, "repeated runs spread %.2fx (80th/20th percentile, at most %.2fx allowed)",
                 v->spread, TIMING_MAX_SPREAD);
    } else {
        snprintf(v->why, sizeof v->why, "spread %.2fx, %s", v->spread,
                 sig.stolen >= 0 ? "run-queue wait within the limit" : "run-queue wait not reported by the OS");
    }
}
