/* vtab_group.c — the grouped scan: a lake scan that delivers its rows grouped by device_id in
 * ascending byte order, so that SQLite runs GROUP BY device_id (and ORDER BY device_id) as a
 * stream instead of feeding every row through its sorter. SQLite has no hash aggregation; its
 * sorter costs about a microsecond per row and holds every row in memory, which over a lake of
 * 100 M rows is minutes and gigabytes. Here the scan itself partitions the surviving rows by
 * device while reading them (files are sorted by device, so consecutive rows share a device
 * and the lookup is one pointer compare), then hands them over device by device.
 *
 * NOTES ON THE DESIGN
 *
 * Spool. One entry per distinct device_id (hash table over the key bytes; NULL is its own
 * entry, first in order) with a chain of blocks of growing size. A block holds, columnar,
 * the values of the used columns other than device_id (int64, double or a string slice into
 * the spool's string arena, each with a validity byte) and, when a partition column is used,
 * the index of the row's file. Rows keep their scan order within a device.
 *
 * Passes. The spool is bounded by query.memory_bytes. The key space is cut into ranges by a
 * sorted list of boundary keys, initially none (one range: everything); a pass scans the
 * pruned files again and keeps the rows whose device lies in its range. When a pass outgrows
 * the budget it is abandoned: from the devices seen so far, weighted by their rows, and the
 * share of the catalogued rows read, the range is cut into as many ranges as the estimate
 * needs (at least two), and the pass restarts on the first of them. Ranges are emitted in key
 * order, so the output is sorted, not only grouped. A range of one device that still does not
 * fit fails the statement with out_of_memory, as SQLite's sorter would.
 *
 * Invariants.
 *  G1  Every row the streaming scan would surface (same pruning and row filters) is emitted
 *      exactly once: ranges partition the key space, and a pass reads every pruned file.
 *  G2  Keys are compared as SQLite's BINARY collation does (fl_query_slice_cmp), NULL first:
 *      the order xBestIndex promised.
 *  G3  Memory: the spool's blocks, strings and entries stay within the budget plus one block,
 *      plus the decoded row group of the scan. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "query/query_int.h"

/* Rows per block: a device's first block holds BLOCK_ROWS_MIN rows and each next one twice
 * as many up to BLOCK_ROWS_MAX, so a device with few rows wastes little (many devices, small
 * budgets) and one with many rows pays the header and malloc once per 512 rows. Multiples of
 * 8, which keeps every column's array 8-byte aligned. */
#define BLOCK_ROWS_MIN 16
#define BLOCK_ROWS_MAX 512
/* Fraction of the budget a re-planned range aims at, so estimation error rarely overflows. */
#define PASS_FILL 0.6

typedef struct spool_block {
    struct spool_block *next;
    uint32_t n, cap;
    unsigned char data[]; /* cap rows: value arrays, validity arrays, file indices */
} spool_block;

typedef struct spool_device {
    size_t key_off, key_len; /* in keys */
    int is_null;
    int64_t rows;
    spool_block *first, *last;
} spool_device;

typedef struct range_key {
    char *p;
    size_t n;
} range_key;

struct pq_spool {
    /* layout */
    int ncols;
    int col[PQ_COLUMNS_MAX];  /* table column of spooled column j */
    int kind[PQ_COLUMNS_MAX]; /* 0 int64, 1 double, 2 string */
    /* offsets in a block of cap rows are cap * these (bytes per row before the array) */
    size_t val_off[PQ_COLUMNS_MAX], valid_off[PQ_COLUMNS_MAX], file_off, row_bytes;
    int with_file;
    int spooled_index[PQ_COLUMNS_MAX]; /* table column -> j, or -1 */
    /* contents */
    spool_device *devs;
    size_t dev_count, dev_cap;
    uint32_t *slots; /* hash table: device index + 1, 0 = empty */
    size_t slot_cap;
    int64_t null_dev;
    fl_buf keys, strings;
    size_t bytes;
    int64_t budget; /* 0: none */
    /* ranges: boundaries[0..nb) sorted; pass p covers [b[p-1], b[p]) */
    range_key *bounds;
    size_t nb, pass;
    /* emission */
    uint32_t *order;
    size_t order_count, order_pos;
    spool_block *block;
    uint32_t row;
};

