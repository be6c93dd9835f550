/* vtab_scan.c — scanning a lake table: xFilter takes the statement's snapshot of the table's
 * live files from lake_files (the session's read transaction pins it for the whole statement),
 * prunes them by partition and time range, then xNext walks file by file and row group by row
 * group, skipping row groups by statistics (time range, device list) and decoding only the
 * columns the statement uses. Within a row group the pushed-down predicates (device list,
 * time range, numeric comparisons) are evaluated in C on the decoded filter columns first,
 * into a selection vector of surviving rows; the other columns are decoded only if a row
 * survives, and SQLite is shown the surviving rows only. For ORDER/GROUP BY the partition
 * columns the file list is sorted by partition; GROUP BY device_id hands over to vtab_group.c.
 * Memory: the decoded used columns of one row group and its selection vector, plus the pruned
 * file list. */
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
    /* Kept (not read again) so the next file's reader can take its decode buffers. */
    if (c->reader) {
        fl_pq_reader_destroy(c->spare);
        c->spare = c->reader;
    }
    fl_objstore_get_close(c->object);
    c->reader = NULL;
    c->object = NULL;
    c->file = NULL;
    memset(c->decoded, 0, sizeof c->decoded);
}

void fl_query_vtab_cursor_reset(pq_cursor *c)
{
    close_file(c);
    fl_pq_reader_destroy(c->spare);
    c->spare = NULL;
    pq_group_free(c);
    for (size_t i = 0; i < c->file_count; i++)
        fl_free(c->files[i].path);
    fl_free(c->files);
    c->files = NULL;
    c->file_count = c->next_file = 0;
    fl_free(c->device_ids);
    c->device_ids = NULL;
    fl_free(c->sel);
    c->sel = NULL;
    c->sel_cap = c->sel_count = c->sel_pos = 0;
    c->filter_count = 0;
    c->eof = 1;
}

int pq_scan_set_error(pq_cursor *c, const char *fmt, const char *a, const char *b)
{
    sqlite3_free(c->base.pVtab->zErrMsg);
    c->base.pVtab->zErrMsg = sqlite3_mprintf(fmt, a, b);
    return SQLITE_ERROR;
}

static int op_of(char code)
{
    switch (code) {
    case '=':
        return SQLITE_INDEX_CONSTRAINT_EQ;
    case '<':
        return SQLITE_INDEX_CONSTRAINT_LT;
    case '{':
        return SQLITE_INDEX_CONSTRAINT_LE;
    case '>':
        return SQLITE_INDEX_CONSTRAINT_GT;
    case '}':
        return SQLITE_INDEX_CONSTRAINT_GE;
    default:
        return 0;
    }
}

/* The TEXT values of a 'V' (one value) or 'I' (IN list) argument: *count of them, *bytes
 * long in all; *pushable 0 if a value is neither TEXT nor NULL (SQLite's affinity rules then
 * decide: push nothing down). NULLs match nothing and are left out. */
