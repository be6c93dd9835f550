/* tables.c — the catalog routes (the Glue Data Catalog API of the reference): GET /v1/tables
 * (every table with its kind and file/row/byte counts), GET /v1/tables/{name} (columns,
 * partitions, tiers) and GET /v1/tables/{name}/ddl?dialect=... (text/plain statements that
 * register the table in Athena, Trino, Spark or DuckDB). Each request opens its own meta.db
 * connection (read-mostly and short; SQLite's WAL lets it run beside the writers) and calls
 * the catalog's registry API; the JSON encoding is the catalog's, shared with the CLI. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "gateway/gateway_int.h"

/* Partitions listed by GET /v1/tables/{name}: ~150 B each, so a response stays under ~1.5 MB
 * (over a year of hours); the summary counts cover all of them. */
#define PARTITIONS_MAX 10000

static const char *arg(fl_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

static int open_catalog(fl_gateway *gw, fl_request *req, fl_catalog **out)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/meta.db", gw->deps.cfg->data_dir);
    int rc = n < 0 || (size_t)n >= sizeof path ? FL_ELIMIT : fl_catalog_open(path, out);
    if (rc)
        fl_respond_error(req, 503, "catalog_unavailable", "cannot open the catalog: %s",
                         fl_strerror(rc));
    return rc;
}

static void respond_result(fl_request *req, int rc, fl_buf *b)
{
    if (rc) {
        fl_buf_free(b);
        fl_respond_error(req, 500, "internal", "catalog query failed: %s", fl_strerror(rc));
        return;
    }
    fl_respond_json(req, 200, b);
}

void fl_handle_tables(fl_gateway *gw, fl_request *req)
{
    fl_catalog *c = NULL;
    if (open_catalog(gw, req, &c))
        return;
    fl_buf b = {0};
    int rc = fl_catalog_tables_json(c, &b);
    fl_catalog_close(c);
    respond_result(req, rc, &b);
}

static int truthy(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

static void handle_ddl(fl_gateway *gw, fl_request *req, fl_catalog *c, const fl_catalog_table *t)
{
    const char *dialect = arg(req, "dialect");
    int d = fl_catalog_dialect_parse(dialect);
    if (d < 0) {
        fl_respond_error(req, 400, "bad_dialect",
                         "dialect must be athena, trino, spark or duckdb (got %s)",
                         dialect ? dialect : "none");
        return;
    }
    if (t->kind != FL_CATALOG_KIND_LAKE) {
        fl_respond_error(req, 400, "live_table",
                         "%s is a live table in meta.db: it has no lake location to register",
                         t->name);
        return;
    }
    char lake[PATH_MAX + 8];
    const char *location = arg(req, "location");
    if (!location) {
        char abs[PATH_MAX];
        if (!realpath(gw->deps.cfg->data_dir, abs)) {
            fl_respond_error(req, 500, "internal", "cannot resolve the data directory");
            return;
        }
        snprintf(lake, sizeof lake, "%s/lake", abs);
        location = lake;
    }
    fl_catalog_ddl_options o = {.location = location, .schema = arg(req, "schema")};
    fl_buf b = {0};
    enum fl_catalog_dialect dialect_id = (enum fl_catalog_dialect)d;
    int rc = d == FL_DIALECT_DUCKDB && truthy(arg(req, "live_files")) ? fl_catalog_ddl_live(c, t, dialect_id, &o, &b)
                    : fl_catalog_ddl(t, dialect_id, &o, &b);
    if (rc == FL_EINVAL)
        fl_respond_error(req, 400, "bad_location",
                         "location must be a URI or path without quotes, backslashes or "
                         "control characters");
    else if (rc == FL_ENOTFOUND)
        fl_respond_error(req, 409, "no_live_files", "%s has no live files to list", t->name);
    else if (rc)
        fl_respond_error(req, 500, "internal", "DDL export failed: %s", fl_strerror(rc));
    else
        fl_respond_text(req, 200, "text/plain; charset=utf-8", &b);
    if (rc)
        fl_buf_free(&b);
}

void fl_handle_table(fl_gateway *gw, fl_request *req)
{
    const char *rest = req->url + strlen("/v1/tables/");
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || len >= FL_CATALOG_NAME_MAX || (slash && strcmp(slash, "/ddl") != 0)) {
        fl_respond_error(req, 404, "not_found", "no route GET %s", req->url);
        return;
    }
    char name[FL_CATALOG_NAME_MAX];
    memcpy(name, rest, len);
    name[len] = 0;
    fl_catalog *c = NULL;
    if (open_catalog(gw, req, &c))
        return;
    fl_catalog_table *t = fl_malloc(sizeof *t);
    int rc = t ? fl_catalog_table_get(c, name, t) : FL_ENOMEM;
    if (rc == FL_ENOTFOUND) {
        fl_respond_error(req, 404, "not_found", "no table %s", name);
    } else if (rc) {
        fl_respond_error(req, 500, "internal", "catalog query failed: %s", fl_strerror(rc));
    } else if (slash) {
        handle_ddl(gw, req, c, t);
    } else {
        fl_buf b = {0};
        respond_result(req, fl_catalog_table_json(c, t, PARTITIONS_MAX, &b), &b);
    }
    fl_free(t);
    fl_catalog_close(c);
}
