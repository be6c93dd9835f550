/* test_erase.c — the rejected_records match of erasure (fl_erase_json_mentions): the id as a
 * whole JSON string with any spacing around the colon, never as part of a longer id, never
 * after an escaped quote, and nothing in empty or short input. The end-to-end erasure (every
 * table, every file scanned afterwards) is tests/integration/test_erase.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "jobs/jobs.h"

static int mentions(const char *s, const char *id)
{
    return fl_erase_json_mentions((fl_slice){s, strlen(s)}, (fl_slice){id, strlen(id)});
}

static void test_matches_json_value(void **state)
{
    (void)state;
    assert_int_equal(mentions("{\"device_id\":\"truck-1\",\"temperature\":\"hot\"}", "truck-1"), 1);
    assert_int_equal(mentions("{\"device_id\" : \"truck-1\"}", "truck-1"), 1);
    assert_int_equal(mentions("{\"device_id\":\"truck-1\"", "truck-1"), 1); /* truncated body */
    assert_int_equal(mentions("\"truck-1\"", "truck-1"), 1);
}

static void test_no_false_positives(void **state)
{
    (void)state;
    assert_int_equal(mentions("{\"device_id\":\"truck-10\"}", "truck-1"), 0);
    assert_int_equal(mentions("{\"device_id\":\"xtruck-1\"}", "truck-1"), 0);
    assert_int_equal(mentions("{\"note\":\"a\\\"truck-1\\\"\"}", "truck-1"), 0);
    assert_int_equal(mentions("truck-1", "truck-1"), 0);
    assert_int_equal(mentions("", "truck-1"), 0);
    assert_int_equal(fl_erase_json_mentions((fl_slice){NULL, 0}, (fl_slice){"a", 1}), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_json_value),
        cmocka_unit_test(test_no_false_positives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
