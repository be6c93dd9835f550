/* error.c — text for fleetlake's error table (error.h) and for -errno values. */
#include "core/error.h"

#include <string.h>

const char *fl_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
#define FL_ERR_STR_(name, msg)                                                                     \
    case FL_E##name:                                                                               \
        return msg;
        FL_ERR_MAP(FL_ERR_STR_)
#undef FL_ERR_STR_
    default:
        break;
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}

const char *fl_errname(int rc)
{
    switch (rc) {
    case 0:
        return "OK";
#define FL_ERR_NAME_(name, msg)                                                                    \
    case FL_E##name:                                                                               \
        return #name;
        FL_ERR_MAP(FL_ERR_NAME_)
#undef FL_ERR_NAME_
    default:
        break;
    }
    if (rc < 0 && rc > -4096) {
        const char *n = strerrorname_np(-rc);
        return n ? n : "ERRNO";
    }
    return "UNKNOWN";
}
