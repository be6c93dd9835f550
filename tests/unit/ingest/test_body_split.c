/* test_body_split.c — cutting request bodies into records: a JSON object, arrays, NDJSON with
 * blank lines, CRLF and a BOM, malformed arrays and lines, the record-count and depth limits,
 * and empty bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/ingest.h"

static fl_buf items;
static size_t count;

static int split(const char *body, enum fl_body_format f, size_t max_records, int64_t depth)
{
    fl_buf_reset(&items);
    count = 99;
    return fl_body_split(body, strlen(body), f, max_records, depth, &items, &count);
}

static const fl_body_item *item(size_t i)
{
    assert_true(i < count);
    assert_int_equal(items.len, count * sizeof(fl_body_item));
    return (const fl_body_item *)items.data + i;
}

static void assert_item(size_t i, const char *text, int code)
{
    const fl_body_item *it = item(i);
    if (!fl_slice_eq_cstr(it->text, text)) {
        print_error("item %zu is \"%.*s\", want \"%s\"\n", i, (int)it->text.len, it->text.ptr, text);
        fail();
    }
    assert_int_equal(it->code, code);
}

static void json_object(void **state)
{
    (void)state;
    assert_int_equal(split(" {\"a\":1} \n", FL_BODY_JSON, 10, 16), FL_BODY_OK);
    assert_int_equal(count, 1);
    assert_item(0, "{\"a\":1}", 0);
    assert_int_equal(split("\xEF\xBB\xBF{\"a\":[1,{}]}", FL_BODY_JSON, 10, 16), FL_BODY_OK);
    assert_item(0, "{\"a\":[1,{}]}", 0);
    assert_int_equal(split("{\"a\":1} {}", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(count, 0);
    assert_int_equal(items.len, 0);
    assert_int_equal(split("{\"a\":1", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("\"str\"", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("42", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("nul", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
}

static void json_array(void **state)
{
    (void)state;
    assert_int_equal(split("[ {\"a\":1} ,{\"b\":[2]},\n 3, \"x\" ,null,[]]", FL_BODY_JSON, 10, 16),
                     FL_BODY_OK);
    assert_int_equal(count, 6);
    assert_item(0, "{\"a\":1}", 0);
    assert_item(1, "{\"b\":[2]}", 0);
    assert_item(2, "3", 0);
    assert_item(3, "\"x\"", 0);
    assert_item(4, "null", 0);
    assert_item(5, "[]", 0);
    assert_int_equal(split("[{}", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("[{},]", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("[{} {}]", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("[{\"a\":1,}]", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("[{}] x", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("[{\"a\":\"\xff\"}]", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(count, 0);
}

static void empty_bodies(void **state)
{
    (void)state;
    assert_int_equal(split("", FL_BODY_JSON, 10, 16), FL_BODY_EMPTY);
    assert_int_equal(split(" \r\n\t", FL_BODY_JSON, 10, 16), FL_BODY_EMPTY);
    assert_int_equal(split("\xEF\xBB\xBF", FL_BODY_JSON, 10, 16), FL_BODY_EMPTY);
    assert_int_equal(split("[ ]", FL_BODY_JSON, 10, 16), FL_BODY_EMPTY);
    assert_int_equal(split("[] x", FL_BODY_JSON, 10, 16), FL_BODY_BAD_JSON);
    assert_int_equal(split("", FL_BODY_NDJSON, 10, 16), FL_BODY_EMPTY);
    assert_int_equal(split("\n\r\n  \n\t\n", FL_BODY_NDJSON, 10, 16), FL_BODY_EMPTY);
    assert_int_equal(count, 0);
}

static void ndjson(void **state)
{
    (void)state;
    assert_int_equal(split("\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n{\"b\":2}\n[1]\n{\"c\":3}", FL_BODY_NDJSON,
                           10, 16), FL_BODY_OK);
    assert_int_equal(count, 4);
    assert_item(0, "{\"a\":1}", 0);
    assert_item(1, "{\"b\":2}", 0);
    assert_item(2, "[1]", 0);
    assert_item(3, "{\"c\":3}", 0);
    /* malformed lines are items with bad_json and their raw bytes; the rest go on */
    assert_int_equal(split("{\"a\":1}\n{\"a\":\n  {\"b\":2}  \r\nnot json\n{} {}\n", FL_BODY_NDJSON, 10,
                           16), FL_BODY_OK);
    assert_int_equal(count, 5);
    assert_item(0, "{\"a\":1}", 0);
    assert_item(1, "{\"a\":", FL_RECORD_BAD_JSON);
    assert_item(2, "  {\"b\":2}  ", 0);
    assert_item(3, "not json", FL_RECORD_BAD_JSON);
    assert_item(4, "{} {}", FL_RECORD_BAD_JSON);
    /* a JSON array body in NDJSON mode spanning lines: each line is judged alone */
    assert_int_equal(split("[{},\n{}]", FL_BODY_NDJSON, 10, 16), FL_BODY_OK);
    assert_int_equal(count, 2);
    assert_int_equal(item(0)->code, FL_RECORD_BAD_JSON);
    assert_int_equal(item(1)->code, FL_RECORD_BAD_JSON);
}

