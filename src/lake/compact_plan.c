/* compact_plan.c — the compactor around compact.c's per-partition merge: which partitions of
 * which table a pass compacts (closed hours with files to merge), the pass itself, recovery of
 * what a crashed compaction left, deletion of retired files after their grace period, the
 * lock that serialises compactors, and metrics. Design notes: compact.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lake/compact_int.h"

#define MODULE "compact"

#define US_PER_HOUR (INT64_C(3600) * FL_US_PER_SEC)
/* How often a waiting lock polls: invisible next to a compaction, cheap while waiting. */
#define LOCK_POLL_US (100 * FL_US_PER_MS)

/* ---- small helpers shared with compact.c ---------------------------------------------------- */

int compact_stopping(const fl_compactor *c)
{
    return c->o.stop && atomic_load(c->o.stop);
}

int64_t compact_now(const fl_compactor *c)
{
    return c->o.clock ? c->o.clock(c->o.clock_ctx) : fl_time_now_us();
}

void lake_compactor_set_crash_hook(fl_compactor *c, lake_compact_crash_fn fn, void *ctx)
{
    c->crash = fn;
    c->crash_ctx = ctx;
}

static void report(fl_compactor *c, int partition_done)
{
    if (!c->o.progress)
        return;
    c->prog.elapsed_us = fl_time_mono_us() - c->pass_started_us;
    c->prog.partition_done = partition_done;
    c->o.progress(c->o.progress_ctx, &c->prog);
}

void compact_progress_file(fl_compactor *c, int64_t bytes)
{
    c->prog.files_done++;
    c->prog.bytes_done += bytes;
    report(c, 0);
}

static void count(fl_counter_family *f, const char *table, uint64_t n)
{
    if (f)
        fl_counter_add(fl_counter_series(f, table, NULL), n);
}

void compact_count_failure(fl_compactor *c, const compact_table *t, int rc, fl_lake_partition p,
                           const char *file)
{
    if (c->m.failures)
        fl_counter_add(fl_counter_series(c->m.failures, t->spec->table_name, fl_errname(rc)), 1);
    FL_ERROR(MODULE, "%s year=%d/month=%d/day=%d/hour=%d: compaction failed%s%s: %s; nothing "
                     "committed, the inputs stay live (retried at the next pass)",
             t->spec->table_name, p.year, p.month, p.day, p.hour, file ? " at " : "",
             file ? file : "", fl_strerror(rc));
}

void compact_count_done(fl_compactor *c, const compact_table *t, const compact_job *j,
                        fl_compact_stats *stats)
{
    const char *name = t->spec->table_name;
    count(c->m.partitions, name, 1);
    count(c->m.files_in, name, j->in.n);
    count(c->m.files_out, name, j->n_outputs);
    count(c->m.bytes_in, name, (uint64_t)j->in.bytes);
    count(c->m.bytes_out, name, j->bytes_out);
    count(c->m.rows, name, j->rows_out);
    if (!stats)
        return;
    stats->partitions++;
    stats->files_in += j->in.n;
    stats->files_out += j->n_outputs;
    stats->bytes_in += (uint64_t)j->in.bytes;
    stats->bytes_out += j->bytes_out;
    stats->rows += j->rows_out;
}

/* ---- create / destroy ------------------------------------------------------------------------ */

void fl_compact_options_from_config(const fl_config *cfg, fl_compact_options *o)
{
    o->codec = cfg->raw_codec;
    o->target_bytes = cfg->compaction_target_bytes;
    o->memory_bytes = cfg->compaction_memory_bytes;
    o->close_after_us = cfg->compaction_close_after_s * FL_US_PER_SEC;
    o->retire_grace_us = cfg->compaction_retire_grace_s * FL_US_PER_SEC;
}

static size_t column_index(const lake_table_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->column_count; i++)
        if (strcmp(spec->columns[i].name, name) == 0)
            return i;
    abort(); /* a programmer error: the names below are the specs' own */
}

static void table_init(compact_table *t, const lake_table_spec *spec, const char *event,
                       const char *const *sort)
{
    t->spec = spec;
    t->event_column = column_index(spec, event);
    for (t->sort_count = 0; sort[t->sort_count]; t->sort_count++)
        t->sort_columns[t->sort_count] = column_index(spec, sort[t->sort_count]);
}