static void clear_contents(pq_spool *s)
{
    for (size_t i = 0; i < s->dev_count; i++)
        for (spool_block *b = s->devs[i].first, *next; b; b = next) {
            next = b->next;
            fl_free(b);
        }
    s->dev_count = 0;
    if (s->slots)
        memset(s->slots, 0, s->slot_cap * sizeof *s->slots);
    s->null_dev = -1;
    s->keys.len = s->strings.len = 0;
    s->bytes = 0;
    fl_free(s->order);
    s->order = NULL;
    s->order_count = s->order_pos = 0;
    s->block = NULL;
    s->row = 0;
}

void pq_group_free(pq_cursor *c)
{
    pq_spool *s = c->spool;
    if (!s)
        return;
    clear_contents(s);
    fl_free(s->devs);
    fl_free(s->slots);
    fl_buf_free(&s->keys);
    fl_buf_free(&s->strings);
    for (size_t i = 0; i < s->nb; i++)
        fl_free(s->bounds[i].p);
    fl_free(s->bounds);
    fl_free(s);
    c->spool = NULL;
}

static pq_spool *spool_create(pq_cursor *c)
{
    pq_vtab *v = (pq_vtab *)c->base.pVtab;
    pq_spool *s = fl_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t n = v->table->column_count, off = 0;
    for (size_t i = 0; i < n; i++) {
        s->spooled_index[i] = -1;
        if ((int)i == v->device_column || !(c->columns_used & ((uint64_t)1 << i)))
            continue;
        int j = s->ncols++;
        s->col[j] = (int)i;
        s->spooled_index[i] = j;
        enum fl_pq_physical t = v->table->columns[i].physical;
        s->kind[j] = t == FL_PQ_DOUBLE ? 1 : t == FL_PQ_BYTE_ARRAY ? 2 : 0;
        s->val_off[j] = off;
        off += s->kind[j] == 2 ? 2 * sizeof(uint64_t) : 8;
    }
    for (int j = 0; j < s->ncols; j++)
        s->valid_off[j] = off++;
    for (int e = 0; e < v->extra_count; e++)
        s->with_file |= (c->columns_used >> (n + (size_t)e)) & 1;
    s->file_off = off;
    s->row_bytes = off + (s->with_file ? sizeof(uint32_t) : 0);
    s->null_dev = -1;
    s->budget = v->session->limits.memory_bytes > 0 ? v->session->limits.memory_bytes : 0;
    return s;
}

/* ---- ranges ---------------------------------------------------------------------------------- */

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    return fl_query_slice_cmp((fl_slice){a, an}, (fl_slice){b, bn});
}

/* Is key (NULL: the NULL device) in the current pass's range? */
static int in_range(const pq_spool *s, const char *p, size_t n, int is_null)
{
    if (s->pass > 0) { /* lower bound b[pass-1], inclusive; NULL sorts below every key */
        const range_key *lo = &s->bounds[s->pass - 1];
        if (is_null || key_cmp(p, n, lo->p, lo->n) < 0)
            return 0;
    }
    if (s->pass < s->nb) {
        const range_key *hi = &s->bounds[s->pass];
        if (!is_null && key_cmp(p, n, hi->p, hi->n) >= 0)
            return 0;
    }
    return 1;
}

