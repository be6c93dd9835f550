/* erase.c — right to erasure (GDPR art. 17, the reference's §11.2): removes every row of one
 * device from every lake table and its device_state row. `fleetlake erase` (src/cli/erase.c)
 * runs it with serve stopped and the compaction and summary locks held.
 *
 * NOTES ON THE DESIGN OF ERASURE
 *
 * Which rows. raw_sensor_data, processed_sensor_data and hourly_summary: device_id equal to
 * the id. rejected_records has no device column (the record failed validation): a row goes
 * when raw, raw_text or error_message holds the id as a whole JSON string ("<id>", the opening
 * quote not escaped), which covers "device_id":"<id>" with any spacing and never matches a
 * device whose id merely contains this one ("dev-1" vs "dev-10").
 *
 * Rewriting. Every live file of each table is scanned (only the match columns are decoded). A
 * file with matches is copied row group by row group through our Parquet reader and writer,
 * every other value exactly, to
 *     <directory of the original>/compacted-<FNV-1a of original key and id>-0.parquet
 * (deterministic, so a rerun after a crash derives the same name; under raw-data/ and errors/
 * the compacted- prefix lets compaction's recovery remove an output published but never
 * committed — it holds nothing of the device either way). Its catalog row is
 * the original's with the new path, rows, bytes and event-time range, and no shard or sequence
 * range (like compaction's outputs, C3 of compact.c: delivery's high-water marks are kept by
 * the retired original's row). A file left with no rows is retired with no replacement.
 *
 * Invariants.
 *  E1  All outputs are published before ONE catalog transaction that retires every original,
 *      inserts every output and deletes the device_state row: readers see the lake before or
 *      after the erasure, never half of it. A failure before the commit deletes the outputs.
 *  E2  The originals are deleted right after the commit, not after compaction's grace:
 *      erasure must leave nothing. A query that listed a file before the commit and reads it
 *      after fails (file not found) and must be rerun — the price of erasure being complete.
 *  E3  Output rows = original rows - removed rows, checked per file before the transaction.
 *  E4  Files compaction or the summary job retired but has not deleted yet (still in their
 *      grace) are scanned too, and deleted after the commit when they hold the device; their
 *      catalog rows stay retired (a missing retired file is normal). This also finishes a run
 *      that crashed after its commit, before deleting the originals: run erase again.
 *  E5  Every tier. A file is read from, and its replacement written to, the store its row
 *      names (locate.c): a warm file's replacement stays in the warm directory (tier 'warm'),
 *      a cold one's in archived-data/ (tier 'cold', ZSTD). Objects the lifecycle scheduled for
 *      deletion (lake_deletes: the hot copy of a file moved to warm, the original of a file
 *      rewritten to cold, an expired file — no longer part of the lake, still on disk during
 *      their grace) are all deleted after the commit, whoever they hold.
 *  E6  <data>/lake-quarantine/ (orphans `fleetlake check --repair` moved aside: never part of
 *      the lake) is scanned too, its table told by the key's prefix, and a file holding the
 *      device is deleted — not rewritten: it is a stray copy kept for inspection, and the
 *      lake's own files hold the data that matters.
 *
 * Not covered: the stream and dead-letter logs (append-only segments; records there expire by
 * stream retention, docs/lake.md "Erasure"), and serve's in-memory state — erase refuses while
 * serve runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include "jobs/jobs_int.h"

#define MODULE "erase"

/* Rows handed to the writer per call: one row group is at most what the reader decoded. */

typedef struct erase_target {
    fl_lake_file f;          /* the original's catalog row */
    const fl_lake_table_info *t;
    int64_t matches;
    fl_lake_file out;        /* valid when has_out */
    int has_out, published;
    int retired; /* compaction's retired file still in its grace: deleted, catalog kept */
} erase_target;

typedef struct erase_run {
    const fl_erase_options *o;
    fl_catalog *cat;
    fl_lake_stores *stores; /* E5 */
    const fl_lake_table_info *t; /* table being listed */
    erase_target *targets;
    size_t n, cap;
    fl_erase_stats *st;
} erase_run;

