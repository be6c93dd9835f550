#!/usr/bin/env python3
"""bench/e2e.py FLEETLAKE_BINARY — the end-to-end ingest benchmark and its InfluxDB peer.

Called by bench/run.sh (`make bench`); python3 standard library only.

1. fleetlake: `serve` on a temp data dir and a free loopback port with
   stream.durability=fsync (every 200 is an fdatasync'ed group commit), then
   `fleetlake sim --batch 500 --connections C --devices 1000 --duration S --json` on the same
   machine. Checked: no record rejected, the server's
   fleetlake_records_total{outcome="accepted",code="ok"} equals the records the sim saw acked,
   SIGTERM makes the server exit 0.
2. InfluxDB 1.x (Debian `influxdb`), if installed: influxd on a generated config (temp
   meta/data/wal dirs, loopback ports, reporting/monitor store/access log off, WAL fsynced on
   every write: wal-fsync-delay = "0s", InfluxDB's default), then the same sim run with
   `--target influx` (the same readings as line protocol, the same seed, batch, connections).
   Checked: no write failed, and `SELECT count(temperature) FROM sensor` equals the acked count.

Server CPU = Δ(utime+stime) of the server process over the sim run / the sim's measured
duration; client CPU = the sim's own CPU time / the same duration. Both in cores.

Environment:
  FL_BENCH_SECONDS      duration of each run (60)
  FL_BENCH_CONNECTIONS  keep-alive connections (4)
  FL_BENCH_THREADS      server.threads for fleetlake (unset: the server's default)
  FL_BENCH_SWEEP        "1": first try connections 2/4/8 x server.threads 2/4/8 for fleetlake
                        and connections 2/4/8 for InfluxDB, FL_BENCH_SWEEP_SECONDS (15) each
  FL_BENCH_JSON         write every result as JSON to this file
  TMPDIR                where the temp data dirs go (put it on the disk you mean to measure)

Exit code: 0 all runs that could run passed their checks (a missing InfluxDB only skips the
peer), 1 a run failed, 2 usage.
"""
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
import urllib.error
import urllib.parse
import urllib.request

SECONDS = int(os.environ.get("FL_BENCH_SECONDS", "60"))
CONNECTIONS = int(os.environ.get("FL_BENCH_CONNECTIONS", "4"))
THREADS = os.environ.get("FL_BENCH_THREADS") or None
SWEEP = os.environ.get("FL_BENCH_SWEEP") == "1"
SWEEP_SECONDS = int(os.environ.get("FL_BENCH_SWEEP_SECONDS", "15"))
BATCH = 500
DEVICES = 1000
SEED = 1
INFLUX_DB = "fleetlake"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class RunFailed(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid):
    """utime + stime of a whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def http(method, url, data=None, timeout=10, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(url, want, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunFailed(f"{what} exited with {proc.returncode} before {url} answered {want}")
        try:
            if http("GET", url, timeout=2)[0] == want:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise RunFailed(f"{what}: {url} did not answer {want} within {timeout} s")


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def stop(proc, what, timeout=120):
    """SIGTERM, wait; returns the exit code (SIGKILL and None after the timeout)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        log(f"  {what} did not stop within {timeout} s of SIGTERM: killed")
        return None


def run_sim(binary, url, server_pid, seconds, connections, extra=(), env=None):
    """Run the sim against url while measuring the server's CPU. Returns the result dict."""
    cmd = [binary, "sim", "--url", url, "--batch", str(BATCH), "--connections",
           str(connections), "--duration", f"{seconds}s", "--devices", str(DEVICES),
           "--seed", str(SEED), "--json", *extra]
    cpu0 = proc_cpu_s(server_pid)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120,
                       env=dict(os.environ, **(env or {})))
    cpu1 = proc_cpu_s(server_pid)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RunFailed(f"sim exited {p.returncode}: {p.stderr.strip()[-500:]}")
    s = json.loads(lines[-1])
    d = s["duration_s"] or 1e-9
    return {
        "command": " ".join(cmd),
        "connections": connections,
        "duration_s": s["duration_s"],
        "requests": s["requests"],
        "records_sent": s["records_sent"],
        "records_acked": s["records_acked"],
        "records_failed": s["records_failed"],
        "retries": s["retries"],
        "throttled": s["throttled"],
        "connection_errors": s["connection_errors"],
        "records_per_s": s["records_per_s_acked"],
        "p50_ms": s["latency_ms"]["p50"],
        "p90_ms": s["latency_ms"]["p90"],
        "p99_ms": s["latency_ms"]["p99"],
        "max_ms": s["latency_ms"]["max"],
        "server_cpu_cores": (cpu1 - cpu0) / d,
        "client_cpu_cores": s["cpu_s"] / d,
    }


