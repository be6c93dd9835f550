/* routes.c — the one route table: every method and path the server answers. Later issues
 * (security) derive their policy test from this table, so every route lives here. */
#include <string.h>

#include "gateway/gateway_int.h"

const fl_route fl_gateway_routes[] = {
    {"POST", "/v1/records", "/v1/records", fl_handle_records, 1, 0},
    {"GET", "/v1/stream", "/v1/stream", fl_handle_stream, 0, 0},
    {"GET", "/v1/devices", "/v1/devices", fl_handle_devices, 0, 0},
    {"GET", "/v1/devices/", "/v1/devices/{id}", fl_handle_device, 0, 1},
    {"GET", "/v1/tables", "/v1/tables", fl_handle_tables, 0, 0},
    {"GET", "/v1/tables/", "/v1/tables/{name}", fl_handle_table, 0, 1},
    {"POST", "/v1/query", "/v1/query", fl_handle_query, 1, 0},
    {"GET", "/metrics", "/metrics", fl_handle_metrics, 0, 0},
    {"GET", "/healthz", "/healthz", fl_handle_healthz, 0, 0},
    {"GET", "/readyz", "/readyz", fl_handle_readyz, 0, 0},
    {"GET", "/v1/whoami", "/v1/whoami", fl_handle_whoami, 0, 0},
    {"GET", "/v1/keys", "/v1/keys", fl_handle_keys_list, 0, 0},
    {"POST", "/v1/keys", "/v1/keys", fl_handle_keys_create, 1, 0},
    {"POST", "/v1/keys/", "/v1/keys/{id}/revoke", fl_handle_keys_revoke, 0, 1},
    {"GET", "/v1/config", "/v1/config", fl_handle_config, 0, 0},
    {"GET", "/v1/alerts", "/v1/alerts", fl_handle_alerts, 0, 0},
    {"POST", "/v1/alerts/", "/v1/alerts/{id}/{ack|resolve}", fl_handle_alert_action, 0, 1},
    {"GET", "/v1/events", "/v1/events", fl_handle_events, 0, 0},
    {"GET", "/v1/rules", "/v1/rules", fl_handle_rules, 0, 0},
    {"POST", "/v1/rules", "/v1/rules", fl_handle_rule_create, 1, 0},
    {"GET", "/v1/rules/", "/v1/rules/{name}", fl_handle_rule, 0, 1},
    {"PUT", "/v1/rules/", "/v1/rules/{name}", fl_handle_rule, 1, 1},
    {"DELETE", "/v1/rules/", "/v1/rules/{name}", fl_handle_rule, 0, 1},
    {"GET", "/", "/", fl_handle_dashboard_index, 0, 0},
    {"GET", "/ui/", "/ui/{file}", fl_handle_dashboard_file, 0, 1},
};
const size_t fl_gateway_route_count = sizeof fl_gateway_routes / sizeof fl_gateway_routes[0];

const fl_route *fl_gateway_route_find(const char *method, const char *path, int *path_known)
{
    return fl_gateway_route_find_named(method, path, path_known, NULL);
}

const fl_route *fl_gateway_route_find_named(const char *method, const char *path,
                                            int *path_known, const char **known_name)
{
    *path_known = 0;
    for (size_t i = 0; i < fl_gateway_route_count; i++) {
        const fl_route *r = &fl_gateway_routes[i];
        size_t n = strlen(r->path);
        if (r->prefix ? strncmp(r->path, path, n) != 0 || path[n] == 0 : strcmp(r->path, path) != 0)
            continue;
        *path_known = 1;
        if (known_name)
            *known_name = r->name; /* a prefix route's pattern, not the raw path (metrics) */
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
    }
    return NULL;
}
