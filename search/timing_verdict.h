// Is the machine quiet enough to time on? The pure part of robust latency
// measurement (search/measure.h): the statistic taken of repeated runs and
// the decision, from numbers alone, that other processes disturbed them too
// much to trust any statistic. Kept apart so tests can feed it synthetic
// samples and observations.
#ifndef HWNAS_TIMING_VERDICT_H
#define HWNAS_TIMING_VERDICT_H

#ifdef __cplusplus
extern "C" {
#endif

// The figure of an item: the 20th percentile of its timed runs. Interruptions
// by other processes only ever add time, so a low quantile is what the network
// costs when it has the CPUs; the 20th rather than the minimum so that one
// lucky run (a frequency boost, a timer quirk) does not set it.
#define TIMING_QUANTILE 0.20
// Spread of an item: 80th / 20th percentile. Quiet machines give 1.0-1.1 for
// whole networks; above TIMING_MAX_SPREAD (median over the items of a
// measurement) the runs are too disturbed for any quantile to be the
// undisturbed figure.
#define TIMING_SPREAD_HIGH 0.80
#define TIMING_MAX_SPREAD 1.50
// Share of the measuring threads' time spent runnable but waiting for a CPU
// that another process held (Linux run-queue wait). Above this the figure is
// refused even when the spread looks fine: a network longer than the
// scheduler's time slice is slowed on every run alike, which no spread shows.
#define TIMING_MAX_STOLEN 0.10
// Where the OS does not report run-queue waits: the measuring thread's CPU
// time over wall time (it never sleeps while timing: OpenMP's barrier spins),
// which must reach this share.
#define TIMING_MIN_CPU_SHARE 0.90

// Quantile q in [0, 1] of v[0..n-1] by linear interpolation between order
// statistics; sorts v in place. 0 when n <= 0.
double timing_quantile(double* v, int n, double q);

// The figure (TIMING_QUANTILE) and spread of one item's runs (v is sorted).
typedef struct TimingSummary {
    double ms;      // 20th percentile
    double spread;  // 80th / 20th percentile (1 when the 20th is 0)
    double std;     // standard deviation of the runs
} TimingSummary;
TimingSummary timing_summarize(double* v, int n);

// What was observed while a measurement ran; a negative value = not known.
typedef struct TimingSignals {
    double stolen;     // run-queue wait / (wall time x threads)
    double cpu_share;  // measuring thread's CPU time / wall time
} TimingSignals;

typedef struct TimingVerdict {
    int busy;        // 1: do not trust the figures
    double spread;   // median spread over the items
    char why[200];   // one clause saying why (or how quiet) for messages
} TimingVerdict;

// Judges a measurement from its items' spreads (n >= 1) and the signals.
void timing_verdict(const double* spreads, int n, TimingSignals sig, TimingVerdict* v);

#ifdef __cplusplus
}
#endif
#endif
