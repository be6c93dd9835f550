/* audit.c — the gateway's side of the audit trail: when MHD reports a request complete
 * (server.c on_completed), one entry with the caller's key id and role (filled by
 * authentication), the route as action, the path as resource, the status, body bytes in and
 * out, the W3C trace id (the one in the traceparent response header) and the client's address
 * goes to the audit log (src/audit). A failed append is counted and logged by the log itself; the response was
 * already sent, so it cannot change the request's outcome. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gateway_int.h"

/* The numeric client address of conn ("" when MHD cannot tell). */
static void client_address(struct MHD_Connection *conn, char *out, size_t n)
{
    out[0] = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

void fl_gateway_audit_request(fl_gateway *gw, fl_request *req)
{
    if (!gw->deps.audit)
        return;
    char client[INET6_ADDRSTRLEN], action[96];
    client_address(req->conn, client, sizeof client);
    /* Method and route name: bounded ("POST /v1/records", "GET /v1/devices/{id}", "GET
     * unknown"), so actions group well; the raw path is the resource. */
    snprintf(action, sizeof action, "%s %s", req->method, req->route_name);
    fl_audit_event ev = {.type = "api",
                         .key_id = req->key_id,
                         .role = req->role,
                         .action = action,
                         .resource = req->path,
                         .status = req->responded ? req->status : 0,
                         .bytes_in = (int64_t)req->bytes_in,
                         .bytes_out = (int64_t)req->bytes_out,
                         .trace_id = req->trace_id_hex,
                         .client = client};
    int rc = fl_audit_append(gw->deps.audit, &ev); /* counted and logged by the log */
    (void)rc;
}

void fl_gateway_audit_admin(fl_gateway *gw, fl_request *req, const char *action,
                            const char *resource, const char *detail)
{
    if (!gw->deps.audit)
        return;
    fl_audit_event ev = {.type = "admin",
                         .key_id = req->key_id,
                         .role = req->role,
                         .action = action,
                         .resource = resource,
                         .result = "ok",
                         .trace_id = req->trace_id_hex,
                         .client = "",
                         .detail = detail};
    if (fl_audit_append(gw->deps.audit, &ev))
        FL_ERROR("gateway", "audit trail: cannot record %s %s", action, resource);
}
