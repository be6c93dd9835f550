/* rules.c — the alert-rule routes: GET /v1/rules (every rule), POST /v1/rules (create),
 * GET/PUT/DELETE /v1/rules/{name}. The alert engine validates, stores and applies the change
 * (src/notify/engine_rules.c); here the HTTP answers and the audit entries. A change is
 * audited as an admin entry (rules.create, rules.replace, rules.delete) with the definition. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_int.h"

#define PREFIX "/v1/rules/"

void fl_handle_rules(fl_gateway *gw, fl_request *req)
{
    if (fl_gateway_alerts_unavailable(gw, req))
        return;
    fl_buf b = {0};
    if (fl_alert_engine_rules_json(gw->deps.alerts, &b)) {
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    fl_respond_json(req, 200, &b);
}

/* Answer a failed change: the engine's code as an HTTP status, its message as the text. */
static void respond_change_error(fl_request *req, int rc, const char *err)
{
    if (rc == FL_EPARSE)
        fl_respond_error(req, 400, "bad_json", "%s", err);
    else if (rc == FL_EINVAL)
        fl_respond_error(req, 400, "invalid_rule", "%s", err);
    else if (rc == -EACCES)
        fl_respond_error(req, 403, "forbidden", "%s", err);
    else if (rc == FL_ENOTFOUND)
        fl_respond_error(req, 404, "not_found", "%s", err);
    else if (rc == FL_EEXISTS)
        fl_respond_error(req, 409, "conflict", "%s", err);
    else if (rc == FL_ELIMIT)
        fl_respond_error(req, 409, "too_many_rules", "%s", err);
    else
        fl_respond_error_retry(req, 503, 1, "unavailable", err[0] ? err : fl_strerror(rc));
}

/* Create or replace rule name from the request body; 201 with Location when it was created. */
static void put_rule(fl_gateway *gw, fl_request *req, const char *name, int create_only)
{
    fl_rule_caller who = {.key_id = req->key_id, .access = &req->access};
    fl_buf b = {0};
    char err[320] = "";
    int created = 0;
    int rc =
        fl_alert_engine_rule_put(gw->deps.alerts, name, (const char *)req->body.data, req->body.len,
                                 create_only, &who, &created, &b, err, sizeof err);
    if (rc) {
        fl_buf_free(&b);
        respond_change_error(req, rc, err);
        return;
    }
    fl_gateway_audit_admin(gw, req, created ? "rules.create" : "rules.replace", name, b.data);
    if (!created) {
        fl_respond_json(req, 200, &b);
        return;
    }
    char location[128];
    snprintf(location, sizeof location, PREFIX "%s", name);
    const char *const headers[][2] = {{"Location", location}};
    fl_respond_with_headers(req, 201, "application/json", &b, headers, 1);
}

/* POST /v1/rules: the body names the rule. */
void fl_handle_rule_create(fl_gateway *gw, fl_request *req)
{
    if (fl_gateway_alerts_unavailable(gw, req))
        return;
    json_error_t jerr;
    json_t *body = json_loadb((const char *)req->body.data, req->body.len, 0, &jerr);
    const char *name = json_string_value(json_object_get(body, "name"));
    char copy[128];
    if (!body || !json_is_object(body))
        fl_respond_error(req, 400, "bad_json", "expected a JSON object: %s",
                         body ? "not an object" : jerr.text);
    else if (!name || !name[0] || strlen(name) >= sizeof copy)
        fl_respond_error(req, 400, "invalid_rule", "\"name\" is required: 1-63 of [A-Za-z0-9_-]");
    else {
        snprintf(copy, sizeof copy, "%s", name);
        json_decref(body);
        put_rule(gw, req, copy, 1);
        return;
    }
    json_decref(body);
}

/* GET, PUT, DELETE /v1/rules/{name} */
void fl_handle_rule(fl_gateway *gw, fl_request *req)
{
    if (fl_gateway_alerts_unavailable(gw, req))
        return;
    const char *name = req->url + strlen(PREFIX);
    if (strchr(name, '/')) {
        fl_respond_error(req, 404, "not_found", "no route %s %s", req->method, req->url);
        return;
    }
    if (strcmp(req->method, "PUT") == 0) {
        put_rule(gw, req, name, 0);
        return;
    }
    fl_buf b = {0};
    char err[320] = "";
    if (strcmp(req->method, "DELETE") == 0) {
        fl_rule_caller who = {.key_id = req->key_id, .access = &req->access};
        size_t resolved = 0;
        int rc =
            fl_alert_engine_rule_delete(gw->deps.alerts, name, &who, &resolved, err, sizeof err);
        if (!rc)
            rc =
                fl_buf_printf(&b, "{\"deleted\":\"%s\",\"resolved_alerts\":%zu}\n", name, resolved);
        if (rc) {
            fl_buf_free(&b);
            respond_change_error(req, rc, err);
            return;
        }
        snprintf(err, sizeof err, "%zu open alert(s) resolved", resolved);
        fl_gateway_audit_admin(gw, req, "rules.delete", name, err);
        fl_respond_json(req, 200, &b);
        return;
    }
    int rc = fl_alert_engine_rule_json(gw->deps.alerts, name, &b);
    if (rc) {
        fl_buf_free(&b);
        snprintf(err, sizeof err, "no rule %.200s", name);
        respond_change_error(req, rc, err);
        return;
    }
    fl_respond_json(req, 200, &b);
}
