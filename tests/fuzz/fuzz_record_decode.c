/* fuzz_record_decode.c — libFuzzer harness for the record decoder (untrusted client bytes).
 *
 * Decodes arbitrary bytes as one record. When accepted, the record must survive the whole
 * storage path losslessly: binary encode → fl_record_decode (must accept) → same values;
 * fl_record_to_json → decode again → same values (extra may be reordered, so its length is
 * compared, and a third round must reproduce the second's extra byte for byte). Rejections
 * must carry a known code and a non-empty message. Any mismatch aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__);                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int slice_eq(fl_slice a, fl_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void same_values(const fl_record *a, const fl_record *b, int compare_extra_bytes)
{
    CHECK(a->present == b->present);
    CHECK(a->timestamp_us == b->timestamp_us);
    CHECK(slice_eq(a->device_id, b->device_id));
    CHECK(memcmp(&a->temperature, &b->temperature, sizeof(double)) == 0);
    CHECK(memcmp(&a->humidity, &b->humidity, sizeof(double)) == 0);
    CHECK(memcmp(&a->pressure, &b->pressure, sizeof(double)) == 0);
    CHECK(memcmp(&a->latitude, &b->latitude, sizeof(double)) == 0);
    CHECK(memcmp(&a->longitude, &b->longitude, sizeof(double)) == 0);
    CHECK(slice_eq(a->metadata_version, b->metadata_version));
    CHECK(slice_eq(a->metadata_source, b->metadata_source));
    CHECK(a->extra.len == b->extra.len);
    if (compare_extra_bytes)
        CHECK(slice_eq(a->extra, b->extra));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t now_us = INT64_C(1795568700000000); /* 2026-11-25T01:05:00Z */
    fl_ingest_limits lim = {16, 4096, 300 * FL_US_PER_SEC, INT64_C(946684800000000)};
    fl_record a, b, c, d;
    fl_record_error err;
    fl_buf s1 = {0}, s2 = {0}, s3 = {0}, bin = {0}, j1 = {0}, j2 = {0};
    if (size > 0)
        lim.max_json_depth = 2 + data[0] % 15; /* vary the depth limit with the input */
    int rc = fl_record_decode_json((const char *)data, size, now_us, &lim, &a, &s1, &err);
    if (rc) {
        CHECK(rc > 0 && rc < FL_RECORD_ERROR_COUNT && err.code == rc && err.message[0]);
        goto out;
    }
    CHECK(fl_record_encode(&a, &bin) == 0);
    CHECK(fl_record_decode(bin.data, bin.len, &b) == 0);
    same_values(&a, &b, 1);
    CHECK(fl_record_to_json(&b, &j1) == 0);
    rc = fl_record_decode_json(j1.data, j1.len, now_us, &lim, &c, &s2, &err);
    if (rc)
        fprintf(stderr, "re-decode of %s failed: %s\n", j1.data, err.message);
    CHECK(rc == 0);
    same_values(&a, &c, 0);
    CHECK(fl_record_to_json(&c, &j2) == 0);
    CHECK(fl_record_decode_json(j2.data, j2.len, now_us, &lim, &d, &s3, &err) == 0);
    same_values(&c, &d, 1);
    CHECK(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0);
out:
    fl_buf_free(&s1);
    fl_buf_free(&s2);
    fl_buf_free(&s3);
    fl_buf_free(&bin);
    fl_buf_free(&j1);
    fl_buf_free(&j2);
    return 0;
}
