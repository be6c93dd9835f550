/* encode.c — a partition buffer as one Parquet file (the default encoder of delivery): the
 * table's columns, the configured codec (GZIP by default) and key-value metadata
 * schema_version, streamed into an object-store writer. Kept apart from the consumer core so
 * the core's unit tests can substitute their own encoder. */
#include "lake/lake_int.h"

int lake_encode_parquet(void *ctx, const lake_table_spec *spec, const lake_partition_buf *p,
                        fl_objstore_writer *w)
{
    enum fl_pq_codec codec = ctx ? *(const enum fl_pq_codec *)ctx : FL_PQ_GZIP;
    size_t n = spec->column_count;
    fl_pq_column_values *cols = fl_calloc(n, sizeof *cols);
    fl_slice **slices = fl_calloc(n, sizeof *slices);
    fl_pq_writer *pw = NULL;
    int rc = FL_ENOMEM;
    if (!cols || !slices)
        goto out;
    if ((rc = lake_partition_columns(spec, p, cols, slices)))
        goto out;
    fl_pq_kv kv[] = {{"schema_version", FL_LAKE_SCHEMA_VERSION}, {"fleetlake.table", spec->table_name}};
    fl_pq_writer_options opts = {.codec = codec, .kv = kv, .kv_count = sizeof kv / sizeof kv[0]};
    fl_pq_file_summary sum;
    if ((rc = fl_pq_writer_create(spec->columns, n, &opts, fl_objstore_sink_write, w, &pw)) ||
        (rc = fl_pq_writer_write(pw, cols, p->rows)) || (rc = fl_pq_writer_finish(pw, &sum)))
        goto out;
    if (sum.rows != (int64_t)p->rows)
        rc = FL_ECORRUPT;
out:
    fl_pq_writer_destroy(pw);
    for (size_t i = 0; slices && i < n; i++)
        fl_free(slices[i]);
    fl_free(slices);
    fl_free(cols);
    return rc;
}
