/* audit_int.h — private to src/audit: the line and HEAD formats, hashing and the HMAC key.
 *
 * On-disk layout (<data>/audit/):
 *   audit-YYYY-MM-DD-NNNN.jsonl  the log, one JSON line per entry, named by the UTC date of
 *                                the entries it starts with and an index within the day; the
 *                                chain runs through the files in name order.
 *   HEAD                         the anchor: one HMAC-signed JSON line padded to HEAD_BYTES,
 *                                rewritten in place (pwrite at 0) after every append.
 * Invariants, under the log's lock (mutex + flock on HEAD):
 *   1. Entry k has "seq":k (1, 2, ...) and "prev" = hex SHA-256 of line k-1's bytes without its
 *      newline; entry 1's prev is 64 zeros.
 *   2. A digest line's HMAC covers its bytes before `,"hmac":"` ; HEAD's likewise. Each is
 *      computed over a domain-separation prefix + those bytes, so neither can stand for the
 *      other.
 *   3. HEAD names the newest entry: its seq and hash, the file holding it, that file's size
 *      just after it, the seq of the newest digest and the newest entry's time.
 *   4. A line is written (pwrite at HEAD's size) before HEAD: a crash between the two leaves
 *      the log one whole line ahead of HEAD (or a torn line past HEAD's size), which the next
 *      writer repairs and records as an `audit.recover` entry. */
#ifndef FL_AUDIT_AUDIT_INT_H
#define FL_AUDIT_AUDIT_INT_H

#include <stdint.h>

#include "audit/audit.h"

/* HEAD's fixed size: one pwrite of a sector-sized record, never torn across two sectors on a
 * 512-byte-sector disk. Its content is ~300 bytes. */
#define AUDIT_HEAD_BYTES 512
/* Longest line a writer produces (field caps below) and a verifier accepts: 8 KiB. */
#define AUDIT_LINE_MAX 8192
/* Caps on the free-form fields, so one entry stays well under AUDIT_LINE_MAX even when every
 * byte needs a 6-byte \u escape. */
#define AUDIT_FIELD_MAX 256
#define AUDIT_DETAIL_MAX 512
#define AUDIT_KEY_BYTES 32
#define AUDIT_HASH_HEX 64
#define AUDIT_FILE_NAME_MAX 40

extern const char audit_zero_hash[AUDIT_HASH_HEX + 1];

/* The chain head, as HEAD records it. */
typedef struct audit_head {
    uint64_t seq;        /* newest entry's seq; 0 for an empty log */
    char hash[AUDIT_HASH_HEX + 1]; /* its SHA-256 (audit_zero_hash for an empty log) */
    int64_t time_us;     /* newest entry's time */
    uint64_t digest_seq; /* newest digest's seq; 0 if none */
    char file[AUDIT_FILE_NAME_MAX]; /* file holding the newest entry ("" for an empty log) */
    int64_t size;        /* that file's size just after the newest entry */
} audit_head;

/* hex SHA-256 of p[0..n) into out (65 bytes). */
void audit_sha256_hex(const void *p, size_t n, char out[AUDIT_HASH_HEX + 1]);
/* hex HMAC-SHA256 with key over domain || p[0..n) into out (65 bytes). */
void audit_hmac_hex(const unsigned char key[AUDIT_KEY_BYTES], const char *domain, const void *p,
                    size_t n, char out[AUDIT_HASH_HEX + 1]);
#define AUDIT_DIGEST_DOMAIN "fleetlake-audit-digest-v1\n"
#define AUDIT_HEAD_DOMAIN "fleetlake-audit-head-v1\n"
/* The tail every signed line ends with: `,"hmac":"<64 hex>"}`. */
#define AUDIT_HMAC_TAG ",\"hmac\":\""
#define AUDIT_HMAC_TAIL_LEN (sizeof AUDIT_HMAC_TAG - 1 + AUDIT_HASH_HEX + 2)

/* Load the key from path (64 hex digits). With create, a missing file is created (0600,
 * fsynced) with 32 random bytes. Refuses a file readable by group or others. Returns 0 or a
 * code with a message in err. */
FL_MUST_USE int audit_key_load(const char *path, int create, unsigned char key[AUDIT_KEY_BYTES],
                               char *err, size_t errlen);

/* Append entry line seq (without newline) to out. */
FL_MUST_USE int audit_format_entry(fl_buf *out, uint64_t seq, int64_t time_us, const char *prev,
                                   const fl_audit_event *ev);
/* Append a digest line closing entries first_seq..seq-1 of the hour starting at hour_us. */
FL_MUST_USE int audit_format_digest(fl_buf *out, uint64_t seq, int64_t time_us, const char *prev,
                                    int64_t hour_us, uint64_t first_seq, uint64_t count,
                                    const unsigned char key[AUDIT_KEY_BYTES]);
/* HEAD's bytes for h: exactly AUDIT_HEAD_BYTES, space padded, ending in a newline. */
FL_MUST_USE int audit_format_head(char out[AUDIT_HEAD_BYTES], const audit_head *h,
                                  const unsigned char key[AUDIT_KEY_BYTES]);
/* Parse and authenticate HEAD bytes. Returns 0, FL_ENOTFOUND for an empty HEAD (a new log),
 * FL_EPARSE or FL_ECORRUPT (bad HMAC) with a reason in err. */
FL_MUST_USE int audit_parse_head(const char *p, size_t n, const unsigned char key[AUDIT_KEY_BYTES],
                                 audit_head *h, char *err, size_t errlen);

/* File names. */
void audit_file_name(char out[AUDIT_FILE_NAME_MAX], int64_t day, unsigned index);
/* 0 and the UTC day number and index when name is a log file name, else -1. */
int audit_file_name_parse(const char *name, int64_t *day, unsigned *index);
/* The log files of dir in chain order (names, caller frees with audit_files_free). */
FL_MUST_USE int audit_files_list(const char *dir, char ***names, size_t *count);
void audit_files_free(char **names, size_t count);

/* Read a whole file into b (cleared first). Returns 0 or -errno. */
FL_MUST_USE int audit_read_file(const char *path, fl_buf *b);

#define AUDIT_US_PER_HOUR (3600 * FL_US_PER_SEC)
#define AUDIT_US_PER_DAY (86400 * FL_US_PER_SEC)
static inline int64_t audit_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

#endif
