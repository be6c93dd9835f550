/* throttle.c — the token-bucket table behind request and record throttling (throttle.h).
 *
 * Design notes.
 *
 * Layout: FL_THROTTLE_STRIPES stripes, chosen by the top bits of a seeded 64-bit hash of the
 * key. A stripe owns a mutex, a pool of `cap` buckets allocated at create time and a chained
 * index (`heads`, a power of two at least cap, so chains stay about one long). Indexes into
 * the pool are stored plus one, so zero means "none" and a freshly calloc'ed stripe is a valid
 * empty one (its pages are not touched until used). Pool entries [0, hwm) have been handed out
 * at least once; freed ones are chained through `next` on the free list.
 *
 * Arithmetic: tokens are int64 micro-tokens (1,000,000 per token), so refilling by
 * elapsed_us x rate_per_s micro-tokens is exact and a bucket drained at t0 holds exactly
 * burst + rate x (t1 - t0) tokens' worth of takes by t1. The product cannot overflow: the
 * elapsed time is compared against the time to fill first (burst x 1e6 <= 1e15).
 *
 * Invariants (under the stripe's mutex):
 *  1. 0 <= tokens_micro <= burst_micro for every bucket in use.
 *  2. last_us never decreases; tokens_micro is the bucket's content at last_us.
 *  3. A key is in at most one bucket; count = buckets in use <= cap.
 *  4. A bucket that would be full at `now` may be dropped at any time without changing any
 *     answer: an unknown key starts with a full bucket. */
#include "gateway/throttle.h"

#include <pthread.h>
#include <stdatomic.h>

#define MICRO INT64_C(1000000)

struct bucket {
    uint64_t hash;
    int64_t tokens_micro;
    int64_t last_us;  /* time of the last take or look, the tokens' reference time */
    uint32_t next;    /* pool index + 1 of the next bucket in the chain (or free list), 0: end */
    uint32_t key_len; /* the full key length; at most FL_THROTTLE_KEY_MAX bytes are stored */
    uint8_t in_use;
    char key[FL_THROTTLE_KEY_MAX];
};

struct stripe {
    pthread_mutex_t mu;
    uint32_t *heads; /* mask + 1 chain heads, pool index + 1 */
    uint32_t mask;
    uint32_t cap;
    uint32_t hwm;
    uint32_t free_head;
    uint32_t count;
    uint64_t evicted_full, evicted_active;
    struct bucket *pool;
} __attribute__((aligned(64))); /* one cache line per lock: no false sharing between stripes */

struct fl_throttle {
    int64_t rate_per_s;
    int64_t burst_micro;
    uint64_t seed;
    struct stripe stripes[FL_THROTTLE_STRIPES];
};

/* FNV-1a from a per-table seed, then the splitmix64 finaliser so every bit depends on every
 * byte: the top bits pick the stripe, the low bits the chain. The seed makes chain collisions
 * unpredictable to a client choosing device ids. */
static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int fl_throttle_create(int64_t rate_per_s, int64_t burst, int64_t max_buckets, fl_throttle **out)
{
    if (rate_per_s < 1 || rate_per_s > FL_THROTTLE_RATE_MAX || burst < 1 ||
        burst > FL_THROTTLE_BURST_MAX || max_buckets < 1 || max_buckets > INT64_C(1) << 30)
        return FL_EINVAL;
    fl_throttle *t = fl_calloc(1, sizeof *t);
    if (!t)
        return FL_ENOMEM;
    t->rate_per_s = rate_per_s;
    t->burst_micro = burst * MICRO;
    int64_t now = fl_time_mono_us();
    t->seed = key_hash((uint64_t)now, (const char *)&t, sizeof t); /* time and address: ASLR */
    uint32_t cap = (uint32_t)((max_buckets + FL_THROTTLE_STRIPES - 1) / FL_THROTTLE_STRIPES);
    uint32_t heads = pow2_at_least(cap);
    for (int i = 0; i < FL_THROTTLE_STRIPES; i++) {
        struct stripe *s = &t->stripes[i];
        pthread_mutex_init(&s->mu, NULL);
        s->cap = cap;
        s->mask = heads - 1;
        s->heads = fl_calloc(heads, sizeof *s->heads);
        s->pool = fl_calloc(cap, sizeof *s->pool);
        if (!s->heads || !s->pool) {
            fl_throttle_destroy(t);
            return FL_ENOMEM;
        }
    }
    *out = t;
    return 0;
}

void fl_throttle_destroy(fl_throttle *t)
{
    if (!t)
        return;
    for (int i = 0; i < FL_THROTTLE_STRIPES; i++) {
        struct stripe *s = &t->stripes[i];
        if (s->cap) /* initialised (a half-built table stops at the first failed stripe) */
            pthread_mutex_destroy(&s->mu);
        fl_free(s->heads);
        fl_free(s->pool);
    }
    fl_free(t);
}

