/* lifecycle_apply.c — applying the lifecycle plan (lifecycle.c decides, this file moves):
 * hot files to the warm directory, hot or warm files rewritten with ZSTD into archived-data/,
 * expired files out of the catalog and off the disk. `fleetlake lifecycle` (src/cli) and
 * serve's lifecycle thread (lifecycle_run.c) run one pass under the compaction lock.
 *
 * NOTES ON THE DESIGN OF APPLYING THE LIFECYCLE
 *
 * Layout. warm: <lifecycle.warm_dir>/<same key>, catalog row unchanged but tier 'warm' and
 * location = the warm directory (absolute). cold: <data>/lake/archived-data/<hot key>, a new
 * catalog row (tier 'cold', location NULL, no shard or sequence range — like compaction's
 * outputs, delivery's high-water marks stay with the retired original, C3 of compact.c), the
 * original retired. expired: no row. Readers find a file through its row's location
 * (locate.c), so queries see every tier.
 *
 * Invariants.
 *  LA1 Copy before commit: the new object (warm copy, cold rewrite) is published — fsynced,
 *      renamed, directory fsynced — and verified (bytes, Parquet footer row count) BEFORE the
 *      one catalog transaction of the move. Readers see the file in its old place or its new
 *      one, never neither, never both (a cold move retires the original in the same
 *      transaction that inserts the rewrite).
 *  LA2 Nothing is deleted before the commit that stops it being part of the lake, and that
 *      transaction also schedules its deletion (lake_deletes, delete_after = now + grace on
 *      the real clock): a crash after the commit leaves the row there and the next pass
 *      deletes it. The grace lets a query that listed the file before the move still read it.
 *  LA3 Only the lifecycle and erasure (both under compact.lock) write to the warm directory
 *      and archived-data/, so at the start of a pass an object there with no catalog row at
 *      that location (and no scheduled deletion) is the leftover of a move that crashed before
 *      its commit: it is removed, as are stale incomplete puts. Only keys under the lake's
 *      table prefixes are considered: the warm directory should be dedicated, but nothing
 *      else in it is ever touched.
 *  LA4 One move, one transaction; a move that fails (a read error, a full warm volume) is
 *      logged, counted, cleaned up (its new object deleted) and left for the next pass. Every
 *      move is idempotent: a move planned again after a crash redoes the copy (publishing
 *      over a leftover replaces it atomically).
 *
 * A crash at each step of a warm move: 1 copy (incomplete put: swept, LA3) 2 publish (orphan
 * in the warm dir: swept, LA3; the file is still hot and planned again) 3 commit (durable:
 * warm; not: as 2) 4 delete the hot copy after the grace (crash: lake_deletes keeps it, LA2).
 * Cold moves are the same with archived-data/ for the warm directory; expiry is 3-4 only. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake/lake_int.h"

#define MODULE "lifecycle"

/* Copy buffer of a warm move: large enough that a 128 MiB file is ~128 reads, small next to
 * any server's memory. */
#define COPY_CHUNK_BYTES (1u << 20)
/* Row groups of cold rewrites, as compaction's outputs (engines split work by row group). */
#define COLD_ROW_GROUP_BYTES (64u << 20)
/* Planned moves held at once (each a catalog row, ~2 KiB): a pass over a large lake that was
 * never tiered (lifecycle enabled late) plans and applies in batches of this many, so its
 * memory stays around 8 MiB whatever the lake holds. */
#define MOVES_PER_BATCH 4096
/* fl_lifecycle_plan callback's "batch full" (positive: never an FL_E* code). */
#define BATCH_FULL 1
/* zstd level of cold files: 9 compresses noticeably better than the default 3 on telemetry
 * and is still fast enough for a daily job that rewrites one day's partitions. */
#define COLD_ZSTD_LEVEL 9

typedef struct lc_move {
    fl_lake_file f;
    enum fl_lifecycle_tier from, to;
    int64_t age_days;
} lc_move;

