// Output files written safely in directories that others may have touched:
// never through a planted symbolic link, never torn by a crash, never
// silently short when the disk is full. Every writer of hwnas goes through
// here (the YAML writers through yaml_file_begin/commit, which call the
// low-level pair below).
//
// A file is written to a new temporary file beside it (mkstemp: a fresh name,
// O_EXCL, so no link can be planted there) and renamed over the final name
// when complete, after fflush and fsync; a symbolic link at the final name is
// replaced, never followed. An existing character device or pipe at the
// final name (/dev/null, /dev/full, a FIFO) is written directly, as fopen
// would; a link to one, a directory or any other special file is refused.
// Every write error is kept and reported once, naming the file.
#ifndef HWNAS_SAFE_FILE_H
#define HWNAS_SAFE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "common/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

// Longest path an output may have (Linux's PATH_MAX, terminator included).
#define SAFE_PATH_MAX LIMIT_PATH_BYTES

// The environment variable that allows an output directory that is a
// symbolic link (HWNAS_ALLOW_SYMLINK_OUTPUT=1).
#define SAFE_ALLOW_SYMLINK_ENV "HWNAS_ALLOW_SYMLINK_OUTPUT"

// Low level: opens `path` for writing; tmp (cap >= strlen(path) + 8)
// receives the temporary name, or "" when the file is written directly.
FILE* safe_begin(const char* path, char* tmp, size_t cap, HwErr* err);
// Flushes, fsyncs, closes and renames tmp over path (first_errno: an error
// the caller already saw while writing, 0 if none). On failure the
// temporary file is removed and the old file is left as it was.
int safe_commit(FILE* fp, const char* tmp, const char* path, int first_errno, HwErr* err);
// Closes and removes the temporary file (NULL fp allowed).
void safe_abort(FILE* fp, const char* tmp);

typedef struct SafeFile {
    FILE* fp;                      // write through the helpers below (or fprintf; errors are caught at the end)
    char path[SAFE_PATH_MAX];      // the final name
    char tmp[SAFE_PATH_MAX + 8];   // the temporary name until renamed; "" after, or when written directly
    int error;                     // errno of the first failed write, 0 if none
    int regular;                   // a regular file: fsync it before closing
} SafeFile;

int safe_file_begin(SafeFile* f, const char* path, HwErr* err);
// Write helpers: a failure is remembered (the first one) and reported by
// safe_file_flush / publish / commit.
void safe_file_write(SafeFile* f, const void* data, size_t bytes);
void safe_file_printf(SafeFile* f, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// fflush; -1 with err naming the file if anything written so far failed.
int safe_file_flush(SafeFile* f, HwErr* err);
// For logs that grow while a job runs: makes what is written so far the
// file under its final name (fsync + rename) and keeps the file open for
// appending. Later writes go straight to the final name.
int safe_file_publish(SafeFile* f, HwErr* err);
// Finishes the file: flush, fsync, close, rename. 0, or -1 with err (exit 1)
// and the temporary file removed.
int safe_file_commit(SafeFile* f, HwErr* err);
// Gives up: closes, removes the temporary file if not yet renamed.
void safe_file_abort(SafeFile* f);

// Removes the temporary files (PATH.XXXXXX, as safe_begin names them) that a
// writer of `path` killed before its rename left behind, so a resumed run
// does not accumulate them. Only regular files and links of exactly that
// form are removed. Returns how many were removed, or -1 with err when the
// directory cannot be read.
int safe_remove_leftovers(const char* path, HwErr* err);

// Writes `bytes` bytes of data to `path` atomically (one call).
int safe_write_whole(const char* path, const void* data, size_t bytes, HwErr* err);

// snprintf for paths: -1 with err (exit 2) instead of a truncated name.
int safe_path(char* out, size_t cap, HwErr* err, const char* fmt, ...) __attribute__((format(printf, 4, 5)));

// mkdir -p for an output directory. The directory itself must not be a
// symbolic link (exit 2) unless HWNAS_ALLOW_SYMLINK_OUTPUT=1: files are then
// written wherever the link points.
int safe_output_dir(const char* dir, HwErr* err);

// Opens `path` for appending (created 0644 if missing), refusing a symbolic
// link and anything that is not a regular file. A file descriptor or -1.
int safe_open_append(const char* path, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
