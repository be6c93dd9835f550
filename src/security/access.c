/* access.c — fleets (glob patterns from [fleet.NAME]) and the resolved access of a caller:
 * which devices' rows it may see, up to which classification. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "security/security.h"

int fl_fleet_exists(const fl_config *cfg, const char *name)
{
    for (int64_t i = 0; i < cfg->fleet_count; i++)
        if (strcmp(cfg->fleets[i].name, name) == 0)
            return 1;
    return 0;
}

/* 1 when device (len bytes, not NUL-terminated) matches one of the comma-separated globs. */
static int matches_any(const char *patterns, const char *device)
{
    char pat[256];
    for (const char *p = patterns; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n && n < sizeof pat) {
            memcpy(pat, p, n);
            pat[n] = 0;
            if (fnmatch(pat, device, 0) == 0)
                return 1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int fl_fleet_mask_of_names(const fl_config *cfg, const char *names, uint64_t *mask,
                           const char **bad, size_t *bad_len)
{
    *mask = 0;
    for (const char *p = names; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int64_t found = -1;
        for (int64_t i = 0; i < cfg->fleet_count && i < 64; i++)
            if (strlen(cfg->fleets[i].name) == n && strncmp(cfg->fleets[i].name, p, n) == 0)
                found = i;
        if (found < 0) {
            if (bad)
                *bad = p;
            if (bad_len)
                *bad_len = n;
            return FL_EINVAL;
        }
        *mask |= UINT64_C(1) << found;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

uint64_t fl_fleet_mask_of_device(const fl_config *cfg, const char *device_id, size_t len)
{
    char dev[129];
    if (len >= sizeof dev)
        return 0; /* longer than any valid device id: in no fleet */
    memcpy(dev, device_id, len);
    dev[len] = 0;
    uint64_t mask = 0;
    for (int64_t i = 0; i < cfg->fleet_count && i < 64; i++)
        if (matches_any(cfg->fleets[i].devices, dev))
            mask |= UINT64_C(1) << i;
    return mask;
}

void fl_access_full(fl_access *a, const fl_config *cfg)
{
    memset(a, 0, sizeof *a);
    a->role = FL_ROLE_DATA_ENGINEER;
    a->max_class = FL_CLASS_CONFIDENTIAL;
    a->unrestricted_rows = 1;
    a->cfg = cfg;
}

int fl_access_from_key(fl_access *a, const fl_key_info *k, const fl_config *cfg)
{
    memset(a, 0, sizeof *a);
    a->role = k->role;
    a->max_class = k->max_class;
    a->cfg = cfg;
    if (fl_fleet_mask_of_names(cfg, k->fleets, &a->fleet_mask, NULL, NULL))
        return FL_EINVAL;
    if (k->devices[0]) {
        size_t n = strlen(k->devices);
        if (n + 3 > sizeof a->devices)
            return FL_EINVAL;
        a->devices[0] = ',';
        memcpy(a->devices + 1, k->devices, n);
        a->devices[n + 1] = ',';
        a->devices[n + 2] = 0;
    }
    a->unrestricted_rows = a->fleet_mask == 0 && a->devices[0] == 0;
    return 0;
}

int fl_access_device_allowed(const fl_access *a, const char *device_id, size_t len)
{
    if (a->unrestricted_rows)
        return 1;
    if (a->devices[0]) {
        /* ",id," inside ",a,b,": exact, no patterns */
        int hit = 0;
        for (const char *p = a->devices; (p = strchr(p, ',')) && p[1]; p++)
            if (strncmp(p + 1, device_id, len) == 0 && p[1 + len] == ',') {
                hit = 1;
                break;
            }
        if (!hit)
            return 0;
    }
    if (a->fleet_mask)
        return (fl_fleet_mask_of_device(a->cfg, device_id, len) & a->fleet_mask) != 0;
    return 1;
}
