/* state_codec.c — per-device state: create/destroy and the checkpoint blob.
 *
 * A consumer stores each device's state next to its stream checkpoint (meta.db), so detector
 * baselines and duplicate memory survive restarts and a replay from the checkpoint continues
 * with bit-identical scores (doubles are stored as their IEEE-754 bits).
 *
 * Blob layout, little-endian, version 1:
 *   "FLDS" u8 version=1 u8 metrics=3 u16 0
 *   i64 newest_us, f64 interval_s, u32 intervals
 *   3 x { f64 level, mad, cusum_pos, cusum_neg, last_value, repeat_rate; i64 last_us;
 *         u32 samples, run, outlier_run; u8 drift_onset }
 *   gps { f64 lat, lon; i64 fix_us; f64 cand_lat, cand_lon; i64 cand_us; u8 has_fix, has_cand }
 *   u32 n, then n timestamps ascending: the first as i64, each next as a LEB128 delta (> 0)
 *   u32 CRC32C of everything before it.
 * Decoding treats the bytes as hostile: exact lengths, the CRC, ranges and finiteness are all
 * checked, and any failure leaves a fresh state and returns FL_ECORRUPT. */
#include <math.h>

#include "process/process_int.h"

#define STATE_MAGIC "FLDS"
#define STATE_VERSION 1
#define METRIC_BYTES (6 * 8 + 8 + 3 * 4 + 1)
#define GPS_BYTES (6 * 8 + 2)
#define HEAD_BYTES (8 + 8 + 8 + 4)
#define DEDUP_MAX_DECODE 65536 /* the config's upper bound of dedup_max_per_device */

int fl_device_state_create(const fl_process_config *cfg, fl_device_state **out)
{
    *out = NULL;
    if (cfg->dedup_max_entries < 0 || cfg->dedup_max_entries > DEDUP_MAX_DECODE)
        return FL_EINVAL;
    fl_device_state *st = fl_calloc(1, sizeof *st);
    if (!st)
        return FL_ENOMEM;
    st->dedup.cap = (uint32_t)cfg->dedup_max_entries;
    if (st->dedup.cap) {
        st->dedup.ts = fl_malloc(2 * (size_t)st->dedup.cap * sizeof *st->dedup.ts);
        if (!st->dedup.ts) {
            fl_free(st);
            return FL_ENOMEM;
        }
    }
    *out = st;
    return 0;
}

void fl_device_state_destroy(fl_device_state *st)
{
    if (!st)
        return;
    fl_free(st->dedup.ts);
    fl_free(st);
}

static void reset(fl_device_state *st)
{
    struct dedup_set d = st->dedup;
    memset(st, 0, sizeof *st);
    st->dedup = d;
    dedup_reset(&st->dedup);
}

/* ---- encode ---- */

