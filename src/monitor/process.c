/* process.c — the process collector: the standard Prometheus process_* families (resident
 * and virtual memory, CPU seconds, open and maximum file descriptors, start time, threads),
 * read from /proc/self at scrape time. Linux only, like the rest of the server. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "monitor/monitor.h"

/* /proc/self/stat is one line of at most a few hundred bytes (comm is <= 16 bytes). */
#define STAT_LINE_MAX 1024

/* Fields of /proc/<pid>/stat (proc(5)) counted from the state field, which follows the
 * ")" closing comm: comm may hold spaces and parentheses, so parsing starts after the last
 * ")". state is field 3; utime 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24. */
enum { F_UTIME = 14, F_STIME = 15, F_THREADS = 20, F_START = 22, F_VSIZE = 23, F_RSS = 24 };

int fl_monitor_proc_stat_parse(const char *line, fl_proc_stat *out)
{
    const char *p = line ? strrchr(line, ')') : NULL;
    if (!p)
        return FL_EPARSE;
    p++;
    unsigned long long v[F_RSS + 1] = {0};
    for (int field = 3; field <= F_RSS; field++) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            return FL_EPARSE;
        char *end;
        if (field == 3) { /* state: one letter */
            end = (char *)p + 1;
        } else {
            /* rss and a few others may be negative in theory; clamp those to 0 */
            long long x = strtoll(p, &end, 10);
            if (end == p)
                return FL_EPARSE;
            v[field] = x < 0 ? 0 : (unsigned long long)x;
        }
        p = end;
    }
    out->utime_ticks = v[F_UTIME];
    out->stime_ticks = v[F_STIME];
    out->threads = v[F_THREADS];
    out->start_ticks = v[F_START];
    out->vsize_bytes = v[F_VSIZE];
    out->rss_pages = v[F_RSS];
    return 0;
}

/* Read a small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return FL_ENOTFOUND;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
    return got ? 0 : FL_EPARSE;
}

/* The system boot time in seconds since the epoch ("btime" of /proc/stat), 0 if unknown. */
static double boot_time_seconds(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    char line[256];
    double btime = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "btime ", 6) == 0) {
            btime = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return btime;
}

/* Entries of /proc/self/fd, less the one opendir itself holds; -1 if unreadable. */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

static int gauge(fl_buf *out, const char *name, const char *type, const char *help, double v)
{
    int rc = fl_metrics_write_header(out, name, type, help);
    return rc ? rc : fl_metrics_write_sample(out, name, NULL, v);
}

static int collect_process(void *ctx, fl_buf *out)
{
    (void)ctx;
    char line[STAT_LINE_MAX];
    fl_proc_stat st;
    int rc = read_small("/proc/self/stat", line, sizeof line);
    rc = rc ? rc : fl_monitor_proc_stat_parse(line, &st);
    if (rc)
        return 0; /* no /proc (a container without it): the families are simply absent */
    double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    double max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? (double)rl.rlim_cur
                         : -1;
    long fds = open_fds();
    rc = gauge(out, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.",
               (double)(st.utime_ticks + st.stime_ticks) / ticks);
    rc = rc ? rc
            : gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                    (double)st.rss_pages * page);
    rc = rc ? rc
            : gauge(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                    (double)st.vsize_bytes);
    rc = rc ? rc
            : gauge(out, "process_start_time_seconds", "gauge",
                    "Start time of the process since unix epoch in seconds.",
                    boot_time_seconds() + (double)st.start_ticks / ticks);
    rc = rc ? rc
            : gauge(out, "process_threads", "gauge", "Number of OS threads in the process.",
                    (double)st.threads);
    if (!rc && fds >= 0)
        rc = gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                   (double)fds);
    if (!rc && max_fds >= 0)
        rc = gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   max_fds);
    return rc;
}

int fl_monitor_process_register(fl_metrics *m)
{
    return fl_metrics_add_collector(m, collect_process, NULL);
}
