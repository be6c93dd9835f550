/* fuzz_audit_line.c — the audit log's line parser (src/audit/format.c, used by `fleetlake
 * audit verify` and `audit show` on files anyone with disk access may have edited) on
 * arbitrary bytes: never crashes or leaks; a line that parses has seq >= 1, a 64-digit prev,
 * NUL-terminated fields, and for a digest an HMAC suffix inside the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_audit_line l;
    char err[128];
    if (fl_audit_line_parse((const char *)data, size, &l, err, sizeof err) != 0) {
        if (!memchr(err, 0, sizeof err))
            abort();
        return 0;
    }
    if (l.seq < 1 || strlen(l.prev) != 64 || strlen(l.type) >= sizeof l.type ||
        strlen(l.action) >= sizeof l.action || strlen(l.result) >= sizeof l.result)
        abort();
    if (strcmp(l.type, "digest") == 0 && (l.hmac_prefix_len >= size || strlen(l.hmac) != 64))
        abort();
    return 0;
}