static int collect(void *ctx, fl_buf *out)
{
    fl_compactor *c = ctx;
    int rc = fl_metrics_write_header(
        out, "fleetlake_compaction_last_duration_seconds", "gauge",
        "Duration of the last compaction pass that compacted or deleted something.");
    if (!rc)
        rc = fl_metrics_write_sample(out, "fleetlake_compaction_last_duration_seconds", NULL,
                                     (double)atomic_load(&c->m.last_duration_us) / 1e6);
    return rc;
}

static int register_metrics(fl_compactor *c)
{
    fl_metrics *m = c->o.metrics;
    if (!m)
        return 0;
    c->m.partitions = fl_metrics_counter(m, "fleetlake_compaction_partitions_total",
                                         "Partitions compacted (outputs swapped in).", "table",
                                         NULL);
    c->m.files_in = fl_metrics_counter(m, "fleetlake_compaction_files_in_total",
                                       "Files merged and retired by compaction.", "table", NULL);
    c->m.files_out = fl_metrics_counter(m, "fleetlake_compaction_files_out_total",
                                        "Files written by compaction.", "table", NULL);
    c->m.bytes_in = fl_metrics_counter(m, "fleetlake_compaction_bytes_in_total",
                                       "Bytes of the files compaction merged.", "table", NULL);
    c->m.bytes_out = fl_metrics_counter(m, "fleetlake_compaction_bytes_out_total",
                                        "Bytes of the files compaction wrote.", "table", NULL);
    c->m.rows = fl_metrics_counter(m, "fleetlake_compaction_rows_total",
                                   "Rows rewritten by compaction.", "table", NULL);
    c->m.failures = fl_metrics_counter(m, "fleetlake_compaction_failures_total",
                                       "Partitions whose compaction failed (nothing committed).",
                                       "table", "error");
    c->m.deleted = fl_metrics_counter(m, "fleetlake_compaction_retired_files_deleted_total",
                                      "Retired files deleted after their grace period.", "table",
                                      NULL);
    c->m.orphans = fl_metrics_counter(m, "fleetlake_compaction_orphans_removed_total",
                                      "Uncommitted compaction outputs removed (crash leftovers).",
                                      "table", NULL);
    if (!c->m.partitions || !c->m.files_in || !c->m.files_out || !c->m.bytes_in ||
        !c->m.bytes_out || !c->m.rows || !c->m.failures || !c->m.deleted || !c->m.orphans)
        return FL_ENOMEM;
    return fl_metrics_add_collector(m, collect, c);
}

