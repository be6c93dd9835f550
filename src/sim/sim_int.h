/* sim_int.h — private helpers shared by the simulator's files: the PRNG (xoshiro256**
 * seeded through splitmix64, one independent stream per device so a device's readings do
 * not depend on how many other devices there are), Gaussian noise, and fast number and
 * timestamp formatting for the record encoder (snprintf("%f") would cost more CPU than the
 * rest of the generator together). */
#ifndef FL_SIM_SIM_INT_H
#define FL_SIM_SIM_INT_H

#include <math.h>
#include <stdint.h>

#include "sim/sim.h"

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

static inline uint64_t sim_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Seed a stream from (seed, stream id): distinct ids give unrelated sequences. */
static inline void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed * 0xD1B54A32D192ED03ULL + stream * 0x9E3779B97F4A7C15ULL + 0x243F6A88ULL;
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_splitmix64(&x);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rng_u64(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(sim_rng *r)
{
    return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}

static inline double sim_rng_range(sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

/* Uniform integer in [0, n), n > 0. */
static inline uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    return (uint64_t)(sim_rng_unit(r) * (double)n) % n;
}

/* Standard normal (Box-Muller; one value per call keeps the stream simple to reason about). */
static inline double sim_rng_gauss(sim_rng *r)
{
    double u = 1.0 - sim_rng_unit(r); /* (0, 1] */
    double v = sim_rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Write v with exactly `decimals` (0..9) fraction digits into p; returns bytes written (at
 * most 32). v must be finite and |v| < 1e15. */
size_t sim_format_fixed(char *p, double v, int decimals);

/* Formats timestamps, caching the "YYYY-MM-DDTHH:MM:SS" part of the last second seen.
 * Milliseconds when the value is a whole millisecond, microseconds otherwise. */
typedef struct sim_time_formatter {
    int64_t second;
    char prefix[24];
    int valid;
} sim_time_formatter;
size_t sim_format_time(sim_time_formatter *f, int64_t us, char *p);

/* Line protocol (line.c). A tag value is at most SIM_LINE_TAG_MAX bytes (the §4.1 limit of
 * metadata strings), so a line — device_id < 32 bytes, two such tags, five fields of at most
 * 32 digits, a timestamp — always fits SIM_LINE_MAX_BYTES, escapes doubling every tag byte. */
#define SIM_LINE_TAG_MAX 128
#define SIM_LINE_MAX_BYTES 1024
size_t sim_line_escape_tag(char *p, const char *s, size_t n);
/* Encode r as one line, newline included, into p (SIM_LINE_MAX_BYTES available; version and
 * source at most SIM_LINE_TAG_MAX bytes). Returns the length, or 0 if the point is invalid
 * (see fl_sim_reading_to_line). */
size_t sim_encode_line(const fl_sim_reading *r, const char *version, const char *source,
                       char *p);

/* Timestamp of the label writer's NDJSON line for one label. */
int sim_label_to_json(const fl_sim_label *label, fl_buf *out);

/* Device id "truck-0042" for index i of n devices (width = digits of n-1, at least 4). */
void sim_device_id(char out[32], uint32_t i, int64_t n);

#endif
