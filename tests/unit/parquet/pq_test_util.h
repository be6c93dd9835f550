/* pq_test_util.h — helpers shared by the parquet unit tests: an in-memory sink and source
 * (a file is an fl_buf), a one-call writer for one batch, and the source that counts reads.
 * Header-only so each test_*.c stays one self-contained cmocka executable. */
#ifndef FL_TESTS_PQ_TEST_UTIL_H
#define FL_TESTS_PQ_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

static inline int tu_sink(void *ctx, const void *p, size_t n)
{
    return fl_buf_append(ctx, p, n);
}

typedef struct tu_file {
    const unsigned char *p;
    size_t n;
} tu_file;

static inline int tu_source(void *ctx, void *p, size_t n, uint64_t off)
{
    const tu_file *f = ctx;
    if (off > f->n || n > f->n - off)
        return FL_ECORRUPT;
    memcpy(p, f->p + off, n);
    return 0;
}

static inline int tu_open(const void *p, size_t n, const fl_pq_reader_limits *lim,
                          tu_file *f, fl_pq_reader **r)
{
    f->p = p;
    f->n = n;
    return fl_pq_reader_open(tu_source, f, n, lim, r);
}

/* Write one batch to out (a fresh fl_buf) and finish. */
static inline int tu_write(const fl_pq_column_def *cols, size_t ncols,
                           const fl_pq_writer_options *o, const fl_pq_column_values *cv,
                           size_t rows, fl_buf *out)
{
    fl_pq_writer *w;
    int rc = fl_pq_writer_create(cols, ncols, o, tu_sink, out, &w);
    if (rc)
        return rc;
    rc = fl_pq_writer_write(w, cv, rows);
    fl_pq_file_summary s;
    if (!rc)
        rc = fl_pq_writer_finish(w, &s);
    if (!rc && (s.bytes != (int64_t)out->len || s.rows != (int64_t)rows))
        rc = FL_ECORRUPT;
    fl_pq_writer_destroy(w);
    return rc;
}

static inline unsigned char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

#endif
