/* throttle.h — private to src/gateway: a concurrent table of token buckets keyed by string
 * (an API key id or client address for requests, a device_id for records), the API Gateway
 * role's throttling (docs/security.md "Throttling").
 *
 * Every key has a bucket holding up to `burst` tokens that refills at `rate_per_s` tokens a
 * second; a request (or record) takes one token or is throttled. Time is passed in by the
 * caller (a monotonic clock in the server, any number in tests), so the arithmetic is exact
 * and testable: tokens are kept as integer micro-tokens, and a bucket refills by exactly
 * elapsed_us x rate_per_s micro-tokens.
 *
 * Concurrency: the table is split into FL_THROTTLE_STRIPES stripes by key hash, each with its
 * own mutex, chained hash index and entry pool, so 16 HTTP threads rarely meet on one lock.
 * Memory: all entries are allocated at create time (max_buckets in total); a lookup or an
 * insert allocates nothing. Bounded: when a stripe is full, buckets that have refilled to
 * the brim are dropped first (a full bucket is indistinguishable from no bucket, so this loses
 * nothing); if none is full, the least recently used bucket is dropped (its key then starts
 * again from a full bucket: counted as an "active" eviction). */
#ifndef FL_GATEWAY_THROTTLE_H
#define FL_GATEWAY_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Stripes (locks) per table. 64 is 4x the default 16 HTTP threads: two threads meet on a
 * stripe only when their keys hash to the same one of 64, and a stripe is held for one hash
 * probe (~100 ns). A power of two. */
#define FL_THROTTLE_STRIPES 64
/* Bytes of a key stored in a bucket. Device ids are at most 128 bytes (ingest), key ids 32,
 * IPv6 addresses 46; longer keys are told apart by their length and 64-bit hash beyond it. */
#define FL_THROTTLE_KEY_MAX 128
/* Bounds of the configuration (see throttle.* in src/core/config.c). */
#define FL_THROTTLE_RATE_MAX  INT64_C(10000000)
#define FL_THROTTLE_BURST_MAX INT64_C(1000000000)

typedef struct fl_throttle fl_throttle;

typedef struct fl_throttle_stats {
    uint64_t buckets;        /* buckets in use now */
    uint64_t evicted_full;   /* dropped when full (refilled): no effect on limits */
    uint64_t evicted_active; /* dropped while not full (the key's debt was forgiven) */
} fl_throttle_stats;

/* A table of buckets of rate_per_s (1..FL_THROTTLE_RATE_MAX) tokens a second holding at most
 * burst (1..FL_THROTTLE_BURST_MAX) tokens, for up to max_buckets keys (at least one per
 * stripe is kept, so the effective bound is max(max_buckets, FL_THROTTLE_STRIPES) rounded up
 * to a multiple of the stripes). Returns 0, FL_EINVAL for values out of range or FL_ENOMEM.
 * *out is owned by the caller (fl_throttle_destroy). */
FL_MUST_USE int fl_throttle_create(int64_t rate_per_s, int64_t burst, int64_t max_buckets,
                                   fl_throttle **out);
/* Accepts NULL. */
void fl_throttle_destroy(fl_throttle *t);

/* Take n tokens (1..burst) from key[0..key_len)'s bucket at time now_us (microseconds on any
 * clock that never goes back; a smaller value than a bucket's last update counts as no time
 * passed). A key seen for the first time starts with a full bucket. Returns 1 when the tokens
 * were taken; 0 when the bucket holds fewer (nothing is taken), with *wait_us (if not NULL)
 * set to the time until it will hold n tokens. Thread-safe; allocates nothing. */
FL_MUST_USE int fl_throttle_take(fl_throttle *t, const char *key, size_t key_len, int64_t n,
                                 int64_t now_us, int64_t *wait_us);

/* Caller-owned scratch for fl_throttle_take_each: arrays of at least n entries. */
typedef struct fl_throttle_scratch {
    uint64_t *hashes;
    uint32_t *order;
} fl_throttle_scratch;

/* One token for each of keys[0..n) (a key listed k times takes k tokens, earlier entries
 * first), the same as n fl_throttle_take calls at now_us but with one lock per stripe touched
 * instead of one per key, and the index lines prefetched: the per-record path of ingest.
 * granted[i] is set to 1 or 0; *max_wait_us (if not NULL) to the longest wait among the
 * refused keys (0 if none). Returns how many were refused. Keys are borrowed for the call. */
size_t fl_throttle_take_each(fl_throttle *t, const fl_slice *keys, size_t n, int64_t now_us,
                             fl_throttle_scratch *scratch, uint8_t *granted, int64_t *max_wait_us);

/* The tokens key's bucket would hold at now_us, in micro-tokens (1,000,000 = one token), or
 * burst x 1,000,000 for a key without a bucket. For tests and diagnostics; takes nothing. */
int64_t fl_throttle_peek_micro(fl_throttle *t, const char *key, size_t key_len, int64_t now_us);

/* Counters for metrics (a consistent snapshot per stripe, not across stripes). */
void fl_throttle_stats_get(fl_throttle *t, fl_throttle_stats *out);
/* The configured bound on buckets after rounding (see fl_throttle_create). */
size_t fl_throttle_capacity(const fl_throttle *t);
/* Which stripe key falls in (0..FL_THROTTLE_STRIPES-1): lets tests fill one stripe, whose
 * keys depend on the table's random hash seed. */
unsigned fl_throttle_stripe_index(const fl_throttle *t, const char *key, size_t key_len);

/* A wait in microseconds as an HTTP Retry-After value: whole seconds rounded up, at least 1
 * (0 would invite an immediate retry that is still throttled). */
int fl_throttle_retry_after_s(int64_t wait_us);

#endif
