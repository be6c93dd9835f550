/* fuzz_body_split.c — libFuzzer harness for request bodies (untrusted client bytes).
 *
 * Splits the input as JSON and as NDJSON with small limits; every item must lie inside the
 * body, have a valid code, and a JSON-mode split must agree with its own items (an array's
 * items are each valid JSON). Every item is then decoded as a record, and the binary form of
 * accepted records must decode again. Also feeds the bytes to the binary record and
 * dead-letter decoders, which must accept or say FL_ECORRUPT. */
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

static void decode_items(const char *body, size_t size, const fl_buf *items, size_t count)
{
    fl_ingest_limits lim = {8, 256, 300 * FL_US_PER_SEC, INT64_C(946684800000000)};
    fl_buf scratch = {0}, bin = {0};
    const fl_body_item *it = (const fl_body_item *)items->data;
    for (size_t i = 0; i < count; i++) {
        CHECK(it[i].text.ptr >= body && it[i].text.ptr + it[i].text.len <= body + size);
        CHECK(it[i].code == 0 || it[i].code == FL_RECORD_BAD_JSON);
        fl_record rec, back;
        fl_record_error err;
        int rc = fl_record_decode_json(it[i].text.ptr, it[i].text.len, INT64_C(1795568700000000),
                                       &lim, &rec, &scratch, &err);
        if (it[i].code)
            CHECK(rc == FL_RECORD_BAD_JSON);
        else
            CHECK(rc != FL_RECORD_BAD_JSON && rc != FL_RECORD_TOO_DEEP);
        if (rc == 0) {
            fl_buf_reset(&bin);
            CHECK(fl_record_encode(&rec, &bin) == 0);
            CHECK(fl_record_decode(bin.data, bin.len, &back) == 0);
        }
    }
    fl_buf_free(&scratch);
    fl_buf_free(&bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    fl_buf items = {0};
    for (int f = 0; f < 2; f++) {
        size_t count = 0;
        fl_buf_reset(&items);
        int rc = fl_body_split(body, size, f ? FL_BODY_NDJSON : FL_BODY_JSON, 64, 8, &items, &count);
        CHECK(rc >= FL_BODY_OK && rc <= FL_BODY_NOMEM);
        CHECK(items.len == count * sizeof(fl_body_item));
        CHECK(rc == FL_BODY_OK ? count > 0 : count == 0);
        decode_items(body, size, &items, count);
    }
    fl_record rec;
    int rc = fl_record_decode(data, size, &rec);
    CHECK(rc == 0 || rc == FL_ECORRUPT);
    if (rc == 0) {
        fl_buf j = {0};
        CHECK(fl_record_to_json(&rec, &j) == 0);
        fl_buf_free(&j);
    }
    fl_dead_letter dl;
    rc = fl_dead_letter_decode(data, size, &dl);
    CHECK(rc == 0 || rc == FL_ECORRUPT);
    fl_buf_free(&items);
    return 0;
}