typedef struct lc_run {
    const fl_lifecycle_options *o;
    fl_catalog *cat;
    fl_lake_stores *stores;
    fl_objstore *warm;
    fl_lifecycle_stats *st;
    lc_move *v;
    size_t n, cap;
} lc_run;

static int stopping(const lc_run *r)
{
    return r->o->stop && atomic_load(r->o->stop);
}

/* ---- scheduled deletions (LA2) --------------------------------------------------------------- */

static int on_due(void *arg, const fl_catalog_delete *d)
{
    fl_buf *b = arg;
    int rc = fl_buf_append(b, d->path, strlen(d->path) + 1);
    return rc ? rc : fl_buf_append(b, d->location, strlen(d->location) + 1);
}

/* Delete one scheduled object unless a live row still has that key at that location (a key
 * reused after scheduling: never delete what the lake holds). */
static int delete_one(lc_run *r, const char *path, const char *location)
{
    fl_lake_file *f = fl_malloc(sizeof *f);
    fl_objstore *store = NULL;
    if (!f)
        return FL_ENOMEM;
    int rc = fl_catalog_file_get(r->cat, path, f);
    int in_use = !rc && strcmp(f->state, FL_CATALOG_STATE_LIVE) == 0 &&
                 strcmp(f->location, location) == 0;
    rc = rc == FL_ENOTFOUND ? 0 : rc;
    if (!rc && !in_use && !(rc = fl_lake_stores_get(r->stores, location, &store))) {
        rc = fl_objstore_delete(store, path);
        if (!rc) {
            r->st->deleted++;
            FL_INFO(MODULE, "deleted %s%s%s (scheduled)", location, *location ? "/" : "", path);
        }
        rc = rc == FL_ENOTFOUND ? 0 : rc;
    }
    if (!rc)
        rc = fl_catalog_delete_done(r->cat, path, location);
    fl_free(f);
    return rc;
}

/* Carry out the due deletions. One that fails is logged and left for the next pass (it must
 * not hold up the moves); a catalog error or the stop flag ends the loop. */
static int run_due_deletes(lc_run *r)
{
    fl_buf due = {0};
    int rc = fl_catalog_deletes_query(r->cat, fl_time_now_us(), on_due, &due);
    for (size_t off = 0; !rc && off < due.len;) {
        const char *path = due.data + off;
        const char *location = path + strlen(path) + 1;
        off = (size_t)(location - due.data) + strlen(location) + 1;
        if (stopping(r)) {
            rc = FL_ESTOPPED;
            break;
        }
        int d = delete_one(r, path, location);
        if (d == FL_ESQLITE || d == FL_ENOMEM)
            rc = d;
        if (d)
            FL_ERROR(MODULE, "cannot delete %s%s%s: %s (retried at the next pass)", location,
                     *location ? "/" : "", path, fl_strerror(d));
    }
    fl_buf_free(&due);
    return rc;
}

/* ---- leftovers of crashed moves (LA3) -------------------------------------------------------- */

