// Rank statistics by direct pair counts: n is at most a few hundred subnets
// (each one trained stand-alone), so O(n^2) is exact and simple, and needs
// no sort with a context pointer.
#include "search/rank_stats.h"

#include <math.h>

void rank_average(const double* x, int n, double* ranks) {
    for (int i = 0; i < n; i++) {
        int below = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            below += x[j] < x[i];
            equal += x[j] == x[i];
        }
        // The tied group spans ranks below+1 .. below+equal; its average:
        ranks[i] = below + (equal + 1) / 2.0;
    }
}

static int sign(double v) { return (v > 0) - (v < 0); }

double rank_kendall_tau_b(const double* x, const double* y, int n) {
    if (n < 2) return NAN;
    double concordant = 0, discordant = 0, tied_x = 0, tied_y = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int sx = sign(x[i] - x[j]), sy = sign(y[i] - y[j]);
            tied_x += sx == 0;
            tied_y += sy == 0;
            if (sx * sy > 0) concordant++;
            else if (sx * sy < 0) discordant++;
        }
    double pairs = n * (n - 1) / 2.0;
    double denom = sqrt((pairs - tied_x) * (pairs - tied_y));
    return denom > 0 ? (concordant - discordant) / denom : NAN;
}

static double pearson(const double* a, const double* b, int n) {
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= n, mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

double rank_spearman_rho(const double* x, const double* y, int n) {
    if (n < 2 || n > RANK_MAX_ITEMS) return NAN;
    double rx[RANK_MAX_ITEMS], ry[RANK_MAX_ITEMS];
    rank_average(x, n, rx);
    rank_average(y, n, ry);
    return pearson(rx, ry, n);
}

int rank_position_desc(const double* x, int n, int i) {
    int pos = 0;
    for (int j = 0; j < n; j++) pos += x[j] > x[i] || (x[j] == x[i] && j < i);
    return pos;
}

void rank_top_k(const double* predicted, const double* actual, int n, int k, RankTopK* out) {
    out->k = k;
    out->actual_best = 0;
    out->best_in_top_k = 0;
    out->overlap = 0;
    if (n < 1) return;
    for (int i = 0; i < n; i++)
        if (rank_position_desc(actual, n, i) == 0) out->actual_best = i;
    out->best_in_top_k = rank_position_desc(predicted, n, out->actual_best) < k;
    for (int i = 0; i < n; i++)
        out->overlap += rank_position_desc(predicted, n, i) < k && rank_position_desc(actual, n, i) < k;
}
