/* fuzz_tz_parse.c — the TZif parser (src/process/tz.c) on arbitrary bytes: never crashes or
 * leaks; a zone that parses answers offsets within ±26 h for any instant. */
#include <stdint.h>
#include <stdlib.h>

#include "process/process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_tz *tz = NULL;
    if (fl_tz_parse("Fuzz/Zone", data, size, &tz) != 0)
        return 0;
    static const int64_t probes[] = {INT64_MIN / 2, -1, 0, INT64_C(1795568523456000),
                                     INT64_C(4102444800000000), INT64_MAX / 2};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        int32_t off = fl_tz_offset_at(tz, probes[i]);
        if (off < -26 * 3600 || off > 26 * 3600)
            abort();
    }
    fl_tz_destroy(tz);
    return 0;
}
