/* check.c — `fleetlake check --data DIR [--repair]`: verify everything fleetlake keeps.
 *
 * 1. The stream and the dead-letter log: every batch's CRC32C and every record decodes
 *    (read-only, so it is safe while `serve` runs); quarantined segments are reported.
 * 2. meta.db: SQLite's integrity_check.
 * 3. The lake against its catalog: every live catalogued file exists where its row says (the
 *    main lake, or the lifecycle's warm directory), has a valid Parquet footer, and its size and
 *    row count match its catalog row; no Parquet file sits in the lake or a warm directory
 *    without a catalog row (an orphan) or a scheduled deletion (lake_deletes: replaced by a
 *    lifecycle move, deleted after the grace); no stale incomplete upload (*.tmp) is left.
 * Prints one line per finding and a summary; exits 1 on any problem, 0 when clean, 2 on usage
 * errors. --repair does only safe things: orphans and stale uploads are moved to
 * <data>/lake-quarantine/ (never deleted), and while a server runs on the directory only files
 * older than ORPHAN_GRACE_US are touched, since a file published a moment ago may be waiting for
 * its catalog row. */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "lake/lake.h"
#include "parquet/parquet.h"
#include "stream/stream.h"

/* A lake file younger than this may be between its publish and its catalog commit (delivery
 * commits within seconds of publishing); only older orphans are reported as problems. */
#define ORPHAN_GRACE_US (10 * 60 * FL_US_PER_SEC)

struct check {
    const char *data_dir;
    int repair;
    int server_running;
    int64_t now_us;
    long problems;
    long repaired;
    fl_catalog *catalog;
    fl_objstore *lake;
    fl_lake_stores *stores; /* resolves lake_files.location */
    /* "<location>|<path>" of catalogued files (every state; location "" = the main lake),
     * sorted, for the orphan scan; the same for scheduled deletions */
    char **paths;
    size_t path_count, path_cap;
    char **scheduled;
    size_t scheduled_count, scheduled_cap;
    /* distinct non-main locations (warm directories) seen in the catalog */
    char **locations;
    size_t location_count, location_cap;
    const char *listing; /* location whose store check_object is listing ("" main) */
};

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("PROBLEM ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    c->problems++;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: fleetlake check [--data DIR] [--repair]\n"
                 "Verify the stream's CRCs, meta.db, and that the lake matches its catalog.\n"
                 "Exits 1 if anything is wrong. Safe while `serve` runs.\n\n"
                 "  --data DIR   data directory (default ./fleetlake-data)\n"
                 "  --repair     move orphaned and stale incomplete lake files to\n"
                 "               DIR/lake-quarantine/ (nothing is ever deleted)\n");
}

/* ---- 1. stream ------------------------------------------------------------------------------ */

static int decode_payload(const fl_stream_record *r)
{
    fl_record rec;
    fl_dead_letter dl;
    if (r->kind == FL_STREAM_KIND_SENSOR)
        return fl_record_decode(r->payload.ptr, r->payload.len, &rec);
    if (r->kind == FL_STREAM_KIND_DEAD_LETTER)
        return fl_dead_letter_decode(r->payload.ptr, r->payload.len, &dl);
    return r->kind == FL_STREAM_KIND_BLOB ? 0 : FL_ECORRUPT;
}

static void check_quarantine(struct check *c, const char *dir)
{
    char q[4300];
    if (snprintf(q, sizeof q, "%s/quarantine", dir) >= (int)sizeof q)
        return;
    DIR *d = opendir(q);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            problem(c, "%s/%s: quarantined segment (corruption found at recovery; inspect, then "
                       "remove it by hand)", q, e->d_name);
    closedir(d);
}

