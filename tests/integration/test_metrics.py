#!/usr/bin/env python3
"""/metrics end to end against a real `fleetlake serve`: after some traffic (good records, a bad
record, queries that succeed and fail, requests with and without a W3C traceparent) the
exposition passes Debian's `promtool check metrics` (format and lint), every family it shows is
documented in docs/metrics.md with the same type and labels and every documented family is
shown; the new families carry the values the traffic implies (records by outcome, queries by
outcome, lake files by table and tier, process memory/CPU/fds/start time); trace ids are
accepted, generated, returned in `traceparent`, written on the JSON log lines and in the audit
trail, and carried into the alert the reading opened."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()

# promtool comes from Debian's `prometheus` package (scripts/install-deps.sh test): a missing
# tool is a failure of this test, never a silent skip.
PROMTOOL = shutil.which("promtool")
if not PROMTOOL:
    print("FAIL: promtool not found: install Debian's prometheus package "
          "(scripts/install-deps.sh test)", flush=True)
    sys.exit(1)

DOC = os.path.join(fltest.SOURCE_DIR, "docs", "metrics.md")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

data = fltest.scratch_dir("metrics")
D = os.path.join(data, "d")
srv = fltest.Server(D, extra=["--set", "log.format=json", "--set", "log.level=debug",
                              "--set", "raw.buffer_interval_s=1",
                              "--set", "process.batch_interval_s=1",
                              "--set", "rule.hot.type=threshold",
                              "--set", "rule.hot.field=temperature",
                              "--set", "rule.hot.value=60", "--set", "rule.hot.count=1",
                              "--set", "rule.hot.severity=warning",
                              # a webhook nobody listens on: its delivery families get series
                              "--set", "channel.hook.type=webhook",
                              "--set", f"channel.hook.url=http://127.0.0.1:{fltest.free_port()}/"
                              ]).start()


def ts(offset_s=0):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 600 + offset_s)) + "Z"


# ---- traffic ----------------------------------------------------------------------------------
# An incoming traceparent is continued: same trace id, our own span id, flags passed on.
st, hd, js = srv.post_records([fltest.record("truck-0001", ts(i)) for i in range(5)],
                              headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
c.eq(st, 200, "good records accepted")
m = TRACEPARENT_RE.match(hd.get("traceparent", ""))
c.check(m is not None, f"traceparent response header well formed: {hd.get('traceparent')!r}")
if m:
    c.eq(m.group(1), TRACE, "incoming trace id continued")
    c.check(m.group(2) != PARENT, "our own span id, not the caller's")
    c.eq(m.group(3), "01", "trace flags passed on")
c.check(bool(hd.get("x-request-id")), "X-Request-Id still sent")

# A reading over the threshold rule: its alert must carry this request's trace id.
ALERT_TRACE = "0af7651916cd43dd8448eb211c80319c"
st, hd, js = srv.post_records([fltest.record("truck-0002", ts(10), temperature=75.0)],
                              headers={"traceparent": f"00-{ALERT_TRACE}-b7ad6b7169203331-00"})
c.eq(st, 200, "hot reading accepted")
c.eq(hd.get("traceparent", "")[3:35], ALERT_TRACE, "hot reading's trace continued")

# A bad record (missing device_id) next to a good one: one accepted, one rejected.
st, hd, js = srv.post_records([fltest.record("truck-0003", ts(20)),
                               {"timestamp": ts(21), "temperature": 1.0}])
c.eq(st, 200, "mixed batch answered 200")
c.eq((js or {}).get("accepted"), 1, "one record of the mixed batch accepted")

# Malformed traceparents are ignored, not errors: a fresh trace id each time.
generated = set()
for bad in ("00-" + TRACE.upper() + "-" + PARENT + "-01",       # upper case hex
            "01-" + TRACE + "-" + PARENT + "-01",               # another version
            "00-" + "0" * 32 + "-" + PARENT + "-01",            # all-zero trace id
            "00-" + TRACE + "-" + "0" * 16 + "-01",             # all-zero parent id
            "00-" + TRACE + "-" + PARENT + "-01-extra",         # trailing data
            "garbage", None):
    st, hd, _ = srv.request("GET", "/healthz", headers={"traceparent": bad} if bad else {})
    m = TRACEPARENT_RE.match(hd.get("traceparent", ""))
    c.check(st == 200 and m is not None, f"traceparent {bad!r}: 200 with a new traceparent")
    if m:
        c.check(m.group(1) != TRACE, f"traceparent {bad!r} not continued")
        generated.add(m.group(1))
c.eq(len(generated), 7, "each generated trace id is new")

# Queries: one that works, one with an SQL error, one with a bad body.
q = json.dumps({"sql": "SELECT count(*) AS n FROM raw_sensor_data"})
st, _, body = srv.request("POST", "/v1/query", q, {"Content-Type": "application/json"})
c.eq(st, 200, "query answered")
st, _, _ = srv.request("POST", "/v1/query", json.dumps({"sql": "SELECT nope FROM nowhere"}),
                       {"Content-Type": "application/json"})
c.eq(st, 400, "bad SQL answered 400")
st, _, _ = srv.request("POST", "/v1/query", "not json", {"Content-Type": "application/json"})
c.eq(st, 400, "bad query body answered 400")


def lake_files():
    mt = srv.metrics()
    return sum(v for k, v in mt.items() if k.startswith("fleetlake_lake_files{"))


# Raw delivery flushes within a second or two: the lake families then show files.
fltest.wait_for(lambda: lake_files() >= 1, timeout=60, what="a raw-data file in the lake")

# ---- the exposition ---------------------------------------------------------------------------
st, hd, body = srv.request("GET", "/metrics")
c.eq(st, 200, "/metrics answered")
c.check(hd.get("content-type", "").startswith("text/plain; version=0.0.4"), "text format 0.0.4")
text = body.decode()
p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                   timeout=60)
c.eq(p.returncode, 0, "promtool check metrics exit status")
c.eq((p.stdout + p.stderr).strip(), "", "promtool check metrics reports nothing")

# Families, types and label names shown.
shown_type, shown_labels = {}, {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split()
        c.check(name not in shown_type, f"family {name} has one TYPE line")
        shown_type[name] = typ
        shown_labels[name] = set()
    elif line and not line.startswith("#"):
        series = line.rsplit(" ", 1)[0]
        name = series.split("{", 1)[0]
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        fam = name if name in shown_type else base
        c.check(fam in shown_type, f"sample {name} belongs to a declared family")
        if "{" in series:
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', series.split("{", 1)[1]))
            shown_labels.setdefault(fam, set()).update(labels - {"le"})
for line in text.splitlines():
    if line.startswith("# HELP "):
        parts = line.split(" ", 3)
        c.check(len(parts) == 4 and parts[3].strip(), f"{parts[2]} has a HELP text")
c.check(set(shown_type) == {l.split()[2] for l in text.splitlines() if l.startswith("# HELP ")},
        "every family has both HELP and TYPE")

# Families documented in docs/metrics.md: rows "| `name` | type | labels | meaning | alert |".
doc_type, doc_labels = {}, {}
with open(DOC) as f:
    for line in f:
        mrow = re.match(r"^\|\s*`([a-z_:]+)`\s*\|\s*(\w+)\s*\|([^|]*)\|", line)
        if mrow:
            name = mrow.group(1)
            c.check(name not in doc_type, f"{name} documented once")
            doc_type[name] = mrow.group(2)
            doc_labels[name] = set(re.findall(r"`([a-z_]+)`", mrow.group(3)))
missing = sorted(set(shown_type) - set(doc_type))
stale = sorted(set(doc_type) - set(shown_type))
c.check(not missing, f"families shown but not documented in docs/metrics.md: {missing}")
c.check(not stale, f"families documented in docs/metrics.md but not shown: {stale}")
for name in sorted(set(shown_type) & set(doc_type)):
    c.eq(doc_type[name], shown_type[name], f"{name}: documented type")
    if shown_labels.get(name):  # a family without samples yet cannot show its labels
        c.eq(doc_labels[name], shown_labels[name], f"{name}: documented labels")

# ---- values -----------------------------------------------------------------------------------
mt = srv.metrics()
c.check(mt.get('fleetlake_records_total{outcome="accepted",code="ok"}', 0) >= 7,
        "accepted records counted")
c.check(mt.get('fleetlake_records_total{outcome="rejected",code="missing_field"}', 0) >= 1,
        "the bad record counted as rejected missing_field")
c.eq(mt.get('fleetlake_queries_total{outcome="ok"}'), 1.0, "one query ok")
c.eq(mt.get('fleetlake_queries_total{outcome="sql_error"}'), 1.0, "one query sql_error")
c.eq(mt.get('fleetlake_queries_total{outcome="bad_request"}'), 1.0, "one query bad_request")
c.eq(mt.get("fleetlake_query_duration_seconds_count"), 3.0, "three query durations observed")
c.check(mt.get('fleetlake_lake_files{table="raw_sensor_data",tier="hot"}', 0) >= 1,
        "raw_sensor_data hot files")
c.check(mt.get('fleetlake_lake_bytes{table="raw_sensor_data",tier="hot"}', 0) > 100,
        "raw_sensor_data hot bytes")
c.eq(mt.get("fleetlake_lake_stats_up"), 1.0, "lake stats up")
rss = mt.get("process_resident_memory_bytes", 0)
c.check(1 << 20 < rss < 8 << 30, f"resident memory plausible: {rss}")
c.check(mt.get("process_cpu_seconds_total", 0) > 0, "CPU seconds counted")
fds = mt.get("process_open_fds", 0)
c.check(5 < fds < mt.get("process_max_fds", 0), f"open fds plausible: {fds}")
start = mt.get("process_start_time_seconds", 0)
c.check(time.time() - 600 < start <= time.time() + 1, f"start time is this process's: {start}")
with open(f"/proc/{srv.proc.pid}/stat") as f:
    threads = int(f.read().rsplit(")", 1)[1].split()[17])
c.check(abs(mt.get("process_threads", 0) - threads) <= 4, "thread count matches /proc")
c.check(mt.get('fleetlake_notify_failures_total{channel="hook",reason="connect"}', 0) >= 1 or
        mt.get('fleetlake_notify_outbox_pending{channel="hook"}', 0) >= 1,
        "the unreachable webhook shows failed attempts or pending notifications")
for shard in ("shard-0000", "shard-0001"):
    c.check(f'fleetlake_stream_last_sequence_number{{stream="records",shard="{shard}"}}' in mt,
            f"stream head of {shard}")

# ---- trace ids in the audit trail, the logs and the alert -------------------------------------
def audited_traces():
    p = fltest.run_cli("audit", "show", "--data", D, check=False)
    return {json.loads(l).get("trace_id") for l in p.stdout.splitlines() if l.startswith("{")}


fltest.wait_for(lambda: TRACE in audited_traces(), timeout=30, what="audited trace id")


def alert_trace():
    st, _, body = srv.request("GET", "/v1/alerts?rule=hot")
    items = json.loads(body).get("alerts", []) if st == 200 else []
    return items[0].get("trace_id") if items else None


fltest.wait_for(lambda: alert_trace() is not None, timeout=60, what="the hot alert")
c.eq(alert_trace(), ALERT_TRACE, "alert carries the trace id of the reading that opened it")

srv.stop()
lines = [json.loads(l) for l in open(srv.log_path) if l.startswith("{")]
c.check(len(lines) > 5, "JSON log lines written")
traced = [l for l in lines if l.get("trace_id") == TRACE]
c.check(any(l.get("id") and "POST /v1/records 200" in l.get("msg", "") for l in traced),
        "the access line of the traced request carries its id and trace_id")
c.check(all(re.fullmatch(r"[0-9a-f]{32}", l["trace_id"]) for l in lines if "trace_id" in l),
        "every logged trace_id is 32 hex digits")
c.check(all("id" in l for l in lines if "trace_id" in l), "trace_id always next to the request id")
c.finish()
