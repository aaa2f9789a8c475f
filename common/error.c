#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

int hw_fail(HwErr* err, int code, const char* file, int line, const char* fmt, ...) {
    if (!err) return -1;
    err->code = code;
    int n = 0;
    if (file && line > 0)
        n = snprintf(err->msg, sizeof err->msg, "%s:%d: ", file, line);
    else if (file)
        n = snprintf(err->msg, sizeof err->msg, "%s: ", file);
    if (n < 0 || (size_t)n >= sizeof err->msg) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}
