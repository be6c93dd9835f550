/* verify.c — `fleetlake audit verify`: check the audit log's hash chain, sequence numbers,
 * hourly digests (HMAC) and HEAD anchor, and name the first bad entry.
 *
 * What each check catches (docs/security.md "Audit trail"):
 *   - an edited entry: the next line's prev no longer matches its hash (or HEAD's hash, for
 *     the newest entry); editing a whole suffix consistently breaks the next digest's or
 *     HEAD's HMAC, which needs the key;
 *   - a deleted entry: a gap in seq; an inserted, duplicated or reordered one: seq going
 *     back or a prev mismatch;
 *   - a truncated tail: HEAD (HMAC-signed, rewritten under the lock with every append)
 *     records a newer seq than the last line;
 *   - a forged digest or HEAD: its HMAC.
 * The verifier reads each file whole (files are bounded by audit.file_bytes) and never
 * writes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"

struct verifier {
    const fl_audit_verify_options *o;
    fl_audit_verify_report *r;
    unsigned char key[AUDIT_KEY_BYTES];
    int have_prev;              /* prev_hash/expect_seq known */
    char prev_hash[AUDIT_HASH_HEX + 1];
    uint64_t expect_seq;
    uint64_t last_digest_seq;   /* newest digest seen; 0 with digest_known = none yet */
    int digest_known;
    char last_file[AUDIT_FILE_NAME_MAX];
    uint64_t last_line;         /* line number of the newest entry in last_file */
    /* Snapshot taken under a shared flock on HEAD, so appends racing the verification are
     * neither half-read nor mistaken for a HEAD mismatch: HEAD's bytes, and each file's size
     * (bytes beyond it were appended after the snapshot and are left for the next run). */
    char head[AUDIT_HEAD_BYTES];
    ssize_t head_len;           /* -1: no HEAD file */
    int64_t *sizes;
};

static int fail(struct verifier *v, const char *file, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct verifier *v, const char *file, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r->problem, sizeof v->r->problem, fmt, ap);
    va_end(ap);
    snprintf(v->r->file, sizeof v->r->file, "%s", file);
    v->r->line = line;
    return FL_ECORRUPT;
}

/* One line of file at line number ln. */
static int check_line(struct verifier *v, const char *file, uint64_t ln, const char *p, size_t n)
{
    fl_audit_line l;
    char err[160];
    if (fl_audit_line_parse(p, n, &l, err, sizeof err))
        return fail(v, file, ln, "not a valid audit entry: %s", err);
    char hash[AUDIT_HASH_HEX + 1];
    audit_sha256_hex(p, n, hash);
    if (v->have_prev) {
        if (l.seq > v->expect_seq)
            return fail(v, file, ln,
                        "entry seq %" PRIu64 " where %" PRIu64 " was expected: entr%s %" PRIu64
                        "..%" PRIu64 " deleted (or lines reordered)",
                        l.seq, v->expect_seq, l.seq - v->expect_seq > 1 ? "ies" : "y",
                        v->expect_seq, l.seq - 1);
        if (l.seq < v->expect_seq)
            return fail(v, file, ln,
                        "entry seq %" PRIu64 " where %" PRIu64 " was expected: a line inserted, "
                        "duplicated or moved",
                        l.seq, v->expect_seq);
        if (strcmp(l.prev, v->prev_hash) != 0) {
            /* In sequence but not chained: the line before it is not the one that was
             * written (edited), unless this one's prev was edited. */
            if (strcmp(v->last_file, file) == 0)
                return fail(v, file, ln - 1,
                            "entry seq %" PRIu64 " was altered: its hash does not match the "
                            "prev of the entry after it (line %" PRIu64 ")",
                            l.seq - 1, ln);
            return fail(v, v->last_file, v->last_line,
                        "entry seq %" PRIu64 " was altered: its hash does not match the prev of "
                        "the entry after it (%s line %" PRIu64 ")",
                        l.seq - 1, file, ln);
        }
    } else if (l.seq == 1 && strcmp(l.prev, audit_zero_hash) != 0) {
        return fail(v, file, ln, "the first entry's prev is not the zero hash");
    }
    if (strcmp(l.type, "digest") == 0) {
        char want[AUDIT_HASH_HEX + 1];
        audit_hmac_hex(v->key, AUDIT_DIGEST_DOMAIN, p, l.hmac_prefix_len, want);
        if (CRYPTO_memcmp(want, l.hmac, AUDIT_HASH_HEX) != 0)
            return fail(v, file, ln,
                        "digest seq %" PRIu64 ": HMAC does not verify (edited, forged, or "
                        "signed with another key)",
                        l.seq);
        if (l.first_seq + l.count != l.seq)
            return fail(v, file, ln,
                        "digest seq %" PRIu64 " claims %" PRIu64 " entries from seq %" PRIu64,
                        l.seq, l.count, l.first_seq);
        if (v->digest_known && l.first_seq != v->last_digest_seq + 1)
            return fail(v, file, ln,
                        "digest seq %" PRIu64 " starts at seq %" PRIu64 " but the previous "
                        "digest was seq %" PRIu64,
                        l.seq, l.first_seq, v->last_digest_seq);
        v->last_digest_seq = l.seq;
        v->digest_known = 1;
        v->r->digests++;
    } else if (strcmp(l.action, "audit.recover") == 0) {
        if (strcmp(l.result, "ok") != 0)
            return fail(v, file, ln,
                        "the writer found the log and HEAD disagreeing and recorded it here "
                        "(seq %" PRIu64 "): entries were removed, edited or lost; read its "
                        "\"detail\"",
                        l.seq);
        v->r->recover_notes++;
    }
    if (v->r->entries == 0) {
        v->r->first_seq = l.seq;
        v->r->first_time_us = l.time_us;
        v->r->chain_from_start = l.seq == 1;
        if (l.seq == 1) {
            v->digest_known = 1; /* no digest before the first entry */
            v->last_digest_seq = 0;
        }
    }
    v->r->entries++;
    v->r->last_seq = l.seq;
    v->r->last_time_us = l.time_us;
    memcpy(v->prev_hash, hash, sizeof hash);
    v->expect_seq = l.seq + 1;
    v->have_prev = 1;
    snprintf(v->last_file, sizeof v->last_file, "%s", file);
    v->last_line = ln;
    return 0;
}

