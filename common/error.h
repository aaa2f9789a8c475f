// Error reporting: library code fills an HwErr and returns; the CLI prints it
// as one line `hwnas: error: FILE:LINE: what was found, what was expected`.
#ifndef HWNAS_ERROR_H
#define HWNAS_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct HwErr {
    char msg[1024];
    int code;  // exit status the CLI should use: 1 runtime failure, 2 bad input/usage
} HwErr;

enum { HW_EXIT_RUNTIME = 1, HW_EXIT_INPUT = 2 };

// Sets err (if not NULL) to "FILE:LINE: message" (line <= 0 omits LINE, file
// NULL omits FILE) and returns -1, so callers can `return hw_fail(...)`.
// Control characters and bytes that are not UTF-8 (quoted from a hostile
// file, say) come out escaped (\n, \t, \xNN): the message stays one line.
int hw_fail(HwErr* err, int code, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 5, 6)));

// Shorthands for bad input (exit 2) and runtime failures (exit 1).
#define hw_bad_input(err, file, line, ...) hw_fail((err), HW_EXIT_INPUT, (file), (line), __VA_ARGS__)
#define hw_runtime(err, file, line, ...) hw_fail((err), HW_EXIT_RUNTIME, (file), (line), __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