int fl_erase_json_mentions(fl_slice s, fl_slice id)
{
    if (!s.ptr || s.len < id.len + 2)
        return 0;
    for (size_t i = 0; i + id.len + 2 <= s.len; i++) {
        if (s.ptr[i] != '"' || (i && s.ptr[i - 1] == '\\'))
            continue;
        if (memcmp(s.ptr + i + 1, id.ptr, id.len) == 0 && s.ptr[i + 1 + id.len] == '"')
            return 1;
    }
    return 0;
}

static int is_rejected(const fl_lake_table_info *t)
{
    return strcmp(t->name, FL_LAKE_REJECTED_TABLE) == 0;
}

/* The columns whose values decide a row (file column indexes into cols[]); returns count. */
static size_t match_columns(const fl_lake_table_info *t, fl_pq_reader *r, int cols[3])
{
    static const char *const rejected[] = {"raw", "raw_text", "error_message"};
    size_t n = 0;
    if (is_rejected(t)) {
        for (size_t i = 0; i < 3; i++)
            if ((cols[n] = fl_pq_reader_column_index(r, rejected[i])) >= 0)
                n++;
    } else if ((cols[0] = fl_pq_reader_column_index(r, "device_id")) >= 0) {
        n = 1;
    }
    return n;
}

static int row_matches(const erase_run *e, const erase_target *tg, const fl_pq_column_values *cv,
                       size_t ncols, size_t row)
{
    for (size_t k = 0; k < ncols; k++) {
        if (cv[k].valid && !cv[k].valid[row])
            continue;
        fl_slice v = ((const fl_slice *)cv[k].values)[row];
        if (is_rejected(tg->t) ? fl_erase_json_mentions(v, e->o->device_id)
                               : v.len == e->o->device_id.len &&
                                     memcmp(v.ptr, e->o->device_id.ptr, v.len) == 0)
            return 1;
    }
    return 0;
}

/* Mark rows of row group rg that hold the device in drop[0..n); returns the count via *hits. */
static int mark_rows(const erase_run *e, const erase_target *tg, fl_pq_reader *r, int rg,
                     uint8_t *drop, int64_t *hits)
{
    int cols[3];
    size_t ncols = match_columns(tg->t, r, cols);
    fl_pq_column_values cv[3];
    int64_t n = fl_pq_reader_row_group_rows(r, rg);
    memset(drop, 0, (size_t)n);
    *hits = 0;
    if (!ncols)
        return FL_EUNSUPPORTED; /* not one of our files: refuse rather than skip it */
    for (size_t k = 0; k < ncols; k++) {
        int rc = fl_pq_reader_read_column(r, rg, (size_t)cols[k], &cv[k]);
        if (rc)
            return rc;
    }
    for (int64_t i = 0; i < n; i++)
        if (row_matches(e, tg, cv, ncols, (size_t)i)) {
            drop[i] = 1;
            ++*hits;
        }
    return 0;
}

static int open_file(const erase_run *e, const fl_lake_file *f, fl_objstore_reader **src,
                     fl_pq_reader **r)
{
    fl_objstore *store = NULL;
    int rc = fl_lake_file_store(e->stores, f, &store); /* E5 */
    if (!rc)
        rc = fl_objstore_get_open(store, f->path, src);
    if (!rc)
        rc = fl_pq_reader_open(fl_objstore_source_read, *src, fl_objstore_reader_size(*src), NULL,
                               r);
    if (!rc && fl_pq_reader_rows(*r) != f->rows)
        rc = FL_ECORRUPT; /* the footer disagrees with the catalog */
    return rc;
}

/* Count the device's rows in one file. */
static int scan_file(const erase_run *e, erase_target *tg)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    uint8_t *drop = NULL;
    int rc = open_file(e, &tg->f, &src, &r);
    if (rc == FL_ENOTFOUND && tg->retired)
        goto out;
    for (int rg = 0; !rc && rg < fl_pq_reader_row_group_count(r); rg++) {
        int64_t hits = 0, n = fl_pq_reader_row_group_rows(r, rg);
        fl_free(drop);
        drop = fl_malloc((size_t)n + 1);
        rc = drop ? mark_rows(e, tg, r, rg, drop, &hits) : FL_ENOMEM;
        tg->matches += hits;
    }
    if (rc)
        FL_ERROR(MODULE, "cannot scan %s: %s", tg->f.path, fl_strerror(rc));
