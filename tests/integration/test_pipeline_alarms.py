#!/usr/bin/env python3
"""The built-in pipeline alarms (the reference's §10.2 targets) fire when their condition is
forced on a real `fleetlake serve` — each one from its own signal, not a stub:

- pipeline_consumer_lag and pipeline_freshness: a 10 s micro-batch leaves a backlog of records
  uncommitted and processed data seconds behind (thresholds lowered to 100 records and 3 s,
  since a test cannot wait for a million records or 30 s of lag);
- pipeline_availability: real 503 answers (more event streams than server.max_event_streams);
- pipeline_fsync_latency: real stream fsyncs, against a threshold of 0 ms;
- pipeline_free_disk: the data directory's real free fraction, against a threshold just above
  what `df` says (the value in the alert matches it);
- pipeline_error_rate is forced by rejected records in test_alerts.py.
Each opens one alert with the built-in severity, no device, and a value that meets it.
(after_s is 1 s everywhere: the built-in waits of 60-300 s belong to production.) The 5xx
answers and fsyncs come right after start, before the engine's first tick: the rate signals
count from the process's start."""
import http.client
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

t = fltest.Checks()
root = fltest.scratch_dir("pipeline-alarms")
D = os.path.join(root, "d")
os.makedirs(D, exist_ok=True)
usage = shutil.disk_usage(D)
free = usage.free / usage.total
SETS = ["--set", "process.batch_interval_s=10", "--set", "rule.anomaly.enabled=off",
        "--set", "server.max_event_streams=1",
        "--set", "rule.pipeline_consumer_lag.value=100",
        "--set", "rule.pipeline_freshness.value=3",
        "--set", "rule.pipeline_fsync_latency.value=0",
        "--set", f"rule.pipeline_free_disk.value={min(free + 0.05, 1.0):.4f}"]
for r in ("consumer_lag", "freshness", "availability", "fsync_latency", "free_disk", "error_rate"):
    SETS += ["--set", f"rule.pipeline_{r}.after_s=1"]
srv = fltest.Server(D, extra=SETS).start()


def alarm(name):
    st, _, body = srv.request("GET", f"/v1/alerts?rule={name}")
    assert st == 200, (st, body)
    return json.loads(body)["alerts"]


# A backlog: 500 readings the 10 s micro-batch has not committed yet, fsynced into the stream.
now = time.time()
recs = [fltest.record(f"truck-{i % 50}", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 60))
                      + ".%03dZ" % (i % 1000)) for i in range(500)]
for k in range(0, 500, 100):
    st, _, js = srv.post_records(recs[k:k + 100])
    assert st == 200 and js["accepted"] == 100, (st, js)

# 5xx answers: one event stream is allowed; the next ones get 503 busy.
held = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
held.request("GET", "/v1/events")
t.eq(held.getresponse().status, 200, "the one allowed event stream")
busy = [srv.request("GET", "/v1/events")[0] for _ in range(20)]
t.eq(set(busy), {503}, "more event streams: 503 busy (real 5xx answers)")

WANT = {  # rule: (severity, check of the value)
    "pipeline_consumer_lag": ("warning", lambda v: v > 100),
    "pipeline_freshness": ("critical", lambda v: v > 3),
    "pipeline_availability": ("critical", lambda v: v < 0.999),
    "pipeline_fsync_latency": ("warning", lambda v: v > 0),
    "pipeline_free_disk": ("critical", lambda v: abs(v - free) < 0.02),
}
for name, (severity, ok) in WANT.items():
    got = fltest.wait_for(lambda: alarm(name), timeout=30, what=name)
    a = got[0]
    t.eq((len(got), a["state"], a["severity"], a["type"], a["device_id"]),
         (1, "open", severity, "pipeline", None), f"{name}: one open alarm, built-in severity")
    t.check(ok(a["value"]), f"{name}: its value {a['value']} meets the condition ({a['summary']})")
held.close()
srv.stop()
t.finish()
