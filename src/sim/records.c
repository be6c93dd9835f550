/* records.c — the record source: turns the fleet's readings into the JSON records of
 * DESIGN.md §4.1 (or InfluxDB line protocol, see line.c) and builds request bodies, mixing in what real producers send besides good
 * records, each at its configured rate per record produced:
 *  - bad records of every failure kind (extra records built from the latest reading, so the
 *    good data and its anomaly labels do not depend on --bad-rate);
 *  - duplicates: a good record of an earlier batch resent byte for byte (a producer retry);
 *  - late records: a reading held back 2-10 minutes of simulated time, then sent with its
 *    original timestamp;
 *  - out-of-order records: a record swapped with one of the 8 before it in its batch.
 * Deterministic for a seed (its own PRNG stream, independent of the devices'). Encoding avoids
 * printf on the hot path: numbers and timestamps are formatted by hand. */
#include <math.h>
#include <string.h>

#include "sim/sim_int.h"

#define DUP_RING 256         /* recent good records a duplicate is drawn from */
#define LATE_MAX 65536       /* held-back readings; beyond this none are delayed (bounded) */
#define LATE_MIN_US (120 * FL_US_PER_SEC)
#define LATE_MAX_US (600 * FL_US_PER_SEC)
#define OOO_WINDOW 8
#define RECORD_MAX_BYTES 512 /* a good record is about 230 bytes (a line-protocol one 190) */
#define META_VERSION "1.2.0"  /* every simulated record's metadata */
#define META_SOURCE "fms-gw"

static const char *const bad_names[] = {
#define FL_SIM_BAD_NAME_(name, str, code) str,
    FL_SIM_BAD_MAP(FL_SIM_BAD_NAME_)
#undef FL_SIM_BAD_NAME_
};
static const char *const bad_codes[] = {
#define FL_SIM_BAD_CODE_(name, str, code) code,
    FL_SIM_BAD_MAP(FL_SIM_BAD_CODE_)
#undef FL_SIM_BAD_CODE_
};
static const char *const code_names[] = {
#define FL_SIM_CODE_NAME_(name, str) str,
    FL_SIM_CODE_MAP(FL_SIM_CODE_NAME_)
#undef FL_SIM_CODE_NAME_
};

const char *fl_sim_bad_name(int k)
{
    return k >= 0 && k < FL_SIM_BAD_COUNT ? bad_names[k] : "?";
}
const char *fl_sim_bad_expected_code(int k)
{
    return k >= 0 && k < FL_SIM_BAD_COUNT ? bad_codes[k] : "?";
}
const char *fl_sim_code_name(int c)
{
    return c >= 0 && c < FL_SIM_CODE_COUNT ? code_names[c] : "other";
}
int fl_sim_code_from_name(const char *s, size_t n)
{
    for (int c = 0; c < FL_SIM_CODE_OTHER; c++)
        if (strlen(code_names[c]) == n && memcmp(code_names[c], s, n) == 0)
            return c;
    return FL_SIM_CODE_OTHER;
}

/* ---- formatting ------------------------------------------------------------------------- */

static size_t format_u64(char *p, uint64_t v, int min_digits)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < min_digits)
        tmp[n++] = '0';
    for (int i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return (size_t)n;
}

size_t sim_format_fixed(char *p, double v, int decimals)
{
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    size_t n = 0;
    double scaled = round(fabs(v) * pow10[decimals]);
    uint64_t x = (uint64_t)scaled;
    if (v < 0 && x != 0)
        p[n++] = '-';
    uint64_t div = (uint64_t)pow10[decimals];
    n += format_u64(p + n, x / div, 1);
    if (decimals > 0) {
        p[n++] = '.';
        n += format_u64(p + n, x % div, decimals);
    }
    return n;
}

size_t sim_format_time(sim_time_formatter *f, int64_t us, char *p)
{
    int64_t sec = us >= 0 ? us / FL_US_PER_SEC : -((-us + FL_US_PER_SEC - 1) / FL_US_PER_SEC);
    int64_t frac = us - sec * FL_US_PER_SEC;
    if (!f->valid || f->second != sec) {
        char full[FL_TIME_RFC3339_MAX];
        fl_time_format_rfc3339(sec * FL_US_PER_SEC, full);
        memcpy(f->prefix, full, 19); /* "YYYY-MM-DDTHH:MM:SS" */
        f->second = sec;
        f->valid = 1;
    }
    memcpy(p, f->prefix, 19);
    size_t n = 19;
    p[n++] = '.';
    if (frac % 1000 == 0)
        n += format_u64(p + n, (uint64_t)(frac / 1000), 3);
    else
        n += format_u64(p + n, (uint64_t)frac, 6);
    p[n++] = 'Z';
    return n;
}

