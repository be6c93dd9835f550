/* fs.h — the file-operations seam.
 *
 * Every file operation on durable data (stream segments, dead letters, lake files, meta.db's
 * directory) goes through fl_fs, a table of callbacks that return 0/bytes or -errno (never
 * set errno for the caller to read). Tests and fault campaigns swap or wrap it:
 * fl_fs_fault_add() makes the Nth matching call fail with a chosen errno, and the variable
 * FLEETLAKE_FAULTS lets a test inject the same faults into a running `fleetlake serve`
 * (format below). Production code never sets faults. */
#ifndef FL_CORE_FS_H
#define FL_CORE_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

typedef struct fl_fs_ops {
    int (*open)(const char *path, int flags, int mode); /* fd or -errno */
    int (*close)(int fd);
    ssize_t (*write)(int fd, const void *p, size_t n);
    ssize_t (*pwrite)(int fd, const void *p, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *p, size_t n, off_t off);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, int mode);
} fl_fs_ops;

/* The active table; defaults to the POSIX implementation wrapped by the fault injector. */
extern const fl_fs_ops *fl_fs;

/* Operations that can be made to fail. */
enum fl_fs_op { FL_FS_OPEN, FL_FS_WRITE, FL_FS_FSYNC, FL_FS_RENAME, FL_FS_TRUNCATE, FL_FS_OP_COUNT };

/* After `after` further successful calls of op on paths containing path_substr (NULL or ""
 * for any; for write/fsync the path the fd was opened with), make `count` calls fail with
 * -err (count < 0: forever). Thread-safe. */
void fl_fs_fault_add(enum fl_fs_op op, int err, long after, long count, const char *path_substr);
void fl_fs_fault_clear(void);
/* Parse FLEETLAKE_FAULTS: ";"-separated rules "op:ERRNO[:after=N][:count=N][:path=SUBSTR]",
 * op in open|write|fsync|rename|truncate, ERRNO in EIO|ENOSPC|EDQUOT|EROFS. Returns number of
 * rules installed or FL_EPARSE. */
FL_MUST_USE int fl_fs_fault_parse(const char *spec);

/* Helpers on top of fl_fs. All return 0 or -errno. */
FL_MUST_USE int fl_fs_write_all(int fd, const void *p, size_t n);
FL_MUST_USE int fl_fs_pwrite_all(int fd, const void *p, size_t n, off_t off);
/* Reads exactly n bytes unless EOF: returns bytes read (< n at EOF) or -errno. */
FL_MUST_USE ssize_t fl_fs_pread_full(int fd, void *p, size_t n, off_t off);
/* fsync the directory at path (after create, rename or unlink inside it). */
FL_MUST_USE int fl_fs_fsync_dir(const char *path);
/* mkdir -p; fsyncs each parent it creates. */
FL_MUST_USE int fl_fs_mkdir_p(const char *path, int mode);
/* Write a whole file atomically: temp file, fsync, rename, fsync dir. */
FL_MUST_USE int fl_fs_write_file_atomic(const char *path, const void *p, size_t n);

#endif
