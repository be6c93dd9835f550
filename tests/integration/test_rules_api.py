#!/usr/bin/env python3
"""Alert rules through the API, end to end against a real `fleetlake serve` with authentication
on: create (POST), read, replace (PUT) and delete (DELETE) a rule while readings flow; a
replaced rule's open alert stays open and resolves when the NEW condition clears; a deleted
rule's open alert resolves (by the deleting key) and its resolve notification reaches a real
webhook receiver; rules survive a restart (a disabled one stays disabled); configured rules
belong to the configuration (409), including an API rule the configuration later shadows; a
fleet-limited key changes only rules within its fleets; bad definitions name the key; the
64-rule bound; every change is in the audit trail."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

t = fltest.Checks()
root = fltest.scratch_dir("rules-api")
D = os.path.join(root, "d")


rx = fltest.Receiver().start()


def events(alert_id):
    """The notification events the webhook got for alert_id, in order."""
    return [h.body["event"] for h in rx.hits() if h.body.get("id") == alert_id]

SETS = ["--set", "process.batch_interval_s=1", "--set", "rule.anomaly.enabled=off",
        "--set", "process.late_after_s=86400",
        "--set", "fleet.seoul.devices=truck-*", "--set", "fleet.busan.devices=bus-*",
        "--set", "rule.cfg_hot.type=threshold", "--set", "rule.cfg_hot.field=humidity",
        "--set", "rule.cfg_hot.value=99",
        "--set", f"channel.hook.url=http://127.0.0.1:{rx.port}/hook"]

os.makedirs(D, exist_ok=True)
eng_id, eng = fltest.create_key(D, "data_engineer", "--name", "rules engineer")
_, ana = fltest.create_key(D, "data_analyst")
seoul_id, seoul_ops = fltest.create_key(D, "operator", "--fleet", "seoul",
                                       "--set", "fleet.seoul.devices=truck-*")
_, dev_limited = fltest.create_key(D, "operator", "--device", "truck-1")
srv = fltest.Server(D, extra=SETS, auth=True, key=eng).start()
clock = [0]


def call(method, path, body=None, key=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    st, hd, raw = srv.request(method, path, data, headers)
    return st, hd, json.loads(raw) if raw else None


def post(dev, temp):
    clock[0] += 1
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600 + clock[0])) + "Z"
    st, _, js = srv.post_records([fltest.record(dev, ts, temperature=temp)])
    assert st == 200 and js["accepted"] == 1, (st, js)


def alerts(rule, state=None):
    q = f"/v1/alerts?rule={rule}" + (f"&state={state}" if state else "")
    st, _, js = call("GET", q)
    assert st == 200, (st, js)
    return js["alerts"]


def rules():
    st, _, js = call("GET", "/v1/rules")
    assert st == 200, (st, js)
    return js["rules"]


def error(resp):
    st, _, js = resp
    return st, (js or {}).get("error", {}).get("code"), (js or {}).get("error", {}).get("message", "")


HOT = {"name": "api_hot", "type": "threshold", "field": "temperature", "op": ">", "value": 50,
       "count": 2, "clear_count": 2, "severity": "critical", "cooldown_s": 0}

# ---- create, read ---------------------------------------------------------------------------
st, hd, js = call("POST", "/v1/rules", HOT)
t.eq((st, hd.get("location")), (201, "/v1/rules/api_hot"), "POST /v1/rules: 201 and Location")
t.eq({k: js.get(k) for k in ("type", "field", "op", "value", "count", "clear_count", "severity",
                             "cooldown_s", "fleets", "enabled", "source", "updated_by")},
     {"type": "threshold", "field": "temperature", "op": ">", "value": 50, "count": 2,
      "clear_count": 2, "severity": "critical", "cooldown_s": 0, "fleets": [], "enabled": True,
      "source": "api", "updated_by": eng_id}, "the created rule as the server holds it")
st, _, one = call("GET", "/v1/rules/api_hot")
t.eq((st, one), (200, js), "GET /v1/rules/api_hot == the POST's answer")
by_name = {r["name"]: r for r in rules()}
t.eq((by_name.get("api_hot", {}).get("source"), by_name.get("cfg_hot", {}).get("source"),
      by_name.get("pipeline_freshness", {}).get("source")), ("api", "config", "builtin"),
     "GET /v1/rules: source of an API, a configured and a built-in rule")
t.check("anomaly" not in by_name, "a rule the configuration disabled is not listed")

# ---- refusals -------------------------------------------------------------------------------
t.eq(error(call("POST", "/v1/rules", HOT))[:2], (409, "conflict"), "POST of an existing name")
t.eq(error(call("PUT", "/v1/rules/cfg_hot", {"type": "anomaly"}))[:2], (409, "conflict"),
     "PUT on a configured rule")
st, code, msg = error(call("DELETE", "/v1/rules/pipeline_freshness"))
t.eq((st, code), (409, "conflict"), "DELETE of a built-in rule")
t.check("configuration" in msg, f"... says where it is defined: {msg}")
t.eq(error(call("DELETE", "/v1/rules/nosuch"))[:2], (404, "not_found"), "DELETE of no rule")
t.eq(error(call("GET", "/v1/rules/nosuch"))[:2], (404, "not_found"), "GET of no rule")
for body, key, what in [({"type": "threshold", "field": "speed"}, "field", "an unknown field"),
                        ({"type": "threshold", "field": "temperature", "count": 0}, "count",
                         "count 0"),
                        ({"type": "sometimes"}, "type", "an unknown type"),
                        ({"type": "threshold", "field": "temperature", "value": "hot"}, "value",
                         "a value that is not a number"),
                        ({"type": "offline", "fleets": ["paris"]}, "fleets", "an unknown fleet"),
                        ({"type": "offline", "colour": "red"}, "colour", "an unknown key"),
                        ({"name": "other", "type": "offline"}, "name", "another name")]:
    st, code, msg = error(call("PUT", "/v1/rules/bad_one", body))
    t.eq((st, code), (400, "invalid_rule"), f"PUT with {what}")
    t.check(key in msg, f"... the message names {key}: {msg}")
t.eq(error(call("PUT", "/v1/rules/bad_one", b"{not json"))[:2], (400, "bad_json"), "bad JSON")
t.eq(error(call("PUT", "/v1/rules/bad%20name", {"type": "offline"}))[:2], (400, "invalid_rule"),
     "a rule name outside [A-Za-z0-9_-]")
t.eq(error(call("POST", "/v1/rules", HOT, key=ana))[:2], (403, "forbidden"),
     "a data_analyst may read rules but not create them")
t.eq(error(call("GET", "/v1/rules/bad_one"))[:2], (404, "not_found"), "nothing was stored")

# ---- the rule works; a replaced rule keeps its open alert until the NEW condition clears ----
post("truck-1", 60)
post("truck-1", 61)
a = fltest.wait_for(lambda: alerts("api_hot", "open"), what="api_hot alert", timeout=30)[0]
t.eq((a["severity"], a["value"], a["threshold"]), ("critical", 61, 50), "the API rule's alert")
st, _, js = call("PUT", "/v1/rules/api_hot", dict(HOT, value=70, severity="warning"))
t.eq((st, js.get("value"), js.get("severity"), js.get("created_at") == one.get("created_at")),
     (200, 70, "warning", True), "PUT replaces: 200, new values, created_at kept")
time.sleep(1)
t.eq([x["id"] for x in alerts("api_hot", "open")], [a["id"]], "replacing leaves the alert open")
post("truck-1", 65)  # over the old threshold (50), under the new one (70)
post("truck-1", 66)
r = fltest.wait_for(lambda: alerts("api_hot", "resolved"), what="auto-resolve", timeout=30)
t.eq((r[0]["id"], r[0]["resolved_by"]), (a["id"], "auto"),
     "the replaced rule's clear condition resolves the alert opened before the change")
post("truck-1", 80)
post("truck-1", 81)
b = fltest.wait_for(lambda: alerts("api_hot", "open"), what="second alert", timeout=30)[0]
t.eq((b["value"], b["threshold"], b["severity"]), (81, 70, "warning"),
     "the replaced rule opens alerts with its new threshold and severity")

# ---- delete: the open alert resolves, notified ----------------------------------------------
fltest.wait_for(lambda: "trigger" in events(b["id"]), what="trigger delivered", timeout=30)
st, _, js = call("DELETE", "/v1/rules/api_hot")
t.eq((st, js), (200, {"deleted": "api_hot", "resolved_alerts": 1}), "DELETE answers")
gone = alerts("api_hot", "resolved")
t.eq(sorted((x["id"], x["resolved_by"]) for x in gone),
     sorted([(a["id"], "auto"), (b["id"], eng_id)]), "the open alert resolved by the deleting key")
fltest.wait_for(lambda: "resolve" in events(b["id"]), what="resolve delivered", timeout=30)
t.eq(events(b["id"]), ["trigger", "resolve"], "the webhook got the trigger, then the resolve")
t.eq(error(call("GET", "/v1/rules/api_hot"))[:2], (404, "not_found"), "the rule is gone")
post("truck-1", 90)
post("truck-1", 91)
time.sleep(2)
t.eq(alerts("api_hot", "open"), [], "a deleted rule opens nothing")

# ---- fleets: a key limited to a fleet -------------------------------------------------------
COLD = {"type": "threshold", "field": "temperature", "op": "<", "value": -10, "count": 1,
        "fleets": ["seoul"]}
t.eq(call("PUT", "/v1/rules/seoul_cold", COLD, key=seoul_ops)[0], 201,
     "a seoul-limited operator creates a rule for seoul")
for body, what in [(dict(COLD, fleets=[]), "every device"),
                   (dict(COLD, fleets=["seoul", "busan"]), "another fleet too"),
                   ({"type": "pipeline", "field": "consumer_lag", "value": 5}, "a pipeline rule")]:
    t.eq(error(call("PUT", "/v1/rules/seoul_other", body, key=seoul_ops))[:2], (403, "forbidden"),
         f"... but not one watching {what}")
t.eq(error(call("PUT", "/v1/rules/seoul_cold", COLD, key=dev_limited))[:2], (403, "forbidden"),
     "a device-limited key changes no rule")
call("PUT", "/v1/rules/all_quiet", {"type": "offline", "after_s": 3600})
t.eq(error(call("DELETE", "/v1/rules/all_quiet", key=seoul_ops))[:2], (403, "forbidden"),
     "a seoul-limited key cannot delete a rule watching every device")
post("bus-1", -20)  # busan: outside the rule's fleet
post("truck-2", -20)
c = fltest.wait_for(lambda: alerts("seoul_cold", "open"), what="seoul_cold alert", timeout=30)
t.eq([x["device_id"] for x in c], ["truck-2"], "the fleet rule watches its fleet only")

# ---- restart: stored rules come back as they were; a disabled rule stays disabled -----------
t.eq(call("PUT", "/v1/rules/paused", {"type": "anomaly", "enabled": False})[0], 201,
     "a disabled rule is stored")
before = {r["name"]: r for r in rules() if r["source"] == "api"}
srv.stop()
srv = fltest.Server(D, extra=SETS, auth=True, key=eng).start()
after = {r["name"]: r for r in rules() if r["source"] == "api"}
t.eq(after, before, "API rules are the same after a restart")
t.eq(after.get("paused", {}).get("enabled"), False, "the disabled rule stays disabled")
post("truck-2", 5)  # seoul_cold clears (count 1, clear_count 3 by default): still open
t.eq(len(alerts("seoul_cold", "open")), 1, "the seoul_cold alert survived the restart")
for v in (6, 7):
    post("truck-2", v)
fltest.wait_for(lambda: alerts("seoul_cold", "resolved"), what="resolve after restart", timeout=30)

# ---- the configuration takes a name an API rule had: config wins, the API rule is kept aside --
srv.stop()
srv = fltest.Server(D, extra=SETS + ["--set", "rule.all_quiet.type=offline",
                                     "--set", "rule.all_quiet.after_s=7200"],
                    auth=True, key=eng).start()
named = [r for r in rules() if r["name"] == "all_quiet"]
t.eq(sorted(r["source"] for r in named), ["api", "config"], "both all_quiet definitions listed")
shadowed = [r for r in named if r["source"] == "api"]
t.check(shadowed and "shadowed" in shadowed[0].get("problem", ""),
        f"the API one says it is shadowed: {shadowed}")
st, _, one = call("GET", "/v1/rules/all_quiet")
t.eq((st, one.get("source"), one.get("after_s")), (200, "config", 7200),
     "GET of the name is the configured rule")
t.eq(call("DELETE", "/v1/rules/all_quiet")[0], 200, "DELETE removes the shadowed API rule")
t.eq([r["source"] for r in rules() if r["name"] == "all_quiet"], ["config"],
     "the configured one remains")

# ---- the bound: at most 64 rules evaluated ----------------------------------------------------
evaluated = sum(1 for r in rules() if r["enabled"] and "problem" not in r)
made, last = 0, None
for i in range(70):
    last = call("PUT", f"/v1/rules/bulk_{i}", {"type": "offline", "after_s": 3600})
    if last[0] != 201:
        break
    made += 1
t.eq(evaluated + made, 64, f"rules created until 64 are evaluated ({evaluated} before)")
t.eq(error(last)[:2], (409, "too_many_rules"), "the next one is refused")
t.eq(call("PUT", "/v1/rules/bulk_spare", {"type": "offline", "enabled": False})[0], 201,
     "a disabled rule can still be stored")
for i in range(made):
    assert call("DELETE", f"/v1/rules/bulk_{i}")[0] == 200

# ---- the audit trail ----------------------------------------------------------------------------
srv.stop()
p = fltest.run_cli("audit", "show", "--data", D)
entries = [json.loads(l) for l in p.stdout.splitlines()]
admin = [(e["action"], e["resource"], e["key_id"]) for e in entries if e.get("type") == "admin"]
for want in [("rules.create", "api_hot", eng_id), ("rules.replace", "api_hot", eng_id),
             ("rules.delete", "api_hot", eng_id), ("rules.create", "seoul_cold", seoul_id)]:
    t.check(want in admin, f"audited: {want}")
detail = [e.get("detail", "") for e in entries if e.get("action") == "rules.replace"]
t.check(detail and '"value":70' in detail[0], f"the audit entry holds the definition: {detail}")
t.finish()