#define PUT_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) += sizeof(s) - 1)

/* Encode r into p (RECORD_MAX_BYTES available). Returns the length; *prefix_len receives the
 * length of `{"device_id":"...","timestamp":"...",`. */
static size_t encode_reading(sim_time_formatter *tf, const fl_sim_reading *r, char *p,
                             size_t *prefix_len)
{
    char *s = p;
    PUT_LIT(p, "{\"device_id\":\"");
    size_t idn = strlen(r->device_id);
    memcpy(p, r->device_id, idn);
    p += idn;
    PUT_LIT(p, "\",\"timestamp\":\"");
    p += sim_format_time(tf, r->timestamp_us, p);
    PUT_LIT(p, "\",");
    if (prefix_len)
        *prefix_len = (size_t)(p - s);
    PUT_LIT(p, "\"temperature\":");
    p += sim_format_fixed(p, r->temperature, 2);
    PUT_LIT(p, ",\"humidity\":");
    p += sim_format_fixed(p, r->humidity, 2);
    PUT_LIT(p, ",\"pressure\":");
    p += sim_format_fixed(p, r->pressure, 2);
    PUT_LIT(p, ",\"location\":{\"latitude\":");
    p += sim_format_fixed(p, r->latitude, 6);
    PUT_LIT(p, ",\"longitude\":");
    p += sim_format_fixed(p, r->longitude, 6);
    PUT_LIT(p, "},\"metadata\":{\"version\":\"" META_VERSION "\",\"source\":\"" META_SOURCE "\"}}");
    return (size_t)(p - s);
}

int fl_sim_reading_to_json(const fl_sim_reading *r, fl_buf *out)
{
    sim_time_formatter tf = {0};
    int rc = fl_buf_reserve(out, RECORD_MAX_BYTES);
    if (rc)
        return rc;
    out->len += encode_reading(&tf, r, out->data + out->len, NULL);
    out->data[out->len] = 0;
    return 0;
}

int sim_label_to_json(const fl_sim_label *l, fl_buf *out)
{
    char a[FL_TIME_RFC3339_MAX], b[FL_TIME_RFC3339_MAX];
    sim_time_formatter tf = {0};
    a[sim_format_time(&tf, l->start_us, a)] = 0;
    b[sim_format_time(&tf, l->end_us, b)] = 0;
    return fl_buf_printf(out,
                         "{\"device_id\":\"%s\",\"kind\":\"%s\",\"metric\":\"%s\",\"start\":\"%s\","
                         "\"end\":\"%s\"}\n",
                         l->device_id, fl_sim_anomaly_name(l->kind), l->metric, a, b);
}

/* ---- the source ------------------------------------------------------------------------- */

struct late_item {
    int64_t release_us;
    fl_sim_reading r;
};

struct dup_slot {
    uint64_t batch;
    uint16_t len, prefix_len;
    char text[RECORD_MAX_BYTES];
};

struct fl_sim_source {
    fl_sim_options o;
    fl_sim_fleet *fleet;
    sim_rng rng;
    sim_time_formatter tf;
    struct late_item *late; /* min-heap on release_us */
    size_t late_count;
    struct dup_slot *dups;
    size_t dup_count, dup_next;
    fl_sim_reading last;
    uint64_t batch_no;
    fl_sim_gen_stats stats;
    fl_buf scratch;
    struct entry {
        uint32_t off, len, prefix_len;
        uint8_t kind;
    } *entries;
    size_t entries_cap;
};

