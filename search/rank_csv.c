// ranking.csv writer and reader. The reader trusts nothing in the file: it
// is checked row by row against the selection this run made, so a file left
// by another ranking is refused rather than merged.
#include "search/rank_csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/safe_file.h"

int rank_ops_text(const Space* s, const int* ops, char* out, size_t cap, HwErr* err) {
    size_t used = 0;
    out[0] = 0;
    for (int l = 0; l < s->n_layers; l++) {
        int w = snprintf(out + used, cap - used, "%s%s", l ? " " : "", s->layers[l].names[ops[l]]);
        if (w < 0 || (size_t)w >= cap - used) return hw_runtime(err, NULL, 0, "architecture names too long");
        used += (size_t)w;
    }
    return 0;
}

int rank_csv_write(const char* path, const Space* s, const RankPick* picks, const RankRow* rows, int done,
                   HwErr* err) {
    SafeFile f;
    char ops[LIMIT_CSV_ROW_BYTES];
    if (safe_file_begin(&f, path, err) < 0) return -1;
    safe_file_printf(&f, "%s\n", RANK_CSV_HEADER);
    for (int k = 0; k < done; k++) {
        if (rank_ops_text(s, picks[k].ops, ops, sizeof ops, err) < 0) {
            safe_file_abort(&f);
            return -1;
        }
        safe_file_printf(&f, "%d,%s,%.6f,%.6f,%.6f,%.1f\n", k + 1, ops, picks[k].latency_ms, rows[k].inherited_top1,
                         rows[k].standalone_top1, rows[k].train_seconds);
    }
    return safe_file_commit(&f, err);
}

// A finite number filling the whole field.
static int parse_number(const char* text, double* out) {
    char* end;
    errno = 0;
    *out = strtod(text, &end);
    return end != text && *end == 0 && errno == 0 && isfinite(*out) ? 0 : -1;
}

// Splits a row at its commas into exactly 6 fields (the line is modified).
static int split_row(char* line, char** fields) {
    int n = 0;
    fields[n++] = line;
    for (char* p = line; *p; p++)
        if (*p == ',') {
            if (n == 6) return -1;
            *p = 0;
            fields[n++] = p + 1;
        }
    return n == 6 ? 0 : -1;
}

// Row k (0-based) at `line_no`: its index, operators and numbers.
static int parse_row(const char* path, int line_no, char* line, const Space* s, const RankPick* pick, int k,
                     RankRow* row, HwErr* err) {
    char* fields[6];
    char expected[LIMIT_CSV_ROW_BYTES];
    double index, predicted;
    if (split_row(line, fields) < 0)
        return hw_bad_input(err, path, line_no, "expected 6 comma-separated fields (%s)", RANK_CSV_HEADER);
    if (parse_number(fields[0], &index) < 0 || index != k + 1)
        return hw_bad_input(err, path, line_no, "index '%s', expected %d", fields[0], k + 1);
    if (rank_ops_text(s, pick->ops, expected, sizeof expected, err) < 0) return -1;
    if (strcmp(fields[1], expected) != 0)
        return hw_bad_input(err, path, line_no, "subnet '%s', expected '%s': this directory holds another "
                                                "selection (space, target or seed); use another -o",
                            fields[1], expected);
    if (parse_number(fields[2], &predicted) < 0 || parse_number(fields[3], &row->inherited_top1) < 0 ||
        parse_number(fields[4], &row->standalone_top1) < 0 || parse_number(fields[5], &row->train_seconds) < 0)
        return hw_bad_input(err, path, line_no, "expected numbers in predicted_ms, inherited_top1, standalone_top1, "
                                                "train_seconds");
    return 0;
}

// One line without its newline; 1 read, 0 at the end, -1 too long.
static int read_line(FILE* fp, char* buf, size_t cap) {
    if (!fgets(buf, (int)cap, fp)) return 0;
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\n') buf[--len] = 0;
    else if (!feof(fp)) return -1;
    return 1;
}

int rank_csv_read(const char* path, const Space* s, const RankPick* picks, int n, RankRow* rows, HwErr* err) {
    FILE* fp = fopen(path, "r");
    if (!fp) return errno == ENOENT ? 0 : hw_runtime(err, path, 0, "cannot read: %s", strerror(errno));
    char* line = malloc(LIMIT_CSV_ROW_BYTES);
    int done = 0, line_no = 1, rc = line ? read_line(fp, line, LIMIT_CSV_ROW_BYTES) : -2;
    if (rc == -2) rc = hw_runtime(err, path, 0, "out of memory");
    else if (rc != 1 || strcmp(line, RANK_CSV_HEADER) != 0)
        rc = hw_bad_input(err, path, 1, "expected the header '%s'", RANK_CSV_HEADER);
    while (rc == 1) {
        line_no++;
        rc = read_line(fp, line, LIMIT_CSV_ROW_BYTES);
        if (rc < 0) rc = hw_bad_input(err, path, line_no, "row longer than %d bytes", LIMIT_CSV_ROW_BYTES);
        else if (rc == 1 && done >= n) rc = hw_bad_input(err, path, line_no, "more rows than the %d subnets", n);
        else if (rc == 1 && parse_row(path, line_no, line, s, &picks[done], done, &rows[done], err) < 0) rc = -1;
        else if (rc == 1) done++;
    }
    free(line);
    fclose(fp);
    return rc < 0 ? -1 : done;
}
