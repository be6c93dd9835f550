/* lake.c — the lake collector: live files, bytes and rows of every lake table by storage tier
 * (raw-data, processed-data, curated-data ... x hot, cold ...), read from the catalog in
 * meta.db at scrape time. One GROUP BY tier per lake table over lake_files on the collector's
 * own connection (the registry renders one scrape at a time, so it is never shared), at most
 * every LAKE_STATS_MAX_AGE_US; a failed query leaves fleetlake_lake_stats_up at 0 instead of
 * failing the whole scrape. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "monitor/monitor.h"

/* The alert engine renders the registry every second for its pipeline alarms; the lake's
 * files change at most once per flush, so one catalog read serves the renders of 5 s. */
#define LAKE_STATS_MAX_AGE_US (5 * FL_US_PER_SEC)

/* Series per family: lake tables (a handful) x tiers (hot, cold, archive...). 64 bounds the
 * output even if a bug wrote odd tier names into the catalog. */
#define LAKE_SERIES_MAX 64

struct lake_group {
    char table[FL_CATALOG_NAME_MAX];
    char tier[16];
    int64_t files, bytes, rows;
};

typedef struct fl_monitor_lake {
    char *meta_path;
    fl_catalog *catalog; /* opened at the first scrape, reopened after a failure */
    pthread_mutex_t lock;
    struct lake_group groups[LAKE_SERIES_MAX];
    size_t count;
    const char *table; /* the table being read, for on_group */
    int64_t read_mono_us; /* when groups were read; 0: never or failed */
} fl_monitor_lake;

static int on_group(void *arg, const fl_catalog_group *g)
{
    fl_monitor_lake *l = arg;
    if (l->count == LAKE_SERIES_MAX)
        return 0;
    struct lake_group *o = &l->groups[l->count++];
    snprintf(o->table, sizeof o->table, "%s", l->table);
    snprintf(o->tier, sizeof o->tier, "%s", g->tier);
    o->files = g->files;
    o->bytes = g->bytes;
    o->rows = g->rows;
    return 0;
}

/* Fill l->groups from the catalog. */
static int read_catalog(fl_monitor_lake *l)
{
    fl_catalog_table *tables = NULL;
    size_t n = 0;
    int rc = l->catalog ? 0 : fl_catalog_open(l->meta_path, &l->catalog);
    rc = rc ? rc : fl_catalog_tables_list(NULL, &tables, &n); /* the lake tables */
    l->count = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        l->table = tables[i].name;
        rc = fl_catalog_tiers_query(l->catalog, tables[i].name, on_group, l);
    }
    fl_free(tables);
    if (rc) {
        l->count = 0;
        fl_catalog_close(l->catalog); /* a fresh connection next time */
        l->catalog = NULL;
    }
    return rc;
}

static int write_family(fl_buf *out, const fl_monitor_lake *l, const char *name, const char *help,
                        int which)
{
    int rc = fl_metrics_write_header(out, name, "gauge", help);
    for (size_t i = 0; !rc && i < l->count; i++) {
        const struct lake_group *g = &l->groups[i];
        char labels[128];
        snprintf(labels, sizeof labels, "table=\"%s\",tier=\"%s\"", g->table, g->tier);
        int64_t v = which == 0 ? g->files : which == 1 ? g->bytes : g->rows;
        rc = fl_metrics_write_sample(out, name, labels, (double)v);
    }
    return rc;
}

static int collect_lake(void *ctx, fl_buf *out)
{
    fl_monitor_lake *l = ctx;
    pthread_mutex_lock(&l->lock);
    int64_t now = fl_time_mono_us();
    int up = 1;
    if (!l->read_mono_us || now - l->read_mono_us >= LAKE_STATS_MAX_AGE_US) {
        up = read_catalog(l) == 0;
        l->read_mono_us = up ? now : 0;
    }
    int rc = write_family(out, l, "fleetlake_lake_files", "Live lake files by table and tier.", 0);
    rc = rc ? rc
            : write_family(out, l, "fleetlake_lake_bytes",
                           "Bytes of the live lake files by table and tier.", 1);
    rc = rc ? rc
            : write_family(out, l, "fleetlake_lake_rows",
                           "Rows in the live lake files by table and tier.", 2);
    rc = rc ? rc
            : fl_metrics_write_header(out, "fleetlake_lake_stats_up", "gauge",
                                      "1 when the catalog answered this scrape's lake file "
                                      "query, 0 when it failed (the lake families are empty).");
    rc = rc ? rc : fl_metrics_write_sample(out, "fleetlake_lake_stats_up", NULL, up);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static void lake_free(void *ctx)
{
    fl_monitor_lake *l = ctx;
    if (!l)
        return;
    fl_catalog_close(l->catalog);
    pthread_mutex_destroy(&l->lock);
    fl_free(l->meta_path);
    fl_free(l);
}

int fl_monitor_lake_register(fl_metrics *m, const char *meta_path)
{
    fl_monitor_lake *l = fl_calloc(1, sizeof *l);
    if (!l)
        return FL_ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    size_t n = strlen(meta_path) + 1;
    if (!(l->meta_path = fl_malloc(n))) {
        lake_free(l);
        return FL_ENOMEM;
    }
    memcpy(l->meta_path, meta_path, n);
    return fl_metrics_add_collector_owned(m, collect_lake, l, lake_free); /* frees l on error */
}
