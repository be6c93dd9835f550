/* ingest.h — turning request bodies into validated, normalised sensor records.
 *
 * Data flow: the gateway hands a request body here. fl_ingest_gunzip() undoes
 * Content-Encoding: gzip under size and ratio limits; fl_body_split() cuts a JSON object, a
 * JSON array or NDJSON into one text per record; fl_record_decode_json() validates one text
 * against DESIGN.md §4.1 into an fl_record (slices borrowed from the text); fl_record_encode()
 * appends the compact binary form that is stored in the stream, which consumers read back with
 * fl_record_decode() without parsing JSON again. Rejected records become dead letters
 * (fl_dead_letter_encode) with their raw bytes, reason and time.
 *
 * Nothing here allocates per record on the hot path except through caller-provided fl_buf
 * scratch space, and nothing logs. */
#ifndef FL_INGEST_INGEST_H
#define FL_INGEST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- the normalised record ---------------------------------------------------------------- */

enum fl_record_field_bits {
    FL_REC_TEMPERATURE = 1u << 0,
    FL_REC_HUMIDITY = 1u << 1,
    FL_REC_PRESSURE = 1u << 2,
    FL_REC_LOCATION = 1u << 3, /* latitude and longitude: both or neither */
    FL_REC_META_VERSION = 1u << 4,
    FL_REC_META_SOURCE = 1u << 5,
    FL_REC_EXTRA = 1u << 6,
    /* trace_id holds the W3C trace id of the request that carried the record (set by the
     * gateway, never by the JSON decoder: it is not a field of the record itself) */
    FL_REC_TRACE = 1u << 7,
};

/* One sensor reading. Slices are borrowed from whatever was decoded (JSON text, scratch
 * buffer or binary payload) and valid as long as that is. Absent optional values have their
 * bit clear in `present`; their numeric fields are 0 and slices empty. */
typedef struct fl_record {
    fl_slice device_id;
    int64_t timestamp_us; /* µs since epoch, UTC */
    double temperature;   /* °C */
    double humidity;      /* %RH */
    double pressure;      /* hPa */
    double latitude;
    double longitude;
    fl_slice metadata_version;
    fl_slice metadata_source;
    fl_slice extra; /* JSON object text of unknown fields, verbatim */
    uint32_t present;
    uint8_t trace_id[16]; /* valid iff FL_REC_TRACE: the ingest request's trace id */
} fl_record;

/* ---- per-record validation errors (stable codes, shown to clients) --------------------- */

#define FL_RECORD_ERROR_MAP(XX)                                                                    \
    XX(BAD_JSON, "bad_json")               /* not valid JSON / invalid UTF-8 */                     \
    XX(NOT_OBJECT, "not_object")           /* valid JSON, but not an object */                      \
    XX(MISSING_FIELD, "missing_field")     /* device_id or timestamp absent/null */                 \
    XX(WRONG_TYPE, "wrong_type")           /* e.g. temperature is a string, NaN, bool */            \
    XX(OUT_OF_RANGE, "out_of_range")       /* coordinate out of range, one of lat/lon only */       \
    XX(BAD_TIMESTAMP, "bad_timestamp")     /* unparseable, < 2000-01-01, > now + skew */            \
    XX(BAD_STRING, "bad_string")           /* device_id empty/too long/bad chars, metadata >128 */  \
    XX(TOO_LARGE, "too_large")             /* extra > max_extra_bytes */                             \
    XX(TOO_DEEP, "too_deep")               /* nesting deeper than max_json_depth */                  \
    XX(DUPLICATE_FIELD, "duplicate_field") /* the same known key twice */

enum fl_record_error_code {
    FL_RECORD_OK = 0,
#define FL_REC_ERR_ENUM_(name, str) FL_RECORD_##name,
    FL_RECORD_ERROR_MAP(FL_REC_ERR_ENUM_)
#undef FL_REC_ERR_ENUM_
        FL_RECORD_ERROR_COUNT
};

/* "missing_field" etc. for a code; "ok" for 0. */
const char *fl_record_error_name(int code);

typedef struct fl_record_error {
    int code;          /* enum fl_record_error_code */
    char message[192]; /* names the field, e.g. "temperature: expected a number, got string" */
} fl_record_error;

typedef struct fl_ingest_limits {
    int64_t max_json_depth;
    int64_t max_extra_bytes;
    int64_t max_future_skew_us;
    int64_t min_timestamp_us; /* 2000-01-01T00:00:00Z unless a test says otherwise */
} fl_ingest_limits;

/* Limits from the config table's [ingest] section. */
void fl_ingest_limits_from_config(const fl_config *cfg, fl_ingest_limits *out);

/* Validate one record's JSON text (leading/trailing whitespace allowed) into *out.
 * now_us is the server's clock for the future-skew check. `scratch` is reset and then used
 * to build `extra`; out->extra may point into it, so scratch must outlive *out.
 * Returns 0, or a positive enum fl_record_error_code with err filled. Never allocates except
 * by growing scratch. */
