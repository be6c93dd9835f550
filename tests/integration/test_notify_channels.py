"""Integration: notification channels and the outbox, with real receivers. A local HTTP
receiver (stdlib http.server) stands in for a generic webhook, a Slack incoming webhook and the
PagerDuty Events API; a local SMTP server (aiosmtpd, Debian's python3-aiosmtpd) receives the
email. serve runs with four channels; notifications are put in meta.db's notify_outbox exactly
as the alert engine's fl_notify_enqueue writes them (one row per channel, the alert JSON as
payload; routing itself is covered by tests/unit/notify), and the real dispatcher delivers them.

Checked: each channel's payload fields (PagerDuty routing_key, event_action, dedup_key,
payload.summary/severity/source; Slack text and colour; the webhook's alert JSON + event +
idempotency key; the email's envelope, subject and body); STARTTLS required means nothing is
sent in clear to a server without it; receiver down then up -> delivered after retries, once;
kill -9 of serve with pending notifications -> delivered after restart, once, and nothing
already answered 2xx is sent again; a channel's rate limit holds the rest in the outbox; a
bad channel stops serve with a message naming the channel and key; /metrics counts it all."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

try:
    import aiosmtpd.controller  # noqa: E402
except ImportError:
    # Debian's python3-aiosmtpd lives in the system interpreter's dist-packages; a python3 from
    # elsewhere on PATH (pyenv) does not see it.
    sys.path.append("/usr/lib/python3/dist-packages")
    import aiosmtpd.controller  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("notify")
data = root + "/data"


# ---- receivers ---------------------------------------------------------------------------------

def pagerduty_answer(path):
    return (202, b'{"status":"success"}') if path == "/pd" else (200, b"ok")


def idempotency_keys():
    return [h.headers.get("Idempotency-Key") for h in rx.hits()]


class MailHandler:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos),
                           envelope.content.decode("utf-8", "replace")))
        return "250 Message accepted for delivery"


rx = fltest.Receiver(pagerduty_answer).start()
mail = MailHandler()
smtp_port = fltest.free_port()
smtp = aiosmtpd.controller.Controller(mail, hostname="127.0.0.1", port=smtp_port)
smtp.start()

base = f"http://127.0.0.1:{rx.port}"
conf = os.path.join(root, "fleetlake.conf")
with open(conf, "w") as f:
    f.write(f"""
[outbox]
poll_interval_ms = 100
retry_initial_ms = 200
retry_max_s = 1

[fleet.seoul]
devices = truck-*

[channel.hook]
type = webhook
url = {base}/hook

[channel.slack]
type = slack
url = {base}/slack
min_severity = warning

[channel.pd]
type = pagerduty
url = {base}/pd
routing_key = R0123456789abcdef0123456789abcde
min_severity = critical
fleets = seoul

[channel.mail]
type = email
url = smtp://127.0.0.1:{smtp_port}
from = fleetlake@example.net
to = ops@example.net, fleet@example.net
starttls = off

[channel.mailtls]
type = email
url = smtp://127.0.0.1:{smtp_port}
from = fleetlake@example.net
to = secure@example.net

