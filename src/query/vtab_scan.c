/* vtab_scan.c — scanning a lake table: xFilter takes the statement's snapshot of the table's
 * live files from lake_files (the session's read transaction pins it for the whole statement),
 * prunes them by partition and time range, then xNext walks file by file and row group by row
 * group, skipping row groups by statistics and decoding only the columns the statement uses.
 * Memory: the decoded used columns of one row group, plus the pruned file list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

static pq_vtab *vtab_of(pq_cursor *c)
{
    return (pq_vtab *)c->base.pVtab;
}

static void close_file(pq_cursor *c)
{
    if (c->reader && c->file)
        fl_query_note_file(vtab_of(c)->session, c->file->path, c->file_groups_read,
                           c->file_groups_skipped);
    fl_pq_reader_destroy(c->reader);
    fl_objstore_get_close(c->object);
    c->reader = NULL;
    c->object = NULL;
    c->file = NULL;
    memset(c->decoded, 0, sizeof c->decoded);
}

void fl_query_vtab_cursor_reset(pq_cursor *c)
{
    close_file(c);
    for (size_t i = 0; i < c->file_count; i++)
        fl_free(c->files[i].path);
    fl_free(c->files);
    c->files = NULL;
    c->file_count = c->next_file = 0;
    c->eof = 1;
}

static int set_error(pq_cursor *c, const char *fmt, const char *a, const char *b)
{
    sqlite3_free(c->base.pVtab->zErrMsg);
    c->base.pVtab->zErrMsg = sqlite3_mprintf(fmt, a, b);
    return SQLITE_ERROR;
}

static void bounds_from_args(fl_query_bounds *b, const char *pairs, int argc, sqlite3_value **argv)
{
    for (int i = 0; i < argc && pairs[2 * i] && pairs[2 * i + 1]; i++) {
        char col = pairs[2 * i];
        int op = 0;
        switch (pairs[2 * i + 1]) {
        case '=':
            op = SQLITE_INDEX_CONSTRAINT_EQ;
            break;
        case '<':
            op = SQLITE_INDEX_CONSTRAINT_LT;
            break;
        case '{':
            op = SQLITE_INDEX_CONSTRAINT_LE;
            break;
        case '>':
            op = SQLITE_INDEX_CONSTRAINT_GT;
            break;
        case '}':
            op = SQLITE_INDEX_CONSTRAINT_GE;
            break;
        }
        sqlite3_value *v = argv[i];
        int type = sqlite3_value_type(v);
        if (type == SQLITE_NULL) { /* a comparison with NULL is never true */
            b->empty = 1;
            continue;
        }
        if (col == 'V') {
            const unsigned char *t = sqlite3_value_text(v);
            if (type == SQLITE_TEXT && t && strlen((const char *)t) < sizeof b->device_id &&
                !b->has_device) {
                b->has_device = 1;
                snprintf(b->device_id, sizeof b->device_id, "%s", t);
            }
            continue;
        }
        int column = col == 'T' ? QB_TS : (int)(strchr("YMDH", col) - "YMDH");
        if (type == SQLITE_INTEGER)
            fl_query_bounds_add_int(b, column, op, sqlite3_value_int64(v));
        else if (type == SQLITE_FLOAT)
            fl_query_bounds_add_real(b, column, op, sqlite3_value_double(v));
        /* TEXT/BLOB against an INTEGER column: SQLite's own comparison rules decide; push
         * nothing down. */
    }
}

/* The statement's snapshot of live files, pruned. The session's read transaction (opened
 * before the statement) makes every call in one statement see the same rows. */
static int load_files(pq_cursor *c, fl_query_scan_stats *st)
{
    pq_vtab *v = vtab_of(c);
    fl_query_session *s = v->session;
    sqlite3_stmt *q = NULL;
    int saved = s->trusted, rc = SQLITE_OK;
    s->trusted = 1;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT path, year, month, day, hour, rows, bytes, min_ts, max_ts "
                           "FROM lake_files WHERE table_name = ?1 AND state = 'live' ORDER BY path",
                           -1, &q, NULL) != SQLITE_OK) {
        s->trusted = saved;
        return set_error(c, "catalog: %s%s", sqlite3_errmsg(s->db), "");
    }
    s->trusted = saved;
    sqlite3_bind_text(q, 1, v->table->name, -1, SQLITE_STATIC);
    size_t cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        fl_lake_file f;
        memset(&f, 0, sizeof f);
        f.year = sqlite3_column_int(q, 1);
        f.month = sqlite3_column_int(q, 2);
        f.day = sqlite3_column_int(q, 3);
        f.hour = sqlite3_column_type(q, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 4);
        f.rows = sqlite3_column_int64(q, 5);
        f.min_ts = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 7);
        f.max_ts = sqlite3_column_type(q, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 8);
        st->partitions_considered++;
        st->bytes_considered += sqlite3_column_int64(q, 6);
        if (!fl_query_file_may_match(&c->bounds, &f, v->table->partitioned_by_hour)) {
            st->partitions_pruned++;
            continue;
        }
        if (c->file_count == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            pq_file *nf = fl_realloc(c->files, ncap * sizeof *nf);
            if (!nf) {
                rc = SQLITE_NOMEM;
                break;
            }
            c->files = nf;
            cap = ncap;
        }
        pq_file *pf = &c->files[c->file_count];
        pf->path = fl_strdup((const char *)sqlite3_column_text(q, 0));
        if (!pf->path) {
            rc = SQLITE_NOMEM;
            break;
        }
        pf->part[QB_YEAR] = f.year;
        pf->part[QB_MONTH] = f.month;
        pf->part[QB_DAY] = f.day;
        pf->part[QB_HOUR] = f.hour;
        c->file_count++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
        set_error(c, "catalog: %s%s", sqlite3_errmsg(s->db), "");
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? SQLITE_OK : rc == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
}

