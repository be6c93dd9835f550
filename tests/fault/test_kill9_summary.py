"""Fault: kill -9 during the hourly_summary job. A server processes records of 36 past hours
(summary.enabled=off, so only the backfill writes summaries) and is stopped. Then, for
FL_KILL_CYCLES cycles (default 10), `fleetlake summarize` over the whole range is killed with -9
at a random moment (mid-read, between publish and the catalog swap, mid-transaction); half-way,
late records for every hour are processed so the later cycles kill recomputations. A final
summarize runs to the end, and: it exits 0, a second run changes nothing, every hour with
processed data has exactly one live summary, the files under curated-data/ are exactly the
catalogued ones (no orphan survived), `fleetlake check` exits 0, and per hour the live
summaries' record_count total equals DuckDB's count over the live processed files."""
import datetime
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

cycles = int(os.environ.get("FL_KILL_CYCLES", "10"))
rng = random.Random(int(os.environ.get("FL_SEED", "11")))
c = fltest.Checks()
root = fltest.scratch_dir("kill9-summary")
data = root + "/data"
HOUR = 3600 * 1_000_000
HOURS = 36
now_us = int(time.time() * 1e6)
first = (now_us // HOUR - HOURS - 2) * HOUR
args = ["--set", "process.batch_interval_s=1", "--set", "summary.enabled=off"]


def iso(us):
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def post_hours(offset_s, per_device):
    srv = fltest.Server(data, shards=2, extra=args).start()
    total = 0
    for h in range(HOURS):
        batch = [fltest.record(f"truck-{d:03d}", iso(first + h * HOUR + (offset_s + k * 61 + d) *
                                                     1_000_000), temperature=10.0 + d + k * 0.5)
                 for d in range(30) for k in range(per_device)]
        st, _, js = srv.post_records(batch)
        c.eq(st, 200, "post")
        total += js.get("accepted", 0)

    def done():
        m = srv.metrics()
        lag = [v for k, v in m.items() if k.startswith("fleetlake_process_lag_records")]
        return lag and all(v == 0 for v in lag)
    fltest.wait_for(done, timeout=120, what="processing")
    time.sleep(2)
    srv.stop()
    return total


post_hours(0, 8)
rng_from, rng_to = iso(first), iso(first + HOURS * HOUR)


def full_run_s():
    """How long an uninterrupted summarize takes here (on a copy), to aim the kills inside it."""
    import shutil
    copy = root + "/copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data, copy)
    t0 = time.time()
    fltest.run_cli("summarize", "--data", copy, "--from", rng_from, "--to", rng_to)
    shutil.rmtree(copy)
    return time.time() - t0


span = full_run_s()


def kill_summarize():
    p = subprocess.Popen([fltest.BIN, "summarize", "--data", data, "--from", rng_from, "--to",
                          rng_to], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(rng.uniform(0.0, span))
    p.send_signal(signal.SIGKILL)
    out, _ = p.communicate()
    return p.returncode == -signal.SIGKILL


killed = 0


for i in range(cycles):
    if i == cycles // 2:
        post_hours(1800, 1)  # late records for every hour: later kills hit recomputations
        span = full_run_s()
    killed += kill_summarize()
print(f"{killed} of {cycles} summarize runs killed before they finished (a full run: "
      f"{span:.2f} s)", flush=True)
c.check(killed >= 1, "at least one run was killed mid-way")

p = fltest.run_cli("summarize", "--data", data, "--from", rng_from, "--to", rng_to)
c.check(" 0 failed" in p.stdout, f"final summarize: {p.stdout!r}")
p = fltest.run_cli("summarize", "--data", data, "--from", rng_from, "--to", rng_to)
c.check(p.stdout.startswith(f"0 hours summarised, 0 recomputed, {HOURS} already current"),
        f"second run changes nothing: {p.stdout!r}")
rows = fltest.catalog_files(data, "hourly_summary")
live = [r for r in rows if r["state"] == "live"]
c.eq(sorted(r["min_ts"] for r in live), [first + h * HOUR for h in range(HOURS)],
     "exactly one live summary per hour")
c.eq(set(fltest.lake_files_on_disk(data, "curated-data")), {r["path"] for r in rows},
     "curated-data holds exactly the catalogued files (no orphan)")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"fleetlake check: {p.stdout[-400:]} {p.stderr[-400:]}")
lake = os.path.join(data, "lake")
live_processed = [fltest.sql_str(os.path.join(lake, r["path"]))
                  for r in fltest.catalog_files(data, "processed_sensor_data")
                  if r["state"] == "live"]
summ = ", ".join(fltest.sql_str(os.path.join(lake, r["path"])) for r in live)
got = fltest.duck(f"SELECT epoch_us(hour) AS h, sum(record_count) AS n FROM read_parquet([{summ}])"
                  f" GROUP BY 1 ORDER BY 1")
want = fltest.duck(f"SELECT epoch_us(date_trunc('hour', timestamp)) AS h, count(*) AS n FROM "
                   f"read_parquet([{', '.join(live_processed)}]) GROUP BY 1 ORDER BY 1")
c.eq(got, want, "per-hour record_count == processed rows")
c.eq([r["n"] for r in got], [30 * 9] * HOURS, "every hour has its 9 readings per device")
c.finish()
