"""Integration: serve's lifecycle thread. serve runs with lifecycle.interval_s=1 and tight tiers
(hot_days=0, warm_days=1) while the simulator sends records whose event time spans the last
three days, so partitions of yesterday become warm and older ones cold while serve delivers
and queries run. Checks: serve logs its passes and moves; warm rows live in lifecycle.warm_dir
and cold ones under archived-data/; `fleetlake query` over the API sees every record the
stream holds exactly once, before and after the moves; after a clean stop `fleetlake check` is
clean; lifecycle.enabled=off keeps everything hot."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("lifecycle-serve")
base = ["--set", "raw.buffer_interval_s=1", "--set", "raw.buffer_bytes=4KiB",
        "--set", "compaction.enabled=off", "--set", "summary.enabled=off",
        "--set", "compaction.retire_grace_s=0",
        "--set", "lifecycle.hot_days=0", "--set", "lifecycle.warm_days=1",
        "--set", "lifecycle.interval_s=1"]
start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 3 * 86400))


def load(data, extra):
    srv = fltest.Server(data, shards=2, extra=base + extra).start()
    subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "6",
                    "--records", "900", "--start", start, "--interval-ms", "1500000",
                    "--seed", "3", "--quiet"], check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    return srv


def tiers(data):
    out = {}
    for f in fltest.catalog_files(data):
        if f["state"] == "live":
            out.setdefault(f["tier"], []).append(f)
    return out


def stream_count(data):
    st = json.loads(fltest.run_cli("stream", "list", "--data", data, "--format", "json").stdout)
    return sum(s["records"] for s in st["shards"])


def query_count(data, table):
    p = fltest.run_cli("query", "--data", data, "--format", "json", f"SELECT count(*) FROM {table}")
    return json.loads(p.stdout)["rows"][0][0]


# ---- enabled -----------------------------------------------------------------------------------
data = root + "/on"
warm = os.path.realpath(root) + "/warm-on"
srv = load(data, ["--set", f"lifecycle.warm_dir={warm}"])


def moved():
    t = tiers(data)
    return len(t.get("warm", [])) > 0 and len(t.get("cold", [])) > 0


fltest.wait_for(moved, timeout=60, interval=0.5, what="serve's lifecycle moved files")
time.sleep(3)  # delivery finishes; passes keep moving what it delivers
c.eq(srv.stop(), 0, "serve stops")
log = open(srv.log_path, "rb").read().decode(errors="replace")
c.check("lifecycle every 1 s" in log, "serve logs the lifecycle's schedule")
c.check("hot -> warm" in log and "-> cold" in log, "serve logs each move")
t = tiers(data)
c.check(all(f["location"] == warm for f in t["warm"]), "warm rows live in lifecycle.warm_dir")
c.check(all(f["path"].startswith("archived-data/") for f in t["cold"]),
        "cold rows live under archived-data/")
n = stream_count(data)
c.eq(query_count(data, "raw_sensor_data"), n, "every stream record queryable once")
c.eq(query_count(data, "processed_sensor_data"), n, "every processed record queryable once")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"check clean: {p.stdout[-1500:]}")

# ---- disabled ----------------------------------------------------------------------------------
data = root + "/off"
srv = load(data, ["--set", "lifecycle.enabled=off"])
time.sleep(4)
c.eq(srv.stop(), 0, "serve stops (lifecycle off)")
c.check("lifecycle disabled" in open(srv.log_path, "rb").read().decode(errors="replace"),
        "serve says the lifecycle is off")
c.eq(sorted(tiers(data)), ["hot"], "lifecycle.enabled=off: every file stays hot")
c.finish()
