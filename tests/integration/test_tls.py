"""Integration: HTTPS (tls.cert_file / tls.key_file). `openssl s_client` shows TLS 1.0 and 1.1
refused and 1.2 and 1.3 accepted, each Mozilla-intermediate suite accepted and weak ones
(CBC with SHA-1/SHA-2 MACs, static RSA key exchange, TLS 1.3 CCM) refused, for an ECDSA and
an RSA certificate; HTTPS requests answered and plain HTTP not; clear startup errors for a
missing, half-configured, mismatched or non-PEM certificate/key; the load generator over
HTTPS (--cacert, --insecure, refusing an unknown certificate); `serve --demo` with TLS; and
the header deadline cutting a client that trickles its TLS handshake."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402
from fltest import record  # noqa: E402

c = fltest.Checks()


def s_client(port, *args):
    """One handshake with openssl s_client; returns (handshake ok, protocol, cipher)."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief",
                        *args], input="", capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    proto = cipher = None
    for line in out.splitlines():
        if line.startswith("Protocol version:"):
            proto = line.split(":", 1)[1].strip()
        if line.startswith("Ciphersuite:"):
            cipher = line.split(":", 1)[1].strip()
    return p.returncode == 0 and proto is not None, proto, cipher


# ---- ECDSA P-256 certificate (gen-cert.sh's default) ----------------------------------------
base = fltest.scratch_dir("tls")
srv = fltest.Server(base + "/data", extra=["--set", "server.header_timeout_s=2"],
                    tls=True).start()
port = srv.port
c.check("HTTPS only" in srv.log_text(), "startup log says HTTPS only")

# Old protocols: the client is told to offer only that version (SECLEVEL=0 so that OpenSSL 3
# itself is willing to); the server must refuse the handshake.
for flag, name in (("-tls1", "TLS 1.0"), ("-tls1_1", "TLS 1.1")):
    ok, proto, _ = s_client(port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
    c.check(not ok, f"{name} refused (got {proto})")
for flag, want in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
    ok, proto, _ = s_client(port, flag)
    c.check(ok and proto == want, f"{want} accepted (got {ok}, {proto})")

# Every Mozilla intermediate suite usable with an ECDSA key is accepted...
for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
              "ECDHE-ECDSA-CHACHA20-POLY1305"):
    ok, proto, cipher = s_client(port, "-tls1_2", "-cipher", suite)
    c.check(ok and cipher == suite, f"TLS 1.2 {suite} accepted (got {cipher})")
for suite in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"):
    ok, proto, cipher = s_client(port, "-tls1_3", "-ciphersuites", suite)
    c.check(ok and cipher == suite, f"TLS 1.3 {suite} accepted (got {cipher})")
# ...and weak ones are refused even when the client offers nothing else.
for suite in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256",
              "ECDHE-ECDSA-AES256-SHA384"):
    ok, _, cipher = s_client(port, "-tls1_2", "-cipher", suite + "@SECLEVEL=0")
    c.check(not ok, f"weak TLS 1.2 suite {suite} (CBC) refused (got {cipher})")
for suite in ("TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"):
    ok, _, cipher = s_client(port, "-tls1_3", "-ciphersuites", suite)
    c.check(not ok, f"TLS 1.3 {suite} (not in the list) refused (got {cipher})")
for group, want_ok in (("X25519", True), ("P-256", True), ("P-384", True), ("P-521", False)):
    ok, _, _ = s_client(port, "-tls1_3", "-groups", group)
    c.check(ok == want_ok, f"key exchange group {group} {'accepted' if want_ok else 'refused'}")

# HTTPS requests are answered and store records; plain HTTP on the same port is not.
st, _, js = srv.post_records([record("tls-%d" % i) for i in range(5)])
c.eq((st, js and js.get("accepted")), (200, 5), "HTTPS POST /v1/records")
st, _, raw = srv.request("GET", "/healthz")
c.eq((st, json.loads(raw).get("status")), (200, "ok"), "HTTPS GET /healthz")
c.eq(len(fltest.stream_records(srv.data)), 5, "records stored over HTTPS")
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        answer = s.recv(1024)
    except OSError:
        answer = b""
c.check(not answer.startswith(b"HTTP/"), f"plain HTTP gets no HTTP answer ({answer[:40]!r})")

# The load generator over HTTPS.
sim = [fltest.BIN, "sim", "--url", srv.url(), "--records", "2000", "--json", "--quiet"]
p = subprocess.run(sim + ["--cacert", srv.cert], capture_output=True, text=True, timeout=120)
js = json.loads(p.stdout) if p.returncode == 0 else {}
c.eq((p.returncode, js.get("records_acked")), (0, 2000), "sim --cacert: every record acked")
p = subprocess.run(sim + ["--insecure"], capture_output=True, text=True, timeout=120)
c.eq(p.returncode, 0, "sim --insecure")
p = subprocess.run(sim, capture_output=True, text=True, timeout=120)
c.check(p.returncode == 1 and "certificate" in p.stderr,
        f"sim refuses an untrusted certificate and says why ({p.stderr.strip()[-120:]})")
