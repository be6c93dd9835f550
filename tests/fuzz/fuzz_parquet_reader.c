/* fuzz_parquet_reader.c — libFuzzer harness for the Parquet reader. The input bytes are a
 * whole file: the harness opens it with tight limits (so a claimed row count or page size
 * cannot exhaust the fuzzer's memory), reads every column of every row group, the
 * statistics, the created_by and key-value metadata. Invariants: no crash, leak or
 * sanitizer report; errors are only the documented codes; a decoded column has exactly the
 * row group's rows, NULL slots are zeroed and strings lie inside the reader's memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct mem_file {
    const uint8_t *p;
    size_t n;
} mem_file;

static int source(void *ctx, void *p, size_t n, uint64_t off)
{
    const mem_file *f = ctx;
    if (off > f->n || n > f->n - off)
        return FL_ECORRUPT;
    memcpy(p, f->p + off, n);
    return 0;
}

static int expected(int rc)
{
    return rc == 0 || rc == FL_ECORRUPT || rc == FL_EUNSUPPORTED || rc == FL_ELIMIT;
}

static void check_column(const fl_pq_column_def *def, const fl_pq_column_values *v, int64_t rows)
{
    volatile unsigned sum = 0;
    for (int64_t i = 0; i < rows; i++) {
        int valid = v->valid ? v->valid[i] : 1;
        CHECK(valid == 0 || valid == 1);
        if (def->physical == FL_PQ_BYTE_ARRAY) {
            const fl_slice *s = (const fl_slice *)v->values + i;
            if (!valid)
                CHECK(s->ptr == NULL && s->len == 0);
            for (size_t k = 0; k < s->len; k++) /* ASan faults if outside */
                sum += (unsigned char)s->ptr[k];
        } else if (def->physical == FL_PQ_BOOLEAN) {
            CHECK(((const uint8_t *)v->values)[i] <= 1);
        }
    }
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mem_file f = {data, size};
    fl_pq_reader_limits lim = {.footer_bytes_max = 1 << 20,
                               .page_bytes_max = 4 << 20,
                               .column_chunk_rows_max = 1 << 20,
                               .columns_max = 256,
                               .column_chunk_bytes_max = 64 << 20};
    fl_pq_reader *r;
    int rc = fl_pq_reader_open(source, &f, size, &lim, &r);
    CHECK(expected(rc));
    if (rc)
        return 0;
    (void)strlen(fl_pq_reader_created_by(r));
    (void)fl_pq_reader_kv(r, "fleetlake.writer");
    CHECK(fl_pq_reader_rows(r) >= 0);
    for (int g = 0; g < fl_pq_reader_row_group_count(r); g++) {
        int64_t rows = fl_pq_reader_row_group_rows(r, g);
        for (size_t c = 0; c < fl_pq_reader_column_count(r); c++) {
            const fl_pq_column_def *def = fl_pq_reader_column(r, c);
            CHECK(fl_pq_reader_column_index(r, def->name) >= 0);
            fl_pq_stats st;
            CHECK(fl_pq_reader_stats(r, g, c, &st) == 0);
            if (st.has_min_max && def->physical == FL_PQ_BYTE_ARRAY)
                CHECK(st.min.s.len < size && st.max.s.len < size);
            fl_pq_column_values v;
            rc = fl_pq_reader_read_column(r, g, c, &v);
            CHECK(expected(rc));
            if (!rc)
                check_column(def, &v, rows);
        }
    }
    fl_pq_reader_destroy(r);
    return 0;
}
