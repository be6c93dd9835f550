"""Integration: throttling (docs/security.md "Throttling") against the real `fleetlake serve`.

A. Per device: one device sending flat out (two connections) for WINDOW seconds against
   throttle.device_rate=200, device_burst=400 gets burst + rate x t records accepted (the rate within ±5 %); the rest get
   the per-record error `throttled`, requests with nothing accepted answer 429 + Retry-After;
   throttled records are neither stored nor dead-lettered; metrics count them; a quiet device
   sending at the same time is never throttled.
B. Per caller (client address; auth is off here): a noisy client on 127.0.0.2 (three processes)
   flooding the server against throttle.key_rate=100, key_burst=200 gets the rate within ±5 % and 429s with
   Retry-After 1 that are honoured (a retry after it succeeds); /healthz, /readyz and /metrics
   stay open to it; a quiet client on 127.0.0.3 at 20 requests/s never gets a 429, before or
   during the flood. Its latency p50/p99 with and without the flood are printed, not asserted
   (timing on a shared machine is not a test).
C. throttle.enabled=off: the same tiny limits throttle nothing.
D. Per API key (security.auth = on): two device keys on the same address have their own
   buckets: the noisy key is throttled (the message names the key), the quiet one never is."""
import http.client
import json
import multiprocessing
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402
from fltest import record  # noqa: E402

WINDOW = 5.0
c = fltest.Checks()


class Client:
    """A keep-alive HTTP client bound to a loopback source address, reconnecting when the
    server closes the connection (it may after answering before reading a body)."""

    def __init__(self, port, source="127.0.0.1", key=None):
        self.port, self.source, self.conn = port, source, None
        self.auth = {"Authorization": "Bearer " + key} if key else {}

    def request(self, method, path, body=None, headers=None):
        for attempt in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                       source_address=(self.source, 0))
            try:
                self.conn.request(method, path, body=body, headers={**self.auth, **(headers or {})})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, records):
        return self.request("POST", "/v1/records", json.dumps(records).encode(),
                            {"Content-Type": "application/json"})

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")


def metric(srv, name):
    return srv.metrics().get(name, 0.0)


# ---- A: per device ---------------------------------------------------------------------------
# Senders work in parallel (two connections here, three processes in B) and the burst is two
# seconds' worth, so that a sender stalled on a loaded machine (an fsync, the scheduler) neither
# leaves the bucket full nor loses tokens to the cap: the measured rate is the bucket's.
RATE, BURST = 200, 400
data_a = fltest.scratch_dir("throttle-device") + "/data"
srv = fltest.Server(data_a, extra=["--set", f"throttle.device_rate={RATE}",
                                   "--set", f"throttle.device_burst={BURST}"]).start()

quiet_results = []


def quiet_device(stop):
    cl = Client(srv.port)
    i = 0
    while not stop.is_set():
        st, _, body = cl.post([record("quiet-dev", ts=f"2026-01-02T03:04:{i % 60:02d}.{i:03d}Z")])
        quiet_results.append((st, json.loads(body)["accepted"] if st == 200 else 0))
        i += 1
        time.sleep(0.1)
    cl.close()


stop = threading.Event()
quiet_thread = threading.Thread(target=quiet_device, args=(stop,))
quiet_thread.start()
batch = [record("noisy-dev", ts=f"2026-01-02T03:04:05.{i:03d}Z") for i in range(50)]
accepted = throttled = requests = 0
statuses, retry_afters, bad_codes = {}, set(), set()
all_throttled_body_ok = True
tally = threading.Lock()


def noisy_device(deadline):
    global accepted, throttled, requests, all_throttled_body_ok
    cl = Client(srv.port)
    while time.monotonic() < deadline:
        st, hd, body = cl.post(batch)
        js = json.loads(body)
        with tally:
            requests += 1
            statuses[st] = statuses.get(st, 0) + 1
            accepted += js["accepted"]
            for r in js["records"]:
                if "error" in r:
                    if r["error"]["code"] == "throttled":
                        throttled += 1
                    else:
                        bad_codes.add(r["error"]["code"])
            if st == 429:
                retry_afters.add(hd.get("retry-after"))
                all_throttled_body_ok &= js["accepted"] == 0 and all(
                    r.get("error", {}).get("code") == "throttled" for r in js["records"])
    cl.close()


