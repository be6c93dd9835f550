"""Integration: the audit trail. serve runs with the audit log on (the default) and answers a
few kinds of requests; each becomes one JSON line whose fields (action, resource, result, bytes
in/out, trace id = the traceparent response header's, client address, RFC 3339 µs time) are checked, and whose hash
chain is recomputed here independently (SHA-256 of the previous line). `fleetlake erase` adds an
admin entry. Then, for each tampering case — a field edited, a line deleted, a line inserted,
two lines swapped, the tail truncated, a digest's HMAC broken, HEAD rolled back — a copy of the
log is tampered and `fleetlake audit verify` must fail naming the file and line, while the
untouched log passes. The digest case uses a log written here from the documented format (a
signed digest needs an hour to end), which also proves docs/security.md describes the format
exactly. With authentication on, entries carry the key id and role. Injected write (ENOSPC) and
fsync (EIO) errors on the audit files are counted and logged, never fail a request, and leave
a log that verifies."""
import hashlib
import hmac
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

c = fltest.Checks()
root = fltest.scratch_dir("audit")
data = root + "/data"
srv = fltest.Server(data).start()

st, hd, js = srv.post_records([fltest.record("truck-0001"), fltest.record("truck-0002")])
c.eq(st, 200, "ingest accepted")


def trace_of(headers):
    """The trace id of a response's traceparent header (00-<trace>-<span>-<flags>)."""
    return headers.get("traceparent", "").split("-")[1] if headers.get("traceparent") else None


ingest_id = trace_of(hd)
body = json.dumps([fltest.record("truck-0003")]).encode()
st2, hd2, raw2 = srv.request("POST", "/v1/records", body, {"Content-Type": "application/json"})
st3, hd3, raw3 = srv.request("GET", "/v1/devices/truck-0001")
st4, hd4, raw4 = srv.request("GET", "/no/such/route")
qbody = json.dumps({"sql": "SELECT 1 AS x UNION ALL SELECT 2", "format": "json"}).encode()
st5, hd5, raw5 = srv.request("POST", "/v1/query", qbody, {"Content-Type": "application/json"})
c.eq(st5, 200, f"query answered: {raw5[:200]}")
metrics = srv.metrics()
c.check(metrics.get("fleetlake_audit_entries_total", 0) >= 5,
        f"audit entries counted in /metrics: {metrics.get('fleetlake_audit_entries_total')}")
c.eq(metrics.get("fleetlake_audit_write_errors_total"), 0.0, "no audit write errors")

# verify while serve runs (it reads a snapshot taken under the log's lock)
p = fltest.run_cli("audit", "verify", "--data", data, check=False)
c.check(p.returncode == 0 and "intact" in p.stdout, f"verify while serving: {p.stdout}{p.stderr}")
c.eq(srv.stop(), 0, "serve stops")

p = fltest.run_cli("erase", "--data", data, "--device", "truck-0002", check=False)
c.eq(p.returncode, 0, f"erase runs: {p.stderr}")

audit_dir = os.path.join(data, "audit")
files = sorted(f for f in os.listdir(audit_dir) if f.startswith("audit-"))
c.check(len(files) == 1 and re.fullmatch(r"audit-\d{4}-\d\d-\d\d-0000\.jsonl", files[0]),
        f"one day file: {files}")
log_path = os.path.join(audit_dir, files[0])
with open(log_path, "rb") as f:
    raw_lines = f.read().split(b"\n")
c.eq(raw_lines[-1], b"", "the log ends with a newline")
raw_lines = raw_lines[:-1]
entries = [json.loads(l) for l in raw_lines]

# The chain, recomputed independently.
prev = "0" * 64
for i, (l, e) in enumerate(zip(raw_lines, entries)):
    c.eq(e["seq"], i + 1, f"seq of line {i + 1}")
    c.eq(e["prev"], prev, f"prev of line {i + 1}")
    c.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["time"]),
            f"RFC 3339 µs time: {e['time']}")
    prev = hashlib.sha256(l).hexdigest()

by_trace = {e.get("trace_id"): e for e in entries if e["type"] == "api"}
e = by_trace.get(ingest_id)
c.check(e is not None, f"an entry with the ingest request's trace id {ingest_id}")
if e:
    c.eq(e["action"], "POST /v1/records", "ingest action")
    c.eq(e["resource"], "/v1/records", "ingest resource")
    c.eq(e["result"], 200, "ingest result")
    c.eq(e["client"], "127.0.0.1", "client address")
    c.eq(e["key_id"], "", "no key id with auth off")
    c.check(e["bytes_in"] > 100 and e["bytes_out"] > 10, f"bytes: {e}")
