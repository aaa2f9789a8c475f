#include "src/cli_flags.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "src/cmd_common.h"

enum { FLAG_CODE = 0x200, HELP_CODE = 0x1ff };

// The value of flag f into its field; 0, -1 with err, or 2 after a message.
static int take_flag(const Flag* f, void* args, const char* value, HwErr* err) {
    char* field = (char*)args + f->offset;
    char name[64];
    if (f->name) snprintf(name, sizeof name, "--%s", f->name);
    else snprintf(name, sizeof name, "-%c", f->letter);
    switch (f->kind) {
    case FLAG_TEXT: *(const char**)field = value; return 0;
    case FLAG_ON: *(int*)field = 1; return 0;
    case FLAG_OFF: *(int*)field = 0; return 0;
    case FLAG_INT: return flag_int(name, value, f->lo, f->hi, (int*)field, err);
    case FLAG_CONFIG: return config_override_flag((Config*)field, name, f->key, value, err);
    case FLAG_SET: return overrides_add((ConfigOverrides*)field, value);
    case FLAG_CUSTOM: return f->take(field, value, err);
    }
    return 0;
}

// getopt_long's tables for `flags`: long options (value FLAG_CODE + row)
// and the short option string ("c:o:h"); the number of rows, or -1 when
// there are more than FLAGS_MAX.
static int build_tables(const Flag* flags, struct option* longopts, char* shortopts) {
    int n = 0, s = 0, l = 0;
    for (; flags[n].name || flags[n].letter; n++) {
        if (n == FLAGS_MAX) return -1;
        int with_value = flags[n].kind != FLAG_ON && flags[n].kind != FLAG_OFF;
        if (flags[n].name)
            longopts[l++] = (struct option){flags[n].name, with_value ? required_argument : no_argument, 0, FLAG_CODE + n};
        if (flags[n].letter) {
            shortopts[s++] = flags[n].letter;
            if (with_value) shortopts[s++] = ':';
        }
    }
    longopts[l] = (struct option){"help", no_argument, 0, HELP_CODE};
    longopts[l + 1] = (struct option){0, 0, 0, 0};
    shortopts[s++] = 'h';
    shortopts[s] = 0;
    return n;
}

// The row of a short option letter, or -1.
static int row_of_letter(const Flag* flags, int n, int letter) {
    for (int i = 0; i < n; i++)
        if (flags[i].letter == letter) return i;
    return -1;
}

int flags_parse(int argc, char** argv, const Flag* flags, void* args, const char* usage, int* next) {
    struct option longopts[FLAGS_MAX + 2];
    char shortopts[2 * FLAGS_MAX + 2];
    int n = build_tables(flags, longopts, shortopts), opt;
    if (n < 0) return fprintf(stderr, "hwnas: error: more than %d flags in one table\n", FLAGS_MAX), 2;
    HwErr err = {0};
    optind = 1;
    while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (opt == HELP_CODE || opt == 'h') return fputs(usage, stdout), 1;
        int row = opt >= FLAG_CODE ? opt - FLAG_CODE : row_of_letter(flags, n, opt);
        if (row < 0 || row >= n) return fputs(usage, stderr), 2;
        int rc = take_flag(&flags[row], args, optarg, &err);
        if (rc == 2) return 2;  // overrides_add printed its line
        if (rc < 0) return cli_fail(&err), 2;
    }
    if (!next) return optind == argc ? 0 : (fputs(usage, stderr), 2);
    *next = optind;
    return 0;
}