static void check_stream(struct check *c, const char *rel)
{
    char dir[4200];
    if (fl_cli_path(dir, sizeof dir, c->data_dir, rel))
        return;
    fl_config cfg;
    fl_stream_options opts;
    fl_config_defaults(&cfg);
    fl_stream_options_from_config(&cfg, &opts);
    opts.dir = dir;
    opts.shard_count = 0;
    opts.read_only = 1;
    fl_stream *s;
    int rc = fl_stream_open(&opts, &s, NULL);
    if (rc == FL_ENOTFOUND) {
        printf("ok      %s: no stream yet\n", dir);
        return;
    }
    if (rc) {
        problem(c, "%s: cannot open: %s", dir, fl_strerror(rc));
        return;
    }
    for (uint32_t shard = 0; shard < fl_stream_shard_count(s); shard++) {
        fl_stream_reader *r;
        uint64_t n = 0, bad = 0, last = 0;
        if ((rc = fl_stream_reader_open(s, shard, FL_STREAM_TRIM_HORIZON, 0, &r))) {
            problem(c, "%s shard-%04u: cannot read: %s", dir, shard, fl_strerror(rc));
            continue;
        }
        fl_stream_record rec;
        while ((rc = fl_stream_reader_next(r, &rec)) == 1) {
            n++;
            last = rec.seq;
            if (decode_payload(&rec))
                bad++;
        }
        fl_stream_reader_close(r);
        if (rc < 0)
            problem(c, "%s shard-%04u: after seq %" PRIu64 ": %s", dir, shard, last,
                    fl_strerror(rc));
        else if (bad)
            problem(c, "%s shard-%04u: %" PRIu64 " records do not decode", dir, shard, bad);
        else
            printf("ok      %s shard-%04u: %" PRIu64 " records, CRCs valid\n", dir, shard, n);
    }
    (void)fl_stream_close(s);
    check_quarantine(c, dir);
}

/* ---- 2. meta.db ---------------------------------------------------------------------------- */

static int check_meta(struct check *c, const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        problem(c, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *msg = (const char *)sqlite3_column_text(st, 0);
            if (msg && strcmp(msg, "ok") == 0)
                ok = 1;
            else
                problem(c, "%s: integrity_check: %s", path, msg ? msg : "?");
        }
    } else {
        problem(c, "%s: %s", path, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (ok)
        printf("ok      %s: integrity_check ok\n", path);
    return ok ? 0 : -1;
}

/* ---- 3. lake -------------------------------------------------------------------------------- */

static int push_str(char ***v, size_t *n, size_t *cap, const char *a, const char *b)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        char **p = fl_realloc(*v, ncap * sizeof *p);
        if (!p)
            return FL_ENOMEM;
        *v = p;
        *cap = ncap;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *s = fl_malloc(la + lb + 2);
    if (!s)
        return FL_ENOMEM;
    memcpy(s, a, la);
    s[la] = 0;
    if (b) {
        s[la] = '|';
        memcpy(s + la + 1, b, lb + 1);
    }
    (*v)[(*n)++] = s;
    return 0;
}

static int remember_path(struct check *c, const fl_lake_file *f)
{
    int rc = push_str(&c->paths, &c->path_count, &c->path_cap, f->location, f->path);
    if (rc || !f->location[0])
        return rc;
    for (size_t i = 0; i < c->location_count; i++)
        if (strcmp(c->locations[i], f->location) == 0)
            return 0;
    return push_str(&c->locations, &c->location_count, &c->location_cap, f->location, NULL);
}

static int on_scheduled(void *arg, const fl_catalog_delete *d)
{
    struct check *c = arg;
    return push_str(&c->scheduled, &c->scheduled_count, &c->scheduled_cap, d->location, d->path);
}

