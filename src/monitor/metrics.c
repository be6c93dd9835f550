/* metrics.c — registry, series lookup and Prometheus text rendering. */
#include "monitor/monitor.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_FAMILIES 64
#define MAX_COLLECTORS 32
#define LABEL_VALUE_MAX 64

struct series {
    char v1[LABEL_VALUE_MAX];
    char v2[LABEL_VALUE_MAX];
    fl_counter counter;
};

struct fl_counter_family {
    char name[96];
    char help[256];
    char label1[32];
    char label2[32];
    pthread_mutex_t lock;
    atomic_int count; /* published series; readers scan [0, count) without the lock */
    struct series series[FL_METRICS_MAX_SERIES];
    fl_counter overflow;
};

struct histogram_entry {
    char name[96];
    char help[256];
    fl_histogram *h;
    int owned;
};

struct collector {
    fl_metrics_collect_fn fn;
    void *ctx;
    void (*free_fn)(void *ctx); /* NULL: ctx is borrowed */
};

struct fl_metrics {
    pthread_mutex_t lock;
    fl_counter_family *counters[MAX_FAMILIES];
    int counter_count;
    struct histogram_entry histograms[MAX_FAMILIES];
    int histogram_count;
    struct collector collectors[MAX_COLLECTORS];
    int collector_count;
};

int fl_metrics_create(fl_metrics **out)
{
    fl_metrics *m = fl_calloc(1, sizeof *m);
    if (!m)
        return FL_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void fl_metrics_destroy(fl_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->counter_count; i++) {
        pthread_mutex_destroy(&m->counters[i]->lock);
        fl_free(m->counters[i]);
    }
    for (int i = 0; i < m->histogram_count; i++)
        if (m->histograms[i].owned)
            fl_free(m->histograms[i].h);
    for (int i = 0; i < m->collector_count; i++)
        if (m->collectors[i].free_fn)
            m->collectors[i].free_fn(m->collectors[i].ctx);
    pthread_mutex_destroy(&m->lock);
    fl_free(m);
}

fl_counter_family *fl_metrics_counter(fl_metrics *m, const char *name, const char *help,
                                      const char *label1, const char *label2)
{
    pthread_mutex_lock(&m->lock);
    fl_counter_family *f = NULL;
    if (m->counter_count < MAX_FAMILIES && (f = fl_calloc(1, sizeof *f))) {
        snprintf(f->name, sizeof f->name, "%s", name);
        snprintf(f->help, sizeof f->help, "%s", help);
        snprintf(f->label1, sizeof f->label1, "%s", label1 ? label1 : "");
        snprintf(f->label2, sizeof f->label2, "%s", label2 ? label2 : "");
        pthread_mutex_init(&f->lock, NULL);
        m->counters[m->counter_count++] = f;
    }
    pthread_mutex_unlock(&m->lock);
    return f;
}

static int series_match(const struct series *s, const char *v1, const char *v2)
{
    return strcmp(s->v1, v1 ? v1 : "") == 0 && strcmp(s->v2, v2 ? v2 : "") == 0;
}

