"""Integration: `fleetlake serve` on a loopback port — every body shape, ≥ 40 malformed
requests each with its status and nothing stored, dead letters, shard mapping, per-device
order, /v1/stream, /metrics, SIGTERM drain and restart keeping everything."""
import gzip
import hashlib
import json
import os
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402
from fltest import record  # noqa: E402

c = fltest.Checks()
data = fltest.scratch_dir("ingest") + "/data"
srv = fltest.Server(data, shards=4, extra=[
    "--set", "ingest.max_body_bytes=256KiB", "--set", "ingest.max_records_per_request=100",
    "--set", "ingest.max_decompressed_bytes=1MiB", "--set", "ingest.max_json_depth=8"]).start()


def stored():
    return len(fltest.stream_records(data))


def expected_shard(device, n=4):
    h = int.from_bytes(hashlib.md5(device.encode()).digest(), "big")
    return min(h // ((1 << 128) // n), n - 1)


# ---- accepted shapes ------------------------------------------------------------------------
st, hd, js = srv.post_records(record("truck-0001"))
c.eq(st, 200, "single object status")
c.eq((js["accepted"], js["failed"]), (1, 0), "single object counts")
c.eq(js["records"][0]["shard"], "shard-%04d" % expected_shard("truck-0001"), "MD5 shard mapping")
c.check(js["records"][0]["seq"].isdigit(), "seq is a decimal string")
c.check("x-request-id" in hd, "X-Request-Id header")

st, _, js = srv.post_records([record("truck-%04d" % i) for i in range(2, 5)])
c.eq((st, js["accepted"], len(js["records"])), (200, 3, 3), "array")

nd = "\n".join(json.dumps(record("truck-%04d" % i)) for i in range(5, 8)) + "\r\n\n"
st, _, js = srv.post_records(nd, "application/x-ndjson")
c.eq((st, js["accepted"]), (200, 3), "NDJSON with CRLF and blank line")

st, _, js = srv.post_records([record("truck-0008"), record("truck-0009")], gzip_it=True)
c.eq((st, js["accepted"]), (200, 2), "gzip array")

st, _, js = srv.post_records(record("truck-0010"), "application/json; charset=utf-8")
c.eq((st, js["accepted"]), (200, 1), "content type with charset")

bad_rec = record("truck-0011", temperature="hot")
st, _, js = srv.post_records([record("truck-0011"), bad_rec, record("truck-0012")])
c.eq((st, js["accepted"], js["failed"]), (200, 2, 1), "mixed batch counts")
c.check("seq" in js["records"][0] and "seq" in js["records"][2], "mixed batch: good ones acked")
c.eq(js["records"][1].get("error", {}).get("code"), "wrong_type", "mixed batch: bad one's code")
c.check("temperature" in js["records"][1]["error"]["message"], "message names the field")

st, _, js = srv.post_records(record("truck-0013", temperature=None, humidity=None, pressure=None,
                                    location=None, timestamp=1767322800000, extra_field={"a": [1]}))
c.eq((st, js["accepted"]), (200, 1), "nulls, epoch-ms timestamp, unknown field accepted")
st, _, js = srv.post_records(record("truck-0014", temperature=500.0))
c.eq((st, js["accepted"]), (200, 1), "implausible value accepted (flagged later)")
good_count = 1 + 3 + 3 + 2 + 1 + 2 + 1 + 1
c.eq(stored(), good_count, "stream holds exactly the accepted records")

# ---- malformed requests: status, code, nothing stored ---------------------------------------
bomb = gzip.compress(b"[" + b" " * (4 << 20) + b"]")
rng = __import__("random").Random(1)
rnd = json.dumps([{"device_id": "truck-%04d" % i, "timestamp": "2026-01-02T03:04:05Z",
                   "temperature": round(rng.uniform(-10, 40), 3),
                   "humidity": round(rng.uniform(0, 100), 3)} for i in range(14000)])
deep = {"device_id": "d", "timestamp": "2026-01-02T03:04:05Z", "x": [[[[[[[[[[1]]]]]]]]]]}
cases = [
    # (name, method, path, body, headers, status, code-or-None (whole request), record code)
    ("bad JSON", "POST", "/v1/records", b'{"device_id":', None, 400, "bad_json", None),
    ("text/plain", "POST", "/v1/records", json.dumps(record()), {"Content-Type": "text/plain"}, 415, "unsupported_media_type", None),
    ("no content type", "POST", "/v1/records", json.dumps(record()), {"Content-Type": ""}, 415, "unsupported_media_type", None),
    ("unknown route", "POST", "/v1/recordz", json.dumps(record()), None, 404, "not_found", None),
    ("GET on records", "GET", "/v1/records", None, None, 405, "method_not_allowed", None),
    ("PUT on records", "PUT", "/v1/records", json.dumps(record()), None, 405, "method_not_allowed", None),
    ("oversize body", "POST", "/v1/records", b"[" + b" " * (300 << 10) + b"]", None, 413, "body_too_large", None),
    ("gzip bomb", "POST", "/v1/records", bomb, {"Content-Encoding": "gzip"}, 413, "decompression_ratio", None),
    ("decompressed too large", "POST", "/v1/records", gzip.compress(rnd.encode()), {"Content-Encoding": "gzip"}, 413, "decompressed_too_large", None),
    ("bad gzip", "POST", "/v1/records", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "bad_gzip", None),
    ("brotli", "POST", "/v1/records", json.dumps(record()), {"Content-Encoding": "br"}, 415, "unsupported_encoding", None),
    ("too deep", "POST", "/v1/records", json.dumps(deep), None, 400, "too_deep", None),
    ("too many records", "POST", "/v1/records", json.dumps([record()] * 101), None, 413, "too_many_records", None),
    ("empty body", "POST", "/v1/records", b"", None, 400, "empty", None),
    ("empty array", "POST", "/v1/records", b"[]", None, 400, "empty", None),
    ("NaN literal", "POST", "/v1/records", b'{"device_id":"d","timestamp":"2026-01-02T03:04:05Z","temperature":NaN}', None, 400, "bad_json", None),
    ("missing device_id", "POST", "/v1/records", json.dumps({"timestamp": "2026-01-02T03:04:05Z"}), None, 400, None, "missing_field"),
    ("missing timestamp", "POST", "/v1/records", json.dumps({"device_id": "d"}), None, 400, None, "missing_field"),
    ("temperature string", "POST", "/v1/records", json.dumps(record(temperature="21")), None, 400, None, "wrong_type"),
    ("humidity bool", "POST", "/v1/records", json.dumps(record(humidity=True)), None, 400, None, "wrong_type"),
    ("latitude 95", "POST", "/v1/records", json.dumps(record(location={"latitude": 95, "longitude": 1})), None, 400, None, "out_of_range"),
    ("latitude only", "POST", "/v1/records", json.dumps(record(location={"latitude": 5})), None, 400, None, "out_of_range"),
    ("bad timestamp", "POST", "/v1/records", json.dumps(record(ts="yesterday")), None, 400, None, "bad_timestamp"),
    ("timestamp 1999", "POST", "/v1/records", json.dumps(record(ts="1999-12-31T23:59:59Z")), None, 400, None, "bad_timestamp"),
    ("timestamp in a day", "POST", "/v1/records", json.dumps(record(ts="2099-01-01T00:00:00Z")), None, 400, None, "bad_timestamp"),
    ("non-UTF-8 body", "POST", "/v1/records", b'{"device_id":"d\xff","timestamp":"2026-01-02T03:04:05Z"}', None, 400, "bad_json", None),
    ("non-UTF-8 NDJSON line", "POST", "/v1/records", b'{"device_id":"d\xff","timestamp":"2026-01-02T03:04:05Z"}\n', {"Content-Type": "application/x-ndjson"}, 400, None, "bad_json"),
    ("device_id chars", "POST", "/v1/records", json.dumps(record("truck 1/2")), None, 400, None, "bad_string"),
    ("device_id 129 bytes", "POST", "/v1/records", json.dumps(record("x" * 129)), None, 400, None, "bad_string"),
    ("extra over 4 KiB", "POST", "/v1/records", json.dumps(record(notes="n" * 5000)), None, 400, None, "too_large"),
    ("array of numbers", "POST", "/v1/records", b"[1, 2]", None, 400, None, "not_object"),
    ("bad NDJSON line", "POST", "/v1/records", b"{nope}\n", {"Content-Type": "application/x-ndjson"}, 400, None, "bad_json"),
    ("number body", "POST", "/v1/records", b"42", None, 400, "bad_json", None),
    # request-size limits (server.max_uri_bytes 8 KiB, server.max_header_bytes 32 KiB)
    ("URI over 8 KiB", "GET", "/healthz?x=" + "a" * 9000, None, None, 414, "uri_too_long", None),
    ("one 40 KiB header", "POST", "/v1/records", json.dumps(record()), {"X-Big": "b" * 40000}, 431, "header_too_large", None),
    ("400 headers", "POST", "/v1/records", json.dumps(record()), {"X-H%d" % i: "v" * 100 for i in range(400)}, 431, "header_too_large", None),
    ("chunked body over the limit", "POST", "/v1/records", b"[" + b" " * (300 << 10) + b"]", {"Transfer-Encoding": "chunked"}, 413, "body_too_large", None),
    ("NDJSON 101 records", "POST", "/v1/records", "\n".join(json.dumps(record()) for _ in range(101)), {"Content-Type": "application/x-ndjson"}, 413, "too_many_records", None),
    ("whitespace body", "POST", "/v1/records", b"   \n ", None, 400, "empty", None),
    ("NDJSON blank lines only", "POST", "/v1/records", b"\n\n\n", {"Content-Type": "application/x-ndjson"}, 400, "empty", None),
    ("gzip of nothing", "POST", "/v1/records", gzip.compress(b""), {"Content-Encoding": "gzip"}, 400, "empty", None),
    ("null body", "POST", "/v1/records", b"null", None, 400, "bad_json", None),
    ("string body", "POST", "/v1/records", b'"abc"', None, 400, "bad_json", None),
    ("trailing garbage", "POST", "/v1/records", json.dumps(record()) + "xyz", None, 400, "bad_json", None),
    ("two objects, no separator", "POST", "/v1/records", json.dumps(record()) * 2, None, 400, "bad_json", None),
    ("gzip without Content-Encoding", "POST", "/v1/records", gzip.compress(json.dumps(record()).encode()), None, 400, "bad_json", None),
    ("lone UTF-16 surrogate", "POST", "/v1/records", b'{"device_id":"d\\ud800","timestamp":"2026-01-02T03:04:05Z"}', None, 400, "bad_json", None),
    ("too deep NDJSON line", "POST", "/v1/records", json.dumps(deep) + "\n", {"Content-Type": "application/x-ndjson"}, 400, "too_deep", None),
    ("application/xml", "POST", "/v1/records", json.dumps(record()), {"Content-Type": "application/xml"}, 415, "unsupported_media_type", None),
    ("deflate", "POST", "/v1/records", json.dumps(record()), {"Content-Encoding": "deflate"}, 415, "unsupported_encoding", None),
    ("unknown version prefix", "GET", "/v2/records", None, None, 404, "not_found", None),
    ("POST on /healthz", "POST", "/healthz", b"{}", None, 405, "method_not_allowed", None),
    ("PATCH on records", "PATCH", "/v1/records", json.dumps(record()), None, 405, "method_not_allowed", None),
    ("DELETE on records", "DELETE", "/v1/records", None, None, 405, "method_not_allowed", None),
    ("duplicate field", "POST", "/v1/records", b'{"device_id":"a","device_id":"b","timestamp":"2026-01-02T03:04:05Z"}', None, 400, None, "duplicate_field"),
    ("device_id number", "POST", "/v1/records", json.dumps(record(device_id=42)), None, 400, None, "wrong_type"),
    ("empty device_id", "POST", "/v1/records", json.dumps(record("")), None, 400, None, "bad_string"),
    ("negative epoch timestamp", "POST", "/v1/records", json.dumps(record(ts=-5)), None, 400, None, "bad_timestamp"),
    ("longitude 181", "POST", "/v1/records", json.dumps(record(location={"latitude": 1, "longitude": 181})), None, 400, None, "out_of_range"),
    ("location string", "POST", "/v1/records", json.dumps(record(location="here")), None, 400, None, "wrong_type"),
    ("pressure object", "POST", "/v1/records", json.dumps(record(pressure={"v": 1})), None, 400, None, "wrong_type"),
    ("temperature 1e999", "POST", "/v1/records", json.dumps(record()).replace("21.5", "1e999"), None, 400, None, "wrong_type"),
]
c.check(len(cases) >= 40, f"at least 40 malformed cases ({len(cases)})")


def send(method, path, body, headers):
    """srv.request, or a chunked upload when the case asks for Transfer-Encoding: chunked."""
    if headers.pop("Transfer-Encoding", None) != "chunked":
        return srv.request(method, path, body, headers)
    conn = srv.connection()
    try:
        parts = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])
        conn.request(method, path, body=parts, headers=headers, encode_chunked=True)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


