/* compact_int.h — what compact.c (merging one partition) and compact_plan.c (the compactor,
 * planning, recovery, retired-file deletion, metrics) share. Private to the lake module. */
#ifndef FL_LAKE_COMPACT_INT_H
#define FL_LAKE_COMPACT_INT_H

#include "lake/lake_int.h"

#define COMPACT_SORT_MAX 4

/* A table compaction knows: its spec, the event-time column (INT64 µs, catalog min/max_ts)
 * and the sort key (column indices into spec->columns). */
typedef struct compact_table {
    const lake_table_spec *spec;
    size_t event_column;
    size_t sort_columns[COMPACT_SORT_MAX];
    size_t sort_count;
} compact_table;

struct fl_compactor {
    fl_compact_options o;
    enum fl_pq_codec codec;
    fl_catalog *cat;
    fl_lake_stores *stores; /* where retired files live (main lake or warm tier) */
    compact_table tables[2];
    size_t table_count;
    lake_compact_crash_fn crash;
    void *crash_ctx;
    int64_t deleted_through_us; /* retired files up to this retired_at are deleted */
    /* progress of the running pass */
    fl_compact_progress prog;
    int64_t pass_started_us;
    struct {
        fl_counter_family *partitions, *files_in, *files_out, *bytes_in, *bytes_out, *rows;
        fl_counter_family *failures, *deleted, *orphans;
        _Atomic int64_t last_duration_us;
    } m;
};

/* The inputs of one partition: its live files below target_bytes, ordered by path. */
typedef struct compact_inputs {
    fl_lake_file *files;
    char **paths; /* files[i].path, for the name hash */
    size_t n, cap;
    int64_t bytes, rows;
    size_t kept; /* live files at or above target, left alone */
} compact_inputs;

typedef struct compact_job {
    fl_compactor *c;
    const compact_table *t;
    fl_lake_partition part;
    compact_inputs in;
    uint64_t hash;
    lake_partition_buf buf; /* the run being filled */
    size_t buf_bytes;
    struct {
        void *values;
        uint8_t *valid;
    } *gather;                /* per column: one write batch */
    fl_pq_column_values *cols; /* per column: views of gather for the writer */
    fl_lake_file *outputs;     /* published so far */
    size_t n_outputs, cap_outputs, next_index;
    uint64_t rows_in, rows_out, bytes_out;
    int committed, crashed;
    char failed_at[FL_CATALOG_PATH_MAX];
} compact_job;

/* compact.c: compact one partition of t (steps 1-4 of the notes). */
FL_MUST_USE int compact_partition(fl_compactor *c, const compact_table *t, fl_lake_partition part,
                                  fl_compact_stats *stats);

/* compact_plan.c */
FL_MUST_USE int compact_inputs_load(fl_compactor *c, const compact_table *t, fl_lake_partition p,
                                    compact_inputs *in);
int compact_inputs_eligible(const fl_compactor *c, const compact_inputs *in);
/* 1 for a file in the hot tier (C6: compaction merges hot files only). */
int compact_file_is_hot(const fl_lake_file *f);
void compact_inputs_free(compact_inputs *in);
/* Step 1: remove compacted-* leftovers of partition p (uncatalogued objects, stale puts). */
FL_MUST_USE int compact_clean_partition(fl_compactor *c, const compact_table *t,
                                        fl_lake_partition p, fl_compact_stats *stats);
int compact_stopping(const fl_compactor *c);
int64_t compact_now(const fl_compactor *c);
void compact_progress_file(fl_compactor *c, int64_t bytes);
void compact_count_failure(fl_compactor *c, const compact_table *t, int rc, fl_lake_partition p,
                           const char *file);
void compact_count_done(fl_compactor *c, const compact_table *t, const compact_job *j,
                        fl_compact_stats *stats);

#endif
