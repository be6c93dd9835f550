/* fuzz_traceparent.c — the W3C traceparent parser (src/core/trace.c) on arbitrary header
 * bytes: never reads past len; whatever it accepts formats back to exactly the input with the
 * parent id in the span's place (the version-00 form has one spelling). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fl_trace_context t;
    if (fl_trace_parent_parse(copy, size, &t) == 0) {
        char back[FL_TRACEPARENT_LEN + 1];
        fl_trace_parent_format(t.trace_id, t.parent_id, t.flags, back);
        if (size != FL_TRACEPARENT_LEN || memcmp(back, copy, size) != 0)
            abort();
    }
    free(copy);
    return 0;
}
