// Minimal SVG charts for report.md: scatter and line series on linear axes.
#ifndef HWNAS_SVG_H
#define HWNAS_SVG_H

#include "common/error.h"

typedef struct SvgSeries {
    const double* x;
    const double* y;
    int n;
    const char* color;
    const char* label;
    int line;    // 1 = polyline, 0 = dots
    int radius;  // dot radius (dots), stroke width (line)
} SvgSeries;

// Writes the chart to path (atomically, see common/safe_file.h); 0, or -1
// with err naming the file.
int svg_plot(const char* path, const char* title, const char* xlabel, const char* ylabel, const SvgSeries* series,
             int count, HwErr* err);

#endif
