// Shared by the libFuzzer targets of tests/fuzz: every parser of hwnas reads
// files, so each input is put in an in-memory file (memfd) and the parser is
// called with its /proc/self/fd path, through the same entry point the
// program uses. Nothing touches the disk.
#ifndef HWNAS_FUZZ_INPUT_H
#define HWNAS_FUZZ_INPUT_H

#ifndef _GNU_SOURCE  // (the fuzz build defines it on the command line)
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct FuzzFile {
    int fd;
    char path[64];
} FuzzFile;

// Writes data to a fresh in-memory file; aborts when the system refuses
// (that is the harness failing, not the parser).
static inline void fuzz_file_open(FuzzFile* f, const uint8_t* data, size_t size) {
    f->fd = memfd_create("hwnas-fuzz", 0);
    if (f->fd < 0) abort();
    for (size_t done = 0; done < size;) {
        ssize_t n = write(f->fd, data + done, size - done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

static inline void fuzz_file_close(FuzzFile* f) { close(f->fd); }

// A NUL-terminated copy (for the string entry points).
static inline char* fuzz_text(const uint8_t* data, size_t size) {
    char* s = (char*)malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