static int open_file(pq_cursor *c, const pq_file *f)
{
    pq_vtab *v = vtab_of(c);
    fl_query_session *s = v->session;
    int rc = fl_objstore_get_open(s->store, f->path, &c->object);
    if (rc)
        return set_error(c, "lake file %s: %s (deleted after compaction during a long query?)",
                         f->path, fl_strerror(rc));
    fl_pq_reader_limits lim = {0};
    if (s->limits.memory_bytes > 0)
        lim.column_chunk_bytes_max = (size_t)s->limits.memory_bytes;
    rc = fl_pq_reader_open(fl_objstore_source_read, c->object, fl_objstore_reader_size(c->object),
                           &lim, &c->reader);
    if (rc) {
        close_file(c);
        return set_error(c, "lake file %s: %s", f->path, fl_strerror(rc));
    }
    for (size_t i = 0; i < v->table->column_count; i++) {
        int k = fl_pq_reader_column_index(c->reader, v->table->columns[i].name);
        c->file_column[i] = k;
        c->file_def[i] = k >= 0 ? fl_pq_reader_column(c->reader, (size_t)k) : NULL;
    }
    c->file = f;
    c->file_groups_read = c->file_groups_skipped = 0;
    c->row_group = -1;
    c->row_group_count = fl_pq_reader_row_group_count(c->reader);
    s->stats[v->table_index].files_opened++;
    return SQLITE_OK;
}

static int group_may_match(pq_cursor *c, int g)
{
    pq_vtab *v = vtab_of(c);
    fl_pq_stats ts, dev;
    const fl_pq_stats *tsp = NULL, *devp = NULL;
    if (v->time_column >= 0 && c->file_column[v->time_column] >= 0 &&
        fl_pq_reader_stats(c->reader, g, (size_t)c->file_column[v->time_column], &ts) == 0 &&
        c->file_def[v->time_column]->physical == FL_PQ_INT64)
        tsp = &ts;
    if (c->bounds.has_device && v->device_column >= 0 && c->file_column[v->device_column] >= 0 &&
        fl_pq_reader_stats(c->reader, g, (size_t)c->file_column[v->device_column], &dev) == 0 &&
        c->file_def[v->device_column]->physical == FL_PQ_BYTE_ARRAY)
        devp = &dev;
    return fl_query_row_group_may_match(&c->bounds, tsp, devp);
}

static int read_group(pq_cursor *c, int g)
{
    pq_vtab *v = vtab_of(c);
    memset(c->decoded, 0, sizeof c->decoded);
    for (size_t i = 0; i < v->table->column_count; i++) {
        if (!(c->columns_used & ((uint64_t)1 << i)) || c->file_column[i] < 0)
            continue;
        int rc = fl_pq_reader_read_column(c->reader, g, (size_t)c->file_column[i], &c->values[i]);
        if (rc)
            return set_error(c, "lake file %s: %s", c->file->path, fl_strerror(rc));
        c->decoded[i] = 1;
    }
    c->group_rows = fl_pq_reader_row_group_rows(c->reader, g);
    c->row = 0;
    return SQLITE_OK;
}

/* Move to the next row group with rows that may match, opening files as needed. */
static int advance_group(pq_cursor *c)
{
    pq_vtab *v = vtab_of(c);
    fl_query_scan_stats *st = &v->session->stats[v->table_index];
    for (;;) {
        if (c->reader) {
            while (++c->row_group < c->row_group_count) {
                if (!group_may_match(c, c->row_group)) {
                    st->row_groups_skipped++;
                    c->file_groups_skipped++;
                    continue;
                }
                int rc = read_group(c, c->row_group);
                if (rc != SQLITE_OK)
                    return rc;
                st->row_groups_read++;
                c->file_groups_read++;
                if (c->group_rows > 0)
                    return SQLITE_OK;
            }
            close_file(c);
        }
        if (c->next_file >= c->file_count) {
            c->eof = 1;
            return SQLITE_OK;
        }
        int rc = open_file(c, &c->files[c->next_file++]);
        if (rc != SQLITE_OK)
            return rc;
    }
}

/* Row-level access (a key limited to fleets or devices): 1 when the current row's device
 * may be seen. The last device's answer is cached: files are sorted by device. */
