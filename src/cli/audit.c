/* audit.c — `fleetlake audit verify|show`: check the audit trail's hash chain, digests and
 * HEAD anchor offline (src/audit/verify.c), or print its entries filtered by time, key and
 * action. Both only read; both are safe while serve runs (a verify that races an append may
 * report the newest entry as not yet anchored: run it again). */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"

struct cli {
    const char *data_dir, *key_file, *key_id, *action;
    int64_t from_us, to_us;
    fl_config cfg;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fleetlake audit verify [--data DIR] [--from T] [--to T] [--key-file FILE]\n"
            "       fleetlake audit show [--data DIR] [--from T] [--to T] [--key ID] [--action A]\n"
            "Check or read the audit trail in DIR/audit/ (docs/security.md \"Audit trail\").\n\n"
            "verify  checks every entry's hash chain and sequence number, each hourly digest's\n"
            "        HMAC and the HEAD anchor: any edited, deleted, inserted or reordered entry\n"
            "        and a truncated tail fail it, naming the first bad entry (file:line).\n"
            "        Exit 0 when intact, 1 when not (or unreadable), 2 on usage errors.\n"
            "show    prints the entries (JSON lines) matching every filter given.\n\n"
            "  --data DIR       data directory (default ./fleetlake-data)\n"
            "  --from T, --to T RFC 3339 times: verify the files holding entries of that range\n"
            "                   (the newest file's range also checks HEAD); show entries in it\n"
            "  --key-file FILE  the HMAC key (default: audit.hmac_key_file, else DIR/audit.key)\n"
            "  --key ID         show: only entries of this API key id\n"
            "  --action A       show: only entries with this action (e.g. \"POST /v1/records\")\n"
            "  --config FILE    read audit.hmac_key_file from this configuration\n"
            "  --set K=V        override a configuration key (repeatable)\n"
            "  -h, --help       this help\n");
}

static int parse_time(const char *what, const char *s, int64_t *out)
{
    if (fl_time_parse_rfc3339(s, strlen(s), out)) {
        fprintf(stderr, "fleetlake audit: %s '%s' is not an RFC 3339 time "
                        "(e.g. 2026-11-25T06:00:00Z)\n", what, s);
        return 2;
    }
    return -1;
}

static int parse_args(struct cli *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},     {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},       {"key-file", required_argument, 0, 'K'},
        {"key", required_argument, 0, 'k'},      {"action", required_argument, 0, 'a'},
        {"config", required_argument, 0, 'c'},   {"set", required_argument, 0, 'S'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    char err[512] = "";
    int c, rc = 0, code;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->data_dir = optarg; break;
        case 'f': if ((code = parse_time("--from", optarg, &o->from_us)) >= 0) return code; break;
        case 't': if ((code = parse_time("--to", optarg, &o->to_us)) >= 0) return code; break;
        case 'K': o->key_file = optarg; break;
        case 'k': o->key_id = optarg; break;
        case 'a': o->action = optarg; break;
        case 'c': rc = fl_config_load_file(&o->cfg, optarg, err, sizeof err); break;
        case 'S': rc = fl_config_set(&o->cfg, optarg, err, sizeof err); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (rc) {
        fprintf(stderr, "fleetlake audit: %s\n", err);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fleetlake audit: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->from_us && o->to_us && o->from_us > o->to_us) {
        fprintf(stderr, "fleetlake audit: --from is after --to\n");
        return 2;
    }
    return -1;
}

