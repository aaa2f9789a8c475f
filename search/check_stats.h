// The arithmetic and table of a latency check, shared by `hwnas latency
// check` (hwnas's engine, search/latency.c) and its ONNX Runtime form
// (src/cmd_latency_ort.c): predictions against end-to-end measurements, with
// and without the machine-speed factor of search/speed_reference.h.
#ifndef HWNAS_CHECK_STATS_H
#define HWNAS_CHECK_STATS_H

#include <stddef.h>

#include "common/error.h"
#include "common/safe_file.h"
#include "supernet/space.h"

#ifdef __cplusplus
extern "C" {
#endif

// pred is the table's prediction times the machine-speed factor of the
// subnet's group (1 when the table has no reference); raw_* compare the
// table's prediction as it is.
typedef struct CheckResult {
    int samples;
    double within10;  // share of subnets with |pred - meas| <= 10% of meas
    double mape;      // mean absolute percentage error
    double mean_bias; // mean (pred - meas) / meas
    int busy_groups;  // groups of subnets measured on a busy machine (force only)
    int reference;    // reference networks timed beside each group, 0 = none
    double speed;     // mean speed factor: reference time now / in the table
    double raw_within10, raw_mape, raw_bias;
} CheckResult;

// Running sums of a check.
typedef struct CheckSums {
    SafeFile* table;  // --csv, or NULL
    int done, within, raw_within, groups, busy_groups;
    double abs_sum, bias_sum, raw_abs_sum, raw_bias_sum, speed_sum;
    char why[200];    // why the last busy group was busy
} CheckSums;

// Starts the --csv table (a SafeFile: a link at its name is replaced, not
// followed; a full disk is an error) with its header
// "ops,predicted_ms,measured_ms,error_pct,raw_predicted_ms,speed", or
// returns NULL: csv NULL (no table), or an error in err.
SafeFile* check_table_open(const char* csv, HwErr* err);
// Commits (rc 0) or abandons the table; returns rc, or -1 when the commit fails.
int check_table_close(SafeFile* table, int rc, HwErr* err);

// Adds subnets paths[0..n) (n_layers op indices each) with the table's
// predictions pred, the measurements meas and their group's speed factor.
void check_rows(const Space* s, const int* paths, int n, const double* pred, const double* meas, double speed,
                CheckSums* c);
// A group of a check: subnets paths[0..n) measured in meas[0..n), then
// ref_n reference networks in meas[n..n + ref_n), which took ref_table_ms
// in the table together; their time now over that is the group's speed
// factor (1 without references). Counts the group and adds its rows.
void check_group_rows(const Space* s, const int* paths, int n, const double* pred, const double* meas, int ref_n,
                      double ref_table_ms, CheckSums* c);
// The result of `samples` subnets with `reference` networks per group.
void check_result(const CheckSums* c, int samples, int reference, CheckResult* out);
// The summary line both checks print (no newline): "samples N within10 ...",
// then, with a reference, "speed S raw_within10 ... raw_mape ... raw_bias ...".
void check_result_line(const CheckResult* r, char* out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