/* Verify one catalogued file: present, size, footer, rows. */
static int check_file(void *arg, const fl_lake_file *f)
{
    struct check *c = arg;
    int rc = remember_path(c, f);
    if (rc)
        return rc;
    if (strcmp(f->state, FL_CATALOG_STATE_LIVE) != 0)
        return 0; /* retired files may already be gone after their grace period */
    fl_objstore_reader *r;
    fl_objstore *store = NULL;
    const char *root = f->location[0] ? f->location : "lake";
    if ((rc = fl_lake_file_store(c->stores, f, &store)) ||
        (rc = fl_objstore_get_open(store, f->path, &r))) {
        problem(c, "%s/%s: catalogued (%s, %s, %" PRId64 " rows) but %s", root, f->path,
                f->table_name, f->tier, f->rows,
                rc == FL_ENOTFOUND ? "missing" : fl_strerror(rc));
        return 0;
    }
    uint64_t size = fl_objstore_reader_size(r);
    fl_pq_reader *pq = NULL;
    if (f->bytes >= 0 && size != (uint64_t)f->bytes)
        problem(c, "%s/%s: %" PRIu64 " bytes, catalog says %" PRId64, root, f->path, size,
                f->bytes);
    else if ((rc = fl_pq_reader_open(fl_objstore_source_read, r, size, NULL, &pq)))
        problem(c, "%s/%s: not a valid Parquet file: %s", root, f->path, fl_strerror(rc));
    else if (fl_pq_reader_rows(pq) != f->rows)
        problem(c, "%s/%s: %" PRId64 " rows, catalog says %" PRId64, root, f->path,
                fl_pq_reader_rows(pq), f->rows);
    fl_pq_reader_destroy(pq);
    fl_objstore_get_close(r);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Move root/key (root: the lake, or a warm directory) to <data>/lake-quarantine/<key>; a warm
 * directory on another volume fails with EXDEV (reported, never copied and deleted). */
static int move_to_quarantine(struct check *c, const char *root, const char *key)
{
    char from[8400], to[4200], dir[8400];
    if (snprintf(from, sizeof from, "%s/%s", root, key) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/lake-quarantine/%s", c->data_dir, key) >= (int)sizeof to)
        return -ENAMETOOLONG;
    snprintf(dir, sizeof dir, "%s", to);
    int rc = fl_fs_mkdir_p(dirname(dir), 0755);
    if (!rc)
        rc = fl_fs->rename(from, to);
    if (!rc) {
        snprintf(dir, sizeof dir, "%s", from);
        rc = fl_fs_fsync_dir(dirname(dir));
    }
    return rc;
}

/* Each object in the lake (or the warm directory being listed): orphan unless catalogued at
 * that location or scheduled for deletion; *.tmp is an incomplete upload. */
static int check_object(void *arg, const char *key, const fl_objstore_info *st)
{
    struct check *c = arg;
    char lk[8400];
    const char *k = lk;
    const char *where = c->listing[0] ? c->listing : "lake";
    if (snprintf(lk, sizeof lk, "%s|%s", c->listing, key) >= (int)sizeof lk)
        return -ENAMETOOLONG;
    if (c->path_count && bsearch(&k, c->paths, c->path_count, sizeof *c->paths, cmp_str))
        return 0;
    if (c->scheduled_count && bsearch(&k, c->scheduled, c->scheduled_count, sizeof *c->scheduled, cmp_str)) {
        printf("note    %s/%s: replaced or expired, deleted after the grace period\n", where,
               key);
        return 0;
    }
    int recent = c->now_us - st->mtime_us < ORPHAN_GRACE_US;
    if (recent) {
        printf("note    %s/%s: not catalogued yet (written %.0f s ago: may be committing)\n",
               where, key, (double)(c->now_us - st->mtime_us) / 1e6);
        return 0;
    }
    size_t n = strlen(key);
    const char *what = n > 4 && strcmp(key + n - 4, ".tmp") == 0 ? "stale incomplete upload"
                                                                  : "orphan: not in the catalog";
    problem(c, "%s/%s: %s (%" PRIu64 " bytes)", where, key, what, st->size);
    if (c->repair) {
        char root[4200];
        int rc = c->listing[0] ? (snprintf(root, sizeof root, "%s", c->listing), 0)
                               : fl_cli_path(root, sizeof root, c->data_dir, "lake");
        if (!rc)
            rc = move_to_quarantine(c, root, key);
        if (rc)
            printf("        repair failed: %s\n", fl_strerror(rc));
        else {
            printf("        repaired: moved to lake-quarantine/%s\n", key);
            c->repaired++;
        }
    }
    return 0;
}

/* Incomplete uploads are invisible to list(); find "*.tmp" files by walking the directory. */
static int walk_tmp(struct check *c, const char *root, const char *rel)
{
    char path[8400];
    if (snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel) >= (int)sizeof path)
        return -ENAMETOOLONG;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4200], full[8400];
        if (snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
                (int)sizeof sub ||
            snprintf(full, sizeof full, "%s/%s", root, sub) >= (int)sizeof full)
            continue; /* deeper than any key the lake writes */
        struct stat st;
        if (lstat(full, &st))
            continue;
        size_t n = strlen(sub);
        if (S_ISDIR(st.st_mode))
            rc = walk_tmp(c, root, sub);
        else if (n > 4 && strcmp(sub + n - 4, ".tmp") == 0) {
            fl_objstore_info info = {(uint64_t)st.st_size,
                                     (int64_t)st.st_mtim.tv_sec * FL_US_PER_SEC +
                                         st.st_mtim.tv_nsec / 1000};
            rc = check_object(c, sub, &info);
        }
    }
    closedir(d);
    return rc;
}