for name, method, path, body, headers, want_status, want_code, want_rec_code in cases:
    if isinstance(body, str):
        body = body.encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if h.get("Content-Type") == "":
        del h["Content-Type"]
    st, hd, raw = send(method, path, body, h)
    c.eq(st, want_status, f"{name}: status")
    try:
        js = json.loads(raw)
    except ValueError:
        js = None
        c.check(False, f"{name}: body is JSON ({raw[:80]!r})")
        continue
    if want_code:
        c.eq(js.get("error", {}).get("code"), want_code, f"{name}: error code")
        c.check(js["error"].get("message"), f"{name}: error message")
    else:
        c.eq((js.get("accepted"), js.get("failed")), (0, len(js.get("records") or [])),
             f"{name}: counts")
        c.eq(((js.get("records") or [{}])[0].get("error") or {}).get("code"), want_rec_code,
             f"{name}: record code")
c.eq(stored(), good_count, "malformed requests stored nothing")
st, _, _ = srv.request("GET", "/healthz")
c.eq(st, 200, "server alive after malformed requests")

# ---- dead letters ---------------------------------------------------------------------------
dls = fltest.stream_records(data, dead_letters=True)
codes = [d["dead_letter"]["code"] for d in dls]
c.check("wrong_type" in codes and "bad_timestamp" in codes and "not_object" in codes,
        f"dead letters carry codes ({sorted(set(codes))})")