static int check_file(struct verifier *v, const char *name, int64_t size, fl_buf *b)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", v->o->dir, name);
    int rc = audit_read_file(path, b);
    if (rc) {
        snprintf(v->r->problem, sizeof v->r->problem, "cannot read %.900s: %s", path, fl_strerror(rc));
        return rc;
    }
    if (size >= 0 && (size_t)size < b->len)
        b->len = (size_t)size; /* appended after the snapshot */
    uint64_t ln = 0;
    size_t at = 0;
    while (at < b->len) {
        const char *nl = memchr(b->data + at, '\n', b->len - at);
        ln++;
        if (!nl)
            return fail(v, name, ln, "the last line is incomplete (a torn write, or cut)");
        if ((rc = check_line(v, name, ln, b->data + at, (size_t)(nl - (b->data + at)))))
            return rc;
        at = (size_t)(nl - b->data) + 1;
    }
    v->r->files++;
    return 0;
}

/* The link into the first selected file: the previous file's last entry. */
static int load_link(struct verifier *v, const char *prev_name, fl_buf *b)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", v->o->dir, prev_name);
    int rc = audit_read_file(path, b);
    if (rc) {
        snprintf(v->r->problem, sizeof v->r->problem, "cannot read %.900s: %s", path, fl_strerror(rc));
        return rc;
    }
    size_t end = b->len;
    if (end == 0 || b->data[end - 1] != '\n')
        return fail(v, prev_name, 0, "the file does not end with a whole line");
    size_t start = end - 1;
    while (start > 0 && b->data[start - 1] != '\n')
        start--;
    fl_audit_line l;
    char err[160];
    if (fl_audit_line_parse(b->data + start, end - 1 - start, &l, err, sizeof err))
        return fail(v, prev_name, 0, "its last line is not a valid audit entry: %s", err);
    audit_sha256_hex(b->data + start, end - 1 - start, v->prev_hash);
    v->expect_seq = l.seq + 1;
    v->have_prev = 1;
    snprintf(v->last_file, sizeof v->last_file, "%s", prev_name);
    return 0;
}

