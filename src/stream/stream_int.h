/* stream_int.h — private declarations of the stream module: the embedded log's on-disk batch
 * format, its in-memory shard and segment objects, and the helpers the verb files
 * (log_open.c, log_recover.c, log_write.c, log_read.c, log_retention.c) share. Only files
 * under src/stream/ include this; the rest of the program sees stream.h. The design notes
 * (layout, invariants, state machine) are at the top of log/log_open.c. */
#ifndef FL_STREAM_STREAM_INT_H
#define FL_STREAM_STREAM_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "stream/stream.h"

/* ---- on-disk batch format (little-endian) ---------------------------------------------------
 *   0 u32 magic "FLB1"         4 u16 header bytes (48)   6 u8 version (1)   7 u8 flags (0)
 *   8 u32 payload bytes       12 u32 record count       16 u64 first seq
 *  24 i64 min arrival µs      32 i64 max arrival µs     40 u32 reserved (0)
 *  44 u32 CRC32C over header bytes [0,44) then the payload
 * Record in the payload (seq implicit: first seq + index):
 *   i64 arrival µs, u8 kind, u16 key bytes, key, u32 payload bytes, payload */
#define FL_LOG_BATCH_MAGIC 0x31424C46u /* "FLB1" read as little-endian u32 */
#define FL_LOG_BATCH_VERSION 1
#define FL_LOG_BATCH_HEADER_BYTES 48
#define FL_LOG_BATCH_CRC_OFFSET 44
#define FL_LOG_RECORD_HEADER_BYTES 15
/* Largest payload a reader accepts: the config's upper bound for stream.max_batch_bytes, so
 * a corrupt length can never make a reader allocate more than a writer could have written. */
#define FL_LOG_BATCH_PAYLOAD_MAX (256u << 20)
#define FL_LOG_FORMAT_VERSION 1
#define FL_LOG_SEGMENT_NAME_BYTES 32 /* 20 digits + ".seg" + NUL, rounded up */

typedef struct fl_log_batch_header {
    uint32_t payload_bytes;
    uint32_t record_count;
    uint64_t first_seq;
    int64_t min_arrival_us;
    int64_t max_arrival_us;
    uint32_t crc;
} fl_log_batch_header;

typedef struct fl_log_record_view {
    int64_t arrival_us;
    uint8_t kind;
    fl_slice key;
    fl_slice payload;
} fl_log_record_view;

/* Bytes one record takes in a batch payload. */
static inline size_t fl_log_record_bytes(size_t key_bytes, size_t payload_bytes)
{
    return FL_LOG_RECORD_HEADER_BYTES + key_bytes + payload_bytes;
}
/* Encode one record at out (fl_log_record_bytes() bytes). key.len must be <= UINT16_MAX. */
void fl_log_record_encode(unsigned char *out, int64_t arrival_us, uint8_t kind, fl_slice key,
                          fl_slice payload);
/* Fill the 48-byte header at out for h and payload (computes and stores the CRC). */
void fl_log_batch_header_encode(unsigned char *out, fl_log_batch_header *h,
                                const unsigned char *payload);
/* Parse a header's fixed fields and check their bounds (magic, version, lengths, counts,
 * arrival order). 0 or FL_ECORRUPT. Does not check the CRC. */
FL_MUST_USE int fl_log_batch_header_decode(const unsigned char *p, fl_log_batch_header *h);
/* Check the CRC and that the payload holds exactly record_count well-formed records.
 * 0 or FL_ECORRUPT. */
FL_MUST_USE int fl_log_batch_verify(const unsigned char *header, const fl_log_batch_header *h,
                                    const unsigned char *payload);
/* Decode the record at payload[*pos]; advances *pos. 0, or FL_ECORRUPT if it overruns len.
 * The slices point into payload. */
FL_MUST_USE int fl_log_record_decode(const unsigned char *payload, size_t len, size_t *pos,
                                     fl_log_record_view *out);

/* ---- in-memory objects ----------------------------------------------------------------------- */

/* One segment file. Reference counted under its shard's lock: the shard's list holds one
 * reference, each reader positioned in it one, an fsync leader one while it syncs. The fd is
 * closed when the last reference goes, so retention can unlink a file a reader still reads. */
typedef struct fl_log_segment {
    struct fl_log_segment *prev, *next;
    int refs;
    int fd;
    int removed;           /* no longer in the shard's list (retention deleted it) */
    uint64_t base_seq;     /* from the file name: the first seq it holds or will hold */
    uint64_t last_seq;     /* 0 while empty */
    uint64_t records;
    int64_t bytes;         /* end of the last valid batch (the append position) */
    int64_t start_total;   /* shard-logical position of this file's offset 0 */
    int64_t min_arrival_us, max_arrival_us; /* 0 while empty */
    int64_t first_arrival_us;               /* arrival of its first record (age roll) */
    int64_t corrupt_offset; /* read-only: a bad batch readers must report; -1 if none */
    int64_t scanned_size;   /* read-only: file size seen by the last scan */
    char name[FL_LOG_SEGMENT_NAME_BYTES];
} fl_log_segment;