wt = [d for d in dls if d["dead_letter"]["code"] == "wrong_type"][0]["dead_letter"]
c.check('"hot"' in wt["raw"] and wt["time"].endswith("Z") and "temperature" in wt["message"],
        "dead letter keeps raw bytes, reason and time")
p = fltest.run_cli("stream", "read", "--data", data, "--dead-letters", "--format", "table")
c.check("wrong_type" in p.stdout, "stream read --dead-letters --format table")

# ---- per-device order across many requests -----------------------------------------------
for i in range(20):
    batch = [record("order-dev", ts="2026-01-03T00:%02d:%02d.000Z" % (i, j)) for j in range(10)]
    st, _, js = srv.post_records(batch)
    c.eq(st, 200, f"order batch {i}")
recs = [r for r in fltest.stream_records(data) if r["record"]["device_id"] == "order-dev"]
ts = [r["record"]["timestamp"] for r in recs]
c.eq(len(ts), 200, "order-dev count")
c.check(ts == sorted(ts), "per-device order preserved")
seqs = [int(r["seq"]) for r in recs]
c.check(seqs == sorted(seqs) and len(set(seqs)) == 200, "per-device seqs increasing")

# ---- values round-trip ------------------------------------------------------------------------
r1 = [r for r in fltest.stream_records(data) if r["record"]["device_id"] == "truck-0001"][0]["record"]
c.eq(r1["timestamp"], "2026-01-02T03:04:05.678000Z", "timestamp normalised to UTC µs")
c.eq((r1["temperature"], r1["humidity"], r1["pressure"]), (21.5, 40.2, 1013.1), "sensor values")
c.eq(r1["location"], {"latitude": 37.56, "longitude": 126.97}, "location")
r13 = [r for r in fltest.stream_records(data) if r["record"]["device_id"] == "truck-0013"][0]["record"]
c.eq(r13.get("extra_field"), {"a": [1]}, "unknown field kept in extra")

