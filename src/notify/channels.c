/* channels.c — the [channel.NAME] sections: which channel types exist, the checks serve runs
 * before it starts, and routing (which channels an alert goes to, decided when it is
 * enqueued: by the channel's min_severity and fleets). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "notify/notify_int.h"
#include "security/security.h"

static const fl_channel_ops *const all_ops[] = {&fl_channel_webhook, &fl_channel_slack,
                                                &fl_channel_pagerduty, &fl_channel_email};

const fl_channel_ops *fl_channel_ops_of(const char *type)
{
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (strcmp(all_ops[i]->type, type) == 0)
            return all_ops[i];
    return NULL;
}

const fl_channel_config *fl_channel_find(const fl_config *cfg, const char *name)
{
    for (int64_t i = 0; i < cfg->channel_count; i++)
        if (strcmp(cfg->channels[i].name, name) == 0)
            return &cfg->channels[i];
    return NULL;
}

/* Call fn(item, len, arg) for each trimmed, non-empty item of a comma-separated list; stops
 * at the first non-zero return and returns it. */
static int each_item(const char *list, int (*fn)(const char *item, size_t len, void *arg),
                     void *arg)
{
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *s = p;
        while (n && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n) {
            int r = fn(s, n, arg);
            if (r)
                return r;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

struct fleet_match {
    const fl_config *cfg;
    uint64_t device_mask; /* fleets the alert's device belongs to */
    const char *alert_fleet;
};

static int fleet_matches(const char *item, size_t len, void *arg)
{
    struct fleet_match *m = arg;
    if (strlen(m->alert_fleet) == len && memcmp(m->alert_fleet, item, len) == 0)
        return 1;
    for (int64_t i = 0; i < m->cfg->fleet_count && i < 64; i++) {
        const char *name = m->cfg->fleets[i].name;
        if (strlen(name) == len && memcmp(name, item, len) == 0 &&
            (m->device_mask & (UINT64_C(1) << i)))
            return 1;
    }
    return 0;
}

int fl_channel_routes(const fl_config *cfg, const fl_channel_config *ch, const fl_alert *a)
{
    fl_severity min = FL_SEVERITY_INFO;
    if (fl_severity_parse(ch->min_severity, &min) == 0 && a->severity < min)
        return 0;
    if (!ch->fleets[0])
        return 1;
    /* A device may belong to several fleets; the alert's `fleet` names only its first. */
    struct fleet_match m = {cfg, 0, a->fleet};
    if (a->device_id[0])
        m.device_mask = fl_fleet_mask_of_device(cfg, a->device_id, strlen(a->device_id));
    return each_item(ch->fleets, fleet_matches, &m);
}

/* ---- validation ---------------------------------------------------------------------------- */

struct check {
    const fl_config *cfg;
    const char *channel;
    char *err;
    size_t errlen;
    size_t count;
};

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A plain address (local@domain) with nothing that could end an SMTP command or a header. */
static int check_address(const char *item, size_t len, void *arg)
{
    struct check *c = arg;
    const char *at = memchr(item, '@', len);
    int ok = at && at != item && at != item + len - 1 && len < 254;
    for (size_t i = 0; ok && i < len; i++) {
        unsigned char ch = (unsigned char)item[i];
        if (ch <= ' ' || ch == '<' || ch == '>' || ch == ',' || ch == ';' || ch == '"' || ch == 127)
            ok = 0;
    }
    if (!ok) {
        snprintf(c->err, c->errlen, "[channel.%s]: '%.*s' is not an email address", c->channel,
                 (int)len, item);
        return 1;
    }
    c->count++;
    return 0;
}

static int check_fleet(const char *item, size_t len, void *arg)
{
    struct check *c = arg;
    char name[64];
    if (len < sizeof name) {
        memcpy(name, item, len);
        name[len] = 0;
        if (fl_fleet_exists(c->cfg, name))
            return 0;
    }
    snprintf(c->err, c->errlen, "[channel.%s] fleets: no [fleet.%.*s] section", c->channel,
             (int)len, item);
    return 1;
}

/* The keys of one type only; set on another type they are a mistake worth reporting. */
static int check_unused(const fl_channel_config *ch, char *err, size_t errlen)
{
    const int pd = strcmp(ch->type, "pagerduty") == 0, mail = strcmp(ch->type, "email") == 0;
    const char *key = !pd && ch->routing_key[0]      ? "routing_key"
                      : !mail && ch->from[0]         ? "from"
                      : !mail && ch->to[0]           ? "to"
                      : !mail && ch->username[0]     ? "username"
                      : !mail && ch->password_file[0] ? "password_file"
                                                     : NULL;
    if (!key)
        return 0;
    snprintf(err, errlen, "[channel.%s] %s: does not apply to type = %s", ch->name, key, ch->type);
    return FL_ECONFIG;
}

static int check_http(const fl_channel_config *ch, char *err, size_t errlen)
{
    int pd = strcmp(ch->type, "pagerduty") == 0;
    if (pd && !ch->routing_key[0]) {
        snprintf(err, errlen,
                 "[channel.%s] routing_key: required for type = pagerduty (the "
                 "Events API v2 integration key)",
                 ch->name);
        return FL_ECONFIG;
    }
    if (!ch->url[0] && pd)
        return 0; /* the public Events API endpoint */
    if (!has_prefix(ch->url, "https://") && !has_prefix(ch->url, "http://")) {
        snprintf(err, errlen, "[channel.%s] url: %s for type = %s (http:// or https://)", ch->name,
                 ch->url[0] ? "not an HTTP URL" : "required", ch->type);
        return FL_ECONFIG;
    }
    return 0;
}

static int check_email(const fl_config *cfg, const fl_channel_config *ch, char *err, size_t errlen)
{
    struct check c = {cfg, ch->name, err, errlen, 0};
    if (!has_prefix(ch->url, "smtp://") && !has_prefix(ch->url, "smtps://")) {
        snprintf(err, errlen,
                 "[channel.%s] url: %s for type = email (smtp://host:port or "
                 "smtps://host:port)",
                 ch->name, ch->url[0] ? "not an SMTP URL" : "required");
        return FL_ECONFIG;
    }
    if (!ch->from[0]) {
        snprintf(err, errlen, "[channel.%s] from: required for type = email", ch->name);
        return FL_ECONFIG;
    }
    if (each_item(ch->from, check_address, &c))
        return FL_ECONFIG;
    if (c.count != 1) {
        snprintf(err, errlen, "[channel.%s] from: one address", ch->name);
        return FL_ECONFIG;
    }
    c.count = 0;
    if (each_item(ch->to, check_address, &c))
        return FL_ECONFIG;
    if (c.count == 0 || c.count > FL_EMAIL_MAX_RECIPIENTS) {
        snprintf(err, errlen, "[channel.%s] to: %s", ch->name,
                 c.count ? "more than 50 recipients (use a mailing list)"
                         : "required for type = email (comma-separated addresses)");
        return FL_ECONFIG;
    }
    if (!ch->username[0] != !ch->password_file[0]) {
        snprintf(err, errlen, "[channel.%s] %s: required with %s (SMTP AUTH)", ch->name,
                 ch->username[0] ? "password_file" : "username",
                 ch->username[0] ? "username" : "password_file");
        return FL_ECONFIG;
    }
    char pw[256];
    if (ch->username[0] && fl_notify_read_password(ch->password_file, pw, sizeof pw, err, errlen)) {
        char why[300];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "[channel.%s] password_file: %s", ch->name, why);
        return FL_ECONFIG;
    }
    memset(pw, 0, sizeof pw);
    return 0;
}

int fl_notify_read_password(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f || fstat(fileno(f), &st)) {
        snprintf(err, errlen, "%s: cannot be read", path);
        if (f)
            fclose(f);
        return FL_ECONFIG;
    }
    if (st.st_mode & 077) {
        fclose(f);
        snprintf(err, errlen, "%s: readable by group or others (chmod 600 it)", path);
        return FL_ECONFIG;
    }
    if (!fgets(out, (int)cap, f)) {
        fclose(f);
        snprintf(err, errlen, "%s: empty", path);
        return FL_ECONFIG;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    if (!out[0]) {
        snprintf(err, errlen, "%s: the first line is empty", path);
        return FL_ECONFIG;
    }
    return 0;
}

int fl_notify_channels_validate(const fl_config *cfg, char *err, size_t errlen)
{
    for (int64_t i = 0; i < cfg->channel_count; i++) {
        const fl_channel_config *ch = &cfg->channels[i];
        if (!fl_channel_ops_of(ch->type)) { /* the config table's enum makes this a bug */
            snprintf(err, errlen, "[channel.%s] type: unknown '%s'", ch->name, ch->type);
            return FL_ECONFIG;
        }
        int rc = check_unused(ch, err, errlen);
        if (!rc)
            rc = strcmp(ch->type, "email") == 0 ? check_email(cfg, ch, err, errlen)
                                                : check_http(ch, err, errlen);
        if (!rc)
            rc = fl_notify_tls_check(ch, err, errlen);
        struct check c = {cfg, ch->name, err, errlen, 0};
        if (!rc && each_item(ch->fleets, check_fleet, &c))
            rc = FL_ECONFIG;
        if (rc)
            return rc;
    }
    return 0;
}