e = by_trace.get(trace_of(hd2))
c.check(e is not None and e["bytes_in"] == len(body) and e["bytes_out"] == len(raw2),
        f"bytes_in = body length {len(body)}, bytes_out = response length {len(raw2)}: {e}")
e = by_trace.get(trace_of(hd3))
c.check(e is not None and e["action"] == "GET /v1/devices/{id}" and
        e["resource"] == "/v1/devices/truck-0001" and e["result"] == st3,
        f"device route entry: {e}")
e = by_trace.get(trace_of(hd4))
c.check(e is not None and e["result"] == 404 and e["resource"] == "/no/such/route",
        f"unknown route entry: {e}")
e = by_trace.get(trace_of(hd5))
c.check(e is not None and e["action"] == "POST /v1/query" and e["bytes_in"] == len(qbody) and
        e["bytes_out"] == len(raw5) and len(raw5) > 0,
        f"streamed query response counted: {len(raw5)} bytes: {e}")
admin = [e for e in entries if e["type"] == "admin"]
c.eq([e["action"] for e in admin], ["serve.start", "serve.stop", "erase"], "admin entries")
c.check(admin[-1]["resource"] == "truck-0002" and admin[-1]["result"] == "ok" and
        admin[-1]["client"].startswith("local uid="), f"erase entry: {admin[-1]}")

p = fltest.run_cli("audit", "verify", "--data", data, check=False)
c.check(p.returncode == 0 and f"{len(entries)} entries" in p.stdout,
        f"untouched log verifies: {p.stdout}{p.stderr}")
p = fltest.run_cli("audit", "show", "--data", data, "--action", "erase")
c.eq([json.loads(l)["action"] for l in p.stdout.splitlines()], ["erase"], "audit show --action")

n = len(raw_lines)
assert n >= 7, n


