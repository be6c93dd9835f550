/* auth.c — authentication and authorization of each request (before its body is read), and
 * the administrative routes for keys: GET/POST /v1/keys, POST /v1/keys/{id}/revoke,
 * GET /v1/whoami, GET /v1/config.
 *
 * Order: the route is known (server.c) -> the policy entry for (method, route) -> public
 * routes pass -> with security.auth = off everything passes with full access -> the key is
 * authenticated (401 when missing, malformed, unknown, revoked or expired) -> its role must be
 * in the entry (403) -> req->access holds what the key may see (fleets, devices, class). */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "gateway/gateway_int.h"

int fl_gateway_auth_init(fl_gateway *gw)
{
    gw->m.auth_failures = fl_metrics_counter(
        gw->deps.metrics, "fleetlake_auth_failures_total",
        "Requests refused by authentication (401, by reason) or authorization (403, "
        "reason=\"forbidden\").",
        "reason", NULL);
    return gw->m.auth_failures ? 0 : FL_ENOMEM;
}

int fl_gateway_auth_enabled(const fl_gateway *gw)
{
    return strcmp(gw->deps.cfg->security_auth, "on") == 0;
}

static const char *auth_reason(fl_auth_result r)
{
    static const char *const names[] = {"ok", "missing", "malformed", "unknown", "revoked",
                                        "expired"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

int fl_gateway_authorize(fl_gateway *gw, fl_request *req, const char *method)
{
    fl_access_full(&req->access, gw->deps.cfg);
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    int found, public_route;
    unsigned roles = fl_policy_roles(m, req->route->name, &found, &public_route);
    if (!found) { /* a route without a policy entry is closed, even with auth off */
        fl_counter_add(fl_counter_series(gw->m.auth_failures, "no_policy", NULL), 1);
        fl_respond_error(req, 403, "forbidden", "%s %s has no access policy", m, req->route->name);
        return 1;
    }
    if (public_route)
        return 0;
    if (strcmp(req->route->name, "/metrics") == 0 &&
        strcmp(gw->deps.cfg->security_metrics_public, "on") == 0)
        return 0;
    if (!fl_gateway_auth_enabled(gw))
        return 0;
    if (!gw->deps.keystore) {
        fl_respond_error_retry(req, 503, 5, "unavailable", "the key store is not open");
        return 1;
    }
    const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    fl_key_info key;
    fl_auth_result result;
    int rc = fl_keystore_authenticate(gw->deps.keystore, h, fl_time_now_us(), &key, &result);
    if (rc) {
        fl_respond_error_retry(req, 503, 1, "unavailable", "the key store cannot be read");
        return 1;
    }
    if (result != FL_AUTH_OK) {
        fl_counter_add(fl_counter_series(gw->m.auth_failures, auth_reason(result), NULL), 1);
        req->www_authenticate = 1;
        fl_respond_error(req, 401, "unauthorized", "%s", fl_auth_result_message(result));
        return 1;
    }
    snprintf(req->key_id, sizeof req->key_id, "%s", key.id);
    snprintf(req->role, sizeof req->role, "%s", fl_role_name(key.role));
    if (!(roles & FL_ROLE_BIT(key.role))) {
        fl_counter_add(fl_counter_series(gw->m.auth_failures, "forbidden", NULL), 1);
        fl_respond_error(req, 403, "forbidden", "role %s may not call %s %s",
                         fl_role_name(key.role), m, req->route->name);
        return 1;
    }
    if (fl_access_from_key(&req->access, &key, gw->deps.cfg)) {
        fl_respond_error(req, 403, "forbidden",
                         "key %s names a fleet that is not configured ([fleet.NAME])", key.id);
        return 1;
    }
    return 0;
}

/* ---- key administration ------------------------------------------------------------------ */

static json_t *key_json(const fl_key_info *k)
{
    char created[40], expires[40], revoked[40];
    fl_time_format_rfc3339(k->created_at, created);
    if (k->expires_at >= 0)
        fl_time_format_rfc3339(k->expires_at, expires);
    if (k->revoked_at >= 0)
        fl_time_format_rfc3339(k->revoked_at, revoked);
    json_t *fleets = json_array(), *devices = json_array();
    const char *lists[2] = {k->fleets, k->devices};
    json_t *arrays[2] = {fleets, devices};
    for (int l = 0; l < 2; l++)
        for (const char *p = lists[l]; *p;) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            json_array_append_new(arrays[l], json_stringn(p, n));
            if (!c)
                break;
            p = c + 1;
        }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s?, s:s?}", "id", k->id, "name",
                     k->name, "role", fl_role_name(k->role), "fleets", fleets, "devices", devices,
                     "max_class", fl_class_name(k->max_class), "created_at", created,
                     "expires_at", k->expires_at >= 0 ? expires : NULL, "revoked_at",
                     k->revoked_at >= 0 ? revoked : NULL);
}