[channel.slow]
type = webhook
url = {base}/slow
rate_per_min = 3
""")


def alert(aid, severity="critical", device="truck-0042", state="open"):
    return {"id": aid, "rule": "engine_hot", "type": "threshold", "severity": severity,
            "state": state, "dedup_key": f"engine_hot:{device}", "device_id": device,
            "fleet": "seoul", "summary": f"engine_temp 131.5 > 120 on {device}", "value": 131.5,
            "threshold": 120, "opened_at": "2026-11-25T07:00:00.000000Z",
            "updated_at": "2026-11-25T07:00:01.000000Z", "acknowledged_at": None,
            "resolved_at": None, "resolved_by": None, "notify_count": 1, "trace_id": None}


def enqueue(channel, a, event="trigger"):
    """One outbox row, as fl_notify_enqueue writes it. Returns its id."""
    return fltest.outbox_enqueue(data, channel, a, event)


def outbox(nid):
    return fltest.outbox_row(data, nid) or None


def wait_state(nid, state, timeout=30):
    return fltest.wait_for(lambda: (outbox(nid) or {}).get("state") == state, timeout=timeout,
                           what=f"notification {nid} {state}")


# ---- a bad channel stops serve with a clear message -------------------------------------------
bad = fltest.Server(root + "/bad", extra=["--set", "channel.pager.type=pagerduty",
                                          "--set", "channel.pager.min_severity=critical"])
bad.start(wait=False)
rc = bad.proc.wait(timeout=60)
bad.log.close()
c.check(rc != 0, f"serve refuses a pagerduty channel without routing_key (exit {rc})")
c.check("[channel.pager] routing_key: required" in bad.log_text(),
        "the error names the channel and the key")

# ---- every channel's payload ------------------------------------------------------------------
srv = fltest.Server(data, extra=["--config", conf]).start()
ids = {ch: enqueue(ch, alert(1)) for ch in ("hook", "slack", "pd", "mail")}
ids["pd_resolve"] = enqueue("pd", alert(1, state="resolved"), "resolve")
for name, nid in ids.items():
    c.check(wait_state(nid, "delivered"), f"{name} notification {nid} delivered")

hooks = rx.bodies("/hook")
c.eq(len(hooks), 1, "webhook received once")
if hooks:
    h = hooks[0]
    c.eq(h.get("event"), "trigger", "webhook event")
    c.eq(h.get("id"), 1, "webhook carries the alert JSON (id)")
    c.eq(h.get("dedup_key"), "engine_hot:truck-0042", "webhook dedup_key")
    c.eq(h.get("idempotency_key"), f"{ids['hook']}:engine_hot:truck-0042", "idempotency key")
    c.eq(h.get("notification_id"), ids["hook"], "notification id")
    c.eq(h.get("value"), 131.5, "webhook value")

slacks = rx.bodies("/slack")
c.eq(len(slacks), 1, "slack received once")
if slacks:
    s = slacks[0]
    c.eq(s.get("text"), "CRITICAL engine_hot on truck-0042", "slack text")
    att = (s.get("attachments") or [{}])[0]
    c.eq(att.get("color"), "#d00000", "slack colour of a critical alert")
    c.check("engine_temp 131.5 &gt; 120" in json.dumps(att.get("blocks")),
            "slack blocks carry the escaped summary")

pds = rx.bodies("/pd")
c.eq(len(pds), 2, "pagerduty received trigger and resolve")
if len(pds) == 2:
    trig = next((p for p in pds if p.get("event_action") == "trigger"), {})
    res = next((p for p in pds if p.get("event_action") == "resolve"), {})
    c.eq(trig.get("routing_key"), "R0123456789abcdef0123456789abcde", "pd routing_key")
    c.eq(trig.get("dedup_key"), "engine_hot:truck-0042", "pd dedup_key")
    p = trig.get("payload") or {}
    c.eq(p.get("summary"), "engine_temp 131.5 > 120 on truck-0042", "pd payload.summary")
    c.eq(p.get("severity"), "critical", "pd payload.severity")
    c.eq(p.get("source"), "truck-0042", "pd payload.source")
    c.eq(p.get("timestamp"), "2026-11-25T07:00:01.000000Z", "pd payload.timestamp")
    c.eq((p.get("custom_details") or {}).get("rule"), "engine_hot", "pd custom_details")
    c.eq(sorted(res.keys()), ["dedup_key", "event_action", "routing_key"],
         "pd resolve carries only routing_key, event_action, dedup_key")
    c.eq(res.get("dedup_key"), "engine_hot:truck-0042", "pd resolve shares the dedup_key")

c.check(fltest.wait_for(lambda: len(mail.mails) >= 1, timeout=10, what="mail"), "mail received")
if mail.mails:
    frm, rcpts, text = mail.mails[0]
    c.eq(frm, "fleetlake@example.net", "mail envelope from")
    c.eq(sorted(rcpts), ["fleet@example.net", "ops@example.net"], "mail envelope recipients")
    c.check("Subject: [fleetlake] CRITICAL engine_hot on truck-0042" in text,
            "mail subject names severity, rule and device")
    c.check("engine_temp 131.5 > 120 on truck-0042" in text, "mail body has the summary")
    c.check("Threshold:   120" in text, "mail body has the threshold")

# STARTTLS required (the default): a server without it gets nothing, the row waits.
tls_id = enqueue("mailtls", alert(2))
c.check(fltest.wait_for(lambda: (outbox(tls_id) or {}).get("attempts", 0) >= 2, timeout=30,
                        what="mailtls attempts"), "STARTTLS channel retried")
row = outbox(tls_id)
c.eq(row["state"], "pending", "STARTTLS channel: not delivered in clear")
c.check(not any("secure@example.net" in r for _, r, _ in mail.mails), "no mail sent in clear")

# ---- receiver down then up: delivered after retries, once -------------------------------------
rx.stop()
down_id = enqueue("hook", alert(3, device="truck-0003"))
c.check(fltest.wait_for(lambda: (outbox(down_id) or {}).get("attempts", 0) >= 2, timeout=30,
                        what="retries while down"), "retried while the receiver is down")
c.eq(outbox(down_id)["state"], "pending", "still pending while down")
rx.start()
c.check(wait_state(down_id, "delivered"), "delivered once the receiver is back")
time.sleep(1.0)  # several poll intervals: nothing is sent again
c.eq(idempotency_keys().count(f"{down_id}:engine_hot:truck-0003"), 1, "received exactly once")

# ---- kill -9 with pending notifications -------------------------------------------------------
rx.stop()
pending = [enqueue("hook", alert(10 + i, device=f"truck-01{i}")) for i in range(3)]
c.check(fltest.wait_for(lambda: all((outbox(n) or {}).get("attempts", 0) >= 1 for n in pending),
                        timeout=30, what="attempted"), "pending notifications attempted")
srv.kill9()
rx.start()
time.sleep(0.5)
c.eq(sum(1 for k in idempotency_keys() if k and int(k.split(":")[0]) in pending), 0,
     "nothing delivered while serve is down")
srv = fltest.Server(data, extra=["--config", conf])
srv.start()
for n in pending:
    c.check(wait_state(n, "delivered"), f"notification {n} delivered after restart")
time.sleep(1.0)
keys = idempotency_keys()
for n in pending:
    c.eq(sum(1 for k in keys if k and k.startswith(f"{n}:")), 1, f"notification {n} once")
# Nothing already answered 2xx before the kill was sent again.
c.eq(len(rx.bodies("/hook")), 1 + 1 + 3, "webhook: no repeats across the restart")
c.eq(len(rx.bodies("/pd")), 2, "pagerduty: no repeats across the restart")
c.eq(len(rx.bodies("/slack")), 1, "slack: no repeats across the restart")

# ---- rate limit: 3 a minute ---------------------------------------------------------------------
slow = [enqueue("slow", alert(20 + i, device=f"truck-02{i}")) for i in range(5)]
c.check(fltest.wait_for(lambda: len(rx.bodies("/slow")) >= 3, timeout=30, what="3 sent"),
        "rate-limited channel sends its first 3")
time.sleep(1.5)
c.eq(len(rx.bodies("/slow")), 3, "no more than rate_per_min = 3 within the minute")
states = [outbox(n)["state"] for n in slow]
c.eq(states.count("pending"), 2, "the rest waits in the outbox")

m = srv.metrics()
c.eq(m.get('fleetlake_notify_outbox_pending{channel="slow"}'), 2.0, "pending gauge")
c.check(m.get('fleetlake_notify_deliveries_total{channel="hook",outcome="delivered"}', 0) >= 3,
        "deliveries counted by channel and outcome")
c.check(m.get('fleetlake_notify_failures_total{channel="mailtls",reason="tls"}', 0) >= 1,
        "STARTTLS failures counted with reason tls")
c.check(m.get("fleetlake_notify_delivery_seconds_count", 0) >= 3, "delivery latency observed")

c.eq(srv.stop(), 0, "serve stops cleanly with notifications pending")
rx.stop()
smtp.stop()
if c.failed:
    print(srv.log_text())
c.finish()
