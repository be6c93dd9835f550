#!/usr/bin/env python3
"""`fleetlake query --data` on a data directory whose catalog predates the current schema
(here: migration 4, lake_files.location, taken back out) upgrades the catalog and answers,
instead of failing on the missing column."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

t = fltest.Checks()
data = os.path.join(fltest.scratch_dir("query-upgrade"), "d")
srv = fltest.Server(data, extra=["--set", "process.batch_interval_s=1"]).start()
st, _, js = srv.post_records([fltest.record("truck-1", f"2026-11-25T01:00:0{i}Z") for i in range(5)])
t.eq((st, js["accepted"]), (200, 5), "records accepted")
deadline = time.time() + 30
n = None
while time.time() < deadline:
    p = fltest.run_cli("query", "--data", data, "--format", "csv",
                       "SELECT count(*) AS n FROM processed_sensor_data", check=False)
    if p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "5":
        n = 5
        break
    time.sleep(0.3)
t.eq(n, 5, "processed rows visible")
t.eq(srv.stop(), 0, "serve exits 0")

db = sqlite3.connect(os.path.join(data, "meta.db"))
db.execute("ALTER TABLE lake_files DROP COLUMN location")
db.execute("DELETE FROM catalog_migrations WHERE version >= 4")
db.commit()
db.close()
p = fltest.run_cli("query", "--data", data, "--format", "csv",
                   "SELECT count(*) AS n FROM processed_sensor_data", check=False)
t.eq((p.returncode, p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr),
     (0, "5"), "query on an old catalog: upgraded, same answer")
db = sqlite3.connect(os.path.join(data, "meta.db"))
cols = [r[1] for r in db.execute("PRAGMA table_info(lake_files)")]
t.check("location" in cols, f"lake_files.location is back: {cols}")
t.finish()
