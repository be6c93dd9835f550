/* compact.c — lake compaction (the "compaction" job of DESIGN.md §2): merges the small files
 * delivery leaves in a closed hour into a few large files sorted by (device_id, timestamp),
 * and swaps them into the catalog in one transaction. compact_plan.c decides which partitions
 * and which files; compact_run.c is serve's thread; src/cli/compact.c is `fleetlake compact`.
 *
 * NOTES ON THE DESIGN OF COMPACTION
 *
 * Layout. The outputs of a partition P of table T are
 *     <prefix>/year=Y/month=M/day=D/hour=H/compacted-<hash>-<n>.parquet
 * where hash is a 64-bit FNV-1a of the sorted input keys and n counts the outputs from 0. The
 * names are a pure function of the input set (and of target_bytes/memory_bytes), so a rerun
 * after a crash writes the same names; they never collide with delivery's part-<s>-<a>-<b>.
 * Output rows: the inputs' rows, every value copied exactly (NULLs included), sorted by the
 * table's key (raw_sensor_data: device_id, timestamp, then shard_id, sequence_number for a
 * total order; rejected_records: received_at, sequence_number). The catalog rows of outputs
 * have no shard and no sequence range (shard NULL, first/last_seq NULL).
 *
 * Memory. Rows are decoded into one columnar buffer (buffer.c) until it holds memory_bytes;
 * then the buffer is sorted and written as files of about target_bytes (a "run"), and
 * filling resumes. An hour that fits in memory_bytes is therefore globally sorted across its
 * outputs; a bigger hour becomes several runs, each sorted, whose key ranges overlap.
 *
 * Invariants.
 *  C1  Outputs are published (atomic, durable) BEFORE the one transaction that inserts their
 *      rows and retires the inputs (state 'retired', retired_at = now). Readers go through
 *      the catalog, so before the commit they see exactly the inputs, after it exactly the
 *      outputs: never both, never neither.
 *  C2  The output row count equals the sum of the inputs' rows (catalog and file footers);
 *      checked before the transaction, which is not started otherwise.
 *  C3  Retired rows stay in lake_files. Delivery's high-water marks (max last_seq per
 *      (table, shard, partition), any state) therefore do not change, and outputs (shard
 *      NULL) never enter them: compaction cannot make delivery skip or repeat a record.
 *  C4  A retired file is deleted only retire_grace after its retirement, so a query that
 *      listed it before the swap can still read it.
 *  C5  Only one compactor works on a data directory at a time (compact.lock); recovery and
 *      the sweep of a partition's compacted-* leftovers rely on it. The lifecycle and erasure
 *      take the same lock, so none of them swaps files under another.
 *  C6  Compaction merges hot files only: warm and cold files are the lifecycle's (moved or
 *      rewritten whole, never merged again). A late delivery file in an old partition is hot
 *      until the next lifecycle pass moves it; it may be compacted with other hot files of its
 *      hour meanwhile. Retired files are deleted from wherever their row says they live.
 *
 * One partition, and what a crash at each point leaves:
 *   1. remove uncatalogued compacted-* objects and stale compacted-* puts of P (leftovers)
 *   2. read the inputs, sort, write outputs: open put, write, fsync
 *                                               crash: incomplete puts, swept by 1 (or by
 *                                               delivery's start-up sweep); inputs live
 *   3. publish each output (rename, fsync dir)  crash: orphan outputs, invisible; removed by
 *                                               recovery or by 1; P is planned again and the
 *                                               rerun derives the same names
 *   4. BEGIN; retire inputs; insert outputs; COMMIT
 *                                               crash before COMMIT is durable: as 3
 *   5. (later, any pass) delete retired files older than retire_grace; crash: the rest are
 *      deleted by the next pass (their rows stay retired, a missing file is fine)
 * A failure (not a crash) at 2-4 aborts the put, deletes published outputs and rolls back:
 * the inputs stay live and the partition is retried at the next pass. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake/compact_int.h"

#define MODULE "compact"

/* Rows gathered per writer call: big enough to amortise the call, small enough (~4 MiB of
 * slices and values for 13 columns) to be noise next to memory_bytes. */
#define WRITE_BATCH_ROWS 16384
/* Row groups of the outputs: engines split work by row group; 64 MiB keeps the writer's buffer
 * (on top of memory_bytes) bounded while staying in the range engines read efficiently. */
#define OUTPUT_ROW_GROUP_BYTES (64u << 20)