static void respond_json_value(fl_request *req, int status, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    fl_buf b = {0};
    if (!text || fl_buf_append_cstr(&b, text) || fl_buf_append_cstr(&b, "\n")) {
        free(text);
        fl_buf_free(&b);
        fl_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    free(text);
    fl_respond_json(req, status, &b);
}

void fl_handle_keys_list(fl_gateway *gw, fl_request *req)
{
    fl_key_info *keys = NULL;
    size_t n = 0;
    if (!gw->deps.keystore || fl_keystore_list(gw->deps.keystore, &keys, &n)) {
        fl_respond_error_retry(req, 503, 1, "unavailable", "the key store cannot be read");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, key_json(&keys[i]));
    fl_free(keys);
    respond_json_value(req, 200, json_pack("{s:o}", "keys", arr));
}

/* Join a JSON array of strings into a comma-separated list; -1 when it is not one. */
static int join_list(json_t *arr, char *out, size_t cap)
{
    out[0] = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return -1;
    size_t i, len = 0;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return -1;
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (len + n + 2 > cap)
            return -1;
        if (len)
            out[len++] = ',';
        memcpy(out + len, s, n + 1);
        len += n;
    }
    return 0;
}

int fl_key_spec_check(const fl_config *cfg, const fl_key_info *spec, char *err, size_t errlen)
{
    for (const char *p = spec->fleets; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        if (!fl_fleet_exists(cfg, name)) {
            snprintf(err, errlen, "fleet '%.64s' is not configured (add a [fleet.%.64s] section)",
                     name, name);
            return FL_EINVAL;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

void fl_handle_keys_create(fl_gateway *gw, fl_request *req)
{
    json_error_t jerr;
    json_t *body = json_loadb((const char *)req->body.data, req->body.len, 0, &jerr);
    if (!body || !json_is_object(body)) {
        json_decref(body);
        fl_respond_error(req, 400, "bad_json", "expected a JSON object: %s", jerr.text);
        return;
    }
    fl_key_info spec = {0};
    spec.expires_at = -1;
    const char *role = json_string_value(json_object_get(body, "role"));
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *cls = json_string_value(json_object_get(body, "max_class"));
    const char *expires = json_string_value(json_object_get(body, "expires_at"));
    char err[256] = "";
    if (!role || fl_role_parse(role, &spec.role))
        snprintf(err, sizeof err, "role must be one of device, developer, data_engineer, "
                                  "data_analyst, operator, admin");
    else if (cls && fl_class_parse(cls, &spec.max_class))
        snprintf(err, sizeof err, "max_class must be public, internal or confidential");
    else if (join_list(json_object_get(body, "fleets"), spec.fleets, sizeof spec.fleets) ||
             join_list(json_object_get(body, "devices"), spec.devices, sizeof spec.devices))
        snprintf(err, sizeof err, "fleets and devices must be arrays of names");
    else if (expires && fl_time_parse_rfc3339(expires, strlen(expires), &spec.expires_at))
        snprintf(err, sizeof err, "expires_at must be an RFC 3339 time");
    else if (name && strlen(name) >= sizeof spec.name)
        snprintf(err, sizeof err, "name is longer than %zu bytes", sizeof spec.name - 1);
    if (!err[0]) {
        if (!cls)
            spec.max_class = fl_role_default_class(spec.role);
        snprintf(spec.name, sizeof spec.name, "%s", name ? name : "");
        (void)fl_key_spec_check(gw->deps.cfg, &spec, err, sizeof err);
    }
    json_decref(body);
    if (err[0]) {
        fl_respond_error(req, 400, "invalid_key_spec", "%s", err);
        return;
    }
    char token[FL_KEY_TOKEN_MAX];
    fl_key_info info;
    int rc = fl_keystore_create(gw->deps.keystore, &spec, token, &info);
    if (rc == FL_EINVAL) {
        fl_respond_error(req, 400, "invalid_key_spec",
                         "fleets and devices are comma-free names of [A-Za-z0-9._:-], each at "
                         "most 128 bytes");
        return;
    }
    if (rc == FL_ELIMIT) {
        fl_respond_error(req, 409, "too_many_keys", "security.max_keys (%lld) keys exist",
                         (long long)gw->deps.cfg->security_max_keys);
        return;
    }
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot store the key: %s", fl_strerror(rc));
        fl_respond_error_retry(req, 503, 1, "unavailable", msg);
        return;
    }
    char detail[2400];
    snprintf(detail, sizeof detail, "role=%s max_class=%s fleets=%s devices=%s",
             fl_role_name(info.role), fl_class_name(info.max_class), info.fleets, info.devices);
    fl_gateway_audit_admin(gw, req, "keys.create", info.id, detail);
    json_t *out = key_json(&info);
    json_object_set_new(out, "key", json_string(token));
    OPENSSL_cleanse(token, sizeof token);
    respond_json_value(req, 201, out);
}

/* POST /v1/keys/{id}/revoke: req->url is "/v1/keys/<id>/revoke". */
void fl_handle_keys_revoke(fl_gateway *gw, fl_request *req)
{
    const char *rest = req->url + strlen("/v1/keys/");
    const char *slash = strchr(rest, '/');
    char id[64];
    if (!slash || strcmp(slash, "/revoke") != 0 || (size_t)(slash - rest) >= sizeof id) {
        fl_respond_error(req, 404, "not_found", "no route POST %s", req->url);
        return;
    }
    snprintf(id, sizeof id, "%.*s", (int)(slash - rest), rest);
    int rc = fl_keystore_revoke(gw->deps.keystore, id);
    if (rc == FL_ENOTFOUND) {
        fl_respond_error(req, 404, "not_found", "no key with id '%s'", id);
        return;
    }
    if (rc) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot revoke: %s", fl_strerror(rc));
        fl_respond_error_retry(req, 503, 1, "unavailable", msg);
        return;
    }
    fl_gateway_audit_admin(gw, req, "keys.revoke", id, NULL);
    respond_json_value(req, 200, json_pack("{s:s, s:b}", "id", id, "revoked", 1));
}

void fl_handle_whoami(fl_gateway *gw, fl_request *req)
{
    const fl_access *a = &req->access;
    json_t *fleets = json_array();
    for (int64_t i = 0; i < gw->deps.cfg->fleet_count && i < 64; i++)
        if (a->fleet_mask & (UINT64_C(1) << i))
            json_array_append_new(fleets, json_string(gw->deps.cfg->fleets[i].name));
    json_t *policy = json_array();
    unsigned bit = req->key_id[0] ? FL_ROLE_BIT(a->role) : FL_ROLES_ALL;
    for (size_t i = 0; i < fl_policy_table_len; i++)
        if (fl_policy_table[i].roles & bit)
            json_array_append_new(policy, json_pack("{s:s,s:s}", "method",
                                                    fl_policy_table[i].method, "route",
                                                    fl_policy_table[i].route));
    respond_json_value(
        req, 200,
        json_pack("{s:b, s:s?, s:s?, s:o, s:s, s:o}", "auth", fl_gateway_auth_enabled(gw),
                  "key_id", req->key_id[0] ? req->key_id : NULL, "role",
                  req->key_id[0] ? req->role : NULL, "fleets", fleets, "max_class",
                  fl_class_name(a->max_class), "routes", policy));
}

void fl_handle_config(fl_gateway *gw, fl_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fl_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    fl_config_dump(gw->deps.cfg, f);
    fclose(f);
    json_t *obj = json_object();
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *eq = strstr(line, " = ");
        if (eq) {
            *eq = 0;
            json_object_set_new(obj, line, json_string(eq + 3));
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    respond_json_value(req, 200, json_pack("{s:o}", "config", obj));
}

void fl_gateway_write_policy(FILE *out)
{
    for (size_t i = 0; i < fl_gateway_route_count; i++) {
        const fl_route *r = &fl_gateway_routes[i];
        int found, pub;
        unsigned roles = fl_policy_roles(r->method, r->name, &found, &pub);
        fprintf(out, "{\"method\":\"%s\",\"route\":\"%s\",\"public\":%s,\"roles\":", r->method,
                r->name, pub ? "true" : "false");
        if (!found) {
            fprintf(out, "null}\n");
            continue;
        }
        fprintf(out, "[");
        for (unsigned k = 0, n = 0; k < FL_ROLE_COUNT; k++)
            if (roles & FL_ROLE_BIT(k))
                fprintf(out, "%s\"%s\"", n++ ? "," : "", fl_role_name((fl_role)k));
        fprintf(out, "]}\n");
    }
}
