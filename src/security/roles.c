/* roles.c — role and classification names, each role's default classification, and the
 * classification of every table and column (the reference's §11.1 data classes).
 *
 * Location is personal data (where a driver was, when): latitude/longitude are confidential
 * everywhere, as are the free-form `extra` JSON and dead letters (whatever a client sent).
 * Sensor readings and device ids are internal; fleet-wide hourly aggregates without the
 * device are public. */
#include <string.h>

#include "security/security.h"

static const char *const role_names[FL_ROLE_COUNT] = {
    "device", "developer", "data_engineer", "data_analyst", "operator", "admin"};

const char *fl_role_name(fl_role r)
{
    return (unsigned)r < FL_ROLE_COUNT ? role_names[r] : "?";
}

int fl_role_parse(const char *name, fl_role *out)
{
    for (unsigned i = 0; i < FL_ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0) {
            *out = (fl_role)i;
            return 0;
        }
    return FL_EINVAL;
}

static const char *const class_names[] = {"public", "internal", "confidential"};

const char *fl_class_name(fl_class c)
{
    return (unsigned)c <= FL_CLASS_CONFIDENTIAL ? class_names[c] : "?";
}

int fl_class_parse(const char *name, fl_class *out)
{
    for (unsigned i = 0; i <= FL_CLASS_CONFIDENTIAL; i++)
        if (strcmp(name, class_names[i]) == 0) {
            *out = (fl_class)i;
            return 0;
        }
    return FL_EINVAL;
}

fl_class fl_role_default_class(fl_role r)
{
    switch (r) {
    case FL_ROLE_DATA_ENGINEER:
        return FL_CLASS_CONFIDENTIAL; /* all data */
    case FL_ROLE_DEVELOPER:
    case FL_ROLE_DATA_ANALYST:
        return FL_CLASS_INTERNAL; /* non-confidential tables and columns */
    default:
        return FL_CLASS_PUBLIC; /* device, operator, admin read no data rows */
    }
}

/* Tables: the class needed to read the table at all. */
static const struct {
    const char *table;
    fl_class cls;
} table_classes[] = {
    {"raw_sensor_data", FL_CLASS_INTERNAL},
    {"processed_sensor_data", FL_CLASS_INTERNAL},
    {"hourly_summary", FL_CLASS_INTERNAL},
    {"device_state", FL_CLASS_INTERNAL},
    {"alerts", FL_CLASS_INTERNAL},
    {"lake_files", FL_CLASS_INTERNAL},
    {"rejected_records", FL_CLASS_CONFIDENTIAL},
};

/* Columns above their table's class (table NULL: any table). */
static const struct {
    const char *table;
    const char *column;
    fl_class cls;
} column_classes[] = {
    {NULL, "latitude", FL_CLASS_CONFIDENTIAL},
    {NULL, "longitude", FL_CLASS_CONFIDENTIAL},
    {NULL, "extra", FL_CLASS_CONFIDENTIAL},
    {"device_state", "state", FL_CLASS_CONFIDENTIAL}, /* detector state incl. last position */
};

fl_class fl_table_class(const char *table)
{
    for (size_t i = 0; i < sizeof table_classes / sizeof table_classes[0]; i++)
        if (strcmp(table, table_classes[i].table) == 0)
            return table_classes[i].cls;
    return FL_CLASS_CONFIDENTIAL;
}

fl_class fl_column_class(const char *table, const char *column)
{
    fl_class c = fl_table_class(table);
    if (!column)
        return c;
    for (size_t i = 0; i < sizeof column_classes / sizeof column_classes[0]; i++)
        if ((!column_classes[i].table || strcmp(table, column_classes[i].table) == 0) &&
            strcmp(column, column_classes[i].column) == 0 && column_classes[i].cls > c)
            c = column_classes[i].cls;
    return c;
}
