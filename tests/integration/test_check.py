"""Integration: `fleetlake check` is clean on a healthy data directory (also while serve runs),
and finds each kind of problem: an orphan lake file (moved aside by --repair, never deleted),
a catalogued file that was damaged, a stale incomplete upload, and a flipped bit in a sealed
stream segment."""
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
data = fltest.scratch_dir("check") + "/data"
srv = fltest.Server(data, shards=2, extra=["--set", "raw.buffer_interval_s=1",
                                           "--set", "stream.segment_bytes=64KiB"]).start()
sim = subprocess.run([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}", "--devices", "40",
                      "--records", "20000", "--bad-rate", "0.01", "--ndjson", "--quiet"],
                     capture_output=True, text=True, timeout=120)
c.eq(sim.returncode, 0, "simulator run")
time.sleep(2.5)  # > raw.buffer_interval_s: delivery commits what it buffered
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, "check clean while serve runs: " + p.stdout[-400:])
c.check("a server is running" in p.stdout, "check notices the running server")
c.eq(srv.stop(), 0, "stop")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, "check clean after stop")
c.check("0 problems found" in p.stdout and "CRCs valid" in p.stdout and "integrity_check ok" in p.stdout,
        "report names every check")

parts = sorted(glob.glob(data + "/lake/raw-data/**/*.parquet", recursive=True))
c.check(len(parts) >= 2, f"lake files written ({len(parts)})")
old = time.time() - 3600

# an orphan: a Parquet file nobody catalogued
orphan = os.path.join(os.path.dirname(parts[0]), "part-9-1-2.parquet")
with open(parts[0], "rb") as src, open(orphan, "wb") as dst:
    dst.write(src.read())
os.utime(orphan, (old, old))
# a stale incomplete upload
stale = parts[0] + ".tmp"
with open(stale, "wb") as f:
    f.write(b"PAR1 half a file")
os.utime(stale, (old, old))
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 1, "orphans are problems")
c.check("part-9-1-2.parquet: orphan" in p.stdout, "orphan named")
c.check(".tmp: stale incomplete upload" in p.stdout, "stale upload named")
p = fltest.run_cli("check", "--data", data, "--repair", check=False)
c.eq(p.returncode, 0, "--repair fixes what it reports: " + p.stdout[-300:])
c.check(not os.path.exists(orphan) and not os.path.exists(stale), "moved out of the lake")
qrel = os.path.relpath(orphan, data + "/lake")
c.check(os.path.exists(os.path.join(data, "lake-quarantine", qrel)), "orphan kept in lake-quarantine/")
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 0, "clean after repair")

# a damaged catalogued file: never "repaired" (that would lose data), always reported
with open(parts[1], "r+b") as f:
    f.truncate(os.path.getsize(parts[1]) - 10)
p = fltest.run_cli("check", "--data", data, "--repair", check=False)
c.eq(p.returncode, 1, "damaged catalogued file is a problem --repair cannot fix")
c.check(os.path.basename(parts[1]) in p.stdout and "catalog says" in p.stdout, "damaged file named")
c.check(os.path.exists(parts[1]), "damaged catalogued file left in place")

# a flipped bit in a sealed stream segment
segs = sorted(glob.glob(data + "/stream/shard-0000/*.seg"))
c.check(len(segs) >= 2, f"sealed segments exist ({len(segs)})")
with open(segs[0], "r+b") as f:
    f.seek(os.path.getsize(segs[0]) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x01]))
p = fltest.run_cli("check", "--data", data, check=False)
c.eq(p.returncode, 1, "stream corruption is a problem")
c.check(any(l.startswith("PROBLEM") and "stream shard-0000" in l and "corruption" in l
            for l in p.stdout.splitlines()), "corrupt shard reported: " + p.stdout[:600])
p = fltest.run_cli("check", "--data", data + "/nope", check=False)
c.eq(p.returncode, 2, "missing data dir is a usage error")
c.finish()
