/* format.c — the audit log's byte formats: entry and digest lines, the HEAD anchor, file
 * names, and the line parser shared by the verifier and `audit show` (audit_int.h describes
 * the layout and invariants). Hashes and HMACs are OpenSSL's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"

const char audit_zero_hash[AUDIT_HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static int is_hex64(const char *s, size_t n)
{
    if (n != AUDIT_HASH_HEX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

void audit_sha256_hex(const void *p, size_t n, char out[AUDIT_HASH_HEX + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    fl_hex_encode(md, sizeof md, out);
}

void audit_hmac_hex(const unsigned char key[AUDIT_KEY_BYTES], const char *domain, const void *p,
                    size_t n, char out[AUDIT_HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t dlen = strlen(domain);
    /* domain || p: small enough to join on the stack for the lines we sign. */
    unsigned char buf[AUDIT_LINE_MAX + 64];
    if (dlen + n <= sizeof buf) {
        memcpy(buf, domain, dlen);
        memcpy(buf + dlen, p, n);
        HMAC(EVP_sha256(), key, AUDIT_KEY_BYTES, buf, dlen + n, md, &len);
    } else {
        /* Longer than any valid line: still a deterministic MAC, over a hash of the input. */
        unsigned char h[SHA256_DIGEST_LENGTH];
        SHA256(p, n, h);
        memcpy(buf, domain, dlen);
        memcpy(buf + dlen, h, sizeof h);
        HMAC(EVP_sha256(), key, AUDIT_KEY_BYTES, buf, dlen + sizeof h, md, &len);
    }
    fl_hex_encode(md, 32, out);
}

/* ---- the key ---------------------------------------------------------------------------- */

static int hex_decode(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int key_create(const char *path, char *err, size_t errlen)
{
    unsigned char key[AUDIT_KEY_BYTES];
    char text[AUDIT_HASH_HEX + 2];
    if (RAND_bytes(key, sizeof key) != 1) {
        snprintf(err, errlen, "cannot draw random bytes for the audit HMAC key");
        return FL_EINVAL;
    }
    fl_hex_encode(key, sizeof key, text);
    text[AUDIT_HASH_HEX] = '\n';
    int fd = fl_fs->open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -EEXIST)
        return 0; /* another writer created it first: load theirs */
    if (fd < 0) {
        snprintf(err, errlen, "cannot create the audit HMAC key %s: %s", path, fl_strerror(fd));
        return fd;
    }
    int rc = fl_fs_write_all(fd, text, AUDIT_HASH_HEX + 1);
    if (!rc)
        rc = fl_fs->fsync(fd);
    fl_fs->close(fd);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!rc && slash) {
        *slash = 0;
        rc = fl_fs_fsync_dir(dir[0] ? dir : "/");
    }
    if (rc)
        snprintf(err, errlen, "cannot write the audit HMAC key %s: %s", path, fl_strerror(rc));
    return rc;
}

int audit_key_load(const char *path, int create, unsigned char key[AUDIT_KEY_BYTES], char *err,
                   size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int rc = -errno;
        if (rc != -ENOENT || !create) {
            snprintf(err, errlen, "cannot read the audit HMAC key %s: %s", path, fl_strerror(rc));
            return rc;
        }
        if ((rc = key_create(path, err, errlen)))
            return rc;
        if (stat(path, &st) != 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot read the audit HMAC key %s: %s", path, fl_strerror(rc));
            return rc;
        }
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "the audit HMAC key %s is readable or writable by group or others (mode %03o); "
                 "chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        return FL_ECONFIG;
    }
    char text[AUDIT_HASH_HEX + 8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "cannot open the audit HMAC key %s: %s", path, fl_strerror(rc));
        return rc;
    }
    ssize_t n = fl_fs_pread_full(fd, text, sizeof text - 1, 0);
    close(fd);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    if (n != AUDIT_HASH_HEX || hex_decode(text, key, AUDIT_KEY_BYTES)) {
        snprintf(err, errlen, "the audit HMAC key %s is not 64 hexadecimal digits", path);
        return FL_EPARSE;
    }
    return 0;
}