static int row_visible(pq_cursor *c)
{
    pq_vtab *v = vtab_of(c);
    const fl_query_session *s = v->session;
    if (!s->rows_restricted)
        return 1;
    if (v->device_column < 0 || !c->decoded[v->device_column])
        return 0; /* rows of no known device are not shown to a restricted key */
    const fl_pq_column_values *cv = &c->values[v->device_column];
    if (cv->valid && !cv->valid[c->row])
        return 0;
    fl_slice id = ((const fl_slice *)cv->values)[c->row];
    if (c->access_cache_len == id.len && id.len <= sizeof c->access_cache &&
        memcmp(c->access_cache, id.ptr, id.len) == 0)
        return c->access_cache_ok;
    int ok = fl_access_device_allowed(&s->access, id.ptr, id.len);
    if (id.len <= sizeof c->access_cache) {
        memcpy(c->access_cache, id.ptr, id.len);
        c->access_cache_len = id.len;
        c->access_cache_ok = ok;
    }
    return ok;
}

static int next_row(pq_cursor *c);

/* Skip rows the session may not see. */
static int skip_hidden(pq_cursor *c)
{
    int rc = SQLITE_OK;
    while (rc == SQLITE_OK && !c->eof && !row_visible(c))
        rc = next_row(c);
    return rc;
}

int fl_query_vtab_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                         sqlite3_value **argv)
{
    (void)idx_num;
    pq_cursor *c = (pq_cursor *)cur;
    pq_vtab *v = vtab_of(c);
    fl_query_vtab_cursor_reset(c);
    fl_query_bounds_init(&c->bounds);
    c->columns_used = idx_str ? strtoull(idx_str, NULL, 16) : ~(uint64_t)0;
    if ((int)v->table->column_count >= 63)
        c->columns_used = ~(uint64_t)0;
    if (v->session->rows_restricted && v->device_column >= 0)
        c->columns_used |= (uint64_t)1 << v->device_column; /* for row_visible */
    c->access_cache_len = SIZE_MAX;
    const char *pairs = idx_str && strchr(idx_str, ':') ? strchr(idx_str, ':') + 1 : "";
    bounds_from_args(&c->bounds, pairs, argc, argv);
    fl_query_scan_stats *st = &v->session->stats[v->table_index];
    st->scans++;
    c->eof = 0;
    c->rowid = 0;
    int rc = load_files(c, st);
    if (rc != SQLITE_OK)
        return rc;
    rc = advance_group(c);
    if (rc == SQLITE_OK && !c->eof)
        st->rows_scanned++;
    return rc == SQLITE_OK ? skip_hidden(c) : rc;
}

int fl_query_vtab_next(sqlite3_vtab_cursor *cur)
{
    pq_cursor *c = (pq_cursor *)cur;
    int rc = next_row(c);
    return rc == SQLITE_OK ? skip_hidden(c) : rc;
}

static int next_row(pq_cursor *c)
{
    c->rowid++;
    if (++c->row < c->group_rows) {
        vtab_of(c)->session->stats[vtab_of(c)->table_index].rows_scanned++;
        return SQLITE_OK;
    }
    int rc = advance_group(c);
    if (rc == SQLITE_OK && !c->eof)
        vtab_of(c)->session->stats[vtab_of(c)->table_index].rows_scanned++;
    return rc;
}

int fl_query_vtab_eof(sqlite3_vtab_cursor *cur)
{
    return ((pq_cursor *)cur)->eof;
}

int fl_query_vtab_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    pq_cursor *c = (pq_cursor *)cur;
    pq_vtab *v = vtab_of(c);
    int n = (int)v->table->column_count;
    if (i >= n) {
        int k = i - n < v->extra_count ? v->extra_part[i - n] : -1;
        if (k >= 0 && c->file && c->file->part[k] >= 0)
            sqlite3_result_int64(ctx, c->file->part[k]);
        return SQLITE_OK; /* NULL by default */
    }
    if (i < 0 || !c->decoded[i])
        return SQLITE_OK;
    const fl_pq_column_values *cv = &c->values[i];
    int64_t r = c->row;
    if (cv->valid && !cv->valid[r])
        return SQLITE_OK;
    const fl_pq_column_def *d = c->file_def[i];
    switch (d->physical) {
    case FL_PQ_BOOLEAN:
        sqlite3_result_int(ctx, ((const uint8_t *)cv->values)[r] != 0);
        break;
    case FL_PQ_INT32:
        sqlite3_result_int64(ctx, ((const int32_t *)cv->values)[r]);
        break;
    case FL_PQ_INT64:
        sqlite3_result_int64(ctx, ((const int64_t *)cv->values)[r]);
        break;
    case FL_PQ_DOUBLE:
        sqlite3_result_double(ctx, ((const double *)cv->values)[r]);
        break;
    case FL_PQ_BYTE_ARRAY: {
        fl_slice sl = ((const fl_slice *)cv->values)[r];
        if (d->logical == FL_PQ_LOGICAL_STRING)
            sqlite3_result_text(ctx, sl.ptr ? sl.ptr : "", (int)sl.len, SQLITE_TRANSIENT);
        else
            sqlite3_result_blob(ctx, sl.ptr ? sl.ptr : "", (int)sl.len, SQLITE_TRANSIENT);
        break;
    }
    }
    return SQLITE_OK;
}