out:
    fl_free(drop);
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    return rc;
}

/* ---- rewriting one file ---------------------------------------------------------------------- */

static size_t value_width(enum fl_pq_physical t)
{
    switch (t) {
    case FL_PQ_BOOLEAN: return 1;
    case FL_PQ_INT32: return 4;
    case FL_PQ_INT64:
    case FL_PQ_DOUBLE: return 8;
    case FL_PQ_BYTE_ARRAY: return sizeof(fl_slice);
    }
    return 0;
}

/* Keep the rows of cv whose drop flag is 0, into (values, valid) buffers of n rows. */
static void keep_rows(const fl_pq_column_def *d, const fl_pq_column_values *cv,
                      const uint8_t *drop, size_t n, char *values, uint8_t *valid,
                      fl_pq_column_values *out, size_t *kept)
{
    size_t w = value_width(d->physical), k = 0, nulls = 0;
    for (size_t i = 0; i < n; i++) {
        if (drop[i])
            continue;
        valid[k] = (uint8_t)(cv->valid ? cv->valid[i] != 0 : 1);
        nulls += !valid[k];
        memcpy(values + k * w, (const char *)cv->values + i * w, w);
        k++;
    }
    out->values = values;
    out->valid = nulls ? valid : NULL;
    *kept = k;
}

static uint64_t output_hash(const char *key, fl_slice id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *s = (const unsigned char *)key; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    h = (h ^ '\n') * 1099511628211ULL;
    for (size_t i = 0; i < id.len; i++)
        h = (h ^ (unsigned char)id.ptr[i]) * 1099511628211ULL;
    return h;
}

static int output_key(char *buf, size_t n, const char *key, fl_slice id)
{
    const char *slash = strrchr(key, '/');
    int dir = slash ? (int)(slash - key) : 0;
    int w = snprintf(buf, n, "%.*s%scompacted-%016" PRIx64 "-0.parquet", dir, key,
                     slash ? "/" : "", output_hash(key, id));
    return w < 0 || (size_t)w >= n ? FL_ERANGE : 0;
}

typedef struct copy_state {
    size_t ncols;
    fl_pq_column_values *cv, *keep;
    char **values;
    uint8_t **valid, *drop;
    int time_col;
    int64_t rows, min_ts, max_ts;
} copy_state;

static void copy_state_free(copy_state *s)
{
    for (size_t i = 0; s->values && i < s->ncols; i++) {
        fl_free(s->values[i]);
        fl_free(s->valid[i]);
    }
    fl_free(s->values);
    fl_free(s->valid);
    fl_free(s->cv);
    fl_free(s->keep);
    fl_free(s->drop);
}

/* Copy one row group without the device's rows into the writer. */
static int copy_row_group(const erase_run *e, erase_target *tg, fl_pq_reader *r, int rg,
                          fl_pq_writer *pw, copy_state *s)
{
    size_t n = (size_t)fl_pq_reader_row_group_rows(r, rg);
    int64_t hits = 0;
    int rc = 0;
    fl_free(s->drop);
    s->drop = fl_malloc(n + 1);
    if (!s->drop || (rc = mark_rows(e, tg, r, rg, s->drop, &hits)))
        return rc ? rc : FL_ENOMEM;
    size_t kept = 0;
    for (size_t i = 0; !rc && i < s->ncols; i++) {
        const fl_pq_column_def *d = fl_pq_reader_column(r, i);
        fl_free(s->values[i]);
        fl_free(s->valid[i]);
        s->values[i] = fl_malloc(n * value_width(d->physical) + 1);
        s->valid[i] = fl_malloc(n + 1);
        if (!s->values[i] || !s->valid[i])
            return FL_ENOMEM;
        if ((rc = fl_pq_reader_read_column(r, rg, i, &s->cv[i])))
            return rc;
        keep_rows(d, &s->cv[i], s->drop, n, s->values[i], s->valid[i], &s->keep[i], &kept);
    }
    for (size_t k = 0; s->time_col >= 0 && k < kept; k++) {
        int64_t ts;
        memcpy(&ts, s->values[s->time_col] + k * 8, 8);
        if (s->keep[s->time_col].valid && !s->keep[s->time_col].valid[k])
            continue;
        s->min_ts = ts < s->min_ts ? ts : s->min_ts;
        s->max_ts = ts > s->max_ts ? ts : s->max_ts;
    }
    s->rows += (int64_t)kept;
    return kept ? fl_pq_writer_write(pw, s->keep, kept) : 0;
}