int fl_record_decode_json(const char *text, size_t len, int64_t now_us,
                          const fl_ingest_limits *limits, fl_record *out, fl_buf *scratch,
                          fl_record_error *err);

/* Append the binary form of rec to out. Returns 0 or FL_ENOMEM. */
FL_MUST_USE int fl_record_encode(const fl_record *rec, fl_buf *out);
/* Decode a binary record (from the stream: untrusted bytes). Slices point into p.
 * Returns 0 or FL_ECORRUPT. */
FL_MUST_USE int fl_record_decode(const void *p, size_t n, fl_record *out);
/* The device_id of an encoded record without decoding the rest: for the gateway, which needs
 * the partition key of records it just encoded. Returns 0 or FL_ECORRUPT. */
FL_MUST_USE int fl_record_encoded_device_id(const void *p, size_t n, fl_slice *out);
/* Append rec as one JSON object (the incoming schema, timestamp in RFC 3339 UTC µs). */
FL_MUST_USE int fl_record_to_json(const fl_record *rec, fl_buf *out);

/* ---- request bodies ----------------------------------------------------------------------- */

enum fl_body_format { FL_BODY_JSON = 0, FL_BODY_NDJSON = 1 };

/* Whole-request outcomes of splitting: each maps to its own HTTP status in the gateway. */
enum fl_body_error {
    FL_BODY_OK = 0,
    FL_BODY_BAD_JSON,         /* 400: body is not a JSON value / array is malformed */
    FL_BODY_EMPTY,            /* 400: no records at all */
    FL_BODY_TOO_MANY_RECORDS, /* 413: more than max_records */
    FL_BODY_TOO_DEEP,         /* 400: nesting deeper than max_json_depth */
    FL_BODY_NOMEM,            /* 503: the items array could not grow (allocation failed) */
};

/* One record's text inside the body; code != 0 means the splitter already rejected this
 * record (e.g. an NDJSON line that is not valid JSON): it is reported with that code and its
 * raw bytes dead-lettered. */
typedef struct fl_body_item {
    fl_slice text;
    int code; /* 0 or enum fl_record_error_code */
} fl_body_item;

/* Split body into items (appended to *items, an fl_buf used as an array of fl_body_item).
 * JSON: an object is one record; an array's elements are records (non-object elements are
 * items that will fail as not_object); anything else is FL_BODY_BAD_JSON. NDJSON: each
 * non-blank line is a record; a line that is not valid JSON is an item with code
 * FL_RECORD_BAD_JSON. Returns enum fl_body_error; *count receives the number of items.
 * A leading UTF-8 BOM is skipped; NDJSON lines may end in \r\n (the \r is not part of the
 * item). Depth is counted per record: the array around a JSON batch is not a level. On any
 * error nothing is appended and *count is 0. Item texts borrow from body. */
int fl_body_split(const char *body, size_t len, enum fl_body_format format, size_t max_records,
                  int64_t max_depth, fl_buf *items, size_t *count);

/* Gunzip in[0..n) into out (reset first). Returns 0; FL_ELIMIT with *which = 1 if the output
 * would exceed max_out bytes, *which = 2 if output/input exceeds max_ratio; FL_EPARSE if the
 * data is not valid gzip. Stops decompressing as soon as a limit is crossed. */
FL_MUST_USE int fl_ingest_gunzip(const void *in, size_t n, size_t max_out, int64_t max_ratio,
                                 fl_buf *out, int *which);

/* ---- dead letters -------------------------------------------------------------------------- */

typedef struct fl_dead_letter {
    int64_t time_us;
    fl_slice code;    /* e.g. "wrong_type" */
    fl_slice message; /* the same message the client saw */
    fl_slice raw;     /* the record's bytes exactly as received (after gunzip) */
    int has_trace;    /* 1: trace_id is the W3C trace id of the request that sent the record */
    uint8_t trace_id[16];
} fl_dead_letter;

/* Appends the binary form (version 2 with a trace id, version 1 without). FL_EINVAL past the
 * code/message limits or for an all-zero trace id (W3C forbids it; it would read as none). */
FL_MUST_USE int fl_dead_letter_encode(const fl_dead_letter *dl, fl_buf *out);
/* Untrusted bytes, either version: returns 0 or FL_ECORRUPT; slices point into p. */
FL_MUST_USE int fl_dead_letter_decode(const void *p, size_t n, fl_dead_letter *out);
/* {"time":"...","code":"...","message":"...","raw":"<raw as JSON string>"}, with a last member
 * "trace_id":"<32 lowercase hex>" when the dead letter has a trace id. */
FL_MUST_USE int fl_dead_letter_to_json(const fl_dead_letter *dl, fl_buf *out);

#endif
