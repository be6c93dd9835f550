/* tables.c — the two tables raw delivery writes (DESIGN.md §4.2): raw_sensor_data from the
 * stream's sensor records and rejected_records from the dead-letter log. Each is a column list
 * plus a decode function turning one stream record into one row and its event time. Partition
 * columns (year, month, day, hour) are in the key only, never in the file (Hive convention).
 *
 * Schema evolution. Columns are only ever appended (after the last file column; partition
 * columns stay last in SQL), nullable, and every reader finds columns by name: a file written
 * before a column existed reads it as NULL (the SQL layer, DuckDB with union_by_name, Athena,
 * Trino and Spark, which map Parquet columns by name), and compaction writes such rows with
 * NULL. FL_LAKE_SCHEMA_VERSION says which columns a file may hold; trace_id came with 2. */
#include "ingest/ingest.h"
#include "lake/lake_int.h"

/* ---- raw_sensor_data ------------------------------------------------------------------------- */

enum {
    RAW_DEVICE_ID,
    RAW_TIMESTAMP,
    RAW_TEMPERATURE,
    RAW_HUMIDITY,
    RAW_PRESSURE,
    RAW_LATITUDE,
    RAW_LONGITUDE,
    RAW_META_VERSION,
    RAW_META_SOURCE,
    RAW_EXTRA,
    RAW_RECEIVED_AT,
    RAW_SHARD_ID,
    RAW_SEQUENCE_NUMBER,
    RAW_TRACE_ID, /* schema 2 */
    RAW_COLUMNS
};

