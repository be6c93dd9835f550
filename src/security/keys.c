/* keys.c — the API key store in meta.db and authentication against its in-memory cache.
 *
 * The cache holds every key row (bounded by max_keys) in an array sorted by id, so an
 * authentication is a binary search, a SHA-256 of the presented secret and a constant-time
 * compare. Before each authentication the store asks SQLite whether the database changed
 * (PRAGMA data_version, cheap: no I/O) and, when it did, whether key_generation changed; only
 * then does it reload. So a `fleetlake keys revoke` in another process is honoured by the very
 * next request. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "security/security.h"

#define BUSY_TIMEOUT_MS 10000

typedef struct cached_key {
    fl_key_info info;
    unsigned char sha[32];
} cached_key;

struct fl_keystore {
    pthread_mutex_t mu;
    sqlite3 *db;
    int64_t max_keys;
    int64_t data_version;
    int64_t generation; /* -1: never loaded */
    cached_key *keys;   /* sorted by id */
    size_t count;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " fleets TEXT NOT NULL,"
    " devices TEXT NOT NULL,"
    " max_class TEXT NOT NULL,"
    " secret_sha256 TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT,"
    " revoked_at BIGINT);"
    "CREATE TABLE IF NOT EXISTS security_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT OR IGNORE INTO security_meta (name, value) VALUES ('key_generation', 0);";

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
}

static int unhex(const char *in, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = in[2 * i + k];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16;
            if (d > 15)
                return FL_ECORRUPT;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return in[2 * n] ? FL_ECORRUPT : 0;
}

static int sha256(const char *p, size_t n, unsigned char out[32])
{
    unsigned len = 32;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : FL_EINVAL;
}

/* base64url without padding of n random bytes. */
static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = a[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = a[(acc << (6 - bits)) & 63];
    out[o] = 0;
}

static int cmp_keys(const void *x, const void *y)
{
    return strcmp(((const cached_key *)x)->info.id, ((const cached_key *)y)->info.id);
}

static int64_t col_or(sqlite3_stmt *st, int i, int64_t null_value)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null_value : sqlite3_column_int64(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Read every key row into a new sorted array. */
static int load_all(fl_keystore *ks, cached_key **out, size_t *count)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ks->db,
                           "SELECT id, name, role, fleets, devices, max_class, secret_sha256, "
                           "created_at, expires_at, revoked_at FROM api_keys ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return FL_ESQLITE;
    cached_key *keys = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int64_t)n >= ks->max_keys) {
            rc = FL_ELIMIT;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            cached_key *nk = fl_realloc(keys, ncap * sizeof *nk);
            if (!nk) {
                rc = FL_ENOMEM;
                break;
            }
            keys = nk;
            cap = ncap;
        }
        cached_key *k = &keys[n];
        memset(k, 0, sizeof *k);
        char role[32], cls[32], sha[80];
        col_text(st, 0, k->info.id, sizeof k->info.id);
        col_text(st, 1, k->info.name, sizeof k->info.name);
        col_text(st, 2, role, sizeof role);
        col_text(st, 3, k->info.fleets, sizeof k->info.fleets);
        col_text(st, 4, k->info.devices, sizeof k->info.devices);
        col_text(st, 5, cls, sizeof cls);
        col_text(st, 6, sha, sizeof sha);
        k->info.created_at = sqlite3_column_int64(st, 7);
        k->info.expires_at = col_or(st, 8, -1);
        k->info.revoked_at = col_or(st, 9, -1);
        if (fl_role_parse(role, &k->info.role) || fl_class_parse(cls, &k->info.max_class) ||
            unhex(sha, k->sha, 32)) {
            rc = FL_ECORRUPT;
            break;
        }
        n++;
    }
    if (!rc && s != SQLITE_DONE)
        rc = FL_ESQLITE;
    sqlite3_finalize(st);
    if (rc) {
        fl_free(keys);
        return rc;
    }
    if (n > 1)
        qsort(keys, n, sizeof *keys, cmp_keys); /* ORDER BY uses the collation; be explicit */
    *out = keys;
    *count = n;
    return 0;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Reload the cache when another connection changed key_generation. Caller holds mu. */
static int refresh_locked(fl_keystore *ks)
{
    int64_t dv, gen;
    if (query_int(ks->db, "PRAGMA data_version", &dv))
        return FL_ESQLITE;
    if (dv == ks->data_version && ks->generation >= 0)
        return 0;
    int force = ks->generation < 0;
    if (query_int(ks->db, "SELECT value FROM security_meta WHERE name = 'key_generation'", &gen))
        return FL_ESQLITE;
    ks->data_version = dv;
    if (gen == ks->generation && !force)
        return 0;
    cached_key *keys;
    size_t n;
    int rc = load_all(ks, &keys, &n);
    if (rc)
        return rc;
    fl_free(ks->keys);
    ks->keys = keys;
    ks->count = n;
    ks->generation = gen;
    return 0;
}

