// The one clock for durations: monotonic, so a clock change never makes a
// phase take negative time.
#ifndef HWNAS_CLOCK_H
#define HWNAS_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

// Seconds since an arbitrary fixed point (CLOCK_MONOTONIC).
double clock_seconds(void);

// Seconds of CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID):
// against clock_seconds, it tells how much of a wall interval it ran.
double clock_thread_cpu_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