static const fl_pq_column_def raw_columns[RAW_COLUMNS] = {
    {"device_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    {"timestamp", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
    {"temperature", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"humidity", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"pressure", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"latitude", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"longitude", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"metadata_version", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
    {"metadata_source", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
    {"extra", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
    {"received_at", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
    {"shard_id", FL_PQ_INT32, FL_PQ_LOGICAL_NONE, 0},
    {"sequence_number", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0},
    /* The W3C trace id of the ingest request (32 lowercase hex digits); NULL for a record
     * stored without one (in the stream before trace ids existed). One request carries many
     * records, so the column is mostly dictionary-encoded. */
    {"trace_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
};

void lake_trace_value(lake_value *v, int present, const uint8_t id[16], char *hex)
{
    v->is_null = !present;
    if (present)
        fl_hex_encode(id, 16, hex);
    v->v.s = present ? (fl_slice){hex, 32} : (fl_slice){"", 0};
}

static void set_double(lake_value *v, int present, double d)
{
    v->is_null = !present;
    v->v.d = present ? d : 0;
}

/* A string column: NULL when absent; a string that is not valid UTF-8 makes the whole record
 * undecodable (ingest only stores valid UTF-8, so this is corruption that passed the CRC, and
 * one bad value must not make every later file of the partition fail to write). */
static int set_string(lake_value *v, int present, fl_slice s)
{
    v->is_null = !present;
    v->v.s = present ? s : (fl_slice){"", 0};
    return present && !lake_utf8_valid(s.ptr, s.len) ? FL_ECORRUPT : 0;
}

static int raw_decode(const fl_stream_record *rec, lake_value *v, int64_t *event_us,
                      lake_scratch *scratch)
{
    fl_record r;
    if (rec->kind != FL_STREAM_KIND_SENSOR)
        return FL_EUNSUPPORTED; /* blobs (Kinesis API) are not sensor records yet */
    int rc = fl_record_decode(rec->payload.ptr, rec->payload.len, &r);
    if (rc)
        return rc;
    if ((rc = set_string(&v[RAW_DEVICE_ID], 1, r.device_id)) || r.device_id.len == 0)
        return FL_ECORRUPT;
    v[RAW_TIMESTAMP] = (lake_value){0, {.i64 = r.timestamp_us}};
    set_double(&v[RAW_TEMPERATURE], r.present & FL_REC_TEMPERATURE, r.temperature);
    set_double(&v[RAW_HUMIDITY], r.present & FL_REC_HUMIDITY, r.humidity);
    set_double(&v[RAW_PRESSURE], r.present & FL_REC_PRESSURE, r.pressure);
    set_double(&v[RAW_LATITUDE], r.present & FL_REC_LOCATION, r.latitude);
    set_double(&v[RAW_LONGITUDE], r.present & FL_REC_LOCATION, r.longitude);
    if ((rc = set_string(&v[RAW_META_VERSION], r.present & FL_REC_META_VERSION,
                         r.metadata_version)) ||
        (rc = set_string(&v[RAW_META_SOURCE], r.present & FL_REC_META_SOURCE, r.metadata_source)) ||
        (rc = set_string(&v[RAW_EXTRA], r.present & FL_REC_EXTRA, r.extra)))
        return rc;
    v[RAW_RECEIVED_AT] = (lake_value){0, {.i64 = rec->arrival_us}};
    v[RAW_SHARD_ID] = (lake_value){0, {.i32 = (int32_t)rec->shard}};
    v[RAW_SEQUENCE_NUMBER] = (lake_value){0, {.i64 = (int64_t)rec->seq}};
    lake_trace_value(&v[RAW_TRACE_ID], r.present & FL_REC_TRACE, r.trace_id, scratch->trace_hex);
    *event_us = r.timestamp_us;
    return 0;
}

const lake_table_spec lake_raw_table = {
    FL_LAKE_RAW_TABLE, FL_LAKE_RAW_PREFIX, FL_LAKE_RAW_CONSUMER, raw_columns, RAW_COLUMNS,
    raw_decode,
};

/* ---- rejected_records ------------------------------------------------------------------------ */

enum {
    REJ_RECEIVED_AT,
    REJ_ERROR_CODE,
    REJ_ERROR_MESSAGE,
    REJ_RAW,
    REJ_RAW_TEXT,
    REJ_SEQUENCE_NUMBER,
    REJ_TRACE_ID, /* schema 2 */
    REJ_COLUMNS
};

static const fl_pq_column_def rejected_columns[REJ_COLUMNS] = {
    {"received_at", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
    {"error_code", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    {"error_message", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    /* The exact bytes received, which may be anything (that is often why they were rejected):
     * no logical type, so no engine assumes UTF-8. */
    {"raw", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_NONE, 0},
    /* raw with invalid UTF-8 replaced by U+FFFD, for people and string functions. */
    {"raw_text", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    {"sequence_number", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0},
    /* The trace id of the request that sent the record; NULL for dead letters without one. */
    {"trace_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 1},
};

/* Copy s into scratch buffer b with invalid UTF-8 replaced; *out views it. */
static int sanitized(fl_buf *b, fl_slice s, fl_slice *out)
{
    fl_buf_reset(b);
    int rc = lake_utf8_sanitize(b, s.ptr, s.len);
    *out = (fl_slice){b->data ? b->data : "", b->len};
    return rc;
}

static int rejected_decode(const fl_stream_record *rec, lake_value *v, int64_t *event_us,
                           lake_scratch *scratch)
{
    fl_dead_letter dl;
    if (rec->kind != FL_STREAM_KIND_DEAD_LETTER)
        return FL_EUNSUPPORTED;
    int rc = fl_dead_letter_decode(rec->payload.ptr, rec->payload.len, &dl);
    if (rc)
        return rc;
    for (int i = 0; i < REJ_COLUMNS; i++)
        v[i].is_null = 0;
    v[REJ_RECEIVED_AT].v.i64 = dl.time_us;
    v[REJ_RAW].v.s = dl.raw;
    v[REJ_SEQUENCE_NUMBER].v.i64 = (int64_t)rec->seq;
    lake_trace_value(&v[REJ_TRACE_ID], dl.has_trace, dl.trace_id, scratch->trace_hex);
    if ((rc = sanitized(&scratch->b[0], dl.code, &v[REJ_ERROR_CODE].v.s)) ||
        (rc = sanitized(&scratch->b[1], dl.message, &v[REJ_ERROR_MESSAGE].v.s)) ||
        (rc = sanitized(&scratch->b[2], dl.raw, &v[REJ_RAW_TEXT].v.s)))
        return rc;
    *event_us = dl.time_us; /* partitioned by rejection time */
    return 0;
}

const lake_table_spec lake_rejected_table = {
    FL_LAKE_REJECTED_TABLE, FL_LAKE_REJECTED_PREFIX, FL_LAKE_REJECTED_CONSUMER, rejected_columns,
    REJ_COLUMNS, rejected_decode,
};