# ---- fleetlake ---------------------------------------------------------------------------

METRIC_RE = re.compile(r'^fleetlake_records_total\{([^}]*)\}\s+([0-9.eE+]+)\s*$', re.M)


def metric_value(metrics_text, name):
    m = re.search(rf"^{re.escape(name)}\s+([0-9.eE+-]+)\s*$", metrics_text, re.M)
    return float(m.group(1)) if m else 0.0


def server_side(before, after, duration_s):
    """fsyncs/s, mean fsync ms and mean server-side request latency over the run."""
    d = lambda n: metric_value(after, n) - metric_value(before, n)
    fsyncs = d("fleetlake_stream_fsync_seconds_count")
    requests = d("fleetlake_ingest_latency_seconds_count")
    return {
        "fsyncs_per_s": fsyncs / duration_s if duration_s else 0,
        "fsync_ms_mean": 1e3 * d("fleetlake_stream_fsync_seconds_sum") / fsyncs if fsyncs else 0,
        "server_request_ms_mean":
            1e3 * d("fleetlake_ingest_latency_seconds_sum") / requests if requests else 0,
    }


def accepted_ok(metrics_text):
    total = 0
    for labels, value in METRIC_RE.findall(metrics_text):
        kv = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if kv.get("outcome") == "accepted" and kv.get("code") == "ok":
            total += int(float(value))
    return total


def make_key(binary, data_dir, role):
    """A new API key of role (fleetlake keys create), for runs with authentication on."""
    p = subprocess.run([binary, "keys", "create", "--data", data_dir, "--role", role],
                       capture_output=True, text=True, timeout=60)
    for line in p.stdout.splitlines():
        if line.startswith("key:"):
            return line.split(":", 1)[1].strip()
    raise RunFailed(f"keys create failed: {p.stderr.strip()}")


def bench_fleetlake(binary, seconds, connections, threads, extra_sets=()):
    """One serve + sim run; extra_sets are further `--set k=v` for serve (e.g. audit on/off,
    bench/audit_overhead.py)."""
    tmp = tempfile.mkdtemp(prefix="fl-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [binary, "serve", "--data", os.path.join(tmp, "data"), "--listen",
           f"127.0.0.1:{port}", "--set", "stream.durability=fsync", "--set", "security.auth=off"]
    if threads:
        cmd += ["--set", f"server.threads={threads}"]
    for kv in extra_sets:
        cmd += ["--set", kv]
    logpath = os.path.join(tmp, "serve.log")
    proc = None
    try:
        with open(logpath, "w") as lf:
            proc = subprocess.Popen(cmd, stdout=lf, stderr=lf)
        # With security.auth=on among extra_sets (a later --set wins): the sim posts with a
        # device key and /metrics is read with an operator key.
        auth = "security.auth=on" in extra_sets
        sim_env, mh = {}, {}
        if auth:
            wait_http(url + "/healthz", 200, proc, "fleetlake serve")
            data_dir = os.path.join(tmp, "data")
            sim_env["FLEETLAKE_KEY"] = make_key(binary, data_dir, "device")
            mh["Authorization"] = "Bearer " + make_key(binary, data_dir, "operator")
        else:
            wait_http(url + "/readyz", 200, proc, "fleetlake serve")
        before = http("GET", url + "/metrics", headers=mh)[1].decode()
        res = run_sim(binary, url, proc.pid, seconds, connections, env=sim_env)
        res.update(system="fleetlake", threads=threads or "default", server_command=" ".join(cmd))
        status, body = http("GET", url + "/metrics", headers=mh)
        after = body.decode()
        res["server_accepted"] = accepted_ok(after) if status == 200 else None
        res.update(server_side(before, after, res["duration_s"]))
        rc = stop(proc, "fleetlake serve")
        res["server_exit"] = rc
        problems = []
        if res["records_failed"]:
            problems.append(f'{res["records_failed"]} records rejected/failed')
        if res["records_acked"] == 0:
            problems.append("nothing acked")
        if res["server_accepted"] != res["records_acked"]:
            problems.append(f'server counted {res["server_accepted"]} accepted, sim saw '
                            f'{res["records_acked"]} acked')
        if rc != 0:
            problems.append(f"serve exited {rc} after SIGTERM")
        res["problems"] = problems
        if problems:
            log("  serve log tail:\n" + tail(logpath))
        return res
    except (RunFailed, subprocess.TimeoutExpired, OSError) as e:
        log(f"  fleetlake run failed: {e}\n  serve log tail:\n{tail(logpath)}")
        return {"system": "fleetlake", "connections": connections, "threads": threads or "default",
                "problems": [str(e)]}
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc, "fleetlake serve")
        shutil.rmtree(tmp, ignore_errors=True)


# ---- InfluxDB ------------------------------------------------------------------------------

