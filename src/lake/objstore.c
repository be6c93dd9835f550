/* objstore.c — the backend-independent half of the object-store seam: key validation and the
 * wrappers that carry a backend handle together with its ops table, so callers hold one
 * pointer per open put or get. */
#include <string.h>

#include "lake/objstore.h"

struct fl_objstore_writer {
    fl_objstore *store;
    void *handle;
    uint64_t bytes;
};

struct fl_objstore_reader {
    fl_objstore *store;
    void *handle;
    uint64_t size;
};

int fl_objstore_key_check(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n >= FL_OBJSTORE_KEY_MAX || key[0] == '/' || key[n - 1] == '/')
        return FL_EINVAL;
    const char *p = key;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return FL_EINVAL;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == '\\')
                return FL_EINVAL;
        p += len + (slash ? 1 : 0);
    }
    return 0;
}

void fl_objstore_destroy(fl_objstore *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s->ctx);
    fl_free(s);
}

int fl_objstore_put_open(fl_objstore *s, const char *key, fl_objstore_writer **out)
{
    int rc = fl_objstore_key_check(key);
    if (rc)
        return rc;
    fl_objstore_writer *w = fl_calloc(1, sizeof *w);
    if (!w)
        return FL_ENOMEM;
    w->store = s;
    rc = s->ops->put_open(s->ctx, key, &w->handle);
    if (rc) {
        fl_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int fl_objstore_put_write(fl_objstore_writer *w, const void *p, size_t n)
{
    int rc = w->store->ops->put_write(w->store->ctx, w->handle, p, n);
    if (!rc)
        w->bytes += n;
    return rc;
}

uint64_t fl_objstore_put_bytes(const fl_objstore_writer *w)
{
    return w->bytes;
}

int fl_objstore_put_publish(fl_objstore_writer *w)
{
    int rc = w->store->ops->put_publish(w->store->ctx, w->handle);
    fl_free(w);
    return rc;
}

void fl_objstore_put_abort(fl_objstore_writer *w)
{
    if (!w)
        return;
    w->store->ops->put_abort(w->store->ctx, w->handle);
    fl_free(w);
}

int fl_objstore_put(fl_objstore *s, const char *key, const void *p, size_t n)
{
    fl_objstore_writer *w = NULL;
    int rc = fl_objstore_put_open(s, key, &w);
    if (rc)
        return rc;
    if ((rc = fl_objstore_put_write(w, p, n))) {
        fl_objstore_put_abort(w);
        return rc;
    }
    return fl_objstore_put_publish(w);
}

int fl_objstore_sink_write(void *writer, const void *p, size_t n)
{
    return fl_objstore_put_write(writer, p, n);
}

int fl_objstore_get_open(fl_objstore *s, const char *key, fl_objstore_reader **out)
{
    int rc = fl_objstore_key_check(key);
    if (rc)
        return rc;
    fl_objstore_reader *r = fl_calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    r->store = s;
    rc = s->ops->get_open(s->ctx, key, &r->handle, &r->size);
    if (rc) {
        fl_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

uint64_t fl_objstore_reader_size(const fl_objstore_reader *r)
{
    return r->size;
}

int fl_objstore_read(fl_objstore_reader *r, void *p, size_t n, uint64_t offset)
{
    if (offset > r->size || n > r->size - offset)
        return FL_ECORRUPT;
    return r->store->ops->get_read(r->store->ctx, r->handle, p, n, offset);
}

int fl_objstore_source_read(void *reader, void *p, size_t n, uint64_t offset)
{
    return fl_objstore_read(reader, p, n, offset);
}

void fl_objstore_get_close(fl_objstore_reader *r)
{
    if (!r)
        return;
    r->store->ops->get_close(r->store->ctx, r->handle);
    fl_free(r);
}

int fl_objstore_list(fl_objstore *s, const char *prefix, fl_objstore_list_fn fn, void *arg)
{
    return s->ops->list(s->ctx, prefix ? prefix : "", fn, arg);
}

int fl_objstore_delete(fl_objstore *s, const char *key)
{
    int rc = fl_objstore_key_check(key);
    return rc ? rc : s->ops->delete_object(s->ctx, key);
}

int fl_objstore_stat(fl_objstore *s, const char *key, fl_objstore_info *out)
{
    int rc = fl_objstore_key_check(key);
    return rc ? rc : s->ops->stat(s->ctx, key, out);
}

int fl_objstore_sweep_incomplete(fl_objstore *s, const char *prefix, int64_t before_us,
                                 size_t *count)
{
    if (count)
        *count = 0;
    return s->ops->sweep_incomplete(s->ctx, prefix ? prefix : "", before_us, count);
}
