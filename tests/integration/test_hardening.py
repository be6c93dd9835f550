"""Integration: slow clients and connection limits. Dozens of connections trickle bytes — the
headers one byte at a time (slowloris) or a POST body one byte at a time — while a
well-behaved client keeps posting records: it is served at its normal latency, and every
trickler is cut by server.header_timeout_s / server.body_timeout_s with a 408 JSON answer.
Also: a keep-alive connection idle longer than the header deadline is still usable; a body
that is slow but in time is accepted; server.max_connections_per_client closes the extra
connections of one address while another address is served; headers too large for
libmicrohttpd's memory pool still get 431."""
import json
import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402
from fltest import record  # noqa: E402

HEADER_S, BODY_S, PER_CLIENT = 2, 3, 80
SLACK_S = 1.5  # sweep interval (0.2 s), trickle step and a loaded 2-core CI machine
c = fltest.Checks()
data = fltest.scratch_dir("hardening") + "/data"
srv = fltest.Server(data, extra=[
    "--set", f"server.header_timeout_s={HEADER_S}", "--set", f"server.body_timeout_s={BODY_S}",
    "--set", f"server.max_connections_per_client={PER_CLIENT}"]).start()
GOOD = ("127.0.0.2", 0)  # the well-behaved client's own address (loopback accepts 127/8)


def stored():
    return len(fltest.stream_records(data))


