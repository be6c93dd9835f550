"""Integration: the hourly_summary job. A server with 1 s processor batches and a 1 s summary
interval receives records of a past hour H (3 h old: closed at once) for a few devices — with
missing fields and an implausible value among them — plus newer records that advance the
watermark. The test waits for H's summary, reads curated-data/hourly_summary with DuckDB
(hive partitioning) and compares every column with (a) an independent Python computation from
the records sent and (b) DuckDB's own aggregation of processed-data. Then a LATE record for H
arrives: the summary is recomputed (record_count + 1, new file, the old one retired in the
catalog, exactly one live summary file for H). Finally `fleetlake summarize --from --to`
backfills an hour serve has not closed yet, and a second run changes nothing (idempotent)."""
import datetime
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("summary")
data = root + "/data"
HOUR = 3600 * 1_000_000
# late_after_s at its maximum: records 3 h old are not flagged late here, so the quality score
# is driven by the missing/implausible checks this test computes independently.
srv = fltest.Server(data, shards=2, extra=[
    "--set", "process.batch_interval_s=1", "--set", "summary.interval_s=1",
    "--set", "process.late_after_s=604800"]).start()

now_us = int(time.time() * 1e6)
H = (now_us - 3 * HOUR) // HOUR  # hours since the epoch
h_start = H * HOUR


def iso(us):
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


devices = [f"truck-{i:04d}" for i in range(5)]
sent = []
for d_i, dev in enumerate(devices):
    for k in range(12):
        ts = h_start + (d_i * 13 + k * 277) * 1_000_000 + 1234
        r = fltest.record(dev, iso(ts), temperature=20.0 + d_i + (k * 0.37) % 3,
                          humidity=40.0 + k, pressure=1000.0 + d_i)
        if dev == "truck-0001" and k == 3:
            del r["humidity"]  # missing field
        if dev == "truck-0002" and k == 5:
            r["temperature"] = 200.0  # implausible
        if dev == "truck-0003" and k > 0:
            del r["temperature"]  # a device with one temperature: stddev NULL
        sent.append((dev, ts, r))
# truck-0004 has no temperature at all: avg/min/max NULL
for i, (dev, ts, r) in enumerate(sent):
    if dev == "truck-0004":
        r.pop("temperature", None)
st, _, js = srv.post_records([r for _, _, r in sent])
c.eq(st, 200, "post H records")
c.eq(js.get("accepted"), len(sent), "H records accepted")
newer = [fltest.record(dev, iso(now_us - 1_000_000 * (5 - i))) for i, dev in enumerate(devices)]
st, _, _ = srv.post_records(newer)
c.eq(st, 200, "post newer records (watermark)")


def summary_rows(state=None):
    rows = fltest.catalog_files(data, "hourly_summary")
    return [r for r in rows if r["min_ts"] == h_start and (state is None or r["state"] == state)]


fltest.wait_for(lambda: summary_rows("live"), timeout=90, what="hour H summarised")


def expected():
    """Independent computation from the records sent (processed-data keeps one row each)."""
    out = {}
    for dev in devices:
        rs = [r for d, _, r in sent if d == dev]
        temps = [r["temperature"] for r in rs if "temperature" in r]

        def ok(r):
            if any(k not in r for k in ("temperature", "humidity", "pressure", "location")):
                return False
            return -80 <= r["temperature"] <= 150 and 0 <= r["humidity"] <= 100 and \
                300 <= r["pressure"] <= 1100
        out[dev] = {
            "record_count": len(rs),
            "avg_temperature": statistics.fmean(temps) if temps else None,
            "min_temperature": min(temps) if temps else None,
            "max_temperature": max(temps) if temps else None,
            "temp_stddev": statistics.stdev(temps) if len(temps) >= 2 else None,
            "data_quality_score": sum(ok(r) for r in rs) / len(rs),
            "avg_humidity": statistics.fmean([r["humidity"] for r in rs if "humidity" in r]),
        }
    return out


SUMMARY_GLOB = fltest.sql_str(os.path.join(data, "lake", "curated-data", "hourly_summary", "**",
                                           "*.parquet"))
PROCESSED_GLOB = fltest.sql_str(os.path.join(data, "lake", "processed-data", "**", "*.parquet"))


def live_summary_sql():
    paths = ", ".join(fltest.sql_str(os.path.join(data, "lake", r["path"]))
                      for r in fltest.catalog_files(data, "hourly_summary") if r["state"] == "live")
    return f"read_parquet([{paths}], hive_partitioning = true)"


def read_summary():
    rows = fltest.duck(
        f"SELECT device_id, epoch_us(hour) AS h, record_count, avg_temperature, min_temperature,"
        f" max_temperature, temp_stddev, anomaly_count, data_quality_score, avg_humidity,"
        f" year, month, day FROM {live_summary_sql()} WHERE epoch_us(hour) = {h_start}"
        f" ORDER BY device_id")
    return {r["device_id"]: r for r in rows}


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


def compare(got, want, what):
    c.eq(sorted(got), sorted(want), f"{what}: devices")
    for dev, w in want.items():
        g = got.get(dev, {})
        for k, v in w.items():
            if k == "record_count":
                c.eq(g.get(k), v, f"{what} {dev} {k}")
            else:
                c.check(close(g.get(k), v), f"{what} {dev} {k}: got {g.get(k)!r}, want {v!r}")