struct orphan_scan {
    lc_run *r;
    const char *location; /* "" for archived-data/ in the main lake */
    fl_buf keys;
    char **scheduled; /* sorted "<location>|<key>" of every scheduled deletion */
    size_t scheduled_count;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int on_scheduled(void *arg, const fl_catalog_delete *d)
{
    fl_buf *b = arg;
    int rc = fl_buf_append(b, d->location, strlen(d->location));
    rc = rc ? rc : fl_buf_append(b, "|", 1);
    return rc ? rc : fl_buf_append(b, d->path, strlen(d->path) + 1);
}

/* The scheduled deletions as a sorted array of pointers into *buf (caller frees both). */
static int load_scheduled(lc_run *r, fl_buf *buf, char ***out, size_t *count)
{
    int rc = fl_catalog_deletes_query(r->cat, INT64_MAX, on_scheduled, buf);
    size_t n = 0;
    for (size_t off = 0; !rc && off < buf->len; off += strlen(buf->data + off) + 1)
        n++;
    *out = NULL;
    *count = 0;
    if (rc || !n)
        return rc;
    char **v = fl_calloc(n, sizeof *v);
    if (!v)
        return FL_ENOMEM;
    size_t i = 0;
    for (size_t off = 0; off < buf->len; off += strlen(buf->data + off) + 1)
        v[i++] = buf->data + off;
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *count = n;
    return 0;
}

static int is_scheduled(const struct orphan_scan *s, const char *key)
{
    char lk[2 * FL_CATALOG_PATH_MAX + 2];
    const char *k = lk;
    if (!s->scheduled_count ||
        snprintf(lk, sizeof lk, "%s|%s", s->location, key) >= (int)sizeof lk)
        return 0;
    return bsearch(&k, s->scheduled, s->scheduled_count, sizeof *s->scheduled, cmp_str) != NULL;
}

static int on_object(void *arg, const char *key, const fl_objstore_info *info)
{
    struct orphan_scan *s = arg;
    (void)info;
    size_t n = strlen(key);
    if (n < 8 || strcmp(key + n - 8, ".parquet") != 0)
        return 0;
    fl_lake_file *f = fl_malloc(sizeof *f);
    if (!f)
        return FL_ENOMEM;
    int rc = fl_catalog_file_get(s->r->cat, key, f);
    int catalogued = !rc && strcmp(f->location, s->location) == 0;
    fl_free(f);
    if (rc && rc != FL_ENOTFOUND)
        return rc;
    if (catalogued || is_scheduled(s, key))
        return 0; /* part of the lake, or deleted when its grace has passed */
    return fl_buf_append(&s->keys, key, n + 1);
}

/* Remove uncatalogued objects and stale puts under prefix of store. Objects with a scheduled
 * deletion are left to it (it logs them). */
static int sweep_prefix(lc_run *r, fl_objstore *store, const char *location, const char *prefix,
                        char **scheduled, size_t scheduled_count)
{
    struct orphan_scan s = {r, location, {0}, scheduled, scheduled_count};
    size_t stale = 0;
    int rc = fl_objstore_sweep_incomplete(store, prefix, fl_time_now_us(), &stale);
    if (!rc)
        rc = fl_objstore_list(store, prefix, on_object, &s);
    for (size_t off = 0; !rc && off < s.keys.len; off += strlen(s.keys.data + off) + 1) {
        const char *key = s.keys.data + off;
        rc = fl_objstore_delete(store, key);
        if (rc == FL_ENOTFOUND)
            rc = 0;
        else if (!rc) {
            r->st->orphans++;
            FL_WARN(MODULE, "removed %s%s%s: left by a lifecycle move or erasure that crashed "
                            "before its catalog commit (never part of the lake)",
                    location, *location ? "/" : "", key);
        }
    }
    if (!rc && stale)
        FL_INFO(MODULE, "discarded %zu incomplete put(s) under %s%s%s left by a crash", stale,
                location, *location ? "/" : "", prefix);
    fl_buf_free(&s.keys);
    return rc;
}

static int sweep_orphans(lc_run *r)
{
    fl_buf buf = {0};
    char **sched = NULL;
    size_t n = 0;
    int rc = load_scheduled(r, &buf, &sched, &n);
    if (!rc)
        rc = sweep_prefix(r, fl_lake_stores_main(r->stores), "", FL_LAKE_ARCHIVE_PREFIX, sched, n);
    for (size_t i = 0; !rc && i < fl_lake_table_count(); i++)
        rc = sweep_prefix(r, r->warm, r->o->warm_dir, fl_lake_table_at(i)->prefix, sched, n);
    fl_free(sched);
    fl_buf_free(&buf);
    return rc;
}

/* ---- hot -> warm ----------------------------------------------------------------------------- */

/* Open the Parquet footer of key in store and compare its row count with rows. */
static int verify_rows(fl_objstore *store, const char *key, int64_t rows)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *pr = NULL;
    int rc = fl_objstore_get_open(store, key, &src);
    if (!rc)
        rc = fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src), NULL,
                               &pr);
    if (!rc && fl_pq_reader_rows(pr) != rows)
        rc = FL_ECORRUPT;
    fl_pq_reader_destroy(pr);
    fl_objstore_get_close(src);
    return rc;
}