/* One shard: its segment list and the group-commit state, all under lock.
 * State machine: OPEN --write/fsync error--> FAILED (terminal until the stream is reopened). */
typedef struct fl_log_shard {
    pthread_mutex_t lock;
    pthread_cond_t durable_cond;
    int sync_init;
    uint32_t index;
    char *dir;                   /* <stream dir>/shard-NNNN */
    fl_log_segment *head, *tail; /* oldest .. active (tail) */
    uint32_t segment_count;
    uint64_t next_seq;
    int64_t written_total; /* logical bytes written since open (across segments) */
    int64_t durable_total; /* prefix of written_total known durable */
    int syncing;           /* an fsync leader is running */
    int failed;
    int failed_error;
} fl_log_shard;

struct fl_stream {
    fl_stream_options opts;
    char *dir;
    uint32_t shard_count;
    int lock_fd; /* writer: flock'ed manifest, one writer process per directory */
    fl_log_shard *shards;
    fl_histogram fsync_histogram;
};

struct fl_stream_reader {
    fl_stream *stream;
    fl_log_shard *shard;
    fl_log_segment *segment; /* referenced; NULL until positioned */
    int64_t offset;          /* next batch in segment */
    uint64_t want_seq;       /* records below this are skipped */
    int64_t min_arrival_us;  /* AT_TIMESTAMP: skip records that arrived earlier */
    int time_filter;
    unsigned char *buf;      /* current batch (header + payload) */
    size_t buf_cap;
    fl_log_batch_header batch;
    size_t pos;              /* next record in the current batch's payload */
    uint32_t left;           /* records not yet decoded in the current batch */
    uint64_t seq;            /* seq of the next record to decode */
};

/* ---- segment scanning (log_recover.c) --------------------------------------------------------- */

enum fl_log_problem { FL_LOG_OK = 0, FL_LOG_INCOMPLETE, FL_LOG_BAD };

typedef struct fl_log_scan {
    int64_t valid_end;
    uint64_t records, last_seq;
    int64_t min_arrival_us, max_arrival_us, first_arrival_us;
    enum fl_log_problem problem;
    int64_t problem_offset;
    const char *problem_what;
    int valid_after;           /* a good batch follows the problem (so it is not a torn tail) */
    uint64_t max_seq_after;    /* highest seq in good batches after the problem */
} fl_log_scan;

/* Validate batches of fd from start (expected first seq expect_seq) to file_size. With
 * look_past, also search past a problem for a later good batch. 0 or -errno. */
FL_MUST_USE int fl_log_scan_segment(int fd, int64_t start, int64_t file_size, uint64_t expect_seq,
                                    int look_past, fl_log_scan *out);
/* Load the shard's segments from disk and recover them (see log_open.c's notes). */
FL_MUST_USE int fl_log_shard_recover(fl_stream *s, fl_log_shard *sh,
                                     fl_stream_recovery_report *report);
/* Read-only streams: pick up batches and segments the writer process added since the last
 * look. Caller holds sh->lock. */
FL_MUST_USE int fl_log_shard_refresh(fl_stream *s, fl_log_shard *sh);
/* Parse "<20 digits>.seg"; 0 and *seq or -1. */
int fl_log_segment_name_parse(const char *name, uint64_t *seq);

/* ---- segment objects (log_open.c) ------------------------------------------------------------ */

fl_log_segment *fl_log_segment_new(uint64_t base_seq, int fd);
void fl_log_segment_unref(fl_log_segment *seg); /* caller holds the shard lock */
void fl_log_shard_push(fl_log_shard *sh, fl_log_segment *seg);
void fl_log_shard_unlink_segment(fl_log_shard *sh, fl_log_segment *seg);
/* Create the next empty segment file (base sh->next_seq), fsync the directory, make it the
 * tail. Caller holds the lock (or is single-threaded during open). */
FL_MUST_USE int fl_log_shard_new_segment(fl_log_shard *sh);
/* Shard path helpers: "<shard dir>/<name>" into buf (PATH_MAX). */
void fl_log_segment_path(const fl_log_shard *sh, const fl_log_segment *seg, char *buf, size_t n);
/* Durable end of seg for readers (sealed: all of it; active: the durable prefix). Lock held. */
int64_t fl_log_segment_readable_end(const fl_stream *s, const fl_log_shard *sh,
                                    const fl_log_segment *seg);
/* Put the shard in the failed state (first error wins). Lock held. */
void fl_log_shard_fail(fl_log_shard *sh, int err);

/* ---- writing (log_write.c) ------------------------------------------------------------------ */

/* Seal the active segment (fsync, then start the next file). Lock held. */
FL_MUST_USE int fl_log_shard_roll(fl_stream *s, fl_log_shard *sh);
/* Roll if the active segment's first record is older than segment_age_us at now_us. */
FL_MUST_USE int fl_log_shard_roll_if_old(fl_stream *s, fl_log_shard *sh, int64_t now_us);

#endif
