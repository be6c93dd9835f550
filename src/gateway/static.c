/* static.c — the dashboard's files (web/, DESIGN.md §3): GET / answers web/index.html and
 * GET /ui/<path> answers web/<path>. They hold no data (every data call from the page sends the
 * user's API key), so the policy table lists both routes as public.
 *
 * Where the files come from: dashboard.dir, or when it is empty the first directory holding an
 * index.html among <binary's dir>/../web (a build directory inside the source tree, as `make
 * run` uses), <binary's dir>/../share/fleetlake/web (an installed binary) and the source tree
 * the binary was compiled from. An explicit dashboard.dir without index.html is a
 * configuration error; a dashboard not found by the search only makes / answer 404.
 *
 * Safety: a requested path must pass fl_static_path_check (letters, digits, '.', '_', '-' and
 * '/'; no empty segment, no segment starting with '.', no node_modules) and, once symlinks are
 * resolved, still lie inside the directory; only regular files up to dashboard.max_file_bytes
 * are sent. Caching: every response carries an ETag (size and modification time) and
 * Cache-Control: no-cache, so a browser revalidates (304) and never runs a stale script after
 * an upgrade. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gateway_int.h"

#define MODULE "gateway"

/* Longest path below the dashboard directory a request may name: the dashboard's own files
 * are a few levels deep; anything longer is not one of them. */
#define STATIC_PATH_MAX 255

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

const char *fl_static_content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
            if (strcmp(dot, content_types[i].ext) == 0)
                return content_types[i].type;
    return "application/octet-stream";
}

int fl_static_path_check(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > STATIC_PATH_MAX)
        return FL_EINVAL;
    const char *seg = rel;
    for (const char *p = rel;; p++) {
        char c = *p;
        if (c == '/' || c == 0) {
            size_t len = (size_t)(p - seg);
            if (len == 0 || seg[0] == '.') /* empty, ".", "..", hidden files */
                return FL_EINVAL;
            if (len == 12 && memcmp(seg, "node_modules", 12) == 0)
                return FL_EINVAL;
            if (c == 0)
                return 0;
            seg = p + 1;
            continue;
        }
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return FL_EINVAL;
    }
}

/* 1 when dir/index.html is a regular file. */
static int has_index(const char *dir)
{
    char path[PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/index.html", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Resolve candidate into out (realpath) when it holds an index.html. */
static int try_dir(const char *candidate, char *out)
{
    char resolved[PATH_MAX];
    if (!realpath(candidate, resolved) || !has_index(resolved))
        return 0;
    snprintf(out, PATH_MAX, "%s", resolved);
    return 1;
}

int fl_static_find_dir(const char *configured, char *out, char *err, size_t errlen)
{
    out[0] = 0;
    if (configured[0]) {
        char resolved[PATH_MAX];
        if (try_dir(configured, out))
            return 0;
        if (!realpath(configured, resolved))
            snprintf(err, errlen,
                     "dashboard.dir = %s: %s (it must hold the dashboard's index.html)", configured,
                     strerror(errno));
        else
            snprintf(err, errlen, "dashboard.dir = %s: no index.html there", configured);
        return FL_ECONFIG;
    }
    char exe[PATH_MAX], candidate[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        snprintf(candidate, sizeof candidate, "%s/../web", exe);
        if (try_dir(candidate, out))
            return 0;
        snprintf(candidate, sizeof candidate, "%s/../share/fleetlake/web", exe);
        if (try_dir(candidate, out))
            return 0;
    }
#ifdef FL_SOURCE_WEB_DIR
    if (try_dir(FL_SOURCE_WEB_DIR, out))
        return 0;
#endif
    return 0; /* not found: the routes answer 404 */
}

int fl_gateway_static_init(fl_gateway *gw)
{
    char err[PATH_MAX + 128];
    int rc = fl_static_find_dir(gw->deps.cfg->dashboard_dir, gw->web_dir, err, sizeof err);
    if (rc) {
        FL_ERROR(MODULE, "%s", err);
        return rc;
    }
    if (gw->web_dir[0])
        FL_INFO(MODULE, "dashboard files from %s", gw->web_dir);
    else
        FL_WARN(MODULE, "no dashboard files found (set dashboard.dir to the web/ directory); "
                        "GET / answers 404");
    return 0;
}

/* Whether the request's If-None-Match holds etag (or is "*"). */
static int etag_matches(fl_request *req, const char *etag)
{
    const char *inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match");
    if (!inm)
        return 0;
    if (strcmp(inm, "*") == 0)
        return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag))
        if ((p == inm || p[-1] == ' ' || p[-1] == ',') && (p[n] == 0 || p[n] == ',' || p[n] == ' '))
            return 1;
    return 0;
}