int fl_compactor_create(const fl_compact_options *o, fl_compactor **out)
{
    static const char *const raw_sort[] = {"device_id", "timestamp", "shard_id",
                                           "sequence_number", NULL};
    static const char *const rejected_sort[] = {"received_at", "sequence_number", NULL};
    int codec = fl_pq_codec_parse(o->codec ? o->codec : "gzip");
    if (!o->store || !o->meta_path || codec < 0 || o->target_bytes <= 0 || o->memory_bytes <= 0 ||
        o->close_after_us < 0 || o->retire_grace_us < 0)
        return FL_EINVAL;
    if (o->table_name && strcmp(o->table_name, FL_LAKE_RAW_TABLE) != 0 &&
        strcmp(o->table_name, FL_LAKE_REJECTED_TABLE) != 0)
        return FL_ENOTFOUND;
    fl_compactor *c = fl_calloc(1, sizeof *c);
    if (!c)
        return FL_ENOMEM;
    c->o = *o;
    c->codec = (enum fl_pq_codec)codec;
    c->deleted_through_us = INT64_MIN;
    if (!o->table_name || strcmp(o->table_name, FL_LAKE_RAW_TABLE) == 0)
        table_init(&c->tables[c->table_count++], &lake_raw_table, "timestamp", raw_sort);
    if (!o->table_name || strcmp(o->table_name, FL_LAKE_REJECTED_TABLE) == 0)
        table_init(&c->tables[c->table_count++], &lake_rejected_table, "received_at",
                   rejected_sort);
    int rc = fl_catalog_open(o->meta_path, &c->cat);
    if (!rc)
        rc = fl_lake_stores_create(o->store, &c->stores);
    if (!rc)
        rc = register_metrics(c);
    if (rc) {
        fl_compactor_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

void fl_compactor_destroy(fl_compactor *c)
{
    if (!c)
        return;
    fl_catalog_close(c->cat);
    fl_lake_stores_destroy(c->stores);
    fl_free(c);
}

int compact_file_is_hot(const fl_lake_file *f)
{
    return !f->tier[0] || strcmp(f->tier, "hot") == 0;
}

/* ---- inputs ---------------------------------------------------------------------------------- */

void compact_inputs_free(compact_inputs *in)
{
    fl_free(in->files);
    fl_free(in->paths);
    memset(in, 0, sizeof *in);
}

struct load_ctx {
    const fl_compactor *c;
    compact_inputs *in;
};

static int on_input(void *arg, const fl_lake_file *f)
{
    struct load_ctx *l = arg;
    compact_inputs *in = l->in;
    if (!compact_file_is_hot(f))
        return 0; /* C6: the lifecycle's; not an input, not counted as kept */
    if (f->bytes >= l->c->o.target_bytes) {
        in->kept++;
        return 0;
    }
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        fl_lake_file *v = fl_realloc(in->files, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        in->files = v;
        in->cap = cap;
    }
    in->files[in->n++] = *f;
    in->bytes += f->bytes;
    in->rows += f->rows;
    return 0;
}

int compact_inputs_load(fl_compactor *c, const compact_table *t, fl_lake_partition p,
                        compact_inputs *in)
{
    fl_catalog_filter flt = {t->spec->table_name, p.year, p.month, p.day, p.hour, -1,
                             FL_CATALOG_STATE_LIVE};
    struct load_ctx l = {c, in};
    memset(in, 0, sizeof *in);
    int rc = fl_catalog_files_query(c->cat, &flt, on_input, &l); /* ordered by path */
    if (!rc && in->n && !(in->paths = fl_calloc(in->n, sizeof *in->paths)))
        rc = FL_ENOMEM;
    for (size_t i = 0; !rc && i < in->n; i++)
        in->paths[i] = in->files[i].path;
    return rc;
}

/* Worth compacting: at least one input is a delivery file (new since the last compaction of
 * the hour). Compaction outputs alone are final even when below target (merged files compress
 * better than the estimate that sized them): re-merging them would rewrite the hour at every
 * pass without end. They are merged again only together with late delivery files. */
int compact_inputs_eligible(const fl_compactor *c, const compact_inputs *in)
{
    (void)c;
    for (size_t i = 0; i < in->n; i++)
        if (!lake_is_compacted_key(in->files[i].path))
            return 1;
    return 0;
}

/* ---- planning -------------------------------------------------------------------------------- */

/* Live files of a table, one entry each, grouped by hour afterwards. */
struct live_file {
    int64_t hour;
    int64_t bytes, rows;
    int small, compacted;
};

struct scan {
    const fl_compactor *c;
    struct live_file *v;
    size_t n, cap;
};

static int on_live(void *arg, const fl_lake_file *f)
{
    struct scan *s = arg;
    if (f->hour < 0 || !compact_file_is_hot(f))
        return 0; /* not partitioned by hour: not ours; warm or cold: the lifecycle's (C6) */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct live_file *v = fl_realloc(s->v, cap * sizeof *v);
        if (!v)
            return FL_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    fl_lake_partition p = {f->year, f->month, f->day, f->hour};
    s->v[s->n++] = (struct live_file){fl_lake_partition_hour(p), f->bytes, f->rows,
                                      f->bytes < s->c->o.target_bytes,
                                      lake_is_compacted_key(f->path)};
    return 0;
}

static int cmp_live(const void *a, const void *b)
{
    int64_t x = ((const struct live_file *)a)->hour, y = ((const struct live_file *)b)->hour;
    return (x > y) - (x < y);
}

static int plan_push(fl_compact_plan *plan, const fl_compact_item *item)
{
    fl_compact_item *v = fl_realloc(plan->items, (plan->count + 1) * sizeof *v);
    if (!v)
        return FL_ENOMEM;
    plan->items = v;
    plan->items[plan->count++] = *item;
    plan->files += (int64_t)item->files;
    plan->bytes += item->bytes;
    plan->rows += item->rows;
    return 0;
}

/* One hour's files v[0..n) -> a plan item if it is closed and has something to merge. */
static int plan_hour(const fl_compactor *c, const compact_table *t, const struct live_file *v,
                     size_t n, int64_t now, fl_compact_plan *plan)
{
    int64_t hour_end_us = (v[0].hour + 1) * US_PER_HOUR;
    if (!c->o.include_open_hours && hour_end_us + c->o.close_after_us > now)
        return 0; /* open: delivery may still add files */
    fl_compact_item it = {t->spec->table_name, t->spec->prefix, fl_lake_partition_of_hour(v[0].hour),
                          0, 0, 0, 0, 0};
    int delivery_files = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].small) {
            it.files_kept++;
            continue;
        }
        it.files++;
        it.bytes += v[i].bytes;
        it.rows += v[i].rows;
        delivery_files += !v[i].compacted;
    }
    if (!delivery_files)
        return 0; /* see compact_inputs_eligible */
    it.expected_outputs = (size_t)(it.bytes / c->o.target_bytes);
    it.expected_outputs = it.expected_outputs ? it.expected_outputs : 1;
    return plan_push(plan, &it);
}

