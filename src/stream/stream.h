/* stream.h — the durable sharded stream (the Kinesis Data Streams role).
 *
 * Every accepted record is appended here before the client gets its ack; every consumer
 * (raw delivery, the processor, `fleetlake stream read`) reads from here by sequence number.
 * A stream is a fixed number of shards (1-256). A partition key (device_id) maps to a shard
 * by MD5 over equal ranges of the 128-bit hash-key space, exactly as Kinesis does, so the
 * Kinesis-compatible API and later resharding can keep the mapping. Sequence numbers are
 * unique and increasing per shard, starting at 1, and shown to clients as decimal strings.
 *
 * This header is the interface; the embedded log (src/stream/log/) is today's backend and a
 * NATS JetStream backend can come later behind the same functions. The stream never logs:
 * functions return codes, and recovery fills a report the caller prints.
 *
 * Threads: fl_stream_append may be called from many threads at once (group commit: appends
 * that arrive while an fsync is running share the next one). Readers are per-thread objects.
 * A read-only stream (opts.read_only) may be opened by another process while the server
 * writes; it never truncates, quarantines or writes anything, and stops at the first batch
 * that is not yet complete. */
#ifndef FL_STREAM_STREAM_H
#define FL_STREAM_STREAM_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define FL_STREAM_MAX_SHARDS 256

/* What a stream record carries (DESIGN.md §4.4). */
enum fl_stream_kind {
    FL_STREAM_KIND_SENSOR = 1,      /* payload: fl_record_encode() binary form */
    FL_STREAM_KIND_BLOB = 2,        /* payload: opaque producer bytes (Kinesis API, later) */
    FL_STREAM_KIND_DEAD_LETTER = 3, /* payload: fl_dead_letter_encode() form */
};

typedef struct fl_stream fl_stream;
typedef struct fl_stream_reader fl_stream_reader;

typedef struct fl_stream_options {
    const char *dir;      /* stream directory, e.g. <data>/stream; created if missing */
    uint32_t shard_count; /* on creation; an existing stream must match or FL_ECONFIG;
                             0 = take it from an existing stream (FL_ENOTFOUND if none) */
    int read_only;        /* open another process's stream for reading only (appends get
                             FL_EUNSUPPORTED); a second writer on a directory gets FL_EAGAIN */
    enum fl_durability durability;
    int64_t segment_bytes;    /* seal a segment past this size */
    int64_t segment_age_us;   /* seal a segment whose first record is this old */
    int64_t retention_age_us; /* delete sealed segments whose newest record is older */
    int64_t retention_bytes;  /* per shard: delete oldest sealed segments beyond this */
    int64_t max_batch_bytes;  /* largest CRC-protected batch; bigger appends are split */
} fl_stream_options;

/* Fill opts from the config table's [stream] section (dir left NULL for the caller). */
void fl_stream_options_from_config(const fl_config *cfg, fl_stream_options *opts);

/* What recovery found, for the caller to log and export. */
typedef struct fl_stream_recovery_report {
    uint64_t truncated_bytes;      /* torn, unsynced tail bytes cut from open segments */
    uint32_t quarantined_segments; /* sealed segments with a bad CRC, moved to quarantine/ */
    uint64_t quarantined_bytes;
    char first_problem[256]; /* e.g. "shard-0001/00000000000000000042.seg: CRC mismatch at offset 8192" */
} fl_stream_recovery_report;

/* Open (creating if needed) and recover the stream. report may be NULL. On success *out
 * is owned by the caller (fl_stream_close). */
FL_MUST_USE int fl_stream_open(const fl_stream_options *opts, fl_stream **out,
                               fl_stream_recovery_report *report);
/* Flush, fsync and close. Accepts NULL. Returns the first error met while syncing. */
int fl_stream_close(fl_stream *s);

uint32_t fl_stream_shard_count(const fl_stream *s);
/* Shard for a partition key: MD5(key) as a 128-bit big-endian integer, over shard_count equal
 * ranges (the last range ends at 2^128-1). Pure function. */
uint32_t fl_stream_shard_for_key(uint32_t shard_count, const void *key, size_t n);
/* The shard's hash-key range as decimal strings (Kinesis' HashKeyRange), bufs of >= 40 bytes. */
void fl_stream_shard_hash_range(uint32_t shard_count, uint32_t shard, char *start, char *end);

