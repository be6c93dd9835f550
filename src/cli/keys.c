/* keys.c — `fleetlake keys create|list|revoke`: API key management on a data directory's
 * meta.db (safe while serve runs: serve sees a new or revoked key at its next request). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "audit/audit.h"
#include "security/security.h"

struct cli {
    const char *data_dir;
    const char *sub;
    const char *role, *name, *expires, *max_class;
    char fleets[FL_KEY_LIST_MAX];
    char devices[FL_KEY_LIST_MAX];
    int json;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake keys create --role ROLE [--fleet F]... [--device D]... [--name N]\n"
            "                             [--max-class C] [--expires T] [common options]\n"
            "       fleetlake keys list [--json] [common options]\n"
            "       fleetlake keys revoke ID [common options]\n"
            "Manage API keys (docs/security.md). `create` prints the key's id and its secret\n"
            "once: only a hash is stored. `revoke` takes effect at the server's next request.\n\n"
            "  --role ROLE       device | developer | data_engineer | data_analyst | operator |\n"
            "                    admin\n"
            "  --fleet F         limit the key to fleet F (a [fleet.F] config section;\n"
            "                    repeatable)\n"
            "  --device D        limit the key to device id D (repeatable)\n"
            "  --name N          a label for people (who holds the key)\n"
            "  --max-class C     public | internal | confidential (default: by role)\n"
            "  --expires T       RFC 3339 time after which the key stops working\n"
            "  --json            list as JSON lines\n"
            "common options:\n"
            "  --data DIR        data directory (default ./fleetlake-data)\n"
            "  --config FILE     configuration (for the [fleet.NAME] sections)\n"
            "  --set K=V         override a configuration key (repeatable)\n"
            "  -h, --help        this help\n");
}

static int append_item(char *list, size_t cap, const char *item)
{
    size_t len = strlen(list), n = strlen(item);
    if (!n || strchr(item, ',') || len + n + 2 > cap)
        return -1;
    if (len)
        list[len++] = ',';
    memcpy(list + len, item, n + 1);
    return 0;
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},    {"role", required_argument, 0, 'r'},
        {"fleet", required_argument, 0, 'f'},   {"device", required_argument, 0, 'D'},
        {"name", required_argument, 0, 'n'},    {"max-class", required_argument, 0, 'C'},
        {"expires", required_argument, 0, 'e'}, {"json", no_argument, 0, 'j'},
        {"config", required_argument, 0, 'c'},  {"set", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'r': o->role = optarg; break;
        case 'f':
            if (append_item(o->fleets, sizeof o->fleets, optarg)) {
                snprintf(err, sizeof err, "--fleet '%s': empty, has a comma, or too many", optarg);
                rc = 1;
            }
            break;
        case 'D':
            if (append_item(o->devices, sizeof o->devices, optarg)) {
                snprintf(err, sizeof err, "--device '%s': empty, has a comma, or too many", optarg);
                rc = 1;
            }
            break;
        case 'n': o->name = optarg; break;
        case 'C': o->max_class = optarg; break;
        case 'e': o->expires = optarg; break;
        case 'j': o->json = 1; break;
        case 'c': rc = fl_config_load_file(&o->cfg, optarg, err, sizeof err); break;
        case 'S': rc = fl_config_set(&o->cfg, optarg, err, sizeof err); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (rc) {
        fprintf(stderr, "fleetlake keys: %s\n", err);
        return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "fleetlake keys: say create, list or revoke\n");
        usage(stderr);
        return 2;
    }
    o->sub = argv[optind++];
    if (strcmp(o->sub, "revoke") == 0) {
        if (optind != argc - 1) {
            fprintf(stderr, "fleetlake keys revoke: give exactly one key id\n");
            return 2;
        }
        o->name = argv[optind]; /* the id */
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "fleetlake keys: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (strcmp(o->sub, "create") && strcmp(o->sub, "list")) {
        fprintf(stderr, "fleetlake keys: unknown subcommand '%s' (create, list, revoke)\n",
                o->sub);
        return 2;
    }
    return -1;
}

static void print_time(const char *label, int64_t us)
{
    char t[40];
    if (us < 0)
        return;
    fl_time_format_rfc3339(us, t);
    printf("  %s %s", label, t);
}

/* Append the administrative action to the audit trail (docs/security.md). */
static int audit(struct cli *o, const char *action, const char *id, const char *result,
                 const fl_key_info *k)
{
    char detail[2400] = "", err[512];
    if (k)
        snprintf(detail, sizeof detail, "role=%s max_class=%s fleets=%s devices=%s",
                 fl_role_name(k->role), fl_class_name(k->max_class), k->fleets, k->devices);
    const char *data = o->data_dir ? o->data_dir : o->cfg.data_dir;
    if (fl_audit_admin(&o->cfg, data, NULL, action, id, result, detail, err, sizeof err)) {
        fprintf(stderr, "fleetlake keys: cannot write the audit trail: %s\n", err);
        return -1;
    }
    return 0;
}

