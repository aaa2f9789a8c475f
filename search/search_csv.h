// search.csv (every evaluated candidate, appended as the search runs, read
// back to resume a killed search) and pareto.csv (the accuracy/latency front).
//
//   search.csv:  ops,latency_ms,top1,top5,generation,origin,params,mflops,peak_kb
//                mb_k3_e6 skip sep_k5,1.25,0.8125,0.97,-1,random,51234,12.5,24.5
//   pareto.csv:  latency_ms,top1,ops,params,mflops,peak_kb
//
// params, mflops and peak_kb are the candidate's costs (Candidate.cost, see
// evolution.h), the quantities search.max_params/max_mflops/max_peak_kb
// limit. A search.csv of an hwnas before those columns (the 6-column header)
// is refused with a message that says so: its rows lack the costs, and rows
// appended to it would not match its header.
//
// `ops` is one operator name per searchable layer, separated by single
// spaces. Numbers are written with 17 significant digits so that a resumed
// search replays exactly the values the interrupted one saw. Operator names
// are given per layer per op (SearchNames: names[layer][op], with the op
// counts so that every index is bounds-checked).
#ifndef HWNAS_SEARCH_CSV_H
#define HWNAS_SEARCH_CSV_H

#include "common/error.h"
#include "search/evolution.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEARCH_CSV_HEADER "ops,latency_ms,top1,top5,generation,origin,params,mflops,peak_kb"
#define SEARCH_CSV_HEADER_V1 "ops,latency_ms,top1,top5,generation,origin"  // refused, see above
#define SEARCH_CSV_FIELDS 9
#define PARETO_CSV_HEADER "latency_ms,top1,ops,params,mflops,peak_kb"

// Resolves an operator name of a layer to its index; -1 when it is not a
// candidate of that layer.
typedef int (*SearchOpResolver)(void* user, int layer, const char* name);

// A ready-made resolver over the same names table the writers take: pass a
// SearchNames* as `user`.
typedef struct SearchNames {
    int n_layers;
    const int* n_ops;
    const char* const* const* names;  // names[layer][op]
} SearchNames;
int search_names_resolve(void* user, int layer, const char* name);

// Appends one row, writing the header first when the file is new or empty.
// The row goes out in one write() and is fsynced, so a killed search leaves
// whole rows. Errors: an op index outside names->n_ops, a missing or empty
// name, a name with a comma or whitespace, I/O failures. 0 or -1.
int search_csv_append(const char* path, const Candidate* c, const SearchNames* names, HwErr* err);

// Reads search.csv into a malloc'd array (*out, *count; free() it), for
// SearchProblem.prior. Errors name the file and line (code 2): wrong header,
// wrong field count, a layer count other than n_layers, an unknown operator,
// a number that does not parse or is out of range (latency and costs >= 0,
// top1 and top5 in 0..1, generation >= -1), an unknown origin, a last row cut off
// without its newline. An empty or missing-rows file gives *count 0.
int search_csv_read(const char* path, int n_layers, SearchOpResolver resolve, void* user, Candidate** out,
                    int* count, HwErr* err);

// Writes pareto.csv (the pareto_front of c[0..count), sorted by latency)
// atomically. 0 or -1.
int pareto_csv_write(const char* path, const Candidate* c, int count, const SearchNames* names, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