static int plan_table(const fl_compactor *c, const compact_table *t, int64_t now,
                      fl_compact_plan *plan)
{
    fl_catalog_filter flt = fl_catalog_filter_table(t->spec->table_name);
    flt.state = FL_CATALOG_STATE_LIVE;
    struct scan s = {c, NULL, 0, 0};
    int rc = fl_catalog_files_query(c->cat, &flt, on_live, &s);
    if (!rc && s.n)
        qsort(s.v, s.n, sizeof *s.v, cmp_live);
    for (size_t i = 0; !rc && i < s.n;) {
        size_t end = i + 1;
        while (end < s.n && s.v[end].hour == s.v[i].hour)
            end++;
        rc = plan_hour(c, t, s.v + i, end - i, now, plan);
        i = end;
    }
    fl_free(s.v);
    return rc;
}

int fl_compactor_plan(fl_compactor *c, fl_compact_plan *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = compact_now(c);
    int rc = 0;
    for (size_t i = 0; !rc && i < c->table_count; i++)
        rc = plan_table(c, &c->tables[i], now, out);
    if (rc)
        fl_compact_plan_free(out);
    return rc;
}

void fl_compact_plan_free(fl_compact_plan *p)
{
    fl_free(p->items);
    memset(p, 0, sizeof *p);
}

/* ---- leftovers of crashed compactions -------------------------------------------------------- */

struct orphan_scan {
    fl_compactor *c;
    fl_buf keys; /* NUL-separated uncatalogued compacted-* keys */
    fl_buf dirs; /* NUL-separated directories seen (recovery's sweep of incomplete puts) */
    char last_dir[FL_OBJSTORE_KEY_MAX];
};

static int on_object(void *arg, const char *key, const fl_objstore_info *st)
{
    (void)st;
    struct orphan_scan *s = arg;
    const char *slash = strrchr(key, '/');
    int dl = slash ? (int)(slash - key) : 0;
    int rc = 0;
    /* A partition's files are listed one after another: remember each directory once. */
    if (dl && (strncmp(s->last_dir, key, (size_t)dl) != 0 || s->last_dir[dl] != 0)) {
        snprintf(s->last_dir, sizeof s->last_dir, "%.*s", dl, key);
        if ((rc = fl_buf_append(&s->dirs, key, (size_t)dl)) ||
            (rc = fl_buf_append(&s->dirs, "", 1)))
            return rc;
    }
    if (!lake_is_compacted_key(key))
        return 0;
    fl_lake_file *f = fl_malloc(sizeof *f);
    if (!f)
        return FL_ENOMEM;
    rc = fl_catalog_file_get(s->c->cat, key, f);
    fl_free(f);
    if (rc == FL_ENOTFOUND)
        return fl_buf_append(&s->keys, key, strlen(key) + 1);
    return rc;
}