static int codec_of(const erase_run *e, const erase_target *tg)
{
    if (strcmp(tg->f.tier, "cold") == 0)
        return FL_PQ_ZSTD; /* E5: cold files stay as the lifecycle wrote them */
    if (strcmp(tg->t->name, FL_LAKE_RAW_TABLE) == 0 || is_rejected(tg->t)) {
        int c = fl_pq_codec_parse(e->o->raw_codec ? e->o->raw_codec : "gzip");
        return c < 0 ? FL_PQ_GZIP : c;
    }
    return FL_PQ_SNAPPY;
}

/* Write the copy of tg's file without the device's rows and publish it. */
static int encode_copy(const erase_run *e, erase_target *tg, fl_pq_reader *r,
                       fl_objstore_writer *w)
{
    copy_state s = {.ncols = fl_pq_reader_column_count(r), .min_ts = INT64_MAX,
                    .max_ts = INT64_MIN};
    s.cv = fl_calloc(s.ncols, sizeof *s.cv);
    s.keep = fl_calloc(s.ncols, sizeof *s.keep);
    s.values = fl_calloc(s.ncols, sizeof *s.values);
    s.valid = fl_calloc(s.ncols, sizeof *s.valid);
    s.time_col = fl_pq_reader_column_index(r, tg->t->time_column);
    fl_pq_column_def *defs = fl_calloc(s.ncols, sizeof *defs);
    int rc = s.cv && s.keep && s.values && s.valid && defs ? 0 : FL_ENOMEM;
    for (size_t i = 0; !rc && i < s.ncols; i++)
        defs[i] = *fl_pq_reader_column(r, i);
    const char *version = fl_pq_reader_kv(r, "schema_version");
    fl_pq_kv kv[] = {{"schema_version", version ? version : FL_LAKE_SCHEMA_VERSION},
                     {"fleetlake.table", tg->t->name}};
    fl_pq_writer_options opts = {.codec = (enum fl_pq_codec)codec_of(e, tg),
                                 .kv = kv,
                                 .kv_count = sizeof kv / sizeof kv[0]};
    fl_pq_writer *pw = NULL;
    fl_pq_file_summary sum;
    if (!rc)
        rc = fl_pq_writer_create(defs, s.ncols, &opts, fl_objstore_sink_write, w, &pw);
    for (int rg = 0; !rc && rg < fl_pq_reader_row_group_count(r); rg++)
        rc = copy_row_group(e, tg, r, rg, pw, &s);
    if (!rc)
        rc = fl_pq_writer_finish(pw, &sum);
    if (!rc && (sum.rows != s.rows || s.rows != tg->f.rows - tg->matches))
        rc = FL_ECORRUPT; /* E3 */
    if (!rc) {
        tg->out.rows = s.rows;
        tg->out.min_ts = s.time_col >= 0 && s.rows ? s.min_ts : tg->f.min_ts;
        tg->out.max_ts = s.time_col >= 0 && s.rows ? s.max_ts : tg->f.max_ts;
    }
    fl_pq_writer_destroy(pw);
    fl_free(defs);
    copy_state_free(&s);
    return rc;
}

