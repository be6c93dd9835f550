/* test_encode.c — the result encoders on one statement with every value type: JSON numbers
 * that read back exactly (shortest form), non-finite REAL as null, strings escaped, BLOB as
 * hex, NULL; CSV quoting (comma, quote, newline) with NULL as an empty field; table lines;
 * ndjson objects; and the mid-stream error shapes (json "error" member, ndjson last line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

static const char *SQL =
    "SELECT 1 AS i, 0.1 AS r, 1e300 * 1e300 AS inf, 'a,\"b\"\n' AS s, x'00ff' AS b, NULL AS n";

static void encode(const fl_query_encoder *e, fl_buf *out, const fl_query_error *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, SQL, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(e->begin(out, st), 0);
    assert_int_equal(e->row(out, st, 0), 0);
    assert_int_equal(e->row(out, st, 1), 0);
    assert_int_equal(e->end(out, err ? NULL : "{\"rows\":2}", err), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_json(void **state)
{
    (void)state;
    fl_buf b = {0};
    encode(fl_query_encoder_find("json"), &b, NULL);
    assert_string_equal(b.data, "{\"columns\":[\"i\",\"r\",\"inf\",\"s\",\"b\",\"n\"],\"rows\":[\n"
                                "[1,0.1,null,\"a,\\\"b\\\"\\n\",\"00ff\",null]\n"
                                ",[1,0.1,null,\"a,\\\"b\\\"\\n\",\"00ff\",null]\n"
                                "],\"stats\":{\"rows\":2}}\n");
    fl_buf_reset(&b);
    fl_query_error err = {"timeout", "too slow"};
    encode(fl_query_encoder_find("json"), &b, &err);
    assert_non_null(
        strstr(b.data, "],\"error\":{\"code\":\"timeout\",\"message\":\"too slow\"}}\n"));
    fl_buf_free(&b);
}

static void test_ndjson(void **state)
{
    (void)state;
    fl_buf b = {0};
    fl_query_error err = {"too_many_rows", "more"};
    encode(fl_query_encoder_find("ndjson"), &b, &err);
    const char *row = "{\"i\":1,\"r\":0.1,\"inf\":null,\"s\":\"a,\\\"b\\\"\\n\",\"b\":\"00ff\","
                      "\"n\":null}\n";
    fl_buf want = {0};
    assert_int_equal(fl_buf_printf(&want,
                                   "%s%s{\"error\":{\"code\":\"too_many_rows\","
                                   "\"message\":\"more\"}}\n",
                                   row, row),
                     0);
    assert_string_equal(b.data, want.data);
    fl_buf_free(&want);
    fl_buf_free(&b);
}

static void test_csv_and_table(void **state)
{
    (void)state;
    fl_buf b = {0};
    encode(fl_query_encoder_find("csv"), &b, NULL);
    assert_string_equal(b.data, "i,r,inf,s,b,n\r\n"
                                "1,0.1,inf,\"a,\"\"b\"\"\n\",00ff,\r\n"
                                "1,0.1,inf,\"a,\"\"b\"\"\n\",00ff,\r\n");
    fl_buf_reset(&b);
    encode(fl_query_encoder_find("table"), &b, NULL);
    assert_non_null(strstr(b.data, "i | r | inf | s | b | n\n-----------------------\n"));
    assert_non_null(strstr(b.data, "1 | 0.1 | inf | a,\"b\"\n | 00ff | NULL\n"));
    fl_buf_free(&b);
    assert_null(fl_query_encoder_find("xml"));
    assert_null(fl_query_encoder_find(NULL));
    assert_string_equal(fl_query_encoder_content_type(fl_query_encoder_find("csv")),
                        "text/csv; charset=utf-8");
}

static void test_real_round_trip(void **state)
{
    (void)state;
    static const double values[] = {0.1,    1.0 / 3, 16.170000000000002,
                                    1e-300, -2.5e17, 123456789.125};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        fl_buf b = {0};
        assert_int_equal(fl_buf_append_double(&b, values[i]), 0);
        assert_true(strtod(b.data, NULL) == values[i]);
        fl_buf_free(&b);
    }
    fl_buf b = {0};
    assert_int_equal(fl_buf_append_double(&b, 16.17), 0);
    assert_string_equal(b.data, "16.17");
    fl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_csv_and_table),
        cmocka_unit_test(test_real_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