/* ---- lines ------------------------------------------------------------------------------ */

static int append_str(fl_buf *b, const char *name, const char *s, size_t cap)
{
    size_t n = s ? strlen(s) : 0;
    if (n > cap)
        n = cap;
    int rc = fl_buf_printf(b, ",\"%s\":\"", name);
    rc = rc ? rc : fl_buf_append_json_string(b, s ? s : "", n);
    return rc ? rc : fl_buf_append_cstr(b, "\"");
}

int audit_format_entry(fl_buf *out, uint64_t seq, int64_t time_us, const char *prev,
                       const fl_audit_event *ev)
{
    char t[FL_TIME_RFC3339_MAX];
    fl_time_format_rfc3339(time_us, t);
    const char *type = ev->type && strcmp(ev->type, "admin") == 0 ? "admin" : "api";
    int rc = fl_buf_printf(out, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"type\":\"%s\"", seq, t,
                           type);
    rc = rc ? rc : append_str(out, "key_id", ev->key_id, 63);
    rc = rc ? rc : append_str(out, "role", ev->role, 32);
    rc = rc ? rc : append_str(out, "action", ev->action, 95);
    rc = rc ? rc : append_str(out, "resource", ev->resource, AUDIT_FIELD_MAX);
    if (!rc) {
        if (ev->result)
            rc = append_str(out, "result", ev->result, 15);
        else
            rc = fl_buf_printf(out, ",\"result\":%d", ev->status);
    }
    rc = rc ? rc : fl_buf_printf(out, ",\"bytes_in\":%" PRId64 ",\"bytes_out\":%" PRId64,
                                 ev->bytes_in, ev->bytes_out);
    rc = rc ? rc : append_str(out, "trace_id", ev->trace_id, 63);
    rc = rc ? rc : append_str(out, "client", ev->client, 127);
    if (!rc && ev->detail && *ev->detail)
        rc = append_str(out, "detail", ev->detail, AUDIT_DETAIL_MAX);
    return rc ? rc : fl_buf_printf(out, ",\"prev\":\"%s\"}", prev);
}

int audit_format_digest(fl_buf *out, uint64_t seq, int64_t time_us, const char *prev,
                        int64_t hour_us, uint64_t first_seq, uint64_t count,
                        const unsigned char key[AUDIT_KEY_BYTES])
{
    char t[FL_TIME_RFC3339_MAX], h[FL_TIME_RFC3339_MAX], mac[AUDIT_HASH_HEX + 1];
    fl_time_format_rfc3339(time_us, t);
    fl_time_format_rfc3339(hour_us, h);
    size_t start = out->len;
    int rc = fl_buf_printf(out,
                           "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"type\":\"digest\",\"hour\":\"%s\""
                           ",\"first_seq\":%" PRIu64 ",\"count\":%" PRIu64 ",\"prev\":\"%s\"",
                           seq, t, h, first_seq, count, prev);
    if (rc)
        return rc;
    audit_hmac_hex(key, AUDIT_DIGEST_DOMAIN, out->data + start, out->len - start, mac);
    return fl_buf_printf(out, AUDIT_HMAC_TAG "%s\"}", mac);
}

int audit_format_head(char out[AUDIT_HEAD_BYTES], const audit_head *h,
                      const unsigned char key[AUDIT_KEY_BYTES])
{
    char mac[AUDIT_HASH_HEX + 1];
    int n = snprintf(out, AUDIT_HEAD_BYTES,
                     "{\"seq\":%" PRIu64 ",\"hash\":\"%s\",\"time_us\":%" PRId64
                     ",\"digest_seq\":%" PRIu64 ",\"file\":\"%s\",\"size\":%" PRId64,
                     h->seq, h->hash, h->time_us, h->digest_seq, h->file, h->size);
    if (n < 0 || (size_t)n + AUDIT_HMAC_TAIL_LEN + 1 >= AUDIT_HEAD_BYTES)
        return FL_ERANGE;
    audit_hmac_hex(key, AUDIT_HEAD_DOMAIN, out, (size_t)n, mac);
    n += snprintf(out + n, AUDIT_HEAD_BYTES - (size_t)n, AUDIT_HMAC_TAG "%s\"}", mac);
    memset(out + n, ' ', AUDIT_HEAD_BYTES - (size_t)n - 1);
    out[AUDIT_HEAD_BYTES - 1] = '\n';
    return 0;
}