/* Copy f's object from its store to key in dst, byte for byte; FL_ECORRUPT when its size is
 * not the catalog's. */
static int copy_object(lc_run *r, const fl_lake_file *f, fl_objstore *dst, const char *key)
{
    fl_objstore *src_store = NULL;
    fl_objstore_reader *src = NULL;
    fl_objstore_writer *w = NULL;
    char *buf = fl_malloc(COPY_CHUNK_BYTES);
    int rc = buf ? fl_lake_file_store(r->stores, f, &src_store) : FL_ENOMEM;
    if (!rc)
        rc = fl_objstore_get_open(src_store, f->path, &src);
    if (!rc && fl_objstore_reader_size(src) != (uint64_t)f->bytes)
        rc = FL_ECORRUPT;
    if (!rc)
        rc = fl_objstore_put_open(dst, key, &w);
    uint64_t size = src ? fl_objstore_reader_size(src) : 0;
    for (uint64_t off = 0; !rc && off < size; off += COPY_CHUNK_BYTES) {
        size_t n = size - off < COPY_CHUNK_BYTES ? (size_t)(size - off) : COPY_CHUNK_BYTES;
        rc = fl_objstore_read(src, buf, n, off);
        if (!rc)
            rc = fl_objstore_put_write(w, buf, n);
    }
    if (w) {
        if (rc)
            fl_objstore_put_abort(w);
        else
            rc = fl_objstore_put_publish(w); /* LA1: durable before the commit */
    }
    fl_objstore_get_close(src);
    fl_free(buf);
    return rc;
}

struct warm_txn {
    lc_run *r;
    const fl_lake_file *f;
};

static int warm_commit(fl_catalog *cat, void *arg)
{
    struct warm_txn *t = arg;
    int rc = fl_catalog_file_move(cat, t->f->path, "warm", t->r->o->warm_dir);
    if (!rc)
        rc = fl_catalog_delete_schedule(cat, t->f->path, t->f->location,
                                        fl_time_now_us() + t->r->o->grace_us, "moved to warm");
    return rc;
}

static int move_warm(lc_run *r, const lc_move *m)
{
    const fl_lake_file *f = &m->f;
    if (strcmp(f->location, r->o->warm_dir) == 0)
        return FL_EINVAL; /* already there: a hot row pointing at the warm dir is corrupt */
    int rc = copy_object(r, f, r->warm, f->path);
    if (!rc)
        rc = verify_rows(r->warm, f->path, f->rows);
    if (!rc) {
        struct warm_txn t = {r, f};
        rc = fl_catalog_transaction(r->cat, warm_commit, &t);
    }
    if (rc) { /* LA4: the copy must not outlive the failure (a leftover is swept anyway) */
        int d = fl_objstore_delete(r->warm, f->path);
        if (d && d != FL_ENOTFOUND)
            FL_ERROR(MODULE, "cannot delete the uncommitted warm copy of %s: %s (removed at "
                             "the next pass)", f->path, fl_strerror(d));
    }
    return rc;
}

/* ---- -> cold --------------------------------------------------------------------------------- */

