/* writer.c — appending to the audit log: one fl_audit_log per process, shared by its threads.
 *
 * Every append takes the process mutex, then flock(LOCK_EX) on HEAD (other processes: a CLI
 * `erase` or `keys create` appends while serve runs), re-reads HEAD and adopts it when another
 * process moved the chain, checks that the file HEAD names still has HEAD's size, closes an
 * ended hour with its signed digest, writes the entry line with pwrite at that size, and
 * rewrites HEAD. Anything inconsistent (HEAD missing, unsigned, or not matching the files) goes
 * through recover(): the files' tail wins, a torn last line is cut, and an `audit.recover`
 * entry records what HEAD said and what was found (result "ok" for the one case a crash
 * explains: exactly one whole entry past HEAD, or a torn line; "error" otherwise, which
 * `fleetlake audit verify` reports). See audit_int.h for the layout and invariants.
 *
 * Durability: audit.fsync = entry fdatasyncs the file and HEAD before append returns;
 * interval leaves it to the background thread (audit.fsync_interval_ms), so the HTTP hot path
 * makes a few small syscalls per request. An fsync error stops the log (FL_ESTOPPED). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define MODULE "audit"

struct fl_audit_log {
    fl_audit_options o;
    unsigned char key[AUDIT_KEY_BYTES];
    pthread_mutex_t mu;
    int head_fd;
    char head_bytes[AUDIT_HEAD_BYTES]; /* HEAD as this process last wrote or read it */
    int head_known;
    audit_head h;
    int file_fd; /* open on h.file, or -1 */
    char file_open[AUDIT_FILE_NAME_MAX];
    fl_buf line;
    int failed;
    int dirty; /* lines written since the last sync */
    int64_t last_retention_us;
    atomic_uint_fast64_t entries, digests, bytes, write_errors, recoveries;
    /* background thread */
    pthread_t thread;
    int thread_started, stopping;
    pthread_cond_t cond;
};

int fl_audit_enabled(const fl_config *cfg)
{
    return strcmp(cfg->audit_enabled, "on") == 0;
}

int fl_audit_options_from_config(const fl_config *cfg, const char *data_dir, fl_audit_options *o)
{
    memset(o, 0, sizeof *o);
    if (snprintf(o->dir, sizeof o->dir, "%s/audit", data_dir) >= (int)sizeof o->dir)
        return FL_ECONFIG;
    int n = cfg->audit_hmac_key_file[0]
                ? snprintf(o->hmac_key_file, sizeof o->hmac_key_file, "%s",
                           cfg->audit_hmac_key_file)
                : snprintf(o->hmac_key_file, sizeof o->hmac_key_file, "%s/audit.key", data_dir);
    if (n >= (int)sizeof o->hmac_key_file)
        return FL_ECONFIG;
    o->fsync_each_entry = strcmp(cfg->audit_fsync, "entry") == 0;
    o->fsync_interval_ms = cfg->audit_fsync_interval_ms;
    o->file_bytes = cfg->audit_file_bytes;
    o->retention_days = cfg->audit_retention_days;
    o->retention_bytes = cfg->audit_retention_bytes;
    o->background = 1;
    return 0;
}

static int path_in_dir(const fl_audit_log *log, const char *name, char *out, size_t n)
{
    return snprintf(out, n, "%s/%s", log->o.dir, name) >= (int)n ? -ENAMETOOLONG : 0;
}

static void close_file(fl_audit_log *log)
{
    if (log->file_fd >= 0)
        fl_fs->close(log->file_fd);
    log->file_fd = -1;
    log->file_open[0] = 0;
}

/* Open (creating when create is set) the log file name for writing into log->file_fd. */
static int open_file(fl_audit_log *log, const char *name, int create)
{
    if (log->file_fd >= 0 && strcmp(log->file_open, name) == 0)
        return 0;
    close_file(log);
    char path[4300];
    int rc = path_in_dir(log, name, path, sizeof path);
    if (rc)
        return rc;
    int fd = fl_fs->open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return fd;
    log->file_fd = fd;
    snprintf(log->file_open, sizeof log->file_open, "%s", name);
    return 0;
}

