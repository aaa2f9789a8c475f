// Time to accuracy, read off a curve of (supernet training seconds, winner's
// top-1) points, one per training budget, in increasing budget order. Pure
// arithmetic, so `hwnas bench curve` and its tests share one reading.
#ifndef HWNAS_TIME_TO_ACCURACY_H
#define HWNAS_TIME_TO_ACCURACY_H

#ifdef __cplusplus
extern "C" {
#endif

// Seconds at which the curve first reaches top-1 `level`: linear between the
// last point below the level and the first at or above it; the first
// point's seconds when it already reaches the level (an upper bound: the
// curve says nothing before it); -1 when no point reaches it. Accuracy from
// a search is noisy, so a later dip below the level does not undo a crossing.
double tta_seconds(const double* seconds, const double* top1, int n, double level);

// The highest top-1 that every one of `curves` curves reaches: the smallest
// of their best points (0 when there is none).
double tta_common_level(const double* const* top1, const int* n, int curves);

// Share of training time that curve b saves over curve a at `level`:
// 1 - t_b / t_a; NAN when either does not reach it.
double tta_saving(double seconds_a, double seconds_b);

#ifdef __cplusplus
}
#endif
#endif