def good_client(n, interval_s, out):
    """n POSTs of one record on one keep-alive connection from GOOD: (status, seconds)."""
    conn = srv.connection(timeout=30, source_address=GOOD)
    for i in range(n):
        t0 = time.time()
        body = json.dumps(record("good-%04d" % len(out)))
        conn.request("POST", "/v1/records", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        out.append((r.status, time.time() - t0))
        time.sleep(interval_s)
    conn.close()


def trickle(kind, result):
    """One slow client from 127.0.0.1: 'headers' trickles the request head, 'body' sends the
    head at once and trickles the body. result gets (seconds from the deadline's start to
    the cut, the bytes answered)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    head = (b"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\nX-Padding: " + b"p" * 200 + b"\r\n\r\n")
    t0 = time.time()
    if kind == "body":
        s.sendall(head)
        t0 = time.time()
        payload = b" " * 100000
    else:
        payload = head
    answer, cut_at = b"", None
    for i in range(len(payload)):
        try:
            s.send(payload[i:i + 1])
        except OSError:
            cut_at = time.time()
            break
        if select.select([s], [], [], 0.25)[0]:
            cut_at = time.time()
            break
        if time.time() - t0 > 20:
            break
    try:
        s.settimeout(5)
        while True:
            d = s.recv(65536)
            if not d:
                break
            answer += d
    except OSError:
        pass
    s.close()
    result.append((kind, None if cut_at is None else cut_at - t0, answer))


# ---- baseline latency of the good client, alone --------------------------------------------
base = []
good_client(40, 0.02, base)
c.check(all(st == 200 for st, _ in base), "baseline requests all 200")
base_lat = sorted(t for _, t in base)
base_p95 = base_lat[int(len(base_lat) * 0.95) - 1]

# ---- the same client while 40 header tricklers and 20 body tricklers hold connections -------
results = []
threads = [threading.Thread(target=trickle, args=("headers" if i < 40 else "body", results))
           for i in range(60)]
for t in threads:
    t.start()
time.sleep(0.5)
during = []
good_client(100, 0.03, during)
for t in threads:
    t.join(timeout=60)
statuses = [st for st, _ in during]
c.eq(statuses.count(200), len(during), "good client: every request answered 200 under attack")
lat = sorted(t for _, t in during)
p95 = lat[int(len(lat) * 0.95) - 1]
c.check(p95 < base_p95 + 0.5,
        f"good client p95 latency {p95 * 1000:.1f} ms under attack vs {base_p95 * 1000:.1f} ms alone")
print(f"good client p95: alone {base_p95 * 1000:.1f} ms, with 60 trickling connections "
      f"{p95 * 1000:.1f} ms", flush=True)

c.eq(len(results), 60, "every trickler finished")
for kind, deadline in (("headers", HEADER_S), ("body", BODY_S)):
    mine = [r for r in results if r[0] == kind]
    cut = [r for r in mine if r[1] is not None and deadline - 0.2 <= r[1] <= deadline + SLACK_S]
    c.eq(len(cut), len(mine), f"{kind} tricklers cut within {deadline}+{SLACK_S} s "
                              f"(times {sorted(round(r[1], 2) for r in mine if r[1])[:3]}...)")
    answered = [r for r in mine if r[2].startswith(b"HTTP/1.1 408 ")]
    c.eq(len(answered), len(mine), f"{kind} tricklers got 408")
    if answered:
        js = json.loads(answered[0][2].split(b"\r\n\r\n", 1)[1])
        c.eq(js["error"]["code"], "request_timeout", f"{kind}: 408 body is the JSON error")
        key = "server.header_timeout_s" if kind == "headers" else "server.body_timeout_s"
        c.check(key in js["error"]["message"], f"{kind}: message names {key}")
m = srv.metrics()
c.eq(m.get('fleetlake_http_slow_clients_closed_total{phase="headers"}'), 40.0,
     "metrics: header deadline closes")
c.eq(m.get('fleetlake_http_slow_clients_closed_total{phase="body"}'), 20.0,
     "metrics: body deadline closes")
c.eq(stored(), len(base) + len(during), "only the good client's records were stored")

# ---- keep-alive idle past the header deadline; a slow body within its deadline -------------
conn = srv.connection(timeout=30, source_address=GOOD)
conn.request("GET", "/healthz")
r1 = conn.getresponse()
r1.read()
time.sleep(HEADER_S + 1.5)
conn.request("GET", "/healthz")
r2 = conn.getresponse()
r2.read()
conn.close()
c.eq((r1.status, r2.status), (200, 200),
     "an idle keep-alive connection outlives the header deadline (idle timeout governs it)")

body = json.dumps([record("slow-ok-%d" % i) for i in range(3)]).encode()
s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
s.sendall(b"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
step = len(body) // 4 + 1
for i in range(0, len(body), step):
    s.sendall(body[i:i + step])
    time.sleep(BODY_S / 6)
answer = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    answer += d
s.close()
c.check(answer.startswith(b"HTTP/1.1 200 ") and b'"accepted":3' in answer,
        f"a body slow but within server.body_timeout_s is accepted ({answer[:40]!r})")

# ---- connections per client address --------------------------------------------------------
held = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(PER_CLIENT)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
try:
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    refused = extra.recv(1024) == b""
except OSError:
    refused = True
extra.close()
c.check(refused, f"connection {PER_CLIENT + 1} from one address is closed at accept")
conn = srv.connection(timeout=10, source_address=GOOD)
conn.request("GET", "/healthz")
c.eq(conn.getresponse().status, 200, "another address is still served")
conn.close()
# The held connections send nothing: the header deadline frees them, and the address can
# connect again.
time.sleep(HEADER_S + SLACK_S)
closed = 0
for h in held:
    try:
        h.settimeout(2)
        closed += h.recv(1024).startswith(b"HTTP/1.1 408 ")
    except OSError:
        pass
    h.close()
c.eq(closed, PER_CLIENT, "silent connections answered 408 at the header deadline")
st, _, _ = srv.request("GET", "/healthz")
c.eq(st, 200, "the address is served again once its connections are gone")

# ---- headers beyond libmicrohttpd's memory pool --------------------------------------------
s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
try:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * (600 << 10) + b"\r\n\r\n")
except OSError:
    pass
try:
    answer = s.recv(4096)
except OSError:
    answer = b""
s.close()
c.check(answer.startswith(b"HTTP/1.1 431 "), f"600 KiB of headers: 431 ({answer[:40]!r})")

st, _, raw = srv.request("GET", "/healthz")
c.eq((st, json.loads(raw)["status"]), (200, "ok"), "server healthy at the end")
c.eq(srv.stop(), 0, "stops cleanly")
c.finish()
