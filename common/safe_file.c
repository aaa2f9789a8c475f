#include "common/safe_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ---------------------------------------------------------------- paths

int safe_path(char* out, size_t cap, HwErr* err, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < cap) return 0;
    // Never use the cut name: it may name another file.
    return hw_bad_input(err, NULL, 0, "path too long: '%.60s...' has %d characters, expected at most %zu", out, n,
                        cap - 1);
}

static void fsync_parent_dir(const char* path) {
    char copy[SAFE_PATH_MAX];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);  // best effort: some filesystems refuse fsync on directories
        close(fd);
    }
}

// ---------------------------------------------------------------- opening

// An existing character device or pipe (/dev/null, /dev/full, a FIFO) is
// written in place, as fopen would: it cannot be replaced by a rename, and
// only root can create a device node. O_NONBLOCK: a pipe nobody reads is an
// error, not a hang; the fstat catches a swap since the lstat.
static FILE* open_special(const char* path, char* tmp, HwErr* err) {
    tmp[0] = 0;
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        hw_runtime(err, path, 0, "cannot open for writing: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
        close(fd);
        hw_runtime(err, path, 0, "changed while being opened, expected a character device or pipe");
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE* fp = fdopen(fd, "w");
    if (!fp) close(fd), hw_runtime(err, path, 0, "cannot open for writing: %s", strerror(errno));
    return fp;
}

// What may stand at the final name: nothing, a regular file or a link
// (both replaced by the rename), or a device or pipe (written in place).
// 1: write in place, 0: write a temporary file, -1: refused.
static int classify_target(const char* path, HwErr* err) {
    struct stat st, to;
    if (lstat(path, &st) != 0) return 0;
    if (S_ISREG(st.st_mode)) return 0;
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return 1;
    if (S_ISDIR(st.st_mode)) return hw_runtime(err, path, 0, "is a directory, expected a file name");
    if (S_ISLNK(st.st_mode)) {
        if (stat(path, &to) == 0 && (S_ISCHR(to.st_mode) || S_ISBLK(to.st_mode) || S_ISFIFO(to.st_mode)))
            return hw_runtime(err, path, 0,
                              "is a symbolic link to a device or pipe, expected a regular file or a new name");
        return 0;
    }
    return hw_runtime(err, path, 0, "is not a regular file, expected a regular file or a new name");
}

FILE* safe_begin(const char* path, char* tmp, size_t cap, HwErr* err) {
    if (cap > 0) tmp[0] = 0;
    int in_place = classify_target(path, err);
    if (in_place < 0) return NULL;
    if (in_place) return open_special(path, tmp, err);
    int n = snprintf(tmp, cap, "%s.XXXXXX", path);
    if (n < 0 || (size_t)n >= cap) {
        hw_bad_input(err, path, 0, "path too long, expected at most %zu characters", cap > 8 ? cap - 8 : 0);
        tmp[0] = 0;
        return NULL;
    }
    int fd = mkstemp(tmp);  // a new name, O_EXCL: nothing planted can be followed
    if (fd < 0) {
        hw_runtime(err, path, 0, "cannot create a temporary file next to it: %s", strerror(errno));
        tmp[0] = 0;  // nothing of ours to remove
        return NULL;
    }
    // mkstemp makes 0600 files; outputs are meant to be shared like any other.
    // A failure keeps 0600, which is still a correct file.
    (void)fchmod(fd, 0644);
    FILE* fp = fdopen(fd, "w");
    if (!fp) {
        hw_runtime(err, path, 0, "cannot open %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        tmp[0] = 0;
    }
    return fp;
}

// ---------------------------------------------------------------- finishing

// Flushes (and fsyncs a regular file) and closes fp; the first error's errno
// or 0. first_errno is an error already seen by the writer.
static int close_checked(FILE* fp, int first_errno, int regular) {
    int e = first_errno;
    if (fflush(fp) != 0 && !e) e = errno ? errno : EIO;
    if (ferror(fp) && !e) e = EIO;  // a write failed earlier and its errno is gone
    if (regular && !e && fsync(fileno(fp)) != 0) e = errno;
    if (fclose(fp) != 0 && !e) e = errno ? errno : EIO;
    return e;
}

static int rename_into_place(const char* tmp, const char* path, HwErr* err) {
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return hw_runtime(err, path, 0, "cannot rename %s over it: %s", tmp, strerror(e));
    }
    fsync_parent_dir(path);
    return 0;
}

int safe_commit(FILE* fp, const char* tmp, const char* path, int first_errno, HwErr* err) {
    int temporary = tmp && tmp[0];
    int e = close_checked(fp, first_errno, temporary);
    if (e) {
        if (temporary) unlink(tmp);
        return hw_runtime(err, path, 0, "write failed: %s%s", strerror(e),
                          temporary ? "; the previous file, if any, is unchanged" : "");
    }
    return temporary ? rename_into_place(tmp, path, err) : 0;
}

void safe_abort(FILE* fp, const char* tmp) {
    if (fp) fclose(fp);
    if (tmp && tmp[0]) unlink(tmp);
}

// ---------------------------------------------------------------- SafeFile

int safe_file_begin(SafeFile* f, const char* path, HwErr* err) {
    memset(f, 0, sizeof *f);
    if (safe_path(f->path, sizeof f->path, err, "%s", path) < 0) return -1;
    f->fp = safe_begin(path, f->tmp, sizeof f->tmp, err);
    if (!f->fp) f->tmp[0] = 0;  // an abort after a failed begin removes nothing
    f->regular = f->tmp[0] != 0;
    return f->fp ? 0 : -1;
}

void safe_file_write(SafeFile* f, const void* data, size_t bytes) {
    if (f->error || bytes == 0) return;
    if (fwrite(data, 1, bytes, f->fp) != bytes) f->error = errno ? errno : EIO;
}

void safe_file_printf(SafeFile* f, const char* fmt, ...) {
    if (f->error) return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(f->fp, fmt, ap) < 0) f->error = errno ? errno : EIO;
    va_end(ap);
}