# ---- /v1/stream and /metrics ----------------------------------------------------------------
st, _, raw = srv.request("GET", "/v1/stream")
js = json.loads(raw)
c.eq((st, js["shard_count"], len(js["shards"])), (200, 4, 4), "/v1/stream shards")
c.eq(js["shards"][0]["hash_key_range"]["start"], "0", "first range starts at 0")
c.eq(js["shards"][3]["hash_key_range"]["end"], str((1 << 128) - 1), "last range ends at 2^128-1")
c.eq(sum(s["records"] for s in js["shards"]), good_count + 200, "/v1/stream record total")
m = srv.metrics()
c.eq(m.get('fleetlake_records_total{outcome="accepted",code="ok"}'), float(good_count + 200),
     "metrics: accepted records")
c.check(m.get('fleetlake_records_total{outcome="rejected",code="wrong_type"}', 0) >= 3,
        "metrics: rejected by code")
c.check(m.get('fleetlake_http_requests_total{route="/v1/records",status="413"}', 0) >= 4,
        "metrics: requests by route and status")
c.check(m.get("fleetlake_stream_fsync_seconds_count", 0) > 0, "metrics: fsync histogram")
c.check(m.get("fleetlake_ingest_latency_seconds_count", 0) > 0, "metrics: ingest latency")
c.check(any(k.startswith("fleetlake_stream_last_sequence_number{") for k in m), "metrics: per-shard seq")

