/* objstore_local.c — the object store on a local directory tree (<data>/lake/), the default
 * backend of the lake.
 *
 * An object is a regular file at <root>/<key>. A put writes "<root>/<key>.tmp" (directories
 * created with fsync of each new parent), and publish does fsync(temp), close, rename(temp,
 * final), fsync(parent dir): after publish returns the object survives power loss, and a
 * reader never sees a partial object because the final name appears only through rename.
 * Any failure on the way (write, fsync, rename, dir fsync) unlinks the temp and, if rename
 * had already happened, the final name too, so a failed publish leaves nothing behind that a
 * later put could be confused with. Files ending in ".tmp" are incomplete puts: list and stat
 * never show them; sweep_incomplete removes the stale ones after a crash.
 *
 * Writes go through the fl_fs seam so fault injection reaches them; directory walks and
 * stat() are read-only and call the OS directly. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/objstore.h"

#define TMP_SUFFIX ".tmp"

struct local {
    char root[PATH_MAX];
};

struct local_put {
    int fd;
    char path[PATH_MAX];
    char tmp[PATH_MAX];
};

struct local_get {
    int fd;
};

static int full_path(const struct local *l, const char *key, const char *suffix, char *buf,
                     size_t n)
{
    int w = snprintf(buf, n, "%s/%s%s", l->root, key, suffix ? suffix : "");
    return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

static int parent_dir(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) >= n)
        return -ENAMETOOLONG;
    memcpy(buf, path, (size_t)(slash - path));
    buf[slash - path] = 0;
    return 0;
}

static int local_put_open(void *ctx, const char *key, void **handle)
{
    struct local *l = ctx;
    char dir[PATH_MAX];
    struct local_put *p = fl_calloc(1, sizeof *p);
    if (!p)
        return FL_ENOMEM;
    p->fd = -1;
    int rc = full_path(l, key, NULL, p->path, sizeof p->path);
    if (!rc)
        rc = full_path(l, key, TMP_SUFFIX, p->tmp, sizeof p->tmp);
    if (!rc)
        rc = parent_dir(p->path, dir, sizeof dir);
    if (!rc)
        rc = fl_fs_mkdir_p(dir, 0755);
    if (!rc) {
        p->fd = fl_fs->open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (p->fd < 0)
            rc = p->fd;
    }
    if (rc) {
        fl_free(p);
        return rc;
    }
    *handle = p;
    return 0;
}

static int local_put_write(void *ctx, void *handle, const void *buf, size_t n)
{
    (void)ctx;
    struct local_put *p = handle;
    return fl_fs_write_all(p->fd, buf, n);
}

static void discard(struct local_put *p)
{
    if (p->fd >= 0)
        (void)fl_fs->close(p->fd);
    (void)fl_fs->unlink(p->tmp);
    fl_free(p);
}

static int local_put_publish(void *ctx, void *handle)
{
    (void)ctx;
    struct local_put *p = handle;
    char dir[PATH_MAX];
    int rc = fl_fs->fsync(p->fd);
    int rc2 = fl_fs->close(p->fd);
    p->fd = -1;
    if (!rc)
        rc = rc2;
    if (!rc)
        rc = fl_fs->rename(p->tmp, p->path);
    if (rc) {
        discard(p);
        return rc;
    }
    rc = parent_dir(p->path, dir, sizeof dir);
    if (!rc)
        rc = fl_fs_fsync_dir(dir);
    if (rc) {
        /* The rename may or may not be durable: take the object back so the caller's "failed"
         * is true whatever the disk kept (a later retry re-publishes it). */
        (void)fl_fs->unlink(p->path);
    }
    fl_free(p);
    return rc;
}

static void local_put_abort(void *ctx, void *handle)
{
    (void)ctx;
    discard(handle);
}

static int local_get_open(void *ctx, const char *key, void **handle, uint64_t *size)
{
    struct local *l = ctx;
    char path[PATH_MAX];
    int rc = full_path(l, key, NULL, path, sizeof path);
    if (rc)
        return rc;
    int fd = fl_fs->open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd == -ENOENT ? FL_ENOTFOUND : fd;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        (void)fl_fs->close(fd);
        return FL_ENOTFOUND;
    }
    struct local_get *g = fl_calloc(1, sizeof *g);
    if (!g) {
        (void)fl_fs->close(fd);
        return FL_ENOMEM;
    }
    g->fd = fd;
    *size = (uint64_t)st.st_size;
    *handle = g;
    return 0;
}

static int local_get_read(void *ctx, void *handle, void *p, size_t n, uint64_t offset)
{
    (void)ctx;
    struct local_get *g = handle;
    ssize_t r = fl_fs_pread_full(g->fd, p, n, (off_t)offset);
    if (r < 0)
        return (int)r;
    return (size_t)r == n ? 0 : FL_ECORRUPT;
}

static void local_get_close(void *ctx, void *handle)
{
    (void)ctx;
    struct local_get *g = handle;
    (void)fl_fs->close(g->fd);
    fl_free(g);
}

static int is_tmp(const char *name)
{
    size_t n = strlen(name), s = strlen(TMP_SUFFIX);
    return n > s && strcmp(name + n - s, TMP_SUFFIX) == 0;
}

/* Walk <root>/<rel> recursively; calls visit(key, st, is_tmp) for each regular file whose key
 * starts with prefix. */
