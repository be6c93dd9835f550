/* policy.c — the one policy table: which roles may call each (method, route) of the gateway's
 * route table (src/gateway/routes.c, by route name). The gateway refuses a route without an
 * entry for every role, and the role x route test fails on it, so a new route cannot ship
 * open by accident. docs/security.md prints this table. */
#include <string.h>

#include "security/security.h"

#define DEV FL_ROLE_BIT(FL_ROLE_DEVICE)
#define DVL FL_ROLE_BIT(FL_ROLE_DEVELOPER)
#define ENG FL_ROLE_BIT(FL_ROLE_DATA_ENGINEER)
#define ANA FL_ROLE_BIT(FL_ROLE_DATA_ANALYST)
#define OPS FL_ROLE_BIT(FL_ROLE_OPERATOR)
#define ADM FL_ROLE_BIT(FL_ROLE_ADMIN)

const fl_policy_entry fl_policy_table[] = {
    /* ingest: devices and the people who build and run pipelines */
    {"POST", "/v1/records", DEV | DVL | ENG, 0},
    /* stream status (heads, sizes; no records) */
    {"GET", "/v1/stream", DVL | ENG | OPS | ADM, 0},
    /* data rows: device state and readings */
    {"GET", "/v1/devices", ENG | ANA, 0},
    {"GET", "/v1/devices/{id}", ENG | ANA, 0},
    /* catalog and SQL (rows and columns further limited by the key's attributes) */
    {"GET", "/v1/tables", DVL | ENG | ANA, 0},
    {"GET", "/v1/tables/{name}", DVL | ENG | ANA, 0},
    {"POST", "/v1/query", DVL | ENG | ANA, 0},
    /* alerts: operators and the people who act on them (rows still limited by attributes) */
    {"GET", "/v1/alerts", ENG | ANA | OPS, 0},
    {"POST", "/v1/alerts/{id}/{ack|resolve}", ENG | OPS, 0},
    {"GET", "/v1/events", ENG | ANA | OPS, 0},
    {"GET", "/v1/rules", ENG | ANA | OPS, 0},
    {"GET", "/v1/rules/{name}", ENG | ANA | OPS, 0},
    /* alert rules through the API: the people who run the pipeline and act on alerts */
    {"POST", "/v1/rules", ENG | OPS, 0},
    {"PUT", "/v1/rules/{name}", ENG | OPS, 0},
    {"DELETE", "/v1/rules/{name}", ENG | OPS, 0},
    /* health */
    {"GET", "/metrics", ENG | OPS | ADM, 0},
    {"GET", "/healthz", FL_ROLES_ALL, 1},
    {"GET", "/readyz", FL_ROLES_ALL, 0},
    {"GET", "/v1/whoami", FL_ROLES_ALL, 0},
    /* the dashboard's static files (web/): no data in them; the page sends the user's key */
    {"GET", "/", FL_ROLES_ALL, 1},
    {"GET", "/ui/{file}", FL_ROLES_ALL, 1},
    /* administration */
    {"GET", "/v1/keys", ADM, 0},
    {"POST", "/v1/keys", ADM, 0},
    {"POST", "/v1/keys/{id}/revoke", ADM, 0},
    {"GET", "/v1/config", ADM, 0},
};
const size_t fl_policy_table_len = sizeof fl_policy_table / sizeof fl_policy_table[0];

unsigned fl_policy_roles(const char *method, const char *route, int *found, int *public_route)
{
    for (size_t i = 0; i < fl_policy_table_len; i++) {
        const fl_policy_entry *e = &fl_policy_table[i];
        if (strcmp(e->method, method) == 0 && strcmp(e->route, route) == 0) {
            *found = 1;
            if (public_route)
                *public_route = e->public_route;
            return e->roles;
        }
    }
    *found = 0;
    if (public_route)
        *public_route = 0;
    return 0;
}