/* Insert boundary keys (copied) right after the current pass's lower bound, in order. */
static int insert_bounds(pq_spool *s, const fl_slice *keys, size_t k)
{
    range_key *nb = fl_realloc(s->bounds, (s->nb + k) * sizeof *nb);
    if (!nb)
        return FL_ENOMEM;
    s->bounds = nb;
    memmove(&nb[s->pass + k], &nb[s->pass], (s->nb - s->pass) * sizeof *nb);
    for (size_t i = 0; i < k; i++) {
        nb[s->pass + i].p = fl_malloc(keys[i].len ? keys[i].len : 1);
        nb[s->pass + i].n = keys[i].len;
        if (!nb[s->pass + i].p) {
            for (size_t j = 0; j < i; j++)
                fl_free(nb[s->pass + j].p);
            memmove(&nb[s->pass], &nb[s->pass + k], (s->nb - s->pass) * sizeof *nb);
            return FL_ENOMEM;
        }
        memcpy(nb[s->pass + i].p, keys[i].ptr, keys[i].len);
    }
    s->nb += k;
    return 0;
}

/* ---- devices and rows ------------------------------------------------------------------------ */

static const spool_device *sorted_dev(const pq_spool *s, size_t i)
{
    return &s->devs[s->order[i]];
}

static int cmp_dev(const void *a, const void *b, void *ctx)
{
    const pq_spool *s = ctx;
    const spool_device *x = &s->devs[*(const uint32_t *)a];
    const spool_device *y = &s->devs[*(const uint32_t *)b];
    if (x->is_null || y->is_null)
        return y->is_null - x->is_null;
    return key_cmp(s->keys.data + x->key_off, x->key_len, s->keys.data + y->key_off, y->key_len);
}

/* The spool's devices in key order (NULL first) into s->order. Sorting only the distinct
 * devices of a pass, not its rows. */
static int sort_devices(pq_spool *s)
{
    fl_free(s->order);
    s->order = fl_malloc((s->dev_count ? s->dev_count : 1) * sizeof *s->order);
    if (!s->order)
        return FL_ENOMEM;
    for (size_t i = 0; i < s->dev_count; i++)
        s->order[i] = (uint32_t)i;
    qsort_r(s->order, s->dev_count, sizeof *s->order, cmp_dev, s);
    s->order_count = s->dev_count;
    s->order_pos = 0;
    return 0;
}

static int grow_slots(pq_spool *s)
{
    size_t cap = s->slot_cap ? 2 * s->slot_cap : 1024;
    uint32_t *t = fl_calloc(cap, sizeof *t);
    if (!t)
        return FL_ENOMEM;
    for (size_t i = 0; i < s->dev_count; i++) {
        const spool_device *d = &s->devs[i];
        if (d->is_null)
            continue;
        size_t h = (size_t)fl_hash64(s->keys.data + d->key_off, d->key_len) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = (uint32_t)i + 1;
    }
    s->bytes += (cap - s->slot_cap) * sizeof *t;
    fl_free(s->slots);
    s->slots = t;
    s->slot_cap = cap;
    return 0;
}

static int64_t new_device(pq_spool *s, const char *p, size_t n, int is_null)
{
    if (s->dev_count == s->dev_cap) {
        size_t cap = s->dev_cap ? 2 * s->dev_cap : 256;
        spool_device *d = fl_realloc(s->devs, cap * sizeof *d);
        if (!d)
            return FL_ENOMEM;
        s->bytes += (cap - s->dev_cap) * sizeof *d;
        s->devs = d;
        s->dev_cap = cap;
    }
    spool_device *d = &s->devs[s->dev_count];
    memset(d, 0, sizeof *d);
    d->is_null = is_null;
    d->key_off = s->keys.len;
    d->key_len = n;
    if (!is_null && n && fl_buf_append(&s->keys, p, n))
        return FL_ENOMEM;
    s->bytes += n;
    return (int64_t)s->dev_count++;
}