struct walk {
    const char *prefix;
    int (*visit)(struct walk *w, const char *key, const struct stat *st, int tmp);
    fl_objstore_list_fn fn;
    void *arg;
    const struct local *l;
    int64_t before_us;
    size_t count;
};

static int walk_dir(struct walk *w, char *rel, size_t rel_len)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s%s", w->l->root, rel_len ? "/" : "", rel) >=
        (int)sizeof path)
        return -ENAMETOOLONG;
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t nl = strlen(e->d_name);
        if (rel_len + 1 + nl >= FL_OBJSTORE_KEY_MAX)
            continue; /* not a key this store could have written */
        size_t len = rel_len;
        if (len)
            rel[len++] = '/';
        memcpy(rel + len, e->d_name, nl + 1);
        len += nl;
        /* Prune subtrees that cannot match the prefix. */
        size_t cmp = len < strlen(w->prefix) ? len : strlen(w->prefix);
        struct stat st;
        if (strncmp(rel, w->prefix, cmp) == 0 && fstatat(dirfd(d), e->d_name, &st, 0) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk_dir(w, rel, len);
            else if (S_ISREG(st.st_mode) && strncmp(rel, w->prefix, strlen(w->prefix)) == 0)
                rc = w->visit(w, rel, &st, is_tmp(e->d_name));
        }
        rel[rel_len] = 0;
    }
    closedir(d);
    return rc;
}

static int64_t mtime_us(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * FL_US_PER_SEC + st->st_mtim.tv_nsec / 1000;
}

static int visit_list(struct walk *w, const char *key, const struct stat *st, int tmp)
{
    if (tmp)
        return 0;
    fl_objstore_info os = {(uint64_t)st->st_size, mtime_us(st)};
    return w->fn(w->arg, key, &os);
}

static int visit_sweep(struct walk *w, const char *key, const struct stat *st, int tmp)
{
    if (!tmp || mtime_us(st) >= w->before_us)
        return 0;
    char path[PATH_MAX];
    if (full_path(w->l, key, NULL, path, sizeof path))
        return 0;
    int rc = fl_fs->unlink(path);
    if (rc && rc != -ENOENT)
        return rc;
    w->count++;
    return 0;
}

static int local_list(void *ctx, const char *prefix, fl_objstore_list_fn fn, void *arg)
{
    char rel[FL_OBJSTORE_KEY_MAX] = "";
    struct walk w = {.prefix = prefix, .visit = visit_list, .fn = fn, .arg = arg, .l = ctx};
    return walk_dir(&w, rel, 0);
}

static int local_sweep(void *ctx, const char *prefix, int64_t before_us, size_t *count)
{
    char rel[FL_OBJSTORE_KEY_MAX] = "";
    struct walk w = {.prefix = prefix, .visit = visit_sweep, .l = ctx, .before_us = before_us};
    int rc = walk_dir(&w, rel, 0);
    if (count)
        *count = w.count;
    return rc;
}

static int local_delete(void *ctx, const char *key)
{
    char path[PATH_MAX], dir[PATH_MAX];
    int rc = full_path(ctx, key, NULL, path, sizeof path);
    if (rc)
        return rc;
    rc = fl_fs->unlink(path);
    if (rc)
        return rc == -ENOENT ? FL_ENOTFOUND : rc;
    rc = parent_dir(path, dir, sizeof dir);
    return rc ? rc : fl_fs_fsync_dir(dir);
}

static int local_stat(void *ctx, const char *key, fl_objstore_info *out)
{
    char path[PATH_MAX];
    int rc = full_path(ctx, key, NULL, path, sizeof path);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st))
        return errno == ENOENT || errno == ENOTDIR ? FL_ENOTFOUND : -errno;
    if (!S_ISREG(st.st_mode))
        return FL_ENOTFOUND;
    out->size = (uint64_t)st.st_size;
    out->mtime_us = mtime_us(&st);
    return 0;
}

static void local_destroy(void *ctx)
{
    fl_free(ctx);
}

static const fl_objstore_ops local_ops = {
    .name = "local",
    .put_open = local_put_open,
    .put_write = local_put_write,
    .put_publish = local_put_publish,
    .put_abort = local_put_abort,
    .get_open = local_get_open,
    .get_read = local_get_read,
    .get_close = local_get_close,
    .list = local_list,
    .delete_object = local_delete,
    .stat = local_stat,
    .sweep_incomplete = local_sweep,
    .destroy = local_destroy,
};

int fl_objstore_local_create(const char *root, fl_objstore **out)
{
    size_t n = root ? strlen(root) : 0;
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 0 || n >= PATH_MAX - FL_OBJSTORE_KEY_MAX - 8)
        return FL_EINVAL;
    struct local *l = fl_calloc(1, sizeof *l);
    fl_objstore *s = fl_calloc(1, sizeof *s);
    if (!l || !s) {
        fl_free(l);
        fl_free(s);
        return FL_ENOMEM;
    }
    memcpy(l->root, root, n);
    l->root[n] = 0;
    int rc = fl_fs_mkdir_p(l->root, 0755);
    if (rc) {
        fl_free(l);
        fl_free(s);
        return rc;
    }
    s->ops = &local_ops;
    s->ctx = l;
    *out = s;
    return 0;
}