/* ---- keys ------------------------------------------------------------------------------------ */

int lake_compacted_key(char *buf, size_t n, const char *prefix, fl_lake_partition p,
                       uint64_t hash, size_t index)
{
    int w = snprintf(buf, n,
                     "%s/year=%" PRId32 "/month=%" PRId32 "/day=%" PRId32 "/hour=%" PRId32
                     "/compacted-%016" PRIx64 "-%zu.parquet",
                     prefix, p.year, p.month, p.day, p.hour, hash, index);
    return w < 0 || (size_t)w >= n ? FL_ERANGE : 0;
}

int lake_is_compacted_key(const char *key)
{
    const char *slash = strrchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    size_t n = strlen(name);
    return strncmp(name, "compacted-", 10) == 0 && n > 18 &&
           strcmp(name + n - 8, ".parquet") == 0;
}

uint64_t lake_compact_inputs_hash(char *const *keys, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        for (const unsigned char *s = (const unsigned char *)keys[i];; s++) {
            h = (h ^ (*s ? *s : '\n')) * 1099511628211ULL;
            if (!*s)
                break;
        }
    return h;
}

/* ---- the job: one partition ------------------------------------------------------------------ */

static void job_free(compact_job *j)
{
    lake_partition_free_columns(j->t->spec, &j->buf);
    for (size_t i = 0; j->gather && i < j->t->spec->column_count; i++) {
        fl_free(j->gather[i].values);
        fl_free(j->gather[i].valid);
    }
    fl_free(j->gather);
    fl_free(j->cols);
    fl_free(j->outputs);
    compact_inputs_free(&j->in);
}

/* Delete the outputs published so far (after a failure: they must not outlive it). */
static void discard_outputs(compact_job *j)
{
    for (size_t i = 0; i < j->n_outputs; i++) {
        int rc = fl_objstore_delete(j->c->o.store, j->outputs[i].path);
        if (rc && rc != FL_ENOTFOUND)
            FL_ERROR(MODULE, "cannot delete uncommitted %s: %s (removed by the next recovery)",
                     j->outputs[i].path, fl_strerror(rc));
    }
    j->n_outputs = 0;
}

static int job_init(compact_job *j)
{
    const lake_table_spec *spec = j->t->spec;
    j->buf.cols = fl_calloc(spec->column_count, sizeof *j->buf.cols);
    j->gather = fl_calloc(spec->column_count, sizeof *j->gather);
    j->cols = fl_calloc(spec->column_count, sizeof *j->cols);
    if (!j->buf.cols || !j->gather || !j->cols)
        return FL_ENOMEM;
    for (size_t i = 0; i < spec->column_count; i++) {
        /* 16 bytes: the widest value a column can hand the writer (fl_slice). */
        j->gather[i].values = fl_malloc(WRITE_BATCH_ROWS * 16);
        j->gather[i].valid = fl_malloc(WRITE_BATCH_ROWS);
        if (!j->gather[i].values || !j->gather[i].valid)
            return FL_ENOMEM;
    }
    return 0;
}

/* ---- sorting --------------------------------------------------------------------------------- */

static fl_slice cell_bytes(const lake_column *col, size_t r)
{
    return lake_column_cell(col, r);
}

static int cell_valid(const lake_column *col, size_t r)
{
    return ((const uint8_t *)col->valid.data)[r] != 0;
}

static int cmp_cell(const lake_column *col, enum fl_pq_physical t, size_t a, size_t b)
{
    int va = cell_valid(col, a), vb = cell_valid(col, b);
    if (!va || !vb)
        return va - vb; /* NULLs first */
    switch (t) {
    case FL_PQ_BYTE_ARRAY: {
        fl_slice x = cell_bytes(col, a), y = cell_bytes(col, b);
        int c = memcmp(x.ptr, y.ptr, x.len < y.len ? x.len : y.len);
        return c ? c : (x.len > y.len) - (x.len < y.len);
    }
    case FL_PQ_INT32: {
        int32_t x, y;
        memcpy(&x, col->values.data + a * 4, 4);
        memcpy(&y, col->values.data + b * 4, 4);
        return (x > y) - (x < y);
    }
    case FL_PQ_INT64: {
        int64_t x, y;
        memcpy(&x, col->values.data + a * 8, 8);
        memcpy(&y, col->values.data + b * 8, 8);
        return (x > y) - (x < y);
    }
    case FL_PQ_DOUBLE: {
        double x, y;
        memcpy(&x, col->values.data + a * 8, 8);
        memcpy(&y, col->values.data + b * 8, 8);
        return (x > y) - (x < y);
    }
    case FL_PQ_BOOLEAN:
        return (int)((uint8_t)col->values.data[a]) - (int)((uint8_t)col->values.data[b]);
    }
    return 0;
}

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
    const compact_job *j = arg;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    for (size_t k = 0; k < j->t->sort_count; k++) {
        size_t ci = j->t->sort_columns[k];
        int c = cmp_cell(&j->buf.cols[ci], j->t->spec->columns[ci].physical, a, b);
        if (c)
            return c;
    }
    return (a > b) - (a < b); /* stable: equal keys keep input order */
}

