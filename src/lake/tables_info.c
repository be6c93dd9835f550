/* tables_info.c — the public description of the lake's tables (name, key prefix, columns,
 * partitioning), derived from the private table specs the writers use, so the catalog, the DDL
 * export and the SQL layer can never disagree with what is actually written. */
#include <pthread.h>
#include <string.h>

#include "lake/lake_int.h"

static const fl_lake_table_info tables[] = {
    {FL_LAKE_RAW_TABLE, FL_LAKE_RAW_PREFIX, NULL, 0, "timestamp", 1},
    {FL_LAKE_PROCESSED_TABLE, NULL, NULL, 0, "timestamp", 1},
    {FL_LAKE_REJECTED_TABLE, FL_LAKE_REJECTED_PREFIX, NULL, 0, "received_at", 1},
    {FL_LAKE_SUMMARY_TABLE, FL_LAKE_SUMMARY_PREFIX, NULL, 0, "hour", 0},
};

static const lake_table_spec *spec_for(size_t i)
{
    static const lake_table_spec *const specs[] = {&lake_raw_table, &lake_processed_table,
                                                   &lake_rejected_table, &lake_summary_table};
    return specs[i];
}

size_t fl_lake_table_count(void)
{
    return sizeof tables / sizeof tables[0];
}

static fl_lake_table_info filled[sizeof tables / sizeof tables[0]];
static pthread_once_t filled_once = PTHREAD_ONCE_INIT;

static void fill(void)
{
    for (size_t k = 0; k < fl_lake_table_count(); k++) {
        const lake_table_spec *sp = spec_for(k);
        filled[k] = tables[k];
        filled[k].prefix = sp->prefix;
        filled[k].columns = sp->columns;
        filled[k].column_count = sp->column_count;
    }
}

const fl_lake_table_info *fl_lake_table_at(size_t i)
{
    if (i >= fl_lake_table_count())
        return NULL;
    pthread_once(&filled_once, fill);
    return &filled[i];
}

const fl_lake_table_info *fl_lake_table_find(const char *name)
{
    for (size_t i = 0; i < fl_lake_table_count(); i++)
        if (strcmp(tables[i].name, name) == 0)
            return fl_lake_table_at(i);
    return NULL;
}
