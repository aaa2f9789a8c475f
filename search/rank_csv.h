// ranking.csv of `hwnas bench ranking`: one row per finished subnet,
// rewritten whole (atomically) after each, and read back on a restart so
// finished subnets are kept.
//
//   index,ops,predicted_ms,inherited_top1,standalone_top1,train_seconds
//   1,mb_k3_e3 skip sep_k3,0.412000,0.812500,0.843750,12.3
#ifndef HWNAS_RANK_CSV_H
#define HWNAS_RANK_CSV_H

#include "common/error.h"
#include "search/rank_select.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RANK_CSV_HEADER "index,ops,predicted_ms,inherited_top1,standalone_top1,train_seconds"

typedef struct RankRow {
    double inherited_top1;   // supernet weights, BN recalibrated
    double standalone_top1;  // trained from scratch with the proxy budget
    double train_seconds;    // that training's wall time (steps run since the last restart)
} RankRow;

// The operator names of an architecture joined by single spaces.
int rank_ops_text(const Space* s, const int* ops, char* out, size_t cap, HwErr* err);

// Writes the header and rows[0..done-1] (subnet k is picks[k], index k+1).
int rank_csv_write(const char* path, const Space* s, const RankPick* picks, const RankRow* rows, int done,
                   HwErr* err);

// Reads the rows back into rows[]: returns how many (0 when the file does not
// exist), or -1 with err (code 2, file and line) when the header differs, a
// row is malformed, longer than LIMIT_CSV_ROW_BYTES, out of order, has more
// rows than n, or names other operators than picks[k] (another selection:
// a different space, table or seed).
int rank_csv_read(const char* path, const Space* s, const RankPick* picks, int n, RankRow* rows, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
