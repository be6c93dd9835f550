/* summary_table.c — the columns of hourly_summary (DESIGN.md §4.2), the curated table the
 * hourly_summary job (src/jobs) writes under curated-data/hourly_summary/. The job builds its
 * rows itself and writes them with the Parquet writer; this spec exists so the table is
 * described in one place (tables_info.c publishes it to the catalog, DDL export and SQL). */
#include "lake/lake_int.h"

/* The seed's columns first (device_id … data_quality_score), then the added aggregates. */
static const fl_pq_column_def summary_columns[] = {
    {"device_id", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING, 0},
    {"hour", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS, 0},
    {"record_count", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0},
    {"avg_temperature", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"min_temperature", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"max_temperature", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"temp_stddev", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"anomaly_count", FL_PQ_INT64, FL_PQ_LOGICAL_NONE, 0},
    {"data_quality_score", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 0},
    {"avg_humidity", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"min_humidity", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"max_humidity", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"avg_pressure", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"min_pressure", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
    {"max_pressure", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE, 1},
};

const lake_table_spec lake_summary_table = {
    FL_LAKE_SUMMARY_TABLE, FL_LAKE_SUMMARY_PREFIX, FL_LAKE_SUMMARY_JOB, summary_columns,
    sizeof summary_columns / sizeof summary_columns[0], NULL,
};
