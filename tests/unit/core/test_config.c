/* test_config.c — the config table: defaults, INI loading, --set overrides, validation
 * errors naming the key, and fleetlake.conf.example identical to the generated sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    *len = got;
    return buf;
}

static const char *write_tmp(const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/fl-test-config-%d.ini", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void defaults(void **state)
{
    (void)state;
    fl_config cfg;
    fl_config_defaults(&cfg);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.data_dir, "./fleetlake-data");
    assert_int_equal(cfg.shards, 2);
    assert_int_equal(cfg.max_body_bytes, 8 * 1024 * 1024);
    assert_int_equal(cfg.retention_age_s, 86400);
    assert_int_equal(fl_config_durability(&cfg), FL_DURABILITY_FSYNC);
}

static void load_file_and_override(void **state)
{
    (void)state;
    fl_config cfg;
    char err[256];
    fl_config_defaults(&cfg);
    const char *path = write_tmp("[stream]\nshards = 8\nsegment_bytes = 1MiB\n"
                                 "retention_age_s = 2h\n[server]\nlisten = 0.0.0.0:9000\n");
    assert_int_equal(fl_config_load_file(&cfg, path, err, sizeof err), 0);
    assert_int_equal(cfg.shards, 8);
    assert_int_equal(cfg.segment_bytes, 1024 * 1024);
    assert_int_equal(cfg.retention_age_s, 7200);
    assert_string_equal(cfg.listen, "0.0.0.0:9000");
    assert_int_equal(fl_config_set(&cfg, "stream.durability=os", err, sizeof err), 0);
    assert_int_equal(fl_config_durability(&cfg), FL_DURABILITY_OS);
    unlink(path);
}

static void errors_name_the_key(void **state)
{
    (void)state;
    fl_config cfg;
    char err[512];
    fl_config_defaults(&cfg);
    assert_int_equal(fl_config_set(&cfg, "stream.nope=1", err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "stream.nope"));
    assert_int_equal(fl_config_set(&cfg, "stream.shards=0", err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "stream.shards"));
    assert_int_equal(fl_config_set(&cfg, "stream.shards=257", err, sizeof err), FL_ECONFIG);
    assert_int_equal(fl_config_set(&cfg, "stream.shards=abc", err, sizeof err), FL_ECONFIG);
    assert_int_equal(fl_config_set(&cfg, "stream.durability=sometimes", err, sizeof err),
                     FL_ECONFIG);
    assert_non_null(strstr(err, "fsync|os"));
    assert_int_equal(fl_config_set(&cfg, "ingest.max_body_bytes=12 parsecs", err, sizeof err),
                     FL_ECONFIG);
    assert_int_equal(fl_config_set(&cfg, "noequals", err, sizeof err), FL_ECONFIG);
    assert_int_equal(cfg.shards, 2); /* failed sets change nothing */
    const char *path = write_tmp("[stream]\nshards = 4\n[bogus]\nkey = 1\n");
    assert_int_equal(fl_config_load_file(&cfg, path, err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "bogus.key"));
    assert_non_null(strstr(err, ":4:")); /* line number */
    unlink(path);
    assert_int_equal(fl_config_load_file(&cfg, "/nonexistent/x.ini", err, sizeof err), FL_ECONFIG);
}

static void sample_file_matches_table(void **state)
{
    (void)state;
    const char *src = getenv("FL_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    snprintf(path, sizeof path, "%s/fleetlake.conf.example", src);
    size_t len;
    char *committed = read_file(path, &len);
    assert_non_null(committed);
    char *gen = NULL;
    size_t gen_len = 0;
    FILE *mem = open_memstream(&gen, &gen_len);
    fl_config_write_sample(mem);
    fclose(mem);
    if (strcmp(committed, gen) != 0)
        fail_msg("fleetlake.conf.example differs from the config table: regenerate it with "
                 "`fleetlake serve --print-sample-config > fleetlake.conf.example`");
    /* and the sample loads back to exactly the defaults */
    fl_config a, b;
    char err[256];
    fl_config_defaults(&a);
    fl_config_defaults(&b);
    assert_int_equal(fl_config_load_file(&b, path, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    free(committed);
    free(gen);
}

/* [prefix.NAME] instance sections: created on first key, defaults, --set of one key of one
 * instance, dump, and errors naming the key. */
static void instance_sections(void **state)
{
    (void)state;
    fl_config cfg;
    char err[256];
    fl_config_defaults(&cfg);
    assert_int_equal(cfg.fleet_count, 0);
    const char *path = write_tmp("[fleet.seoul]\ndevices = truck-*,van-*\n"
                                 "[role.developer]\nquery_max_rows = 500\n");
    assert_int_equal(fl_config_load_file(&cfg, path, err, sizeof err), 0);
    assert_int_equal(cfg.fleet_count, 1);
    assert_string_equal(cfg.fleets[0].name, "seoul");
    assert_string_equal(cfg.fleets[0].devices, "truck-*,van-*");
    assert_int_equal(cfg.role_count, 1);
    assert_string_equal(cfg.roles[0].name, "developer");
    assert_int_equal(cfg.roles[0].query_max_rows, 500);
    assert_int_equal(cfg.roles[0].query_timeout_s, 0); /* default */
    /* --set updates the same instance, or adds another */
    assert_int_equal(fl_config_set(&cfg, "fleet.seoul.devices=bus-*", err, sizeof err), 0);
    assert_int_equal(fl_config_set(&cfg, "fleet.busan.devices=ferry-*", err, sizeof err), 0);
    assert_int_equal(cfg.fleet_count, 2);
    assert_string_equal(cfg.fleets[0].devices, "bus-*");
    assert_string_equal(cfg.fleets[1].name, "busan");
    /* errors */
    assert_int_equal(fl_config_set(&cfg, "fleet.seoul.nope=1", err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "fleet.seoul.nope"));
    assert_int_equal(fl_config_set(&cfg, "fleet.bad name.devices=x", err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "instance name"));
    assert_int_equal(fl_config_set(&cfg, "role.developer.query_max_rows=abc", err, sizeof err),
                     FL_ECONFIG);
    assert_int_equal(fl_config_set(&cfg, "nosuch.x.y=1", err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "unknown config key"));
    for (int i = 2; i < FL_CONFIG_MAX_FLEETS; i++) {
        char a[64];
        snprintf(a, sizeof a, "fleet.f%d.devices=x", i);
        assert_int_equal(fl_config_set(&cfg, a, err, sizeof err), 0);
    }
    assert_int_equal(fl_config_set(&cfg, "fleet.onemore.devices=x", err, sizeof err), FL_ECONFIG);
    assert_non_null(strstr(err, "more than"));
    /* the dump lists instances */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fl_config_dump(&cfg, f);
    fclose(f);
    assert_non_null(strstr(text, "fleet.busan.devices = ferry-*\n"));
    assert_non_null(strstr(text, "role.developer.query_max_rows = 500\n"));
    free(text);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(load_file_and_override),
        cmocka_unit_test(errors_name_the_key),
        cmocka_unit_test(sample_file_matches_table),
        cmocka_unit_test(instance_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
