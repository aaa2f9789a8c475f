// A command's flags as one table: each flag names the field of the
// command's argument struct it fills, so that every command reads its
// command line with the same loop (getopt_long underneath).
#ifndef HWNAS_CLI_FLAGS_H
#define HWNAS_CLI_FLAGS_H

#include <stddef.h>

#include "common/config.h"
#include "common/error.h"

typedef enum FlagKind {
    FLAG_TEXT,    // const char*: the value as given
    FLAG_ON,      // int: set to 1 (no value)
    FLAG_OFF,     // int: set to 0 (no value)
    FLAG_INT,     // int: an integer in [lo, hi] (flag_int's message)
    FLAG_CONFIG,  // Config: the value of config key `key` (config_override_flag)
    FLAG_SET,     // ConfigOverrides: one --set KEY=VALUE more
    FLAG_CUSTOM,  // anything: take(field, value, err)
} FlagKind;

typedef struct Flag {
    const char* name;  // the long form without "--", or NULL (short form only)
    char letter;       // the short form (-c), or 0
    FlagKind kind;
    size_t offset;     // of the field in the argument struct
    long lo, hi;       // FLAG_INT
    const char* key;   // FLAG_CONFIG
    int (*take)(void* field, const char* value, HwErr* err);  // FLAG_CUSTOM: 0 or -1 with err
} Flag;

// Table rows; S is the argument struct's type.
#define FLAG_TEXT_ROW(NAME, LETTER, S, FIELD) {NAME, LETTER, FLAG_TEXT, offsetof(S, FIELD), 0, 0, NULL, NULL}
#define FLAG_ON_ROW(NAME, S, FIELD) {NAME, 0, FLAG_ON, offsetof(S, FIELD), 0, 0, NULL, NULL}
#define FLAG_OFF_ROW(NAME, S, FIELD) {NAME, 0, FLAG_OFF, offsetof(S, FIELD), 0, 0, NULL, NULL}
#define FLAG_INT_ROW(NAME, LETTER, S, FIELD, LO, HI) {NAME, LETTER, FLAG_INT, offsetof(S, FIELD), LO, HI, NULL, NULL}
#define FLAG_CONFIG_ROW(NAME, S, FIELD, KEY) {NAME, 0, FLAG_CONFIG, offsetof(S, FIELD), 0, 0, KEY, NULL}
#define FLAG_SET_ROW(S, FIELD) {"set", 0, FLAG_SET, offsetof(S, FIELD), 0, 0, NULL, NULL}
#define FLAG_CUSTOM_ROW(NAME, S, FIELD, TAKE) {NAME, 0, FLAG_CUSTOM, offsetof(S, FIELD), 0, 0, NULL, TAKE}
#define FLAG_END {NULL, 0, FLAG_TEXT, 0, 0, 0, NULL, NULL}  // no name and no letter

enum { FLAGS_MAX = 32 };

// Reads argv[1..] into `args` by `flags` (ended by FLAG_END, at most
// FLAGS_MAX rows; --help is implicit). Returns 0 with *next the index of the
// first argument that is not a flag (next NULL: the command takes none, and
// one is a usage error); 1 after --help (usage on stdout); 2 on
// a usage error: an unknown flag or missing value (getopt's line, then the
// usage on stderr), or a bad value (one "hwnas: error:" line naming the flag).
int flags_parse(int argc, char** argv, const Flag* flags, void* args, const char* usage, int* next);

#endif