/* The HMAC suffix of a signed line: 0 and the prefix length when line ends with it. */
static int split_hmac(const char *line, size_t len, size_t *prefix_len, char mac[AUDIT_HASH_HEX + 1])
{
    size_t tag = sizeof AUDIT_HMAC_TAG - 1;
    if (len < AUDIT_HMAC_TAIL_LEN + 1)
        return -1;
    size_t at = len - AUDIT_HMAC_TAIL_LEN;
    if (memcmp(line + at, AUDIT_HMAC_TAG, tag) != 0 || line[len - 2] != '"' ||
        line[len - 1] != '}' || !is_hex64(line + at + tag, AUDIT_HASH_HEX))
        return -1;
    memcpy(mac, line + at + tag, AUDIT_HASH_HEX);
    mac[AUDIT_HASH_HEX] = 0;
    *prefix_len = at;
    return 0;
}

static int get_u64(json_t *o, const char *k, uint64_t *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *v = (uint64_t)json_integer_value(j);
    return 0;
}

static int get_i64(json_t *o, const char *k, int64_t *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j))
        return -1;
    *v = (int64_t)json_integer_value(j);
    return 0;
}

static int get_str(json_t *o, const char *k, char *out, size_t cap, int required)
{
    json_t *j = json_object_get(o, k);
    if (!j) {
        out[0] = 0;
        return required ? -1 : 0;
    }
    if (!json_is_string(j) || json_string_length(j) >= cap)
        return -1;
    memcpy(out, json_string_value(j), json_string_length(j) + 1);
    return 0;
}

static int get_time(json_t *o, const char *k, int64_t *us)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_string(j))
        return -1;
    return fl_time_parse_rfc3339(json_string_value(j), json_string_length(j), us) ? -1 : 0;
}

int audit_parse_head(const char *p, size_t n, const unsigned char key[AUDIT_KEY_BYTES],
                     audit_head *h, char *err, size_t errlen)
{
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == 0))
        n--;
    if (n == 0)
        return FL_ENOTFOUND;
    size_t prefix;
    char mac[AUDIT_HASH_HEX + 1], want[AUDIT_HASH_HEX + 1];
    if (split_hmac(p, n, &prefix, mac)) {
        snprintf(err, errlen, "HEAD is not a signed anchor line");
        return FL_EPARSE;
    }
    audit_hmac_hex(key, AUDIT_HEAD_DOMAIN, p, prefix, want);
    if (CRYPTO_memcmp(mac, want, AUDIT_HASH_HEX) != 0) {
        snprintf(err, errlen, "HEAD's HMAC does not match (edited, or signed with another key)");
        return FL_ECORRUPT;
    }
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    int bad = !json_is_object(o) || get_u64(o, "seq", &h->seq) ||
              get_str(o, "hash", h->hash, sizeof h->hash, 1) ||
              !is_hex64(h->hash, strlen(h->hash)) || get_i64(o, "time_us", &h->time_us) ||
              get_u64(o, "digest_seq", &h->digest_seq) ||
              get_str(o, "file", h->file, sizeof h->file, 1) || get_i64(o, "size", &h->size) ||
              h->size < 0 || (h->file[0] && audit_file_name_parse(h->file, NULL, NULL));
    json_decref(o);
    if (bad) {
        snprintf(err, errlen, "HEAD lacks a field or has a bad value");
        return FL_EPARSE;
    }
    return 0;
}