static int remove_orphans(fl_compactor *c, const compact_table *t, const char *prefix,
                          fl_buf *dirs, fl_compact_stats *stats)
{
    struct orphan_scan *s = fl_calloc(1, sizeof *s);
    if (!s)
        return FL_ENOMEM;
    s->c = c;
    int rc = fl_objstore_list(c->o.store, prefix, on_object, s);
    for (size_t off = 0; !rc && off < s->keys.len; off += strlen(s->keys.data + off) + 1) {
        const char *key = s->keys.data + off;
        rc = fl_objstore_delete(c->o.store, key);
        if (rc == FL_ENOTFOUND)
            rc = 0;
        else if (!rc) {
            if (stats)
                stats->orphans_removed++;
            count(c->m.orphans, t->spec->table_name, 1);
            FL_WARN(MODULE, "removed orphan %s (compaction output never committed: a crash "
                            "between publish and catalog commit; its inputs are still live)",
                    key);
        }
    }
    if (dirs && !rc && s->dirs.len)
        rc = fl_buf_append(dirs, s->dirs.data, s->dirs.len);
    fl_buf_free(&s->keys);
    fl_buf_free(&s->dirs);
    fl_free(s);
    return rc;
}

/* Incomplete compacted-* puts in one directory: with the lock held none is in flight. */
static int sweep_dir(fl_compactor *c, const char *dir, size_t *swept)
{
    char prefix[FL_OBJSTORE_KEY_MAX];
    size_t n = 0;
    if (snprintf(prefix, sizeof prefix, "%s/compacted-", dir) >= (int)sizeof prefix)
        return FL_ERANGE;
    /* objects carry real modification times, whatever clock the compactor was given */
    int rc = fl_objstore_sweep_incomplete(c->o.store, prefix, fl_time_now_us() + 1, &n);
    *swept += n;
    return rc;
}

int compact_clean_partition(fl_compactor *c, const compact_table *t, fl_lake_partition p,
                            fl_compact_stats *stats)
{
    char dir[FL_OBJSTORE_KEY_MAX / 2], prefix[FL_OBJSTORE_KEY_MAX];
    size_t swept = 0;
    if (snprintf(dir, sizeof dir, "%s/year=%d/month=%d/day=%d/hour=%d", t->spec->prefix, p.year,
                 p.month, p.day, p.hour) >= (int)sizeof dir)
        return FL_ERANGE;
    if (snprintf(prefix, sizeof prefix, "%s/compacted-", dir) >= (int)sizeof prefix)
        return FL_ERANGE;
    int rc = remove_orphans(c, t, prefix, NULL, stats);
    if (!rc)
        rc = sweep_dir(c, dir, &swept);
    if (swept)
        FL_INFO(MODULE, "%s: discarded %zu incomplete compaction output(s) left by a crash", dir,
                swept);
    return rc;
}

int fl_compactor_recover(fl_compactor *c, fl_compact_stats *stats)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < c->table_count; i++) {
        const compact_table *t = &c->tables[i];
        char prefix[256];
        fl_buf dirs = {0};
        size_t swept = 0;
        snprintf(prefix, sizeof prefix, "%s/", t->spec->prefix);
        rc = remove_orphans(c, t, prefix, &dirs, stats);
        for (size_t off = 0; !rc && off < dirs.len; off += strlen(dirs.data + off) + 1)
            rc = sweep_dir(c, dirs.data + off, &swept);
        if (swept)
            FL_INFO(MODULE, "%s: discarded %zu incomplete compaction output(s) left by a crash",
                    t->spec->table_name, swept);
        fl_buf_free(&dirs);
    }
    return rc;
}

/* ---- retired files --------------------------------------------------------------------------- */

struct retired_scan {
    fl_buf keys; /* NUL-separated pairs: key, location ("" = the main lake) */
    int64_t after, cutoff;
};

static int on_retired(void *arg, const fl_lake_file *f)
{
    struct retired_scan *s = arg;
    if (f->retired_at < 0 || f->retired_at <= s->after || f->retired_at > s->cutoff)
        return 0;
    int rc = fl_buf_append(&s->keys, f->path, strlen(f->path) + 1);
    return rc ? rc : fl_buf_append(&s->keys, f->location, strlen(f->location) + 1);
}