t0 = time.monotonic()
senders = [threading.Thread(target=noisy_device, args=(t0 + WINDOW,)) for _ in range(2)]
for t in senders:
    t.start()
for t in senders:
    t.join()
elapsed = time.monotonic() - t0
stop.set()
quiet_thread.join()

measured = (accepted - BURST) / elapsed
print(f"A: {requests} requests x 50 records in {elapsed:.2f} s: {accepted} accepted, "
      f"{throttled} throttled, statuses {statuses}; rate after the burst {measured:.1f}/s "
      f"(configured {RATE}/s)", flush=True)
c.check(requests * 50 > 5 * RATE * WINDOW, f"offered load {requests * 50} records >> the rate")
c.check(abs(measured - RATE) <= 0.05 * RATE,
        f"accepted rate {measured:.1f}/s within 5% of throttle.device_rate={RATE}")
c.eq(accepted + throttled, requests * 50, "every record either accepted or throttled")
c.eq(bad_codes, set(), "no other per-record error")
c.check(statuses.get(200, 0) > 0 and statuses.get(429, 0) > 0,
        f"partial acceptances (200) and fully throttled requests (429): {statuses}")
c.eq(retry_afters, {"1"}, "Retry-After on 429: one token at 200/s is 5 ms away -> 1 s")
c.check(all_throttled_body_ok, "429 bodies list a throttled error for every record")
c.check(len(quiet_results) >= 20, f"quiet device sent {len(quiet_results)} requests")
c.eq([r for r in quiet_results if r != (200, 1)], [], "quiet device: every record accepted")

# The device's bucket refills: after 1 s (Retry-After) it takes a record again.
time.sleep(1.0)
st, _, js = srv.post_records(record("noisy-dev", ts="2026-01-02T03:05:00Z"))
c.eq((st, js["accepted"]), (200, 1), "after Retry-After the device is accepted again")
accepted += 1

m = srv.metrics()
c.eq(m.get('fleetlake_throttled_records_total{scope="device"}'), throttled,
     "metric: throttled records")
c.eq(m.get('fleetlake_records_total{outcome="failed",code="throttled"}'), throttled,
     "metric: records_total failed/throttled")
c.eq(m.get('fleetlake_throttled_requests_total{scope="device"}'), statuses.get(429, 0),
     "metric: requests answered 429 for their devices")
c.eq(m.get('fleetlake_throttled_requests_total{scope="key"}'), 0, "metric: no caller throttled")
c.eq(m.get('fleetlake_throttle_buckets{scope="device"}'), 2, "metric: two device buckets")
c.eq(m.get('fleetlake_http_requests_total{route="/v1/records",status="429"}'),
     statuses.get(429, 0), "metric: 429s by route")
c.eq(srv.stop(), 0, "serve stops")
stored = fltest.stream_records(data_a)
c.eq(sum(1 for r in stored if r["record"]["device_id"] == "noisy-dev"), accepted,
     "exactly the accepted records are in the stream")
c.eq(len(fltest.stream_records(data_a, dead_letters=True)), 0,
     "throttled records are not dead-lettered")

# ---- B: per caller (client address), noisy vs quiet -----------------------------------------
KEY_RATE, KEY_BURST = 100, 200
data_b = fltest.scratch_dir("throttle-key") + "/data"
srv = fltest.Server(data_b, extra=["--set", f"throttle.key_rate={KEY_RATE}",
                                   "--set", f"throttle.key_burst={KEY_BURST}"]).start()


