/* fuzz_rule_json.c — an alert rule's JSON body as POST/PUT /v1/rules receive it
 * (src/notify/rule_json.c, then the rule parser) on arbitrary bytes: never reads past len;
 * a definition it accepts writes back as JSON that parses to the same definition. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify/engine_int.h"

static int same(const fl_config *cfg, const fl_rule_config *a, const fl_rule_config *b)
{
    uint64_t fa = 0, fb = 0; /* "seoul," and ["seoul"] name the same fleets */
    if (fl_fleet_mask_of_names(cfg, a->fleets, &fa, NULL, NULL) ||
        fl_fleet_mask_of_names(cfg, b->fleets, &fb, NULL, NULL))
        return 0;
    return fa == fb && strcmp(a->name, b->name) == 0 && strcmp(a->type, b->type) == 0 &&
           strcmp(a->severity, b->severity) == 0 && strcmp(a->op, b->op) == 0 &&
           strtod(a->value, NULL) == strtod(b->value, NULL) && a->count == b->count &&
           a->clear_count == b->clear_count && a->after_s == b->after_s &&
           a->cooldown_s == b->cooldown_s && a->renotify_s == b->renotify_s &&
           strcmp(a->enabled, b->enabled) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fl_config cfg;
    static int ready;
    char err[256];
    if (!ready) {
        fl_config_defaults(&cfg);
        if (fl_config_set(&cfg, "fleet.seoul.devices=truck-*", err, sizeof err))
            abort();
        ready = 1;
    }
    char *copy = malloc(size ? size : 1); /* exactly size bytes: ASan sees a read past them */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fl_rule_config c, back;
    rule r;
    if (fl_rule_config_from_json("r", copy, size, &c, err, sizeof err) == 0 &&
        fl_rule_parse(&cfg, &c, &r, err, sizeof err) == 0) {
        fl_buf json = {0};
        if (fl_buf_append_cstr(&json, "{") || fl_rule_config_to_json(NULL, &c, &json) ||
            fl_buf_append_cstr(&json, "}"))
            abort();
        if (fl_rule_config_from_json("r", json.data, json.len, &back, err, sizeof err) ||
            !same(&cfg, &c, &back))
            abort();
        fl_buf_free(&json);
    }
    free(copy);
    return 0;
}