static int64_t file_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) ? -errno : (int64_t)st.st_size;
}

static int write_head(fl_audit_log *log)
{
    char buf[AUDIT_HEAD_BYTES];
    int rc = audit_format_head(buf, &log->h, log->key);
    rc = rc ? rc : fl_fs_pwrite_all(log->head_fd, buf, sizeof buf, 0);
    if (rc)
        return rc;
    memcpy(log->head_bytes, buf, sizeof buf);
    log->head_known = 1;
    return 0;
}

/* ---- recovery --------------------------------------------------------------------------- */

/* Scan the files from the newest back for the newest digest's seq (0 if none). */
static uint64_t find_digest_seq(fl_audit_log *log, char **names, size_t count)
{
    fl_buf b = {0};
    uint64_t found = 0;
    for (size_t i = count; i-- > 0 && !found;) {
        char path[4300];
        if (path_in_dir(log, names[i], path, sizeof path) || audit_read_file(path, &b))
            break;
        for (size_t end = b.len; end > 0 && !found;) {
            size_t start = end - 1;
            while (start > 0 && b.data[start - 1] != '\n')
                start--;
            fl_audit_line l;
            char err[128];
            if (!fl_audit_line_parse(b.data + start, end - start - (b.data[end - 1] == '\n'), &l,
                                     err, sizeof err) &&
                strcmp(l.type, "digest") == 0)
                found = l.seq;
            end = start;
        }
    }
    fl_buf_free(&b);
    return found;
}

/* The log's actual tail: the newest file's last whole line (a torn partial line after it is
 * cut, counted in *torn_bytes). Fills t (digest_seq left to the caller). */
static int read_tail(fl_audit_log *log, const char *name, audit_head *t, int64_t *torn_bytes,
                     char *why, size_t whylen)
{
    char path[4300];
    fl_buf b = {0};
    int rc = path_in_dir(log, name, path, sizeof path);
    rc = rc ? rc : audit_read_file(path, &b);
    if (rc)
        goto out;
    size_t end = b.len;
    while (end > 0 && b.data[end - 1] != '\n')
        end--;
    *torn_bytes = (int64_t)(b.len - end);
    if (*torn_bytes) {
        if ((rc = open_file(log, name, 0)) || (rc = fl_fs->ftruncate(log->file_fd, (off_t)end)))
            goto out;
    }
    snprintf(t->file, sizeof t->file, "%s", name);
    t->size = (int64_t)end;
    if (end == 0) { /* an empty file: the chain continues from the previous one */
        rc = FL_ENOTFOUND;
        goto out;
    }
    size_t start = end - 1;
    while (start > 0 && b.data[start - 1] != '\n')
        start--;
    fl_audit_line l;
    char err[128];
    audit_sha256_hex(b.data + start, end - 1 - start, t->hash);
    if (fl_audit_line_parse(b.data + start, end - 1 - start, &l, err, sizeof err) == 0) {
        t->seq = l.seq;
        t->time_us = l.time_us;
        snprintf(why, whylen, "%s", l.prev);
    } else {
        why[0] = 0;
    }
out:
    fl_buf_free(&b);
    return rc;
}

/* Rebuild the chain head from the files after HEAD was found missing or inconsistent
 * (reason), append an audit.recover entry saying so, and rewrite HEAD. */
