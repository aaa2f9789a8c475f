#include "common/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "common/clock.h"

enum { QUIET_SECONDS = 10 };

void progress_begin(Progress* p, const char* prefix, const char* what, int total) {
    p->prefix = prefix;
    p->what = what;
    p->total = total;
    p->start = p->last_shown = clock_seconds();
    p->shown = 0;
    p->tty = isatty(STDERR_FILENO);
}

void progress_format_duration(double seconds, char* out, int cap) {
    long s = seconds > 0 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600) snprintf(out, (size_t)cap, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60) snprintf(out, (size_t)cap, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, (size_t)cap, "%lds", s);
}

void progress_update(Progress* p, int done) {
    if (!p || done <= 0 || p->total <= 0) return;
    double now = clock_seconds(), elapsed = now - p->start;
    if (elapsed < QUIET_SECONDS || now - p->last_shown < (p->tty ? 1 : QUIET_SECONDS)) return;
    p->last_shown = now;
    p->shown = 1;
    char eta[32];
    progress_format_duration(done < p->total ? elapsed * (p->total - done) / done : 0, eta, sizeof eta);
    fprintf(stderr, "%s%s: %s %d/%d (%.0f%%), ETA %s%s", p->tty ? "\r" : "", p->prefix, p->what, done, p->total,
            100.0 * done / p->total, eta, p->tty ? "   " : "\n");
}

void progress_end(Progress* p) {
    if (p && p->shown && p->tty) fputc('\n', stderr);
}