static int do_create(struct cli *o, fl_keystore *ks)
{
    fl_key_info spec = {0};
    spec.expires_at = -1;
    if (!o->role || fl_role_parse(o->role, &spec.role)) {
        fprintf(stderr, "fleetlake keys create: --role must be one of device, developer, "
                        "data_engineer, data_analyst, operator, admin\n");
        return 2;
    }
    spec.max_class = fl_role_default_class(spec.role);
    if (o->max_class && fl_class_parse(o->max_class, &spec.max_class)) {
        fprintf(stderr, "fleetlake keys create: --max-class must be public, internal or "
                        "confidential\n");
        return 2;
    }
    if (o->expires && fl_time_parse_rfc3339(o->expires, strlen(o->expires), &spec.expires_at)) {
        fprintf(stderr, "fleetlake keys create: --expires '%s' is not an RFC 3339 time\n",
                o->expires);
        return 2;
    }
    if (o->name && strlen(o->name) >= sizeof spec.name) {
        fprintf(stderr, "fleetlake keys create: --name is longer than %zu bytes\n",
                sizeof spec.name - 1);
        return 2;
    }
    snprintf(spec.name, sizeof spec.name, "%s", o->name ? o->name : "");
    memcpy(spec.fleets, o->fleets, sizeof spec.fleets);
    memcpy(spec.devices, o->devices, sizeof spec.devices);
    for (const char *p = spec.fleets; *p;) {
        const char *c = strchr(p, ',');
        char fleet[128];
        snprintf(fleet, sizeof fleet, "%.*s", (int)(c ? (size_t)(c - p) : strlen(p)), p);
        if (!fl_fleet_exists(&o->cfg, fleet)) {
            fprintf(stderr,
                    "fleetlake keys create: fleet '%s' is not configured: define [fleet.%s] "
                    "in the configuration (--config FILE) first\n",
                    fleet, fleet);
            return 2;
        }
        if (!c)
            break;
        p = c + 1;
    }
    char token[FL_KEY_TOKEN_MAX];
    fl_key_info info;
    int rc = fl_keystore_create(ks, &spec, token, &info);
    if (rc == FL_EINVAL) {
        fprintf(stderr, "fleetlake keys create: fleet and device names are [A-Za-z0-9._:-], "
                        "at most 128 bytes each\n");
        return 2;
    }
    if (rc) {
        fprintf(stderr, "fleetlake keys create: %s\n",
                rc == FL_ELIMIT ? "security.max_keys keys exist already" : fl_strerror(rc));
        return 1;
    }
    if (audit(o, "keys.create", info.id, "ok", &info))
        return 1; /* the key exists but is unaudited: say so, fail */
    printf("id:   %s\nrole: %s\nkey:  %s\n", info.id, fl_role_name(info.role), token);
    fprintf(stderr, "fleetlake keys: the key is shown only this once; store it now.\n");
    return 0;
}

static int do_list(struct cli *o, fl_keystore *ks)
{
    fl_key_info *keys = NULL;
    size_t n = 0;
    int rc = fl_keystore_list(ks, &keys, &n);
    if (rc) {
        fprintf(stderr, "fleetlake keys list: %s\n", fl_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const fl_key_info *k = &keys[i];
        char created[40];
        fl_time_format_rfc3339(k->created_at, created);
        if (o->json) {
            printf("{\"id\":\"%s\",\"role\":\"%s\",\"max_class\":\"%s\",\"fleets\":\"%s\","
                   "\"devices\":\"%s\",\"created_at\":\"%s\",\"revoked\":%s}\n",
                   k->id, fl_role_name(k->role), fl_class_name(k->max_class), k->fleets,
                   k->devices, created, k->revoked_at >= 0 ? "true" : "false");
            continue;
        }
        printf("%s  %-13s %-12s %s%s%s", k->id, fl_role_name(k->role),
               fl_class_name(k->max_class), k->revoked_at >= 0 ? "REVOKED " : "",
               k->name[0] ? "\"" : "", k->name);
        if (k->name[0])
            printf("\"");
        if (k->fleets[0])
            printf("  fleets=%s", k->fleets);
        if (k->devices[0])
            printf("  devices=%s", k->devices);
        print_time("created", k->created_at);
        print_time("expires", k->expires_at);
        print_time("revoked", k->revoked_at);
        printf("\n");
    }
    if (!o->json)
        printf("%zu key(s)\n", n);
    fl_free(keys);
    return 0;
}

int fl_cli_keys(int argc, char **argv)
{
    struct cli o = {.data_dir = NULL};
    fl_config_defaults(&o.cfg);
    int code = parse_args(&o, argc, argv);
    if (code >= 0)
        return code;
    const char *data = o.data_dir ? o.data_dir : o.cfg.data_dir;
    struct stat st;
    if (stat(data, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fleetlake keys: %s is not a data directory (--data DIR)\n", data);
        return 2;
    }
    char meta[4200];
    fl_keystore *ks = NULL;
    int rc = fl_cli_path(meta, sizeof meta, data, "meta.db");
    rc = rc ? rc : fl_keystore_open(meta, o.cfg.security_max_keys, &ks);
    if (rc) {
        fprintf(stderr, "fleetlake keys: cannot open the key store in %s: %s\n", data,
                fl_strerror(rc));
        return 1;
    }
    if (strcmp(o.sub, "create") == 0)
        code = do_create(&o, ks);
    else if (strcmp(o.sub, "list") == 0)
        code = do_list(&o, ks);
    else {
        rc = fl_keystore_revoke(ks, o.name);
        if (rc != FL_ENOTFOUND && audit(&o, "keys.revoke", o.name, rc ? "error" : "ok", NULL))
            rc = rc ? rc : FL_EINVAL;
        if (rc == FL_ENOTFOUND)
            fprintf(stderr, "fleetlake keys revoke: no key with id '%s'\n", o.name);
        else if (rc)
            fprintf(stderr, "fleetlake keys revoke: %s\n", fl_strerror(rc));
        else
            printf("revoked %s\n", o.name);
        code = rc == FL_ENOTFOUND ? 2 : rc ? 1 : 0;
    }
    fl_keystore_close(ks);
    return code;
}
