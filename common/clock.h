// The one clock for durations: monotonic, so a clock change never makes a
// phase take negative time.
#ifndef HWNAS_CLOCK_H
#define HWNAS_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

// Seconds since an arbitrary fixed point (CLOCK_MONOTONIC).
double clock_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
