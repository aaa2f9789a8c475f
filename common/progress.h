// Progress of a long phase on stderr, with an estimate of the time left:
// `hwnas run: random search 120/400 (30%), ETA 1m05s`. A phase that ends
// within its first 10 seconds prints nothing; after that a line every 10
// seconds (every second, rewritten in place, on a terminal). The estimate
// assumes the remaining items take as long as the ones done.
#ifndef HWNAS_PROGRESS_H
#define HWNAS_PROGRESS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Progress {
    const char* prefix;  // "hwnas run"
    const char* what;    // "random search"
    int total;
    double start, last_shown;
    int shown;           // a line was printed (a terminal needs its newline at the end)
    int tty;
} Progress;

void progress_begin(Progress* p, const char* prefix, const char* what, int total);
// `done` of `total` items finished.
void progress_update(Progress* p, int done);
void progress_end(Progress* p);

// "1h02m", "3m05s", "42s": a duration as a person reads it.
void progress_format_duration(double seconds, char* out, int cap);

#ifdef __cplusplus
}
#endif
#endif
