/* encode_dict.c — the writer's per-column-chunk dictionary: an open-addressing hash table of
 * distinct values in first-seen order, used for RLE_DICTIONARY pages. The dictionary stops
 * growing once its PLAIN page would pass bytes_max (pq_dict_index returns FL_EFULL), which is
 * where the chunk falls back to a non-dictionary encoding. BYTE_ARRAY entries are slices into
 * the row group's buffered bytes, so they are valid until the row group is flushed. Doubles
 * are keyed by their bits: -0.0 and +0.0 stay distinct values, as the data must round-trip. */
#include "parquet/parquet_int.h"

void pq_dict_init(pq_dict *d, int physical, size_t bytes_max)
{
    memset(d, 0, sizeof *d);
    d->physical = physical;
    d->bytes_max = bytes_max;
}

void pq_dict_free(pq_dict *d)
{
    fl_free(d->slots);
    fl_buf_free(&d->values);
    memset(d, 0, sizeof *d);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_value(int physical, const void *v)
{
    switch (physical) {
    case FL_PQ_INT32: {
        int32_t x;
        memcpy(&x, v, 4);
        return mix64((uint64_t)(uint32_t)x);
    }
    case FL_PQ_BYTE_ARRAY: {
        const fl_slice *s = v;
        return fl_hash64(s->ptr, s->len);
    }
    default: {
        uint64_t x;
        memcpy(&x, v, 8);
        return mix64(x);
    }
    }
}

/* Fixed-size compares (loads the compiler inlines), not a memcmp call of a run-time width:
 * this runs once per probe of every value of every dictionary-encoded chunk. */
static int same_value(int physical, const void *a, const void *b)
{
    switch (physical) {
    case FL_PQ_BYTE_ARRAY: {
        const fl_slice *x = a, *y = b;
        return x->len == y->len && (x->len == 0 || memcmp(x->ptr, y->ptr, x->len) == 0);
    }
    case FL_PQ_INT32: {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    }
    case FL_PQ_BOOLEAN:
        return *(const uint8_t *)a == *(const uint8_t *)b;
    default: {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    }
}

static int grow(pq_dict *d)
{
    size_t n = d->slot_count ? d->slot_count * 2 : 1024;
    uint32_t *slots = fl_calloc(n, sizeof *slots);
    if (!slots)
        return FL_ENOMEM;
    size_t width = pq_physical_width(d->physical);
    for (size_t i = 0; i < d->count; i++) {
        const void *v = d->values.data + i * width;
        size_t h = (size_t)hash_value(d->physical, v) & (n - 1);
        while (slots[h])
            h = (h + 1) & (n - 1);
        slots[h] = (uint32_t)i + 1;
    }
    fl_free(d->slots);
    d->slots = slots;
    d->slot_count = n;
    return 0;
}

int pq_dict_index(pq_dict *d, const void *value, uint32_t *index)
{
    size_t width = pq_physical_width(d->physical);
    if (d->count * 2 >= d->slot_count) {
        int rc = grow(d);
        if (rc)
            return rc;
    }
    size_t mask = d->slot_count - 1;
    size_t h = (size_t)hash_value(d->physical, value) & mask;
    for (; d->slots[h]; h = (h + 1) & mask) {
        uint32_t i = d->slots[h] - 1;
        if (same_value(d->physical, d->values.data + (size_t)i * width, value)) {
            *index = i;
            return 0;
        }
    }
    size_t add = d->physical == FL_PQ_BYTE_ARRAY ? 4 + ((const fl_slice *)value)->len : width;
    if (d->plain_bytes + add > d->bytes_max || d->count >= INT32_MAX)
        return FL_EFULL;
    int rc = fl_buf_append(&d->values, value, width);
    if (rc)
        return rc;
    d->slots[h] = (uint32_t)d->count + 1;
    *index = (uint32_t)d->count++;
    d->plain_bytes += add;
    return 0;
}