/* Index of the device entry for key (created if new), or a negative code. */
static int64_t device_of(pq_spool *s, const char *p, size_t n, int is_null)
{
    if (is_null) {
        if (s->null_dev < 0)
            s->null_dev = new_device(s, NULL, 0, 1);
        return s->null_dev;
    }
    if ((s->dev_count + 1) * 2 > s->slot_cap && grow_slots(s))
        return FL_ENOMEM;
    size_t h = (size_t)fl_hash64(p, n) & (s->slot_cap - 1);
    for (; s->slots[h]; h = (h + 1) & (s->slot_cap - 1)) {
        const spool_device *d = &s->devs[s->slots[h] - 1];
        if (!d->is_null && d->key_len == n && memcmp(s->keys.data + d->key_off, p, n) == 0)
            return s->slots[h] - 1;
    }
    int64_t i = new_device(s, p, n, 0);
    if (i >= 0)
        s->slots[h] = (uint32_t)i + 1;
    return i;
}

/* Append row r of the cursor's decoded group to device d. */
static int append_row(pq_cursor *c, pq_spool *s, spool_device *d, int64_t r, uint32_t file)
{
    spool_block *b = d->last;
    if (!b || b->n == b->cap) {
        uint32_t cap = !b ? BLOCK_ROWS_MIN : b->cap < BLOCK_ROWS_MAX ? 2 * b->cap : b->cap;
        size_t bytes = sizeof *b + cap * s->row_bytes;
        b = fl_malloc(bytes);
        if (!b)
            return FL_ENOMEM;
        b->next = NULL;
        b->n = 0;
        b->cap = cap;
        if (d->last)
            d->last->next = b;
        else
            d->first = b;
        d->last = b;
        s->bytes += bytes;
    }
    uint32_t k = b->n++;
    for (int j = 0; j < s->ncols; j++) {
        int col = s->col[j];
        uint8_t *valid = b->data + b->cap * s->valid_off[j];
        const fl_pq_column_values *cv = &c->values[col];
        enum fl_pq_physical t = c->decoded[col] ? c->file_def[col]->physical : FL_PQ_BOOLEAN;
        int kind = t == FL_PQ_DOUBLE ? 1 : t == FL_PQ_BYTE_ARRAY ? 2 : 0;
        /* A file whose column type differs from the table's: NULL, as the streaming scan's
         * slot could not hold it either way. */
        if (!c->decoded[col] || kind != s->kind[j] || (cv->valid && !cv->valid[r])) {
            valid[k] = 0;
            continue;
        }
        valid[k] = 1;
        unsigned char *slot = b->data + b->cap * s->val_off[j];
        switch (c->file_def[col]->physical) {
        case FL_PQ_BOOLEAN:
            ((int64_t *)slot)[k] = ((const uint8_t *)cv->values)[r] != 0;
            break;
        case FL_PQ_INT32:
            ((int64_t *)slot)[k] = ((const int32_t *)cv->values)[r];
            break;
        case FL_PQ_INT64:
            ((int64_t *)slot)[k] = ((const int64_t *)cv->values)[r];
            break;
        case FL_PQ_DOUBLE:
            ((double *)slot)[k] = ((const double *)cv->values)[r];
            break;
        case FL_PQ_BYTE_ARRAY: {
            fl_slice sl = ((const fl_slice *)cv->values)[r];
            uint64_t *pair = (uint64_t *)slot + 2 * k;
            pair[0] = s->strings.len;
            pair[1] = sl.len;
            if (sl.len && fl_buf_append(&s->strings, sl.ptr, sl.len))
                return FL_ENOMEM;
            s->bytes += sl.len;
            break;
        }
        }
    }
    if (s->with_file)
        ((uint32_t *)(b->data + b->cap * s->file_off))[k] = file;
    d->rows++;
    return 0;
}

