/* test_security.c — roles and classes, the policy table against the gateway's route table,
 * fleets and resolved access, and the key store: create, authenticate, wrong secret, expiry,
 * revocation seen by another connection (another process), limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gateway_int.h"
#include "security/security.h"

static void roles_and_classes(void **state)
{
    (void)state;
    for (unsigned r = 0; r < FL_ROLE_COUNT; r++) {
        fl_role back;
        assert_int_equal(fl_role_parse(fl_role_name((fl_role)r), &back), 0);
        assert_int_equal(back, r);
    }
    fl_role r;
    assert_int_equal(fl_role_parse("root", &r), FL_EINVAL);
    fl_class c;
    assert_int_equal(fl_class_parse("internal", &c), 0);
    assert_int_equal(c, FL_CLASS_INTERNAL);
    assert_int_equal(fl_class_parse("secret", &c), FL_EINVAL);
    assert_int_equal(fl_role_default_class(FL_ROLE_DATA_ENGINEER), FL_CLASS_CONFIDENTIAL);
    assert_int_equal(fl_role_default_class(FL_ROLE_DATA_ANALYST), FL_CLASS_INTERNAL);
    assert_int_equal(fl_role_default_class(FL_ROLE_OPERATOR), FL_CLASS_PUBLIC);
    /* location is confidential everywhere; readings internal; dead letters confidential */
    assert_int_equal(fl_column_class("processed_sensor_data", "latitude"), FL_CLASS_CONFIDENTIAL);
    assert_int_equal(fl_column_class("raw_sensor_data", "extra"), FL_CLASS_CONFIDENTIAL);
    assert_int_equal(fl_column_class("processed_sensor_data", "temperature"), FL_CLASS_INTERNAL);
    assert_int_equal(fl_column_class("processed_sensor_data", NULL), FL_CLASS_INTERNAL);
    assert_int_equal(fl_column_class("rejected_records", "code"), FL_CLASS_CONFIDENTIAL);
    assert_int_equal(fl_table_class("no_such_table"), FL_CLASS_CONFIDENTIAL);
}

/* Every route of the gateway has exactly one policy entry and every entry names a route:
 * a new route without a policy fails here. */
static void policy_covers_every_route(void **state)
{
    (void)state;
    for (size_t i = 0; i < fl_gateway_route_count; i++) {
        const fl_route *rt = &fl_gateway_routes[i];
        int found = 0, n = 0;
        (void)fl_policy_roles(rt->method, rt->name, &found, NULL);
        if (!found)
            fail_msg("route %s %s has no policy entry", rt->method, rt->name);
        for (size_t k = 0; k < fl_policy_table_len; k++)
            n += strcmp(fl_policy_table[k].method, rt->method) == 0 &&
                 strcmp(fl_policy_table[k].route, rt->name) == 0;
        assert_int_equal(n, 1);
    }
    for (size_t k = 0; k < fl_policy_table_len; k++) {
        int seen = 0;
        for (size_t i = 0; i < fl_gateway_route_count; i++)
            seen |= strcmp(fl_policy_table[k].method, fl_gateway_routes[i].method) == 0 &&
                    strcmp(fl_policy_table[k].route, fl_gateway_routes[i].name) == 0;
        if (!seen)
            fail_msg("policy entry %s %s names no route", fl_policy_table[k].method,
                     fl_policy_table[k].route);
    }
    int found, pub;
    unsigned roles = fl_policy_roles("POST", "/v1/records", &found, &pub);
    assert_true(found);
    assert_false(pub);
    assert_true(roles & FL_ROLE_BIT(FL_ROLE_DEVICE));
    assert_false(roles & FL_ROLE_BIT(FL_ROLE_OPERATOR));
    roles = fl_policy_roles("POST", "/v1/query", &found, &pub);
    assert_false(roles & FL_ROLE_BIT(FL_ROLE_OPERATOR)); /* operators see no data rows */
    assert_false(roles & FL_ROLE_BIT(FL_ROLE_DEVICE));
    (void)fl_policy_roles("GET", "/healthz", &found, &pub);
    assert_true(pub);
    (void)fl_policy_roles("DELETE", "/v1/records", &found, &pub);
    assert_false(found);
}