/* One record to append. The caller fills shard, kind, partition_key and payload; append
 * fills seq and result (0, or a negative code such as FL_ESTOPPED for a failed shard). */
typedef struct fl_stream_entry {
    uint32_t shard;
    uint8_t kind;
    fl_slice partition_key;
    fl_slice payload;
    uint64_t seq;
    int result;
} fl_stream_entry;

/* Append entries (any mix of shards; per shard they keep their order) with arrival time
 * arrival_us. Returns only when every appended entry is durable per opts.durability.
 * Returns 0 if every entry succeeded, else the first error; each entry's result says which
 * succeeded (an entry is acked only with result 0). After a write or fsync error the shard is
 * failed: it refuses appends with FL_ESTOPPED until the stream is reopened (fsyncgate: never
 * retry an fsync). */
FL_MUST_USE int fl_stream_append(fl_stream *s, fl_stream_entry *entries, size_t n,
                                 int64_t arrival_us);

/* ---- reading ------------------------------------------------------------------------------- */

enum fl_stream_start {
    FL_STREAM_TRIM_HORIZON,         /* oldest retained record */
    FL_STREAM_LATEST,               /* only records appended after the reader opens */
    FL_STREAM_AT_SEQUENCE_NUMBER,   /* value = seq */
    FL_STREAM_AFTER_SEQUENCE_NUMBER,/* value = seq */
    FL_STREAM_AT_TIMESTAMP,         /* value = arrival time µs: first record arrived >= it */
};

typedef struct fl_stream_record {
    uint32_t shard;
    uint64_t seq;
    int64_t arrival_us;
    uint8_t kind;
    fl_slice partition_key; /* valid until the next fl_stream_reader_next/close */
    fl_slice payload;       /* likewise */
} fl_stream_record;

FL_MUST_USE int fl_stream_reader_open(fl_stream *s, uint32_t shard, enum fl_stream_start start,
                                      uint64_t value, fl_stream_reader **out);
/* Next record: returns 1 with *out filled, 0 if none is available yet (poll again later),
 * or a negative error (FL_ECORRUPT: a sealed batch failed its CRC; the reader skips nothing
 * silently). Records already deleted by retention are skipped to the oldest retained one. */
FL_MUST_USE int fl_stream_reader_next(fl_stream_reader *r, fl_stream_record *out);
void fl_stream_reader_close(fl_stream_reader *r);

/* ---- status, retention --------------------------------------------------------------------- */

typedef struct fl_stream_shard_stats {
    uint64_t first_seq; /* 0 if empty */
    uint64_t last_seq;  /* 0 if empty */
    uint64_t records;   /* retained */
    uint64_t bytes;     /* retained, on disk */
    uint32_t segments;
    int failed;       /* 1 after a write/fsync error: appends get FL_ESTOPPED */
    int failed_error; /* the error that failed it */
} fl_stream_shard_stats;

FL_MUST_USE int fl_stream_shard_stats_get(fl_stream *s, uint32_t shard, fl_stream_shard_stats *out);
/* fsync latency histogram (µs) of this stream; owned by the stream. */
const fl_histogram *fl_stream_fsync_histogram(const fl_stream *s);
/* Seal segments that reached segment_age_us and delete sealed segments past retention.
 * Called periodically by the server; safe while appends run. */
FL_MUST_USE int fl_stream_maintain(fl_stream *s, int64_t now_us);

/* ---- consumer checkpoints in meta.db --------------------------------------------------------
 * Named checkpoints live in the caller's SQLite database (meta.db) so a consumer can commit
 * its checkpoint in the same transaction as its output (exactly-once into the lake). */
FL_MUST_USE int fl_stream_checkpoint_init(sqlite3 *db); /* create the table if missing */
FL_MUST_USE int fl_stream_checkpoint_save(sqlite3 *db, const char *consumer, uint32_t shard,
                                          uint64_t seq);
/* FL_ENOTFOUND if the consumer has no checkpoint for that shard. */
FL_MUST_USE int fl_stream_checkpoint_load(sqlite3 *db, const char *consumer, uint32_t shard,
                                          uint64_t *seq);

#endif