def set_key(conf, section, key, value):
    """Set `key = value` in [section] ("" = top level) of a TOML text from `influxd config`."""
    lines = conf.split("\n")
    start, end = 0, len(lines)
    if section:
        hdr = [i for i, l in enumerate(lines) if l.strip() in (f"[{section}]", f"[[{section}]]")]
        if not hdr:
            return conf + f"\n[{section}]\n  {key} = {value}\n"
        start = hdr[0] + 1
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):
            end = i
            break
    for i in range(start, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            lines[i] = f"  {key} = {value}" if section else f"{key} = {value}"
            return "\n".join(lines)
    lines.insert(end if not section else start, f"  {key} = {value}" if section else f"{key} = {value}")
    return "\n".join(lines)


def influx_config(influxd, tmp, http_port, rpc_port):
    """influxd's built-in defaults (not /etc/influxdb's), pointed at tmp, loopback only."""
    conf = subprocess.run([influxd, "config", "-config", "/dev/null"], capture_output=True,
                          text=True, check=True).stdout
    q = lambda s: json.dumps(s)  # a TOML basic string
    # This Debian build spells the opt-out `reporting-enabled = false`; upstream 1.x uses
    # `reporting-disabled = true`. Set whichever the binary prints.
    if re.search(r"^reporting-enabled\s*=", conf, re.M):
        conf = set_key(conf, "", "reporting-enabled", "false")
    else:
        conf = set_key(conf, "", "reporting-disabled", "true")
    conf = set_key(conf, "", "bind-address", q(f"127.0.0.1:{rpc_port}"))  # backup/restore RPC
    conf = set_key(conf, "meta", "dir", q(os.path.join(tmp, "meta")))
    conf = set_key(conf, "data", "dir", q(os.path.join(tmp, "data")))
    conf = set_key(conf, "data", "wal-dir", q(os.path.join(tmp, "wal")))
    conf = set_key(conf, "data", "wal-fsync-delay", q("0s"))  # fsync the WAL on every write
    conf = set_key(conf, "data", "query-log-enabled", "false")
    conf = set_key(conf, "monitor", "store-enabled", "false")
    conf = set_key(conf, "http", "bind-address", q(f"127.0.0.1:{http_port}"))
    conf = set_key(conf, "http", "log-enabled", "false")  # no access-log line per request
    conf = set_key(conf, "continuous_queries", "enabled", "false")
    conf = set_key(conf, "ifql", "enabled", "false")
    conf = set_key(conf, "logging", "suppress-logo", "true")
    return conf


def influx_version(influxd):
    try:
        return subprocess.run([influxd, "version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def bench_influx(binary, influxd, seconds, connections):
    tmp = tempfile.mkdtemp(prefix="fl-bench-influx-")
    http_port, rpc_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    conf_path = os.path.join(tmp, "influxdb.conf")
    logpath = os.path.join(tmp, "influxd.log")
    proc = None
    try:
        with open(conf_path, "w") as f:
            f.write(influx_config(influxd, tmp, http_port, rpc_port))
        with open(logpath, "w") as lf:
            proc = subprocess.Popen([influxd, "-config", conf_path], stdout=lf, stderr=lf)
        wait_http(base + "/ping", 204, proc, "influxd")
        status, body = http("POST", base + "/query",
                            urllib.parse.urlencode({"q": f"CREATE DATABASE {INFLUX_DB}"}).encode())
        if status != 200:
            raise RunFailed(f"CREATE DATABASE answered {status}: {body[:200]!r}")
        res = run_sim(binary, base, proc.pid, seconds, connections,
                      ["--target", "influx", "--influx-db", INFLUX_DB])
        res.update(system="influxdb", threads="-", version=influx_version(influxd),
                   server_command=f"{influxd} -config {conf_path}")
        q = urllib.parse.urlencode({"db": INFLUX_DB, "q": "SELECT count(temperature) FROM sensor"})
        status, body = http("GET", f"{base}/query?{q}", timeout=600)
        try:
            res["points_counted"] = json.loads(body)["results"][0]["series"][0]["values"][0][1]
        except (ValueError, KeyError, IndexError, TypeError):
            res["points_counted"] = None
            log(f"  count query answered {status}: {body[:300]!r}")
        res["server_exit"] = stop(proc, "influxd")
        problems = []
        if res["records_failed"]:
            problems.append(f'{res["records_failed"]} records failed')
        if res["records_acked"] == 0:
            problems.append("nothing acked")
        if res["points_counted"] != res["records_acked"]:
            problems.append(f'count(temperature) = {res["points_counted"]}, sim saw '
                            f'{res["records_acked"]} acked')
        res["problems"] = problems
        if problems:
            log("  influxd log tail:\n" + tail(logpath))
        return res
    except (RunFailed, subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError) as e:
        log(f"  InfluxDB run failed: {e}\n  influxd log tail:\n{tail(logpath)}")
        return {"system": "influxdb", "connections": connections, "threads": "-",
                "problems": [str(e)]}
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc, "influxd")
        shutil.rmtree(tmp, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------------

def table(rows, extra_cols=False):
    head = ["system", "acked records/s", "p50 ms", "p90", "p99", "max",
            "server CPU (cores)", "client CPU (cores)"]
    if extra_cols:
        head[1:1] = ["conns", "threads"]
        head.append("fsync ms (mean)")
    out = [head]
    for r in rows:
        if "records_per_s" not in r:
            cells = [r["system"], "FAILED"] + [""] * 6
        else:
            cells = [r["system"], f'{r["records_per_s"]:,.0f}', f'{r["p50_ms"]:.1f}',
                     f'{r["p90_ms"]:.1f}', f'{r["p99_ms"]:.1f}', f'{r["max_ms"]:.1f}',
                     f'{r["server_cpu_cores"]:.2f}', f'{r["client_cpu_cores"]:.2f}']
        if extra_cols:
            cells[1:1] = [str(r["connections"]), str(r["threads"])]
            cells.append(f'{r["fsync_ms_mean"]:.2f}' if "fsync_ms_mean" in r else "-")
        out.append(cells)
    widths = [max(len(row[i]) for row in out) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in out]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    if not os.access(binary, os.X_OK):
        print(f"e2e.py: {binary} is not an executable fleetlake binary", file=sys.stderr)
        return 2
    influxd = shutil.which("influxd")
    log(f"data dirs under {tempfile.gettempdir()}; batch {BATCH}, {DEVICES} devices, seed {SEED}, "
        f"generator on the same machine; load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results, sweep = [], []
    if not influxd:
        log("InfluxDB peer skipped: influxd not found. Install it with\n"
            "  sudo apt-get install -y influxdb   (or: scripts/install-deps.sh bench)")
    if SWEEP:
        log(f"\nsweep, {SWEEP_SECONDS} s per run:")
        for conns in (2, 4, 8):
            for threads in ("2", "4", "8"):
                sweep.append(bench_fleetlake(binary, SWEEP_SECONDS, conns, threads))
                log(table(sweep[-1:], True).split("\n")[-1])
        for conns in (2, 4, 8) if influxd else ():
            sweep.append(bench_influx(binary, influxd, SWEEP_SECONDS, conns))
            log(table(sweep[-1:], True).split("\n")[-1])
        log("\n" + table(sweep, True))

    log(f"\nfleetlake: serve (stream.durability=fsync, server.threads={THREADS or 'default'}) "
        f"<- sim, {CONNECTIONS} connections, {SECONDS} s")
    results.append(bench_fleetlake(binary, SECONDS, CONNECTIONS, THREADS))
    if influxd:
        log(f"InfluxDB: {influx_version(influxd)}, WAL fsync per write <- sim --target influx, "
            f"{CONNECTIONS} connections, {SECONDS} s")
        results.append(bench_influx(binary, influxd, SECONDS, CONNECTIONS))

    log("\n" + table(results))
    fl = results[0]
    if "records_per_s" in fl:
        log(f'fleetlake: {fl["records_acked"]:,} records acked in {fl["duration_s"]:.1f} s, '
            f'server counted {fl["server_accepted"]:,} accepted, {fl["records_failed"]} rejected, '
            f'{fl["retries"]} retries, serve exit {fl["server_exit"]}; '
            f'{fl["fsyncs_per_s"]:,.0f} fsyncs/s of {fl["fsync_ms_mean"]:.2f} ms mean, '
            f'server-side request latency {fl["server_request_ms_mean"]:.2f} ms mean')
    if len(results) > 1 and "records_per_s" in results[1]:
        ix = results[1]
        log(f'InfluxDB: {ix["records_acked"]:,} points acked in {ix["duration_s"]:.1f} s, '
            f'count(temperature) = {ix["points_counted"]}, {ix["records_failed"]} failed, '
            f'{ix["retries"]} retries')
        if "records_per_s" in fl and ix["records_per_s"] > 0:
            log(f'ratio fleetlake/InfluxDB (acked records/s): '
                f'{fl["records_per_s"] / ix["records_per_s"]:.2f}')
    log(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on the machine skews the figures)")
    failed = [r for r in results + sweep if r.get("problems")]
    for r in failed:
        log(f'FAILED {r["system"]} (connections {r["connections"]}, threads {r["threads"]}): '
            + "; ".join(r["problems"]))
    if os.environ.get("FL_BENCH_JSON"):
        with open(os.environ["FL_BENCH_JSON"], "w") as f:
            json.dump({"results": results, "sweep": sweep}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
