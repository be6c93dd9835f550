#!/usr/bin/env python3
"""bench/dashboard.py BUILD_DIR — how fast the dashboard's pages are ready (issue 8's benchmark).

A fleet of FL_BENCH_DEVICES (1,000) trucks with 30 days of history at one reading per hour
per truck (720,000 readings, sent by `fleetlake sim` as fast as the server takes them), then
`fleetlake summarize` over those 30 days, so hourly_summary holds 720 hours x 1,000 devices.
Then tests/browser/dashboard_timing.mjs (playwright-core, Debian's headless Chromium) loads,
FL_BENCH_RUNS (7) times each, in a fresh tab signed in with an API key:
  - the fleet page, ready when every device is counted, listed and drawn on the map;
  - a device page over 30 days (#/device/truck-0001/30d: hourly_summary + the open hour),
    ready when its three charts are drawn;
from the navigation's start (performance.timeOrigin) to ready, and prints min/median/max.
Targets (issue 8): fleet page <= 1 s with 1,000 devices, device page over 30 days <= 1 s.
Needs scripts/install-web-npm.sh --test. Exit code 1 when a target is missed."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

build = sys.argv[1] if len(sys.argv) > 1 else "build-release"
binary = os.path.join(build, "fleetlake")
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
DEVICES = int(os.environ.get("FL_BENCH_DEVICES", "1000"))
DAYS = 30
RUNS = os.environ.get("FL_BENCH_RUNS", "7")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, key):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


tmp = tempfile.mkdtemp(prefix="fl-bench-dashboard-", dir=os.environ.get("FL_BENCH_TMP"))
data = os.path.join(tmp, "d")
port = free_port()
url = f"http://127.0.0.1:{port}"
log = open(os.path.join(tmp, "serve.log"), "wb")
srv = subprocess.Popen([binary, "serve", "--data", data, "--listen", f"127.0.0.1:{port}",
                        "--set", "stream.durability=os", "--set", "throttle.enabled=off",
                        "--set", "process.batch_interval_s=1"], stdout=log, stderr=log)
try:
    wait_for(lambda: subprocess.run(["curl", "-s", "-o", "/dev/null", url + "/healthz"]).returncode == 0,
             30, "serve")

    def key(role):
        p = subprocess.run([binary, "keys", "create", "--data", data, "--role", role],
                           capture_output=True, text=True, check=True)
        return re.search(r"key:\s*(flk_\S+)", p.stdout).group(1)

    eng, dev = key("data_engineer"), key("device")
    records = DEVICES * DAYS * 24
    t0 = time.time()
    subprocess.run([binary, "sim", "--url", url, "--devices", str(DEVICES), "--interval-ms", "3600000",
                    "--records", str(records), "--duration", "0", "--header", "Authorization: Bearer " + dev],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"history: {records:,} readings of {DEVICES:,} devices over {DAYS} days sent in {time.time() - t0:.1f} s")
    wait_for(lambda: len(get(url + "/v1/devices?limit=1000", eng)["devices"]) >= min(DEVICES, 1000),
             300, "devices processed")
    wait_for(lambda: sum(t["rows"] for t in get(url + "/v1/tables", eng)["tables"]
                         if t["name"] == "processed_sensor_data") >= records * 0.99, 600, "processed rows in the lake")
    now = time.time()
    frm = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now - (DAYS + 1) * 86400))
    to = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now))
    t0 = time.time()
    p = subprocess.run([binary, "summarize", "--data", data, "--from", frm, "--to", to],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"summarize failed: {p.stderr[-2000:]}")
    rows = [t["rows"] for t in get(url + "/v1/tables", eng)["tables"] if t["name"] == "hourly_summary"][0]
    print(f"hourly_summary: {rows:,} device-hours computed in {time.time() - t0:.1f} s")
    if os.environ.get("FL_BENCH_PAUSE"):  # keep the server for a manual look
        input(f"server at {url}, key {eng}; Enter to measure ")
    env = dict(os.environ, FL_URL=url, FL_KEY=eng, FL_DEVICES=str(DEVICES), FL_RUNS=RUNS)
    p = subprocess.run(["node", os.path.join(root, "tests", "browser", "dashboard_timing.mjs")], env=env)
    rc = p.returncode
finally:
    srv.terminate()
    srv.wait(60)
    log.close()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(rc)
