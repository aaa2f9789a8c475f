// search.csv and pareto.csv: writing rows as the search evaluates them and
// reading them back for a resumed search. See search_csv.h for the format.
#include "search/search_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "common/yaml_tree.h"

#define CSV_ROW_MAX LIMIT_CSV_ROW_BYTES  // 64 layers of 32-character names fit with room to spare
#define CSV_NAME_MAX 128

static const char* const kOrigins[] = {"random", "mutation", "crossover", "fill"};

// ---------------------------------------------------------------- names

int search_names_resolve(void* user, int layer, const char* name) {
    const SearchNames* n = user;
    if (!n || layer < 0 || layer >= n->n_layers) return -1;
    for (int op = 0; op < n->n_ops[layer]; op++)
        if (n->names[layer][op] && !strcmp(n->names[layer][op], name)) return op;
    return -1;
}

// A name the CSV can hold unquoted and split back: non-empty, no separators.
static int writable_name(const char* name) {
    if (!name || !name[0] || strlen(name) >= CSV_NAME_MAX) return 0;
    for (const char* q = name; *q; q++)
        if (*q == ',' || *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '"') return 0;
    return 1;
}

// Appends "name name ..." to buf at *len; 0 or -1.
static int format_ops(char* buf, size_t cap, size_t* len, const int* ops, const SearchNames* names,
                      const char* path, HwErr* err) {
    for (int l = 0; l < names->n_layers; l++) {
        int op = ops[l];
        if (op < 0 || op >= names->n_ops[l])
            return hw_bad_input(err, path, 0, "layer %d: op %d, expected 0..%d", l, op, names->n_ops[l] - 1);
        const char* name = names->names[l][op];
        if (!writable_name(name))
            return hw_bad_input(err, path, 0,
                                "layer %d op %d: name '%s' is empty, too long or has a comma, "
                                "quote or whitespace",
                                l, op, name ? name : "(null)");
        int n = snprintf(buf + *len, cap - *len, "%s%s", l ? " " : "", name);
        if (n < 0 || (size_t)n >= cap - *len)
            return hw_bad_input(err, path, 0, "row longer than %zu bytes", cap);
        *len += (size_t)n;
    }
    return 0;
}

static int check_names(const SearchNames* names, const char* path, HwErr* err) {
    if (!names || !names->n_ops || !names->names || names->n_layers < 1 ||
        names->n_layers > SEARCH_MAX_LAYERS)
        return hw_bad_input(err, path, 0, "no operator names given (n_layers 1..%d)", SEARCH_MAX_LAYERS);
    return 0;
}

// ---------------------------------------------------------------- search.csv writing