/* Rewrite every row group of pr into w with ZSTD: same columns, rows and key-value metadata. */
static int rewrite_zstd(fl_pq_reader *pr, fl_objstore_writer *w, int64_t *rows_out)
{
    size_t ncols = fl_pq_reader_column_count(pr), nkv = fl_pq_reader_kv_count(pr);
    fl_pq_column_def *defs = fl_calloc(ncols ? ncols : 1, sizeof *defs);
    fl_pq_column_values *cv = fl_calloc(ncols ? ncols : 1, sizeof *cv);
    fl_pq_kv *kv = fl_calloc(nkv ? nkv : 1, sizeof *kv);
    fl_pq_writer *pw = NULL;
    fl_pq_file_summary sum = {0};
    int rc = defs && cv && kv ? 0 : FL_ENOMEM;
    for (size_t i = 0; !rc && i < ncols; i++)
        defs[i] = *fl_pq_reader_column(pr, i);
    for (size_t i = 0; !rc && i < nkv; i++)
        kv[i] = *fl_pq_reader_kv_at(pr, i);
    fl_pq_writer_options opts = {.codec = FL_PQ_ZSTD,
                                 .compression_level = COLD_ZSTD_LEVEL,
                                 .row_group_bytes = COLD_ROW_GROUP_BYTES,
                                 .kv = kv,
                                 .kv_count = nkv};
    if (!rc)
        rc = fl_pq_writer_create(defs, ncols, &opts, fl_objstore_sink_write, w, &pw);
    for (int g = 0; !rc && g < fl_pq_reader_row_group_count(pr); g++) {
        for (size_t i = 0; !rc && i < ncols; i++)
            rc = fl_pq_reader_read_column(pr, g, i, &cv[i]);
        if (!rc)
            rc = fl_pq_writer_write(pw, cv, (size_t)fl_pq_reader_row_group_rows(pr, g));
    }
    if (!rc)
        rc = fl_pq_writer_finish(pw, &sum);
    *rows_out = sum.rows;
    fl_pq_writer_destroy(pw);
    fl_free(kv);
    fl_free(cv);
    fl_free(defs);
    return rc;
}

/* Write the ZSTD copy of f to out->path in the main lake; out->bytes receives its size. */
static int write_cold(lc_run *r, const fl_lake_file *f, fl_lake_file *out)
{
    fl_objstore *src_store = NULL, *main = fl_lake_stores_main(r->stores);
    fl_objstore_reader *src = NULL;
    fl_pq_reader *pr = NULL;
    fl_objstore_writer *w = NULL;
    int64_t rows = -1;
    int rc = fl_lake_file_store(r->stores, f, &src_store);
    if (!rc)
        rc = fl_objstore_get_open(src_store, f->path, &src);
    if (!rc)
        rc = fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src), NULL,
                               &pr);
    if (!rc && fl_pq_reader_rows(pr) != f->rows)
        rc = FL_ECORRUPT; /* the footer disagrees with the catalog */
    if (!rc)
        rc = fl_objstore_put_open(main, out->path, &w);
    if (!rc && (rc = rewrite_zstd(pr, w, &rows)) == 0 && rows != f->rows)
        rc = FL_ECORRUPT;
    if (w && rc)
        fl_objstore_put_abort(w);
    else if (w) {
        out->bytes = (int64_t)fl_objstore_put_bytes(w);
        rc = fl_objstore_put_publish(w);
    }
    fl_pq_reader_destroy(pr);
    fl_objstore_get_close(src);
    return rc;
}

struct cold_txn {
    lc_run *r;
    const fl_lake_file *f, *out;
};

static int cold_commit(fl_catalog *cat, void *arg)
{
    struct cold_txn *t = arg;
    int64_t now = fl_time_now_us();
    int rc = fl_catalog_file_retire(cat, t->f->path, now);
    if (!rc)
        rc = fl_catalog_file_insert(cat, t->out);
    if (!rc)
        rc = fl_catalog_delete_schedule(cat, t->f->path, t->f->location, now + t->r->o->grace_us,
                                        "rewritten to cold");
    return rc;
}

int fl_lake_cold_key(char *buf, size_t n, const char *key)
{
    int w = snprintf(buf, n, "%s/%s", FL_LAKE_ARCHIVE_PREFIX, key);
    return w < 0 || (size_t)w >= n ? FL_ERANGE : 0;
}

