/* engine_rules.c — the alert engine's rule definitions: the configured ones ([rule.NAME]
 * sections and the built-in rules) and the ones made through the API (POST/PUT/DELETE
 * /v1/rules), stored in meta.db's alert_rules table; and the change of the rule set the engine
 * evaluates while it runs.
 *
 *   alert_rules(name TEXT PK, definition TEXT (the rule's JSON members, rule_json.c),
 *               created_at, updated_at (µs), updated_by (a key id, or "api"))
 *
 * A change (change()) runs under change_lock, one at a time:
 *  1. the new definitions give a new rule set; a rule that evaluates as before keeps its
 *     identity, a new or changed one gets a new identity;
 *  2. under db_lock, in one transaction: the row is written or deleted, and when the rule
 *     stops being evaluated (deleted, disabled) its open alerts resolve with their
 *     notifications; then the engine's current set is swapped, still under db_lock, so an
 *     event batch (which takes the set under db_lock) sees either the old set or the new one
 *     and drops events of identities the new set lacks (events made before the change);
 *  3. every device table switches to the new set (fl_engine_adopt_rules). Per-device state is
 *     not touched: a rule keeps its state slot across changes, and a device's counters of a
 *     changed rule carry the old definition's tag, so they start over at its next reading.
 *     Only the devices whose alert of a new or changed rule is open are visited, to mark that
 *     state active, so that the alert resolves when the new condition clears. A change thus
 *     costs the same for a hundred devices as for a million.
 * The engine thread lays its pipeline-rule state out the same way at its next tick.
 *
 * A name of the configuration ([rule.NAME], built-in rules included, enabled or not) belongs
 * to it: the API cannot create, change or delete such a rule. An API rule stored before the
 * configuration took its name is kept but not evaluated ("problem"), as is one that no longer
 * validates (a fleet removed from the configuration); DELETE removes either. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notify/engine_int.h"

#define MODULE "alerts"

_Static_assert(RULES_MAX <= 64, "a rule set's state slots are the bits of a uint64_t");

static const char schema[] = "CREATE TABLE IF NOT EXISTS alert_rules ("
                             " name TEXT PRIMARY KEY,"
                             " definition TEXT NOT NULL,"
                             " created_at BIGINT NOT NULL,"
                             " updated_at BIGINT NOT NULL,"
                             " updated_by TEXT NOT NULL)";

/* The [rule.NAME] section of cfg named name (enabled or not), or NULL. */
static const fl_rule_config *configured(const fl_config *cfg, const char *name)
{
    for (int64_t k = 0; k < cfg->rule_count; k++)
        if (strcmp(cfg->rules[k].name, name) == 0)
            return &cfg->rules[k];
    return NULL;
}

/* The definition of name from source (or any source when api_only is 0), or NULL. */
static rule_def *find_def(rule_def *defs, size_t n, const char *name, int api_only)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(defs[i].c.name, name) == 0 && (!api_only || defs[i].source == RULE_SOURCE_API))
            return &defs[i];
    return NULL;
}

static const rule *find_rule(const ruleset *rs, const char *name)
{
    for (size_t i = 0; rs && i < rs->count; i++)
        if (strcmp(rs->rules[i].name, name) == 0)
            return &rs->rules[i];
    return NULL;
}

/* In the current rule set: enabled, and nothing keeps it out. */
static int evaluated(const rule_def *d)
{
    return strcmp(d->c.enabled, "on") == 0 && !d->problem[0];
}

static size_t count_defs(const rule_def *defs, size_t n, int api, int only_evaluated)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (!api || defs[i].source == RULE_SOURCE_API) && (!only_evaluated || evaluated(&defs[i]));
    return k;
}

/* The rule set of the evaluated definitions (change_lock held, or the engine is starting). A
 * rule that evaluates as its namesake in old keeps that one's identity; a rule with a namesake
 * keeps its state slot, a new one takes the lowest slot no other rule of the set has. */