static void too_many(void **state)
{
    (void)state;
    assert_int_equal(split("[{},{},{}]", FL_BODY_JSON, 3, 16), FL_BODY_OK);
    assert_int_equal(count, 3);
    assert_int_equal(split("[{},{},{},{}]", FL_BODY_JSON, 3, 16), FL_BODY_TOO_MANY_RECORDS);
    assert_int_equal(count, 0);
    assert_int_equal(items.len, 0);
    /* stops early: what follows the limit is never looked at */
    assert_int_equal(split("[{},{},{},{}, this is not json", FL_BODY_JSON, 3, 16),
                     FL_BODY_TOO_MANY_RECORDS);
    assert_int_equal(split("{}\n{}\n{}\n", FL_BODY_NDJSON, 3, 16), FL_BODY_OK);
    assert_int_equal(split("{}\n{}\n{}\nbad\n", FL_BODY_NDJSON, 3, 16), FL_BODY_TOO_MANY_RECORDS);
    assert_int_equal(split("{}", FL_BODY_JSON, 0, 16), FL_BODY_TOO_MANY_RECORDS);
}

static void too_deep(void **state)
{
    (void)state;
    /* depth counts per record; the batch array is not a level */
    assert_int_equal(split("{\"a\":{\"b\":[1]}}", FL_BODY_JSON, 10, 3), FL_BODY_OK);
    assert_int_equal(split("{\"a\":{\"b\":[[1]]}}", FL_BODY_JSON, 10, 3), FL_BODY_TOO_DEEP);
    assert_int_equal(split("[{\"a\":{\"b\":[1]}}]", FL_BODY_JSON, 10, 3), FL_BODY_OK);
    assert_int_equal(split("[{},{\"a\":{\"b\":[[1]]}}]", FL_BODY_JSON, 10, 3), FL_BODY_TOO_DEEP);
    assert_int_equal(count, 0);
    assert_int_equal(split("{}\n{\"a\":{\"b\":[1]}}\n", FL_BODY_NDJSON, 10, 3), FL_BODY_OK);
    assert_int_equal(split("{}\n{\"a\":{\"b\":[[1]]}}\n", FL_BODY_NDJSON, 10, 3), FL_BODY_TOO_DEEP);
    char deep[100001];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    assert_int_equal(split(deep, FL_BODY_JSON, 10, 256), FL_BODY_TOO_DEEP);
    assert_int_equal(split(deep, FL_BODY_NDJSON, 10, 256), FL_BODY_TOO_DEEP);
}

static void appends_to_existing_items(void **state)
{
    (void)state;
    fl_buf_reset(&items);
    size_t n1, n2;
    assert_int_equal(fl_body_split("{}", 2, FL_BODY_JSON, 5, 16, &items, &n1), FL_BODY_OK);
    assert_int_equal(fl_body_split("[{},{}]", 7, FL_BODY_JSON, 5, 16, &items, &n2), FL_BODY_OK);
    assert_int_equal(n1, 1);
    assert_int_equal(n2, 2);
    assert_int_equal(items.len, 3 * sizeof(fl_body_item));
    assert_int_equal(fl_body_split("[x]", 3, FL_BODY_JSON, 5, 16, &items, &n2), FL_BODY_BAD_JSON);
    assert_int_equal(items.len, 3 * sizeof(fl_body_item));
}

static int teardown(void **state)
{
    (void)state;
    fl_buf_free(&items);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_object),
        cmocka_unit_test(json_array),
        cmocka_unit_test(empty_bodies),
        cmocka_unit_test(ndjson),
        cmocka_unit_test(too_many),
        cmocka_unit_test(too_deep),
        cmocka_unit_test(appends_to_existing_items),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