/* ---- writing --------------------------------------------------------------------------------- */

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

/* Gather rows idx[0..n) of the buffer into writer columns (batch arrays). */
static void gather(compact_job *j, const size_t *idx, size_t n)
{
    const lake_table_spec *spec = j->t->spec;
    for (size_t ci = 0; ci < spec->column_count; ci++) {
        const lake_column *col = &j->buf.cols[ci];
        enum fl_pq_physical t = spec->columns[ci].physical;
        size_t w = value_width(t);
        char *dst = j->gather[ci].values;
        uint8_t *valid = j->gather[ci].valid;
        size_t nulls = 0;
        for (size_t r = 0; r < n; r++) {
            valid[r] = (uint8_t)cell_valid(col, idx[r]);
            nulls += !valid[r];
            if (t == FL_PQ_BYTE_ARRAY) {
                fl_slice s = cell_bytes(col, idx[r]);
                memcpy(dst + r * w, &s, w);
            } else {
                memcpy(dst + r * w, col->values.data + idx[r] * w, w);
            }
        }
        j->cols[ci].values = dst;
        j->cols[ci].valid = nulls ? valid : NULL;
    }
}

static int64_t event_time(const compact_job *j, size_t r)
{
    int64_t v;
    memcpy(&v, j->buf.cols[j->t->event_column].values.data + r * 8, 8);
    return v;
}

static int grow_outputs(compact_job *j)
{
    if (j->n_outputs < j->cap_outputs)
        return 0;
    size_t cap = j->cap_outputs ? j->cap_outputs * 2 : 4;
    fl_lake_file *o = fl_realloc(j->outputs, cap * sizeof *o);
    if (!o)
        return FL_ENOMEM;
    j->outputs = o;
    j->cap_outputs = cap;
    return 0;
}

/* Encode rows idx[0..n) as one Parquet file into w. */
static int encode_rows(compact_job *j, const size_t *idx, size_t n, fl_objstore_writer *w)
{
    const lake_table_spec *spec = j->t->spec;
    fl_pq_kv kv[] = {{"schema_version", FL_LAKE_SCHEMA_VERSION},
                     {"fleetlake.table", spec->table_name}};
    fl_pq_writer_options opts = {.codec = j->c->codec,
                                 .row_group_bytes = OUTPUT_ROW_GROUP_BYTES,
                                 .kv = kv,
                                 .kv_count = sizeof kv / sizeof kv[0]};
    fl_pq_writer *pw = NULL;
    fl_pq_file_summary sum;
    int rc = fl_pq_writer_create(spec->columns, spec->column_count, &opts, fl_objstore_sink_write,
                                 w, &pw);
    for (size_t done = 0; !rc && done < n;) {
        size_t batch = n - done < WRITE_BATCH_ROWS ? n - done : WRITE_BATCH_ROWS;
        gather(j, idx + done, batch);
        rc = fl_pq_writer_write(pw, j->cols, batch);
        done += batch;
    }
    if (!rc)
        rc = fl_pq_writer_finish(pw, &sum);
    if (!rc && sum.rows != (int64_t)n)
        rc = FL_ECORRUPT; /* C2, per file */
    fl_pq_writer_destroy(pw);
    return rc;
}