/* Spool the surviving rows of the current row group that fall in the pass's range. */
static int spool_group(pq_cursor *c, pq_spool *s)
{
    pq_vtab *v = (pq_vtab *)c->base.pVtab;
    int dc = v->device_column;
    const fl_pq_column_values *dv = dc >= 0 && c->decoded[dc] ? &c->values[dc] : NULL;
    uint32_t file = (uint32_t)(c->file - c->files);
    const char *last_ptr = NULL;
    size_t last_len = 0;
    int last_null = -1;
    int64_t last_dev = -1;
    for (size_t j = 0; j < c->sel_count; j++) {
        int64_t r = c->sel ? c->sel[j] : (int64_t)j;
        int is_null = !dv || (dv->valid && !dv->valid[r]);
        fl_slice key = is_null ? (fl_slice){NULL, 0} : ((const fl_slice *)dv->values)[r];
        if (last_null < 0 || is_null != last_null || key.ptr != last_ptr || key.len != last_len) {
            last_null = is_null;
            last_ptr = key.ptr;
            last_len = key.len;
            last_dev = -1; /* out of range */
            if (in_range(s, key.ptr, key.len, is_null)) {
                last_dev = device_of(s, key.ptr, key.len, is_null);
                if (last_dev < 0)
                    return (int)last_dev;
            }
        }
        if (last_dev >= 0) {
            int rc = append_row(c, s, &s->devs[last_dev], r, file);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* The pass outgrew the budget after reading `done` of the pruned files' `total` rows: cut its
 * range in two or more, by the devices seen so far weighted by their rows. */
static int split_pass(pq_spool *s, int64_t done, int64_t total)
{
    if (s->dev_count < 2)
        return FL_ELIMIT; /* one device's rows alone exceed the budget */
    int64_t spooled = 0;
    for (size_t i = 0; i < s->dev_count; i++)
        spooled += s->devs[i].rows;
    double share = total > 0 && done > 0 ? (double)done / (double)total : 1;
    double need = (double)s->bytes / (share > 0 ? share : 1);
    size_t parts = (size_t)ceil(need / ((double)s->budget * PASS_FILL));
    if (parts < 2)
        parts = 2;
    if (parts > s->dev_count)
        parts = s->dev_count;
    int rc = sort_devices(s);
    if (rc)
        return rc;
    fl_slice *keys = fl_malloc((parts - 1) * sizeof *keys);
    if (!keys)
        return FL_ENOMEM;
    size_t k = 0;
    int64_t acc = 0;
    for (size_t i = 0; i + 1 < s->order_count && k < parts - 1; i++) {
        acc += sorted_dev(s, i)->rows;
        /* cut before device i+1 once this part has its share of the rows */
        if ((double)acc >= (double)spooled * (double)(k + 1) / (double)parts) {
            const spool_device *next = sorted_dev(s, i + 1);
            keys[k++] = (fl_slice){s->keys.data + next->key_off, next->key_len};
        }
    }
    /* A NULL device sorts first but cannot be a lower bound; cuts are after it anyway. */
    rc = k ? insert_bounds(s, keys, k) : FL_ELIMIT;
    fl_free(keys);
    return rc;
}

static int check_deadline(pq_cursor *c)
{
    fl_query_session *s = ((pq_vtab *)c->base.pVtab)->session;
    if (s->deadline_mono_us && fl_time_mono_us() > s->deadline_mono_us) {
        s->stop_code = "timeout";
        return pq_scan_set_error(c, "statement stopped after query.timeout_s%s%s", "", "");
    }
    return SQLITE_OK;
}

static int spool_error(pq_cursor *c, int rc)
{
    if (rc == FL_ENOMEM || rc == FL_ELIMIT) {
        pq_scan_set_error(c, "GROUP BY / ORDER BY device_id: %s%s",
                          "one device's rows exceed query.memory_bytes", "");
        return SQLITE_NOMEM;
    }
    return pq_scan_set_error(c, "grouped scan: %s%s", fl_strerror(rc), "");
}

/* Run the current pass: read every pruned file, spool the rows in range; restart on a
 * narrower range while it overflows. Leaves the pass's devices sorted, ready to emit. */
static int run_pass(pq_cursor *c)
{
    pq_spool *s = c->spool;
    int64_t total = 0;
    for (size_t i = 0; i < c->file_count; i++)
        total += c->files[i].rows;
    for (;;) {
        clear_contents(s);
        pq_scan_rewind(c);
        int64_t done = 0;
        int overflow = 0;
        for (;;) {
            int rc = pq_scan_advance_group(c);
            if (rc == SQLITE_OK)
                rc = check_deadline(c);
            if (rc != SQLITE_OK)
                return rc;
            if (c->eof)
                break;
            done += c->group_rows;
            if ((rc = spool_group(c, s)))
                return spool_error(c, rc);
            if (s->budget && (int64_t)(s->bytes + s->keys.cap + s->strings.cap) > s->budget) {
                overflow = 1;
                break;
            }
        }
        if (!overflow)
            break;
        int rc = split_pass(s, done, total);
        if (rc)
            return spool_error(c, rc);
    }
    pq_scan_rewind(c);
    c->eof = 0;
    int rc = sort_devices(s);
    if (rc)
        return spool_error(c, rc);
    s->block = NULL;
    return SQLITE_OK;
}

/* Position on the next row to emit, running further passes as needed. */
static int position(pq_cursor *c)
{
    pq_spool *s = c->spool;
    for (;;) {
        if (s->block && s->row < s->block->n)
            return SQLITE_OK;
        if (s->block && s->block->next) {
            s->block = s->block->next;
            s->row = 0;
            continue;
        }
        if (s->block)
            s->order_pos++;
        if (s->order_pos < s->order_count) {
            s->block = sorted_dev(s, s->order_pos)->first;
            s->row = 0;
            if (!s->block)
                s->order_pos++;
            continue;
        }
        if (s->pass >= s->nb) { /* the last range is done */
            c->eof = 1;
            return SQLITE_OK;
        }
        s->pass++;
        int rc = run_pass(c);
        if (rc != SQLITE_OK)
            return rc;
    }
}

int pq_group_filter(pq_cursor *c)
{
    pq_group_free(c);
    if (!(c->spool = spool_create(c)))
        return SQLITE_NOMEM;
    int rc = run_pass(c);
    return rc == SQLITE_OK ? position(c) : rc;
}

int pq_group_next(pq_cursor *c)
{
    c->spool->row++;
    return position(c);
}

int pq_group_column(pq_cursor *c, sqlite3_context *ctx, int i)
{
    pq_vtab *v = (pq_vtab *)c->base.pVtab;
    const pq_spool *s = c->spool;
    const spool_device *d = sorted_dev(s, s->order_pos);
    int n = (int)v->table->column_count;
    uint32_t k = s->row;
    if (i == v->device_column) {
        if (!d->is_null)
            sqlite3_result_text(ctx, d->key_len ? s->keys.data + d->key_off : "",
                                (int)d->key_len, SQLITE_TRANSIENT);
        return SQLITE_OK;
    }
    if (i >= n) {
        int e = i - n;
        if (!s->with_file || e >= v->extra_count)
            return SQLITE_OK;
        uint32_t f = ((const uint32_t *)(s->block->data + s->block->cap * s->file_off))[k];
        int32_t part = c->files[f].part[v->extra_part[e]];
        if (part >= 0)
            sqlite3_result_int64(ctx, part);
        return SQLITE_OK;
    }
    int j = i >= 0 ? s->spooled_index[i] : -1;
    if (j < 0 || !s->block->data[s->block->cap * s->valid_off[j] + k])
        return SQLITE_OK;
    const unsigned char *slot = s->block->data + s->block->cap * s->val_off[j];
    const fl_pq_column_def *def = &v->table->columns[i];
    switch (s->kind[j]) {
    case 0:
        sqlite3_result_int64(ctx, ((const int64_t *)slot)[k]);
        break;
    case 1:
        sqlite3_result_double(ctx, ((const double *)slot)[k]);
        break;
    default: {
        const uint64_t *pair = (const uint64_t *)slot + 2 * k;
        const char *p = pair[1] ? s->strings.data + pair[0] : "";
        if (def->logical == FL_PQ_LOGICAL_STRING)
            sqlite3_result_text(ctx, p, (int)pair[1], SQLITE_TRANSIENT);
        else
            sqlite3_result_blob(ctx, p, (int)pair[1], SQLITE_TRANSIENT);
        break;
    }
    }
    return SQLITE_OK;
}