static void fleets_and_access(void **state)
{
    (void)state;
    fl_config cfg;
    char err[256];
    fl_config_defaults(&cfg);
    assert_int_equal(fl_config_set(&cfg, "fleet.seoul.devices=truck-*, van-0?", err, sizeof err), 0);
    assert_int_equal(fl_config_set(&cfg, "fleet.busan.devices=bus-*,truck-9*", err, sizeof err),
                     0);
    assert_int_equal(fl_fleet_mask_of_device(&cfg, "truck-1", 7), 1);
    assert_int_equal(fl_fleet_mask_of_device(&cfg, "truck-91", 8), 3); /* both fleets */
    assert_int_equal(fl_fleet_mask_of_device(&cfg, "van-01", 6), 1);
    assert_int_equal(fl_fleet_mask_of_device(&cfg, "van-001", 7), 0);
    assert_int_equal(fl_fleet_mask_of_device(&cfg, "bus-7xyz", 5), 2); /* length-bounded */

    fl_key_info k = {.role = FL_ROLE_DATA_ANALYST, .max_class = FL_CLASS_INTERNAL};
    fl_access a;
    strcpy(k.fleets, "busan");
    assert_int_equal(fl_access_from_key(&a, &k, &cfg), 0);
    assert_false(a.unrestricted_rows);
    assert_true(fl_access_device_allowed(&a, "bus-3", 5));
    assert_true(fl_access_device_allowed(&a, "truck-95", 8));
    assert_false(fl_access_device_allowed(&a, "truck-15", 8));
    /* devices and fleets together: both must allow */
    strcpy(k.devices, "truck-95,bus-3");
    assert_int_equal(fl_access_from_key(&a, &k, &cfg), 0);
    assert_true(fl_access_device_allowed(&a, "bus-3", 5));
    assert_false(fl_access_device_allowed(&a, "bus-4", 5));
    assert_false(fl_access_device_allowed(&a, "bus-", 4)); /* prefix of a listed id */
    /* devices only */
    k.fleets[0] = 0;
    strcpy(k.devices, "truck-1");
    assert_int_equal(fl_access_from_key(&a, &k, &cfg), 0);
    assert_true(fl_access_device_allowed(&a, "truck-1", 7));
    assert_false(fl_access_device_allowed(&a, "truck-10", 8));
    /* no limits: everything */
    k.devices[0] = 0;
    assert_int_equal(fl_access_from_key(&a, &k, &cfg), 0);
    assert_true(a.unrestricted_rows);
    assert_true(fl_access_device_allowed(&a, "anything", 8));
    /* a fleet that is not configured */
    strcpy(k.fleets, "paris");
    assert_int_equal(fl_access_from_key(&a, &k, &cfg), FL_EINVAL);
}

static char db_path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(db_path, sizeof db_path, "/tmp/fl-test-keys-%d.db", (int)getpid());
    unlink(db_path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[300];
    unlink(db_path);
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
    return 0;
}

