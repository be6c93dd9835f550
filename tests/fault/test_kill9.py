"""Fault: kill -9 the server while the simulator loads it, FL_KILL_CYCLES times (10 in
`make test`, 200 in `make soak`). After the last recovery every record the simulator saw
acknowledged (--acked-out) is in the stream exactly once, at the shard and sequence number it
was acknowledged with, and per-device order holds."""
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

cycles = int(os.environ.get("FL_KILL_CYCLES", "10"))
c = fltest.Checks()
root = fltest.scratch_dir("kill9")
data = root + "/data"
rng = random.Random(int(os.environ.get("FL_SEED", "7")))
acked_files = []
# Each cycle simulates its own 2-hour window of event time, in cycle order, so records of
# different cycles never share a (device_id, timestamp) and per-device timestamp order must
# equal stream order across the whole run. A cycle covers < 1 h of event time at full speed.
base = int(time.time()) - (cycles + 1) * 7200

for cycle in range(cycles):
    srv = fltest.Server(data, shards=2, extra=["--set", "stream.segment_bytes=256KiB"]).start()
    # Even cycles use one connection: requests are sequential, so per-device timestamp order
    # must equal sequence order. Odd cycles use four, so concurrent requests share group
    # commits when the kill lands (order across concurrent requests is the client's, not ours).
    conns = 1 if cycle % 2 == 0 else 4
    acked = f"{root}/acked-{cycle}.ndjson"
    acked_files.append(acked)
    sim = subprocess.Popen([fltest.BIN, "sim", "--url", f"http://127.0.0.1:{srv.port}",
                            "--devices", "50", "--batch", str(rng.choice([1, 50, 500])),
                            "--connections", str(conns), "--duration", "30", "--seed", str(cycle + 1),
                            "--start", time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime(base + cycle * 7200)),
                            "--dup-rate", "0", "--late-rate", "0", "--ooo-rate", "0",
                            "--bad-rate", "0", "--acked-out", acked, "--no-retry", "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 1.5))
    srv.kill9()
    time.sleep(0.05)
    sim.send_signal(signal.SIGKILL)
    sim.wait()
    c.check(True, "cycle ran")

srv = fltest.Server(data, shards=2).start()
c.eq(srv.stop(), 0, "clean stop after recovery")
stream = fltest.stream_records(data)
by_pos = {(r["shard"], r["seq"]): r["record"] for r in stream}
c.eq(len(by_pos), len(stream), "no duplicate (shard, seq) in the stream")
count = {}
for r in stream:
    k = (r["record"]["device_id"], r["record"]["timestamp"])
    count[k] = count.get(k, 0) + 1

total = missing = wrong = dup = 0
for path in acked_files:
    try:
        lines = open(path).read().split("\n")
    except FileNotFoundError:
        continue
    for line in lines:
        try:
            a = json.loads(line)
        except ValueError:
            continue  # a line cut by kill -9 of the simulator
        total += 1
        rec = by_pos.get((a["shard"], a["seq"]))
        if rec is None:
            missing += 1
            continue
        from_ts = a["timestamp"]
        if rec["device_id"] != a["device_id"]:
            wrong += 1
            continue
        # the stream normalises timestamps to UTC µs; compare as instants
        def inst(s):
            return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        if inst(rec["timestamp"]) != inst(from_ts):
            wrong += 1
        if count.get((rec["device_id"], rec["timestamp"]), 0) != 1:
            dup += 1
print(f"{cycles} kill -9 cycles, {total} acknowledged records checked, stream holds {len(stream)}")
c.check(total > 0, "some records were acknowledged")
c.eq(missing, 0, "acknowledged records missing after recovery")
c.eq(wrong, 0, "acknowledged records at the wrong position")
c.eq(dup, 0, "acknowledged records stored more than once")

per_dev = {}
for r in sorted(stream, key=lambda r: (r["shard"], int(r["seq"]))):
    t = datetime.datetime.fromisoformat(r["record"]["timestamp"].replace("Z", "+00:00")).timestamp()
    cycle = int((t - base) // 7200)
    if cycle % 2 == 0:  # single-connection cycles
        per_dev.setdefault((cycle, r["record"]["device_id"]), []).append(t)
c.check(len(per_dev) > 0, "single-connection cycles stored records to check order on")
bad_order = [d for d, ts in per_dev.items() if ts != sorted(ts)]
c.eq(bad_order, [], "devices whose stream order differs from their timestamp order")
c.finish()
