#!/usr/bin/env python3
"""bench/alert_latency.py FLEETLAKE_BINARY — alert latency under load (issue 7's benchmark).

serve (stream.durability=fsync, auth off) runs with one threshold rule that only probe devices
can trip (temperature > 1000, count 1, no cooldown), while `fleetlake sim` sends ordinary
readings at FL_BENCH_RATE (10,000) records/s in the background. Every FL_BENCH_INTERVAL_MS
(200) a probe POSTs one anomalous reading for a new device; the latency of each is measured
from just before its POST to:
  - the alert arriving on GET /v1/events (server-sent events), and
  - the webhook receiver getting the notification (when this build has [channel.NAME]
    sections: a local HTTP receiver is configured as a webhook channel).
Prints p50/p90/p99/max for each path. Target (issue 7): p99 <= 1 s to the webhook.

Environment: FL_BENCH_PROBES (100), FL_BENCH_RATE (10000), FL_BENCH_INTERVAL_MS (200).
Exit code 0 when every probe's alert arrived on each path measured, 1 otherwise."""
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROBES = int(os.environ.get("FL_BENCH_PROBES", "100"))
RATE = int(os.environ.get("FL_BENCH_RATE", "10000"))
INTERVAL = int(os.environ.get("FL_BENCH_INTERVAL_MS", "200")) / 1000.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_instance(binary, prefix):
    p = subprocess.run([binary, "serve", "--print-sample-config"], capture_output=True, text=True)
    return f"[{prefix}.NAME]" in p.stdout


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))] if v else float("nan")


arrivals = {"events": {}, "webhook": {}}
lock = threading.Lock()


def note(path, device):
    now = time.monotonic()
    with lock:
        arrivals[path].setdefault(device, now)


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            js = json.loads(body)
            dev = js.get("device_id") or js.get("alert", {}).get("device_id")
            if dev and js.get("state", "open") == "open":
                note("webhook", dev)
        except ValueError:
            pass
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def listen_events(port, stop):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/v1/events")
    r = c.getresponse()
    buf = b""
    while not stop.is_set():
        chunk = r.read1(65536)
        if not chunk:
            return
        buf += chunk
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            for line in frame.decode().splitlines():
                if line.startswith("data: "):
                    a = json.loads(line[6:])
                    if a["state"] == "open" and a["device_id"]:
                        note("events", a["device_id"])


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    tmp = tempfile.mkdtemp(prefix="fl-alert-bench-")
    port = free_port()
    hook_port = free_port()
    webhook = has_instance(binary, "channel")
    cmd = [binary, "serve", "--data", os.path.join(tmp, "data"), "--listen", f"127.0.0.1:{port}",
           "--set", "security.auth=off", "--set", "rule.anomaly.enabled=off",
           "--set", "fleet.probes.devices=probe-*",
           "--set", "rule.probe.type=threshold", "--set", "rule.probe.field=temperature",
           "--set", "rule.probe.value=1000", "--set", "rule.probe.cooldown_s=0",
           "--set", "rule.probe.severity=critical", "--set", "rule.probe.fleets=probes"]
    if webhook:
        cmd += ["--set", "channel.bench.type=webhook",
                "--set", f"channel.bench.url=http://127.0.0.1:{hook_port}/hook",
                "--set", "channel.bench.min_severity=info",
                # 5 probes a second is 300 a minute: past the default rate_per_min (60) the
                # rest would wait in the outbox, which measures the limit, not the latency.
                "--set", "channel.bench.rate_per_min=0"]
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    log = open(os.path.join(tmp, "serve.log"), "wb")
    srv = subprocess.Popen(cmd, stdout=log, stderr=log)
    sim = None
    stop = threading.Event()
    try:
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        threading.Thread(target=listen_events, args=(port, stop), daemon=True).start()
        duration = int(PROBES * INTERVAL) + 30
        sim = subprocess.Popen([binary, "sim", "--url", f"http://127.0.0.1:{port}", "--rate",
                                str(RATE), "--devices", "1000", "--batch", "100", "--connections",
                                "2", "--duration", f"{duration}s", "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # the load reaches its rate
        sent = {}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(PROBES):
            dev = f"probe-{i:05d}"
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
            body = json.dumps({"device_id": dev, "timestamp": ts, "temperature": 5000.0})
            t0 = time.monotonic()
            c.request("POST", "/v1/records", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                print(f"probe {dev}: HTTP {r.status}", file=sys.stderr)
                return 1
            sent[dev] = t0
            time.sleep(INTERVAL)
        time.sleep(3)
        ok = True
        print(f"alert latency: {PROBES} probes every {INTERVAL * 1000:.0f} ms under "
              f"{RATE:,} records/s of background load (fsync durability)")
        print(f"{'path':<22} {'arrived':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        paths = ["events"] + (["webhook"] if webhook else [])
        for path in paths:
            with lock:
                lat = [(arrivals[path][d] - t0) * 1000 for d, t0 in sent.items()
                       if d in arrivals[path]]
            n = len(lat)
            ok &= n == len(sent)
            label = "POST -> /v1/events" if path == "events" else "POST -> webhook"
            print(f"{label:<22} {n:>8} {pct(lat, .5):>8.1f} {pct(lat, .9):>8.1f} "
                  f"{pct(lat, .99):>8.1f} {max(lat) if lat else float('nan'):>8.1f}")
        if not webhook:
            print("(this build has no [channel.NAME] sections: the webhook path is not measured)")
        return 0 if ok else 1
    finally:
        stop.set()
        if sim and sim.poll() is None:
            sim.terminate()
            sim.wait()
        srv.terminate()
        srv.wait(timeout=60)
        hook.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