/* Read the whole regular file at path (at most max bytes) into body. */
static int read_file(const char *path, int64_t max, fl_buf *body, struct stat *st)
{
    int fd = fl_fs->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    int rc = 0;
    if (fstat(fd, st)) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st->st_mode)) {
        rc = FL_ENOTFOUND;
        goto out;
    }
    if (st->st_size > max) {
        rc = FL_ELIMIT;
        goto out;
    }
    if (st->st_size > 0) {
        if ((rc = fl_buf_reserve(body, (size_t)st->st_size)))
            goto out;
        ssize_t got = fl_fs_pread_full(fd, body->data, (size_t)st->st_size, 0);
        if (got < 0) {
            rc = (int)got;
            goto out;
        }
        body->len = (size_t)got;
    }
out:
    fl_fs->close(fd);
    return rc;
}

/* The security headers of every dashboard file: scripts and data only from this server. */
static const char *const security_headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
     "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Cache-Control", "no-cache"},
};

/* Serve web_dir/rel (rel already checked). */
static void serve_file(fl_gateway *gw, fl_request *req, const char *rel)
{
    char joined[PATH_MAX + STATIC_PATH_MAX + 2], resolved[PATH_MAX];
    snprintf(joined, sizeof joined, "%s/%s", gw->web_dir, rel);
    size_t dir_len = strlen(gw->web_dir);
    if (!realpath(joined, resolved) || strncmp(resolved, gw->web_dir, dir_len) != 0 ||
        resolved[dir_len] != '/') {
        fl_respond_error(req, 404, "not_found", "no dashboard file %s", rel);
        return;
    }
    fl_buf body = {0};
    struct stat st;
    int rc = read_file(resolved, gw->deps.cfg->dashboard_max_file_bytes, &body, &st);
    if (rc == FL_ELIMIT) {
        fl_buf_free(&body);
        fl_respond_error(req, 500, "file_too_large",
                         "dashboard file %s exceeds dashboard.max_file_bytes (%lld)", rel,
                         (long long)gw->deps.cfg->dashboard_max_file_bytes);
        return;
    }
    if (rc) {
        fl_buf_free(&body);
        if (rc != FL_ENOTFOUND && rc != -ENOENT && rc != -EISDIR)
            FL_WARN(MODULE, "dashboard file %s: %s", resolved, fl_strerror(rc));
        fl_respond_error(req, 404, "not_found", "no dashboard file %s", rel);
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *headers[8][2];
    size_t nh = 0;
    for (size_t i = 0; i < sizeof security_headers / sizeof security_headers[0]; i++) {
        headers[nh][0] = security_headers[i][0];
        headers[nh++][1] = security_headers[i][1];
    }
    headers[nh][0] = "ETag";
    headers[nh++][1] = etag;
    if (etag_matches(req, etag)) {
        fl_buf_free(&body);
        fl_respond_with_headers(req, 304, fl_static_content_type(rel), &body, headers, nh);
        return;
    }
    fl_respond_with_headers(req, 200, fl_static_content_type(rel), &body, headers, nh);
}

static int dashboard_present(fl_gateway *gw, fl_request *req)
{
    if (gw->web_dir[0])
        return 1;
    fl_respond_error(req, 404, "no_dashboard",
                     "the dashboard files were not found; set dashboard.dir to the web/ "
                     "directory of the source tree");
    return 0;
}

void fl_handle_dashboard_index(fl_gateway *gw, fl_request *req)
{
    if (dashboard_present(gw, req))
        serve_file(gw, req, "index.html");
}

/* GET /ui/<path>: req->url is "/ui/<path>". */
void fl_handle_dashboard_file(fl_gateway *gw, fl_request *req)
{
    const char *rel = req->url + strlen("/ui/");
    if (fl_static_path_check(rel)) {
        fl_respond_error(req, 404, "not_found",
                         "dashboard paths are letters, digits, '.', '_', '-' and '/', without "
                         "empty or dot-first segments");
        return;
    }
    if (dashboard_present(gw, req))
        serve_file(gw, req, rel);
}
