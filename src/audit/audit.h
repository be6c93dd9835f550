/* audit.h — the audit trail (the CloudTrail role): an append-only, hash-chained log of every
 * API call and every administrative action, under <data>/audit/.
 *
 * Each entry is one JSON line (docs/security.md "Audit trail"): time, key id and role, action,
 * resource, result, bytes in/out, trace id, client address, a sequence number and `prev`, the
 * SHA-256 of the previous line, so the lines form a hash chain. Each hour closes with a digest
 * entry signed with HMAC-SHA256 (the key lives in a 0600 file, audit.hmac_key_file) over the
 * chain head and the number of entries it closes. A small anchor file, HEAD, HMAC-signed too,
 * records the newest entry's sequence number, hash, file and size: it is rewritten under the
 * log's lock with every append, so a tail cut after the last digest is detected as well.
 *
 * Writers: the serving process (one fl_audit_log shared by all HTTP threads) and short CLI
 * processes (fl_audit_admin) may append at the same time; a mutex orders threads and flock(2)
 * on HEAD orders processes, and every append re-reads HEAD under the lock, so the chain never
 * forks. `fleetlake audit verify` (fl_audit_verify) checks everything offline. */
#ifndef FL_AUDIT_AUDIT_H
#define FL_AUDIT_AUDIT_H

#include <stdint.h>

#include "core/core.h"
#include "monitor/monitor.h"

typedef struct fl_audit_log fl_audit_log;

typedef struct fl_audit_options {
    char dir[4200];           /* the log's directory, <data>/audit */
    char hmac_key_file[4200]; /* the HMAC key (created 0600 by the first writer) */
    int fsync_each_entry;     /* 1: fdatasync every entry before append returns */
    int64_t fsync_interval_ms; /* otherwise: the background thread syncs this often */
    int64_t file_bytes;       /* a file is closed and the next started past this size */
    int64_t retention_days;   /* files whose newest entry is older are deleted... */
    int64_t retention_bytes;  /* ...and the oldest while the log is larger than this */
    int background;           /* start the thread (interval sync, hour digests, retention) */
} fl_audit_options;

/* Fill *o from the audit.* keys for data_dir. Returns 0, or FL_ECONFIG when a path does not
 * fit. Background is on (serve's setting); CLI writers turn it off. */
FL_MUST_USE int fl_audit_options_from_config(const fl_config *cfg, const char *data_dir,
                                             fl_audit_options *o);
/* 1 when audit.enabled = on. */
int fl_audit_enabled(const fl_config *cfg);

/* One entry to append. Strings are borrowed for the call; NULL means empty. */
typedef struct fl_audit_event {
    const char *type;     /* "api" or "admin" */
    const char *key_id;   /* the caller's API key id ("" when auth is off) */
    const char *role;     /* its role, or "local" for a CLI run on the machine */
    const char *action;   /* "POST /v1/records", "keys.create", "erase" ... */
    const char *resource; /* the request path, or what an admin action worked on */
    int status;           /* HTTP status for api entries (0: none sent) */
    const char *result;   /* admin entries: "ok" or "error" (api entries: NULL) */
    int64_t bytes_in, bytes_out;
    const char *trace_id; /* the request's W3C trace id (32 hex digits) */
    const char *client;   /* client address, or "local uid=N(name) pid=P" */
    const char *detail;   /* optional free text, e.g. an error message */
} fl_audit_event;

typedef struct fl_audit_stats {
    uint64_t entries;      /* entries appended by this process (digests included) */
    uint64_t digests;      /* hourly digests written by this process */
    uint64_t bytes;        /* bytes appended */
    uint64_t write_errors; /* appends that failed (entry lost) */
    uint64_t recoveries;   /* times HEAD and the files disagreed and the tail was re-read */
    int failed;            /* 1 after an fsync error: the log accepts no more entries */
} fl_audit_stats;

/* Open (creating the directory, the key and HEAD as needed) and recover the chain head from
 * HEAD and the newest file; a mismatch between the two is repaired by appending an
 * `audit.recover` entry that says what was found (docs/security.md). *out is the caller's. */