static void keystore_lifecycle(void **state)
{
    (void)state;
    fl_keystore *ks, *other;
    assert_int_equal(fl_keystore_open(db_path, 3, &ks), 0);
    assert_int_equal(fl_keystore_open(db_path, 3, &other), 0); /* "another process" */
    fl_key_info spec = {.role = FL_ROLE_DEVICE, .max_class = FL_CLASS_PUBLIC, .expires_at = -1};
    strcpy(spec.name, "gw-1");
    strcpy(spec.devices, "truck-1,truck-2");
    char token[FL_KEY_TOKEN_MAX], hdr[128];
    fl_key_info info, got;
    assert_int_equal(fl_keystore_create(ks, &spec, token, &info), 0);
    assert_int_equal(strlen(info.id), FL_KEY_ID_LEN);
    assert_int_equal(strlen(token), 4 + FL_KEY_ID_LEN + 1 + FL_KEY_SECRET_LEN);
    assert_memory_equal(token + 4, info.id, FL_KEY_ID_LEN);
    fl_auth_result res;
    snprintf(hdr, sizeof hdr, "Bearer %s", token);
    /* the other connection sees the new key at once */
    assert_int_equal(fl_keystore_authenticate(other, hdr, fl_time_now_us(), &got, &res), 0);
    assert_int_equal(res, FL_AUTH_OK);
    assert_string_equal(got.id, info.id);
    assert_int_equal(got.role, FL_ROLE_DEVICE);
    assert_string_equal(got.devices, "truck-1,truck-2");
    assert_string_equal(got.name, "gw-1");
    /* wrong secret (last character changed), missing, malformed */
    char bad[128];
    snprintf(bad, sizeof bad, "%s", hdr);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(fl_keystore_authenticate(other, bad, fl_time_now_us(), &got, &res), 0);
    assert_int_equal(res, FL_AUTH_UNKNOWN);
    assert_int_equal(fl_keystore_authenticate(other, NULL, 0, &got, &res), 0);
    assert_int_equal(res, FL_AUTH_MISSING);
    assert_int_equal(fl_keystore_authenticate(other, "Basic dXNlcjpwYXNz", 0, &got, &res), 0);
    assert_int_equal(res, FL_AUTH_MALFORMED);
    assert_int_equal(fl_keystore_authenticate(other, "Bearer flk_zz", 0, &got, &res), 0);
    assert_int_equal(res, FL_AUTH_MALFORMED);
    /* an expiring key */
    fl_key_info exp = spec;
    exp.expires_at = 1000;
    char token2[FL_KEY_TOKEN_MAX], hdr2[128];
    assert_int_equal(fl_keystore_create(ks, &exp, token2, NULL), 0);
    snprintf(hdr2, sizeof hdr2, "Bearer %s", token2);
    assert_int_equal(fl_keystore_authenticate(ks, hdr2, 999, &got, &res), 0);
    assert_int_equal(res, FL_AUTH_OK);
    assert_int_equal(fl_keystore_authenticate(ks, hdr2, 1000, &got, &res), 0);
    assert_int_equal(res, FL_AUTH_EXPIRED);
    /* revocation through one connection is seen by the other at its next call */
    assert_int_equal(fl_keystore_revoke(ks, info.id), 0);
    assert_int_equal(fl_keystore_authenticate(other, hdr, fl_time_now_us(), &got, &res), 0);
    assert_int_equal(res, FL_AUTH_REVOKED);
    assert_int_equal(fl_keystore_revoke(ks, info.id), 0); /* twice: fine */
    assert_int_equal(fl_keystore_revoke(ks, "0000000000000000"), FL_ENOTFOUND);
    /* list: both keys, oldest first, the revoked one marked */
    fl_key_info *list;
    size_t n;
    assert_int_equal(fl_keystore_list(other, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, info.id);
    assert_true(list[0].revoked_at >= 0);
    assert_true(list[1].revoked_at < 0);
    fl_free(list);
    /* max_keys = 3 */
    assert_int_equal(fl_keystore_create(ks, &spec, token2, NULL), 0);
    assert_int_equal(fl_keystore_create(ks, &spec, token2, NULL), FL_ELIMIT);
    /* bad lists */
    fl_key_info badspec = spec;
    strcpy(badspec.devices, "truck 1");
    assert_int_equal(fl_keystore_create(ks, &badspec, token2, NULL), FL_EINVAL);
    strcpy(badspec.devices, "a,,b");
    assert_int_equal(fl_keystore_create(ks, &badspec, token2, NULL), FL_EINVAL);
    fl_keystore_close(other);
    fl_keystore_close(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles_and_classes),
        cmocka_unit_test(policy_covers_every_route),
        cmocka_unit_test(fleets_and_access),
        cmocka_unit_test_setup_teardown(keystore_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