fl_counter *fl_counter_series(fl_counter_family *f, const char *v1, const char *v2)
{
    int n = atomic_load_explicit(&f->count, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (series_match(&f->series[i], v1, v2))
            return &f->series[i].counter;
    pthread_mutex_lock(&f->lock);
    fl_counter *c = &f->overflow;
    n = atomic_load(&f->count);
    for (int i = 0; i < n; i++)
        if (series_match(&f->series[i], v1, v2)) {
            c = &f->series[i].counter;
            goto out;
        }
    if (n < FL_METRICS_MAX_SERIES) {
        struct series *s = &f->series[n];
        snprintf(s->v1, sizeof s->v1, "%s", v1 ? v1 : "");
        snprintf(s->v2, sizeof s->v2, "%s", v2 ? v2 : "");
        c = &s->counter;
        atomic_store_explicit(&f->count, n + 1, memory_order_release);
    }
out:
    pthread_mutex_unlock(&f->lock);
    return c;
}

fl_histogram *fl_metrics_histogram(fl_metrics *m, const char *name, const char *help,
                                   fl_histogram *h)
{
    pthread_mutex_lock(&m->lock);
    fl_histogram *result = NULL;
    if (m->histogram_count < MAX_FAMILIES) {
        int owned = 0;
        if (!h) {
            h = fl_calloc(1, sizeof *h);
            owned = 1;
        }
        if (h) {
            struct histogram_entry *e = &m->histograms[m->histogram_count++];
            snprintf(e->name, sizeof e->name, "%s", name);
            snprintf(e->help, sizeof e->help, "%s", help);
            e->h = h;
            e->owned = owned;
            result = h;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return result;
}

int fl_metrics_add_collector_owned(fl_metrics *m, fl_metrics_collect_fn fn, void *ctx,
                                   void (*free_fn)(void *ctx))
{
    int rc = FL_ELIMIT;
    pthread_mutex_lock(&m->lock);
    if (m->collector_count < MAX_COLLECTORS) {
        m->collectors[m->collector_count++] = (struct collector){fn, ctx, free_fn};
        rc = 0;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc && free_fn)
        free_fn(ctx);
    return rc;
}

int fl_metrics_add_collector(fl_metrics *m, fl_metrics_collect_fn fn, void *ctx)
{
    return fl_metrics_add_collector_owned(m, fn, ctx, NULL);
}

int fl_metrics_write_header(fl_buf *out, const char *name, const char *type, const char *help)
{
    return fl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int fl_metrics_write_sample(fl_buf *out, const char *name, const char *labels, double value)
{
    if (isnan(value))
        return fl_buf_printf(out, "%s%s%s%s NaN\n", name, labels ? "{" : "", labels ? labels : "",
                             labels ? "}" : "");
    return fl_buf_printf(out, "%s%s%s%s %.17g\n", name, labels ? "{" : "", labels ? labels : "",
                         labels ? "}" : "", value);
}

/* Label values are escaped per the exposition format (\\, \", \n). */
static int append_label(fl_buf *out, const char *name, const char *value, int first)
{
    int rc = fl_buf_printf(out, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value; !rc && *p; p++) {
        if (*p == '\\' || *p == '"')
            rc = fl_buf_printf(out, "\\%c", *p);
        else if (*p == '\n')
            rc = fl_buf_append_cstr(out, "\\n");
        else
            rc = fl_buf_append(out, p, 1);
    }
    return rc ? rc : fl_buf_append_cstr(out, "\"");
}

static int render_counter(fl_buf *out, fl_counter_family *f)
{
    int rc = fl_metrics_write_header(out, f->name, "counter", f->help);
    int n = atomic_load_explicit(&f->count, memory_order_acquire);
    for (int i = 0; !rc && i <= n; i++) {
        const struct series *s = i < n ? &f->series[i] : NULL;
        uint64_t v = atomic_load(s ? &s->counter.value : &f->overflow.value);
        if (!s && v == 0)
            break; /* overflow series only shown when used */
        rc = fl_buf_append_cstr(out, f->name);
        if (!rc && f->label1[0]) {
            rc = fl_buf_append_cstr(out, "{");
            rc = rc ? rc : append_label(out, f->label1, s ? s->v1 : "other", 1);
            if (!rc && f->label2[0])
                rc = append_label(out, f->label2, s ? s->v2 : "other", 0);
            rc = rc ? rc : fl_buf_append_cstr(out, "}");
        }
        rc = rc ? rc : fl_buf_printf(out, " %llu\n", (unsigned long long)v);
    }
    return rc;
}

static int render_histogram(fl_buf *out, const struct histogram_entry *e)
{
    int rc = fl_metrics_write_header(out, e->name, "histogram", e->help);
    uint64_t cumulative = 0;
    for (int i = 0; !rc && i < FL_HISTOGRAM_BUCKETS; i++) {
        cumulative += atomic_load(&e->h->counts[i]);
        rc = fl_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", e->name,
                           (double)fl_histogram_bounds_us[i] / 1e6,
                           (unsigned long long)cumulative);
    }
    cumulative += atomic_load(&e->h->counts[FL_HISTOGRAM_BUCKETS]);
    if (!rc)
        rc = fl_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n",
                           e->name, (unsigned long long)cumulative, e->name,
                           (double)atomic_load(&e->h->sum_us) / 1e6, e->name,
                           (unsigned long long)cumulative);
    return rc;
}

int fl_metrics_render(fl_metrics *m, fl_buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; !rc && i < m->counter_count; i++)
        rc = render_counter(out, m->counters[i]);
    for (int i = 0; !rc && i < m->histogram_count; i++)
        rc = render_histogram(out, &m->histograms[i]);
    for (int i = 0; !rc && i < m->collector_count; i++)
        rc = m->collectors[i].fn(m->collectors[i].ctx, out);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