static int check_head(struct verifier *v, size_t file_count, const char *last_name)
{
    char err[256];
    if (v->head_len <= 0) {
        if (file_count == 0)
            return 0;
        return fail(v, "HEAD", 0, "HEAD is missing: the tail of the log cannot be checked "
                                  "(the anchor was deleted)");
    }
    size_t n = (size_t)v->head_len;
    const char *buf = v->head;
    audit_head h;
    int rc = audit_parse_head(buf, n, v->key, &h, err, sizeof err);
    if (rc)
        return fail(v, "HEAD", 0, "%s", err);
    uint64_t last = v->have_prev ? v->expect_seq - 1 : 0;
    if (h.seq > last)
        return fail(v, v->last_file[0] ? v->last_file : "HEAD", v->last_line,
                    "the log was truncated: HEAD records entry seq %" PRIu64 " (%s, %" PRId64
                    " bytes) but the log ends at seq %" PRIu64,
                    h.seq, h.file, h.size, last);
    if (h.seq < last)
        return fail(v, v->last_file, v->last_line,
                    "entries seq %" PRIu64 "..%" PRIu64 " follow the newest entry HEAD records "
                    "(seq %" PRIu64 "): appended without the key, or written just before a crash "
                    "(the next writer records that repair)",
                    h.seq + 1, last, h.seq);
    if (last && strcmp(h.hash, v->prev_hash) != 0)
        return fail(v, v->last_file, v->last_line,
                    "entry seq %" PRIu64 " was altered: its hash does not match HEAD's", last);
    if (last && (strcmp(h.file, last_name) != 0))
        return fail(v, "HEAD", 0, "HEAD names %s but the newest entry is in %s", h.file,
                    last_name);
    if (last && v->digest_known && h.digest_seq != v->last_digest_seq)
        return fail(v, "HEAD", 0,
                    "HEAD records digest seq %" PRIu64 ", the log's newest digest is %" PRIu64,
                    h.digest_seq, v->last_digest_seq);
    v->r->head_checked = 1;
    return 0;
}

/* Read HEAD and the files' sizes under a shared flock on HEAD (writers hold it exclusively
 * while they append), so the snapshot is one consistent state of the log. */
static int snapshot(struct verifier *v, char ***names, size_t *count)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/HEAD", v->o->dir);
    v->head_len = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        int rc = -errno;
        snprintf(v->r->problem, sizeof v->r->problem, "cannot open %.900s: %s", path,
                 fl_strerror(rc));
        return rc;
    }
    if (fd >= 0)
        while (flock(fd, LOCK_SH) && errno == EINTR)
            ;
    if (fd >= 0)
        v->head_len = fl_fs_pread_full(fd, v->head, sizeof v->head, 0);
    int rc = audit_files_list(v->o->dir, names, count);
    if (rc)
        snprintf(v->r->problem, sizeof v->r->problem, "cannot list %.900s: %s", v->o->dir,
                 fl_strerror(rc));
    else if (!(v->sizes = fl_calloc(*count + 1, sizeof *v->sizes)))
        rc = FL_ENOMEM;
    for (size_t i = 0; !rc && i < *count; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", v->o->dir, (*names)[i]);
        v->sizes[i] = stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
    }
    if (fd >= 0)
        close(fd); /* releases the lock */
    return rc;
}

int fl_audit_verify(const fl_audit_verify_options *o, fl_audit_verify_report *r)
{
    memset(r, 0, sizeof *r);
    struct verifier v = {.o = o, .r = r};
    char err[512];
    int rc = audit_key_load(o->hmac_key_file, 0, v.key, err, sizeof err);
    if (rc) {
        snprintf(r->problem, sizeof r->problem, "%s", err);
        return rc;
    }
    char **names = NULL;
    size_t count = 0;
    if ((rc = snapshot(&v, &names, &count))) {
        audit_files_free(names, count);
        fl_free(v.sizes);
        return rc;
    }
    /* Files holding entries of [from, to]: each file holds entries of its own UTC day. */
    int64_t from_day = o->from_us ? audit_floor_div(o->from_us, AUDIT_US_PER_DAY) : INT64_MIN;
    int64_t to_day = o->to_us ? audit_floor_div(o->to_us, AUDIT_US_PER_DAY) : INT64_MAX;
    size_t first = count, end = 0;
    for (size_t i = 0; i < count; i++) {
        int64_t day;
        (void)audit_file_name_parse(names[i], &day, NULL);
        if (day >= from_day && day <= to_day) {
            if (first == count)
                first = i;
            end = i + 1;
        }
    }
    fl_buf b = {0};
    if (first < count && first > 0)
        rc = load_link(&v, names[first - 1], &b);
    for (size_t i = first; !rc && i < end; i++)
        rc = check_file(&v, names[i], v.sizes[i], &b);
    if (!rc && (count == 0 || (first < count && end == count)))
        rc = check_head(&v, count, count ? names[count - 1] : "");
    fl_buf_free(&b);
    fl_free(v.sizes);
    audit_files_free(names, count);
    return rc;
}