/* Write and publish rows idx[0..n) of the buffer as the job's next output file. */
static int write_output(compact_job *j, const size_t *idx, size_t n)
{
    int rc = grow_outputs(j);
    if (rc)
        return rc;
    fl_lake_file *f = &j->outputs[j->n_outputs];
    memset(f, 0, sizeof *f);
    if ((rc = lake_compacted_key(f->path, sizeof f->path, j->t->spec->prefix, j->part, j->hash,
                                 j->next_index++)))
        return rc;
    /* A catalogued output of the same inputs would mean the inputs were retired already. */
    fl_lake_file *existing = fl_malloc(sizeof *existing);
    rc = existing ? fl_catalog_file_get(j->c->cat, f->path, existing) : FL_ENOMEM;
    fl_free(existing);
    if (rc != FL_ENOTFOUND)
        return rc ? rc : FL_EEXISTS;
    fl_objstore_writer *w = NULL;
    if ((rc = fl_objstore_put_open(j->c->o.store, f->path, &w)) ||
        (rc = encode_rows(j, idx, n, w))) {
        fl_objstore_put_abort(w);
        return rc;
    }
    f->bytes = (int64_t)fl_objstore_put_bytes(w);
    if ((rc = fl_objstore_put_publish(w)))
        return rc;
    j->n_outputs++; /* published: deleted again if the job fails */
    snprintf(f->table_name, sizeof f->table_name, "%s", j->t->spec->table_name);
    f->year = j->part.year;
    f->month = j->part.month;
    f->day = j->part.day;
    f->hour = j->part.hour;
    f->rows = (int64_t)n;
    f->min_ts = INT64_MAX;
    f->max_ts = INT64_MIN;
    for (size_t r = 0; r < n; r++) {
        int64_t ts = event_time(j, idx[r]);
        f->min_ts = ts < f->min_ts ? ts : f->min_ts;
        f->max_ts = ts > f->max_ts ? ts : f->max_ts;
    }
    f->shard = -1; /* not derived from one stream shard: outside delivery's marks (C3) */
    f->retired_at = -1;
    j->rows_out += n;
    j->bytes_out += (uint64_t)f->bytes;
    return 0;
}

/* Sort the buffered rows and write them as files of about target_bytes (one run). */
static int flush_run(compact_job *j)
{
    size_t rows = j->buf.rows;
    if (!rows)
        return 0;
    size_t *perm = fl_malloc(rows * sizeof *perm);
    if (!perm)
        return FL_ENOMEM;
    for (size_t i = 0; i < rows; i++)
        perm[i] = i;
    qsort_r(perm, rows, sizeof *perm, cmp_rows, j);
    /* Split by the inputs' on-disk bytes per row: each file gets at least target_bytes' worth
     * (merged files compress better, so they land a little below it) unless the run is
     * smaller than that, when it is one file. */
    double per_row = j->in.rows ? (double)j->in.bytes / (double)j->in.rows : 0;
    size_t files = (size_t)((double)rows * per_row / (double)j->c->o.target_bytes);
    files = files ? files : 1;
    size_t per_file = (rows + files - 1) / files;
    int rc = 0;
    for (size_t start = 0; !rc && start < rows; start += per_file) {
        if (compact_stopping(j->c))
            rc = FL_ESTOPPED;
        else
            rc = write_output(j, perm + start, rows - start < per_file ? rows - start : per_file);
    }
    fl_free(perm);
    lake_partition_truncate(j->t->spec, &j->buf, 0);
    j->buf_bytes = 0;
    return rc;
}

/* ---- reading --------------------------------------------------------------------------------- */

/* map[i] of a table column the input file lacks (see map_columns). */
#define COLUMN_MISSING SIZE_MAX

/* Map the spec's columns to the file's. A file of an older schema version lacks the columns
 * added since (columns are only appended, nullable: tables.c): they map to COLUMN_MISSING and
 * its rows get NULL there, so the outputs have the current schema. FL_EUNSUPPORTED for any
 * other difference: an unknown or newer version, a column the table does not have, another
 * type, or a missing column that is required or should be there at the file's version. */
static int map_columns(const compact_job *j, fl_pq_reader *r, size_t *map)
{
    const lake_table_spec *spec = j->t->spec;
    const char *version = fl_pq_reader_kv(r, "schema_version");
    char *end = NULL;
    long v = version ? strtol(version, &end, 10) : 0;
    if (!version || end == version || *end || v < 1 || v > FL_LAKE_SCHEMA_VERSION_NUMBER)
        return FL_EUNSUPPORTED;
    size_t found = 0;
    for (size_t i = 0; i < spec->column_count; i++) {
        int k = fl_pq_reader_column_index(r, spec->columns[i].name);
        if (k < 0) {
            if (!spec->columns[i].optional || v == FL_LAKE_SCHEMA_VERSION_NUMBER)
                return FL_EUNSUPPORTED;
            map[i] = COLUMN_MISSING;
            continue;
        }
        const fl_pq_column_def *d = fl_pq_reader_column(r, (size_t)k);
        if (d->physical != spec->columns[i].physical || d->logical != spec->columns[i].logical)
            return FL_EUNSUPPORTED;
        map[i] = (size_t)k;
        found++;
    }
    return found == fl_pq_reader_column_count(r) ? 0 : FL_EUNSUPPORTED;
}

