// A small read-only YAML tree built on libyaml's event API, plus typed reads
// whose errors name the file, the line, the key, what was found and what was
// expected. Only what our own files need: one document of scalars, sequences
// and mappings with scalar keys. Aliases and anchors are rejected (no alias
// bombs), tags are rejected (we never honor them), nesting is limited to 64
// levels and files to 64 MiB, so hostile input fails fast with a clear error.
//
// Scalars keep their text; typing happens at read time (yaml_int etc.), so a
// plain `5` and a quoted "5" read the same. An absent value (`key:`) is the
// empty scalar "".
#ifndef HWNAS_YAML_TREE_H
#define HWNAS_YAML_TREE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "common/limits.h"
#include "common/safe_file.h"

#ifdef __cplusplus
extern "C" {
#endif

#define YAML_MAX_DEPTH LIMIT_YAML_DEPTH
#define YAML_MAX_FILE_BYTES LIMIT_YAML_FILE_BYTES

typedef enum YamlKind { YAML_SCALAR, YAML_SEQUENCE, YAML_MAPPING } YamlKind;

typedef struct YamlNode {
    YamlKind kind;
    int line;                   // 1-based line where the node starts
    const char* scalar;         // YAML_SCALAR text (NULL for collections)
    int count;                  // SEQUENCE: items; MAPPING: pairs
    struct YamlNode** items;    // SEQUENCE items or MAPPING values
    const char** keys;          // MAPPING keys (scalar keys only)
    const int* key_lines;       // MAPPING key lines
} YamlNode;

struct YamlArena;
typedef struct YamlDoc {
    char* path;                 // the file name used in error messages
    YamlNode* root;
    struct YamlArena* arena;    // private: every node and string of the doc
} YamlDoc;

// Loads one YAML document. Errors (err->code 2, "FILE:LINE: ..."): missing or
// unreadable file, parse error, alias/anchor, tag, duplicate key, non-scalar
// key, nesting deeper than YAML_MAX_DEPTH, file over YAML_MAX_FILE_BYTES,
// more than one document, empty document. Returns NULL on error.
YamlDoc* yaml_load_file(const char* path, HwErr* err);
// Same for text in memory; `name` stands for the file in messages.
YamlDoc* yaml_load_string(const char* text, const char* name, HwErr* err);
// libyaml exports its own internal `yaml_free(void*)` and calls it through the
// dynamic symbol table, so a function of ours with that symbol name would
// replace libyaml's allocator release and corrupt the heap. Callers still write
// yaml_free(doc); the symbol is hwnas_yaml_free.
#define yaml_free hwnas_yaml_free
void yaml_free(YamlDoc* doc);

// The value of `key`; NULL if absent or `map` is NULL or not a mapping.
// Linear in the number of keys: callers with huge mappings iterate instead.
const YamlNode* yaml_get(const YamlNode* map, const char* key);

// Typed reads. `what` names the value for the message (e.g. "train.batch").
// Each returns 0 or -1 with err set to
// "FILE:LINE: train.batch: found 'abc', expected an integer in 1..65536".
// A NULL node is reported as missing. Ranges are inclusive.
int yaml_int(const YamlDoc* d, const YamlNode* n, const char* what, long lo, long hi, long* out,
             HwErr* err);
// Decimal or exponent notation only; nan, inf, hex floats are rejected.
int yaml_float(const YamlDoc* d, const YamlNode* n, const char* what, double lo, double hi,
               double* out, HwErr* err);
// true/false/yes/no/1/0, any letter case.
int yaml_bool(const YamlDoc* d, const YamlNode* n, const char* what, int* out, HwErr* err);
// Copies the scalar into out (cap bytes, NUL included; the rest of out is
// zeroed so structs compare byte-wise). Longer than cap-1 is an error.
int yaml_string(const YamlDoc* d, const YamlNode* n, const char* what, char* out, size_t cap,
                HwErr* err);
// `map` must be a mapping whose keys are all in `allowed` (NULL-terminated);
// an unknown key is an error with its line and the list of allowed keys.
int yaml_check_keys(const YamlDoc* d, const YamlNode* map, const char* what,
                    const char* const* allowed, HwErr* err);

// Writes s as a scalar that reads back as exactly s, plain when that is safe
// (in block context: mapping keys and values, block sequence items) and
// double-quoted with escapes otherwise (empty, special words like `null` or
// `yes`, numbers, leading/trailing space, indicators, control characters,
// and the Unicode line breaks U+0085, U+2028, U+2029, written \N, \L, \P).
// The text written never holds a line break.
void yaml_write_string(FILE* fp, const char* s);
// The same text as a malloc'd string (NULL when out of memory), e.g. to name
// a user's path inside a comment or a generated document.
char* yaml_quoted(const char* s);
// Write finite numbers with the fewest digits that read back (strtod/strtof)
// as exactly the same value, e.g. 0.1f as `0.1`, not `0.100000001`.
void yaml_write_double(FILE* fp, double v);
void yaml_write_float(FILE* fp, float v);

// Atomic file replacement for the files we write (safe_begin/safe_commit of
// common/safe_file.h): yaml_file_begin opens a temporary file next to `path`
// (tmp receives its name, cap >= strlen(path)+8; SAFE_PATH_MAX + 8 fits any);
// yaml_file_commit flushes, fsyncs, renames it over `path` and fsyncs the
// directory, so readers see the old file or the new one, never a torn one,
// and a link planted at `path` is replaced, never followed.
// yaml_file_abort closes and removes the temporary file.
FILE* yaml_file_begin(const char* path, char* tmp, size_t cap, HwErr* err);
int yaml_file_commit(FILE* fp, const char* tmp, const char* path, HwErr* err);
void yaml_file_abort(FILE* fp, const char* tmp);

#ifdef __cplusplus
}
#endif
#endif
