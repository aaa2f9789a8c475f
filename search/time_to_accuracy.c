#include "search/time_to_accuracy.h"

#include <math.h>

double tta_seconds(const double* seconds, const double* top1, int n, double level) {
    if (n <= 0) return -1;
    if (top1[0] >= level) return seconds[0];
    for (int i = 1; i < n; i++) {
        if (top1[i] < level) continue;
        // top1[i - 1] < level <= top1[i], so the denominator is positive.
        double f = (level - top1[i - 1]) / (top1[i] - top1[i - 1]);
        return seconds[i - 1] + f * (seconds[i] - seconds[i - 1]);
    }
    return -1;
}

double tta_common_level(const double* const* top1, const int* n, int curves) {
    double level = INFINITY;
    for (int c = 0; c < curves; c++) {
        double best = 0;
        for (int i = 0; i < n[c]; i++)
            if (top1[c][i] > best) best = top1[c][i];
        if (best < level) level = best;
    }
    return curves > 0 && isfinite(level) ? level : 0;
}

double tta_saving(double seconds_a, double seconds_b) {
    if (!(seconds_a > 0) || seconds_b < 0) return NAN;
    return 1.0 - seconds_b / seconds_a;
}