static int rewrite_file(const erase_run *e, erase_target *tg)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    fl_objstore_writer *w = NULL;
    tg->out = tg->f;
    tg->out.shard = -1;
    tg->out.first_seq = tg->out.last_seq = 0;
    tg->out.retired_at = -1;
    tg->out.created_at = 0;
    snprintf(tg->out.state, sizeof tg->out.state, "live");
    fl_objstore *store = NULL; /* the original's: tier and location are kept (E5) */
    int rc = output_key(tg->out.path, sizeof tg->out.path, tg->f.path, e->o->device_id);
    if (!rc)
        rc = open_file(e, &tg->f, &src, &r);
    if (!rc)
        rc = fl_lake_file_store(e->stores, &tg->out, &store);
    if (!rc)
        rc = fl_objstore_put_open(store, tg->out.path, &w);
    if (!rc && (rc = encode_copy(e, tg, r, w)) != 0)
        fl_objstore_put_abort(w);
    else if (!rc) {
        tg->out.bytes = (int64_t)fl_objstore_put_bytes(w);
        rc = fl_objstore_put_publish(w);
        tg->published = rc == 0;
    }
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    if (rc)
        FL_ERROR(MODULE, "cannot rewrite %s: %s", tg->f.path, fl_strerror(rc));
    return rc;
}

/* ---- listing and the swap -------------------------------------------------------------------- */

static int on_live_file(void *arg, const fl_lake_file *f)
{
    erase_run *e = arg;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        erase_target *t = fl_realloc(e->targets, cap * sizeof *t);
        if (!t)
            return FL_ENOMEM;
        e->targets = t;
        e->cap = cap;
    }
    erase_target *tg = &e->targets[e->n++];
    memset(tg, 0, sizeof *tg);
    tg->f = *f;
    tg->t = e->t;
    tg->retired = strcmp(f->state, "live") != 0;
    return 0;
}