got = read_summary()
want = expected()
compare(got, want, "summary vs Python")
p = datetime.datetime.fromtimestamp(h_start / 1e6, datetime.timezone.utc)
for dev, g in got.items():
    c.eq((g["h"], g["year"], g["month"], g["day"]), (h_start, p.year, p.month, p.day),
         f"{dev} hour and partition")

# DuckDB's own aggregation of processed-data, including anomaly_count.
oracle = fltest.duck(
    f"SELECT device_id, count(*) AS record_count, avg(temperature) AS avg_temperature,"
    f" min(temperature) AS min_temperature, max(temperature) AS max_temperature,"
    f" stddev_samp(temperature) AS temp_stddev, sum(anomaly_flag::INT) AS anomaly_count,"
    f" avg((quality_flags = 0)::INT) AS data_quality_score, avg(humidity) AS avg_humidity"
    f" FROM read_parquet({PROCESSED_GLOB}) WHERE epoch_us(timestamp) >= {h_start}"
    f" AND epoch_us(timestamp) < {h_start + HOUR} GROUP BY device_id")
compare(got, {r["device_id"]: {k: v for k, v in r.items() if k != "device_id"} for r in oracle},
        "summary vs DuckDB over processed-data")
meta = fltest.duck(f"SELECT DISTINCT compression FROM parquet_metadata({SUMMARY_GLOB})")
c.eq([m["compression"] for m in meta], ["SNAPPY"], "summary files are SNAPPY")
first = summary_rows("live")
c.eq(len(first), 1, "one live summary file for H")
first_path = first[0]["path"]
c.check(first_path.startswith(f"curated-data/hourly_summary/year={p.year}/month={p.month}/"
                              f"day={p.day}/part-h{p.hour}-"), f"summary key {first_path}")

# ---- a LATE record into the closed hour ----------------------------------------------------
late = fltest.record("truck-0000", iso(h_start + 1800 * 1_000_000 + 1), temperature=30.5)
st, _, _ = srv.post_records([late])
c.eq(st, 200, "post late record")
sent.append(("truck-0000", h_start + 1800 * 1_000_000 + 1, late))
fltest.wait_for(lambda: [r for r in summary_rows("live") if r["path"] != first_path],
                timeout=90, what="H recomputed after the late record")
time.sleep(1.5)  # one more pass: nothing else may change
live = summary_rows("live")
c.eq(len(live), 1, "exactly one live summary file for H after the recompute")
retired = summary_rows("retired")
c.eq([r["path"] for r in retired], [first_path], "the first summary was retired")
got = read_summary()
c.eq(got["truck-0000"]["record_count"], 13, "record_count + 1 after the late record")
compare(got, expected(), "recomputed summary vs Python")
m = srv.metrics()
c.check(m.get("fleetlake_rollup_recomputations_total", 0) >= 1, "recomputation counted")
c.check(m.get("fleetlake_rollup_partitions_total", 0) >= 1, "hours counted")

# ---- backfill with fleetlake summarize -------------------------------------------------------
p = fltest.run_cli("summarize", "--data", data, "--from", iso(h_start), "--to",
                   iso(h_start + HOUR))
c.check("0 hours summarised, 0 recomputed, 1 already current" in p.stdout,
        f"summarize over a current hour changes nothing: {p.stdout!r}")
srv.stop()
now_hour = now_us // HOUR * HOUR
before = {r["path"] for r in fltest.catalog_files(data, "hourly_summary")}
p = fltest.run_cli("summarize", "--data", data, "--from", iso(now_hour - HOUR), "--to",
                   iso(now_hour + HOUR), "--dry-run")
c.eq({r["path"] for r in fltest.catalog_files(data, "hourly_summary")}, before,
     "dry run changes nothing")
p = fltest.run_cli("summarize", "--data", data, "--from", iso(now_hour - HOUR), "--to",
                   iso(now_hour + HOUR))
c.check(" 0 failed" in p.stdout and not p.stdout.startswith("0 hours"),
        f"backfill summarised the open hour(s): {p.stdout!r}")
rows = fltest.duck(f"SELECT sum(record_count) AS n FROM {live_summary_sql()}"
                   f" WHERE epoch_us(hour) >= {now_hour - HOUR}")
c.eq(rows[0]["n"], len(newer), "backfilled hours count the newer records")
after = {r["path"] for r in fltest.catalog_files(data, "hourly_summary")}
p = fltest.run_cli("summarize", "--data", data, "--from", iso(now_hour - HOUR), "--to",
                   iso(now_hour + HOUR))
c.check(p.stdout.startswith("0 hours summarised, 0 recomputed"), f"idempotent: {p.stdout!r}")
c.eq({r["path"] for r in fltest.catalog_files(data, "hourly_summary")}, after,
     "second backfill changes nothing")
on_disk = set(fltest.lake_files_on_disk(data, "curated-data"))
c.eq(on_disk, after, "files on disk == catalogued summaries (retired kept for the grace)")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, f"fleetlake check is clean: {p.stdout[-500:]} {p.stderr[-500:]}")
c.finish()
