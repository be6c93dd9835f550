/* test_tz.c — TZif parsing and offsets: a zone without DST, DST edges at the exact transition
 * instants (Europe/Berlin, America/New_York), the POSIX footer far past the last transition,
 * UTC, unknown and malformed names, truncated files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "process/process.h"

#define S FL_US_PER_SEC

static fl_tz *load(const char *name)
{
    fl_tz *tz = NULL;
    assert_int_equal(fl_tz_load(name, &tz), 0);
    assert_non_null(tz);
    assert_string_equal(fl_tz_name(tz), name);
    return tz;
}

static void test_seoul(void **state)
{
    (void)state;
    fl_tz *tz = load("Asia/Seoul");
    assert_int_equal(fl_tz_offset_at(tz, INT64_C(1772409600) * S), 9 * 3600);  /* 2026 */
    assert_int_equal(fl_tz_offset_at(tz, INT64_C(1783000000) * S), 9 * 3600);  /* summer */
    assert_int_equal(fl_tz_offset_at(tz, INT64_C(4109878800) * S), 9 * 3600);  /* 2100 */
    fl_tz_destroy(tz);
}

static void test_berlin_edges(void **state)
{
    (void)state;
    fl_tz *tz = load("Europe/Berlin");
    const int64_t spring = INT64_C(1774746000) * S; /* 2026-03-29T01:00:00Z */
    const int64_t autumn = INT64_C(1792890000) * S; /* 2026-10-25T01:00:00Z */
    assert_int_equal(fl_tz_offset_at(tz, spring - 1), 3600);
    assert_int_equal(fl_tz_offset_at(tz, spring), 7200);
    assert_int_equal(fl_tz_offset_at(tz, autumn - 1), 7200);
    assert_int_equal(fl_tz_offset_at(tz, autumn), 3600);
    fl_local_time lt;
    fl_tz_local_time(tz, spring - 1, &lt); /* 01:59:59.999999 CET, then 03:00 CEST */
    assert_int_equal(lt.hour, 1);
    fl_tz_local_time(tz, spring, &lt);
    assert_int_equal(lt.hour, 3);
    assert_int_equal(lt.day_of_week, 7);
    fl_tz_local_time(tz, autumn - 1, &lt); /* 02:59:59 CEST, then 02:00 CET again */
    assert_int_equal(lt.hour, 2);
    fl_tz_local_time(tz, autumn, &lt);
    assert_int_equal(lt.hour, 2);
    /* far future: the POSIX footer CET-1CEST,M3.5.0,M10.5.0/3 */
    const int64_t spring2100 = INT64_C(4109878800) * S, autumn2100 = INT64_C(4128627600) * S;
    assert_int_equal(fl_tz_offset_at(tz, spring2100 - 1), 3600);
    assert_int_equal(fl_tz_offset_at(tz, spring2100), 7200);
    assert_int_equal(fl_tz_offset_at(tz, autumn2100 - 1), 7200);
    assert_int_equal(fl_tz_offset_at(tz, autumn2100), 3600);
    assert_int_equal(fl_tz_offset_at(tz, INT64_C(4102444800) * S), 3600); /* 2100-01-01 */
    fl_tz_destroy(tz);
}

static void test_new_york(void **state)
{
    (void)state;
    fl_tz *tz = load("America/New_York");
    const int64_t spring = INT64_C(1772953200) * S; /* 2026-03-08T07:00:00Z (02:00 EST) */
    const int64_t autumn = INT64_C(1793512800) * S; /* 2026-11-01T06:00:00Z (02:00 EDT) */
    assert_int_equal(fl_tz_offset_at(tz, spring - 1), -5 * 3600);
    assert_int_equal(fl_tz_offset_at(tz, spring), -4 * 3600);
    assert_int_equal(fl_tz_offset_at(tz, autumn - 1), -4 * 3600);
    assert_int_equal(fl_tz_offset_at(tz, autumn), -5 * 3600);
    fl_local_time lt;
    fl_tz_local_time(tz, INT64_C(1772409600) * S, &lt); /* 2026-03-02T00:00Z = Sun 19:00 EST */
    assert_int_equal(lt.hour, 19);
    assert_int_equal(lt.day_of_week, 7);
    assert_int_equal(lt.day, 1);
    fl_tz_destroy(tz);
}

static void test_utc_and_errors(void **state)
{
    (void)state;
    fl_tz *tz = load("UTC");
    assert_int_equal(fl_tz_offset_at(tz, 0), 0);
    assert_int_equal(fl_tz_offset_at(tz, INT64_C(4109878800) * S), 0);
    fl_tz_destroy(tz);
    tz = NULL; /* UTC also works without a tz database */
    assert_int_equal(fl_tz_load_dir("/nonexistent", "UTC", &tz), 0);
    assert_int_equal(fl_tz_offset_at(tz, INT64_C(1772409600) * S), 0);
    fl_tz_destroy(tz);
    assert_int_equal(fl_tz_load("Mars/Olympus_Mons", &tz), FL_ENOTFOUND);
    assert_null(tz);
    assert_int_equal(fl_tz_load("../../etc/passwd", &tz), FL_EINVAL);
    assert_int_equal(fl_tz_load("/etc/localtime", &tz), FL_EINVAL);
    assert_int_equal(fl_tz_load("", &tz), FL_EINVAL);
    assert_int_equal(fl_tz_load("Asia/Seoul;rm", &tz), FL_EINVAL);
}

static void test_truncated(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 100);
    fl_tz *tz = NULL;
    assert_int_equal(fl_tz_parse("x", buf, n, &tz), 0);
    fl_tz_destroy(tz);
    for (size_t len = 0; len < n; len++) {
        tz = NULL;
        assert_int_equal(fl_tz_parse("x", buf, len, &tz), FL_ECORRUPT);
        assert_null(tz);
    }
    buf[0] = 'X'; /* not TZif */
    assert_int_equal(fl_tz_parse("x", buf, n, &tz), FL_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seoul),         cmocka_unit_test(test_berlin_edges),
        cmocka_unit_test(test_new_york),      cmocka_unit_test(test_utc_and_errors),
        cmocka_unit_test(test_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