int fl_sim_source_create(const fl_sim_options *opts, fl_sim_source **out)
{
    *out = NULL;
    fl_sim_source *s = fl_calloc(1, sizeof *s);
    if (!s)
        return FL_ENOMEM;
    s->o = *opts;
    sim_rng_seed(&s->rng, opts->seed, UINT64_C(0xB00B5EED00000000));
    int rc = fl_sim_fleet_create(opts, &s->fleet);
    if (rc == 0 && opts->late_rate > 0 && !(s->late = fl_malloc(LATE_MAX * sizeof *s->late)))
        rc = FL_ENOMEM;
    if (rc == 0 && opts->dup_rate > 0 && !(s->dups = fl_malloc(DUP_RING * sizeof *s->dups)))
        rc = FL_ENOMEM;
    if (rc) {
        fl_sim_source_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void fl_sim_source_destroy(fl_sim_source *s)
{
    if (!s)
        return;
    fl_sim_fleet_destroy(s->fleet);
    fl_free(s->late);
    fl_free(s->dups);
    fl_free(s->entries);
    fl_buf_free(&s->scratch);
    fl_free(s);
}

fl_sim_fleet *fl_sim_source_fleet(fl_sim_source *s)
{
    return s->fleet;
}

void fl_sim_source_stats(const fl_sim_source *s, fl_sim_gen_stats *out)
{
    *out = s->stats;
}

static void late_push(fl_sim_source *s, const fl_sim_reading *r, int64_t release_us)
{
    size_t i = s->late_count++;
    while (i > 0 && s->late[(i - 1) / 2].release_us > release_us) {
        s->late[i] = s->late[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->late[i].release_us = release_us;
    s->late[i].r = *r;
}

static void late_pop(fl_sim_source *s, fl_sim_reading *out)
{
    *out = s->late[0].r;
    struct late_item last = s->late[--s->late_count];
    size_t i = 0, n = s->late_count;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->late[c + 1].release_us < s->late[c].release_us)
            c++;
        if (s->late[c].release_us >= last.release_us)
            break;
        s->late[i] = s->late[c];
        i = c;
    }
    if (n > 0)
        s->late[i] = last;
}

/* The next good reading: a held-back one whose time has come, or a fresh one (which may in
 * turn be held back). */
static void next_reading(fl_sim_source *s, fl_sim_reading *r)
{
    if (s->late_count > 0 && s->late[0].release_us <= fl_sim_fleet_now_us(s->fleet)) {
        late_pop(s, r);
        s->stats.late++;
        return;
    }
    for (;;) {
        fl_sim_fleet_next(s->fleet, r);
        if (s->o.late_rate <= 0 || s->late_count >= LATE_MAX ||
            sim_rng_unit(&s->rng) >= s->o.late_rate)
            return;
        int64_t delay = LATE_MIN_US + (int64_t)sim_rng_below(&s->rng, LATE_MAX_US - LATE_MIN_US);
        late_push(s, r, r->timestamp_us + delay);
    }
}

/* Append bad record `kind` derived from the latest reading to b. */
static int append_bad(fl_sim_source *s, int kind, fl_buf *b)
{
    const fl_sim_reading *r = &s->last;
    char ts[FL_TIME_RFC3339_MAX];
    ts[sim_format_time(&s->tf, r->timestamp_us, ts)] = 0;
    const char *id = r->device_id;
    char t[16];
    t[sim_format_fixed(t, r->temperature, 2)] = 0;
    char big[5001];
    switch (kind) {
    case FL_SIM_BAD_MALFORMED_JSON:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"temperature\":%s,", id,
                             ts, t);
    case FL_SIM_BAD_NOT_OBJECT:
        return fl_buf_printf(b, "%u", (unsigned)sim_rng_below(&s->rng, 100000));
    case FL_SIM_BAD_MISSING_DEVICE_ID:
        return fl_buf_printf(b, "{\"timestamp\":\"%s\",\"temperature\":%s}", ts, t);
    case FL_SIM_BAD_MISSING_TIMESTAMP:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"temperature\":%s}", id, t);
    case FL_SIM_BAD_TEMPERATURE_STRING:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"temperature\":\"%s\"}",
                             id, ts, t);
    case FL_SIM_BAD_HUMIDITY_BOOL:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"humidity\":true}", id,
                             ts);
    case FL_SIM_BAD_COORDINATE_RANGE:
        return fl_buf_printf(b,
                             "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"location\":"
                             "{\"latitude\":91.5,\"longitude\":200.25}}",
                             id, ts);
    case FL_SIM_BAD_ONLY_LATITUDE:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"location\":"
                                "{\"latitude\":37.5}}", id, ts);
    case FL_SIM_BAD_TIMESTAMP_STRING:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"not-a-time\"}", id);
    case FL_SIM_BAD_TIMESTAMP_BEFORE_2000:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"1999-12-31T23:59:59.000Z\"}",
                             id);
    case FL_SIM_BAD_TIMESTAMP_FUTURE:
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"2099-12-31T23:59:59.000Z\"}",
                             id);
    case FL_SIM_BAD_DEVICE_ID_CHARS:
        return fl_buf_printf(b, "{\"device_id\":\"truck %u/x\",\"timestamp\":\"%s\"}", r->device, ts);
    case FL_SIM_BAD_DEVICE_ID_TOO_LONG:
        memset(big, 'x', 150);
        big[150] = 0;
        return fl_buf_printf(b, "{\"device_id\":\"%s-%s\",\"timestamp\":\"%s\"}", id, big, ts);
    case FL_SIM_BAD_VERSION_TOO_LONG:
        memset(big, '9', 200);
        big[200] = 0;
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"metadata\":"
                                "{\"version\":\"1.%s\"}}", id, ts, big);
    default: /* FL_SIM_BAD_EXTRA_TOO_LARGE: an unknown field bigger than the 4 KiB extra limit */
        memset(big, 'n', 5000);
        big[5000] = 0;
        return fl_buf_printf(b, "{\"device_id\":\"%s\",\"timestamp\":\"%s\",\"notes\":\"%s\"}", id,
                             ts, big);
    }
}

