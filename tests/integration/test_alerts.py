#!/usr/bin/env python3
"""Alerts end to end against a real `fleetlake serve`: a threshold rule opens one alert after
`count` readings, dedups further readings, resolves by itself after `clear_count` normal ones,
cooldown suppresses a flapping sensor; acknowledge/resolve through the API (and their
conflicts); filters and paging; server-sent events; an offline rule; a pipeline alarm forced
by bad input; alerts persist across a restart without duplicates; the alerts table in SQL."""
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

t = fltest.Checks()
data = fltest.scratch_dir("alerts")
D = os.path.join(data, "d")
SETS = ["--set", "process.batch_interval_s=1",
        "--set", "rule.hot.type=threshold", "--set", "rule.hot.field=temperature",
        "--set", "rule.hot.value=50", "--set", "rule.hot.count=2", "--set", "rule.hot.clear_count=2",
        "--set", "rule.hot.cooldown_s=4", "--set", "rule.hot.severity=critical",
        "--set", "rule.silent.type=offline", "--set", "rule.silent.after_s=3",
        "--set", "rule.silent.fleets=watched", "--set", "fleet.watched.devices=quiet-*",
        "--set", "rule.pipeline_error_rate.after_s=2",
        "--set", "summary.interval_s=1", "--set", "summary.allowed_lateness_s=0",
        "--set", "process.late_after_s=86400",  # hours-old test readings are not "late"
        "--set", "rule.lowq.type=quality", "--set", "rule.lowq.op=<", "--set", "rule.lowq.value=0.8",
        "--set", "rule.anomaly.enabled=off"]
srv = fltest.Server(D, extra=SETS).start()
clock = [0]


def post(dev, temp):
    clock[0] += 1
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600 + clock[0])) + "Z"
    st, _, js = srv.post_records([fltest.record(dev, ts, temperature=temp)])
    assert st == 200 and js["accepted"] == 1, (st, js)


def alerts(query=""):
    st, _, body = srv.request("GET", "/v1/alerts" + query)
    assert st == 200, (st, body)
    return json.loads(body)