def tampered(name, fn, expect_line, expect_text):
    """Copy the data's audit log, apply fn to its lines, and check verify's verdict."""
    d = os.path.join(root, "t-" + name)
    os.makedirs(d)
    shutil.copytree(audit_dir, os.path.join(d, "audit"))
    shutil.copy2(os.path.join(data, "audit.key"), os.path.join(d, "audit.key"))
    lines = list(raw_lines)
    lines = fn(lines)
    with open(os.path.join(d, "audit", files[0]), "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))
    p = fltest.run_cli("audit", "verify", "--data", d, check=False)
    where = f"{files[0]} line {expect_line}" if expect_line else "HEAD"
    c.check(p.returncode == 1 and where in p.stderr and expect_text in p.stderr,
            f"{name}: want exit 1 naming '{where}' and '{expect_text}', got {p.returncode}: "
            f"{p.stdout}{p.stderr}")


def edit(lines):
    lines[2] = lines[2].replace(b'"bytes_out":', b'"bytes_out":1', 1)
    return lines


tampered("edit", edit, 3, "was altered")
tampered("delete", lambda l: l[:3] + l[4:], 4, "deleted")
tampered("insert", lambda l: l[:3] + [l[2]] + l[3:], 4, "inserted")
tampered("swap", lambda l: l[:2] + [l[3], l[2]] + l[4:], 3, "expected")
tampered("truncate", lambda l: l[:-2], n - 2, "truncated")
tampered("edit-last", lambda l: l[:-1] + [l[-1].replace(b'"result":"ok"', b'"result":"no"')],
         n, "HEAD")
# A line appended without the key (its prev chains correctly: SHA-256 is unkeyed) is not
# covered by the signed HEAD.
tampered("forged-append",
         lambda l: l + [json.dumps({"seq": n + 1, "time": entries[-1]["time"], "type": "admin",
                                    "key_id": "", "role": "local", "action": "keys.create",
                                    "resource": "x", "result": "ok", "bytes_in": 0,
                                    "bytes_out": 0, "trace_id": "", "client": "x",
                                    "prev": hashlib.sha256(l[-1]).hexdigest()},
                                   separators=(",", ":")).encode()],
         n + 1, "follow the newest entry HEAD records")

# ---- a log with hourly digests, written here from the documented format ----------------------
with open(os.path.join(data, "audit.key")) as f:
    key = bytes.fromhex(f.read().strip())


def sign(domain, prefix):
    return hmac.new(key, domain + prefix, hashlib.sha256).hexdigest()


gen = os.path.join(root, "gen")
os.makedirs(os.path.join(gen, "audit"))
shutil.copy2(os.path.join(data, "audit.key"), os.path.join(gen, "audit.key"))
glines, prev, seq, digest_seq = [], "0" * 64, 0, 0


def add(obj_text):
    global prev, seq
    glines.append(obj_text)
    prev = hashlib.sha256(obj_text).hexdigest()
    seq += 1


for hour in range(3):
    for k in range(4):
        add(json.dumps({"seq": seq + 1, "time": f"2026-01-02T0{hour}:1{k}:00.000000Z",
                        "type": "api", "key_id": "k", "role": "device",
                        "action": "POST /v1/records", "resource": "/v1/records", "result": 200,
                        "bytes_in": 10, "bytes_out": 5, "trace_id": str(k),
                        "client": "10.0.0.1", "prev": prev}, separators=(",", ":")).encode())
    prefix = (f'{{"seq":{seq + 1},"time":"2026-01-02T0{hour + 1}:00:01.000000Z","type":"digest",'
              f'"hour":"2026-01-02T0{hour}:00:00.000000Z","first_seq":{digest_seq + 1},'
              f'"count":{seq - digest_seq},"prev":"{prev}"').encode()
    digest_seq = seq + 1
    add(prefix + b',"hmac":"' + sign(b"fleetlake-audit-digest-v1\n", prefix).encode() + b'"}')
gname = "audit-2026-01-02-0000.jsonl"
with open(os.path.join(gen, "audit", gname), "wb") as f:
    f.write(b"".join(l + b"\n" for l in glines))
size = sum(len(l) + 1 for l in glines)
hprefix = (f'{{"seq":{seq},"hash":"{prev}","time_us":1767319201000000,"digest_seq":{digest_seq},'
           f'"file":"{gname}","size":{size}').encode()
head = hprefix + b',"hmac":"' + sign(b"fleetlake-audit-head-v1\n", hprefix).encode() + b'"}'
with open(os.path.join(gen, "audit", "HEAD"), "wb") as f:
    f.write(head.ljust(511, b" ") + b"\n")
p = fltest.run_cli("audit", "verify", "--data", gen, check=False)
c.check(p.returncode == 0 and "15 entries" in p.stdout and "3 hourly digests" in p.stdout,
        f"a log written from the documented format verifies: {p.stdout}{p.stderr}")

bad = list(glines)
i = 9  # the second digest
m = re.search(rb'"hmac":"([0-9a-f])', bad[i])
flip = b"0" if m.group(1) != b"0" else b"1"
bad[i] = bad[i][:m.start(1)] + flip + bad[i][m.start(1) + 1:]
with open(os.path.join(gen, "audit", gname), "wb") as f:
    f.write(b"".join(l + b"\n" for l in bad))
p = fltest.run_cli("audit", "verify", "--data", gen, check=False)
c.check(p.returncode == 1 and f"{gname} line 10" in p.stderr and "HMAC" in p.stderr,
        f"broken digest HMAC named: {p.stderr}")
# A forger without the key who recomputes the chain after editing an entry is stopped by the
# next digest's HMAC (the chain alone is unkeyed).
forged, prev2 = [], "0" * 64
for j, l in enumerate(glines):
    o = json.loads(l)
    if j == 1:
        o["result"] = 403
    if o["type"] == "digest":
        text = re.sub(rb'"prev":"[0-9a-f]{64}"', f'"prev":"{prev2}"'.encode(), l)
    else:
        o["prev"] = prev2
        text = json.dumps(o, separators=(",", ":")).encode()
    forged.append(text)
    prev2 = hashlib.sha256(text).hexdigest()
with open(os.path.join(gen, "audit", gname), "wb") as f:
    f.write(b"".join(l + b"\n" for l in forged))
p = fltest.run_cli("audit", "verify", "--data", gen, check=False)
c.check(p.returncode == 1 and f"{gname} line 5" in p.stderr and "HMAC" in p.stderr,
        f"a re-chained forgery fails at the next digest: {p.stderr}")

# A restart on a truncated log records the cut, and verify keeps reporting it.
cut = os.path.join(root, "cut")
shutil.copytree(data, cut, ignore=shutil.ignore_patterns("LOCK"))
with open(os.path.join(cut, "audit", files[0]), "wb") as f:
    f.write(b"".join(l + b"\n" for l in raw_lines[:-2]))
srv2 = fltest.Server(cut).start()
srv2.request("GET", "/healthz")
c.eq(srv2.stop(), 0, "serve restarts on a cut log")
c.check("disagree" in srv2.log_text(), "serve logs the disagreement")
p = fltest.run_cli("audit", "verify", "--data", cut, check=False)
c.check(p.returncode == 1 and "disagreeing" in p.stderr, f"the recorded cut fails verify: {p.stderr}")

# ---- with authentication on: the caller's key id and role are in each entry ---------------------
adata = root + "/auth"
asrv = fltest.Server(adata, auth=True).start()
kid, secret = fltest.create_key(adata, "data_engineer", "--name", "audit-test")
asrv.key = secret
st, hd, _ = asrv.request("GET", "/v1/tables")
c.eq(st, 200, "a keyed request is served")
keyed_id = trace_of(hd)
st, hd, _ = asrv.request("GET", "/v1/tables", headers={"Authorization": "Bearer nope"})
c.eq(st, 401, "a bad key is refused")
refused_id = trace_of(hd)
c.eq(asrv.stop(), 0, "serve (auth on) stops")
p = fltest.run_cli("audit", "show", "--data", adata)
aentries = [json.loads(l) for l in p.stdout.splitlines()]
by_id = {e.get("trace_id"): e for e in aentries if e["type"] == "api"}
e = by_id.get(keyed_id)
c.check(e is not None and e["key_id"] == kid and e["role"] == "data_engineer" and
        e["result"] == 200, f"keyed entry names key {kid} and its role: {e}")
e = by_id.get(refused_id)
c.check(e is not None and e["key_id"] == "" and e["result"] == 401, f"refused entry: {e}")
c.check(any(e["action"] == "keys.create" and e["type"] == "admin" for e in aentries),
        "keys create is audited")
p = fltest.run_cli("audit", "show", "--data", adata, "--key", kid)
c.check(len(p.stdout.splitlines()) >= 1 and all(json.loads(l)["key_id"] == kid
                                                  for l in p.stdout.splitlines()),
        f"audit show --key filters: {p.stdout}")
p = fltest.run_cli("audit", "verify", "--data", adata, check=False)
c.check(p.returncode == 0 and "intact" in p.stdout, f"verify (auth on): {p.stdout}{p.stderr}")

# ---- write and fsync errors: counted, reported, never fail a request ----------------------------
fdata = root + "/faults"
# (the fault paths name the data dir too: the build tree's own path may contain "/audit/")


class CountingServer(fltest.Server):
    """Every request carries traceparent 00-<n as 32 hex digits>-..., n counting the requests
    the server received (a refused connection reuses n), so the audit entries' trace ids are
    1, 2, 3... and a request without an entry is a gap."""

    def request(self, method, path, body=None, headers=None, timeout=30):
        self.sent = getattr(self, "sent", 0)
        h = dict(headers or {}, traceparent=f"00-{self.sent + 1:032x}-{1:016x}-01")
        r = super().request(method, path, body, h, timeout)
        self.sent += 1
        return r


fsrv = CountingServer(fdata, env={"FLEETLAKE_FAULTS":
                                   "write:ENOSPC:after=3:count=4:path=faults/audit/audit-"})
fsrv.start()
statuses = [fsrv.request("GET", "/v1/tables")[0] for _ in range(10)]
c.eq(statuses, [200] * 10, "requests served while audit writes fail")
m = fsrv.metrics()
c.eq(m.get("fleetlake_audit_write_errors_total"), 4.0, "4 lost audit entries counted")
c.eq(fsrv.stop(), 0, "serve stops")
c.check("audit entry lost" in fsrv.log_text(), "the loss is logged")
p = fltest.run_cli("audit", "verify", "--data", fdata, check=False)
c.check(p.returncode == 0, f"a failed write leaves no partial line: {p.stdout}{p.stderr}")
p = fltest.run_cli("audit", "show", "--data", fdata)
ids = {int(json.loads(l)["trace_id"], 16) for l in p.stdout.splitlines()
       if json.loads(l)["type"] == "api"}
c.eq(len(set(range(1, max(ids) + 1)) - ids), 4, "exactly 4 requests (by trace id) have no entry")

ydata = root + "/fsyncfail"
ysrv = fltest.Server(ydata, env={"FLEETLAKE_FAULTS": "fsync:EIO:path=fsyncfail/audit/"},
                     extra=["--set", "audit.fsync_interval_ms=50"])
ysrv.start()
st, _, _ = ysrv.request("GET", "/v1/tables")
deadline = time.time() + 10
while time.time() < deadline and ysrv.metrics().get("fleetlake_audit_failed") != 1.0:
    time.sleep(0.1)
c.eq(ysrv.metrics().get("fleetlake_audit_failed"), 1.0, "an fsync error stops the audit log")
c.eq(ysrv.request("GET", "/v1/tables")[0], 200, "requests still served after it")
c.check(ysrv.metrics().get("fleetlake_audit_write_errors_total", 0) >= 1,
        "entries after the fsync error are counted as lost")
c.eq(ysrv.stop(), 0, "serve stops")
c.check("fsync of the audit log failed" in ysrv.log_text(), "the fsync error is logged")

c.finish()