int fl_audit_line_parse(const char *line, size_t len, fl_audit_line *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > AUDIT_LINE_MAX) {
        snprintf(err, errlen, len ? "line longer than %d bytes" : "empty line", AUDIT_LINE_MAX);
        return FL_EPARSE;
    }
    if (memchr(line, '\n', len)) {
        snprintf(err, errlen, "line holds a newline");
        return FL_EPARSE;
    }
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    const char *why = NULL;
    if (!json_is_object(o))
        why = o ? "not a JSON object" : "not valid JSON";
    else if (get_u64(o, "seq", &out->seq) || out->seq == 0)
        why = "no valid \"seq\"";
    else if (get_time(o, "time", &out->time_us))
        why = "no valid RFC 3339 \"time\"";
    else if (get_str(o, "type", out->type, sizeof out->type, 1))
        why = "no valid \"type\"";
    else if (get_str(o, "prev", out->prev, sizeof out->prev, 1) ||
             !is_hex64(out->prev, strlen(out->prev)))
        why = "no valid \"prev\" hash";
    else if (strcmp(out->type, "digest") == 0) {
        if (get_time(o, "hour", &out->hour_us) || get_u64(o, "count", &out->count) ||
            get_u64(o, "first_seq", &out->first_seq))
            why = "digest without a valid hour, count or first_seq";
        else if (split_hmac(line, len, &out->hmac_prefix_len, out->hmac))
            why = "digest does not end with its \"hmac\"";
    } else if (strcmp(out->type, "api") == 0 || strcmp(out->type, "admin") == 0) {
        json_t *r = json_object_get(o, "result");
        if (get_str(o, "key_id", out->key_id, sizeof out->key_id, 0) ||
            get_str(o, "action", out->action, sizeof out->action, 1))
            why = "no valid \"action\" or \"key_id\"";
        else if (json_is_integer(r))
            snprintf(out->result, sizeof out->result, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(r));
        else if (get_str(o, "result", out->result, sizeof out->result, 1))
            why = "no valid \"result\"";
    } else {
        why = "unknown \"type\"";
    }
    json_decref(o);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return FL_EPARSE;
    }
    return 0;
}

/* ---- files ------------------------------------------------------------------------------ */

void audit_file_name(char out[AUDIT_FILE_NAME_MAX], int64_t day, unsigned index)
{
    int64_t y;
    unsigned m, d;
    fl_time_civil_from_days(day, &y, &m, &d);
    snprintf(out, AUDIT_FILE_NAME_MAX, "audit-%04" PRId64 "-%02u-%02u-%04u.jsonl", y, m, d,
             index % 10000);
}

int audit_file_name_parse(const char *name, int64_t *day, unsigned *index)
{
    unsigned y, m, d, i;
    int end = 0;
    if (strlen(name) != 27 || sscanf(name, "audit-%4u-%2u-%2u-%4u.jsonl%n", &y, &m, &d, &i, &end) != 4 ||
        end != 27 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    char again[AUDIT_FILE_NAME_MAX];
    int64_t dd = fl_time_days_from_civil(y, m, d);
    audit_file_name(again, dd, i);
    if (strcmp(again, name) != 0)
        return -1;
    if (day)
        *day = dd;
    if (index)
        *index = i;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int audit_files_list(const char *dir, char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (audit_file_name_parse(e->d_name, NULL, NULL))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = fl_realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = FL_ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[n] = fl_strdup(e->d_name))) {
            rc = FL_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        audit_files_free(v, n);
        return rc;
    }
    if (n)
        qsort(v, n, sizeof *v, cmp_names);
    *names = v;
    *count = n;
    return 0;
}

void audit_files_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        fl_free(names[i]);
    fl_free(names);
}

int audit_read_file(const char *path, fl_buf *b)
{
    fl_buf_reset(b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    for (;;) {
        if ((rc = fl_buf_reserve(b, 1 << 16)))
            break;
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->data[b->len] = 0;
    }
    close(fd);
    return rc;
}
