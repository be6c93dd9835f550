/* objstore.h — the lake's object-store seam (the S3 role), included through lake/lake.h.
 *
 * Every lake write and read goes through a `const struct fl_objstore_ops` table with an opaque
 * context, so the local directory tree of today and S3-compatible storage later (libcurl,
 * SigV4) sit behind the same calls with the same keys. Keys are '/'-separated relative paths
 * such as "raw-data/year=2026/month=1/day=5/hour=1/part-0-1-500.parquet" (DESIGN.md §4.3);
 * no leading '/', no empty, "." or ".." components.
 *
 * Semantics every backend provides:
 *   put      streaming: open a writer for a key, write chunks, then publish. Publish is atomic:
 *            readers (get, list, stat) see either no object or the whole object, never a part.
 *            Local: temp file "<key>.tmp" + fsync + rename + fsync dir. S3: multipart upload
 *            completed in one call. Abort discards everything written; so does a failed
 *            publish. Publishing over an existing key replaces it atomically.
 *   get      ranged reads (pread-like) plus the object's size; fl_objstore_source_read fits
 *            the Parquet reader's fl_pq_source_read_fn.
 *   list     every published object under a prefix, recursively (order unspecified).
 *   delete   remove one object (FL_ENOTFOUND if absent).
 *   stat     size and modification time (FL_ENOTFOUND if absent).
 *   sweep    discard incomplete puts under a prefix that were started before a time (crash
 *            leftovers; S3: abort multipart uploads initiated before it).
 * All calls return 0 or a negative FL_E* / -errno and never log. Objects are thread-safe to
 * use from many threads; one writer or reader handle belongs to one thread at a time. */
#ifndef FL_LAKE_OBJSTORE_H
#define FL_LAKE_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Longest key: DESIGN.md's layout needs < 200 bytes; 1024 is S3's limit. */
#define FL_OBJSTORE_KEY_MAX 1024

typedef struct fl_objstore_info {
    uint64_t size;
    int64_t mtime_us; /* last modification, µs since the epoch */
} fl_objstore_info;

/* Called by list for each object; return 0 to continue, anything else stops the listing and
 * is returned by list. key is valid only during the call. */
typedef int (*fl_objstore_list_fn)(void *arg, const char *key, const fl_objstore_info *st);

typedef struct fl_objstore_ops {
    const char *name; /* "local", later "s3" */
    /* put: *handle receives the backend's writer state. */
    int (*put_open)(void *ctx, const char *key, void **handle);
    int (*put_write)(void *ctx, void *handle, const void *p, size_t n);
    /* Make the object visible atomically and durably; consumes handle (even on failure, when
     * nothing is visible and everything written is discarded). */
    int (*put_publish)(void *ctx, void *handle);
    /* Discard an open put; consumes handle. */
    void (*put_abort)(void *ctx, void *handle);
    int (*get_open)(void *ctx, const char *key, void **handle, uint64_t *size);
    /* Read exactly n bytes at offset: 0, or FL_ECORRUPT if the object is shorter. */
    int (*get_read)(void *ctx, void *handle, void *p, size_t n, uint64_t offset);
    void (*get_close)(void *ctx, void *handle);
    int (*list)(void *ctx, const char *prefix, fl_objstore_list_fn fn, void *arg);
    int (*delete_object)(void *ctx, const char *key);
    int (*stat)(void *ctx, const char *key, fl_objstore_info *out);
    /* Discard incomplete puts under prefix started before before_us; *count (may be NULL)
     * receives how many were discarded. */
    int (*sweep_incomplete)(void *ctx, const char *prefix, int64_t before_us, size_t *count);
    void (*destroy)(void *ctx);
} fl_objstore_ops;

/* An object store: an ops table and its context. */
typedef struct fl_objstore {
    const fl_objstore_ops *ops;
    void *ctx;
} fl_objstore;

typedef struct fl_objstore_writer fl_objstore_writer;
typedef struct fl_objstore_reader fl_objstore_reader;

/* The local filesystem backend rooted at root (e.g. "<data>/lake"; created if missing). All
 * writes go through the fl_fs seam, so fault injection (fl_fs_fault_add, FLEETLAKE_FAULTS)
 * reaches them. *out is owned by the caller (fl_objstore_destroy). */
FL_MUST_USE int fl_objstore_local_create(const char *root, fl_objstore **out);
/* Destroy any backend. Accepts NULL. */
void fl_objstore_destroy(fl_objstore *s);

/* FL_EINVAL unless key is a valid object key (see above). */
FL_MUST_USE int fl_objstore_key_check(const char *key);

/* ---- convenience wrappers over the ops table ------------------------------------------------ */

/* Start a put of key; *out is owned by the caller until publish or abort. */
FL_MUST_USE int fl_objstore_put_open(fl_objstore *s, const char *key, fl_objstore_writer **out);
FL_MUST_USE int fl_objstore_put_write(fl_objstore_writer *w, const void *p, size_t n);
/* Bytes written so far to w. */
uint64_t fl_objstore_put_bytes(const fl_objstore_writer *w);
/* Publish atomically; frees w whatever the result (on failure nothing is visible). */
FL_MUST_USE int fl_objstore_put_publish(fl_objstore_writer *w);
/* Discard; frees w. Accepts NULL. */
void fl_objstore_put_abort(fl_objstore_writer *w);
/* Whole-object put from memory. */
FL_MUST_USE int fl_objstore_put(fl_objstore *s, const char *key, const void *p, size_t n);
/* Sink callback for writers that stream (fl_pq_sink_write_fn): ctx is an fl_objstore_writer. */
int fl_objstore_sink_write(void *writer, const void *p, size_t n);

FL_MUST_USE int fl_objstore_get_open(fl_objstore *s, const char *key, fl_objstore_reader **out);
uint64_t fl_objstore_reader_size(const fl_objstore_reader *r);
FL_MUST_USE int fl_objstore_read(fl_objstore_reader *r, void *p, size_t n, uint64_t offset);
/* Source callback for the Parquet reader (fl_pq_source_read_fn): ctx is an fl_objstore_reader. */
int fl_objstore_source_read(void *reader, void *p, size_t n, uint64_t offset);
void fl_objstore_get_close(fl_objstore_reader *r);

FL_MUST_USE int fl_objstore_list(fl_objstore *s, const char *prefix, fl_objstore_list_fn fn,
                                 void *arg);
FL_MUST_USE int fl_objstore_delete(fl_objstore *s, const char *key);
FL_MUST_USE int fl_objstore_stat(fl_objstore *s, const char *key, fl_objstore_info *out);
FL_MUST_USE int fl_objstore_sweep_incomplete(fl_objstore *s, const char *prefix, int64_t before_us,
                                             size_t *count);

#endif