static int delete_state(fl_catalog *cat, fl_slice id, int dry_run, uint64_t *rows)
{
    sqlite3 *db = fl_catalog_db(cat);
    sqlite3_stmt *st = NULL;
    const char *sql = dry_run ? "SELECT count(*) FROM device_state WHERE device_id = ?1"
                              : "DELETE FROM device_state WHERE device_id = ?1";
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
    if (!rc && sqlite3_bind_text(st, 1, id.ptr, (int)id.len, SQLITE_TRANSIENT) != SQLITE_OK)
        rc = FL_ESQLITE;
    int step = rc ? SQLITE_ERROR : sqlite3_step(st);
    if (!rc && dry_run && step == SQLITE_ROW)
        *rows = (uint64_t)sqlite3_column_int64(st, 0);
    else if (!rc && !dry_run && step == SQLITE_DONE)
        *rows = (uint64_t)sqlite3_changes(db);
    else if (!rc)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

static int swap_txn(fl_catalog *cat, void *arg)
{
    erase_run *e = arg;
    int64_t now = fl_time_now_us();
    int rc = 0;
    for (size_t i = 0; !rc && i < e->n; i++) {
        erase_target *tg = &e->targets[i];
        if (!tg->matches || tg->retired)
            continue;
        rc = fl_catalog_file_retire(cat, tg->f.path, now);
        if (rc == FL_ENOTFOUND)
            rc = FL_EAGAIN; /* swapped by someone else meanwhile: the locks were not held */
        if (!rc && tg->has_out) {
            tg->out.created_at = now;
            rc = fl_catalog_file_insert(cat, &tg->out);
        }
    }
    if (!rc)
        rc = delete_state(cat, e->o->device_id, 0, &e->st->state_rows);
    return rc;
}

static void report(const erase_run *e, const erase_target *tg)
{
    fl_erase_file rep = {tg->t->name, tg->f.path, tg->has_out ? tg->out.path : NULL,
                         tg->f.rows, tg->matches, tg->retired};
    if (e->o->on_file)
        e->o->on_file(e->o->on_file_ctx, &rep);
}

static int list_and_scan(erase_run *e)
{
    int rc = 0;
    for (size_t k = 0; !rc && k < fl_lake_table_count(); k++) {
        e->t = fl_lake_table_at(k);
        fl_catalog_filter flt = fl_catalog_filter_table(e->t->name);
        rc = fl_catalog_files_query(e->cat, &flt, on_live_file, e);
    }
    for (size_t i = 0; !rc && i < e->n; i++) {
        erase_target *tg = &e->targets[i];
        e->st->files_scanned++;
        if (tg->f.rows > 0)
            rc = scan_file(e, tg);
        if (rc == FL_ENOTFOUND && tg->retired)
            rc = 0; /* a retired file already deleted after its grace */
    }
    return rc;
}

/* Delete one object of a target (original or output) from the store its row names. */
static int delete_object(const erase_run *e, const fl_lake_file *f)
{
    fl_objstore *store = NULL;
    int rc = fl_lake_file_store(e->stores, f, &store);
    return rc ? rc : fl_objstore_delete(store, f->path);
}

static int on_scheduled(void *arg, const fl_catalog_delete *d)
{
    fl_buf *b = arg;
    int rc = fl_buf_append(b, d->path, strlen(d->path) + 1);
    return rc ? rc : fl_buf_append(b, d->location, strlen(d->location) + 1);
}

/* E5: delete every object scheduled for deletion now (or count them for a dry run). */
static int delete_scheduled(erase_run *e)
{
    fl_buf due = {0};
    int rc = fl_catalog_deletes_query(e->cat, INT64_MAX, on_scheduled, &due);
    for (size_t off = 0; !rc && off < due.len;) {
        const char *path = due.data + off, *location = path + strlen(path) + 1;
        off = (size_t)(location - due.data) + strlen(location) + 1;
        e->st->scheduled_deleted++;
        if (e->o->dry_run)
            continue;
        fl_objstore *store = NULL;
        rc = fl_lake_stores_get(e->stores, location, &store);
        if (!rc && (rc = fl_objstore_delete(store, path)) == FL_ENOTFOUND)
            rc = 0;
        if (!rc)
            rc = fl_catalog_delete_done(e->cat, path, location);
        if (rc)
            FL_ERROR(MODULE, "cannot delete %s%s%s (scheduled by the lifecycle): %s", location,
                     *location ? "/" : "", path, fl_strerror(rc));
        else
            FL_INFO(MODULE, "deleted %s%s%s now, not after its grace (scheduled by the "
                            "lifecycle; may hold device %.*s)",
                    location, *location ? "/" : "", path, (int)e->o->device_id.len,
                    e->o->device_id.ptr);
    }
    fl_buf_free(&due);
    return rc;
}

/* ---- lake-quarantine/ (E6) ------------------------------------------------------------------- */

/* The lake table whose prefix key starts with (after an optional archived-data/), or NULL. */
static const fl_lake_table_info *table_of_key(const char *key)
{
    const char *k = key;
    if (strncmp(k, FL_LAKE_ARCHIVE_PREFIX "/", sizeof FL_LAKE_ARCHIVE_PREFIX) == 0)
        k += sizeof FL_LAKE_ARCHIVE_PREFIX;
    for (size_t i = 0; i < fl_lake_table_count(); i++) {
        const fl_lake_table_info *t = fl_lake_table_at(i);
        size_t n = strlen(t->prefix);
        if (strncmp(k, t->prefix, n) == 0 && k[n] == '/')
            return t;
    }
    return NULL;
}

static int on_quarantined(void *arg, const char *key, const fl_objstore_info *info)
{
    fl_buf *b = arg;
    size_t n = strlen(key);
    (void)info;
    return n > 8 && strcmp(key + n - 8, ".parquet") == 0 ? fl_buf_append(b, key, n + 1) : 0;
}

/* Count the device's rows in one quarantined file of table t. */
static int scan_quarantined(const erase_run *e, fl_objstore *store, const char *key,
                            const fl_lake_table_info *t, int64_t *matches)
{
    erase_target tg = {.t = t};
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    uint8_t *drop = NULL;
    int rc = fl_objstore_get_open(store, key, &src);
    if (!rc)
        rc = fl_pq_reader_open(fl_objstore_source_read, src, fl_objstore_reader_size(src), NULL,
                               &r);
    *matches = 0;
    for (int rg = 0; !rc && rg < fl_pq_reader_row_group_count(r); rg++) {
        int64_t hits = 0;
        fl_free(drop);
        drop = fl_malloc((size_t)fl_pq_reader_row_group_rows(r, rg) + 1);
        rc = drop ? mark_rows(e, &tg, r, rg, drop, &hits) : FL_ENOMEM;
        *matches += hits;
    }
    fl_free(drop);
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    return rc;
}

static int erase_quarantine(erase_run *e)
{
    struct stat st;
    if (stat(e->o->quarantine_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0; /* none: `fleetlake check --repair` never moved anything aside */
    fl_objstore *store = NULL;
    fl_buf keys = {0};
    int rc = fl_objstore_local_create(e->o->quarantine_dir, &store);
    if (!rc)
        rc = fl_objstore_list(store, "", on_quarantined, &keys);
    for (size_t off = 0; !rc && off < keys.len; off += strlen(keys.data + off) + 1) {
        const char *key = keys.data + off;
        const fl_lake_table_info *t = table_of_key(key);
        int64_t matches = 0;
        if (!t)
            continue; /* not a key the lake writes: not ours to judge */
        int src = scan_quarantined(e, store, key, t, &matches);
        if (src) { /* a damaged file (why it may be there): say so, go on */
            FL_WARN(MODULE, "cannot scan lake-quarantine/%s: %s; check it for device %.*s by "
                            "hand", key, fl_strerror(src), (int)e->o->device_id.len,
                    e->o->device_id.ptr);
            continue;
        }
        if (!matches)
            continue;
        e->st->quarantined_deleted++;
        if (!e->o->dry_run && (rc = fl_objstore_delete(store, key)) == 0)
            FL_INFO(MODULE, "deleted lake-quarantine/%s: an orphan set aside by check --repair "
                            "holding %" PRId64 " row(s) of device %.*s",
                    key, matches, (int)e->o->device_id.len, e->o->device_id.ptr);
    }
    fl_buf_free(&keys);
    fl_objstore_destroy(store);
    return rc;
}

int fl_erase_device(const fl_erase_options *o, fl_erase_stats *stats)
{
    erase_run e = {.o = o, .st = stats};
    memset(stats, 0, sizeof *stats);
    if (!o->device_id.len)
        return FL_EINVAL;
    int rc = fl_lake_stores_create(o->store, &e.stores);
    if (!rc)
        rc = fl_catalog_open(o->meta_path, &e.cat);
    if (!rc)
        rc = list_and_scan(&e);
    for (size_t i = 0; !rc && i < e.n; i++) {
        erase_target *tg = &e.targets[i];
        if (!tg->matches)
            continue;
        tg->has_out = !tg->retired && tg->matches < tg->f.rows;
        if (!o->dry_run && tg->has_out)
            rc = rewrite_file(&e, tg);
    }
    if (!rc && o->dry_run)
        rc = delete_state(e.cat, o->device_id, 1, &stats->state_rows);
    else if (!rc)
        rc = fl_catalog_transaction(e.cat, swap_txn, &e);
    for (size_t i = 0; i < e.n; i++) {
        erase_target *tg = &e.targets[i];
        if (!tg->matches)
            continue;
        if (rc) { /* E1: nothing committed, the outputs must not outlive the failure */
            if (tg->published && delete_object(&e, &tg->out))
                FL_ERROR(MODULE, "cannot delete uncommitted %s (removed by compaction's "
                                 "recovery)", tg->out.path);
            continue;
        }
        stats->rows_removed += (uint64_t)tg->matches;
        stats->files_rewritten += tg->has_out;
        stats->files_removed += !tg->has_out;
        if (!o->dry_run) {
            int d = delete_object(&e, &tg->f); /* E2 */
            if (d && d != FL_ENOTFOUND)
                FL_ERROR(MODULE, "erased %s but cannot delete the original: %s; delete it by "
                                 "hand", tg->f.path, fl_strerror(d));
            FL_INFO(MODULE, "%s: %s: %" PRId64 " of %" PRId64 " rows of device %.*s removed; %s%s%s",
                    tg->t->name, tg->f.path, tg->matches, tg->f.rows, (int)o->device_id.len,
                    o->device_id.ptr, tg->has_out ? "replaced by " : "retired with no replacement",
                    tg->has_out ? tg->out.path : "",
                    tg->retired ? " (a retired file in compaction's grace: deleted now)" : "");
        }
        report(&e, tg);
    }
    if (!rc)
        rc = delete_scheduled(&e);
    if (!rc && o->quarantine_dir)
        rc = erase_quarantine(&e);
    fl_free(e.targets);
    fl_catalog_close(e.cat);
    fl_lake_stores_destroy(e.stores);
    return rc;
}