int safe_file_flush(SafeFile* f, HwErr* err) {
    if (!f->error && fflush(f->fp) != 0) f->error = errno ? errno : EIO;
    if (!f->error && ferror(f->fp)) f->error = EIO;
    if (f->error) return hw_runtime(err, f->path, 0, "write failed: %s", strerror(f->error));
    return 0;
}

int safe_file_publish(SafeFile* f, HwErr* err) {
    if (safe_file_flush(f, err) < 0) return -1;
    if (!f->tmp[0]) return 0;
    if (fsync(fileno(f->fp)) != 0) return hw_runtime(err, f->path, 0, "write failed: %s", strerror(errno));
    if (rename_into_place(f->tmp, f->path, err) < 0) return -1;
    f->tmp[0] = 0;
    return 0;
}

int safe_file_commit(SafeFile* f, HwErr* err) {
    if (!f->fp) return hw_runtime(err, f->path, 0, "not open for writing");
    int e = close_checked(f->fp, f->error, f->regular);
    f->fp = NULL;
    if (e) {
        if (f->tmp[0]) unlink(f->tmp);
        return hw_runtime(err, f->path, 0, "write failed: %s%s", strerror(e),
                          f->tmp[0] ? "; the previous file, if any, is unchanged" : "");
    }
    return f->tmp[0] ? rename_into_place(f->tmp, f->path, err) : 0;
}

void safe_file_abort(SafeFile* f) {
    safe_abort(f->fp, f->tmp);
    f->fp = NULL;
}

// mkstemp's six characters: letters and digits.
static int is_leftover_name(const char* name, const char* base, size_t base_len) {
    if (strncmp(name, base, base_len) != 0 || name[base_len] != '.' || strlen(name + base_len + 1) != 6) return 0;
    for (const char* p = name + base_len + 1; *p; p++)
        if (!isalnum((unsigned char)*p)) return 0;
    return 1;
}

int safe_remove_leftovers(const char* path, HwErr* err) {
    char dir_buf[SAFE_PATH_MAX], base_buf[SAFE_PATH_MAX], victim[SAFE_PATH_MAX + 8];
    if (safe_path(dir_buf, sizeof dir_buf, err, "%s", path) < 0 ||
        safe_path(base_buf, sizeof base_buf, err, "%s", path) < 0)
        return -1;
    const char* dir = dirname(dir_buf);
    const char* base = basename(base_buf);
    size_t base_len = strlen(base);
    DIR* d = opendir(dir);
    if (!d) return hw_runtime(err, dir, 0, "cannot read directory: %s", strerror(errno));
    int removed = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        if (!is_leftover_name(e->d_name, base, base_len)) continue;
        struct stat st;
        if (snprintf(victim, sizeof victim, "%s/%s", dir, e->d_name) >= (int)sizeof victim) continue;
        if (lstat(victim, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) continue;
        if (unlink(victim) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int safe_write_whole(const char* path, const void* data, size_t bytes, HwErr* err) {
    SafeFile f;
    if (safe_file_begin(&f, path, err) < 0) return -1;
    safe_file_write(&f, data, bytes);
    return safe_file_commit(&f, err);
}

// ---------------------------------------------------------------- directories and appends

static int symlinks_allowed(void) {
    const char* v = getenv(SAFE_ALLOW_SYMLINK_ENV);
    return v && !strcmp(v, "1");
}

int safe_output_dir(const char* dir, HwErr* err) {
    char buf[SAFE_PATH_MAX];
    if (safe_path(buf, sizeof buf, err, "%s", dir) < 0) return -1;
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;  // "link/" would follow the link
    if (len == 0) return hw_bad_input(err, NULL, 0, "empty output directory name");
    for (char* p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return hw_runtime(err, buf, 0, "cannot create directory: %s", strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return hw_runtime(err, buf, 0, "cannot create directory: %s", strerror(errno));
    struct stat st;
    if (lstat(buf, &st) != 0) return hw_runtime(err, buf, 0, "cannot stat: %s", strerror(errno));
    if (S_ISLNK(st.st_mode) && !symlinks_allowed())
        return hw_bad_input(err, buf, 0,
                            "output directory is a symbolic link, expected a directory (set %s=1 to write "
                            "where it points)",
                            SAFE_ALLOW_SYMLINK_ENV);
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return hw_bad_input(err, buf, 0, "exists and is not a directory, expected a directory");
    return 0;
}

int safe_open_append(const char* path, HwErr* err) {
    // O_NONBLOCK: a planted FIFO is refused below instead of blocking here.
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ELOOP)
        return hw_runtime(err, path, 0, "is a symbolic link, expected a regular file (not followed)");
    if (fd < 0) return hw_runtime(err, path, 0, "cannot open for appending: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hw_runtime(err, path, 0, "is not a regular file, expected a regular file");
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}