static struct stripe *stripe_of(fl_throttle *t, uint64_t hash)
{
    return &t->stripes[hash >> 58]; /* top 6 bits: FL_THROTTLE_STRIPES == 64 */
}

_Static_assert(FL_THROTTLE_STRIPES == 64, "stripe_of takes the top 6 bits of the hash");

static int key_equal(const struct bucket *b, uint64_t hash, const char *key, size_t len)
{
    size_t stored = len < FL_THROTTLE_KEY_MAX ? len : FL_THROTTLE_KEY_MAX;
    return b->hash == hash && b->key_len == len && memcmp(b->key, key, stored) == 0;
}

static struct bucket *find(struct stripe *s, uint64_t hash, const char *key, size_t len)
{
    for (uint32_t i = s->heads[hash & s->mask]; i; i = s->pool[i - 1].next)
        if (key_equal(&s->pool[i - 1], hash, key, len))
            return &s->pool[i - 1];
    return NULL;
}

/* The bucket's tokens at now_us (not stored). */
static int64_t refilled(const fl_throttle *t, const struct bucket *b, int64_t now_us)
{
    int64_t missing = t->burst_micro - b->tokens_micro;
    if (missing <= 0 || now_us <= b->last_us)
        return b->tokens_micro;
    int64_t added; /* no division on this path: it runs once per record */
    if (__builtin_mul_overflow(now_us - b->last_us, t->rate_per_s, &added) || added >= missing)
        return t->burst_micro;
    return b->tokens_micro + added;
}

/* Unlink pool entry idx (0-based) from its chain and put it on the free list. */
static void remove_bucket(struct stripe *s, uint32_t idx)
{
    struct bucket *b = &s->pool[idx];
    uint32_t *link = &s->heads[b->hash & s->mask];
    while (*link != idx + 1)
        link = &s->pool[*link - 1].next;
    *link = b->next;
    b->in_use = 0;
    b->next = s->free_head;
    s->free_head = idx + 1;
    s->count--;
}

/* Make room in a full stripe: drop every bucket that is full at now (invariant 4); when none
 * is, drop the least recently used one. O(cap), run only when an insert finds no room. */
static void evict(const fl_throttle *t, struct stripe *s, int64_t now_us)
{
    uint32_t lru = UINT32_MAX;
    for (uint32_t i = 0; i < s->hwm; i++) {
        const struct bucket *b = &s->pool[i];
        if (!b->in_use)
            continue;
        if (refilled(t, b, now_us) >= t->burst_micro) {
            remove_bucket(s, i);
            s->evicted_full++;
        } else if (lru == UINT32_MAX || b->last_us < s->pool[lru].last_us) {
            lru = i;
        }
    }
    if (s->count == s->cap && lru != UINT32_MAX) {
        remove_bucket(s, lru);
        s->evicted_active++;
    }
}

/* A new, full bucket for key (evicting first if the stripe is full). Never fails: cap >= 1. */
static struct bucket *insert(const fl_throttle *t, struct stripe *s, uint64_t hash, const char *key,
                             size_t len, int64_t now_us)
{
    if (s->count == s->cap)
        evict(t, s, now_us);
    uint32_t idx;
    if (s->free_head) {
        idx = s->free_head - 1;
        s->free_head = s->pool[idx].next;
    } else {
        idx = s->hwm++;
    }
    struct bucket *b = &s->pool[idx];
    b->hash = hash;
    b->tokens_micro = t->burst_micro;
    b->last_us = now_us;
    b->key_len = (uint32_t)len;
    b->in_use = 1;
    memcpy(b->key, key, len < FL_THROTTLE_KEY_MAX ? len : FL_THROTTLE_KEY_MAX);
    uint32_t *head = &s->heads[hash & s->mask];
    b->next = *head;
    *head = idx + 1;
    s->count++;
    return b;
}

/* Take need micro-tokens from key's bucket (created full if absent); the stripe is locked. */
static int take_locked(const fl_throttle *t, struct stripe *s, uint64_t hash, const char *key,
                       size_t key_len, int64_t need, int64_t now_us, int64_t *wait_us)
{
    struct bucket *b = find(s, hash, key, key_len);
    if (!b)
        b = insert(t, s, hash, key, key_len, now_us);
    b->tokens_micro = refilled(t, b, now_us);
    if (now_us > b->last_us)
        b->last_us = now_us;
    if (b->tokens_micro >= need) {
        b->tokens_micro -= need;
        return 1;
    }
    if (wait_us)
        *wait_us = (need - b->tokens_micro + t->rate_per_s - 1) / t->rate_per_s;
    return 0;
}

