/* fs.c — POSIX file operations behind the fl_fs seam, with a fault injector for tests. */
#include "core/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

/* ---- fault injector ---------------------------------------------------------------------- */

#define MAX_FAULTS 16
#define MAX_TRACKED_FDS 65536 /* fds above this are never matched by path (still by "any") */

struct fault {
    enum fl_fs_op op;
    int err;
    long after;
    long count;
    char path[128];
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[MAX_FAULTS];
static int fault_count; /* read without the lock as a fast "no faults" check */
static char *fd_paths[MAX_TRACKED_FDS];

static int fault_hit(enum fl_fs_op op, const char *path)
{
    if (__atomic_load_n(&fault_count, __ATOMIC_RELAXED) == 0)
        return 0;
    int err = 0;
    pthread_mutex_lock(&fault_lock);
    for (int i = 0; i < fault_count && !err; i++) {
        struct fault *f = &faults[i];
        if (f->op != op || f->count == 0)
            continue;
        if (f->path[0] && (!path || !strstr(path, f->path)))
            continue;
        if (f->after > 0) {
            f->after--;
            continue;
        }
        if (f->count > 0)
            f->count--;
        err = f->err;
    }
    pthread_mutex_unlock(&fault_lock);
    return err;
}

static const char *fd_path(int fd)
{
    return fd >= 0 && fd < MAX_TRACKED_FDS ? fd_paths[fd] : NULL;
}

void fl_fs_fault_add(enum fl_fs_op op, int err, long after, long count, const char *path_substr)
{
    pthread_mutex_lock(&fault_lock);
    if (fault_count < MAX_FAULTS) {
        struct fault *f = &faults[fault_count];
        f->op = op;
        f->err = err;
        f->after = after;
        f->count = count;
        snprintf(f->path, sizeof f->path, "%s", path_substr ? path_substr : "");
        __atomic_store_n(&fault_count, fault_count + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&fault_lock);
}

void fl_fs_fault_clear(void)
{
    pthread_mutex_lock(&fault_lock);
    __atomic_store_n(&fault_count, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&fault_lock);
}

static int parse_errno(const char *s)
{
    static const struct {
        const char *name;
        int err;
    } names[] = {{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].err;
    return 0;
}

static int parse_op(const char *s, enum fl_fs_op *op)
{
    static const char *ops[] = {"open", "write", "fsync", "rename", "truncate"};
    for (int i = 0; i < FL_FS_OP_COUNT; i++)
        if (strcmp(s, ops[i]) == 0) {
            *op = (enum fl_fs_op)i;
            return 0;
        }
    return -1;
}

static int parse_rule(char *rule)
{
    char *save = NULL;
    char *op_s = strtok_r(rule, ":", &save);
    char *err_s = strtok_r(NULL, ":", &save);
    enum fl_fs_op op;
    if (!op_s || !err_s || parse_op(op_s, &op))
        return FL_EPARSE;
    int err = parse_errno(err_s);
    if (!err)
        return FL_EPARSE;
    long after = 0, count = -1;
    const char *path = NULL;
    for (char *kv; (kv = strtok_r(NULL, ":", &save));) {
        if (strncmp(kv, "after=", 6) == 0)
            after = strtol(kv + 6, NULL, 10);
        else if (strncmp(kv, "count=", 6) == 0)
            count = strtol(kv + 6, NULL, 10);
        else if (strncmp(kv, "path=", 5) == 0)
            path = kv + 5;
        else
            return FL_EPARSE;
    }
    fl_fs_fault_add(op, err, after, count, path);
    return 0;
}

int fl_fs_fault_parse(const char *spec)
{
    char *copy = fl_strdup(spec);
    if (!copy)
        return FL_ENOMEM;
    int n = 0, rc = 0;
    char *save = NULL;
    for (char *r = strtok_r(copy, ";", &save); r; r = strtok_r(NULL, ";", &save)) {
        if ((rc = parse_rule(r)))
            break;
        n++;
    }
    fl_free(copy);
    return rc ? rc : n;
}

/* ---- POSIX implementation ---------------------------------------------------------------- */

static int posix_open(const char *path, int flags, int mode)
{
    int err = fault_hit(FL_FS_OPEN, path);
    if (err)
        return -err;
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    if (fd < MAX_TRACKED_FDS && __atomic_load_n(&fault_count, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&fault_lock);
        free(fd_paths[fd]);
        fd_paths[fd] = strdup(path);
        pthread_mutex_unlock(&fault_lock);
    }
    return fd;
}

static int posix_close(int fd)
{
    if (fd >= 0 && fd < MAX_TRACKED_FDS && fd_paths[fd]) {
        pthread_mutex_lock(&fault_lock);
        free(fd_paths[fd]);
        fd_paths[fd] = NULL;
        pthread_mutex_unlock(&fault_lock);
    }
    return close(fd) ? -errno : 0;
}

static ssize_t posix_write(int fd, const void *p, size_t n)
{
    int err = fault_hit(FL_FS_WRITE, fd_path(fd));
    if (err)
        return -err;
    ssize_t r = write(fd, p, n);
    return r < 0 ? -errno : r;
}

static ssize_t posix_pwrite(int fd, const void *p, size_t n, off_t off)
{
    int err = fault_hit(FL_FS_WRITE, fd_path(fd));
    if (err)
        return -err;
    ssize_t r = pwrite(fd, p, n, off);
    return r < 0 ? -errno : r;
}

static ssize_t posix_pread(int fd, void *p, size_t n, off_t off)
{
    ssize_t r = pread(fd, p, n, off);
    return r < 0 ? -errno : r;
}

static int posix_fsync(int fd)
{
    int err = fault_hit(FL_FS_FSYNC, fd_path(fd));
    if (err)
        return -err;
    return fsync(fd) ? -errno : 0;
}

static int posix_fdatasync(int fd)
{
    int err = fault_hit(FL_FS_FSYNC, fd_path(fd));
    if (err)
        return -err;
    return fdatasync(fd) ? -errno : 0;
}

static int posix_ftruncate(int fd, off_t len)
{
    int err = fault_hit(FL_FS_TRUNCATE, fd_path(fd));
    if (err)
        return -err;
    return ftruncate(fd, len) ? -errno : 0;
}

static int posix_rename(const char *from, const char *to)
{
    int err = fault_hit(FL_FS_RENAME, to);
    if (err)
        return -err;
    return rename(from, to) ? -errno : 0;
}

static int posix_unlink(const char *path)
{
    return unlink(path) ? -errno : 0;
}

static int posix_mkdir(const char *path, int mode)
{
    return mkdir(path, (mode_t)mode) ? -errno : 0;
}

static const fl_fs_ops posix_ops = {
    .open = posix_open,
    .close = posix_close,
    .write = posix_write,
    .pwrite = posix_pwrite,
    .pread = posix_pread,
    .fsync = posix_fsync,
    .fdatasync = posix_fdatasync,
    .ftruncate = posix_ftruncate,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
};

const fl_fs_ops *fl_fs = &posix_ops;

/* ---- helpers ----------------------------------------------------------------------------- */

int fl_fs_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = fl_fs->write(fd, s, n);
        if (w == -EINTR)
            continue;
        if (w < 0)
            return (int)w;
        if (w == 0)
            return -EIO;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int fl_fs_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const char *s = p;
    while (n) {
        ssize_t w = fl_fs->pwrite(fd, s, n, off);
        if (w == -EINTR)
            continue;
        if (w < 0)
            return (int)w;
        if (w == 0)
            return -EIO;
        s += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

ssize_t fl_fs_pread_full(int fd, void *p, size_t n, off_t off)
{
    char *s = p;
    size_t done = 0;
    while (done < n) {
        ssize_t r = fl_fs->pread(fd, s + done, n - done, off + (off_t)done);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int fl_fs_fsync_dir(const char *path)
{
    int fd = fl_fs->open(path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    int rc = fl_fs->fsync(fd);
    int rc2 = fl_fs->close(fd);
    return rc ? rc : rc2;
}

int fl_fs_mkdir_p(const char *path, int mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char saved = buf[i];
        buf[i] = 0;
        int rc = fl_fs->mkdir(buf, mode);
        if (rc == 0) {
            char parent[PATH_MAX];
            memcpy(parent, buf, i + 1);
            rc = fl_fs_fsync_dir(dirname(parent));
            if (rc)
                return rc;
        } else if (rc != -EEXIST) {
            return rc;
        }
        buf[i] = saved;
    }
    return 0;
}

int fl_fs_write_file_atomic(const char *path, const void *p, size_t n)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = fl_fs->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fd;
    int rc = fl_fs_write_all(fd, p, n);
    if (!rc)
        rc = fl_fs->fsync(fd);
    int rc2 = fl_fs->close(fd);
    if (!rc)
        rc = rc2;
    if (!rc)
        rc = fl_fs->rename(tmp, path);
    if (rc) {
        (void)fl_fs->unlink(tmp);
        return rc;
    }
    snprintf(dir, sizeof dir, "%s", path);
    return fl_fs_fsync_dir(dirname(dir));
}
