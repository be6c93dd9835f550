/* trace.c — W3C traceparent parsing and formatting, and random trace/span ids (see trace.h).
 * The gateway calls these once per request (server.c). */
#include "core/trace.h"
#include "core/hash.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/error.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* the spec allows lowercase only */
}

/* n bytes from 2n hex characters; -1 on a non-hex character. */
static int parse_hex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

int fl_trace_parent_parse(const char *value, size_t len, fl_trace_context *out)
{
    fl_trace_context t;
    uint8_t version;
    if (!value || len != FL_TRACEPARENT_LEN || value[2] != '-' || value[35] != '-' ||
        value[52] != '-')
        return FL_EPARSE;
    if (parse_hex(value, 1, &version) || version != 0 ||
        parse_hex(value + 3, FL_TRACE_ID_BYTES, t.trace_id) ||
        parse_hex(value + 36, FL_SPAN_ID_BYTES, t.parent_id) || parse_hex(value + 53, 1, &t.flags))
        return FL_EPARSE;
    if (all_zero(t.trace_id, sizeof t.trace_id) || all_zero(t.parent_id, sizeof t.parent_id))
        return FL_EPARSE;
    *out = t;
    return 0;
}

/* splitmix64: a tiny, well-mixed generator; one state per thread, seeded once. */
static __thread uint64_t rng_state;
static __thread int rng_seeded;

static uint64_t next_random(void)
{
    if (!rng_seeded) {
        if (getrandom(&rng_state, sizeof rng_state, GRND_NONBLOCK) != (ssize_t)sizeof rng_state) {
            /* No entropy yet (early boot): time and thread identity still make ids unique
             * enough for tracing. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rng_state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                        (uint64_t)(uintptr_t)pthread_self();
        }
        rng_seeded = 1;
    }
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void fl_trace_random_id(uint8_t *out, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = next_random();
            memcpy(out + i, &r, n - i < 8 ? n - i : 8);
        }
    } while (all_zero(out, n));
}

void fl_trace_parent_format(const uint8_t trace_id[FL_TRACE_ID_BYTES],
                            const uint8_t span_id[FL_SPAN_ID_BYTES], uint8_t flags, char *out)
{
    char t[2 * FL_TRACE_ID_BYTES + 1], s[2 * FL_SPAN_ID_BYTES + 1], f[3];
    fl_hex_encode(trace_id, FL_TRACE_ID_BYTES, t);
    fl_hex_encode(span_id, FL_SPAN_ID_BYTES, s);
    fl_hex_encode(&flags, 1, f);
    snprintf(out, FL_TRACEPARENT_LEN + 1, "00-%s-%s-%s", t, s, f);
}
