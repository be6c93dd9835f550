"""Integration, end to end: an anomalous reading POSTed to `fleetlake serve` reaches the
notification receivers. A threshold rule (temperature > 50, critical) opens an alert; the alert
engine enqueues its notifications in the alert's transaction and wakes the dispatcher, which
POSTs them to a local HTTP receiver. Routing by fleet and severity: the webhook channel takes
everything, the PagerDuty channel only critical alerts about the seoul fleet, the vans channel
only the busan fleet, a channel for a fleet without these devices nothing — checked by what each
receiver path got. A normal reading then resolves the alert by itself, and the resolve reaches
the same channels (PagerDuty: event_action resolve with the trigger's dedup_key). The time from
each POST to the webhook's receipt is printed (the issue's alert-latency figure; the benchmark
under load lives in bench/)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("notify-e2e")


def pagerduty_answer(path):
    return (202, b'{"status":"success"}') if path == "/pd" else (200, b"ok")


rx = fltest.Receiver(pagerduty_answer).start()


def at(path):
    """(body, receipt time) of each POST to path."""
    return [(h.body, h.at) for h in rx.hits(path)]

base = f"http://127.0.0.1:{rx.port}"
SETS = ["--set", "process.batch_interval_s=1", "--set", "rule.anomaly.enabled=off",
        "--set", "fleet.seoul.devices=truck-*", "--set", "fleet.busan.devices=van-*",
        "--set", "rule.hot.type=threshold", "--set", "rule.hot.field=temperature",
        "--set", "rule.hot.value=50", "--set", "rule.hot.count=1",
        "--set", "rule.hot.clear_count=1", "--set", "rule.hot.severity=critical",
        "--set", f"channel.hook.url={base}/hook",
        "--set", "channel.pd.type=pagerduty", "--set", f"channel.pd.url={base}/pd",
        "--set", "channel.pd.routing_key=R0123456789abcdef0123456789abcde",
        "--set", "channel.pd.min_severity=critical", "--set", "channel.pd.fleets=seoul",
        "--set", f"channel.vans.url={base}/vans", "--set", "channel.vans.fleets=busan",
        "--set", "channel.slack.type=slack", "--set", f"channel.slack.url={base}/slack",
        "--set", "channel.slack.fleets=nobody", "--set", "fleet.nobody.devices=none-*"]
srv = fltest.Server(root + "/data", extra=SETS).start()


def post(dev, temp):
    t0 = time.time()  # milliseconds: two readings of a device never share a timestamp (dedup)
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0)) + ".%03dZ" % (int(t0 * 1000) % 1000)
    st, _, js = srv.post_records([fltest.record(dev, ts, temperature=temp)])
    assert st == 200 and js["accepted"] == 1, (st, js)
    return t0


def wait_n(path, n, timeout=30):
    return fltest.wait_for(lambda: len(at(path)) >= n, timeout=timeout, what=f"{n} at {path}")


latencies = []

# A hot truck (seoul): webhook and PagerDuty, not the vans channel.
t0 = post("truck-0001", 61.5)
c.check(wait_n("/hook", 1), "webhook got the truck's alert")
c.check(wait_n("/pd", 1), "pagerduty got the truck's alert (critical, seoul)")
if at("/hook"):
    body, t = at("/hook")[0]
    latencies.append(t - t0)
    c.eq(body.get("event"), "trigger", "webhook event")
    c.eq(body.get("rule"), "hot", "webhook rule")
    c.eq(body.get("device_id"), "truck-0001", "webhook device")
    c.eq(body.get("severity"), "critical", "webhook severity")
    c.eq(body.get("state"), "open", "webhook state")
    c.eq(body.get("value"), 61.5, "webhook value")
    c.eq(body.get("idempotency_key", "").split(":", 1)[1], body.get("dedup_key"),
         "idempotency key = outbox id : dedup_key")
if at("/pd"):
    pd = at("/pd")[0][0]
    c.eq(pd.get("event_action"), "trigger", "pd event_action")
    c.eq(pd.get("routing_key"), "R0123456789abcdef0123456789abcde", "pd routing_key")
    c.check(bool(pd.get("dedup_key")), "pd dedup_key")
    c.eq((pd.get("payload") or {}).get("source"), "truck-0001", "pd payload.source")
    c.eq((pd.get("payload") or {}).get("severity"), "critical", "pd payload.severity")
    c.check("temperature" in (pd.get("payload") or {}).get("summary", ""),
            f"pd payload.summary names the field: {(pd.get('payload') or {}).get('summary')}")

# A hot van (busan): webhook and vans, not PagerDuty (seoul only).
t1 = post("van-0007", 70)
c.check(wait_n("/hook", 2), "webhook got the van's alert")
c.check(wait_n("/vans", 1), "vans channel got the van's alert")
if len(at("/hook")) >= 2:
    latencies.append(at("/hook")[1][1] - t1)
    c.eq(at("/hook")[1][0].get("device_id"), "van-0007", "second webhook is the van")

# The truck cools down: the alert resolves by itself and the resolve follows the trigger.
post("truck-0001", 20.0)
c.check(wait_n("/pd", 2), "pagerduty got the resolve")
if len(at("/pd")) >= 2:
    res = at("/pd")[1][0]
    c.eq(res.get("event_action"), "resolve", "pd resolve")
    c.eq(res.get("dedup_key"), at("/pd")[0][0].get("dedup_key"), "resolve shares dedup_key")
    c.eq(sorted(res.keys()), ["dedup_key", "event_action", "routing_key"], "resolve fields")
c.check(fltest.wait_for(lambda: any(b.get("event") == "resolve" for b, _ in at("/hook")),
                        timeout=30, what="webhook resolve"), "webhook got the resolve")

time.sleep(1.0)  # whatever else was going to arrive has arrived
c.eq(len(at("/pd")), 2, "pagerduty: the truck's trigger and resolve only")
c.eq(len(at("/vans")), 1, "vans: the van's trigger only")
c.eq(len(at("/slack")), 0, "a channel for another fleet got nothing")
c.eq(len(at("/hook")), 3, "webhook: two triggers and a resolve, each once")

m = srv.metrics()
c.eq(m.get('fleetlake_notify_deliveries_total{channel="hook",outcome="delivered"}'), 3.0,
     "deliveries counted")
c.eq(m.get('fleetlake_notify_outbox_pending{channel="hook"}'), 0.0, "nothing pending")
for i, lat in enumerate(latencies):
    print(f"alert latency {i + 1} (POST -> webhook receiver): {lat * 1000:.0f} ms")
c.eq(srv.stop(), 0, "serve stops cleanly")
rx.stop()
if c.failed:
    print(srv.log_text())
c.finish()
