#!/usr/bin/env python3
"""Authentication, the role x route policy matrix, key revocation, device-limited keys, and
attribute-based access (fleets, classification) through SQL and the device API — against a
real `fleetlake serve` with security.auth = on.

The matrix is generated from the server's own route table (`serve --print-policy`) and checked
against EXPECTED below, written independently: a route missing from EXPECTED, or an EXPECTED
route the server lacks, fails the test, as does a policy that differs from it."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

ROLES = ["device", "developer", "data_engineer", "data_analyst", "operator", "admin"]
ALL = set(ROLES)
EXPECTED = {
    ("POST", "/v1/records"): {"device", "developer", "data_engineer"},
    ("GET", "/v1/stream"): {"developer", "data_engineer", "operator", "admin"},
    ("GET", "/v1/devices"): {"data_engineer", "data_analyst"},
    ("GET", "/v1/devices/{id}"): {"data_engineer", "data_analyst"},
    ("GET", "/v1/tables"): {"developer", "data_engineer", "data_analyst"},
    ("GET", "/v1/tables/{name}"): {"developer", "data_engineer", "data_analyst"},
    ("POST", "/v1/query"): {"developer", "data_engineer", "data_analyst"},
    ("GET", "/metrics"): {"data_engineer", "operator", "admin"},
    ("GET", "/healthz"): ALL,
    ("GET", "/readyz"): ALL,
    ("GET", "/v1/whoami"): ALL,
    ("GET", "/v1/keys"): {"admin"},
    ("POST", "/v1/keys"): {"admin"},
    ("POST", "/v1/keys/{id}/revoke"): {"admin"},
    ("GET", "/v1/config"): {"admin"},
    ("GET", "/v1/alerts"): {"data_engineer", "data_analyst", "operator"},
    ("POST", "/v1/alerts/{id}/{ack|resolve}"): {"data_engineer", "operator"},
    ("GET", "/v1/events"): {"data_engineer", "data_analyst", "operator"},
    ("GET", "/v1/rules"): {"data_engineer", "data_analyst", "operator"},
    ("GET", "/v1/rules/{name}"): {"data_engineer", "data_analyst", "operator"},
    ("POST", "/v1/rules"): {"data_engineer", "operator"},
    ("PUT", "/v1/rules/{name}"): {"data_engineer", "operator"},
    ("DELETE", "/v1/rules/{name}"): {"data_engineer", "operator"},
    ("GET", "/"): ALL,
    ("GET", "/ui/{file}"): ALL,
}
PUBLIC = {("GET", "/healthz"), ("GET", "/"), ("GET", "/ui/{file}")}

# How to call each route: a concrete path and body.
CALLS = {
    "/v1/devices/{id}": "/v1/devices/truck-1",
    "/v1/tables/{name}": "/v1/tables/processed_sensor_data",
    "/v1/keys/{id}/revoke": "/v1/keys/0000000000000000/revoke",
    "/v1/alerts/{id}/{ack|resolve}": "/v1/alerts/999999/ack",
    "/ui/{file}": "/ui/app.js",
    "/v1/rules/{name}": "/v1/rules/matrix",
}
BODIES = {
    "/v1/records": (json.dumps(fltest.record("truck-1", "2026-11-25T01:00:00Z")),
                    "application/json"),
    "/v1/query": (json.dumps({"sql": "SELECT 1 AS one"}), "application/json"),
    "/v1/keys": (json.dumps({"role": "device", "name": "matrix"}), "application/json"),
    "/v1/rules": (json.dumps({"name": "matrix_post", "type": "offline"}), "application/json"),
    "/v1/rules/{name}": (json.dumps({"type": "offline"}), "application/json"),
}

t = fltest.Checks()
data = fltest.scratch_dir("security")
conf = os.path.join(data + "-conf.ini")
with open(conf, "w") as f:
    f.write("[fleet.seoul]\ndevices = truck-*\n[fleet.busan]\ndevices = bus-*\n"
            "[role.data_analyst]\nquery_max_rows = 1000\n"
            "[process]\nbatch_interval_s = 1\n")

# ---- the policy the server prints equals EXPECTED ------------------------------------------
p = fltest.run_cli("serve", "--print-policy")
printed = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
routes = {(r["method"], r["route"]): r for r in printed}
t.eq(set(routes), set(EXPECTED), "routes in the route table == routes the test expects")
for key, r in routes.items():
    t.check(r["roles"] is not None, f"{key} has a policy entry")
    if key in EXPECTED and r["roles"] is not None:
        t.eq(set(r["roles"]), EXPECTED[key], f"policy of {key}")
    t.eq(r["public"], key in PUBLIC, f"{key} public")

srv = fltest.Server(os.path.join(data, "d"), auth=True, extra=["--config", conf]).start()
D = srv.data
keys = {}
for role in ROLES:
    keys[role] = fltest.create_key(D, role, "--name", f"matrix {role}")


def call(method, route, key, path=None):
    path = path or CALLS.get(route, route)
    body, ctype = BODIES.get(route, (None, None)) if method in ("POST", "PUT") else (None, None)
    h = {"Content-Type": ctype} if ctype else {}
    if key:
        h["Authorization"] = "Bearer " + key
    if route == "/v1/events":  # a stream: read the status and headers only
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        try:
            c.request(method, path, headers=h)
            r = c.getresponse()
            st_, hd_ = r.status, dict((k.lower(), v) for k, v in r.getheaders())
            data_ = r.read() if st_ != 200 else b""
            return st_, hd_, data_
        finally:
            c.close()
    st, hd, data_ = srv.request(method, path, body.encode() if body else None, h)
    return st, hd, data_


# ---- the role x route matrix -------------------------------------------------------------------
for (method, route), allowed in sorted(EXPECTED.items()):
    st, hd, body = call(method, route, None)
    if (method, route) in PUBLIC:
        t.check(st not in (401, 403), f"{method} {route} without a key: {st} (public)")
    else:
        t.eq(st, 401, f"{method} {route} without a key")
        t.eq(hd.get("www-authenticate", "")[:6], "Bearer", f"{method} {route} WWW-Authenticate")
        t.eq(json.loads(body)["error"]["code"], "unauthorized", f"{method} {route} error code")
    for role in ROLES:
        st, _, body = call(method, route, keys[role][1])
        if role in allowed:
            t.check(st not in (401, 403), f"{role} may call {method} {route}: got {st} {body[:200]}")
        else:
            t.eq(st, 403, f"{role} may not call {method} {route}")
            if st == 403:
                t.eq(json.loads(body)["error"]["code"], "forbidden", f"{role} {route} code")

# ---- keep-alive survives answers without a body, refusals included ----------------------------
import http.client  # noqa: E402
conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
socks = set()
for path, hdrs, want in [("/healthz", {}, 200), ("/v1/whoami", {}, 401), ("/nope", {}, 404),
                         ("/v1/keys", {"Authorization": "Bearer " + keys["device"][1]}, 403),
                         ("/v1/whoami", {"Authorization": "Bearer " + keys["admin"][1]}, 200)]:
    conn.request("GET", path, headers=hdrs)
    r = conn.getresponse()
    r.read()
    socks.add(id(conn.sock))
    t.eq((r.status, r.getheader("Connection")), (want, None), f"GET {path}: kept alive")
t.eq(len(socks), 1, "five GETs on one connection")
conn.close()

# ---- bad keys ----------------------------------------------------------------------------------
good = keys["data_engineer"][1]
for bad, what in [(good[:-1] + ("A" if good[-1] != "A" else "B"), "wrong secret"),
                  ("flk_0123456789abcdef_" + "x" * 43, "unknown id"),
                  ("not-a-key", "malformed"), (good + "x", "too long")]:
    st, _, body = srv.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + bad})
    t.eq(st, 401, f"{what} key refused")
st, _, body = srv.request("GET", "/v1/whoami", headers={"Authorization": "Basic " + good})
t.eq(st, 401, "Basic scheme refused")
st, _, body = srv.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + good})
who = json.loads(body)
t.eq((st, who["role"], who["key_id"], who["max_class"]),
     (200, "data_engineer", keys["data_engineer"][0], "confidential"), "whoami")

# ---- revocation takes effect at once: by the CLI (another process) and by the admin route ---
kid, k = fltest.create_key(D, "data_analyst")
t.eq(srv.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + k})[0], 200,
     "fresh key works")
fltest.run_cli("keys", "revoke", "--data", D, kid)
st, _, body = srv.request("GET", "/v1/whoami", headers={"Authorization": "Bearer " + k})
t.eq((st, json.loads(body)["error"]["message"]), (401, "this API key was revoked"),
     "revoked by the CLI: refused at the next request")
admin = {"Authorization": "Bearer " + keys["admin"][1], "Content-Type": "application/json"}
st, _, body = srv.request("POST", "/v1/keys", json.dumps(
    {"role": "developer", "name": "via api", "max_class": "public"}).encode(), admin)
made = json.loads(body)
t.eq((st, made["role"], made["max_class"]), (201, "developer", "public"), "POST /v1/keys")
t.check(made["key"].startswith("flk_" + made["id"] + "_"), "the created key carries its id")
hk = {"Authorization": "Bearer " + made["key"]}
t.eq(srv.request("GET", "/v1/whoami", headers=hk)[0], 200, "API-created key works")
st, _, body = srv.request("GET", "/v1/keys", headers=admin)
listed = {k_["id"]: k_ for k_ in json.loads(body)["keys"]}
t.check(made["id"] in listed and "key" not in listed[made["id"]], "listed without its secret")
t.check(listed[kid]["revoked_at"] is not None, "CLI-revoked key listed as revoked")
st, _, _ = srv.request("POST", f"/v1/keys/{made['id']}/revoke", headers=admin)
t.eq(st, 200, "revoke through the API")
t.eq(srv.request("GET", "/v1/whoami", headers=hk)[0], 401, "API-revoked key refused at once")
for spec, what in [({"role": "root"}, "unknown role"), ({"role": "device", "fleets": ["paris"]},
                   "unknown fleet"), ({"role": "device", "devices": ["a b"]}, "bad device"),
                   ({"role": "device", "max_class": "secret"}, "bad class")]:
    st, _, body = srv.request("POST", "/v1/keys", json.dumps(spec).encode(), admin)
    t.eq((st, json.loads(body)["error"]["code"]), (400, "invalid_key_spec"), what)
p = fltest.run_cli("keys", "create", "--data", D, "--role", "device", "--fleet", "paris",
                   check=False)
t.check(p.returncode == 2 and "paris" in p.stderr, f"CLI names the unknown fleet: {p.stderr}")
p = fltest.run_cli("keys", "revoke", "--data", D, "ffffffffffffffff", check=False)
t.check(p.returncode == 2 and "no key" in p.stderr, "CLI revoke of an unknown id")

# ---- a device key limited to its own devices -------------------------------------------------
dkid, dkey = fltest.create_key(D, "device", "--device", "truck-1", "--device", "truck-2")
hd = {"Authorization": "Bearer " + dkey}
before = len(fltest.stream_records(D))
st, _, js = srv.post_records([fltest.record("truck-1", "2026-11-25T01:00:01Z"),
                              fltest.record("truck-3", "2026-11-25T01:00:01Z"),
                              fltest.record("truck-2", "2026-11-25T01:00:01Z")], headers=hd)
t.eq((st, js["accepted"], js["failed"]), (200, 2, 1), "device key: own devices accepted")
t.eq(js["records"][1]["error"]["code"], "forbidden_device", "other device refused per record")
st, _, js = srv.post_records([fltest.record("truck-9", "2026-11-25T01:00:02Z")], headers=hd)
t.eq((st, js["accepted"]), (403, 0), "only foreign devices: 403")
t.eq(len(fltest.stream_records(D)) - before, 2, "nothing of the refused records stored")

# ---- attribute-based access: fleets and classification ---------------------------------------
ing = {"Authorization": "Bearer " + keys["data_engineer"][1]}
recs = []
for dev in ["truck-1", "truck-2", "truck-3", "bus-1", "bus-2"]:
    for i in range(4):
        recs.append(fltest.record(dev, f"2026-11-25T02:00:{i:02d}Z", temperature=20.0 + i))
st, _, js = srv.post_records(recs, headers=ing)
t.eq((st, js["accepted"]), (200, 20), "ABAC data ingested")

sk = fltest.create_key(D, "data_analyst", "--fleet", "seoul", "--config", conf)[1]
bk = fltest.create_key(D, "data_analyst", "--fleet", "busan", "--config", conf)[1]
ek = keys["data_engineer"][1]
dvk = keys["developer"][1]


def q(key, sql):
    """Run sql under key; (status, {"rows": [dict...]} or {"error": {...}})."""
    st_, _, body_ = srv.request("POST", "/v1/query", json.dumps({"sql": sql, "format": "ndjson"}).encode(),
                                {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    if st_ != 200:
        return st_, json.loads(body_)
    lines = [json.loads(l) for l in body_.decode().splitlines() if l.strip()]
    if lines and "error" in lines[-1] and len(lines[-1]) == 1:
        return st_, {"error": lines[-1]["error"], "rows": lines[:-1]}
    return st_, {"rows": lines}


SQL_DEV = ("SELECT device_id, count(*) AS n FROM processed_sensor_data "
           "WHERE timestamp >= 1795572000000000 GROUP BY device_id ORDER BY device_id")
deadline = time.time() + 60
while time.time() < deadline:
    st, js = q(ek, SQL_DEV)
    if st == 200 and len(js.get("rows", [])) == 5 and all(r["n"] >= 4 for r in js["rows"]):
        break
    time.sleep(0.5)


def devices_of(js_):
    return [r["device_id"] for r in js_.get("rows", [])]


t.eq(devices_of(q(ek, SQL_DEV)[1]), ["bus-1", "bus-2", "truck-1", "truck-2", "truck-3"],
     "engineer (no fleet limit) sees every device")
t.eq(devices_of(q(sk, SQL_DEV)[1]), ["truck-1", "truck-2", "truck-3"], "seoul analyst: trucks")
t.eq(devices_of(q(bk, SQL_DEV)[1]), ["bus-1", "bus-2"], "busan analyst: buses")
st, js = q(sk, "SELECT count(*) AS n FROM processed_sensor_data WHERE timestamp >= 1795572000000000")
t.eq(js["rows"][0]["n"] if st == 200 else st, 12, "seoul count(*)")
st, js = q(sk, "SELECT device_id FROM device_state ORDER BY 1")
t.eq(devices_of(js), ["truck-1", "truck-2", "truck-3"], "device_state filtered by fleet")
st, js = q(sk, "SELECT device_id FROM main.device_state")
t.eq((st, js["error"]["code"]), (403, "forbidden"), "main.device_state refused to a fleet key")
st, js = q(ek, "SELECT count(*) AS n FROM main.device_state")
t.eq(js["rows"][0]["n"] if st == 200 else st, 5, "engineer reads main.device_state")
st, js = q(sk, "SELECT device_id, latitude FROM processed_sensor_data LIMIT 1")
t.check(st == 403 and js["error"]["code"] == "forbidden" and
        "processed_sensor_data.latitude" in js["error"]["message"],
        f"analyst: latitude (confidential) refused, naming the column: {js}")
st, js = q(ek, "SELECT latitude FROM processed_sensor_data WHERE device_id = 'bus-1' LIMIT 1")
t.eq(js["rows"][0]["latitude"] if st == 200 else st, 37.56, "engineer reads latitude")
st, js = q(sk, "SELECT * FROM processed_sensor_data LIMIT 1")
t.eq(st, 403, "SELECT * includes a confidential column: refused")
st, js = q(dvk, "SELECT count(*) AS n FROM rejected_records")
t.eq((st, js.get("error", {}).get("code")), (403, "forbidden"),
     "developer: rejected_records (confidential table) refused")
st, js = q(dvk, "SELECT round(avg(temperature), 2) AS t FROM processed_sensor_data")
t.eq(st, 200, "developer reads internal columns")
for key, who in [(ek, "engineer"), (sk, "analyst")]:
    st, js = q(key, "SELECT * FROM api_keys")
    t.eq(st, 403, f"api_keys unreadable for the {who}")
# the device API: rows of the key's fleets, location only up to its class
st, _, body = srv.request("GET", "/v1/devices?limit=1000", headers={"Authorization": "Bearer " + sk})
devs = json.loads(body)["devices"]
t.eq(sorted(d["device_id"] for d in devs), ["truck-1", "truck-2", "truck-3"],
     "GET /v1/devices filtered by fleet")
t.check(all("latitude" not in (d["latest"] or {}) for d in devs), "no latitude for an analyst")
st, _, body = srv.request("GET", "/v1/devices?limit=2", headers={"Authorization": "Bearer " + sk})
page = json.loads(body)
t.eq(len(page["devices"]), 2, "paging over filtered devices: a full page")
st, _, body = srv.request("GET", "/v1/devices?limit=2&cursor=" + page["next_cursor"],
                          headers={"Authorization": "Bearer " + sk})
t.eq([d["device_id"] for d in json.loads(body)["devices"]], ["truck-3"], "second page")
t.eq(srv.request("GET", "/v1/devices/bus-1", headers={"Authorization": "Bearer " + sk})[0], 404,
     "another fleet's device is not found")
t.eq(srv.request("GET", "/v1/devices/bus-1/readings",
                 headers={"Authorization": "Bearer " + sk})[0], 404, "nor its readings")
st, _, body = srv.request("GET", "/v1/devices/bus-1", headers={"Authorization": "Bearer " + ek})
t.check(st == 200 and "latitude" in json.loads(body)["latest"], "engineer sees location")

# ---- per-role SQL caps ([role.data_analyst] query_max_rows = 1000) ---------------------------
BIG = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT i FROM n"
st, js = q(sk, BIG)
t.check(js.get("error", {}).get("code") == "too_many_rows", f"analyst capped at 1000 rows: {st}")
st, js = q(ek, BIG)
t.eq(len(js.get("rows", [])), 2000, "engineer keeps query.max_rows")

t.eq(srv.request("GET", "/healthz")[0], 200, "healthy after everything")
t.eq(srv.stop(), 0, "serve exits 0")
t.finish()
