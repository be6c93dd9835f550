/* test_number.c — the ingest number parser must give exactly what strtod() gives (bit for bit)
 * on every JSON number: random and edge inputs, including subnormals, 17+ digit mantissas,
 * huge exponents and -0; its grammar must match RFC 8259; and fl_json_format_double must print
 * the shortest text that reads back exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/ingest_int.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static long compared;

static void check(const char *text)
{
    double got, want = strtod(text, NULL);
    if (fl_json_parse_double(text, strlen(text), &got) != 0) {
        print_error("not accepted: %s\n", text);
        fail();
    }
    if (memcmp(&got, &want, sizeof got) != 0) {
        print_error("%s: got %.17g want %.17g\n", text, got, want);
        fail();
    }
    compared++;
}

static void edge_values(void **state)
{
    (void)state;
    static const char *const edges[] = {
        "0", "-0", "0.0", "-0.0", "0e0", "-0e-999", "0e999", "1", "-1", "9", "10", "0.1", "0.2",
        "0.3", "1.5", "21.5", "40.2", "1013.1", "37.56", "126.97", "-126.97",
        "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "2.2250738585072011e-308", "2.2250738585072014e-308", "2.225073858507201e-308",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "1e308",
        "1e309", "-1e309", "1e-400", "1e400", "9007199254740992", "9007199254740993",
        "9007199254740994", "9007199254740995", "18014398509481985", "1e22", "1e23", "1e-22",
        "1e-23", "123456789012345678", "1234567890123456789", "12345678901234567890",
        "123456789012345678901234567890", "0.1234567890123456789012345", "3.14159265358979323846",
        "2.718281828459045", "0.30000000000000004", "1.0000000000000002", "0.9999999999999999",
        "4503599627370496.5", "4503599627370497.5", "9007199254740993.0000000000001",
        "1E5", "1e+5", "1E-5", "100000000000000000000000e-20", "0.000001",
        "0.0000000000000000000000000000001", "1.00000000000000000000000000000000001",
        "7.2057594037927933e16", "89255.0e-22", "8.9255e-18", "3.4028234663852886e38",
        "1.401298464324817e-45", "1.1754943508222875e-38", "-2.5e-310", "6.02214076e23",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check(edges[i]);
    }
    /* tokens longer than the 128-byte stack copy */
    char big[700];
    memset(big, '9', sizeof big);
    big[0] = '1';
    big[1] = '.';
    big[sizeof big - 1] = 0;
    check(big);
    memcpy(big + 600, "e-300", 6);
    check(big);
    /* a halfway case that needs all 768 digits: 2^-1074 * 1.5 written out long */
    strcpy(big, "0.");
    memset(big + 2, '0', 323);
    strcpy(big + 325, "7411231691927933");
    check(big);
    assert_true(compared > 70);
}

static void random_doubles(void **state)
{
    (void)state;
    static const char *const fmts[] = {"%.17g", "%.16g", "%.15g", "%.6g", "%.3f", "%.10e", "%.1f",
                                       "%.20g", "%.25e"};
    char text[128];
    long before = compared;
    for (int i = 0; i < 60000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        if (i % 3 == 0)
            v = (double)(int64_t)(rnd() % 2000000) / 100.0 - 5000; /* sensor-like */
        const char *f = fmts[rnd() % (sizeof fmts / sizeof fmts[0])];
        if (f[2] == '3' || f[2] == '1')
            if (fabs(v) > 1e30) /* %f of a huge value is fine but long; keep it short */
                f = "%.17g";
        snprintf(text, sizeof text, f, v);
        check(text);
    }
    assert_true(compared - before > 50000);
}

/* Random decimal strings in JSON grammar: 1-25 significant digits, optional point, exponent. */
static void random_decimals(void **state)
{
    (void)state;
    char text[96];
    long before = compared;
    for (int i = 0; i < 60000; i++) {
        size_t n = 0;
        if (rnd() & 1)
            text[n++] = '-';
        int digits = 1 + (int)(rnd() % 25);
        int point = (int)(rnd() % (digits + 1));
        if (point == 0) {
            text[n++] = '0';
            text[n++] = '.';
            int zeros = (int)(rnd() % 8);
            for (int z = 0; z < zeros; z++)
                text[n++] = '0';
        }
        for (int d = 0; d < digits; d++) {
            if (d == point && point > 0 && d < digits)
                text[n++] = '.';
            text[n++] = (char)('0' + (d == 0 && point != 0 ? 1 + rnd() % 9 : rnd() % 10));
        }
        if (rnd() % 3 == 0) {
            int e = (int)(rnd() % 700) - 350;
            if (rnd() % 2)
                e = (int)(rnd() % 50) - 25;
            n += (size_t)snprintf(text + n, sizeof text - n, "%c%d", (rnd() & 1) ? 'e' : 'E', e);
        }
        text[n] = 0;
        check(text);
    }
    assert_true(compared - before == 60000);
}

static void grammar(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "-", "+1", "01", "-01", "1.", ".1", "1e", "1e+", "1E-",
                                      "--1", "0x10", "Infinity", "-Infinity", "NaN", "1 ", " 1",
                                      "1.5.2", "1e5e5", "00", "1,5", "\xd9\xa1"};
    double v;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (fl_json_parse_double(bad[i], strlen(bad[i]), &v) != -1) {
            print_error("accepted invalid number \"%s\"\n", bad[i]);
            fail();
        }
    }
    assert_int_equal(fl_json_parse_double("-0", 2, &v), 0);
    assert_true(v == 0 && signbit(v));
    assert_int_equal(fl_json_parse_double("1e999", 5, &v), 0);
    assert_true(isinf(v));
}

static void shortest_format_round_trips(void **state)
{
    (void)state;
    char buf[32];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        size_t n = fl_json_format_double(v, buf);
        assert_int_equal(n, strlen(buf));
        double back;
        assert_int_equal(fl_json_parse_double(buf, n, &back), 0);
        assert_memory_equal(&back, &v, sizeof v);
    }
    fl_json_format_double(21.5, buf);
    assert_string_equal(buf, "21.5");
    fl_json_format_double(0.1, buf);
    assert_string_equal(buf, "0.1");
    fl_json_format_double(-0.0, buf);
    assert_string_equal(buf, "-0");
    fl_json_format_double(0.30000000000000004, buf);
    assert_string_equal(buf, "0.30000000000000004");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edge_values),
        cmocka_unit_test(random_doubles),
        cmocka_unit_test(random_decimals),
        cmocka_unit_test(grammar),
        cmocka_unit_test(shortest_format_round_trips),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("compared %ld numbers with strtod\n", compared);
    return rc;
}