static void check_lake(struct check *c, const char *meta_path)
{
    char root[4200];
    if (fl_cli_path(root, sizeof root, c->data_dir, "lake"))
        return;
    int rc = fl_catalog_open(meta_path, &c->catalog);
    if (rc) {
        problem(c, "%s: cannot open the catalog: %s", meta_path, fl_strerror(rc));
        return;
    }
    if ((rc = fl_objstore_local_create(root, &c->lake)) ||
        (rc = fl_lake_stores_create(c->lake, &c->stores))) {
        problem(c, "%s: cannot open the lake: %s", root, fl_strerror(rc));
        return;
    }
    long before = c->problems;
    fl_catalog_filter all = fl_catalog_filter_table(NULL);
    if ((rc = fl_catalog_files_query(c->catalog, &all, check_file, c)) ||
        (rc = fl_catalog_deletes_query(c->catalog, INT64_MAX, on_scheduled, c)))
        problem(c, "catalog query failed: %s", fl_strerror(rc));
    if (c->path_count)
        qsort(c->paths, c->path_count, sizeof *c->paths, cmp_str);
    if (c->scheduled_count)
        qsort(c->scheduled, c->scheduled_count, sizeof *c->scheduled, cmp_str);
    c->listing = "";
    if ((rc = fl_objstore_list(c->lake, "", check_object, c)) || (rc = walk_tmp(c, root, "")))
        problem(c, "listing the lake failed: %s", fl_strerror(rc));
    for (size_t i = 0; i < c->location_count; i++) {
        fl_objstore *warm = NULL;
        c->listing = c->locations[i];
        if ((rc = fl_lake_stores_get(c->stores, c->listing, &warm)) ||
            (rc = fl_objstore_list(warm, "", check_object, c)) ||
            (rc = walk_tmp(c, c->listing, "")))
            problem(c, "listing the warm directory %s failed: %s", c->listing, fl_strerror(rc));
    }
    int64_t files = 0, rows = 0, bytes = 0;
    if (fl_catalog_files_count(c->catalog, &all, &files, &rows, &bytes) == 0 &&
        c->problems == before)
        printf("ok      lake: %" PRId64 " catalogued files (%" PRId64 " rows, %" PRId64
               " bytes) present and valid, no orphans (%zu warm director%s too)\n",
               files, rows, bytes, c->location_count, c->location_count == 1 ? "y" : "ies");
}

static int server_running(const char *data_dir)
{
    char path[4200];
    if (fl_cli_path(path, sizeof path, data_dir, "LOCK"))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int running = flock(fd, LOCK_SH | LOCK_NB) != 0;
    close(fd);
    return running;
}

int fl_cli_check(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"repair", no_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct check c = {.data_dir = "./fleetlake-data"};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'd')
            c.data_dir = optarg;
        else if (o == 'r')
            c.repair = 1;
        else if (o == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fleetlake check: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    struct stat st;
    if (stat(c.data_dir, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fleetlake check: %s is not a data directory\n", c.data_dir);
        return 2;
    }
    c.now_us = fl_time_now_us();
    c.server_running = server_running(c.data_dir);
    printf("checking %s%s\n", c.data_dir, c.server_running ? " (a server is running on it)" : "");
    check_stream(&c, "stream");
    check_stream(&c, "dead-letters");
    char meta[4200];
    if (fl_cli_path(meta, sizeof meta, c.data_dir, "meta.db") == 0) {
        if (access(meta, F_OK) != 0)
            printf("ok      %s: not created yet\n", meta);
        else if (check_meta(&c, meta) == 0)
            check_lake(&c, meta);
    }
    for (size_t i = 0; i < c.path_count; i++)
        fl_free(c.paths[i]);
    fl_free(c.paths);
    for (size_t i = 0; i < c.scheduled_count; i++)
        fl_free(c.scheduled[i]);
    fl_free(c.scheduled);
    for (size_t i = 0; i < c.location_count; i++)
        fl_free(c.locations[i]);
    fl_free(c.locations);
    fl_lake_stores_destroy(c.stores);
    fl_objstore_destroy(c.lake);
    fl_catalog_close(c.catalog);
    printf("%ld problem%s found%s\n", c.problems, c.problems == 1 ? "" : "s",
           c.repair ? "" : (c.problems ? " (--repair moves orphans aside)" : ""));
    if (c.repair)
        printf("%ld repaired\n", c.repaired);
    return c.problems > c.repaired ? 1 : 0;
}