static int write_all(int fd, const char* buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static int known_origin(const char* origin) {
    for (size_t i = 0; i < sizeof kOrigins / sizeof kOrigins[0]; i++)
        if (!strcmp(origin, kOrigins[i])) return 1;
    return 0;
}

static int format_search_row(char* buf, size_t cap, size_t* len, const Candidate* c, const SearchNames* names,
                             const char* path, HwErr* err) {
    // Checked here so that every row written can be read back.
    if (!memchr(c->origin, '\0', sizeof c->origin) || !known_origin(c->origin))
        return hw_bad_input(err, path, 0, "origin '%.11s', expected random, mutation, crossover or fill",
                            c->origin);
    if (format_ops(buf, cap, len, c->ops, names, path, err) != 0) return -1;
    int n = snprintf(buf + *len, cap - *len, ",%.17g,%.17g,%.17g,%d,%s,%.17g,%.17g,%.17g\n", c->latency_ms,
                     c->top1, c->top5, c->generation, c->origin, c->cost[COST_PARAMS], c->cost[COST_MFLOPS],
                     c->cost[COST_PEAK_KB]);
    if (n < 0 || (size_t)n >= cap - *len) return hw_bad_input(err, path, 0, "row longer than %zu bytes", cap);
    *len += (size_t)n;
    return 0;
}

int search_csv_append(const char* path, const Candidate* c, const SearchNames* names, HwErr* err) {
    if (check_names(names, path, err) != 0) return -1;
    // Appended in place (a resumed search reads it back): a link is refused, not followed.
    int fd = safe_open_append(path, err);
    if (fd < 0) return -1;
    struct stat st;
    char row[CSV_ROW_MAX];
    size_t len = 0;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = hw_runtime(err, path, 0, "cannot stat: %s", strerror(errno));
    } else {
        if (st.st_size == 0) len = (size_t)snprintf(row, sizeof row, "%s\n", SEARCH_CSV_HEADER);
        rc = format_search_row(row, sizeof row, &len, c, names, path, err);
    }
    // One write per row, then fsync: a kill leaves whole rows behind.
    if (rc == 0 && (write_all(fd, row, len) != 0 || fsync(fd) != 0))
        rc = hw_runtime(err, path, 0, "write failed: %s", strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = hw_runtime(err, path, 0, "close failed: %s", strerror(errno));
    return rc;
}

// ---------------------------------------------------------------- search.csv reading

static char* read_whole_file(const char* path, size_t* size, HwErr* err) {
    FILE* fp = fopen(path, "rb");
    if (!fp) {
        hw_bad_input(err, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > LIMIT_SEARCH_CSV_BYTES) {
        fclose(fp);
        hw_bad_input(err, path, 0, "%lld bytes, expected at most %lld (LIMIT_SEARCH_CSV_BYTES)",
                     (long long)st.st_size, (long long)LIMIT_SEARCH_CSV_BYTES);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char* buf = malloc(cap + 1);
    int out_of_memory = !buf, too_long = 0;
    while (!out_of_memory) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap) break;
        // A pipe or a file that grows while read: the limit holds all the same.
        if (n > (size_t)LIMIT_SEARCH_CSV_BYTES) {
            too_long = 1;
            break;
        }
        char* bigger = realloc(buf, 2 * cap + 1);
        out_of_memory = !bigger;
        if (bigger) buf = bigger, cap *= 2;
    }
    int io_error = ferror(fp);
    fclose(fp);
    if (too_long) {
        free(buf);
        hw_bad_input(err, path, 0, "more than %lld bytes, expected at most %lld (LIMIT_SEARCH_CSV_BYTES)",
                     (long long)LIMIT_SEARCH_CSV_BYTES, (long long)LIMIT_SEARCH_CSV_BYTES);
        return NULL;
    }
    if (out_of_memory || io_error) {
        free(buf);
        hw_runtime(err, path, 0, "cannot read: %s", out_of_memory ? "out of memory" : "I/O error");
        return NULL;
    }
    buf[n] = '\0';
    *size = n;
    return buf;
}

// Splits line at `sep` into at most max fields (in place); returns the count.
static int split_fields(char* line, char sep, char** fields, int max) {
    int n = 0;
    fields[n++] = line;
    for (char* q = line; *q; q++)
        if (*q == sep) {
            *q = '\0';
            if (n == max) return max + 1;
            fields[n++] = q + 1;
        }
    return n;
}

// Whole field, finite. Underflow (ERANGE on subnormals) is fine: %.17g of a
// subnormal must read back as itself.
static int parse_double(const char* s, double* v) {
    char* end;
    *v = strtod(s, &end);
    return s[0] && *end == '\0' && isfinite(*v) ? 0 : -1;
}

static int parse_ops(char* field, int n_layers, SearchOpResolver resolve, void* user, int* ops,
                     const char* path, int line, HwErr* err) {
    char* names[SEARCH_MAX_LAYERS + 1];
    int n = split_fields(field, ' ', names, SEARCH_MAX_LAYERS);
    if (n != n_layers)
        return hw_bad_input(err, path, line,
                            "%s%d operators, expected %d (one per searchable layer, single spaces)",
                            n > SEARCH_MAX_LAYERS ? "more than " : "",
                            n > SEARCH_MAX_LAYERS ? SEARCH_MAX_LAYERS : n, n_layers);
    for (int l = 0; l < n_layers; l++) {
        ops[l] = names[l][0] ? resolve(user, l, names[l]) : -1;
        if (ops[l] < 0)
            return hw_bad_input(err, path, line, "layer %d: '%s' is not an operator of this layer", l,
                                names[l]);
    }
    return 0;
}

// The cost columns (fields 6..8): finite numbers >= 0.
static int parse_costs(char* const* f, Candidate* c, const char* path, int line_no, HwErr* err) {
    for (int k = 0; k < SEARCH_COST_COUNT; k++)
        if (parse_double(f[6 + k], &c->cost[k]) != 0 || c->cost[k] < 0)
            return hw_bad_input(err, path, line_no, "%s '%s', expected a finite number >= 0",
                                search_cost_name((SearchCost)k), f[6 + k]);
    return 0;
}

static int parse_search_row(char* line, int n_layers, SearchOpResolver resolve, void* user, Candidate* c,
                            const char* path, int line_no, HwErr* err) {
    char* f[SEARCH_CSV_FIELDS];
    int n = split_fields(line, ',', f, SEARCH_CSV_FIELDS);
    if (n != SEARCH_CSV_FIELDS)
        return hw_bad_input(err, path, line_no, "%s%d fields, expected %d (%s)", n > SEARCH_CSV_FIELDS ? "more than " : "",
                            n > SEARCH_CSV_FIELDS ? SEARCH_CSV_FIELDS : n, SEARCH_CSV_FIELDS, SEARCH_CSV_HEADER);
    memset(c, 0, sizeof *c);
    if (parse_ops(f[0], n_layers, resolve, user, c->ops, path, line_no, err) != 0) return -1;
    if (parse_double(f[1], &c->latency_ms) != 0 || c->latency_ms < 0)
        return hw_bad_input(err, path, line_no, "latency_ms '%s', expected a finite number >= 0", f[1]);
    if (parse_double(f[2], &c->top1) != 0 || c->top1 < 0 || c->top1 > 1)
        return hw_bad_input(err, path, line_no, "top1 '%s', expected a number in 0..1", f[2]);
    if (parse_double(f[3], &c->top5) != 0 || c->top5 < 0 || c->top5 > 1)
        return hw_bad_input(err, path, line_no, "top5 '%s', expected a number in 0..1", f[3]);
    char* end;
    errno = 0;
    long g = strtol(f[4], &end, 10);
    if (!f[4][0] || *end || errno || g < -1 || g > INT_MAX)
        return hw_bad_input(err, path, line_no, "generation '%s', expected an integer >= -1", f[4]);
    c->generation = (int)g;
    if (!known_origin(f[5]))
        return hw_bad_input(err, path, line_no, "origin '%s', expected random, mutation, crossover or fill",
                            f[5]);
    strcpy(c->origin, f[5]);
    return parse_costs(f, c, path, line_no, err);
}

static int push_candidate(Candidate** v, int* count, int* cap, const Candidate* c) {
    if (*count == *cap) {
        int next = *cap ? 2 * *cap : 256;
        Candidate* bigger = realloc(*v, (size_t)next * sizeof **v);
        if (!bigger) return -1;
        *v = bigger;
        *cap = next;
    }
    (*v)[(*count)++] = *c;
    return 0;
}

static int parse_search_csv(char* text, size_t size, int n_layers, SearchOpResolver resolve, void* user,
                            const char* path, Candidate** v, int* count, HwErr* err) {
    int cap = 0, line_no = 0;
    char* p = text;
    // Rows are counted before any is kept: the limit bounds the memory.
    long lines = 0;  // the header, then one row per line
    for (const char* q = text; (q = memchr(q, '\n', (size_t)(text + size - q))) != NULL; q++)
        if (++lines - 1 > LIMIT_SEARCH_CSV_ROWS)
            return hw_bad_input(err, path, (int)lines, "more than %d rows, expected at most %d (LIMIT_SEARCH_CSV_ROWS)",
                                LIMIT_SEARCH_CSV_ROWS, LIMIT_SEARCH_CSV_ROWS);
    while (p < text + size) {
        line_no++;
        char* nl = strchr(p, '\n');
        if (!nl)
            return hw_bad_input(err, path, line_no,
                                "the last row has no newline (cut off when the search was "
                                "killed?); delete that line to resume");
        *nl = '\0';
        if (nl > p && nl[-1] == '\r') nl[-1] = '\0';
        if (line_no == 1) {
            if (strcmp(p, SEARCH_CSV_HEADER_V1) == 0)
                return hw_bad_input(err, path, 1,
                                    "header '%s' of an older hwnas, expected '%s' (the params, mflops and "
                                    "peak_kb columns); move the file away to start the search afresh",
                                    p, SEARCH_CSV_HEADER);
            if (strcmp(p, SEARCH_CSV_HEADER) != 0)
                return hw_bad_input(err, path, 1, "header '%.200s', expected '%s'", p, SEARCH_CSV_HEADER);
        } else {
            Candidate c;
            if (parse_search_row(p, n_layers, resolve, user, &c, path, line_no, err) != 0) return -1;
            if (push_candidate(v, count, &cap, &c) != 0)
                return hw_runtime(err, path, line_no, "out of memory");
        }
        p = nl + 1;
    }
    return 0;
}

int search_csv_read(const char* path, int n_layers, SearchOpResolver resolve, void* user, Candidate** out,
                    int* count, HwErr* err) {
    *out = NULL;
    *count = 0;
    if (n_layers < 1 || n_layers > SEARCH_MAX_LAYERS || !resolve)
        return hw_bad_input(err, path, 0, "n_layers %d (expected 1..%d) or no operator resolver", n_layers,
                            SEARCH_MAX_LAYERS);
    size_t size;
    char* text = read_whole_file(path, &size, err);
    if (!text) return -1;
    int rc = parse_search_csv(text, size, n_layers, resolve, user, path, out, count, err);
    free(text);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

// ---------------------------------------------------------------- pareto.csv

int pareto_csv_write(const char* path, const Candidate* c, int count, const SearchNames* names, HwErr* err) {
    if (check_names(names, path, err) != 0) return -1;
    int* front = malloc((size_t)(count > 0 ? count : 1) * sizeof *front);
    if (!front) return hw_runtime(err, path, 0, "out of memory");
    int n = pareto_front(c, count, front);
    char tmp[SAFE_PATH_MAX + 8];
    FILE* fp = yaml_file_begin(path, tmp, sizeof tmp, err);
    if (!fp) {
        free(front);
        return -1;
    }
    fprintf(fp, "%s\n", PARETO_CSV_HEADER);
    char row[CSV_ROW_MAX];
    for (int i = 0; i < n; i++) {
        const Candidate* k = &c[front[i]];
        int len = snprintf(row, sizeof row, "%.17g,%.17g,", k->latency_ms, k->top1);
        size_t used = (size_t)len;
        if (format_ops(row, sizeof row, &used, k->ops, names, path, err) != 0) {
            free(front);
            yaml_file_abort(fp, tmp);
            return -1;
        }
        fprintf(fp, "%s,%.17g,%.17g,%.17g\n", row, k->cost[COST_PARAMS], k->cost[COST_MFLOPS], k->cost[COST_PEAK_KB]);
    }
    free(front);
    return yaml_file_commit(fp, tmp, path, err);
}