static int append_line_locked(fl_audit_log *log, int64_t now_us, int is_digest);
static int recover(fl_audit_log *log, const audit_head *said, int said_valid, const char *reason,
                   int64_t now_us)
{
    char **names = NULL;
    size_t count = 0;
    int rc = audit_files_list(log->o.dir, &names, &count);
    if (rc)
        return rc;
    audit_head t = {0};
    int64_t torn = 0;
    char last_prev[AUDIT_HASH_HEX + 1] = "";
    memcpy(t.hash, audit_zero_hash, sizeof t.hash);
    /* Newest non-empty file gives the tail; empty newest files are skipped. */
    for (size_t i = count; i-- > 0;) {
        int64_t cut = 0;
        rc = read_tail(log, names[i], &t, &cut, last_prev, sizeof last_prev);
        torn += cut;
        if (rc != FL_ENOTFOUND)
            break;
        rc = 0;
    }
    if (rc) {
        audit_files_free(names, count);
        return rc;
    }
    t.digest_seq = find_digest_seq(log, names, count);
    audit_files_free(names, count);
    if (t.seq == 0 && !said_valid && torn == 0 && !count) {
        log->h = t; /* a new log */
        return write_head(log);
    }
    int same = said_valid && said->seq == t.seq && strcmp(said->hash, t.hash) == 0 &&
               strcmp(said->file, t.file) == 0 && said->size == t.size;
    int one_ahead = said_valid && t.seq == said->seq + 1 && strcmp(last_prev, said->hash) == 0;
    char detail[AUDIT_DETAIL_MAX];
    if (said_valid)
        snprintf(detail, sizeof detail,
                 "%s: HEAD recorded seq %" PRIu64 " (%s, %" PRId64 " bytes); the log ends at seq "
                 "%" PRIu64 " (%s, %" PRId64 " bytes)%s",
                 reason, said->seq, said->file, said->size, t.seq, t.file, t.size,
                 torn ? "; a torn last line was cut" : "");
    else
        snprintf(detail, sizeof detail, "%s; the log ends at seq %" PRIu64 " (%s, %" PRId64
                 " bytes)%s", reason, t.seq, t.file[0] ? t.file : "no file", t.size,
                 torn ? "; a torn last line was cut" : "");
    int ok = same || one_ahead; /* what a crash between line and HEAD explains */
    if (said_valid && same && !torn) {
        log->h = t;
        return write_head(log);
    }
    atomic_fetch_add(&log->recoveries, 1);
    if (ok)
        FL_WARN(MODULE, "repaired after a crash: %s", detail);
    else
        FL_ERROR(MODULE, "the audit log and its HEAD disagree (tampering or lost writes): %s",
                 detail);
    log->h = t;
    fl_audit_event ev = {.type = "admin", .role = "local", .action = "audit.recover",
                         .resource = log->o.dir, .result = ok ? "ok" : "error",
                         .client = "fleetlake", .detail = detail};
    fl_buf_reset(&log->line);
    rc = audit_format_entry(&log->line, log->h.seq + 1, now_us, log->h.hash, &ev);
    return rc ? rc : append_line_locked(log, now_us, 0);
}

/* Bring log->h up to date with HEAD and the files, under the flock. */
static int sync_head(fl_audit_log *log, int64_t now_us)
{
    char buf[AUDIT_HEAD_BYTES];
    ssize_t n = fl_fs_pread_full(log->head_fd, buf, sizeof buf, 0);
    if (n < 0)
        return (int)n;
    if (!(log->head_known && n == AUDIT_HEAD_BYTES && memcmp(buf, log->head_bytes, sizeof buf) == 0)) {
        audit_head said = {0};
        char err[256];
        int prc = audit_parse_head(buf, (size_t)n, log->key, &said, err, sizeof err);
        if (prc == FL_ENOTFOUND)
            return recover(log, &said, 0, "HEAD is missing or empty", now_us);
        if (prc)
            return recover(log, &said, 0, err, now_us);
        log->h = said;
        memcpy(log->head_bytes, buf, sizeof buf);
        log->head_known = 1;
    }
    if (!log->h.file[0])
        return 0; /* an empty log: nothing to check */
    int rc = open_file(log, log->h.file, 0);
    int64_t size = rc ? rc : file_size(log->file_fd);
    if (size != log->h.size) {
        audit_head said = log->h;
        char reason[160];
        snprintf(reason, sizeof reason, "%s has %" PRId64 " bytes, HEAD says %" PRId64, said.file,
                 size, said.size);
        close_file(log);
        return recover(log, &said, 1, reason, now_us);
    }
    return 0;
}

