"""fltest — shared helpers for fleetlake's integration and fault tests.

Starts the real `fleetlake serve` on a free loopback port with a scratch data directory and
talks HTTP to it like a client (stdlib only: CI has nothing else). Every test gets its own
directory under $FL_TEST_TMP (or /tmp)."""
import collections
import gzip
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("FLEETLAKE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "fleetlake")


def scratch_dir(name):
    base = os.environ.get("FL_TEST_TMP") or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=name + "-", dir=base)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, check=True, timeout=120):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"fleetlake {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def gen_cert(directory, rsa=False):
    """A self-signed certificate for 127.0.0.1/localhost from scripts/gen-cert.sh, kept in
    <directory>/tls/. Returns (cert_path, key_path)."""
    args = ["bash", os.path.join(SOURCE_DIR, "scripts", "gen-cert.sh"), directory]
    if rsa:
        args.append("--rsa")
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return os.path.join(directory, "tls", "cert.pem"), os.path.join(directory, "tls", "key.pem")


class Server:
    """A `fleetlake serve` child process. tls=True: HTTPS only, with a self-signed certificate
    made next to the data directory (self.cert, self.tls_key); request() then verifies it."""

    def __init__(self, data, shards=2, extra=(), env=None, auth=False, key=None, tls=False,
                 rsa=False):
        """auth=False runs with security.auth = off (most tests exercise other things);
        auth=True keeps authentication on, and key (if given) is sent with every request
        that does not set its own Authorization header."""
        self.data = data
        self.port = free_port()
        self.key = key
        self.args = [BIN, "serve", "--data", data, "--listen", f"127.0.0.1:{self.port}",
                     "--shards", str(shards), *([] if auth else ["--set", "security.auth=off"]),
                     *extra]
        self.cert = self.tls_key = None
        if tls:
            parent = os.path.dirname(data.rstrip("/")) or "."
            self.cert, self.tls_key = gen_cert(parent, rsa=rsa)
            self.args += ["--set", f"tls.cert_file={self.cert}",
                          "--set", f"tls.key_file={self.tls_key}"]
        self.scheme = "https" if tls else "http"
        self.env = dict(os.environ, **(env or {}))
        self.log_path = os.path.join(os.path.dirname(data.rstrip("/")) or ".",
                                     os.path.basename(data.rstrip("/")) + ".log")
        self.proc = None

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                st, _, _ = self.request("GET", "/readyz")
                # 401: authentication is on and no key is set yet; the gateway starts only
                # after recovery, so it answering at all means the server is up.
                if st == 200 or (st == 401 and not self.key):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("serve not ready in time:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    def url(self, path=""):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def ssl_context(self):
        """A client context trusting exactly this server's certificate (TLS 1.2 at least)."""
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def connection(self, timeout=30, source_address=None):
        """A new http.client connection to the server (HTTPS when it has TLS)."""
        if self.cert:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ssl_context(),
                                               source_address=source_address)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=source_address)

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = self.connection(timeout)
        headers = dict(headers or {})
        if self.key and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = "Bearer " + self.key
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def post_records(self, body, content_type="application/json", gzip_it=False, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": content_type} if content_type else {}
        if gzip_it:
            body = gzip.compress(body)
            h["Content-Encoding"] = "gzip"
        h.update(headers or {})
        st, hd, data = self.request("POST", "/v1/records", body, h)
        try:
            js = json.loads(data) if data else None
        except ValueError:
            js = None
        return st, hd, js

    def query(self, sql):
        """POST /v1/query; the rows as tuples. Raises AssertionError on any error."""
        st, _, body = self.request("POST", "/v1/query", json.dumps({"sql": sql}),
                                   {"Content-Type": "application/json"})
        js = json.loads(body) if body else {}
        if st != 200 or "error" in js:
            raise AssertionError(f"query failed ({st}): {body[:300]!r}")
        return [tuple(r) for r in js["rows"]]

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("serve did not stop in time:\n" + self.log_text())
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def metrics(self):
        st, _, data = self.request("GET", "/metrics")
        assert st == 200, st
        out = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


Hit = collections.namedtuple("Hit", "path headers body at peer_cn")


class Receiver:
    """A notification receiver (webhook, Slack, PagerDuty endpoints) on a loopback port: every
    POST is recorded as a Hit (path, headers, the JSON body, receipt time, the client
    certificate's common name over mutual TLS). answer(path) gives (status, body bytes);
    ssl_context makes it HTTPS. stop() and start() again keep the port (receiver down, up)."""

    def __init__(self, answer=None, ssl_context=None):
        self.port = free_port()
        self.answer = answer or (lambda path: (200, b"ok"))
        self.ssl_context = ssl_context
        self.got = []
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                peer = self.connection.getpeercert() if rx.ssl_context else None
                cn = dict(x[0] for x in (peer or {}).get("subject", ())).get("commonName")
                with rx.lock:
                    rx.got.append(Hit(self.path, dict(self.headers), json.loads(body), time.time(),
                                      cn))
                status, answer = rx.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.ssl_context:  # a failed handshake raises in accept(), which socketserver ignores
            self.server.socket = self.ssl_context.wrap_socket(self.server.socket,
                                                              server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def hits(self, path=None):
        with self.lock:
            return [h for h in self.got if path is None or h.path == path]

    def bodies(self, path):
        return [h.body for h in self.hits(path)]


def create_key(data, role, *args):
    """Create an API key with `fleetlake keys create`; returns (id, secret key)."""
    p = run_cli("keys", "create", "--data", data, "--role", role, *args)
    fields = dict(line.split(":", 1) for line in p.stdout.splitlines() if ":" in line)
    return fields["id"].strip(), fields["key"].strip()


def stream_records(data, dead_letters=False, shard=None):
    """Every record in the stream (or dead-letter log), read with the CLI."""
    args = ["stream", "read", "--data", data]
    if dead_letters:
        args.append("--dead-letters")
    if shard is not None:
        args += ["--shard", str(shard)]
    p = run_cli(*args)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def record(device="truck-0001", ts="2026-01-02T03:04:05.678Z", **kw):
    r = {"device_id": device, "timestamp": ts, "temperature": 21.5, "humidity": 40.2,
         "pressure": 1013.1, "location": {"latitude": 37.56, "longitude": 126.97},
         "metadata": {"version": "1.2.0", "source": "fms-gw"}}
    r.update(kw)
    return r


def outbox_enqueue(data, channel, alert, event="trigger"):
    """One notification in <data>/meta.db's notify_outbox, exactly as the alert engine's
    fl_notify_enqueue writes it (the alert JSON as payload, due now), for the real dispatcher
    of a running serve to deliver. Returns its id."""
    db = sqlite3.connect(os.path.join(data, "meta.db"), timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        now = int(time.time() * 1e6)
        (nid,) = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM notify_outbox").fetchone()
        db.execute("INSERT INTO notify_outbox (id, channel, alert_id, event, payload, created_at,"
                   " attempts, next_attempt_at, state) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'pending')",
                   (nid, channel, alert["id"], event, json.dumps(alert), now, now))
        db.execute("COMMIT")
        return nid
    finally:
        db.close()


def outbox_row(data, nid):
    """Notification nid of <data>/meta.db's notify_outbox as a dict ({} if there is none)."""
    db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        r = db.execute("SELECT * FROM notify_outbox WHERE id = ?", (nid,)).fetchone()
        return dict(r) if r else {}
    finally:
        db.close()


class Checks:
    """Tiny assertion collector that prints a closing 'N passed, N failed' line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, flush=True)

    def eq(self, got, want, what):
        self.check(got == want, f"{what}: got {got!r}, want {want!r}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


# ---- the lake: DuckDB as an independent Parquet reader, meta.db's catalog ----------------------

SOURCE_DIR = os.environ.get("FL_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
_duck_ready = False


def duck(*sqls, timeout=120):
    """Run SQL statements in an in-memory DuckDB (tests/lib/duck.js) and return the rows of the
    last one as a list of dicts. Installs the pinned npm package on first use if needed."""
    global _duck_ready
    if not _duck_ready:
        subprocess.run(["bash", os.path.join(SOURCE_DIR, "scripts", "install-test-npm.sh")],
                       check=True, timeout=600)
        _duck_ready = True
    p = subprocess.run(["node", os.path.join(SOURCE_DIR, "tests", "lib", "duck.js"), *sqls],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"duck.js failed ({p.returncode}): {p.stderr}\nSQL: {sqls}")
    return json.loads(p.stdout)


def sql_str(s):
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def catalog_files(data, table=None):
    """lake_files rows of meta.db (read-only, safe while serve runs) as dicts."""
    import sqlite3
    db = sqlite3.connect(f"file:{os.path.join(data, 'meta.db')}?mode=ro", uri=True, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        q = "SELECT * FROM lake_files"
        rows = db.execute(q + " WHERE table_name = ?", (table,)) if table else db.execute(q)
        return [dict(r) for r in rows]
    finally:
        db.close()


def lake_files_on_disk(data, prefix):
    """Keys of published objects under <data>/lake/<prefix> (temp files excluded)."""
    root = os.path.join(data, "lake")
    out = []
    for d, _, names in os.walk(os.path.join(root, prefix)):
        for n in names:
            if not n.endswith(".tmp"):
                out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def wait_for(cond, timeout=60, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
