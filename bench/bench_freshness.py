#!/usr/bin/env python3
"""bench_freshness.py BIN — freshness of processed-data under load (python3 stdlib only).

Starts `BIN serve` (scratch data dir, --shards 4, default 10 s process.batch_interval_s unless
FL_BATCH_S says otherwise) and `BIN sim --rate 50000` against it for FL_BENCH_SECONDS (default
60). Meanwhile it polls GET /v1/devices/{id} (the API's view of one device: how old its latest
reading is) and /metrics every second. At the end it reports, from the server's own
histogram fleetlake_process_freshness_seconds (per record: stream arrival -> commit in
processed-data), p50/p90/p99 by linear interpolation inside the buckets; the processing lag
(fleetlake_process_lag_records / _seconds, max over shards and over the run); the records
processed per second; and the age of /v1/devices' latest reading (p50/p99 over the polls).
Target: freshness p99 <= 15 s with 10 s batches."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            try:
                out[name] = float(v)
            except ValueError:
                pass
    return out


def histogram_quantile(m, name, q):
    buckets = []
    for k, v in m.items():
        mm = re.match(re.escape(name) + r'_bucket\{le="([^"]+)"\}$', k)
        if mm:
            le = float("inf") if mm.group(1) == "+Inf" else float(mm.group(1))
            buckets.append((le, v))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_n = 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            if le == float("inf"):
                return prev_le
            frac = (rank - prev_n) / (n - prev_n) if n > prev_n else 0
            return prev_le + (le - prev_le) * frac
        prev_le, prev_n = le, n
    return prev_le


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build-release/fleetlake"
    seconds = int(os.environ.get("FL_BENCH_SECONDS", "60"))
    rate = int(os.environ.get("FL_BENCH_RATE", "50000"))
    batch_s = os.environ.get("FL_BATCH_S", "10")
    root = tempfile.mkdtemp(prefix="fl-fresh-")
    port = free_port()
    log = open(os.path.join(root, "serve.log"), "wb")
    srv = subprocess.Popen([binary, "serve", "--data", os.path.join(root, "data"), "--listen",
                            f"127.0.0.1:{port}", "--shards", "4", "--set", "security.auth=off",
                            "--set",
                            f"process.batch_interval_s={batch_s}"], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if get(base + "/readyz"):
                    break
            except OSError:
                time.sleep(0.05)
        sim = subprocess.Popen([binary, "sim", "--url", base, "--rate", str(rate), "--duration",
                                f"{seconds}s", "--devices", "1000", "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ages, lag_rec, lag_s, worst = [], 0.0, 0.0, []
        t0 = time.time()
        m0 = None
        while sim.poll() is None:
            time.sleep(1)
            try:
                m = parse_metrics(get(base + "/metrics"))
                if m0 is None:
                    m0 = (time.time(), m.get('fleetlake_process_records_total{outcome="processed"}', 0))
                lag_rec = max([lag_rec] + [v for k, v in m.items()
                                           if k.startswith("fleetlake_process_lag_records")])
                lag_s = max([lag_s] + [v for k, v in m.items()
                                       if k.startswith("fleetlake_process_lag_seconds")])
                worst += [v for k, v in m.items()
                          if k.startswith("fleetlake_process_last_commit_max_freshness_seconds")
                          and v > 0]
                d = json.loads(get(base + "/v1/devices/truck-0007"))
                ts = datetime.fromisoformat(d["latest"]["timestamp"].replace("Z", "+00:00"))
                ages.append(time.time() - ts.replace(tzinfo=timezone.utc).timestamp())
            except (OSError, ValueError, KeyError, TypeError):
                pass
        elapsed = time.time() - t0
        # Let the last batch commit, then read the histogram.
        time.sleep(float(batch_s) + 2)
        m = parse_metrics(get(base + "/metrics"))
        done = m.get('fleetlake_process_records_total{outcome="processed"}', 0)
        rate_done = (done - m0[1]) / (time.time() - m0[0]) if m0 else float("nan")
        h = "fleetlake_process_freshness_seconds"
        q = {p: histogram_quantile(m, h, p) for p in (0.5, 0.9, 0.99)}
        print(f"fleetlake freshness: {seconds} s of sim --rate {rate} (1000 devices), serve "
              f"--shards 4, process.batch_interval_s={batch_s}, {os.cpu_count()} cores")
        print(f"  records processed           {int(done)} ({rate_done:,.0f}/s averaged from the "
              f"first poll to the end)")
        print(f"  freshness (arrival->commit) p50 {q[0.5]:.2f} s  p90 {q[0.9]:.2f} s  "
              f"(histogram, count {int(m.get(h + '_count', 0))})")
        print(f"  oldest record per commit    p50 {pct(worst, 0.5):.2f} s  max "
              f"{max(worst) if worst else float('nan'):.2f} s (gauge sampled each second)")
        in10 = m.get(h + '_bucket{le="10"}', 0) / max(1, m.get(h + '_count', 1))
        print(f"  histogram buckets           <=10 s: {in10 * 100:.2f} % of records")
        top = max(worst) if worst else float("nan")
        p99 = (f"{q[0.99]:.2f} s" if in10 >= 0.99 else
               f"in (10 s, {top:.2f} s] (the worst commit bounds it; interpolating the 10-30 s "
               f"bucket would say {q[0.99]:.2f} s)")
        print(f"  freshness p99               {p99}")
        print(f"  processing lag (max)        {lag_rec:.0f} records, {lag_s:.1f} s (uncommitted "
              f"records behind the head: includes the up to one batch interval being buffered)")
        print(f"  /v1/devices latest age      p50 {pct(ages, 0.5):.2f} s  p99 {pct(ages, 0.99):.2f} s"
              f" over {len(ages)} polls (API shows a reading as soon as it is processed)")
        print(f"  run wall time               {elapsed:.0f} s")
        # The histogram's buckets jump from 10 s to 30 s, so its interpolated p99 is blurred;
        # the p99 is <= 15 s for sure when 99 % are <= 10 s or no commit's oldest record
        # exceeded 15 s.
        ok = in10 >= 0.99 or (worst and max(worst) <= 15 * float(batch_s) / 10)
        print(f"  target p99 <= {15 * float(batch_s) / 10:g} s: {'met' if ok else 'NOT met'}")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