def noisy_client(port, start, end, out, source="127.0.0.2", key=None):
    """Flood from source between the monotonic times start and end, in its own process (no
    shared GIL with the quiet client)."""
    cl = Client(port, source, key)
    ok = throttled = 0
    retry_afters = set()
    time.sleep(max(0.0, start - time.monotonic()))
    while time.monotonic() < end:
        st, hd, body = cl.post([record("noisy-caller")])
        if st == 200:
            ok += 1
        elif st == 429:
            throttled += 1
            retry_afters.add(hd.get("retry-after"))
            if json.loads(body)["error"]["code"] != "throttled":
                retry_afters.add("bad code")
    out.put((ok, throttled, sorted(retry_afters), time.monotonic()))
    cl.close()


def flood(port, seconds, processes, source="127.0.0.2", key=None, quiet=None):
    """processes noisy clients from one source for seconds (starting together); runs quiet()
    meanwhile (after 0.5 s) if given. Returns (ok, throttled, retry-afters, window s, quiet's
    result)."""
    q = multiprocessing.Queue()
    start = time.monotonic() + 0.3  # all processes are up and waiting by then
    procs = [multiprocessing.Process(target=noisy_client,
                                     args=(port, start, start + seconds, q, source, key))
             for _ in range(processes)]
    for p in procs:
        p.start()
    result = None
    if quiet:
        time.sleep(max(0.0, start + 0.5 - time.monotonic()))
        result = quiet()
    got = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    ok = sum(g[0] for g in got)
    n429 = sum(g[1] for g in got)
    retry = sorted(set(r for g in got for r in g[2]))
    window = max(g[3] for g in got) - start
    return ok, n429, retry, window, result


def quiet_client(port, seconds, source="127.0.0.3", key=None):
    """20 requests/s of one record from source; returns (statuses, latencies in ms)."""
    cl = Client(port, source, key)
    statuses, lat = [], []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        s = time.monotonic()
        st, _, _ = cl.post([record("quiet-caller", ts=f"2026-01-02T03:{i // 60 % 60:02d}:"
                                                      f"{i % 60:02d}Z")])
        lat.append((time.monotonic() - s) * 1e3)
        statuses.append(st)
        i += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - s)))
    cl.close()
    return statuses, lat


base_st, base_lat = quiet_client(srv.port, WINDOW)
ok, n429, noisy_retry, noisy_elapsed, (noise_st, noise_lat) = flood(
    srv.port, WINDOW + 1.0, 3, quiet=lambda: quiet_client(srv.port, WINDOW))
key_measured = (ok - KEY_BURST) / noisy_elapsed
print(f"B: noisy client (3 processes) {ok} x 200 + {n429} x 429 in {noisy_elapsed:.2f} s: rate after the "
      f"burst {key_measured:.1f}/s (configured {KEY_RATE}/s)", flush=True)
print(f"B: quiet client latency without the flood p50 {percentile(base_lat, 50):.2f} ms, "
      f"p99 {percentile(base_lat, 99):.2f} ms ({len(base_lat)} requests); with it p50 "
      f"{percentile(noise_lat, 50):.2f} ms, p99 {percentile(noise_lat, 99):.2f} ms "
      f"({len(noise_lat)} requests)", flush=True)
c.check(n429 > ok, f"the noisy client was throttled ({n429} 429s, {ok} accepted)")
c.check(abs(key_measured - KEY_RATE) <= 0.05 * KEY_RATE,
        f"noisy client's accepted rate {key_measured:.1f}/s within 5% of key_rate={KEY_RATE}")
c.eq(noisy_retry, ["1"], "noisy client's 429s: code throttled, Retry-After 1")
c.check(len(base_st) >= 40 and len(noise_st) >= 40,
        f"quiet client sent {len(base_st)} and {len(noise_st)} requests")
c.eq(sorted(set(base_st)), [200], "quiet client without the flood: all 200")
c.eq(sorted(set(noise_st)), [200], "quiet client during the flood: all 200, never 429")

# The noisy address on another route: drained again, probes stay open, Retry-After is honoured.
noisy_cl = Client(srv.port, "127.0.0.2")
for sent in range(1, 5000):
    st, hd, body = noisy_cl.request("GET", "/v1/stream")
    if st == 429:
        break