struct wr {
    unsigned char *p;
};
static void w8(struct wr *w, uint8_t v)
{
    *w->p++ = v;
}
static void w32(struct wr *w, uint32_t v)
{
    fl_put_u32(w->p, v);
    w->p += 4;
}
static void w64(struct wr *w, uint64_t v)
{
    fl_put_u64(w->p, v);
    w->p += 8;
}
static void wf(struct wr *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    w64(w, u);
}
static void wvar(struct wr *w, uint64_t v)
{
    while (v >= 0x80) {
        *w->p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *w->p++ = (unsigned char)v;
}

int fl_device_state_encode(const fl_device_state *st, fl_buf *out)
{
    const struct dedup_set *d = &st->dedup;
    size_t max = HEAD_BYTES + METRICS * METRIC_BYTES + GPS_BYTES + 4 + 8 + 10 * (size_t)d->count + 4;
    if (fl_buf_reserve(out, max))
        return FL_ENOMEM;
    unsigned char *start = (unsigned char *)out->data + out->len;
    struct wr w = {start};
    memcpy(w.p, STATE_MAGIC, 4);
    w.p += 4;
    w8(&w, STATE_VERSION);
    w8(&w, METRICS);
    w8(&w, 0);
    w8(&w, 0);
    w64(&w, (uint64_t)st->newest_us);
    wf(&w, st->interval_s);
    w32(&w, st->intervals);
    for (int i = 0; i < METRICS; i++) {
        const struct metric_state *m = &st->m[i];
        wf(&w, m->level), wf(&w, m->mad), wf(&w, m->cusum_pos), wf(&w, m->cusum_neg);
        wf(&w, m->last_value), wf(&w, m->repeat_rate);
        w64(&w, (uint64_t)m->last_us);
        w32(&w, m->samples), w32(&w, m->run), w32(&w, m->outlier_run);
        w8(&w, m->drift_onset);
    }
    const struct gps_state *g = &st->gps;
    wf(&w, g->lat), wf(&w, g->lon), w64(&w, (uint64_t)g->fix_us);
    wf(&w, g->cand_lat), wf(&w, g->cand_lon), w64(&w, (uint64_t)g->cand_us);
    w8(&w, g->has_fix), w8(&w, g->has_cand);
    w32(&w, d->count);
    for (uint32_t i = 0; i < d->count; i++) {
        int64_t ts = d->ts[d->start + i];
        if (i == 0)
            w64(&w, (uint64_t)ts);
        else
            wvar(&w, (uint64_t)ts - (uint64_t)d->ts[d->start + i - 1]);
    }
    w32(&w, fl_crc32c(0, start, (size_t)(w.p - start)));
    out->len += (size_t)(w.p - start);
    out->data[out->len] = 0;
    return 0;
}

/* ---- decode ---- */

struct rd {
    const unsigned char *p, *end;
    int bad;
};
static int need(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}
static uint8_t r8(struct rd *r)
{
    return need(r, 1) ? *r->p++ : 0;
}
static uint32_t r32(struct rd *r)
{
    if (!need(r, 4))
        return 0;
    uint32_t v = fl_get_u32(r->p);
    r->p += 4;
    return v;
}
static uint64_t r64(struct rd *r)
{
    if (!need(r, 8))
        return 0;
    uint64_t v = fl_get_u64(r->p);
    r->p += 8;
    return v;
}
static double rf(struct rd *r)
{
    uint64_t u = r64(r);
    double d;
    memcpy(&d, &u, 8);
    if (!isfinite(d))
        r->bad = 1;
    return d;
}
static uint64_t rvar(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = r8(r);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static void read_metric(struct rd *r, struct metric_state *m)
{
    m->level = rf(r), m->mad = rf(r), m->cusum_pos = rf(r), m->cusum_neg = rf(r);
    m->last_value = rf(r), m->repeat_rate = rf(r);
    m->last_us = (int64_t)r64(r);
    m->samples = r32(r), m->run = r32(r), m->outlier_run = r32(r);
    m->drift_onset = r8(r);
    if (m->mad < 0 || m->cusum_pos < 0 || m->cusum_neg < 0 || !(m->repeat_rate >= 0) ||
        m->repeat_rate > 1 || m->drift_onset > 1 || m->samples > 0x7fffffffu)
        r->bad = 1;
}

static void read_gps(struct rd *r, struct gps_state *g)
{
    g->lat = rf(r), g->lon = rf(r), g->fix_us = (int64_t)r64(r);
    g->cand_lat = rf(r), g->cand_lon = rf(r), g->cand_us = (int64_t)r64(r);
    g->has_fix = r8(r), g->has_cand = r8(r);
    if (g->has_fix > 1 || g->has_cand > 1 || fabs(g->lat) > 90 || fabs(g->lon) > 180 ||
        fabs(g->cand_lat) > 90 || fabs(g->cand_lon) > 180)
        r->bad = 1;
}

static void read_dedup(struct rd *r, struct dedup_set *d)
{
    uint32_t n = r32(r);
    if (n > DEDUP_MAX_DECODE || (size_t)(r->end - r->p) < (n ? 8 + (size_t)(n - 1) : 0))
        r->bad = 1;
    int64_t prev = 0;
    uint32_t skip = n > d->cap ? n - d->cap : 0; /* keep the newest cap */
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        int64_t ts;
        if (i == 0) {
            ts = (int64_t)r64(r);
        } else {
            uint64_t delta = rvar(r);
            if (delta == 0 || delta > (uint64_t)(INT64_MAX - prev) || prev < 0)
                r->bad = 1;
            ts = prev + (int64_t)delta;
        }
        prev = ts;
        if (i >= skip)
            d->ts[d->count++] = ts;
    }
}

int fl_device_state_decode(fl_device_state *st, const void *p, size_t n)
{
    reset(st);
    const unsigned char *b = p;
    if (n < 8 + 4 || memcmp(b, STATE_MAGIC, 4) != 0 || b[4] != STATE_VERSION || b[5] != METRICS ||
        fl_get_u32(b + n - 4) != fl_crc32c(0, b, n - 4))
        return FL_ECORRUPT;
    struct rd r = {b + 8, b + n - 4, 0};
    st->newest_us = (int64_t)r64(&r);
    st->interval_s = rf(&r);
    st->intervals = r32(&r);
    if (st->interval_s < 0 || (st->intervals && !(st->interval_s > 0)) ||
        st->intervals > 0x7fffffffu)
        r.bad = 1;
    for (int i = 0; i < METRICS; i++)
        read_metric(&r, &st->m[i]);
    read_gps(&r, &st->gps);
    read_dedup(&r, &st->dedup);
    if (r.bad || r.p != r.end) {
        reset(st);
        return FL_ECORRUPT;
    }
    return 0;
}