static int ensure_entries(fl_sim_source *s, size_t n)
{
    if (n <= s->entries_cap)
        return 0;
    struct entry *e = fl_realloc(s->entries, n * sizeof *e);
    if (!e)
        return FL_ENOMEM;
    s->entries = e;
    s->entries_cap = n;
    return 0;
}

static void remember_for_dup(fl_sim_source *s, const char *text, size_t len, size_t prefix_len)
{
    struct dup_slot *d = &s->dups[s->dup_next];
    s->dup_next = (s->dup_next + 1) % DUP_RING;
    if (s->dup_count < DUP_RING)
        s->dup_count++;
    d->batch = s->batch_no;
    d->len = (uint16_t)len;
    d->prefix_len = (uint16_t)prefix_len;
    memcpy(d->text, text, len);
}

/* A duplicate from an earlier batch, or NULL if there is none yet. */
static const struct dup_slot *pick_dup(fl_sim_source *s)
{
    if (!s->dups || s->dup_count == 0)
        return NULL;
    for (int tries = 0; tries < 4; tries++) {
        const struct dup_slot *d = &s->dups[sim_rng_below(&s->rng, s->dup_count)];
        if (d->batch < s->batch_no)
            return d;
    }
    return NULL;
}

/* Append one record of any kind to s->scratch and describe it in *e. Line-protocol records
 * are never bad (sim.h) and carry their newline. */
static int next_record(fl_sim_source *s, int format, struct entry *e)
{
    fl_buf *b = &s->scratch;
    e->off = (uint32_t)b->len;
    e->kind = 0;
    e->prefix_len = 0;
    double x = s->stats.good > 0 ? sim_rng_unit(&s->rng) : 1.0;
    int rc = 0;
    const struct dup_slot *d;
    if (x < s->o.bad_rate && format != FL_SIM_BODY_LINE_PROTOCOL) {
        int first = format == FL_SIM_BODY_NDJSON ? 0 : 1; /* none inside a JSON array (sim.h) */
        int kind = first + (int)sim_rng_below(&s->rng, FL_SIM_BAD_COUNT - first);
        rc = append_bad(s, kind, b);
        e->kind = (uint8_t)(kind + 1);
        s->stats.bad++;
        s->stats.bad_by_kind[kind]++;
    } else if (x < s->o.bad_rate + s->o.dup_rate && (d = pick_dup(s)) != NULL) {
        rc = fl_buf_append(b, d->text, d->len);
        e->prefix_len = d->prefix_len;
        s->stats.duplicates++;
    } else if (format == FL_SIM_BODY_LINE_PROTOCOL) {
        if ((rc = fl_buf_reserve(b, SIM_LINE_MAX_BYTES)))
            return rc;
        next_reading(s, &s->last);
        size_t n = sim_encode_line(&s->last, META_VERSION, META_SOURCE, b->data + b->len);
        if (n == 0) /* a reading always has finite values and a device id: cannot happen */
            return FL_EINVAL;
        b->len += n;
        b->data[b->len] = 0;
        s->stats.good++;
    } else {
        if ((rc = fl_buf_reserve(b, RECORD_MAX_BYTES)))
            return rc;
        next_reading(s, &s->last);
        size_t prefix_len;
        size_t n = encode_reading(&s->tf, &s->last, b->data + b->len, &prefix_len);
        b->len += n;
        b->data[b->len] = 0;
        e->prefix_len = (uint32_t)prefix_len;
        s->stats.good++;
    }
    s->stats.records++;
    e->len = (uint32_t)(b->len - e->off);
    return rc;
}