FL_MUST_USE int fl_audit_open(const fl_audit_options *o, fl_audit_log **out);
/* Append one entry (first closing the previous hour with a digest when it has ended). Thread
 * safe. Errors are counted in the stats and returned; after an fsync error every call fails
 * with FL_ESTOPPED (fsync errors are not retried). */
FL_MUST_USE int fl_audit_append(fl_audit_log *log, const fl_audit_event *ev);
/* What the background thread does each interval: sync, close an ended hour with its digest,
 * apply retention. now_us is the wall clock (tests pass their own). */
FL_MUST_USE int fl_audit_tick(fl_audit_log *log, int64_t now_us);
/* Append with an explicit wall-clock time (tests use it to cross hours); fl_audit_append is
 * this with fl_time_now_us(). */
FL_MUST_USE int fl_audit_append_at(fl_audit_log *log, const fl_audit_event *ev, int64_t now_us);
/* fdatasync the current file and HEAD. */
FL_MUST_USE int fl_audit_sync(fl_audit_log *log);
void fl_audit_get_stats(fl_audit_log *log, fl_audit_stats *out);
/* Export fleetlake_audit_* families (entries, digests, bytes, write errors, failed) through
 * a collector. log must outlive m's last render. */
FL_MUST_USE int fl_audit_metrics_register(fl_audit_log *log, fl_metrics *m);
/* Stop the thread, sync and free. Returns the sync's result. Accepts NULL. */
int fl_audit_close(fl_audit_log *log);

/* For CLI commands (erase, keys ...): append one admin entry to data_dir's log with the audit
 * settings of cfg (NULL: defaults), fsynced before returning. The actor is key_id (NULL or ""
 * for a local run) with role "local" and client "local uid=N(name) pid=P". No-op returning 0
 * when audit.enabled = off. On failure returns the code and writes a message into err. */
FL_MUST_USE int fl_audit_admin(const fl_config *cfg, const char *data_dir, const char *key_id,
                               const char *action, const char *resource, const char *result,
                               const char *detail, char *err, size_t errlen);

/* ---- verification (verify.c) ---- */
typedef struct fl_audit_verify_options {
    const char *dir;           /* <data>/audit */
    const char *hmac_key_file; /* the key; must exist */
    int64_t from_us, to_us;    /* verify the files holding entries of [from, to] (0: open) */
} fl_audit_verify_options;

typedef struct fl_audit_verify_report {
    uint64_t files, entries, digests;
    uint64_t first_seq, last_seq;
    int64_t first_time_us, last_time_us;
    int head_checked;   /* the range reached the newest file and HEAD matched it */
    int chain_from_start; /* the first file verified starts the chain (seq 1) */
    uint64_t recover_notes; /* audit.recover entries with result ok (crash repairs) */
    /* On failure: */
    char file[256];     /* the file holding the first bad entry ("HEAD" for the anchor) */
    uint64_t line;      /* its 1-based line number (0: not a line) */
    char problem[1024]; /* what is wrong */
} fl_audit_verify_report;

/* Verify the chain, digests and HEAD. Returns 0 when intact, FL_ECORRUPT with report->file,
 * line and problem naming the first bad entry, or another code (with report->problem) when
 * the log cannot be read (missing key, I/O error). */
FL_MUST_USE int fl_audit_verify(const fl_audit_verify_options *o, fl_audit_verify_report *report);

/* Parse one log line into its fields for the verifier and `audit show`. Exposed for the fuzz
 * harness. Returns 0 or FL_EPARSE with a reason in err. The parsed strings are copies inside
 * *out (bounded). */
typedef struct fl_audit_line {
    uint64_t seq;
    int64_t time_us;
    char type[16];   /* api | admin | digest */
    char prev[65];   /* hex SHA-256 of the previous line */
    char key_id[64];
    char action[96];
    char result[16]; /* admin result, or the HTTP status as text */
    /* digest only */
    int64_t hour_us;
    uint64_t count, first_seq;
    char hmac[65];
    size_t hmac_prefix_len; /* bytes of the line the HMAC covers */
} fl_audit_line;
FL_MUST_USE int fl_audit_line_parse(const char *line, size_t len, fl_audit_line *out, char *err,
                                    size_t errlen);

#endif
