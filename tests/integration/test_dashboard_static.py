"""test_dashboard_static — the gateway serves the dashboard's files (src/gateway/static.c):
GET / and GET /ui/<path> without a key (public routes), content types, security and caching
headers, ETag revalidation (304), HEAD, and refusals: directory traversal in every spelling,
hidden files, node_modules, directories, a symlink out of the directory, missing files (JSON
404), files over dashboard.max_file_bytes, and a dashboard.dir without index.html (serve
refuses to start, naming the key)."""
import http.client
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

t = fltest.Checks()
base = os.path.abspath(fltest.scratch_dir("dashboard-static"))
web = os.path.join(base, "web")
os.makedirs(os.path.join(web, "js"))
os.makedirs(os.path.join(web, "vendor"))
os.makedirs(os.path.join(web, "node_modules", "pkg"))
secret_dir = os.path.join(base, "outside")
os.makedirs(secret_dir)
files = {
    "index.html": b"<!doctype html><title>t</title>",
    "app.css": b"body{}",
    "js/app.js": b"export const x = 1;\n",
    "vendor/data.json": b'{"a":1}',
    "big.js": b"x" * 5000,
    ".hidden": b"secret",
    "node_modules/pkg/index.js": b"secret",
}
for name, body in files.items():
    with open(os.path.join(web, name), "wb") as f:
        f.write(body)
with open(os.path.join(secret_dir, "secret.txt"), "wb") as f:
    f.write(b"do not serve")
os.symlink(os.path.join(secret_dir, "secret.txt"), os.path.join(web, "escape.txt"))
os.symlink(os.path.join(web, "app.css"), os.path.join(web, "inside.css"))

srv = fltest.Server(os.path.join(base, "d"), auth=True, extra=[
    "--set", f"dashboard.dir={web}", "--set", "dashboard.max_file_bytes=4KiB"]).start()


def raw(method, path, headers=None):
    """A request with the path sent exactly as given (no client-side normalisation)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


try:
    # ---- served, without a key ------------------------------------------------------------
    st, hd, body = raw("GET", "/")
    t.eq((st, body), (200, files["index.html"]), "GET / is index.html, no key needed")
    t.eq(hd.get("content-type"), "text/html; charset=utf-8", "index content type")
    t.check("default-src 'self'" in hd.get("content-security-policy", ""), "CSP header")
    t.eq(hd.get("x-content-type-options"), "nosniff", "nosniff")
    t.eq(hd.get("cache-control"), "no-cache", "Cache-Control: no-cache (revalidate)")
    etag = hd.get("etag", "")
    t.check(etag.startswith('"') and etag.endswith('"'), f"strong ETag {etag}")
    for path, ctype in [("/ui/js/app.js", "text/javascript; charset=utf-8"),
                        ("/ui/app.css", "text/css; charset=utf-8"),
                        ("/ui/vendor/data.json", "application/json"),
                        ("/ui/inside.css", "text/css; charset=utf-8")]:
        st, hd, body = raw("GET", path)
        want = files.get(path[4:], files["app.css"])
        t.eq((st, hd.get("content-type"), body), (200, ctype, want), f"GET {path}")
    st, hd, body = raw("GET", "/ui/js/app.js?v=2")
    t.eq((st, body), (200, files["js/app.js"]), "a query string is ignored")

    # ---- caching: If-None-Match -> 304, a changed file -> new ETag ----------------------------
    st, hd, body = raw("GET", "/ui/js/app.js")
    tag = hd["etag"]
    st, hd2, body = raw("GET", "/ui/js/app.js", {"If-None-Match": tag})
    t.eq((st, body), (304, b""), "If-None-Match with the current ETag: 304, no body")
    st, _, body = raw("GET", "/ui/js/app.js", {"If-None-Match": '"other"'})
    t.eq(st, 200, "another ETag: 200")
    with open(os.path.join(web, "js", "app.js"), "ab") as f:
        f.write(b"// changed\n")
    st, hd, body = raw("GET", "/ui/js/app.js", {"If-None-Match": tag})
    t.eq(st, 200, "after a change the old ETag no longer matches")
    t.check(hd["etag"] != tag, "new ETag after a change")
    st, hd, body = raw("HEAD", "/ui/app.css")
    t.eq((st, body, hd.get("content-length")), (200, b"", str(len(files["app.css"]))), "HEAD")

    # ---- refusals ------------------------------------------------------------------------------
    for path in ["/ui/../d/meta.db", "/ui/%2e%2e/d/meta.db", "/ui/js/../../outside/secret.txt",
                 "/ui/js/%2E%2E/%2E%2E/outside/secret.txt", "/ui/..%2f..%2fetc/passwd",
                 "/ui//etc/passwd", "/ui/.hidden", "/ui/js/.", "/ui/node_modules/pkg/index.js",
                 "/ui/escape.txt", "/ui/js", "/ui/js/", "/ui/vendor", "/ui/missing.js",
                 "/ui/a%00b", "/ui/" + "a" * 300]:
        st, hd, body = raw("GET", path)
        ok = st == 404 and hd.get("content-type") == "application/json"
        code = json.loads(body)["error"]["code"] if ok else None
        t.check(ok and code == "not_found" and b"secret" not in body and b"do not serve" not in body,
                f"GET {path[:60]}: 404 JSON not_found (got {st} {body[:80]!r})")
    st, _, body = raw("GET", "/ui/big.js")
    t.eq((st, json.loads(body)["error"]["code"]), (500, "file_too_large"),
         "a file over dashboard.max_file_bytes")
    t.check(b"dashboard.max_file_bytes" in body, "the message names the key")
    st, _, body = raw("POST", "/", {"Content-Length": "0"})
    t.eq(st, 405, "POST / is not allowed")
    # data routes still need a key
    st, _, _ = raw("GET", "/v1/devices")
    t.eq(st, 401, "data routes still need a key")
finally:
    srv.stop()

# ---- a dashboard.dir without index.html: serve refuses to start --------------------------------
empty = os.path.join(base, "empty")
os.makedirs(empty)
port = fltest.free_port()
p = subprocess.run([fltest.BIN, "serve", "--data", os.path.join(base, "d2"), "--listen",
                    f"127.0.0.1:{port}", "--set", f"dashboard.dir={empty}"],
                   capture_output=True, text=True, timeout=60)
t.check(p.returncode != 0, f"serve exits non-zero ({p.returncode})")
t.check("dashboard.dir" in p.stderr + p.stdout and "index.html" in p.stderr + p.stdout,
        "the message names dashboard.dir and index.html")
t.finish()
