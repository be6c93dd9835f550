#!/usr/bin/env python3
"""bench/tls.py FLEETLAKE_BINARY — ingest over HTTPS versus plain HTTP, on the same load.

Called by bench/run.sh (`make bench`, FL_BENCH_ONLY=tls); python3 standard library only.

For each load, `fleetlake serve` (stream.durability=fsync and security.auth=off, as
bench/e2e.py: only TLS differs between the two sides) is started on a
temp data dir twice per round — plain HTTP, then HTTPS with a self-signed ECDSA P-256
certificate from scripts/gen-cert.sh (TLS 1.3 is negotiated, TLS_AES_256_GCM_SHA384) — and
`fleetlake sim` sends the same records (same seed, devices, batch, connections) over
keep-alive connections, with --cacert for HTTPS. Rounds alternate the order (plain first,
then HTTPS first) so drift from other work on the machine does not favour one side.
Loads:
  - gateway batches: 500 records per request (~114 KB), as bench/e2e.py;
  - device-sized: 10 records per request (~2.3 KB): TLS's per-request record overhead shows.
Checked per run: nothing rejected, the server's accepted counter equals the sim's acked count,
SIGTERM exits 0. Reported: acked records/s, latency, server CPU per run; the HTTPS/HTTP ratio
of the mean records/s per load.

Environment:
  FL_BENCH_SECONDS      duration of each run (60; bench/run.sh passes FL_BENCH_TLS_SECONDS,
                        default 20)
  FL_BENCH_CONNECTIONS  keep-alive connections (4)
  FL_BENCH_ROUNDS       rounds (2: plain, TLS, then TLS, plain)
  FL_BENCH_DURABILITY   stream.durability (fsync); "os" takes the disk out, so the runs are
                        CPU-bound and TLS's cost shows fully in records/s

Exit code: 0 all runs passed their checks, 1 a run failed, 2 usage.
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (run_sim, accepted_ok, stop, tail, table, free_port)

SECONDS = int(os.environ.get("FL_BENCH_SECONDS", "60"))
CONNECTIONS = int(os.environ.get("FL_BENCH_CONNECTIONS", "4"))
ROUNDS = int(os.environ.get("FL_BENCH_ROUNDS", "2"))
DURABILITY = os.environ.get("FL_BENCH_DURABILITY", "fsync")
LOADS = (("gateway batches (500/request)", 500), ("device-sized (10/request)", 10))
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
log = e2e.log


def get(url, ctx, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(url, ctx, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise e2e.RunFailed(f"serve exited {proc.returncode} before it was ready")
        try:
            if get(url + "/readyz", ctx, timeout=2)[0] == 200:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise e2e.RunFailed(f"{url}/readyz did not answer 200 within {timeout} s")


def one_run(binary, cert, key, tls, batch):
    """serve + one sim run; returns e2e.run_sim's dict plus checks."""
    tmp = tempfile.mkdtemp(prefix="fl-bench-tls-")
    port = e2e.free_port()
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    cmd = [binary, "serve", "--data", os.path.join(tmp, "data"), "--listen", f"127.0.0.1:{port}",
           "--set", f"stream.durability={DURABILITY}", "--set", "security.auth=off"]
    if tls:
        cmd += ["--set", f"tls.cert_file={cert}", "--set", f"tls.key_file={key}"]
    ctx = ssl.create_default_context(cafile=cert) if tls else None
    logpath = os.path.join(tmp, "serve.log")
    proc = None
    res = {"system": f"fleetlake {scheme}", "connections": CONNECTIONS, "threads": "default"}
    try:
        with open(logpath, "w") as lf:
            proc = subprocess.Popen(cmd, stdout=lf, stderr=lf)
        wait_ready(url, ctx, proc)
        e2e.BATCH = batch  # run_sim reads the module's batch size
        extra = ["--cacert", cert] if tls else []
        res.update(e2e.run_sim(binary, url, proc.pid, SECONDS, CONNECTIONS, extra))
        res["system"] = f"fleetlake {scheme}"
        status, body = get(url + "/metrics", ctx)
        accepted = e2e.accepted_ok(body.decode()) if status == 200 else None
        rc = e2e.stop(proc, "fleetlake serve")
        problems = []
        if res["records_failed"] or res["records_acked"] == 0:
            problems.append(f'{res["records_failed"]} failed, {res["records_acked"]} acked')
        if accepted != res["records_acked"]:
            problems.append(f"server counted {accepted} accepted, sim saw {res['records_acked']}")
        if rc != 0:
            problems.append(f"serve exited {rc} after SIGTERM")
        res["problems"] = problems
    except (e2e.RunFailed, subprocess.TimeoutExpired, OSError) as ex:
        res["problems"] = [str(ex)]
    finally:
        if res.get("problems"):
            log("  serve log tail:\n" + e2e.tail(logpath))
        if proc is not None and proc.poll() is None:
            e2e.stop(proc, "fleetlake serve")
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def summarize(name, runs):
    """Throughput ratio (mean records/s, and each round's pair) and server CPU per record:
    the CPU figure is the cost of TLS itself and moves less with the disk and the other work
    on the machine than records/s does."""
    ok = [r for r in runs if "records_per_s" in r and r["records_per_s"] > 0]
    side = {tls: [r for r in ok if r["system"].endswith("https" if tls else "http")]
            for tls in (False, True)}
    if not side[False] or not side[True]:
        return f"{name}: not enough successful runs for a ratio"
    rate = {t: sum(r["records_per_s"] for r in side[t]) / len(side[t]) for t in side}
    cpu_us = {t: sum(1e6 * r["server_cpu_cores"] / r["records_per_s"] for r in side[t])
              / len(side[t]) for t in side}
    pairs = [ok[i + 1]["records_per_s"] / ok[i]["records_per_s"]
             if ok[i]["system"].endswith("http") else
             ok[i]["records_per_s"] / ok[i + 1]["records_per_s"]
             for i in range(0, len(ok) - 1, 2) if ok[i]["system"] != ok[i + 1]["system"]]
    return (f"{name}: HTTPS {rate[True]:,.0f} vs HTTP {rate[False]:,.0f} records/s (means of "
            f"{len(side[True])}/{len(side[False])} runs): ratio HTTPS/HTTP = "
            f"{rate[True] / rate[False]:.2f} (per round: "
            f"{', '.join(f'{x:.2f}' for x in pairs)}; median "
            f"{sorted(pairs)[len(pairs) // 2] if pairs else 0:.2f}); server CPU per record "
            f"{cpu_us[True]:.2f} vs {cpu_us[False]:.2f} us = {cpu_us[True] / cpu_us[False]:.2f}x")


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    certdir = tempfile.mkdtemp(prefix="fl-bench-cert-")
    subprocess.run(["bash", os.path.join(SOURCE, "scripts", "gen-cert.sh"), certdir],
                   check=True, capture_output=True)
    cert, key = os.path.join(certdir, "tls", "cert.pem"), os.path.join(certdir, "tls", "key.pem")
    log(f"stream.durability={DURABILITY}, "
        f"{SECONDS} s per run, {CONNECTIONS} keep-alive connections, {e2e.DEVICES} devices, "
        f"{ROUNDS} rounds alternating the order; load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    all_runs, summary = [], []
    for name, batch in LOADS:
        log(f"\n{name}:")
        runs = []
        for r in range(ROUNDS):
            for tls in ((False, True) if r % 2 == 0 else (True, False)):
                res = one_run(binary, cert, key, tls, batch)
                res["load"] = name
                runs.append(res)
                log(e2e.table([res]).split("\n")[-1])
        log(e2e.table(runs))
        line = summarize(name, runs)
        summary.append(line)
        log(line)
        all_runs += runs
    log("\n" + "\n".join(summary))
    log(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on the machine skews the figures)")
    shutil.rmtree(certdir, ignore_errors=True)
    failed = [r for r in all_runs if r.get("problems")]
    for r in failed:
        log(f'FAILED {r["system"]} ({r["load"]}): ' + "; ".join(r["problems"]))
    if os.environ.get("FL_BENCH_JSON"):
        with open(os.environ["FL_BENCH_JSON"], "w") as f:
            json.dump({"runs": all_runs, "summary": summary}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
