#include "search/check_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

SafeFile* check_table_open(const char* csv, HwErr* err) {
    if (!csv) return NULL;
    SafeFile* f = malloc(sizeof *f);
    if (!f) {
        hw_runtime(err, csv, 0, "out of memory");
        return NULL;
    }
    if (safe_file_begin(f, csv, err) < 0) {
        free(f);
        return NULL;
    }
    safe_file_printf(f, "ops,predicted_ms,measured_ms,error_pct,raw_predicted_ms,speed\n");
    return f;
}

int check_table_close(SafeFile* f, int rc, HwErr* err) {
    if (!f) return rc;
    if (rc == 0) rc = safe_file_commit(f, err);
    else safe_file_abort(f);
    free(f);
    return rc;
}

void check_rows(const Space* s, const int* paths, int n, const double* pred, const double* meas, double speed,
                CheckSums* c) {
    SafeFile* table = c->table;
    for (int i = 0; i < n; i++) {
        const int* path = paths + (size_t)i * s->n_layers;
        double rel = (speed * pred[i] - meas[i]) / meas[i], raw = (pred[i] - meas[i]) / meas[i];
        c->within += fabs(rel) <= 0.10, c->raw_within += fabs(raw) <= 0.10;
        c->abs_sum += fabs(rel), c->raw_abs_sum += fabs(raw);
        c->bias_sum += rel, c->raw_bias_sum += raw;
        if (table) {
            for (int l = 0; l < s->n_layers; l++) safe_file_printf(table, "%s%s", l ? " " : "", s->layers[l].names[path[l]]);
            safe_file_printf(table, ",%.5f,%.5f,%.2f,%.5f,%.4f\n", speed * pred[i], meas[i], 100 * rel, pred[i], speed);
        }
    }
    c->done += n;
    c->speed_sum += speed * n;
}

void check_group_rows(const Space* s, const int* paths, int n, const double* pred, const double* meas, int ref_n,
                      double ref_table_ms, CheckSums* c) {
    double ref_ms = 0;
    for (int r = 0; r < ref_n; r++) ref_ms += meas[n + r];
    c->groups++;
    check_rows(s, paths, n, pred, meas, ref_n ? ref_ms / ref_table_ms : 1.0, c);
}

void check_result(const CheckSums* c, int samples, int reference, CheckResult* out) {
    double k = samples ? samples : 1;
    out->samples = samples;
    out->busy_groups = c->busy_groups;
    out->within10 = c->within / k, out->raw_within10 = c->raw_within / k;
    out->mape = 100 * c->abs_sum / k, out->raw_mape = 100 * c->raw_abs_sum / k;
    out->mean_bias = 100 * c->bias_sum / k, out->raw_bias = 100 * c->raw_bias_sum / k;
    out->reference = reference;
    out->speed = samples ? c->speed_sum / k : 1.0;
}

void check_result_line(const CheckResult* r, char* out, size_t cap) {
    int n = snprintf(out, cap, "samples %d within10 %.3f mape %.2f bias %.2f", r->samples, r->within10, r->mape,
                     r->mean_bias);
    if (r->reference && n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " speed %.3f raw_within10 %.3f raw_mape %.2f raw_bias %.2f", r->speed,
                 r->raw_within10, r->raw_mape, r->raw_bias);
}
