/* trace.h — W3C Trace Context ids (the X-Ray role): parse a `traceparent` header, make new
 * trace and span ids, and format the header we send back.
 *
 * A request's trace id is a 16-byte id shared by every hop of one client operation; our span
 * id is an 8-byte id naming this server's part in it. Both travel as lowercase hex. The parser
 * takes untrusted header bytes and is fuzzed (tests/fuzz/fuzz_traceparent.c). */
#ifndef FL_CORE_TRACE_H
#define FL_CORE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define FL_TRACE_ID_BYTES 16
#define FL_SPAN_ID_BYTES  8
/* "00-" 32 hex "-" 16 hex "-" 2 hex: the only length version 00 allows. */
#define FL_TRACEPARENT_LEN 55

typedef struct fl_trace_context {
    uint8_t trace_id[FL_TRACE_ID_BYTES];
    uint8_t parent_id[FL_SPAN_ID_BYTES]; /* the caller's span (zero when we started the trace) */
    uint8_t flags;                       /* trace-flags; bit 0 is "sampled" */
} fl_trace_context;

/* Parse a traceparent header value of len bytes (W3C Trace Context level 1, version 00 only):
 * exactly "00-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>", trace id and parent id
 * not all zeros. Returns 0 and fills *out, or FL_EPARSE (out untouched) for anything else —
 * other versions, upper-case hex, extra bytes, optional whitespace included. */
int fl_trace_parent_parse(const char *value, size_t len, fl_trace_context *out);

/* Fill out with n random bytes for ids (never all zeros). Uses a per-thread generator seeded
 * from getrandom(2): ids must be unique, not secret. */
void fl_trace_random_id(uint8_t *out, size_t n);

/* (Hex encoding: fl_hex_encode in core/hash.h.) */

/* "00-<trace>-<span>-<flags>" into out (FL_TRACEPARENT_LEN + 1 bytes). */
void fl_trace_parent_format(const uint8_t trace_id[FL_TRACE_ID_BYTES],
                            const uint8_t span_id[FL_SPAN_ID_BYTES], uint8_t flags, char *out);

#endif