static ruleset *ruleset_build(fl_alert_engine *e, const rule_def *defs, size_t n,
                              const ruleset *old)
{
    ruleset *rs = fl_calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    atomic_init(&rs->refs, 1);
    rs->generation = ++e->next_generation;
    uint64_t taken = 0; /* slots, a bit each (RULES_MAX is 64) */
    int fresh[RULES_MAX];
    size_t nfresh = 0;
    char err[8];
    for (size_t i = 0; i < n && rs->count < RULES_MAX; i++) {
        rule *r = &rs->rules[rs->count];
        /* an evaluated definition was parsed when it was accepted: this cannot fail */
        if (!evaluated(&defs[i]) || fl_rule_parse(e->deps.cfg, &defs[i].c, r, err, sizeof err))
            continue;
        const rule *was = find_rule(old, r->name);
        r->identity = was && fl_rule_same(was, r) ? was->identity : ++e->next_identity;
        if (was) {
            r->slot = was->slot;
            taken |= UINT64_C(1) << was->slot;
        } else {
            fresh[nfresh++] = (int)rs->count;
        }
        rs->count++;
    }
    for (size_t k = 0, slot = 0; k < nfresh; k++, slot++) {
        while (taken & (UINT64_C(1) << slot))
            slot++;
        rs->rules[fresh[k]].slot = (uint32_t)slot;
        taken |= UINT64_C(1) << slot;
    }
    return rs;
}

/* ---- loading ------------------------------------------------------------------------------- */

/* One stored API rule into def; a rule that cannot be evaluated gets its problem. */
static void load_api_rule(fl_alert_engine *e, sqlite3_stmt *st, rule_def *def, size_t *in_set)
{
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *json = (const char *)sqlite3_column_text(st, 1);
    memset(def, 0, sizeof *def);
    def->source = RULE_SOURCE_API;
    def->created_at = sqlite3_column_int64(st, 2);
    def->updated_at = sqlite3_column_int64(st, 3);
    snprintf(def->updated_by, sizeof def->updated_by, "%s",
             (const char *)sqlite3_column_text(st, 4));
    char why[sizeof def->problem];
    rule r;
    if (fl_rule_config_from_json(name, json, (size_t)sqlite3_column_bytes(st, 1), &def->c, why,
                                 sizeof why)) {
        snprintf(def->c.name, sizeof def->c.name, "%s", name);
        snprintf(def->problem, sizeof def->problem, "stored definition unreadable: %.150s", why);
    } else if (configured(e->deps.cfg, name)) {
        snprintf(def->problem, sizeof def->problem,
                 "shadowed: the configuration defines [rule.%s] (it wins; DELETE this one)", name);
    } else if (fl_rule_parse(e->deps.cfg, &def->c, &r, why, sizeof why)) {
        snprintf(def->problem, sizeof def->problem, "%s", why);
    } else if (strcmp(def->c.enabled, "on") == 0) {
        if (*in_set < RULES_MAX) {
            (*in_set)++;
        } else {
            snprintf(def->problem, sizeof def->problem,
                     "more than %d rules enabled (configuration and API together)", RULES_MAX);
        }
    }
    if (def->problem[0])
        FL_WARN(MODULE, "alert rule %s (defined through the API) is not evaluated: %s", name,
                def->problem);
}

