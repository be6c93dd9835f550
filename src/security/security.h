/* security.h — who may do what: API keys, roles, the route policy, fleets and data
 * classification (the IAM role of the reference architecture).
 *
 * Keys. A key is `flk_<id>_<secret>`: <id> is 16 hex digits (public: logs, audit, revoke),
 * <secret> 43 base64url characters (256 random bits from OpenSSL). meta.db keeps only the
 * SHA-256 of the secret (a 256-bit random secret needs no slow KDF); a presented key is
 * looked up by id and its hash compared in constant time (CRYPTO_memcmp). A key carries a
 * role, optional fleets and device ids it is limited to, a maximum data classification, an
 * optional expiry, and a revocation time. Table (portable SQL, created on first open):
 *   api_keys(id PK, name, role, fleets, devices, max_class, secret_sha256, created_at,
 *            expires_at, revoked_at)   -- fleets/devices: comma-separated, '' = unrestricted
 *   security_meta(name PK, value)       -- 'key_generation': bumped by every create/revoke
 *
 * Revocation takes effect at once: an fl_keystore caches the keys in memory and, before each
 * authentication, compares SQLite's data_version (changes when another connection commits)
 * and then key_generation, reloading the cache when another process (`fleetlake keys revoke`)
 * changed them.
 *
 * Roles (six, fixed): device, developer, data_engineer, data_analyst, operator, admin. The
 * route policy (policy.c) maps every (method, route) of the gateway to the set of roles that
 * may call it; a route without an entry is refused for everyone and fails the policy test.
 *
 * Attributes (ABAC). Devices belong to fleets by the `[fleet.NAME] devices = glob,glob` config
 * sections. A key limited to fleets and/or devices sees only rows of those devices; its
 * maximum classification (public < internal < confidential) bounds the tables and columns it
 * may read (classify.c holds the classification of every table and column). fl_access is the
 * resolved form the query layer and the device API enforce.
 *
 * Thread safety: fl_keystore functions may be called from any thread (one mutex). The policy,
 * classification and fleet functions are pure. The module never logs. */
#ifndef FL_SECURITY_SECURITY_H
#define FL_SECURITY_SECURITY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- roles ---------------------------------------------------------------------------------- */

typedef enum fl_role {
    FL_ROLE_DEVICE = 0,
    FL_ROLE_DEVELOPER,
    FL_ROLE_DATA_ENGINEER,
    FL_ROLE_DATA_ANALYST,
    FL_ROLE_OPERATOR,
    FL_ROLE_ADMIN,
    FL_ROLE_COUNT
} fl_role;

#define FL_ROLE_BIT(r) (1u << (unsigned)(r))
#define FL_ROLES_ALL ((1u << FL_ROLE_COUNT) - 1u)

/* "device", "developer", ... ; "?" for an out-of-range value. */
const char *fl_role_name(fl_role r);
/* FL_EINVAL for an unknown name. */
FL_MUST_USE int fl_role_parse(const char *name, fl_role *out);

/* ---- classification ------------------------------------------------------------------------ */

typedef enum fl_class { FL_CLASS_PUBLIC = 0, FL_CLASS_INTERNAL, FL_CLASS_CONFIDENTIAL } fl_class;

const char *fl_class_name(fl_class c);
FL_MUST_USE int fl_class_parse(const char *name, fl_class *out);
/* The classification a role's keys get when `keys create` names none. */
fl_class fl_role_default_class(fl_role r);
/* The classification of a table (the least needed to read any of it) and of one of its
 * columns (never below the table's). Unknown tables are confidential; unknown columns of a
 * known table take the table's class. */
fl_class fl_table_class(const char *table);
fl_class fl_column_class(const char *table, const char *column);

/* ---- the route policy ---------------------------------------------------------------------- */

/* Which roles may call method + route (the route table's name, e.g. "/v1/devices/{id}").
 * *found is 0 when the policy has no entry for it (then no role may call it). Returns the
 * role bit set. public_route is set for routes that need no key (/healthz). */
unsigned fl_policy_roles(const char *method, const char *route, int *found, int *public_route);
/* Every policy entry, for the documentation and the matrix test. */
typedef struct fl_policy_entry {
    const char *method;
    const char *route;
    unsigned roles;
    int public_route;
} fl_policy_entry;
extern const fl_policy_entry fl_policy_table[];
extern const size_t fl_policy_table_len;

/* ---- fleets -------------------------------------------------------------------------------- */