static void reader_value(const fl_pq_column_values *cv, enum fl_pq_physical t, size_t r,
                         lake_value *v)
{
    v->is_null = cv->valid && !cv->valid[r];
    switch (t) {
    case FL_PQ_BOOLEAN: v->v.i32 = ((const uint8_t *)cv->values)[r]; break;
    case FL_PQ_INT32: v->v.i32 = ((const int32_t *)cv->values)[r]; break;
    case FL_PQ_INT64: v->v.i64 = ((const int64_t *)cv->values)[r]; break;
    case FL_PQ_DOUBLE: v->v.d = ((const double *)cv->values)[r]; break;
    case FL_PQ_BYTE_ARRAY: v->v.s = ((const fl_slice *)cv->values)[r]; break;
    }
    if (v->is_null && t == FL_PQ_BYTE_ARRAY)
        v->v.s = (fl_slice){"", 0};
}

/* Append every row of one opened file to the buffer, flushing runs at memory_bytes. */
static int append_file(compact_job *j, fl_pq_reader *r, const size_t *map, lake_value *row,
                       fl_pq_column_values *cv)
{
    const lake_table_spec *spec = j->t->spec;
    int rc = 0;
    for (size_t i = 0; i < spec->column_count; i++)
        if (map[i] == COLUMN_MISSING)
            row[i] = (lake_value){1, {.s = {"", 0}}};
    for (int rg = 0; !rc && rg < fl_pq_reader_row_group_count(r); rg++) {
        int64_t n = fl_pq_reader_row_group_rows(r, rg);
        for (size_t i = 0; !rc && i < spec->column_count; i++)
            if (map[i] != COLUMN_MISSING)
                rc = fl_pq_reader_read_column(r, rg, map[i], &cv[i]);
        for (int64_t k = 0; !rc && k < n; k++) {
            size_t row_bytes = 0;
            for (size_t i = 0; i < spec->column_count; i++)
                if (map[i] != COLUMN_MISSING)
                    reader_value(&cv[i], spec->columns[i].physical, (size_t)k, &row[i]);
            size_t before = j->buf.rows;
            if ((rc = lake_partition_append(spec, &j->buf, row, &row_bytes))) {
                lake_partition_truncate(spec, &j->buf, before);
                break;
            }
            j->rows_in++;
            /* + the sort permutation's slot */
            j->buf_bytes += row_bytes + sizeof(size_t);
            if (j->buf_bytes >= (size_t)j->c->o.memory_bytes)
                rc = flush_run(j);
        }
    }
    return rc;
}

static int read_input(compact_job *j, const fl_lake_file *in, lake_value *row,
                      fl_pq_column_values *cv, size_t *map)
{
    fl_objstore_reader *src = NULL;
    fl_pq_reader *r = NULL;
    int rc = fl_objstore_get_open(j->c->o.store, in->path, &src);
    if (rc)
        goto out;
    uint64_t size = fl_objstore_reader_size(src);
    if (size != (uint64_t)in->bytes) {
        rc = FL_ECORRUPT;
        goto out;
    }
    if ((rc = fl_pq_reader_open(fl_objstore_source_read, src, size, NULL, &r)) ||
        (rc = map_columns(j, r, map)))
        goto out;
    if (fl_pq_reader_rows(r) != in->rows) {
        rc = FL_ECORRUPT; /* C2: the footer disagrees with the catalog */
        goto out;
    }
    rc = append_file(j, r, map, row, cv);
out:
    if (rc && !j->failed_at[0])
        snprintf(j->failed_at, sizeof j->failed_at, "%s", in->path);
    fl_pq_reader_destroy(r);
    fl_objstore_get_close(src);
    return rc;
}