static int move_cold(lc_run *r, const lc_move *m, fl_lake_file *out)
{
    const fl_lake_file *f = &m->f;
    *out = *f;
    out->location[0] = 0;
    out->shard = -1;
    out->first_seq = out->last_seq = 0;
    out->created_at = 0;
    out->retired_at = -1;
    snprintf(out->tier, sizeof out->tier, "cold");
    snprintf(out->state, sizeof out->state, FL_CATALOG_STATE_LIVE);
    int rc = fl_lake_cold_key(out->path, sizeof out->path, f->path);
    if (!rc && strncmp(f->path, FL_LAKE_ARCHIVE_PREFIX "/", sizeof FL_LAKE_ARCHIVE_PREFIX) == 0)
        rc = FL_EINVAL; /* already archived but not 'cold': a corrupt row */
    if (!rc)
        rc = write_cold(r, f, out);
    if (!rc) {
        struct cold_txn t = {r, f, out};
        rc = fl_catalog_transaction(r->cat, cold_commit, &t);
    }
    if (rc && rc != FL_ERANGE && rc != FL_EINVAL) {
        int d = fl_objstore_delete(fl_lake_stores_main(r->stores), out->path);
        if (d && d != FL_ENOTFOUND)
            FL_ERROR(MODULE, "cannot delete the uncommitted %s: %s (removed at the next pass)",
                     out->path, fl_strerror(d));
    }
    return rc;
}

/* ---- expired --------------------------------------------------------------------------------- */

static int expire_commit(fl_catalog *cat, void *arg)
{
    const struct warm_txn *t = arg;
    int rc = fl_catalog_file_remove(cat, t->f->path);
    if (!rc)
        rc = fl_catalog_delete_schedule(cat, t->f->path, t->f->location,
                                        fl_time_now_us() + t->r->o->grace_us, "expired");
    return rc;
}

/* ---- the pass -------------------------------------------------------------------------------- */

