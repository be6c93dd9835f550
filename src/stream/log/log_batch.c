/* log_batch.c — the embedded log's batch codec: encode records and batch headers on the
 * append path, and decode and verify them on the recovery and read paths. Everything read
 * here is untrusted bytes from disk (a fuzzer feeds it), so every length is bounded before
 * it is used and a CRC is checked before any record is decoded. Pure functions, no I/O. */
#include "stream/stream_int.h"

void fl_log_record_encode(unsigned char *out, int64_t arrival_us, uint8_t kind, fl_slice key,
                          fl_slice payload)
{
    fl_put_u64(out, (uint64_t)arrival_us);
    out[8] = kind;
    fl_put_u16(out + 9, (uint16_t)key.len);
    if (key.len)
        memcpy(out + 11, key.ptr, key.len);
    fl_put_u32(out + 11 + key.len, (uint32_t)payload.len);
    if (payload.len)
        memcpy(out + 15 + key.len, payload.ptr, payload.len);
}

void fl_log_batch_header_encode(unsigned char *out, fl_log_batch_header *h,
                                const unsigned char *payload)
{
    fl_put_u32(out, FL_LOG_BATCH_MAGIC);
    fl_put_u16(out + 4, FL_LOG_BATCH_HEADER_BYTES);
    out[6] = FL_LOG_BATCH_VERSION;
    out[7] = 0;
    fl_put_u32(out + 8, h->payload_bytes);
    fl_put_u32(out + 12, h->record_count);
    fl_put_u64(out + 16, h->first_seq);
    fl_put_u64(out + 24, (uint64_t)h->min_arrival_us);
    fl_put_u64(out + 32, (uint64_t)h->max_arrival_us);
    fl_put_u32(out + 40, 0);
    uint32_t crc = fl_crc32c(0, out, FL_LOG_BATCH_CRC_OFFSET);
    h->crc = fl_crc32c(crc, payload, h->payload_bytes);
    fl_put_u32(out + FL_LOG_BATCH_CRC_OFFSET, h->crc);
}

int fl_log_batch_header_decode(const unsigned char *p, fl_log_batch_header *h)
{
    if (fl_get_u32(p) != FL_LOG_BATCH_MAGIC || fl_get_u16(p + 4) != FL_LOG_BATCH_HEADER_BYTES ||
        p[6] != FL_LOG_BATCH_VERSION || p[7] != 0 || fl_get_u32(p + 40) != 0)
        return FL_ECORRUPT;
    h->payload_bytes = fl_get_u32(p + 8);
    h->record_count = fl_get_u32(p + 12);
    h->first_seq = fl_get_u64(p + 16);
    h->min_arrival_us = (int64_t)fl_get_u64(p + 24);
    h->max_arrival_us = (int64_t)fl_get_u64(p + 32);
    h->crc = fl_get_u32(p + FL_LOG_BATCH_CRC_OFFSET);
    if (h->payload_bytes > FL_LOG_BATCH_PAYLOAD_MAX || h->record_count == 0 ||
        h->record_count > h->payload_bytes / FL_LOG_RECORD_HEADER_BYTES)
        return FL_ECORRUPT;
    /* seq 0 is never used and the last seq must not wrap */
    if (h->first_seq == 0 || h->first_seq > UINT64_MAX - h->record_count)
        return FL_ECORRUPT;
    if (h->min_arrival_us > h->max_arrival_us)
        return FL_ECORRUPT;
    return 0;
}

int fl_log_record_decode(const unsigned char *payload, size_t len, size_t *pos,
                         fl_log_record_view *out)
{
    size_t p = *pos;
    if (p > len || len - p < FL_LOG_RECORD_HEADER_BYTES)
        return FL_ECORRUPT;
    out->arrival_us = (int64_t)fl_get_u64(payload + p);
    out->kind = payload[p + 8];
    size_t key_bytes = fl_get_u16(payload + p + 9);
    p += 11;
    if (len - p < key_bytes + 4)
        return FL_ECORRUPT;
    out->key = (fl_slice){(const char *)payload + p, key_bytes};
    p += key_bytes;
    size_t payload_bytes = fl_get_u32(payload + p);
    p += 4;
    if (len - p < payload_bytes)
        return FL_ECORRUPT;
    out->payload = (fl_slice){(const char *)payload + p, payload_bytes};
    *pos = p + payload_bytes;
    return 0;
}

int fl_log_batch_verify(const unsigned char *header, const fl_log_batch_header *h,
                        const unsigned char *payload)
{
    uint32_t crc = fl_crc32c(0, header, FL_LOG_BATCH_CRC_OFFSET);
    if (fl_crc32c(crc, payload, h->payload_bytes) != h->crc)
        return FL_ECORRUPT;
    /* A CRC-valid batch must still be well formed: readers then decode without surprises. */
    size_t pos = 0;
    fl_log_record_view r;
    for (uint32_t i = 0; i < h->record_count; i++) {
        if (fl_log_record_decode(payload, h->payload_bytes, &pos, &r))
            return FL_ECORRUPT;
        if (r.arrival_us < h->min_arrival_us || r.arrival_us > h->max_arrival_us)
            return FL_ECORRUPT;
    }
    return pos == h->payload_bytes ? 0 : FL_ECORRUPT;
}
