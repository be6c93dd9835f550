/* fuzz_static_path.c — the dashboard's request-path check (src/gateway/static.c,
 * fl_static_path_check) on arbitrary bytes: never crashes; a path it accepts is 1-255 bytes
 * of [A-Za-z0-9._-/] with no empty segment, no segment starting with '.', no node_modules
 * segment — so it can never climb out of the dashboard directory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (size >= sizeof path)
        size = sizeof path - 1;
    memcpy(path, data, size);
    path[size] = 0;
    if (fl_static_path_check(path) != 0)
        return 0;
    size_t n = strlen(path);
    if (n == 0 || n > 255 || path[0] == '/' || path[n - 1] == '/')
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = path[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/'))
            abort();
        int seg_start = i == 0 || path[i - 1] == '/';
        if (seg_start && (c == '.' || c == '/'))
            abort();
        if (seg_start && strncmp(path + i, "node_modules", 12) == 0 &&
            (path[i + 12] == 0 || path[i + 12] == '/'))
            abort();
    }
    return 0;
}