static int delete_retired_table(fl_compactor *c, const compact_table *t, int64_t cutoff,
                                fl_compact_stats *stats)
{
    fl_catalog_filter flt = fl_catalog_filter_table(t->spec->table_name);
    flt.state = FL_CATALOG_STATE_RETIRED;
    struct retired_scan s = {{0}, c->deleted_through_us, cutoff};
    int rc = fl_catalog_files_query(c->cat, &flt, on_retired, &s);
    size_t deleted = 0;
    for (size_t off = 0; !rc && off < s.keys.len;) {
        const char *key = s.keys.data + off, *location = key + strlen(key) + 1;
        off = (size_t)(location - s.keys.data) + strlen(location) + 1;
        if (compact_stopping(c)) {
            rc = FL_ESTOPPED;
            break;
        }
        fl_objstore *store = NULL; /* a retired file may be a warm one the lifecycle rewrote */
        rc = fl_lake_stores_get(c->stores, location, &store);
        if (!rc)
            rc = fl_objstore_delete(store, key);
        if (rc == FL_ENOTFOUND)
            rc = 0; /* deleted by an earlier pass that did not finish */
        else if (!rc)
            deleted++;
    }
    if (rc && rc != FL_ESTOPPED)
        FL_ERROR(MODULE, "%s: deleting retired files failed: %s (retried at the next pass)",
                 t->spec->table_name, fl_strerror(rc));
    if (deleted)
        FL_INFO(MODULE, "%s: deleted %zu retired file(s) past their grace period",
                t->spec->table_name, deleted);
    count(c->m.deleted, t->spec->table_name, deleted);
    if (stats)
        stats->retired_deleted += deleted;
    fl_buf_free(&s.keys);
    return rc;
}

int fl_compactor_delete_retired(fl_compactor *c, fl_compact_stats *stats)
{
    int64_t cutoff = compact_now(c) - c->o.retire_grace_us;
    int rc = 0;
    for (size_t i = 0; !rc && i < c->table_count; i++)
        rc = delete_retired_table(c, &c->tables[i], cutoff, stats);
    if (!rc && cutoff > c->deleted_through_us)
        c->deleted_through_us = cutoff; /* every earlier retirement is handled */
    return rc;
}

/* ---- a pass ---------------------------------------------------------------------------------- */

static const compact_table *table_of(const fl_compactor *c, const char *name)
{
    for (size_t i = 0; i < c->table_count; i++)
        if (strcmp(c->tables[i].spec->table_name, name) == 0)
            return &c->tables[i];
    return NULL;
}

int fl_compactor_compact(fl_compactor *c, const fl_compact_item *item, fl_compact_stats *stats)
{
    const compact_table *t = table_of(c, item->table_name);
    if (!t)
        return FL_ENOTFOUND;
    if (compact_stopping(c))
        return FL_ESTOPPED;
    int rc = compact_partition(c, t, item->partition, stats);
    if (rc && rc != FL_ESTOPPED && rc != FL_EAGAIN && stats)
        stats->failures++;
    return rc;
}

int fl_compactor_pass(fl_compactor *c, fl_compact_stats *stats)
{
    fl_compact_plan plan;
    fl_compact_stats local = {0};
    stats = stats ? stats : &local;
    c->pass_started_us = fl_time_mono_us();
    int rc = fl_compactor_plan(c, &plan);
    if (rc)
        return rc;
    memset(&c->prog, 0, sizeof c->prog);
    c->prog.item_count = plan.count;
    c->prog.files_total = plan.files;
    c->prog.bytes_total = plan.bytes;
    uint64_t before = stats->partitions + stats->retired_deleted;
    for (size_t i = 0; !rc && i < plan.count; i++) {
        c->prog.item = &plan.items[i];
        c->prog.item_index = i;
        int prc = fl_compactor_compact(c, &plan.items[i], stats);
        if (prc == FL_ESTOPPED)
            rc = prc;
        else if (!prc)
            report(c, 1);
    }
    fl_compact_plan_free(&plan);
    if (!rc)
        rc = fl_compactor_delete_retired(c, stats);
    if (stats->partitions + stats->retired_deleted != before)
        atomic_store(&c->m.last_duration_us, fl_time_mono_us() - c->pass_started_us);
    return rc;
}

/* ---- the lock -------------------------------------------------------------------------------- */

int fl_compact_lock(const char *path, int64_t wait_us, int *fd)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return -errno;
    int64_t deadline = fl_time_mono_us() + wait_us;
    for (;;) {
        if (flock(f, LOCK_EX | LOCK_NB) == 0) {
            *fd = f;
            return 0;
        }
        int rc = errno == EWOULDBLOCK ? (wait_us ? FL_ETIMEOUT : FL_EAGAIN) : -errno;
        if (rc != FL_ETIMEOUT || fl_time_mono_us() >= deadline) {
            close(f);
            return rc;
        }
        usleep((useconds_t)LOCK_POLL_US);
    }
}

void fl_compact_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}
