/* locate.c — which object store holds a catalogued lake file. A lake_files row names its
 * object by key (path) and, since the lifecycle's warm tier, by location: NULL/"" for the main
 * lake (<data>/lake, the store every writer of hot data uses), or the absolute directory of
 * another local store (lifecycle.warm_dir when the file moved). Every reader of lake files —
 * query, `fleetlake check`, compaction, the summary job, erasure, the lifecycle itself — goes
 * through fl_lake_stores_get / fl_lake_file_store, so a file is found wherever it lives and no
 * caller needs the configuration that moved it.
 *
 * The stores of other locations are opened on first use and kept until destroy (a data
 * directory has one warm directory, or a few if lifecycle.warm_dir was changed over the
 * years); LOCATIONS_MAX bounds them. A mutex makes one fl_lake_stores usable from several
 * threads. */
#include <pthread.h>
#include <string.h>

#include "lake/lake_int.h"

/* Distinct non-main locations one fl_lake_stores serves: each is a warm directory that was
 * configured at some point; more than a handful means something rewrote the catalog. */
#define LOCATIONS_MAX 16

struct fl_lake_stores {
    fl_objstore *main; /* borrowed */
    pthread_mutex_t mu;
    size_t n;
    struct {
        char *root;
        fl_objstore *store;
    } v[LOCATIONS_MAX];
};

int fl_lake_stores_create(fl_objstore *main, fl_lake_stores **out)
{
    fl_lake_stores *s = fl_calloc(1, sizeof *s);
    if (!s)
        return FL_ENOMEM;
    s->main = main;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

void fl_lake_stores_destroy(fl_lake_stores *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        fl_objstore_destroy(s->v[i].store);
        fl_free(s->v[i].root);
    }
    pthread_mutex_destroy(&s->mu);
    fl_free(s);
}

fl_objstore *fl_lake_stores_main(fl_lake_stores *s)
{
    return s->main;
}

int fl_lake_stores_get(fl_lake_stores *s, const char *location, fl_objstore **out)
{
    if (!location || !*location) {
        *out = s->main;
        return 0;
    }
    if (location[0] != '/')
        return FL_EINVAL; /* only absolute directories are ever written */
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].root, location) == 0) {
            *out = s->v[i].store;
            goto out;
        }
    if (s->n == LOCATIONS_MAX) {
        rc = FL_ERANGE;
        goto out;
    }
    char *root = fl_strdup(location);
    fl_objstore *store = NULL;
    rc = root ? fl_objstore_local_create(root, &store) : FL_ENOMEM;
    if (rc) {
        fl_free(root);
        goto out;
    }
    s->v[s->n].root = root;
    s->v[s->n++].store = store;
    *out = store;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int fl_lake_file_store(fl_lake_stores *s, const fl_lake_file *f, fl_objstore **out)
{
    return fl_lake_stores_get(s, f->location, out);
}
