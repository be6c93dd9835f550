/* test_trace.c — W3C traceparent parsing (every rule of the version-00 format, each broken
 * once), formatting back, and random ids (never zero, not repeating). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/core.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int parse(const char *s, fl_trace_context *t)
{
    return fl_trace_parent_parse(s, strlen(s), t);
}

static void parses_the_spec_example(void **state)
{
    (void)state;
    fl_trace_context t;
    assert_int_equal(parse(GOOD, &t), 0);
    static const uint8_t trace[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t parent[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    assert_memory_equal(t.trace_id, trace, 16);
    assert_memory_equal(t.parent_id, parent, 8);
    assert_int_equal(t.flags, 1);
    assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &t), 0);
    assert_int_equal(t.flags, 0);
    assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", &t), 0);
    assert_int_equal(t.flags, 0xff);
    char out[FL_TRACEPARENT_LEN + 1];
    fl_trace_parent_format(trace, parent, 1, out);
    assert_string_equal(out, GOOD);
}

static void rejects_each_broken_rule(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",  /* long */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* trailing data */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version 01 */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* upper case */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* separators */
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", /* not hex */
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", /* whitespace */
        "00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01", /* misplaced dash */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_trace_context t;
        memset(&t, 0x5a, sizeof t);
        assert_int_equal(parse(bad[i], &t), FL_EPARSE);
        assert_int_equal(t.flags, 0x5a); /* untouched */
    }
    fl_trace_context t;
    assert_int_equal(fl_trace_parent_parse(NULL, 0, &t), FL_EPARSE);
    /* the length given wins over a NUL: a valid prefix of a longer buffer is not enough */
    assert_int_equal(fl_trace_parent_parse(GOOD "-more", FL_TRACEPARENT_LEN + 5, &t), FL_EPARSE);
    assert_int_equal(fl_trace_parent_parse(GOOD "-more", FL_TRACEPARENT_LEN, &t), 0);
}

static void random_ids(void **state)
{
    (void)state;
    uint8_t ids[64][FL_TRACE_ID_BYTES], zero[FL_TRACE_ID_BYTES] = {0};
    for (int i = 0; i < 64; i++) {
        fl_trace_random_id(ids[i], sizeof ids[i]);
        assert_memory_not_equal(ids[i], zero, sizeof zero);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(ids[i], ids[j], sizeof zero);
    }
    uint8_t span[FL_SPAN_ID_BYTES];
    fl_trace_random_id(span, sizeof span);
    char hex[2 * FL_SPAN_ID_BYTES + 1], tp[FL_TRACEPARENT_LEN + 1];
    fl_hex_encode(span, sizeof span, hex);
    assert_int_equal(strlen(hex), 16);
    fl_trace_parent_format(ids[0], span, 1, tp);
    fl_trace_context back;
    assert_int_equal(parse(tp, &back), 0); /* what we send parses */
    assert_memory_equal(back.trace_id, ids[0], 16);
    assert_memory_equal(back.parent_id, span, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_the_spec_example),
        cmocka_unit_test(rejects_each_broken_rule),
        cmocka_unit_test(random_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