/* 1 when name is a fleet defined in the configuration. */
int fl_fleet_exists(const fl_config *cfg, const char *name);
/* The fleet bits of a comma-separated list of fleet names. FL_EINVAL for a name the
 * configuration lacks: *bad and *bad_len (if not NULL) point at it in names. */
FL_MUST_USE int fl_fleet_mask_of_names(const fl_config *cfg, const char *names, uint64_t *mask,
                                       const char **bad, size_t *bad_len);
/* Bit i set when the device belongs to the configuration's fleet i (glob patterns). */
uint64_t fl_fleet_mask_of_device(const fl_config *cfg, const char *device_id, size_t len);

/* ---- keys ---------------------------------------------------------------------------------- */

#define FL_KEY_ID_LEN 16      /* hex digits */
#define FL_KEY_SECRET_LEN 43  /* base64url characters */
#define FL_KEY_TOKEN_MAX 80   /* "flk_" + id + "_" + secret + NUL, rounded up */
#define FL_KEY_LIST_MAX 1024  /* fleets / devices lists, comma separated */

typedef struct fl_key_info {
    char id[FL_KEY_ID_LEN + 1];
    char name[128];
    fl_role role;
    fl_class max_class;
    char fleets[FL_KEY_LIST_MAX];  /* "" = every fleet */
    char devices[FL_KEY_LIST_MAX]; /* "" = every device (of its fleets) */
    int64_t created_at;            /* µs */
    int64_t expires_at;            /* µs, -1: never */
    int64_t revoked_at;            /* µs, -1: not revoked */
} fl_key_info;

/* Why an authentication failed (for the 401 message and the audit trail). */
typedef enum fl_auth_result {
    FL_AUTH_OK = 0,
    FL_AUTH_MISSING,   /* no Authorization header */
    FL_AUTH_MALFORMED, /* not "Bearer flk_..." */
    FL_AUTH_UNKNOWN,   /* no such key, or wrong secret */
    FL_AUTH_REVOKED,
    FL_AUTH_EXPIRED,
} fl_auth_result;
const char *fl_auth_result_message(fl_auth_result r);

typedef struct fl_keystore fl_keystore;

/* Open the key store on meta.db (creates its tables). max_keys bounds the cache. */
FL_MUST_USE int fl_keystore_open(const char *meta_path, int64_t max_keys, fl_keystore **out);
void fl_keystore_close(fl_keystore *ks);

/* Create a key from spec (role, name, fleets, devices, max_class, expires_at; id and times
 * are generated). token receives the whole secret key (shown once), info the stored row.
 * FL_EINVAL for a bad list, FL_ELIMIT past max_keys. */
FL_MUST_USE int fl_keystore_create(fl_keystore *ks, const fl_key_info *spec,
                                   char token[FL_KEY_TOKEN_MAX], fl_key_info *info);
/* Revoke by id: FL_ENOTFOUND when there is no such key; revoking twice is not an error. */
FL_MUST_USE int fl_keystore_revoke(fl_keystore *ks, const char *id);
/* All keys (revoked ones too), oldest first. *out is freed with fl_free. */
FL_MUST_USE int fl_keystore_list(fl_keystore *ks, fl_key_info **out, size_t *count);
/* Check an Authorization header value ("Bearer flk_..."; NULL when absent) at time now_us.
 * On FL_AUTH_OK *info is the key. Returns a negative code only on a storage error. */
FL_MUST_USE int fl_keystore_authenticate(fl_keystore *ks, const char *authorization,
                                         int64_t now_us, fl_key_info *info,
                                         fl_auth_result *result);

/* ---- resolved access of one caller --------------------------------------------------------- */

/* What a caller may see. unrestricted = 1 for auth off or a key without fleets/devices. */
typedef struct fl_access {
    fl_role role;
    fl_class max_class;
    int unrestricted_rows;
    uint64_t fleet_mask;           /* fleets the key is limited to (0 with no fleet limit) */
    char devices[FL_KEY_LIST_MAX + 2]; /* ",a,b," the key is limited to; "" = no limit */
    const fl_config *cfg;          /* fleets' definitions */
} fl_access;

/* Full access (auth off, trusted CLI on the data directory). */
void fl_access_full(fl_access *a, const fl_config *cfg);
/* The access of key k. FL_EINVAL when the key names a fleet the configuration lacks. */
FL_MUST_USE int fl_access_from_key(fl_access *a, const fl_key_info *k, const fl_config *cfg);
/* 1 when the caller may see rows of this device. */
int fl_access_device_allowed(const fl_access *a, const char *device_id, size_t len);

#endif