int fl_keystore_open(const char *meta_path, int64_t max_keys, fl_keystore **out)
{
    fl_keystore *ks = fl_calloc(1, sizeof *ks);
    if (!ks)
        return FL_ENOMEM;
    pthread_mutex_init(&ks->mu, NULL);
    ks->max_keys = max_keys;
    ks->generation = -1;
    int rc = FL_ESQLITE;
    if (sqlite3_open_v2(meta_path, &ks->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(ks->db, BUSY_TIMEOUT_MS);
    if ((rc = exec(ks->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")) ||
        (rc = exec(ks->db, "BEGIN IMMEDIATE")))
        goto fail;
    if ((rc = exec(ks->db, schema_sql))) {
        (void)exec(ks->db, "ROLLBACK");
        goto fail;
    }
    if ((rc = exec(ks->db, "COMMIT")))
        goto fail;
    pthread_mutex_lock(&ks->mu);
    rc = refresh_locked(ks);
    pthread_mutex_unlock(&ks->mu);
    if (rc)
        goto fail;
    *out = ks;
    return 0;
fail:
    fl_keystore_close(ks);
    return rc;
}

void fl_keystore_close(fl_keystore *ks)
{
    if (!ks)
        return;
    sqlite3_close(ks->db);
    fl_free(ks->keys);
    pthread_mutex_destroy(&ks->mu);
    fl_free(ks);
}

/* A comma-separated list of names: each 1-128 bytes of [A-Za-z0-9._:*?[\]-], at most
 * FL_KEY_LIST_MAX bytes in all. Fleet lists take no patterns (checked by the caller). */
static int valid_list(const char *s)
{
    size_t len = strlen(s), item = 0;
    if (len >= FL_KEY_LIST_MAX)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];
        if (c == ',' || c == 0) {
            if (item == 0 && len > 0)
                return 0;
            item = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
        if (++item > 128)
            return 0;
    }
    return 1;
}

static int bump_generation(sqlite3 *db)
{
    return exec(db, "UPDATE security_meta SET value = value + 1 WHERE name = 'key_generation'");
}

int fl_keystore_create(fl_keystore *ks, const fl_key_info *spec, char token[FL_KEY_TOKEN_MAX],
                       fl_key_info *info)
{
    if (!valid_list(spec->fleets) || !valid_list(spec->devices) ||
        (unsigned)spec->role >= FL_ROLE_COUNT || spec->max_class > FL_CLASS_CONFIDENTIAL)
        return FL_EINVAL;
    unsigned char idb[FL_KEY_ID_LEN / 2], secret[32], sha[32];
    if (RAND_bytes(idb, sizeof idb) != 1 || RAND_bytes(secret, sizeof secret) != 1)
        return FL_EINVAL;
    fl_key_info k = *spec;
    fl_hex_encode(idb, sizeof idb, k.id);
    char secret_text[FL_KEY_SECRET_LEN + 2], sha_hex[65];
    base64url(secret, sizeof secret, secret_text);
    OPENSSL_cleanse(secret, sizeof secret);
    int rc = sha256(secret_text, strlen(secret_text), sha);
    if (rc)
        return rc;
    fl_hex_encode(sha, sizeof sha, sha_hex);
    k.created_at = fl_time_now_us();
    k.revoked_at = -1;
    pthread_mutex_lock(&ks->mu);
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    if ((rc = exec(ks->db, "BEGIN IMMEDIATE")))
        goto out;
    if ((rc = query_int(ks->db, "SELECT count(*) FROM api_keys", &n)))
        goto rollback;
    if (n >= ks->max_keys) {
        rc = FL_ELIMIT;
        goto rollback;
    }
    rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(ks->db,
                           "INSERT INTO api_keys (id, name, role, fleets, devices, max_class, "
                           "secret_sha256, created_at, expires_at, revoked_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)",
                           -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(st, 1, k.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, fl_role_name(k.role), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, k.fleets, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, k.devices, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, fl_class_name(k.max_class), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, sha_hex, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, k.created_at);
    if (k.expires_at >= 0)
        sqlite3_bind_int64(st, 9, k.expires_at);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto rollback;
    if ((rc = bump_generation(ks->db)) || (rc = exec(ks->db, "COMMIT")))
        goto rollback;
    ks->generation = -1; /* our own commit does not change our data_version: reload now */
    rc = refresh_locked(ks);
    goto out;
rollback:
    (void)exec(ks->db, "ROLLBACK");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ks->mu);
    if (rc)
        return rc;
    snprintf(token, FL_KEY_TOKEN_MAX, "flk_%s_%s", k.id, secret_text);
    OPENSSL_cleanse(secret_text, sizeof secret_text);
    if (info)
        *info = k;
    return 0;
}

int fl_keystore_revoke(fl_keystore *ks, const char *id)
{
    pthread_mutex_lock(&ks->mu);
    sqlite3_stmt *st = NULL;
    int rc = exec(ks->db, "BEGIN IMMEDIATE");
    if (rc)
        goto out;
    rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(ks->db,
                           "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, fl_time_now_us());
    if (sqlite3_step(st) != SQLITE_DONE)
        goto rollback;
    if (sqlite3_changes(ks->db) == 0) {
        rc = FL_ENOTFOUND;
        goto rollback;
    }
    if ((rc = bump_generation(ks->db)) || (rc = exec(ks->db, "COMMIT")))
        goto rollback;
    ks->generation = -1; /* our own commit does not change our data_version: reload now */
    rc = refresh_locked(ks);
    goto out;
rollback:
    (void)exec(ks->db, "ROLLBACK");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

int fl_keystore_list(fl_keystore *ks, fl_key_info **out, size_t *count)
{
    pthread_mutex_lock(&ks->mu);
    int rc = refresh_locked(ks);
    fl_key_info *list = NULL;
    if (!rc && ks->count) {
        list = fl_malloc(ks->count * sizeof *list);
        if (!list)
            rc = FL_ENOMEM;
        for (size_t i = 0; list && i < ks->count; i++)
            list[i] = ks->keys[i].info;
    }
    size_t n = ks->count;
    pthread_mutex_unlock(&ks->mu);
    if (rc)
        return rc;
    /* oldest first */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && list[j - 1].created_at > list[j].created_at; j--) {
            fl_key_info t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    *out = list;
    *count = n;
    return 0;
}

const char *fl_auth_result_message(fl_auth_result r)
{
    switch (r) {
    case FL_AUTH_OK:
        return "ok";
    case FL_AUTH_MISSING:
        return "this route needs an API key: send Authorization: Bearer <key>";
    case FL_AUTH_MALFORMED:
        return "the Authorization header is not 'Bearer flk_<id>_<secret>'";
    case FL_AUTH_UNKNOWN:
        return "unknown API key";
    case FL_AUTH_REVOKED:
        return "this API key was revoked";
    case FL_AUTH_EXPIRED:
        return "this API key has expired";
    }
    return "?";
}

/* Split "Bearer flk_<id>_<secret>" into id and secret; 0 on success. */
static int parse_bearer(const char *h, char id[FL_KEY_ID_LEN + 1], const char **secret,
                        size_t *secret_len)
{
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    h += 7;
    while (*h == ' ')
        h++;
    if (strncmp(h, "flk_", 4) != 0)
        return -1;
    h += 4;
    for (int i = 0; i < FL_KEY_ID_LEN; i++) {
        char c = h[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        id[i] = c;
    }
    id[FL_KEY_ID_LEN] = 0;
    if (h[FL_KEY_ID_LEN] != '_')
        return -1;
    *secret = h + FL_KEY_ID_LEN + 1;
    size_t n = strlen(*secret);
    while (n && (*secret)[n - 1] == ' ')
        n--;
    if (n != FL_KEY_SECRET_LEN)
        return -1;
    *secret_len = n;
    return 0;
}

int fl_keystore_authenticate(fl_keystore *ks, const char *authorization, int64_t now_us,
                             fl_key_info *info, fl_auth_result *result)
{
    if (!authorization || !*authorization) {
        *result = FL_AUTH_MISSING;
        return 0;
    }
    char id[FL_KEY_ID_LEN + 1];
    const char *secret;
    size_t secret_len;
    if (parse_bearer(authorization, id, &secret, &secret_len)) {
        *result = FL_AUTH_MALFORMED;
        return 0;
    }
    unsigned char sha[32];
    int rc = sha256(secret, secret_len, sha);
    if (rc)
        return rc;
    pthread_mutex_lock(&ks->mu);
    rc = refresh_locked(ks);
    const cached_key *hit = NULL;
    if (!rc) {
        cached_key probe;
        memcpy(probe.info.id, id, sizeof id);
        hit = ks->count ? bsearch(&probe, ks->keys, ks->count, sizeof probe, cmp_keys) : NULL;
    }
    if (rc) {
        /* keep serving from the last good cache, but say so to the caller */
    } else if (!hit || CRYPTO_memcmp(hit->sha, sha, 32) != 0) {
        *result = FL_AUTH_UNKNOWN;
    } else if (hit->info.revoked_at >= 0) {
        *result = FL_AUTH_REVOKED;
    } else if (hit->info.expires_at >= 0 && now_us >= hit->info.expires_at) {
        *result = FL_AUTH_EXPIRED;
    } else {
        *result = FL_AUTH_OK;
        *info = hit->info;
    }
    pthread_mutex_unlock(&ks->mu);
    return rc;
}