/* ---- appending -------------------------------------------------------------------------- */

/* The file the next line goes to: HEAD's, or a new one for a new UTC day or past file_bytes.
 * Names only move forward, even when the clock steps back. */
static void choose_file(const fl_audit_log *log, int64_t now_us, size_t line_len, char *out)
{
    int64_t today = audit_floor_div(now_us, AUDIT_US_PER_DAY), day;
    unsigned index;
    if (!log->h.file[0] || audit_file_name_parse(log->h.file, &day, &index)) {
        audit_file_name(out, today, 0);
        return;
    }
    if (today > day)
        audit_file_name(out, today, 0);
    else if (log->h.size > 0 && log->h.size + (int64_t)line_len > log->o.file_bytes && index < 9999)
        audit_file_name(out, day, index + 1);
    else
        snprintf(out, AUDIT_FILE_NAME_MAX, "%s", log->h.file);
}

/* Write log->line (already formatted with seq h.seq+1, time now_us and prev h.hash; is_digest
 * when it is a digest) and advance h and HEAD. */
static int append_line_locked(fl_audit_log *log, int64_t now_us, int is_digest)
{
    char name[AUDIT_FILE_NAME_MAX];
    int rc;
    choose_file(log, now_us, log->line.len + 1, name);
    int64_t off = log->h.size;
    if (strcmp(name, log->h.file) != 0) {
        if ((rc = open_file(log, name, 1)))
            return rc;
        int64_t size = file_size(log->file_fd);
        if (size != 0) { /* someone else's file where ours should start: never write into it */
            FL_ERROR(MODULE, "%s/%s already exists and is not empty", log->o.dir, name);
            close_file(log);
            return FL_EEXISTS;
        }
        if ((rc = fl_fs_fsync_dir(log->o.dir)))
            return rc;
        off = 0;
    } else if ((rc = open_file(log, name, 0))) {
        return rc;
    }
    if ((rc = fl_buf_append(&log->line, "\n", 1)))
        return rc;
    rc = fl_fs_pwrite_all(log->file_fd, log->line.data, log->line.len, (off_t)off);
    if (rc) {
        /* Cut what part of the line reached the file, so the next append starts clean. */
        (void)fl_fs->ftruncate(log->file_fd, (off_t)off);
        return rc;
    }
    log->h.seq++;
    audit_sha256_hex(log->line.data, log->line.len - 1, log->h.hash);
    log->h.time_us = now_us;
    if (is_digest)
        log->h.digest_seq = log->h.seq;
    snprintf(log->h.file, sizeof log->h.file, "%s", name);
    log->h.size = off + (int64_t)log->line.len;
    log->dirty = 1;
    atomic_fetch_add(&log->entries, 1);
    atomic_fetch_add(&log->bytes, log->line.len);
    return write_head(log);
}

/* Close the newest entry's hour with a digest when now is past it. */
static int close_hour_locked(fl_audit_log *log, int64_t now_us)
{
    if (log->h.seq == 0 || log->h.seq == log->h.digest_seq)
        return 0;
    int64_t hour = audit_floor_div(log->h.time_us, AUDIT_US_PER_HOUR) * AUDIT_US_PER_HOUR;
    if (now_us < hour + AUDIT_US_PER_HOUR)
        return 0;
    uint64_t first = log->h.digest_seq + 1;
    fl_buf_reset(&log->line);
    int rc = audit_format_digest(&log->line, log->h.seq + 1, now_us, log->h.hash, hour, first,
                                 log->h.seq - log->h.digest_seq, log->key);
    rc = rc ? rc : append_line_locked(log, now_us, 1);
    if (!rc)
        atomic_fetch_add(&log->digests, 1);
    return rc;
}

static int sync_locked(fl_audit_log *log)
{
    if (!log->dirty)
        return 0;
    int rc = log->file_fd >= 0 ? fl_fs->fdatasync(log->file_fd) : 0;
    rc = rc ? rc : fl_fs->fdatasync(log->head_fd);
    if (rc) {
        log->failed = 1;
        FL_ERROR(MODULE, "fsync of the audit log failed: %s; no further entries are written "
                         "(restart to resume)", fl_strerror(rc));
        return rc;
    }
    log->dirty = 0;
    return 0;
}

