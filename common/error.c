#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// Length of the valid UTF-8 sequence at s (up to `left` bytes), 0 if none.
static int utf8_sequence(const unsigned char* s, size_t left) {
    int len = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (len == 0 || (size_t)len > left) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

// Messages quote what hostile files contain: escape control characters and
// bytes that are not UTF-8, so an error stays one readable line.
static void escape_message(char* msg, size_t cap) {
    char out[sizeof ((HwErr*)0)->msg];
    size_t o = 0, n = strlen(msg);
    for (size_t i = 0; i < n && o + 5 < sizeof out;) {
        unsigned char c = (unsigned char)msg[i];
        int len = c >= 0x80 ? utf8_sequence((const unsigned char*)msg + i, n - i) : 0;
        if (c >= 0x20 && c < 0x7F) {
            out[o++] = (char)c, i++;
        } else if (len > 0) {
            if (o + (size_t)len >= sizeof out) break;
            memcpy(out + o, msg + i, (size_t)len), o += (size_t)len, i += (size_t)len;
        } else {
            o += (size_t)snprintf(out + o, sizeof out - o, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\x%02x", c);
            i++;
        }
    }
    out[o] = 0;
    snprintf(msg, cap, "%s", out);
}

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
    escape_message(err->msg, sizeof err->msg);
    return -1;
}