static int read_inputs(compact_job *j)
{
    const lake_table_spec *spec = j->t->spec;
    lake_value *row = fl_calloc(spec->column_count, sizeof *row);
    fl_pq_column_values *cv = fl_calloc(spec->column_count, sizeof *cv);
    size_t *map = fl_calloc(spec->column_count, sizeof *map);
    int rc = row && cv && map ? 0 : FL_ENOMEM;
    for (size_t i = 0; !rc && i < j->in.n; i++) {
        if (compact_stopping(j->c)) {
            rc = FL_ESTOPPED;
            break;
        }
        rc = read_input(j, &j->in.files[i], row, cv, map);
        compact_progress_file(j->c, j->in.files[i].bytes);
    }
    if (!rc)
        rc = flush_run(j);
    fl_free(map);
    fl_free(cv);
    fl_free(row);
    return rc;
}

/* ---- the swap -------------------------------------------------------------------------------- */

static int swap_txn(fl_catalog *cat, void *arg)
{
    compact_job *j = arg;
    int64_t now = compact_now(j->c);
    int rc = 0;
    for (size_t i = 0; !rc && i < j->in.n; i++) {
        rc = fl_catalog_file_retire(cat, j->in.files[i].path, now);
        if (rc == FL_ENOTFOUND)
            rc = FL_EAGAIN; /* no longer live: someone else swapped it (C5 broken?) */
    }
    for (size_t i = 0; !rc && i < j->n_outputs; i++) {
        j->outputs[i].created_at = now;
        rc = fl_catalog_file_insert(cat, &j->outputs[i]);
    }
    return rc;
}

static void log_done(const compact_job *j, int64_t us)
{
    FL_INFO(MODULE, "%s %s/year=%d/month=%d/day=%d/hour=%d: %zu files (%" PRIu64 " bytes) -> "
                    "%zu (%" PRIu64 " bytes), %" PRIu64 " rows sorted, in %.2f s",
            j->t->spec->table_name, j->t->spec->prefix, j->part.year, j->part.month,
            j->part.day, j->part.hour, j->in.n, (uint64_t)j->in.bytes, j->n_outputs,
            j->bytes_out, j->rows_out, (double)us / 1e6);
}

/* The unit tests' crash simulation: a non-zero hook result stops the job as a kill would. */
static int crash_point(compact_job *j, enum lake_compact_step step)
{
    int rc = j->c->crash ? j->c->crash(j->c->crash_ctx, step) : 0;
    j->crashed = rc != 0;
    return rc;
}

/* Steps 2-4 of the notes for a job whose inputs are loaded. */
static int run_job(compact_job *j)
{
    int rc = job_init(j);
    if (!rc)
        rc = read_inputs(j);
    if (!rc && (j->rows_in != j->rows_out || j->rows_in != (uint64_t)j->in.rows)) {
        FL_ERROR(MODULE, "%s: %" PRIu64 " rows read, %" PRIu64 " written, catalog says %" PRId64
                         ": aborted, nothing committed",
                 j->t->spec->table_name, j->rows_in, j->rows_out, j->in.rows);
        rc = FL_ECORRUPT; /* C2 */
    }
    if (rc)
        return rc;
    if ((rc = crash_point(j, LAKE_COMPACT_AFTER_PUBLISH)))
        return rc;
    if ((rc = fl_catalog_transaction(j->c->cat, swap_txn, j)))
        return rc;
    j->committed = 1;
    return crash_point(j, LAKE_COMPACT_AFTER_COMMIT);
}

int compact_partition(fl_compactor *c, const compact_table *t, fl_lake_partition part,
                      fl_compact_stats *stats)
{
    int64_t t0 = fl_time_mono_us();
    compact_job j = {.c = c, .t = t, .part = part};
    int rc = compact_inputs_load(c, t, part, &j.in);
    if (!rc && !compact_inputs_eligible(c, &j.in))
        rc = FL_EAGAIN; /* changed since the plan */
    if (!rc)
        rc = compact_clean_partition(c, t, part, stats);
    if (rc) {
        job_free(&j);
        return rc;
    }
    j.hash = lake_compact_inputs_hash(j.in.paths, j.in.n);
    rc = run_job(&j);
    if (rc && !j.committed && !j.crashed) {
        discard_outputs(&j);
        if (rc != FL_ESTOPPED)
            compact_count_failure(c, t, rc, part, j.failed_at[0] ? j.failed_at : NULL);
    }
    if (!rc || j.committed)
        compact_count_done(c, t, &j, stats);
    if (!rc)
        log_done(&j, fl_time_mono_us() - t0);
    job_free(&j);
    return rc;
}
