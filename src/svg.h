// Minimal SVG charts for report.md: scatter and line series on linear axes.
#ifndef HWNAS_SVG_H
#define HWNAS_SVG_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SvgSeries {
    const double* x;
    const double* y;
    int n;
    const char* color;
    const char* label;
    int line;    // 1 = polyline, 0 = dots
    int radius;  // dot radius (dots), stroke width (line)
} SvgSeries;

// An axis with round ticks: from lo to hi in steps of 1, 2 or 5 times a
// power of ten, lo and hi multiples of the step, covering the data's range.
typedef struct SvgAxis {
    double lo, hi, step;
    int count;     // ticks, lo and hi included
    int decimals;  // enough to print every tick exactly
} SvgAxis;

// The axis for data in [lo, hi] with about `ticks` intervals (at most ticks
// + 2: the ends round outward).
void svg_axis(double lo, double hi, int ticks, SvgAxis* out);

// Writes the chart to path (atomically, see common/safe_file.h); 0, or -1
// with err naming the file.
int svg_plot(const char* path, const char* title, const char* xlabel, const char* ylabel, const SvgSeries* series,
             int count, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
