/* fuzz_dead_letter.c — the dead-letter decoder (src/ingest/dead_letter.c) on arbitrary bytes,
 * as it meets them in the dead-letter log (the CRC catches rot, not a bug that wrote garbage):
 * never reads past the end; whatever it accepts (version 1, or 2 with a trace id) encodes back
 * to exactly the input bytes — the format has one spelling per dead letter — and renders as
 * JSON, with a trace_id member exactly when the letter has one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fl_dead_letter dl;
    int rc = fl_dead_letter_decode(copy, size, &dl);
    if (rc != 0 && rc != FL_ECORRUPT)
        abort();
    if (rc == 0) {
        fl_buf back = {0}, json = {0};
        if (fl_dead_letter_encode(&dl, &back) || back.len != size ||
            memcmp(back.data, copy, size) != 0)
            abort();
        if (fl_dead_letter_to_json(&dl, &json) ||
            (strstr(json.data, ",\"trace_id\":\"") != NULL) != dl.has_trace)
            abort();
        fl_buf_free(&back);
        fl_buf_free(&json);
    }
    free(copy);
    return 0;
}