int fl_engine_rules_load(fl_alert_engine *e, char *err, size_t errlen)
{
    const fl_config *cfg = e->deps.cfg;
    rule parsed[RULES_MAX];
    size_t in_set = 0;
    if (fl_rules_parse(cfg, parsed, &in_set, err, errlen)) /* every enabled section valid */
        return FL_ECONFIG;
    e->ndefs = 0;
    for (int64_t k = 0; k < cfg->rule_count; k++) {
        const fl_rule_config *c = &cfg->rules[k];
        if (strcmp(c->enabled, "on") != 0)
            continue;
        rule_def *def = &e->defs[e->ndefs++];
        memset(def, 0, sizeof *def);
        def->c = *c;
        def->source =
            fl_config_instance_builtin("rule", c->name) ? RULE_SOURCE_BUILTIN : RULE_SOURCE_CONFIG;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(e->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(e->db,
                           "SELECT name, definition, created_at, updated_at, updated_by "
                           "FROM alert_rules ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the alert_rules table: %s", sqlite3_errmsg(e->db));
        return FL_ESQLITE;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW && e->ndefs < RULE_DEFS_MAX)
        load_api_rule(e, st, &e->defs[e->ndefs++], &in_set);
    if (s == SQLITE_ROW)
        FL_WARN(MODULE, "alert_rules holds more than %d rules: the rest are not loaded", RULES_MAX);
    int rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : FL_ESQLITE;
    sqlite3_finalize(st);
    if (rc) {
        snprintf(err, errlen, "cannot read the alert_rules table: %s", sqlite3_errmsg(e->db));
        return rc;
    }
    e->rules = ruleset_build(e, e->defs, e->ndefs, NULL);
    return e->rules ? 0 : FL_ENOMEM;
}

int fl_engine_collect_actives(fl_alert_engine *e, const ruleset *old, const ruleset *rs,
                              active_alert **out, size_t *n)
{
    fl_alert *v = NULL;
    size_t nv = 0, k = 0;
    int rc = fl_alert_store_active_list(e->db, NULL, &v, &nv);
    active_alert *actives = rc || !nv ? NULL : fl_calloc(nv, sizeof *actives);
    if (!rc && nv && !actives)
        rc = FL_ENOMEM;
    for (size_t i = 0; !rc && i < nv; i++) {
        const rule *r = find_rule(rs, v[i].rule);
        /* no such rule, a pipeline alert, or an unchanged rule (its state is kept) */
        if (!r || !v[i].device_id[0] || (old && fl_ruleset_find(old, -1, r->identity)))
            continue;
        actives[k].identity = r->identity;
        snprintf(actives[k].device, sizeof actives[k].device, "%s", v[i].device_id);
        k++;
    }
    fl_free(v);
    if (rc) {
        fl_free(actives);
        return rc;
    }
    *out = actives;
    *n = k;
    return 0;
}

/* ---- listing ------------------------------------------------------------------------------- */

static const char *const source_names[] = {"builtin", "config", "api"};

static int def_json(const fl_config *cfg, const rule_def *d, fl_buf *out)
{
    int rc = fl_buf_append_cstr(out, "{");
    rc = rc ? rc : fl_rule_config_to_json(cfg, &d->c, out);
    rc = rc ? rc : fl_buf_printf(out, ",\"source\":\"%s\"", source_names[d->source]);
    if (!rc && d->source == RULE_SOURCE_API) {
        char created[40], updated[40];
        fl_time_format_rfc3339(d->created_at, created);
        fl_time_format_rfc3339(d->updated_at, updated);
        rc = fl_buf_printf(out, ",\"created_at\":\"%s\",\"updated_at\":\"%s\",\"updated_by\":\"",
                           created, updated);
        rc = rc ? rc : fl_buf_append_json_string(out, d->updated_by, strlen(d->updated_by));
        rc = rc ? rc : fl_buf_append_cstr(out, "\"");
    }
    if (!rc && d->problem[0]) {
        rc = fl_buf_append_cstr(out, ",\"problem\":\"");
        rc = rc ? rc : fl_buf_append_json_string(out, d->problem, strlen(d->problem));
        rc = rc ? rc : fl_buf_append_cstr(out, "\"");
    }
    return rc ? rc : fl_buf_append_cstr(out, "}");
}

int fl_alert_engine_rules_json(fl_alert_engine *e, fl_buf *out)
{
    pthread_mutex_lock(&e->change_lock);
    int rc = fl_buf_append_cstr(out, "{\"rules\":[");
    for (size_t i = 0; !rc && i < e->ndefs; i++) {
        rc = i ? fl_buf_append_cstr(out, ",") : 0;
        rc = rc ? rc : def_json(e->deps.cfg, &e->defs[i], out);
    }
    pthread_mutex_unlock(&e->change_lock);
    return rc ? rc : fl_buf_append_cstr(out, "]}\n");
}

int fl_alert_engine_rule_json(fl_alert_engine *e, const char *name, fl_buf *out)
{
    pthread_mutex_lock(&e->change_lock);
    /* the configured rule, not a shadowed API namesake, is the one that counts */
    const rule_def *d = find_def(e->defs, e->ndefs, name, 0);
    int rc = d ? def_json(e->deps.cfg, d, out) : FL_ENOTFOUND;
    pthread_mutex_unlock(&e->change_lock);
    return rc ? rc : fl_buf_append_cstr(out, "\n");
}

/* ---- changes ------------------------------------------------------------------------------- */

/* May the caller change a rule defined by c? Keys that see every device may change any rule;
 * a key limited to fleets only rules limited to some of its fleets; a key limited to devices
 * none (a rule watches a population, not a list of devices). */
static int may_change(const fl_rule_caller *who, const fl_config *cfg, const fl_rule_config *c,
                      char *err, size_t errlen)
{
    const fl_access *a = who->access;
    if (!a || a->unrestricted_rows)
        return 0;
    uint64_t mask = 0;
    if (a->devices[0]) {
        snprintf(err, errlen, "a key limited to devices cannot change alert rules");
        return -EACCES;
    }
    if (strcmp(c->type, "pipeline") == 0) {
        snprintf(err, errlen,
                 "rule %s: pipeline rules watch fleetlake itself; only a key that sees every "
                 "device may change them",
                 c->name);
        return -EACCES;
    }
    if (fl_fleet_mask_of_names(cfg, c->fleets, &mask, NULL, NULL) || !mask ||
        (mask & ~a->fleet_mask)) {
        snprintf(err, errlen,
                 "rule %s watches devices outside this key's fleets: give it \"fleets\" among "
                 "the key's own",
                 c->name);
        return -EACCES;
    }
    return 0;
}

/* Write def as the row of alert_rules (inside the caller's transaction). */
static int store_def(sqlite3 *db, const rule_def *def)
{
    fl_buf json = {0};
    sqlite3_stmt *st = NULL;
    int rc = fl_buf_append_cstr(&json, "{");
    rc = rc ? rc : fl_rule_config_to_json(NULL, &def->c, &json);
    rc = rc ? rc : fl_buf_append_cstr(&json, "}");
    if (!rc && sqlite3_prepare_v2(db,
                                  "INSERT INTO alert_rules (name, definition, created_at, "
                                  "updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5) ON "
                                  "CONFLICT (name) DO UPDATE SET definition = excluded.definition,"
                                  " updated_at = excluded.updated_at, "
                                  "updated_by = excluded.updated_by",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = FL_ESQLITE;
    if (!rc) {
        sqlite3_bind_text(st, 1, def->c.name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json.data, (int)json.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, def->created_at);
        sqlite3_bind_int64(st, 4, def->updated_at);
        sqlite3_bind_text(st, 5, def->updated_by, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : FL_ESQLITE;
    }
    sqlite3_finalize(st);
    fl_buf_free(&json);
    return rc;
}

static int delete_def(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM alert_rules WHERE name = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return FL_ESQLITE;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : FL_ESQLITE;
    sqlite3_finalize(st);
    return rc;
}

/* Store def (NULL: delete the API rule name) and apply the change (the file comment's steps).
 * change_lock held. *resolved: alerts resolved because the rule stopped being evaluated. */
static int change(fl_alert_engine *e, const char *name, const rule_def *def, const char *actor,
                  size_t *resolved, char *err, size_t errlen)
{
    rule_def *defs = fl_malloc(sizeof e->defs);
    if (!defs)
        return FL_ENOMEM;
    size_t n = e->ndefs;
    memcpy(defs, e->defs, n * sizeof *defs);
    rule_def *cur = find_def(defs, n, name, 1);
    int was_evaluated = cur && evaluated(cur);
    if (def && cur)
        *cur = *def;
    else if (def)
        defs[n++] = *def;
    else if (cur)
        memmove(cur, cur + 1, (size_t)(defs + --n - cur) * sizeof *cur);
    ruleset *old = e->rules, *rs = ruleset_build(e, defs, n, old);
    fl_alert *changed = NULL;
    active_alert *actives = NULL;
    size_t nchanged = 0, nactives = 0;
    int rc = rs ? 0 : FL_ENOMEM;
    pthread_mutex_lock(&e->db_lock);
    rc = rc ? rc : fl_engine_exec(e->db, "BEGIN IMMEDIATE");
    rc = rc ? rc : def ? store_def(e->db, def) : delete_def(e->db, name);
    if (!rc && was_evaluated && !(def && evaluated(def)))
        rc = fl_engine_resolve_rule(e, name, actor, fl_time_now_us(), &changed, &nchanged);
    rc = rc ? rc : fl_engine_exec(e->db, "COMMIT");
    if (rc) {
        snprintf(err, errlen, "cannot store rule %s: %s (%s)", name, fl_strerror(rc),
                 sqlite3_errmsg(e->db));
        fl_engine_rollback(e->db);
    } else {
        pthread_mutex_lock(&e->rules_lock);
        e->rules = rs;
        pthread_mutex_unlock(&e->rules_lock);
        if (fl_engine_collect_actives(e, old, rs, &actives, &nactives))
            FL_ERROR(MODULE, "rule %s: cannot read its open alerts; they resolve by hand only",
                     name);
    }
    pthread_mutex_unlock(&e->db_lock);
    if (!rc) {
        fl_engine_adopt_rules(e, rs, actives, nactives);
        memcpy(e->defs, defs, n * sizeof *defs);
        e->ndefs = n;
        fl_engine_publish(e, changed, nchanged);
        *resolved = nchanged;
        rs = old; /* the reference the engine held */
    }
    fl_ruleset_put(rs);
    fl_free(actives);
    fl_free(changed);
    fl_free(defs);
    return rc;
}

int fl_alert_engine_rule_put(fl_alert_engine *e, const char *name, const char *json, size_t len,
                             int create_only, const fl_rule_caller *who, int *created, fl_buf *out,
                             char *err, size_t errlen)
{
    const fl_config *cfg = e->deps.cfg;
    rule_def def = {.source = RULE_SOURCE_API};
    rule parsed;
    int rc = fl_rule_config_from_json(name, json, len, &def.c, err, errlen);
    if (!rc && fl_rule_parse(cfg, &def.c, &parsed, err, errlen))
        rc = FL_EINVAL;
    rc = rc ? rc : may_change(who, cfg, &def.c, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&e->change_lock);
    rule_def *cur = find_def(e->defs, e->ndefs, name, 1);
    if (configured(cfg, name)) {
        snprintf(err, errlen,
                 "rule %s is defined in the configuration ([rule.%s]); change it there", name,
                 name);
        rc = FL_EEXISTS;
    } else if (cur && create_only) {
        snprintf(err, errlen, "rule %s exists; PUT /v1/rules/%s replaces it", name, name);
        rc = FL_EEXISTS;
    } else if (cur) {
        rc = may_change(who, cfg, &cur->c, err, errlen);
    } else if (count_defs(e->defs, e->ndefs, 1, 0) >= RULES_MAX) {
        snprintf(err, errlen, "at most %d rules can be defined through the API", RULES_MAX);
        rc = FL_ELIMIT;
    }
    if (!rc && evaluated(&def) && !(cur && evaluated(cur)) &&
        count_defs(e->defs, e->ndefs, 0, 1) >= RULES_MAX) {
        snprintf(err, errlen,
                 "at most %d rules are evaluated at once (configuration and API together): "
                 "disable or delete one first",
                 RULES_MAX);
        rc = FL_ELIMIT;
    }
    size_t resolved = 0;
    if (!rc) {
        def.created_at = def.updated_at = fl_time_now_us();
        if (cur)
            def.created_at = cur->created_at;
        snprintf(def.updated_by, sizeof def.updated_by, "%s",
                 who->key_id && *who->key_id ? who->key_id : "api");
        rc = change(e, name, &def, who->key_id, &resolved, err, errlen);
    }
    if (!rc) {
        *created = !cur;
        rc = def_json(cfg, &def, out);
        rc = rc ? rc : fl_buf_append_cstr(out, "\n");
    }
    pthread_mutex_unlock(&e->change_lock);
    if (!rc)
        FL_INFO(MODULE, "alert rule %s %s by %s%s", name, *created ? "created" : "replaced",
                def.updated_by, resolved ? " (its open alerts resolved)" : "");
    return rc;
}

int fl_alert_engine_rule_delete(fl_alert_engine *e, const char *name, const fl_rule_caller *who,
                                size_t *resolved, char *err, size_t errlen)
{
    const fl_config *cfg = e->deps.cfg;
    pthread_mutex_lock(&e->change_lock);
    rule_def *cur = find_def(e->defs, e->ndefs, name, 1);
    int rc = 0;
    if (!cur && configured(cfg, name)) {
        snprintf(err, errlen,
                 "rule %s is defined in the configuration ([rule.%s]); remove it there (or set "
                 "enabled = off)",
                 name, name);
        rc = FL_EEXISTS;
    } else if (!cur) {
        snprintf(err, errlen, "no rule %s", name);
        rc = FL_ENOTFOUND;
    } else {
        rc = may_change(who, cfg, &cur->c, err, errlen);
    }
    *resolved = 0;
    rc = rc ? rc : change(e, name, NULL, who->key_id, resolved, err, errlen);
    pthread_mutex_unlock(&e->change_lock);
    if (!rc)
        FL_INFO(MODULE, "alert rule %s deleted by %s; %zu open alert(s) resolved", name,
                who->key_id && *who->key_id ? who->key_id : "api", *resolved);
    return rc;
}