def wait_for(pred, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    t.check(False, f"timed out waiting for {what}")
    return None


def hot(state=None):
    q = "?rule=hot&device_id=truck-1" + (f"&state={state}" if state else "")
    return alerts(q)["alerts"]


# ---- server-sent events: collected in the background from the start ----------------------
events = []


def listen():
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    c.request("GET", "/v1/events")
    r = c.getresponse()
    events.append(("status", r.status, r.getheader("Content-Type")))
    buf = b""
    while True:
        chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not chunk:
            return
        buf += chunk
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            lines = dict(l.split(": ", 1) for l in frame.decode().splitlines()
                         if ": " in l and not l.startswith(":"))
            if lines.get("event") == "alert":
                events.append(("alert", int(lines["id"]), json.loads(lines["data"])))


threading.Thread(target=listen, daemon=True).start()
time.sleep(0.5)

# ---- threshold: count, dedup, auto-resolve --------------------------------------------------
post("truck-1", 20)
post("truck-1", 60)
time.sleep(1.5)
t.eq(hot(), [], "one reading over the threshold (count = 2): no alert yet")
post("truck-1", 61)
a = wait_for(lambda: hot("open"), "the hot alert")
a = a[0] if a else {}
t.eq((a.get("severity"), a.get("type"), a.get("value"), a.get("threshold"), a.get("dedup_key")),
     ("critical", "threshold", 61, 50, "hot/truck-1"), "alert fields")
t.check("temperature 61 > 50" in a.get("summary", ""), f"summary: {a.get('summary')}")
for v in (62, 63, 64):
    post("truck-1", v)
time.sleep(1.5)
t.eq(len(hot()), 1, "further hot readings: still one alert (dedup)")
t.eq(hot()[0]["value"], 61, "its value is the triggering reading")
post("truck-1", 20)
time.sleep(1)
t.eq(len(hot("open")), 1, "one normal reading does not resolve (clear_count = 2)")
post("truck-1", 21)
r = wait_for(lambda: hot("resolved"), "auto-resolve")
t.eq((r[0]["resolved_by"], r[0]["id"]) if r else None, ("auto", a.get("id")), "auto-resolved")
# flapping inside the cooldown: the condition returns, no new alert
post("truck-1", 70)
post("truck-1", 71)
time.sleep(1.5)
t.eq(len(hot()), 1, "flapping within cooldown_s: no second alert")
m = srv.metrics()
t.eq(m.get('fleetlake_alert_events_total{kind="suppressed"}'), 1.0, "suppression counted")
# after the cooldown (and a clear), the condition opens a new alert
post("truck-1", 20)
post("truck-1", 20)
time.sleep(4.5)
post("truck-1", 80)
post("truck-1", 81)
second = wait_for(lambda: hot("open"), "a new alert after the cooldown")
t.check(second and second[0]["id"] != a.get("id"), "a new alert id after the cooldown")
aid = second[0]["id"] if second else 0

# ---- acknowledge and resolve through the API -----------------------------------------------
st, _, body = srv.request("POST", f"/v1/alerts/{aid}/ack")
t.eq((st, json.loads(body)["state"]), (200, "acknowledged"), "acknowledge")
t.check(json.loads(body)["acknowledged_at"] is not None, "acknowledged_at set")
st, _, body = srv.request("POST", f"/v1/alerts/{aid}/ack")
t.eq((st, json.loads(body)["error"]["code"]), (409, "conflict"), "acknowledge twice: 409")
st, _, body = srv.request("POST", f"/v1/alerts/{aid}/resolve")
t.eq((st, json.loads(body)["state"], json.loads(body)["resolved_by"]), (200, "resolved", "api"),
     "resolve by hand")
st, _, _ = srv.request("POST", f"/v1/alerts/{aid}/resolve")
t.eq(st, 409, "resolve twice: 409")
t.eq(srv.request("POST", "/v1/alerts/999999/ack")[0], 404, "unknown alert: 404")
t.eq(srv.request("POST", f"/v1/alerts/{aid}/snooze")[0], 404, "unknown action: 404")
t.eq(srv.request("GET", "/v1/alerts?state=sleeping")[0], 400, "bad state filter: 400")
t.eq(srv.request("GET", "/v1/alerts?limit=0")[0], 400, "bad limit: 400")

# ---- offline rule (fleet 'watched' only) ----------------------------------------------------
post("quiet-1", 20)
post("truck-9", 20)  # not in the fleet: never offline-alerted
off = wait_for(lambda: alerts("?rule=silent")["alerts"], "the offline alert", timeout=15)
t.eq([x["device_id"] for x in off or []], ["quiet-1"], "offline alert for the watched device only")
post("quiet-1", 21)
back = wait_for(lambda: alerts("?rule=silent&state=resolved")["alerts"], "offline auto-resolve")
t.eq(back[0]["resolved_by"] if back else None, "auto", "the device is back: resolved")

# ---- a pipeline alarm forced: ingest error rate (after_s = 2) ------------------------------
for _ in range(5):
    srv.post_records([{"device_id": "x"}] * 50)  # missing timestamp: rejected
pipe = wait_for(lambda: alerts("?rule=pipeline_error_rate")["alerts"], "the error-rate alarm",
                timeout=15)
t.check(pipe and pipe[0]["device_id"] is None and pipe[0]["state"] == "open",
        f"pipeline alarm open without a device: {pipe}")

# ---- a quality rule: an hour whose data_quality_score is 0.5 ---------------------------------
base = time.time() - 3 * 3600
hour0 = int(base // 3600) * 3600
recs = []
for i in range(4):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(hour0 + 60 + i)) + "Z"
    recs.append(fltest.record("qd-1", ts, humidity=None if i % 2 else 40.0))
st, _, js = srv.post_records(recs)
t.eq((st, js["accepted"]), (200, 4), "quality-test readings accepted")
lowq = wait_for(lambda: alerts("?rule=lowq")["alerts"], "the data-quality alert", timeout=30)
t.eq([(x["device_id"], x["value"], x["type"]) for x in lowq or []], [("qd-1", 0.5, "quality")],
     "quality alert: qd-1's hour scored 0.5 < 0.8 (two of four readings lack humidity)")

# ---- paging, filters, metrics -----------------------------------------------------------------
every = alerts("?limit=1000")["alerts"]
page1 = alerts("?limit=2")
t.eq(len(page1["alerts"]), 2, "page of 2")
page2 = alerts("?limit=1000&cursor=" + page1["next_cursor"])["alerts"]
t.eq([x["id"] for x in page1["alerts"] + page2], [x["id"] for x in every], "paging covers all")
t.eq([x["id"] for x in every], sorted((x["id"] for x in every), reverse=True), "newest first")
t.check(all(x["severity"] == "critical" for x in alerts("?severity=critical")["alerts"]),
        "severity filter (minimum)")
m = srv.metrics()
t.check(m.get('fleetlake_alerts{state="resolved",severity="critical"}', 0) >= 2,
        "fleetlake_alerts by state and severity")

# ---- the alerts table in SQL ------------------------------------------------------------------
st, _, body = srv.request("POST", "/v1/query", json.dumps(
    {"sql": "SELECT count(*) AS n FROM alerts WHERE rule = 'hot'", "format": "ndjson"}).encode(),
    {"Content-Type": "application/json"})
t.eq(json.loads(body.decode().splitlines()[0])["n"] if st == 200 else st, 2, "alerts in SQL")

# ---- the effective rules ------------------------------------------------------------------------
st, _, body = srv.request("GET", "/v1/rules")
rules = {r["name"]: r for r in json.loads(body)["rules"]} if st == 200 else {}
t.eq((rules.get("hot", {}).get("field"), rules.get("hot", {}).get("value"),
      rules.get("hot", {}).get("count"), rules.get("hot", {}).get("severity")),
     ("temperature", 50, 2, "critical"), "GET /v1/rules: the configured rule")
t.eq(rules.get("silent", {}).get("fleets"), ["watched"], "GET /v1/rules: fleets")
t.eq(rules.get("pipeline_error_rate", {}).get("after_s"), 2, "a built-in rule, retuned")
t.check("anomaly" not in rules and "pipeline_freshness" in rules, "disabled rule absent")

# ---- server-sent events saw the life cycle ---------------------------------------------------
time.sleep(1)
t.eq(events[0][1:] if events else None, (200, "text/event-stream"), "event stream opened")
seen = [(e[2]["id"], e[2]["state"]) for e in events if e[0] == "alert"]
t.check((a.get("id"), "open") in seen and (a.get("id"), "resolved") in seen,
        f"events carried open and resolved of alert {a.get('id')}")
t.check((aid, "acknowledged") in seen, "events carried the acknowledgement")
ids = [e[1] for e in events if e[0] == "alert"]
t.eq(ids, sorted(ids), "event ids increase")

# ---- restart: alerts persist, an open alert is not duplicated ----------------------------------
before = alerts("?limit=1000")["alerts"]
t.eq(srv.stop(), 0, "serve exits 0")
srv = fltest.Server(D, extra=SETS).start()
after = alerts("?limit=1000")["alerts"]
t.eq([(x["id"], x["state"]) for x in after][-len(before):],
     [(x["id"], x["state"]) for x in before], "alerts survive a restart")
t.eq([(x["rule"], x["device_id"]) for x in after][:len(after) - len(before)], [],
     "no alert opened by the restart itself")
time.sleep(4)
t.eq(len(alerts("?rule=pipeline_error_rate")["alerts"]), 1,
     "the still-open pipeline alarm is not opened twice after the restart")
# an alert open across the restart still resolves by itself when its condition clears
post("truck-5", 90)
post("truck-5", 91)
open5 = wait_for(lambda: alerts("?rule=hot&device_id=truck-5&state=open")["alerts"],
                 "an open alert for truck-5")
t.eq(srv.stop(), 0, "serve exits 0 again")
srv = fltest.Server(D, extra=SETS).start()
post("truck-5", 20)
post("truck-5", 21)
res5 = wait_for(lambda: alerts("?rule=hot&device_id=truck-5&state=resolved")["alerts"],
                "truck-5's alert auto-resolved after the restart")
t.eq([x["resolved_by"] for x in res5 or []], ["auto"],
     "open before the restart, resolved automatically after it")
t.eq(srv.stop(), 0, "serve exits 0 a third time")
t.finish()
