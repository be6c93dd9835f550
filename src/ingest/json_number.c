/* json_number.c — converting JSON number tokens to doubles and back, exactly.
 *
 * The record decoder needs the same double strtod() would give (a value written by a client
 * must land in the lake bit for bit), but strtod() needs a NUL-terminated copy and is slow.
 * Most sensor values are short decimals ("21.5", "1013.25"), so the scanner collects the
 * significant digits as an integer mantissa and a decimal exponent; when the mantissa is at
 * most 2^53 and |exponent| <= 22 both the mantissa and 10^|exponent| are exact doubles and one
 * IEEE multiplication or division rounds correctly (Clinger's fast path), which is what
 * strtod() returns. Anything else falls back to strtod(). fl_json_format_double() prints the
 * shortest %.15g/%.16g/%.17g form that reads back exactly, for fl_record_to_json(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_int.h"

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define STACK_COPY_MAX 128

double fl_json_number_value(const fl_json_number *num, char *spill)
{
    if (num->mantissa == 0 && num->digits == 0)
        return num->negative ? -0.0 : 0.0;
    if (num->digits <= 19 && num->mantissa <= (UINT64_C(1) << 53) && num->exp10 >= -22 &&
        num->exp10 <= 22) {
        double v = (double)num->mantissa;
        v = num->exp10 < 0 ? v / exact_pow10[-num->exp10] : v * exact_pow10[num->exp10];
        return num->negative ? -v : v;
    }
    char local[STACK_COPY_MAX];
    char *copy = num->len < STACK_COPY_MAX ? local : spill;
    memcpy(copy, num->text, num->len);
    copy[num->len] = 0;
    return strtod(copy, NULL);
}

int fl_json_parse_double(const char *text, size_t n, double *out)
{
    fl_json_scanner sc;
    fl_json_number num;
    fl_json_scanner_init(&sc, text, n, 1);
    if (n == 0 || fl_json_scan_number(&sc, &num) || sc.p != sc.end)
        return -1;
    char *spill = NULL;
    if (num.len >= STACK_COPY_MAX && !(spill = fl_malloc(num.len + 1)))
        return -1;
    *out = fl_json_number_value(&num, spill);
    fl_free(spill);
    return 0;
}

size_t fl_json_format_double(double v, char *buf)
{
    static const char *const formats[] = {"%.15g", "%.16g", "%.17g"};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        n = snprintf(buf, 32, formats[i], v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return n < 0 ? 0 : (size_t)n;
}