static int lock_head(fl_audit_log *log)
{
    while (flock(log->head_fd, LOCK_EX)) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int fl_audit_append_at(fl_audit_log *log, const fl_audit_event *ev, int64_t now_us)
{
    pthread_mutex_lock(&log->mu);
    int rc = log->failed ? FL_ESTOPPED : lock_head(log);
    if (rc)
        goto out;
    rc = sync_head(log, now_us);
    rc = rc ? rc : close_hour_locked(log, now_us);
    if (!rc) {
        fl_buf_reset(&log->line);
        rc = audit_format_entry(&log->line, log->h.seq + 1, now_us, log->h.hash, ev);
        rc = rc ? rc : append_line_locked(log, now_us, 0);
    }
    if (!rc && log->o.fsync_each_entry)
        rc = sync_locked(log);
    flock(log->head_fd, LOCK_UN);
out:
    if (rc) {
        /* Counted always; logged only for the first few, so a full disk cannot flood stderr. */
        uint64_t n = atomic_fetch_add(&log->write_errors, 1);
        if (n < 10 || (n & (n - 1)) == 0)
            FL_ERROR(MODULE, "audit entry lost (%s %s): %s [%" PRIu64 " lost so far]",
                     ev->action ? ev->action : "", ev->resource ? ev->resource : "",
                     fl_strerror(rc), n + 1);
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int fl_audit_append(fl_audit_log *log, const fl_audit_event *ev)
{
    return fl_audit_append_at(log, ev, fl_time_now_us());
}

int fl_audit_sync(fl_audit_log *log)
{
    pthread_mutex_lock(&log->mu);
    int rc = log->failed ? FL_ESTOPPED : sync_locked(log);
    pthread_mutex_unlock(&log->mu);
    return rc;
}

/* ---- retention -------------------------------------------------------------------------- */

/* Delete the oldest files (never the newest) while older than retention_days or while the
 * log is larger than retention_bytes; each deletion is itself an audit entry. Under both
 * locks. */
static int retention_locked(fl_audit_log *log, int64_t now_us)
{
    char **names = NULL;
    size_t count = 0;
    int rc = audit_files_list(log->o.dir, &names, &count);
    if (rc || count < 2)
        goto out;
    int64_t *sizes = fl_calloc(count, sizeof *sizes);
    if (!sizes) {
        rc = FL_ENOMEM;
        goto out;
    }
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4300];
        struct stat st;
        if (!path_in_dir(log, names[i], path, sizeof path) && stat(path, &st) == 0)
            sizes[i] = st.st_size;
        total += sizes[i];
    }
    int64_t today = audit_floor_div(now_us, AUDIT_US_PER_DAY);
    for (size_t i = 0; i + 1 < count && !rc; i++) {
        int64_t day;
        /* A file holds entries of its own UTC day only (names follow the entries' dates). */
        if (audit_file_name_parse(names[i], &day, NULL))
            break;
        int too_old = today - day > log->o.retention_days;
        if (!too_old && total <= log->o.retention_bytes)
            break;
        if (strcmp(names[i], log->h.file) == 0)
            break;
        char path[4300], detail[160];
        if ((rc = path_in_dir(log, names[i], path, sizeof path)) || (rc = fl_fs->unlink(path)))
            break;
        total -= sizes[i];
        snprintf(detail, sizeof detail, "%" PRId64 " bytes removed by %s", sizes[i],
                 too_old ? "audit.retention_days" : "audit.retention_bytes");
        fl_audit_event ev = {.type = "admin", .role = "local", .action = "audit.retention",
                             .resource = names[i], .result = "ok", .client = "fleetlake",
                             .detail = detail};
        fl_buf_reset(&log->line);
        rc = audit_format_entry(&log->line, log->h.seq + 1, now_us, log->h.hash, &ev);
        rc = rc ? rc : append_line_locked(log, now_us, 0);
    }
    if (!rc)
        rc = fl_fs_fsync_dir(log->o.dir);
    fl_free(sizes);
out:
    audit_files_free(names, count);
    return rc;
}

int fl_audit_tick(fl_audit_log *log, int64_t now_us)
{
    pthread_mutex_lock(&log->mu);
    int rc = log->failed ? FL_ESTOPPED : lock_head(log);
    if (rc) {
        pthread_mutex_unlock(&log->mu);
        return rc;
    }
    rc = sync_head(log, now_us);
    rc = rc ? rc : close_hour_locked(log, now_us);
    if (!rc && now_us - log->last_retention_us >= AUDIT_US_PER_HOUR) {
        log->last_retention_us = now_us;
        rc = retention_locked(log, now_us);
    }
    flock(log->head_fd, LOCK_UN);
    /* The sync holds the mutex: appends wait for one fdatasync per interval, not per entry. */
    int src = sync_locked(log);
    pthread_mutex_unlock(&log->mu);
    if (rc)
        FL_ERROR(MODULE, "audit maintenance: %s", fl_strerror(rc));
    return rc ? rc : src;
}

static void *thread_main(void *arg)
{
    fl_audit_log *log = arg;
    pthread_mutex_lock(&log->mu);
    while (!log->stopping) {
        struct timespec ts = fl_time_deadline_us(log->o.fsync_interval_ms * FL_US_PER_MS);
        pthread_cond_timedwait(&log->cond, &log->mu, &ts);
        if (log->stopping)
            break;
        pthread_mutex_unlock(&log->mu);
        int rc = fl_audit_tick(log, fl_time_now_us()); /* logged inside */
        (void)rc;
        pthread_mutex_lock(&log->mu);
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------- */

int fl_audit_open(const fl_audit_options *o, fl_audit_log **out)
{
    char err[512], path[4300];
    fl_audit_log *log = fl_calloc(1, sizeof *log);
    if (!log)
        return FL_ENOMEM;
    log->o = *o;
    log->head_fd = log->file_fd = -1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->cond, NULL);
    log->last_retention_us = INT64_MIN / 2;
    int rc = fl_fs_mkdir_p(o->dir, 0700);
    if (rc) {
        FL_ERROR(MODULE, "cannot create %s: %s", o->dir, fl_strerror(rc));
        goto fail;
    }
    if ((rc = audit_key_load(o->hmac_key_file, 1, log->key, err, sizeof err))) {
        FL_ERROR(MODULE, "%s", err);
        goto fail;
    }
    if ((rc = path_in_dir(log, "HEAD", path, sizeof path)))
        goto fail;
    log->head_fd = fl_fs->open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (log->head_fd < 0) {
        rc = log->head_fd;
        FL_ERROR(MODULE, "cannot open %s: %s", path, fl_strerror(rc));
        goto fail;
    }
    /* Recover now, so a problem is reported at start rather than on the first request. */
    pthread_mutex_lock(&log->mu);
    rc = lock_head(log);
    if (!rc) {
        rc = sync_head(log, fl_time_now_us());
        if (!rc && o->fsync_each_entry)
            rc = sync_locked(log);
        flock(log->head_fd, LOCK_UN);
    }
    pthread_mutex_unlock(&log->mu);
    if (rc) {
        FL_ERROR(MODULE, "cannot recover the audit log in %s: %s", o->dir, fl_strerror(rc));
        goto fail;
    }
    if (o->background) {
        if ((rc = -pthread_create(&log->thread, NULL, thread_main, log)))
            goto fail;
        log->thread_started = 1;
    }
    *out = log;
    return 0;
fail:
    (void)fl_audit_close(log);
    return rc;
}

int fl_audit_close(fl_audit_log *log)
{
    if (!log)
        return 0;
    if (log->thread_started) {
        pthread_mutex_lock(&log->mu);
        log->stopping = 1;
        pthread_cond_signal(&log->cond);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->thread, NULL);
    }
    int rc = 0;
    if (log->head_fd >= 0 && !log->failed)
        rc = sync_locked(log);
    close_file(log);
    if (log->head_fd >= 0)
        fl_fs->close(log->head_fd);
    fl_buf_free(&log->line);
    pthread_cond_destroy(&log->cond);
    pthread_mutex_destroy(&log->mu);
    fl_free(log);
    return rc;
}

void fl_audit_get_stats(fl_audit_log *log, fl_audit_stats *s)
{
    s->entries = atomic_load(&log->entries);
    s->digests = atomic_load(&log->digests);
    s->bytes = atomic_load(&log->bytes);
    s->write_errors = atomic_load(&log->write_errors);
    s->recoveries = atomic_load(&log->recoveries);
    pthread_mutex_lock(&log->mu);
    s->failed = log->failed;
    pthread_mutex_unlock(&log->mu);
}

static int collect(void *ctx, fl_buf *out)
{
    fl_audit_stats s;
    fl_audit_get_stats(ctx, &s);
    static const struct {
        const char *name, *type, *help;
    } f[] = {
        {"fleetlake_audit_entries_total", "counter", "Audit entries appended by this process."},
        {"fleetlake_audit_digests_total", "counter", "Hourly signed digests written."},
        {"fleetlake_audit_bytes_total", "counter", "Bytes appended to the audit log."},
        {"fleetlake_audit_write_errors_total", "counter",
         "Audit entries lost because writing them failed."},
        {"fleetlake_audit_recoveries_total", "counter",
         "Times the audit log's HEAD and files disagreed and were reconciled."},
        {"fleetlake_audit_failed", "gauge", "1 after an audit fsync error (log stopped)."},
    };
    double v[] = {(double)s.entries, (double)s.digests, (double)s.bytes,
                  (double)s.write_errors, (double)s.recoveries, (double)s.failed};
    int rc = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0] && !rc; i++) {
        rc = fl_metrics_write_header(out, f[i].name, f[i].type, f[i].help);
        rc = rc ? rc : fl_metrics_write_sample(out, f[i].name, NULL, v[i]);
    }
    return rc;
}

