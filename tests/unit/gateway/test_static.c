/* test_static.c — the dashboard's static files (src/gateway/static.c): which request paths
 * may be served (no traversal, no hidden files, no node_modules, bounded length), content
 * types by extension, and finding the directory (an explicit dashboard.dir without an
 * index.html is an error naming the key; a found one is resolved to its real path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gateway_int.h"

static void allowed_paths(void **state)
{
    (void)state;
    const char *ok[] = {"index.html",
                        "app.css",
                        "js/app.js",
                        "js/pages/fleet.js",
                        "vendor/uPlot.esm.js",
                        "vendor/countries-50m.json",
                        "a-b_c.d",
                        "x"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(fl_static_path_check(ok[i]), 0);
}

static void refused_paths(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "..",
                         "../etc/passwd",
                         "js/../../x",
                         "js/..",
                         ".",
                         "./index.html",
                         ".git/config",
                         "js/.hidden",
                         "/etc/passwd",
                         "js//app.js",
                         "js/",
                         "node_modules/uplot/package.json",
                         "x/node_modules/y",
                         "a\\b",
                         "a%2e%2e",
                         "a b",
                         "a?b",
                         "ü.js",
                         "a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (fl_static_path_check(bad[i]) != FL_EINVAL)
            fail_msg("path '%s' should be refused", bad[i]);
    }
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    assert_int_equal(fl_static_path_check(longp), FL_EINVAL);
    longp[255] = 0; /* 255 bytes: the limit itself */
    assert_int_equal(fl_static_path_check(longp), 0);
    /* "node_modulesx" and "xnode_modules" are ordinary names */
    assert_int_equal(fl_static_path_check("node_modulesx/a"), 0);
    assert_int_equal(fl_static_path_check("xnode_modules"), 0);
}

static void content_types(void **state)
{
    (void)state;
    assert_string_equal(fl_static_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(fl_static_content_type("js/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(fl_static_content_type("app.css"), "text/css; charset=utf-8");
    assert_string_equal(fl_static_content_type("vendor/countries-50m.json"), "application/json");
    assert_string_equal(fl_static_content_type("shot.png"), "image/png");
    assert_string_equal(fl_static_content_type("README"), "application/octet-stream");
    assert_string_equal(fl_static_content_type("a.b/README"), "application/octet-stream");
    assert_string_equal(fl_static_content_type("x.exe"), "application/octet-stream");
}

static void finding_the_directory(void **state)
{
    (void)state;
    const char *base = getenv("FL_TEST_TMP");
    char dir[PATH_MAX], file[PATH_MAX + 16], out[PATH_MAX], err[PATH_MAX + 128];
    snprintf(dir, sizeof dir, "%s/static-XXXXXX", base ? base : "/tmp");
    if (base)
        mkdir(base, 0755);
    assert_non_null(mkdtemp(dir));
    /* configured, but no index.html: an error naming the key */
    assert_int_equal(fl_static_find_dir(dir, out, err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "dashboard.dir"));
    assert_non_null(strstr(err, "index.html"));
    snprintf(file, sizeof file, "%s/index.html", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("<!doctype html>", f);
    fclose(f);
    /* a path with "/./" resolves to the real directory */
    char dotted[PATH_MAX + 8];
    snprintf(dotted, sizeof dotted, "%s/.", dir);
    assert_int_equal(fl_static_find_dir(dotted, out, err, sizeof err), 0);
    char real[PATH_MAX];
    assert_non_null(realpath(dir, real));
    assert_string_equal(out, real);
    unlink(file);
    rmdir(dir);
    /* not configured: the search finds the source tree's web/ (this test binary is built
     * from it) or nothing, never an error */
    assert_int_equal(fl_static_find_dir("", out, err, sizeof err), 0);
    if (out[0]) {
        snprintf(file, sizeof file, "%s/index.html", out);
        assert_int_equal(access(file, R_OK), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allowed_paths),
        cmocka_unit_test(refused_paths),
        cmocka_unit_test(content_types),
        cmocka_unit_test(finding_the_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