p = subprocess.run(sim[:3] + [srv.url().replace("https", "http"), "--insecure"],
                   capture_output=True, text=True, timeout=60)
c.check(p.returncode == 2 and "--insecure" in p.stderr, "sim --insecure with http:// refused")

# A client that opens a connection and trickles its ClientHello is cut by the header
# deadline (the handshake counts as part of the headers), long before the idle timeout.
with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
    t0 = time.time()
    hello = bytes.fromhex("16030100c8010000c40303") + b"\x00" * 40
    closed_after = None
    for b in hello:
        try:
            s.sendall(bytes([b]))
            s.settimeout(0.5)
            if s.recv(1) == b"":
                closed_after = time.time() - t0
                break
        except socket.timeout:
            continue
        except OSError:
            closed_after = time.time() - t0
            break
c.check(closed_after is not None and closed_after < 5,
        f"trickled TLS handshake cut by server.header_timeout_s=2 (after {closed_after})")
m = srv.metrics()
c.check(m.get('fleetlake_http_slow_clients_closed_total{phase="headers"}', 0) >= 1,
        "slow TLS handshake counted in metrics")
c.eq(srv.stop(), 0, "ECDSA server stops cleanly")

# ---- RSA 2048 certificate: the ECDHE-RSA and DHE-RSA suites ---------------------------------
rsa_base = fltest.scratch_dir("tls-rsa")
srv = fltest.Server(rsa_base + "/data", tls=True, rsa=True).start()
for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
              "ECDHE-RSA-CHACHA20-POLY1305", "DHE-RSA-AES128-GCM-SHA256",
              "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"):
    ok, _, cipher = s_client(srv.port, "-tls1_2", "-cipher", suite)
    c.check(ok and cipher == suite, f"RSA cert: TLS 1.2 {suite} accepted (got {cipher})")
for suite in ("AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA", "DHE-RSA-AES256-SHA256"):
    ok, _, cipher = s_client(srv.port, "-tls1_2", "-cipher", suite + "@SECLEVEL=0")
    c.check(not ok, f"RSA cert: weak suite {suite} (static RSA or CBC) refused (got {cipher})")
ok, proto, _ = s_client(srv.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
c.check(not ok, f"RSA cert: TLS 1.1 refused (got {proto})")
c.eq(srv.stop(), 0, "RSA server stops cleanly")

# ---- startup errors name the key, the file and the problem ---------------------------------
cert, key = srv.cert, srv.tls_key
other_cert, other_key = fltest.gen_cert(fltest.scratch_dir("tls-other"))
empty = os.path.join(rsa_base, "empty.pem")
open(empty, "w").close()
cases = [
    ("missing cert file", [f"tls.cert_file={rsa_base}/nope.pem", f"tls.key_file={key}"],
     ["tls.cert_file", "nope.pem", "No such file"]),
    ("cert without key", [f"tls.cert_file={cert}"], ["tls.key_file", "needs both"]),
    ("key without cert", [f"tls.key_file={key}"], ["tls.cert_file", "needs both"]),
    ("mismatched key", [f"tls.cert_file={cert}", f"tls.key_file={other_key}"],
     ["is not the key of", "other"]),
    ("key given as cert", [f"tls.cert_file={key}", f"tls.key_file={key}"],
     ["tls.cert_file", "no PEM certificate"]),
    ("cert given as key", [f"tls.cert_file={cert}", f"tls.key_file={cert}"],
     ["tls.key_file", "no unencrypted PEM private key"]),
    ("empty cert file", [f"tls.cert_file={empty}", f"tls.key_file={key}"],
     ["tls.cert_file", "is empty"]),
    ("directory as key file", [f"tls.cert_file={cert}", f"tls.key_file={rsa_base}"],
     ["tls.key_file", "cannot read", "Is a directory"]),
]
for name, sets, words in cases:
    args = ["serve", "--data", fltest.scratch_dir("tls-bad") + "/data", "--listen", "127.0.0.1:0"]
    for s_ in sets:
        args += ["--set", s_]
    p = fltest.run_cli(*args, check=False, timeout=60)
    c.check(p.returncode != 0, f"{name}: serve refuses to start")
    c.check(all(w in p.stderr for w in words),
            f"{name}: error names {words} ({p.stderr.strip().splitlines()[-1:]})")

# ---- serve --demo over HTTPS: the in-process simulator trusts the server's certificate -------
demo = fltest.Server(fltest.scratch_dir("tls-demo") + "/data", tls=True,
                     extra=["--demo", "--set", "sim.demo_rate=500"]).start()


def demo_records():
    st, _, raw = demo.request("GET", "/v1/stream")
    return sum(s["records"] for s in json.loads(raw)["shards"]) if st == 200 else 0


try:
    fltest.wait_for(lambda: demo_records() >= 500, timeout=60, what="demo records")
except AssertionError:
    pass
got = demo_records()
c.check(got >= 500, f"serve --demo sends over HTTPS ({got} records)")
c.check("demo simulator stopped" not in demo.log_text(), "demo simulator running")
c.eq(demo.stop(), 0, "demo server stops cleanly")
c.finish()