static int on_planned(void *arg, const fl_lifecycle_move *m)
{
    lc_run *r = arg;
    if (r->n == MOVES_PER_BATCH)
        return BATCH_FULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        lc_move *v = fl_realloc(r->v, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = (lc_move){*m->file, m->from, m->to, m->age_days};
    return 0;
}

static void apply_one(lc_run *r, const lc_move *m, fl_lake_file *scratch)
{
    const fl_lake_file *f = &m->f;
    fl_lifecycle_done d = {f, m->from, m->to, m->age_days, f->path, "", f->bytes, 0};
    switch (m->to) {
    case FL_TIER_WARM:
        d.rc = move_warm(r, m);
        d.new_location = r->o->warm_dir;
        break;
    case FL_TIER_COLD:
        d.rc = move_cold(r, m, scratch);
        d.new_path = scratch->path;
        d.new_bytes = scratch->bytes;
        break;
    default: {
        struct warm_txn t = {r, f};
        d.rc = fl_catalog_transaction(r->cat, expire_commit, &t);
        d.new_path = "";
        break;
    }
    }
    if (d.rc) {
        r->st->failures++;
        FL_ERROR(MODULE, "%s: %s -> %s of %s failed: %s (left %s; retried at the next pass)",
                 f->table_name, fl_lifecycle_tier_name(m->from), fl_lifecycle_tier_name(m->to),
                 f->path, fl_strerror(d.rc), fl_lifecycle_tier_name(m->from));
    } else {
        r->st->files[m->to]++;
        r->st->rows[m->to] += (uint64_t)f->rows;
        r->st->bytes[m->to] += (uint64_t)f->bytes;
        FL_INFO(MODULE, "%s: %s -> %s %s (age %" PRId64 " days, %" PRId64 " rows, %" PRId64
                        " bytes)%s%s%s",
                f->table_name, fl_lifecycle_tier_name(m->from), fl_lifecycle_tier_name(m->to),
                f->path, m->age_days, f->rows, f->bytes,
                m->to == FL_TIER_WARM ? ": now in " : m->to == FL_TIER_COLD ? ": now " : "",
                m->to == FL_TIER_WARM ? r->o->warm_dir : m->to == FL_TIER_COLD ? d.new_path : "",
                m->to == FL_TIER_EXPIRED ? ": catalog row removed, file deleted after the grace"
                                         : "");
    }
    if (r->o->on_done)
        r->o->on_done(r->o->on_done_ctx, &d);
}

static uint64_t moves_done(const fl_lifecycle_stats *st)
{
    return st->files[FL_TIER_WARM] + st->files[FL_TIER_COLD] + st->files[FL_TIER_EXPIRED];
}

/* Plan (at most MOVES_PER_BATCH moves) and apply, until the plan is complete or a batch moved
 * nothing (its failures, first in path order, would fill the next batch again: the rest waits
 * for the next pass). */
static int plan_and_apply(lc_run *r, fl_lake_file *scratch)
{
    for (;;) {
        r->n = 0;
        int prc = fl_lifecycle_plan(r->cat, &r->o->policy, r->o->now_us, on_planned, r);
        if (prc && prc != BATCH_FULL)
            return prc;
        uint64_t before = moves_done(r->st);
        for (size_t i = 0; i < r->n; i++) {
            if (stopping(r))
                return FL_ESTOPPED;
            apply_one(r, &r->v[i], scratch);
        }
        if (prc != BATCH_FULL || moves_done(r->st) == before)
            return 0;
    }
}

static int run_pass(lc_run *r)
{
    fl_lake_file *scratch = fl_malloc(sizeof *scratch);
    int rc = scratch ? run_due_deletes(r) : FL_ENOMEM;
    if (!rc)
        rc = sweep_orphans(r);
    if (!rc)
        rc = plan_and_apply(r, scratch);
    fl_free(scratch);
    if (!rc)
        rc = run_due_deletes(r);
    return rc;
}

int fl_lifecycle_apply(const fl_lifecycle_options *o, fl_lifecycle_stats *st)
{
    lc_run r = {.o = o, .st = st};
    memset(st, 0, sizeof *st);
    if (!o->warm_dir || o->warm_dir[0] != '/')
        return FL_EINVAL;
    int rc = fl_lifecycle_policy_check(&o->policy);
    if (!rc)
        rc = fl_lake_stores_create(o->store, &r.stores);
    if (!rc)
        rc = fl_lake_stores_get(r.stores, o->warm_dir, &r.warm);
    if (!rc)
        rc = fl_catalog_open(o->meta_path, &r.cat);
    if (!rc)
        rc = run_pass(&r);
    fl_catalog_close(r.cat);
    fl_lake_stores_destroy(r.stores);
    fl_free(r.v);
    return rc;
}

int fl_lifecycle_options_from_config(const fl_config *cfg, const char *data_dir, char *warm_dir,
                                     size_t n, fl_lifecycle_options *o)
{
    fl_lifecycle_policy_from_config(cfg, &o->policy);
    o->grace_us = cfg->compaction_retire_grace_s * FL_US_PER_SEC;
    const char *w = cfg->lifecycle_warm_dir;
    char abs_data[PATH_MAX];
    int len;
    /* The catalog stores the warm directory as an absolute path (locate.c): resolve a
     * relative data directory once, here. */
    if (w[0] != '/' && !realpath(data_dir, abs_data))
        return -errno;
    if (w[0] == '/')
        len = snprintf(warm_dir, n, "%s", w);
    else
        len = snprintf(warm_dir, n, "%s/%s", abs_data, *w ? w : "lake-warm");
    while (len > 1 && (size_t)len < n && warm_dir[len - 1] == '/')
        warm_dir[--len] = 0; /* one spelling per directory in lake_files.location */
    if (len < 0 || (size_t)len >= n)
        return -ENAMETOOLONG;
    o->warm_dir = warm_dir;
    return fl_lifecycle_policy_check(&o->policy);
}
