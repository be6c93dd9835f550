"""Fault: kill -9 during processing. Deterministic simulator records (--seed) are posted in
order, batch after batch, to a server committing processed-data every second; the server is
killed FL_KILL_CYCLES times (default 10) at random moments — mid-batch, between publish and
catalog commit, mid-transaction — and posting resumes after the last acknowledged batch (so
an unacknowledged batch that did reach the stream is sent again: producer retries). After a
last restart the processor catches up and stops. Then:
  * processed-data — read by DuckDB from the live catalogued paths in meta.db — holds each
    acknowledged (device_id, timestamp) exactly once, and no file outside the catalog remains;
  * every anomaly score equals the score of the same record in an uninterrupted run: the same
    records posted once to a second, never-killed server. A state silently reset by a restart
    (or saved out of step with the checkpoint) would change the scores that follow."""
import json
import os
import random
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

cycles = int(os.environ.get("FL_KILL_CYCLES", "10"))
c = fltest.Checks()
root = fltest.scratch_dir("kill9-process")
rng = random.Random(int(os.environ.get("FL_SEED", "7")))
extra = ["--set", "process.batch_interval_s=1", "--set", "process.buffer_bytes=1MiB"]
BATCH = 250

gen = os.path.join(root, "records.ndjson")
fltest.run_cli("sim", "--out", gen, "--devices", "40", "--records", "60000", "--seed", "5",
               "--anomaly-rate", "0.05", "--interval-ms", "200")
lines = [line for line in open(gen) if line.strip()]
batches = ["[" + ",".join(lines[i:i + BATCH]) + "]" for i in range(0, len(lines), BATCH)]


def post_from(srv, start, stop_flag, state, pause=0.0):
    """Post batches in order from start; state['next'] = first batch not acknowledged. pause
    spreads the load over the kill cycles."""
    i = start
    while i < len(batches) and not stop_flag.is_set():
        try:
            st, _, js = srv.post_records(batches[i])
        except OSError:
            return
        if st != 200 or js["accepted"] != BATCH and i != len(batches) - 1:
            return
        i += 1
        state["next"] = i
        time.sleep(pause)


def caught_up(srv):
    m = srv.metrics()
    lag = [v for k, v in m.items() if k.startswith("fleetlake_process_lag_records")]
    return lag and all(v == 0 for v in lag)


# ---- the killed server ----------------------------------------------------------------------
data = root + "/data"
state = {"next": 0}
t0 = time.time()
for cycle in range(cycles):
    srv = fltest.Server(data, shards=2, extra=extra).start()
    stop = threading.Event()
    th = threading.Thread(target=post_from, args=(srv, state["next"], stop, state, 0.05))
    th.start()
    time.sleep(rng.uniform(1.1, 3.0))  # past a 1 s batch: kills land in and between commits
    srv.kill9()
    stop.set()
    th.join()
srv = fltest.Server(data, shards=2, extra=extra).start()
log_after_kills = srv.log_text()
post_from(srv, state["next"], threading.Event(), state)
c.eq(state["next"], len(batches), "every batch acknowledged in the end")
fltest.wait_for(lambda: caught_up(srv), timeout=120, interval=0.3, what="processor lag 0")
c.eq(srv.stop(), 0, "clean stop after recovery")
killed_s = time.time() - t0

# ---- the uninterrupted run --------------------------------------------------------------------
ref_data = root + "/reference"
ref = fltest.Server(ref_data, shards=2, extra=extra).start()
ref_state = {"next": 0}
post_from(ref, 0, threading.Event(), ref_state)
c.eq(ref_state["next"], len(batches), "reference: every batch acknowledged")
fltest.wait_for(lambda: caught_up(ref), timeout=120, interval=0.3, what="reference lag 0")
c.eq(ref.stop(), 0, "reference clean stop")


def live_paths(d):
    db = sqlite3.connect(f"file:{os.path.join(d, 'meta.db')}?mode=ro", uri=True, timeout=30)
    try:
        return [os.path.join(d, "lake", p) for (p,) in db.execute(
            "SELECT path FROM lake_files WHERE table_name = 'processed_sensor_data'"
            " AND state = 'live' ORDER BY path")]
    finally:
        db.close()


def scores_sql(d, name):
    paths = "[" + ",".join(fltest.sql_str(p) for p in live_paths(d)) + "]"
    return (f"CREATE TABLE {name} AS SELECT device_id, epoch_us(timestamp) AS ts, anomaly_score"
            f" FROM read_parquet({paths})")


def ts_us(t):
    import datetime
    if isinstance(t, int):
        return t * 1000
    dt = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


acked = {(r["device_id"], ts_us(r["timestamp"])) for r in map(json.loads, lines)}
acked_csv = os.path.join(root, "acked.csv")
with open(acked_csv, "w") as f:
    f.write("device_id,ts\n")
    for d, ts in acked:
        f.write(f"{d},{ts}\n")

r = fltest.duck(
    scores_sql(data, "k"), scores_sql(ref_data, "u"),
    f"CREATE TABLE a AS SELECT * FROM read_csv({fltest.sql_str(acked_csv)}, header = true,"
    f" columns = {{'device_id': 'VARCHAR', 'ts': 'BIGINT'}})",
    "SELECT (SELECT count(*) FROM k) AS rows,"
    " (SELECT count(DISTINCT (device_id, ts)) FROM k) AS distinct_rows,"
    " (SELECT count(*) FROM a) AS acked,"
    " (SELECT count(*) FROM a WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.device_id = a.device_id"
    "   AND k.ts = a.ts)) AS missing,"
    " (SELECT count(*) FROM u) AS ref_rows,"
    " (SELECT count(*) FROM k JOIN u USING (device_id, ts)) AS matched,"
    " (SELECT count(*) FROM k JOIN u USING (device_id, ts)"
    "   WHERE abs(k.anomaly_score - u.anomaly_score) > 1e-12) AS score_diff,"
    " (SELECT count(*) FROM u WHERE anomaly_score >= 0.5) AS ref_anomalies")[0]
print(f"{cycles} kill -9 cycles in {killed_s:.0f} s: {r['acked']} acknowledged, processed-data "
      f"holds {r['rows']} rows in {len(live_paths(data))} files; reference {r['ref_rows']} rows, "
      f"{r['ref_anomalies']} anomalies; orphans removed at restarts: "
      f"{log_after_kills.count('removed orphan')}")
c.eq(r["missing"], 0, "acknowledged records missing from processed-data")
c.eq(r["rows"], r["distinct_rows"], "records in processed-data more than once")
c.eq(r["rows"], r["acked"], "processed-data rows == acknowledged distinct records")
c.eq(r["ref_rows"], r["acked"], "reference rows == acknowledged distinct records")
c.eq(r["matched"], r["rows"], "every row has its reference row")
c.eq(r["score_diff"], 0, "anomaly scores differ from the uninterrupted run")
c.check(r["ref_anomalies"] > 0, "the run has anomalies to compare")

on_disk = [os.path.join(data, "lake", k) for k in fltest.lake_files_on_disk(data, "processed-data")]
c.eq(sorted(on_disk), live_paths(data), "processed-data files == live catalogued files")
c.finish()
