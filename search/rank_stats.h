// Rank agreement between two scorings of the same items: a supernet's
// accuracy with inherited weights (predicted) against the accuracy of the
// same architectures trained stand-alone (actual). Higher is better in both.
// Every function takes finite values; n is bounded by RANK_MAX_ITEMS (the
// pair loops are O(n^2)).
#ifndef HWNAS_RANK_STATS_H
#define HWNAS_RANK_STATS_H

#ifdef __cplusplus
extern "C" {
#endif

#define RANK_MAX_ITEMS 1000

// 1-based ranks in ascending order, tied values sharing the average of the
// ranks they span (Spearman's convention): {10, 20, 20, 30} -> {1, 2.5, 2.5, 4}.
void rank_average(const double* x, int n, double* ranks);

// Kendall's tau-b: (concordant - discordant) / sqrt((P - Tx) (P - Ty)), P
// the n(n-1)/2 pairs, Tx and Ty the pairs tied in x and in y. NaN when it is
// undefined (n < 2, or every value of x or of y tied).
double rank_kendall_tau_b(const double* x, const double* y, int n);

// Spearman's rho: Pearson's correlation of the average ranks. NaN when it is
// undefined (n < 2, or every value of x or of y tied).
double rank_spearman_rho(const double* x, const double* y, int n);

// Top-k agreement. "The top k" of a scoring are its k highest values, ties
// broken by the lower index (so the set has exactly min(k, n) items).
typedef struct RankTopK {
    int k;
    int actual_best;      // index of the highest actual value (lowest index among ties)
    int best_in_top_k;    // 1 when actual_best is in the predicted top k
    int overlap;          // items in both top k sets
} RankTopK;
void rank_top_k(const double* predicted, const double* actual, int n, int k, RankTopK* out);

// Position of item i in descending order of x (0 = highest), ties broken by
// the lower index.
int rank_position_desc(const double* x, int n, int i);

#ifdef __cplusplus
}
#endif
#endif