int fl_throttle_take(fl_throttle *t, const char *key, size_t key_len, int64_t n, int64_t now_us,
                     int64_t *wait_us)
{
    if (n < 1 || n > t->burst_micro / MICRO) { /* can never be granted */
        if (wait_us)
            *wait_us = INT64_MAX;
        return 0;
    }
    if (key_len > UINT32_MAX)
        key_len = UINT32_MAX; /* told apart by hash beyond the stored prefix anyway */
    uint64_t hash = key_hash(t->seed, key, key_len);
    struct stripe *s = stripe_of(t, hash);
    pthread_mutex_lock(&s->mu);
    int granted = take_locked(t, s, hash, key, key_len, n * MICRO, now_us, wait_us);
    pthread_mutex_unlock(&s->mu);
    return granted;
}

size_t fl_throttle_take_each(fl_throttle *t, const fl_slice *keys, size_t n, int64_t now_us,
                             fl_throttle_scratch *scratch, uint8_t *granted, int64_t *max_wait_us)
{
    uint64_t *hashes = scratch->hashes;
    uint32_t *order = scratch->order;
    uint32_t first[FL_THROTTLE_STRIPES + 1] = {0};
    /* 1. hash every key, count per stripe, and start loading each chain head */
    for (size_t i = 0; i < n; i++) {
        size_t len = keys[i].len > UINT32_MAX ? UINT32_MAX : keys[i].len;
        hashes[i] = key_hash(t->seed, keys[i].ptr, len);
        const struct stripe *s = stripe_of(t, hashes[i]);
        __builtin_prefetch(&s->heads[hashes[i] & s->mask]);
        first[(hashes[i] >> 58) + 1]++;
    }
    /* 2. order by stripe, input order kept within a stripe (so within a key) */
    for (int s = 0; s < FL_THROTTLE_STRIPES; s++)
        first[s + 1] += first[s];
    uint32_t next[FL_THROTTLE_STRIPES];
    memcpy(next, first, sizeof next);
    for (size_t i = 0; i < n; i++)
        order[next[hashes[i] >> 58]++] = (uint32_t)i;
    /* 3. one lock per stripe touched */
    size_t refused = 0;
    int64_t longest = 0;
    for (int si = 0; si < FL_THROTTLE_STRIPES; si++) {
        if (first[si] == first[si + 1])
            continue;
        struct stripe *s = &t->stripes[si];
        pthread_mutex_lock(&s->mu);
        for (uint32_t j = first[si]; j < first[si + 1]; j++) {
            uint32_t i = order[j];
            size_t len = keys[i].len > UINT32_MAX ? UINT32_MAX : keys[i].len;
            int64_t wait = 0;
            granted[i] =
                (uint8_t)take_locked(t, s, hashes[i], keys[i].ptr, len, MICRO, now_us, &wait);
            if (!granted[i]) {
                refused++;
                longest = wait > longest ? wait : longest;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (max_wait_us)
        *max_wait_us = longest;
    return refused;
}

int64_t fl_throttle_peek_micro(fl_throttle *t, const char *key, size_t key_len, int64_t now_us)
{
    if (key_len > UINT32_MAX)
        key_len = UINT32_MAX;
    uint64_t hash = key_hash(t->seed, key, key_len);
    struct stripe *s = stripe_of(t, hash);
    pthread_mutex_lock(&s->mu);
    const struct bucket *b = find(s, hash, key, key_len);
    int64_t v = b ? refilled(t, b, now_us) : t->burst_micro;
    pthread_mutex_unlock(&s->mu);
    return v;
}

void fl_throttle_stats_get(fl_throttle *t, fl_throttle_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < FL_THROTTLE_STRIPES; i++) {
        struct stripe *s = &t->stripes[i];
        pthread_mutex_lock(&s->mu);
        out->buckets += s->count;
        out->evicted_full += s->evicted_full;
        out->evicted_active += s->evicted_active;
        pthread_mutex_unlock(&s->mu);
    }
}

size_t fl_throttle_capacity(const fl_throttle *t)
{
    return (size_t)t->stripes[0].cap * FL_THROTTLE_STRIPES;
}

unsigned fl_throttle_stripe_index(const fl_throttle *t, const char *key, size_t key_len)
{
    return (unsigned)(key_hash(t->seed, key, key_len > UINT32_MAX ? UINT32_MAX : key_len) >> 58);
}

int fl_throttle_retry_after_s(int64_t wait_us)
{
    if (wait_us <= MICRO)
        return 1;
    int64_t s = wait_us / MICRO + (wait_us % MICRO != 0);
    return s > INT32_MAX ? INT32_MAX : (int)s;
}