c.eq((st, json.loads(body)["error"]["code"], hd.get("retry-after")), (429, "throttled", "1"),
     f"GET /v1/stream is throttled too (after {sent} requests)")
c.eq([noisy_cl.request("GET", p)[0] for p in ("/healthz", "/readyz", "/metrics")],
     [200, 200, 200], "health, readiness and metrics are never throttled")
time.sleep(int(hd["retry-after"]))
c.eq(noisy_cl.request("GET", "/v1/stream")[0], 200, "a retry after Retry-After succeeds")
noisy_cl.close()
m = srv.metrics()
c.check(m.get('fleetlake_throttled_requests_total{scope="key"}', 0) >= n429 + 1,
        "metric: requests throttled by caller")
c.eq(m.get('fleetlake_throttle_buckets{scope="key"}'), 2, "metric: a bucket per caller address (probes take none)")
c.eq(srv.stop(), 0, "serve stops")

# ---- C: throttle.enabled = off --------------------------------------------------------------
data_c = fltest.scratch_dir("throttle-off") + "/data"
srv = fltest.Server(data_c, extra=["--set", "throttle.enabled=off",
                                   "--set", "throttle.key_rate=1", "--set", "throttle.key_burst=1",
                                   "--set", "throttle.device_rate=1",
                                   "--set", "throttle.device_burst=1"]).start()
cl = Client(srv.port)
results = [cl.post([record("dev-off", ts=f"2026-01-02T03:04:{i:02d}Z") for i in range(10)])
           for _ in range(10)]
cl.close()
c.eq([(st, json.loads(b)["accepted"]) for st, _, b in results], [(200, 10)] * 10,
     "throttling off: 10 requests of 10 records of one device all accepted")
c.check("throttling is off" in srv.log_text(), "a warning says throttling is off")
c.eq(srv.stop(), 0, "serve stops")

# ---- D: per API key ---------------------------------------------------------------------------
data_d = fltest.scratch_dir("throttle-keys") + "/data"
srv = fltest.Server(data_d, auth=True,
                    extra=["--set", "throttle.key_rate=50", "--set", "throttle.key_burst=50"]).start()
noisy_id, noisy_key = fltest.create_key(data_d, "device", "--name", "noisy")
quiet_id, quiet_key = fltest.create_key(data_d, "device", "--name", "quiet")
srv.key = fltest.create_key(data_d, "operator", "--name", "metrics")[1]  # for /metrics
ok, n429, noisy_retry, _, (quiet_st, quiet_lat) = flood(
    srv.port, 3.5, 2, "127.0.0.1", noisy_key,
    quiet=lambda: quiet_client(srv.port, 3.0, "127.0.0.1", quiet_key))
print(f"D: noisy key {ok} x 200 + {n429} x 429; quiet key on the same address: "
      f"{len(quiet_st)} requests, p50 {percentile(quiet_lat, 50):.2f} ms, "
      f"p99 {percentile(quiet_lat, 99):.2f} ms", flush=True)
c.check(n429 > 0 and noisy_retry == ["1"], f"the noisy key was throttled ({n429} 429s)")
c.check(len(quiet_st) >= 25, f"quiet key sent {len(quiet_st)} requests")
c.eq(sorted(set(quiet_st)), [200], "the quiet key on the same address: all 200, never 429")
noisy_cl = Client(srv.port, key=noisy_key)
for _ in range(5000):  # drain what refilled meanwhile
    st, _, body = noisy_cl.post([record("noisy-key")])
    if st == 429:
        break
noisy_cl.close()
c.check(st == 429 and f"API key {noisy_id} is over throttle.key_rate"
        in json.loads(body)["error"]["message"], "the 429 names the API key")
m = srv.metrics()
c.eq(m.get('fleetlake_throttle_buckets{scope="key"}'), 2,
     "metric: a bucket per key (the operator's /metrics and /readyz are exempt)")
c.eq(srv.stop(), 0, "serve stops")
c.finish()