int fl_audit_metrics_register(fl_audit_log *log, fl_metrics *m)
{
    return fl_metrics_add_collector(m, collect, log);
}

/* ---- administrative entries from CLI processes ------------------------------------------ */

int fl_audit_admin(const fl_config *cfg, const char *data_dir, const char *key_id,
                   const char *action, const char *resource, const char *result,
                   const char *detail, char *err, size_t errlen)
{
    fl_config defaults;
    if (!cfg) {
        fl_config_defaults(&defaults);
        cfg = &defaults;
    }
    if (!fl_audit_enabled(cfg))
        return 0;
    fl_audit_options o;
    int rc = fl_audit_options_from_config(cfg, data_dir, &o);
    if (rc) {
        snprintf(err, errlen, "audit log path too long under %s", data_dir);
        return rc;
    }
    o.background = 0;
    o.fsync_each_entry = 1; /* rare, and the process exits right after */
    fl_audit_log *log = NULL;
    if ((rc = fl_audit_open(&o, &log))) {
        snprintf(err, errlen, "cannot open the audit log %s: %s", o.dir, fl_strerror(rc));
        return rc;
    }
    char client[160];
    struct passwd pw, *pwp = NULL;
    char pwbuf[1024];
    uid_t uid = getuid();
    getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &pwp);
    snprintf(client, sizeof client, "local uid=%u(%s) pid=%ld", (unsigned)uid,
             pwp ? pwp->pw_name : "?", (long)getpid());
    fl_audit_event ev = {.type = "admin", .key_id = key_id, .role = "local", .action = action,
                         .resource = resource, .result = result, .client = client,
                         .detail = detail};
    rc = fl_audit_append(log, &ev);
    int crc = fl_audit_close(log);
    rc = rc ? rc : crc;
    if (rc)
        snprintf(err, errlen, "cannot append to the audit log %s: %s", o.dir, fl_strerror(rc));
    return rc;
}
