"""Fault: a torn tail is truncated on recovery; a flipped bit in a sealed segment is
quarantined and reported, never served; injected EIO/ENOSPC on write and fsync (through the
file-ops seam, FLEETLAKE_FAULTS) give 503s and no false acknowledgement."""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402
from fltest import record  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("storage-faults")


def fill(srv, device_prefix, n_requests, per_request=100, minute=0):
    acked = []
    for i in range(n_requests):
        batch = [record(f"{device_prefix}-{j % 20}", ts="2026-02-01T%02d:%02d:%02d.%03dZ"
                        % (minute, i % 60, j % 60, j)) for j in range(per_request)]
        st, _, js = srv.post_records(batch)
        if st == 200:
            for rec, res in zip(batch, js["records"]):
                if "seq" in res:
                    acked.append((res["shard"], res["seq"], rec["device_id"]))
    return acked


# ---- torn tail ----------------------------------------------------------------------------
data = root + "/torn"
srv = fltest.Server(data, shards=1).start()
acked = fill(srv, "torn", 5)
c.eq(srv.stop(), 0, "stop")
segs = sorted(glob.glob(data + "/stream/shard-0000/*.seg"))
with open(segs[-1], "ab") as f:
    f.write(b"\x07" * 1000)  # a batch that never finished: garbage after the last good one
size_before = os.path.getsize(segs[-1])
srv = fltest.Server(data, shards=1).start()
log = srv.log_text()
c.check("truncated 1000 torn bytes" in log, "recovery reports the truncated tail")
c.eq(os.path.getsize(segs[-1]), size_before - 1000, "torn tail cut from the segment")
st, _, js = srv.post_records(record("torn-after", ts="2026-02-02T00:00:00Z"))
c.eq(st, 200, "appends after truncation")
c.eq(srv.stop(), 0, "stop")
stream = fltest.stream_records(data)
c.eq(len(stream), len(acked) + 1, "every acknowledged record kept, nothing extra")

# ---- bit flip in a sealed segment ---------------------------------------------------------
data = root + "/flip"
srv = fltest.Server(data, shards=1, extra=["--set", "stream.segment_bytes=64KiB"]).start()
acked = fill(srv, "flip", 30)
c.eq(srv.stop(), 0, "stop")
segs = sorted(glob.glob(data + "/stream/shard-0000/*.seg"))
c.check(len(segs) >= 3, f"several segments ({len(segs)})")
victim = segs[0]
with open(victim, "r+b") as f:
    f.seek(os.path.getsize(victim) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x10]))
srv = fltest.Server(data, shards=1).start()
log = srv.log_text()
c.check("quarantined 1 segments" in log and os.path.basename(victim) in log,
        "recovery reports the quarantined segment by name")
c.check(os.path.exists(os.path.join(data, "stream", "quarantine")) and
        any(os.path.basename(victim) in p for p in
            glob.glob(data + "/stream/quarantine/**", recursive=True)),
        "segment moved to quarantine/")
c.check(not os.path.exists(victim), "corrupt segment no longer served")
st, _, _ = srv.request("GET", "/readyz")
c.eq(st, 200, "ready after quarantine")
c.eq(srv.stop(), 0, "stop")
stream = fltest.stream_records(data)
c.check(0 < len(stream) < len(acked), f"records outside the corrupt segment served ({len(stream)} of {len(acked)})")

import hashlib  # noqa: E402
shard0_devices = [f"dev-{j}" for j in range(40)
                  if int.from_bytes(hashlib.md5(f"dev-{j}".encode()).digest(), "big") < (1 << 127)]

# ---- injected EIO on fsync / ENOSPC on write ---------------------------------------------
for label, spec in [("fsync EIO", "fsync:EIO:after=3:path=stream/shard-0000"),
                    ("write ENOSPC", "write:ENOSPC:after=3:path=stream/shard-0000")]:
    data = root + "/" + label.replace(" ", "-")
    srv = fltest.Server(data, shards=2, env={"FLEETLAKE_FAULTS": spec}).start()
    acked = []
    statuses = set()
    unavailable = 0
    for i in range(30):
        batch = [record(f"dev-{j}", ts="2026-02-03T00:%02d:%02d.000Z" % (i, j)) for j in range(40)]
        st, hd, js = srv.post_records(batch)
        statuses.add(st)
        for rec, res in zip(batch, js["records"] if js and "records" in js else []):
            if "seq" in res:
                acked.append((res["shard"], res["seq"], rec["device_id"], rec["timestamp"]))
            elif res.get("error", {}).get("code") == "unavailable":
                unavailable += 1
        if st == 503:
            c.check("retry-after" in hd, f"{label}: 503 has Retry-After")
    c.check(unavailable > 0, f"{label}: records on the failed shard refused ({unavailable})")
    st, hd, js = srv.post_records([record(d, ts="2026-02-03T01:00:00Z") for d in shard0_devices])
    c.eq(st, 503, f"{label}: a request only for the failed shard gets 503")
    c.check("retry-after" in hd, f"{label}: 503 has Retry-After")
    c.check(any(a[0] == "shard-0001" for a in acked), f"{label}: the other shard keeps acking")
    st, _, _ = srv.request("GET", "/readyz")
    c.eq(st, 503, f"{label}: /readyz reports the failed shard")
    m = srv.metrics()
    c.eq(m.get('fleetlake_stream_shard_failed{stream="records",shard="shard-0000"}'), 1.0,
         f"{label}: failed shard in metrics")
    c.check("shard-0000" in srv.log_text() or "failed" in srv.log_text(), f"{label}: logged")
    srv.stop()
    srv = fltest.Server(data, shards=2).start()
    c.eq(srv.stop(), 0, f"{label}: restart without faults")
    stream = {(r["shard"], r["seq"]): r["record"] for r in fltest.stream_records(data)}
    lost = [a for a in acked if a[:2] not in stream or stream[a[:2]]["device_id"] != a[2]]
    c.eq(lost, [], f"{label}: no false acknowledgement")
c.finish()
