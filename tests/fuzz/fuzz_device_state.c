/* fuzz_device_state.c — the per-device detector state decoder (checkpoint blobs read back from
 * meta.db) on arbitrary bytes: never crashes or leaks; a blob that decodes re-encodes to a blob
 * that decodes to the same encoding (a fixed point), and processing a record afterwards works. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "process/process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fl_process_config cfg;
    static fl_tz *tz;
    if (!tz) {
        fl_process_config_defaults(&cfg);
        if (fl_tz_load("UTC", &tz))
            abort();
    }
    fl_device_state *st = NULL;
    if (fl_device_state_create(&cfg, &st))
        abort();
    if (fl_device_state_decode(st, data, size) == 0) {
        fl_buf a = {0}, b = {0};
        fl_device_state *st2 = NULL;
        if (fl_device_state_encode(st, &a) || fl_device_state_create(&cfg, &st2) ||
            fl_device_state_decode(st2, a.data, a.len) || fl_device_state_encode(st2, &b) ||
            a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort();
        fl_record rec = {0};
        rec.device_id = FL_SLICE_LIT("truck-0001");
        rec.timestamp_us = INT64_C(1795568523456000);
        rec.temperature = 21.5;
        rec.present = FL_REC_TEMPERATURE;
        fl_processed out;
        fl_process_record(&cfg, tz, st2, &rec, rec.timestamp_us, &out);
        if (!(out.anomaly_score >= 0 && out.anomaly_score <= 1))
            abort();
        fl_device_state_destroy(st2);
        fl_buf_free(&a);
        fl_buf_free(&b);
    }
    fl_device_state_destroy(st);
    return 0;
}
