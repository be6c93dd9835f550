/* lake_test_util.h — helpers shared by the lake unit tests: scratch directories under
 * $FL_TEST_TMP, recursive removal, counting files. Header-only so each test_*.c stays one
 * self-contained cmocka executable. */
#ifndef FL_TESTS_LAKE_TEST_UTIL_H
#define FL_TESTS_LAKE_TEST_UTIL_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void lt_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                abort();
            lt_rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh scratch directory "<tmp>/<name>-XXXXXX" in root. */
static inline void lt_tmpdir(const char *name, char *root, size_t n)
{
    const char *base = getenv("FL_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    if (snprintf(root, n, "%s/%s-XXXXXX", base, name) >= (int)n || !mkdtemp(root))
        abort();
}

/* Regular files under dir (recursive) whose name ends with suffix. */
static inline int lt_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub)
            continue;
        struct stat st;
        if (stat(sub, &st))
            continue;
        size_t l = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            n += lt_count_files(sub, suffix);
        else if (l >= sl && !strcmp(e->d_name + l - sl, suffix))
            n++;
    }
    closedir(d);
    return n;
}

static inline int lt_exists(const char *root, const char *key)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", root, key) >= (int)sizeof p)
        return 0;
    struct stat st;
    return stat(p, &st) == 0;
}

#endif