static int device_values(sqlite3_value *arg, int is_list, size_t *count, size_t *bytes,
                         int *pushable, fl_slice *out, char *mem)
{
    sqlite3_value *v = arg;
    int rc = is_list ? sqlite3_vtab_in_first(arg, &v) : SQLITE_OK;
    while (rc == SQLITE_OK && v) {
        int type = sqlite3_value_type(v);
        if (type == SQLITE_TEXT) {
            const unsigned char *t = sqlite3_value_text(v);
            size_t n = (size_t)sqlite3_value_bytes(v);
            if (!t)
                return SQLITE_NOMEM;
            if (out) {
                memcpy(mem + *bytes, t, n);
                out[*count] = (fl_slice){mem + *bytes, n};
            }
            (*count)++;
            *bytes += n;
        } else if (type != SQLITE_NULL) {
            *pushable = 0;
        }
        if (!is_list)
            break;
        rc = sqlite3_vtab_in_next(arg, &v);
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* device_id = / IN arguments: every TEXT value is copied into one block (c->device_ids) and
 * each argument narrows the bounds' device set (an argument of only NULLs empties it). */
static int devices_from_args(pq_cursor *c, const char *items, int argc, sqlite3_value **argv)
{
    size_t count = 0, bytes = 0;
    int rc = SQLITE_OK, any = 0;
    for (int i = 0; i < argc && rc == SQLITE_OK; i++) {
        char code = items[4 * i];
        int pushable = 1;
        if (code == 'V' || code == 'I') {
            any = 1;
            rc = device_values(argv[i], code == 'I', &count, &bytes, &pushable, NULL, NULL);
        }
    }
    if (rc != SQLITE_OK || !any)
        return rc;
    c->device_ids = fl_malloc(count * sizeof *c->device_ids + bytes + 1);
    if (!c->device_ids)
        return SQLITE_NOMEM;
    char *mem = (char *)(c->device_ids + count);
    size_t at = 0, used = 0;
    for (int i = 0; i < argc && rc == SQLITE_OK; i++) {
        char code = items[4 * i];
        int pushable = 1;
        size_t first = at;
        if (code != 'V' && code != 'I')
            continue;
        rc = device_values(argv[i], code == 'I', &at, &used, &pushable, c->device_ids, mem);
        if (rc == SQLITE_OK && pushable)
            fl_query_bounds_set_devices(&c->bounds, c->device_ids + first, at - first);
    }
    return rc;
}

/* Parse idxStr's items against xFilter's arguments into bounds and row filters. */
static int plan_from_args(pq_cursor *c, const char *items, int argc, sqlite3_value **argv)
{
    pq_vtab *v = vtab_of(c);
    fl_query_bounds *b = &c->bounds;
    for (int i = 0; i < argc; i++) {
        if (strlen(items) < 4 * (size_t)(i + 1))
            return pq_scan_set_error(c, "bad index plan%s%s", "", "");
        char code = items[4 * i];
        int op = op_of(items[4 * i + 1]);
        int column = (int)strtol((char[3]){items[4 * i + 2], items[4 * i + 3], 0}, NULL, 16);
        if (code == 'V' || code == 'I')
            continue; /* devices_from_args */
        sqlite3_value *val = argv[i];
        int type = sqlite3_value_type(val);
        if (type == SQLITE_NULL) { /* a comparison with NULL is never true */
            b->empty = 1;
            continue;
        }
        /* TEXT/BLOB against a numeric column: SQLite's own comparison rules decide; push
         * nothing down. */
        if (type != SQLITE_INTEGER && type != SQLITE_FLOAT)
            continue;
        if (code == 'F') {
            fl_query_row_filter *f = NULL;
            for (int k = 0; k < c->filter_count && !f; k++)
                if (c->filters[k].column == column)
                    f = &c->filters[k];
            if (!f && c->filter_count < PQ_ROW_FILTERS_MAX &&
                column < (int)v->table->column_count) {
                f = &c->filters[c->filter_count++];
                fl_query_row_filter_init(f, column,
                                         v->table->columns[column].physical == FL_PQ_DOUBLE);
            }
            if (f && type == SQLITE_INTEGER)
                fl_query_row_filter_add_int(f, op, sqlite3_value_int64(val));
            else if (f)
                fl_query_row_filter_add_real(f, op, sqlite3_value_double(val));
            continue;
        }
        const char *parts = "YMDH";
        int bcol = code == 'T' ? QB_TS : strchr(parts, code) ? (int)(strchr(parts, code) - parts) : -1;
        if (bcol < 0)
            continue;
        if (type == SQLITE_INTEGER)
            fl_query_bounds_add_int(b, bcol, op, sqlite3_value_int64(val));
        else
            fl_query_bounds_add_real(b, bcol, op, sqlite3_value_double(val));
    }
    return devices_from_args(c, items, argc, argv);
}

static int cmp_partition(const void *a, const void *b)
{
    const pq_file *x = a, *y = b;
    for (int k = 0; k < QB_PART_COUNT; k++)
        if (x->part[k] != y->part[k])
            return x->part[k] < y->part[k] ? -1 : 1;
    return strcmp(x->path, y->path);
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
        return pq_scan_set_error(c, "catalog: %s%s", sqlite3_errmsg(s->db), "");
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
        pf->rows = f.rows;
        c->file_count++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
        pq_scan_set_error(c, "catalog: %s%s", sqlite3_errmsg(s->db), "");
    sqlite3_finalize(q);
    if (rc == SQLITE_DONE && c->order == PQ_ORDER_PARTITION && c->file_count > 1)
        qsort(c->files, c->file_count, sizeof *c->files, cmp_partition);
    return rc == SQLITE_DONE ? SQLITE_OK : rc == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
}

static int open_file(pq_cursor *c, const pq_file *f)
{
    pq_vtab *v = vtab_of(c);
    fl_query_session *s = v->session;
    fl_objstore *store = NULL;
    int rc = fl_query_file_store(s, f->path, &store); /* main lake or warm tier */
    if (!rc)
        rc = fl_objstore_get_open(store, f->path, &c->object);
    if (rc)
        return pq_scan_set_error(c, "lake file %s: %s (deleted after compaction during a long query?)",
                         f->path, fl_strerror(rc));
    fl_pq_reader_limits lim = {0};
    if (s->limits.memory_bytes > 0)
        lim.column_chunk_bytes_max = (size_t)s->limits.memory_bytes;
    rc = fl_pq_reader_open(fl_objstore_source_read, c->object, fl_objstore_reader_size(c->object),
                           &lim, &c->reader);
    if (rc) {
        close_file(c);
        return pq_scan_set_error(c, "lake file %s: %s", f->path, fl_strerror(rc));
    }
    /* Decode into the previous file's arrays: no allocation, page faults and unmapping of
     * the same multi-megabyte arrays per file (more than half a device query's time). */
    fl_pq_reader_take_buffers(c->reader, c->spare);
    fl_pq_reader_destroy(c->spare);
    c->spare = NULL;
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

/* Row-group pruning by statistics; also notes whether the time range must be checked row by
 * row (not when the group's statistics lie inside it). */
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
    const fl_query_bounds *b = &c->bounds;
    /* Row by row unless the statistics prove every row is inside the range (an omitted
     * constraint is checked nowhere else). */
    c->filter_time = v->time_column >= 0 && (b->ts_lo > INT64_MIN || b->ts_hi < INT64_MAX) &&
                     !(tsp && tsp->has_min_max && tsp->null_count == 0 &&
                       tsp->min.i >= b->ts_lo && tsp->max.i <= b->ts_hi);
    c->filter_device = b->has_device && v->device_column >= 0;
    return fl_query_row_group_may_match(b, tsp, devp);
}

static int decode(pq_cursor *c, int g, int i)
{
    if (c->decoded[i])
        return SQLITE_OK;
    int rc = fl_pq_reader_read_column(c->reader, g, (size_t)c->file_column[i], &c->values[i]);
    if (rc)
        return pq_scan_set_error(c, "lake file %s: %s", c->file->path, fl_strerror(rc));
    c->decoded[i] = 1;
    return SQLITE_OK;
}

/* Keep the selected rows whose device_id is in the set. Dictionary-encoded strings decode to
 * slices sharing one copy per distinct value, so a run of one device costs one lookup. */
static size_t refine_device(const pq_cursor *c, const fl_pq_column_values *cv, size_t k)
{
    const fl_slice *ids = cv->values;
    const char *last_ptr = NULL;
    size_t last_len = 0, out = 0;
    int last = 0;
    for (size_t j = 0; j < k; j++) {
        uint32_t r = c->sel[j];
        if (cv->valid && !cv->valid[r])
            continue;
        if (!last_ptr || ids[r].ptr != last_ptr || ids[r].len != last_len) {
            last_ptr = ids[r].ptr ? ids[r].ptr : "";
            last_len = ids[r].len;
            last = fl_query_device_match(&c->bounds, (fl_slice){last_ptr, last_len});
        }
        if (last)
            c->sel[out++] = r;
    }
    return out;
}

static size_t refine_int(const pq_cursor *c, const fl_pq_column_values *cv,
                         enum fl_pq_physical type, const fl_query_row_filter *f, size_t k)
{
    size_t out = 0;
    for (size_t j = 0; j < k; j++) {
        uint32_t r = c->sel[j];
        if (cv->valid && !cv->valid[r])
            continue;
        int64_t x = type == FL_PQ_INT64   ? ((const int64_t *)cv->values)[r]
                    : type == FL_PQ_INT32 ? ((const int32_t *)cv->values)[r]
                                          : ((const uint8_t *)cv->values)[r] != 0;
        if (fl_query_row_filter_int(f, x))
            c->sel[out++] = r;
    }
    return out;
}

static size_t refine_real(const pq_cursor *c, const fl_pq_column_values *cv,
                          const fl_query_row_filter *f, size_t k)
{
    size_t out = 0;
    for (size_t j = 0; j < k; j++) {
        uint32_t r = c->sel[j];
        if ((!cv->valid || cv->valid[r]) &&
            fl_query_row_filter_real(f, ((const double *)cv->values)[r]))
            c->sel[out++] = r;
    }
    return out;
}

/* One pushed-down predicate over the selected rows: decode its column, keep the rows that
 * pass. A column the file lacks is NULL to SQLite, which no comparison matches. A file whose
 * column type differs from the table's cannot be filtered exactly: an error. */
static int refine(pq_cursor *c, int g, int column, const fl_query_row_filter *f, int device)
{
    if (column < 0 || c->sel_count == 0)
        return SQLITE_OK;
    if (c->file_column[column] < 0) {
        c->sel_count = 0;
        return SQLITE_OK;
    }
    pq_vtab *v = vtab_of(c);
    enum fl_pq_physical type = c->file_def[column]->physical;
    if (type != v->table->columns[column].physical)
        return pq_scan_set_error(c, "lake file %s: column %s has another type than the table's",
                                 c->file->path, v->table->columns[column].name);
    int rc = decode(c, g, column);
    if (rc != SQLITE_OK)
        return rc;
    const fl_pq_column_values *cv = &c->values[column];
    c->sel_count = device    ? refine_device(c, cv, c->sel_count)
                   : f->is_real ? refine_real(c, cv, f, c->sel_count)
                                : refine_int(c, cv, type, f, c->sel_count);
    return SQLITE_OK;
}

/* Row-level access (a key limited to fleets or devices): keep the selected rows whose device
 * the session may see; rows of no known device are not shown to a restricted key. The last
 * device's answer is cached across groups: files are sorted by device. */
static int refine_access(pq_cursor *c, int g)
{
    pq_vtab *v = vtab_of(c);
    const fl_query_session *s = v->session;
    if (v->device_column < 0 || c->file_column[v->device_column] < 0 ||
        c->file_def[v->device_column]->physical != FL_PQ_BYTE_ARRAY) {
        c->sel_count = 0;
        return SQLITE_OK;
    }
    int rc = decode(c, g, v->device_column);
    if (rc != SQLITE_OK)
        return rc;
    const fl_pq_column_values *cv = &c->values[v->device_column];
    const fl_slice *ids = cv->values;
    size_t out = 0;
    for (size_t j = 0; j < c->sel_count; j++) {
        uint32_t r = c->sel[j];
        if (cv->valid && !cv->valid[r])
            continue;
        fl_slice id = ids[r];
        int ok;
        if (c->access_cache_len == id.len && id.len <= sizeof c->access_cache &&
            (id.len == 0 || memcmp(c->access_cache, id.ptr, id.len) == 0)) {
            ok = c->access_cache_ok;
        } else {
            ok = fl_access_device_allowed(&s->access, id.ptr, id.len);
            if (id.len <= sizeof c->access_cache) {
                if (id.len)
                    memcpy(c->access_cache, id.ptr, id.len);
                c->access_cache_len = id.len;
                c->access_cache_ok = ok;
            }
        }
        if (ok)
            c->sel[out++] = r;
    }
    c->sel_count = out;
    return SQLITE_OK;
}

/* Apply the row filters of group g: c->sel lists the surviving rows (NULL: all rows). */
static int select_rows(pq_cursor *c, int g)
{
    pq_vtab *v = vtab_of(c);
    size_t n = (size_t)c->group_rows;
    if (!c->filter_device && !c->filter_time && c->filter_count == 0 &&
        !v->session->rows_restricted) {
        c->sel_count = n;
        fl_free(c->sel);
        c->sel = NULL;
        c->sel_cap = 0;
        return SQLITE_OK;
    }
    if (n > c->sel_cap || !c->sel) {
        uint32_t *p = fl_realloc(c->sel, (n ? n : 1) * sizeof *p);
        if (!p)
            return SQLITE_NOMEM;
        c->sel = p;
        c->sel_cap = n ? n : 1;
    }
    for (size_t r = 0; r < n; r++)
        c->sel[r] = (uint32_t)r;
    c->sel_count = n;
    int rc = v->session->rows_restricted ? refine_access(c, g) : SQLITE_OK;
    fl_query_row_filter unused;
    fl_query_row_filter_init(&unused, -1, 0);
    if (c->filter_device)
        rc = refine(c, g, v->device_column, &unused, 1);
    if (rc == SQLITE_OK && c->filter_time) {
        fl_query_row_filter t;
        fl_query_row_filter_init(&t, v->time_column, 0);
        t.ilo = c->bounds.ts_lo;
        t.ihi = c->bounds.ts_hi;
        rc = refine(c, g, v->time_column, &t, 0);
    }
    for (int k = 0; rc == SQLITE_OK && k < c->filter_count; k++)
        rc = refine(c, g, c->filters[k].column, &c->filters[k], 0);
    return rc;
}

/* Decode group g: the filter columns, then — if a row survives — the other used columns. */
static int read_group(pq_cursor *c, int g)
{
    pq_vtab *v = vtab_of(c);
    memset(c->decoded, 0, sizeof c->decoded);
    c->group_rows = fl_pq_reader_row_group_rows(c->reader, g);
    c->sel_pos = 0;
    int rc = select_rows(c, g);
    for (size_t i = 0; rc == SQLITE_OK && c->sel_count > 0 && i < v->table->column_count; i++)
        if ((c->columns_used & ((uint64_t)1 << i)) && c->file_column[i] >= 0)
            rc = decode(c, g, (int)i);
    c->row = c->sel_count > 0 ? (c->sel ? c->sel[0] : 0) : 0;
    return rc;
}

/* Move to the next row group with rows that may match, opening files as needed. */
int pq_scan_advance_group(pq_cursor *c)
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
                st->rows_scanned += c->group_rows;
                if (c->sel_count > 0)
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

void pq_scan_rewind(pq_cursor *c)
{
    close_file(c);
    c->next_file = 0;
    c->eof = 0;
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
        c->columns_used |= (uint64_t)1 << v->device_column; /* for the access check */
    c->access_cache_len = SIZE_MAX;
    /* "<colUsed>:<order>:<items>" */
    const char *colon = idx_str ? strchr(idx_str, ':') : NULL;
    c->order = colon && colon[1] && colon[2] == ':' ? colon[1] : PQ_ORDER_NONE;
    const char *items = colon && colon[1] && colon[2] == ':' ? colon + 3 : "";
    int rc = plan_from_args(c, items, argc, argv);
    if (rc != SQLITE_OK)
        return rc;
    fl_query_scan_stats *st = &v->session->stats[v->table_index];
    st->scans++;
    c->eof = 0;
    c->rowid = 0;
    rc = load_files(c, st);
    if (rc != SQLITE_OK)
        return rc;
    if (c->order == PQ_ORDER_DEVICE)
        return pq_group_filter(c);
    return pq_scan_advance_group(c);
}

int fl_query_vtab_next(sqlite3_vtab_cursor *cur)
{
    pq_cursor *c = (pq_cursor *)cur;
    c->rowid++;
    if (c->spool)
        return pq_group_next(c);
    if (++c->sel_pos < c->sel_count) {
        c->row = c->sel ? c->sel[c->sel_pos] : (int64_t)c->sel_pos;
        return SQLITE_OK;
    }
    return pq_scan_advance_group(c);
}

int fl_query_vtab_eof(sqlite3_vtab_cursor *cur)
{
    return ((pq_cursor *)cur)->eof;
}

int fl_query_vtab_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    pq_cursor *c = (pq_cursor *)cur;
    if (c->spool)
        return pq_group_column(c, ctx, i);
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