# ---- SIGTERM, restart keeps everything ------------------------------------------------------
before = fltest.stream_records(data)
c.eq(srv.stop(), 0, "SIGTERM exits 0")
c.check("drained" in srv.log_text() and "stopped cleanly" in srv.log_text(), "drain logged")
after = fltest.stream_records(data)
c.eq(after, before, "stream identical after stop")
srv = fltest.Server(data, shards=4).start()
st, _, js = srv.post_records(record("truck-0001", ts="2026-01-04T00:00:00Z"))
c.eq(st, 200, "accepts after restart")
prev = max(int(r["seq"]) for r in before if r["shard"] == js["records"][0]["shard"])
c.eq(int(js["records"][0]["seq"]), prev + 1, "sequence continues after restart")
c.eq(len(fltest.stream_records(data)), len(before) + 1, "everything kept across restart")
c.eq(srv.stop(), 0, "second stop")

# ---- config errors --------------------------------------------------------------------------
p = fltest.run_cli("serve", "--data", data, "--set", "stream.nope=1", check=False)
c.check(p.returncode == 2 and "stream.nope" in p.stderr, "unknown key is an error naming it")
p = fltest.run_cli("serve", "--data", data, "--shards", "300", check=False)
c.check(p.returncode == 2 and "stream.shards" in p.stderr, "out-of-range shards rejected")
p = fltest.run_cli("serve", "--data", data, "--shards", "3", check=False)
c.check(p.returncode != 0, "shard count change refused on an existing stream")
c.finish()