static int verify(const struct cli *o, const fl_audit_options *ao)
{
    fl_audit_verify_options vo = {.dir = ao->dir,
                                  .hmac_key_file = o->key_file ? o->key_file : ao->hmac_key_file,
                                  .from_us = o->from_us,
                                  .to_us = o->to_us};
    DIR *d = opendir(ao->dir);
    if (!d) {
        fprintf(stderr, "fleetlake audit verify: no audit log in %s (serve never ran with "
                        "audit.enabled = on, or the directory is not a data directory)\n",
                ao->dir);
        return 1;
    }
    closedir(d);
    fl_audit_verify_report r;
    int rc = fl_audit_verify(&vo, &r);
    if (rc == FL_ECORRUPT) {
        if (r.line)
            fprintf(stderr, "fleetlake audit verify: FAILED at %s/%s line %" PRIu64 ": %s\n",
                    ao->dir, r.file, r.line, r.problem);
        else
            fprintf(stderr, "fleetlake audit verify: FAILED at %s/%s: %s\n", ao->dir, r.file,
                    r.problem);
        fprintf(stderr, "fleetlake audit verify: %" PRIu64 " entries verified before it\n",
                r.entries);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "fleetlake audit verify: %s\n", r.problem);
        return 1;
    }
    if (r.entries == 0) {
        printf("audit log %s: no entries%s\n", ao->dir,
               o->from_us || o->to_us ? " in the range" : "");
        return 0;
    }
    char t1[FL_TIME_RFC3339_MAX], t2[FL_TIME_RFC3339_MAX];
    fl_time_format_rfc3339(r.first_time_us, t1);
    fl_time_format_rfc3339(r.last_time_us, t2);
    printf("audit log %s intact: %" PRIu64 " entries (seq %" PRIu64 "..%" PRIu64 ", %s .. %s) "
           "in %" PRIu64 " file%s, %" PRIu64 " hourly digest%s verified; %s\n",
           ao->dir, r.entries, r.first_seq, r.last_seq, t1, t2, r.files, r.files == 1 ? "" : "s",
           r.digests, r.digests == 1 ? "" : "s",
           r.head_checked ? "HEAD matches the newest entry"
                          : "HEAD not checked (the range ends before the newest file)");
    if (!r.chain_from_start)
        printf("note: the chain is verified from seq %" PRIu64 "; earlier entries are outside "
               "the range or were removed by retention (see audit.retention entries)\n",
               r.first_seq);
    if (r.recover_notes)
        printf("note: %" PRIu64 " audit.recover entr%s record repairs after a crash "
               "(`fleetlake audit show --action audit.recover`)\n",
               r.recover_notes, r.recover_notes == 1 ? "y" : "ies");
    return 0;
}

static int show_file(const struct cli *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fleetlake audit show: cannot read %s\n", path);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        fl_audit_line l;
        char err[160];
        if (fl_audit_line_parse(line, (size_t)n, &l, err, sizeof err))
            continue; /* `audit verify` reports bad lines; show prints what it can read */
        if ((o->from_us && l.time_us < o->from_us) || (o->to_us && l.time_us > o->to_us) ||
            (o->key_id && strcmp(l.key_id, o->key_id) != 0) ||
            (o->action && strcmp(l.action, o->action) != 0))
            continue;
        printf("%s\n", line);
    }
    free(line);
    fclose(f);
    return 0;
}

static int show(const struct cli *o, const fl_audit_options *ao)
{
    DIR *d = opendir(ao->dir);
    if (!d) {
        printf("no audit log in %s\n", ao->dir);
        return 0;
    }
    closedir(d);
    /* Names sort in chain order (audit-YYYY-MM-DD-NNNN.jsonl). */
    int failed = 0;
    struct dirent **ents = NULL;
    int n = scandir(ao->dir, &ents, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        if (strncmp(nm, "audit-", 6) == 0 && strlen(nm) > 6 &&
            strcmp(nm + strlen(nm) - 6, ".jsonl") == 0) {
            char path[4500];
            snprintf(path, sizeof path, "%s/%s", ao->dir, nm);
            failed |= show_file(o, path);
        }
        free(ents[i]);
    }
    free(ents);
    return failed;
}

int fl_cli_audit_admin(const fl_config *cfg, const char *data_dir, const char *cmd,
                       const char *action, const char *resource, int rc)
{
    char err[512];
    int arc = fl_audit_admin(cfg, data_dir, NULL, action, resource, rc ? "error" : "ok",
                             rc ? fl_strerror(rc) : NULL, err, sizeof err);
    if (arc)
        fprintf(stderr, "fleetlake %s: warning: the audit entry for this run was not written: "
                        "%s\n", cmd, err);
    return arc;
}

int fl_cli_audit(int argc, char **argv)
{
    struct cli o = {.data_dir = "./fleetlake-data"};
    fl_config_defaults(&o.cfg);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "verify") != 0 && strcmp(sub, "show") != 0) {
        fprintf(stderr, "fleetlake audit: unknown subcommand '%s' (verify or show)\n", sub);
        return 2;
    }
    int code = parse_args(&o, argc - 1, argv + 1);
    if (code >= 0)
        return code;
    fl_audit_options ao;
    if (fl_audit_options_from_config(&o.cfg, o.data_dir, &ao)) {
        fprintf(stderr, "fleetlake audit: the data directory path is too long\n");
        return 2;
    }
    return strcmp(sub, "verify") == 0 ? verify(&o, &ao) : show(&o, &ao);
}