static int meta_reserve(fl_sim_batch_meta *m, size_t n)
{
    if (n <= m->cap)
        return 0;
    uint8_t *k = fl_realloc(m->kinds, n);
    if (!k)
        return FL_ENOMEM;
    m->kinds = k;
    uint32_t *o = fl_realloc(m->id_off, n * sizeof *o);
    if (!o)
        return FL_ENOMEM;
    m->id_off = o;
    uint16_t *l = fl_realloc(m->id_len, n * sizeof *l);
    if (!l)
        return FL_ENOMEM;
    m->id_len = l;
    m->cap = n;
    return 0;
}

void fl_sim_batch_meta_free(fl_sim_batch_meta *m)
{
    if (!m)
        return;
    fl_free(m->kinds);
    fl_free(m->id_off);
    fl_free(m->id_len);
    fl_buf_free(&m->ids);
    memset(m, 0, sizeof *m);
}

static int fill_meta(fl_sim_source *s, size_t n, fl_sim_batch_meta *m)
{
    int rc = meta_reserve(m, n);
    if (rc)
        return rc;
    m->count = n;
    m->bad = 0;
    fl_buf_reset(&m->ids);
    for (size_t k = 0; k < n; k++) {
        const struct entry *e = &s->entries[k];
        m->kinds[k] = e->kind;
        m->bad += e->kind != 0;
        m->id_off[k] = (uint32_t)m->ids.len;
        m->id_len[k] = 0;
        if (m->want_ids && e->kind == 0) {
            if ((rc = fl_buf_append(&m->ids, s->scratch.data + e->off, e->prefix_len)))
                return rc;
            m->id_len[k] = (uint16_t)e->prefix_len;
        }
    }
    return 0;
}

int fl_sim_build_batch(fl_sim_source *s, size_t n, int format, fl_buf *body,
                       fl_sim_batch_meta *meta)
{
    int line = format == FL_SIM_BODY_LINE_PROTOCOL, ndjson = format == FL_SIM_BODY_NDJSON;
    fl_buf_reset(body);
    fl_buf_reset(&s->scratch);
    s->batch_no++;
    int rc = ensure_entries(s, n);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = next_record(s, format, &s->entries[k]);
    if (rc)
        return rc;
    for (size_t k = 1; s->o.ooo_rate > 0 && k < n; k++) {
        if (sim_rng_unit(&s->rng) >= s->o.ooo_rate)
            continue;
        size_t j = k - 1 - sim_rng_below(&s->rng, k < OOO_WINDOW ? k : OOO_WINDOW);
        struct entry tmp = s->entries[k];
        s->entries[k] = s->entries[j];
        s->entries[j] = tmp;
        s->stats.out_of_order++;
    }
    if ((rc = fl_buf_reserve(body, s->scratch.len + n + 2)))
        return rc;
    char *p = body->data;
    int array = !ndjson && !line;
    if (array)
        *p++ = '[';
    for (size_t k = 0; k < n; k++) {
        const struct entry *e = &s->entries[k];
        if (array && k > 0)
            *p++ = ',';
        memcpy(p, s->scratch.data + e->off, e->len);
        p += e->len;
        if (ndjson)
            *p++ = '\n';
    }
    if (array)
        *p++ = ']';
    *p = 0;
    body->len = (size_t)(p - body->data);
    /* Candidates for later duplicates come only from finished batches: a sample of 64. */
    for (size_t k = 0; s->dups && k < n; k += n / 64 + 1) {
        const struct entry *e = &s->entries[k];
        if (e->kind == 0)
            remember_for_dup(s, s->scratch.data + e->off, e->len, e->prefix_len);
    }
    return meta ? fill_meta(s, n, meta) : 0;
}
