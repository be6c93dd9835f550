/* pq_tool.c — fl_pq_tool, the Parquet module's test and benchmark helper (never shipped).
 * The interop test (tests/interop/test_parquet_duckdb.py) uses it to write files with every
 * type, repetition, codec and encoding we support and to read files DuckDB wrote; the lake
 * benchmark (bench/parquet_vs_duckdb.py) uses it to rewrite many small files as one.
 *
 *   fl_pq_tool write-matrix DIR        one file per variant + DIR/manifest.json
 *   fl_pq_tool dump FILE...            per file a header line, then every row as a JSON line
 *   fl_pq_tool stats FILE              each row group's column statistics, one JSON line each
 *   fl_pq_tool concat CODEC OUT IN...  all rows of IN... (same schema) into one file OUT
 *   fl_pq_tool downgrade CODEC OUT IN COLUMN VERSION
 *                                      IN without COLUMN and with key-value schema_version =
 *                                      VERSION (other metadata kept): a lake file as an older
 *                                      fleetlake wrote it, for the schema evolution tests
 *
 * Exact values in JSON (manifest and dump): integers and timestamps (µs) as decimal strings,
 * doubles as strings from %.17g (which round-trip) or "nan", "inf", "-inf"; BOOLEAN as JSON
 * true/false; BYTE_ARRAY as lowercase hex of the bytes (STRING too in the manifest; dump prints
 * STRING as a JSON string when it is valid UTF-8). NULL is JSON null. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parquet/parquet.h"

/* Rows per matrix file: enough for several row groups and pages under the small limits below,
 * few enough that the whole matrix (288 files) is written and checked in seconds. */
enum { MATRIX_ROWS = 1000 };

/* ---- small helpers ---------------------------------------------------------------------------- */

static void die(const char *what, int rc)
{
    fprintf(stderr, "fl_pq_tool: %s: %s\n", what, rc ? fl_strerror(rc) : "failed");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        die("out of memory", 0);
    return p;
}

static int file_sink(void *ctx, const void *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : -EIO;
}

/* Finish w (unless rc is already an error) and close its file f; dies naming out_path on any
 * error. Returns the file's summary. */
static fl_pq_file_summary finish_output(fl_pq_writer *w, FILE *f, const char *out_path, int rc)
{
    fl_pq_file_summary sum = {0};
    if (!rc)
        rc = fl_pq_writer_finish(w, &sum);
    fl_pq_writer_destroy(w);
    if (fclose(f) && !rc)
        rc = -errno;
    if (rc)
        die(out_path, rc);
    return sum;
}

static int file_source(void *ctx, void *p, size_t n, uint64_t offset)
{
    FILE *f = ctx;
    if (fseeko(f, (off_t)offset, SEEK_SET) || fread(p, 1, n, f) != n)
        return FL_ECORRUPT;
    return 0;
}

static void put_hex(FILE *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    fputc('"', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", s[i]);
    fputc('"', out);
}

static void put_double(FILE *out, double d)
{
    if (isnan(d))
        fputs("\"nan\"", out);
    else if (isinf(d))
        fputs(d < 0 ? "\"-inf\"" : "\"inf\"", out);
    else
        fprintf(out, "\"%.17g\"", d);
}

/* STRING values are checked by the writer, but a foreign file may hold anything. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

static void put_json_string(FILE *out, const unsigned char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            fprintf(out, "\\%c", s[i]);
        else if (s[i] < 0x20)
            fprintf(out, "\\u%04x", s[i]);
        else
            fputc(s[i], out);
    }
    fputc('"', out);
}

/* ---- the matrix ------------------------------------------------------------------------------- */

typedef struct matrix_type {
    const char *name;
    enum fl_pq_physical physical;
    enum fl_pq_logical logical;
} matrix_type;

static const matrix_type TYPES[] = {
    {"boolean", FL_PQ_BOOLEAN, FL_PQ_LOGICAL_NONE},
    {"int8", FL_PQ_INT32, FL_PQ_LOGICAL_INT8},
    {"int16", FL_PQ_INT32, FL_PQ_LOGICAL_INT16},
    {"int32", FL_PQ_INT32, FL_PQ_LOGICAL_INT32},
    {"int64", FL_PQ_INT64, FL_PQ_LOGICAL_NONE},
    {"timestamp", FL_PQ_INT64, FL_PQ_LOGICAL_TIMESTAMP_MICROS},
    {"double", FL_PQ_DOUBLE, FL_PQ_LOGICAL_NONE},
    {"string", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_STRING},
    {"binary", FL_PQ_BYTE_ARRAY, FL_PQ_LOGICAL_NONE},
};
enum { TYPE_COUNT = sizeof TYPES / sizeof TYPES[0] };

static const enum fl_pq_codec CODECS[] = {FL_PQ_UNCOMPRESSED, FL_PQ_SNAPPY, FL_PQ_GZIP, FL_PQ_ZSTD};

/* One column's values for MATRIX_ROWS rows (valid NULL for a REQUIRED column). Strings point
 * into `arena`. */
typedef struct column_data {
    void *values;
    uint8_t *valid;
    char *arena;
} column_data;

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    return k ^ (k >> 33);
}

/* The k-th non-NULL value of each type: first the edge cases, then (k < 200) a deterministic
 * mix of repeats, runs and jumps across the whole range, then (k < 350) runs, so delta pays,
 * then a small repeated set, so dictionaries pay: every row group after the first is cheap to
 * encode one way or the other, and the writer's cost-based choice shows up in the files. */
enum { MIXED_END = 200, RUNS_END = 350 };

static uint8_t bool_value(size_t k)
{
    return k < 200 ? k % 3 == 0 : (k / 50) % 2;
}

static int64_t int_value(size_t k, int64_t lo, int64_t hi)
{
    static const int64_t edge[] = {0, -1, 1, INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1};
    if (k < sizeof edge / sizeof edge[0]) {
        int64_t e = edge[k];
        return e < lo ? lo + (e == INT64_MIN + 1) : e > hi ? hi - (e == INT64_MAX - 1) : e;
    }
    uint64_t r = mix(k);
    int64_t run = lo / 2 + (int64_t)((k * 3) % (uint64_t)(hi < 1000000 ? hi : 1000000));
    if (k >= RUNS_END)
        return (int64_t)(r % 13) - 6;
    if (k >= MIXED_END)
        return run;
    switch (k % 4) {
    case 0: /* a small repeated set */
        return (int64_t)(r % 13) - 6;
    case 1:
        return run;
    case 2: /* anywhere in the range */
        if (lo == INT64_MIN)
            return (int64_t)r;
        return lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
    default: /* alternate between the extremes: the largest possible deltas */
        return k % 8 == 3 ? lo : hi;
    }
}

static int64_t timestamp_value(size_t k)
{
    static const int64_t edge[] = {
        0, -1, 1764000000123456LL,          /* 2025-11-24T16:00:00.123456Z */
        -62135596800000000LL,               /* 0001-01-01T00:00:00Z */
        253402300799999999LL,               /* 9999-12-31T23:59:59.999999Z */
        -2208988800000001LL,                /* 1899-12-31T23:59:59.999999Z */
        951782400000000LL,                  /* 2000-02-29 */
    };
    if (k < sizeof edge / sizeof edge[0])
        return edge[k];
    if (k >= RUNS_END) /* a few readings per second from a handful of clocks */
        return 1764000000000000LL + (int64_t)(mix(k) % 13) * 1000000;
    return 1764000000000000LL + (int64_t)k * 1000003 + (int64_t)(mix(k) % 1000);
}

static double double_value(size_t k)
{
    static const double edge[] = {-0.0, 0.0, DBL_MIN, 4.9406564584124654e-324,
                                  -4.9406564584124654e-324, DBL_MAX, -DBL_MAX, 1e-300, 1e300,
                                  0.1, -273.15, 3.141592653589793, 1.0 / 3.0, INFINITY,
                                  -INFINITY, NAN, 9007199254740993.0, 2.2250738585072009e-308};
    if (k < sizeof edge / sizeof edge[0])
        return edge[k];
    uint64_t r = mix(k);
    if (k % 3 == 0)
        return (double)(r % 20) / 4 - 2; /* repeats */
    if (k % 3 == 1)
        return (double)(int64_t)(r % 200001 - 100000) / 100; /* two decimals, as sensors */
    double d;
    memcpy(&d, &r, sizeof d); /* any bit pattern that is a finite number */
    return isfinite(d) ? d : (double)r;
}

/* Appends the k-th string (STRING: valid UTF-8; binary: any bytes) to *arena at *used. */
static fl_slice bytes_value(size_t k, int binary, char *arena, size_t *used)
{
    static const char *const text_edge[] = {"", "a", "서울", "🚚 truck-0042", "naïve café",
                                            "\"quoted\" \\ back\tslash\n", "日本語テキスト",
                                            "\x7f\x01 control", "z"};
    static const char *const bin_edge[] = {"", "\x00", "\xff", "\x00\xff\x00", "\xc3\x28",
                                           "\xed\xa0\x80", "PAR1"};
    static const size_t bin_len[] = {0, 1, 1, 3, 2, 3, 4};
    char *p = arena + *used;
    size_t n = 0;
    size_t text_edges = sizeof text_edge / sizeof text_edge[0];
    size_t bin_edges = sizeof bin_edge / sizeof bin_edge[0];
    uint64_t r = mix(k);
    if (!binary && k < text_edges) {
        n = strlen(text_edge[k]);
        memcpy(p, text_edge[k], n);
    } else if (binary && k < bin_edges) {
        n = bin_len[k];
        memcpy(p, bin_edge[k], n);
    } else if (k % 97 == 13) { /* a long value: past a small page and the dictionary bound */
        size_t target = 2000 + (size_t)(r % 3000);
        while (n < target) {
            const char *piece = binary ? "\x80\x81\x00\xfe" : (k & 1) ? "서울-" : "long-";
            size_t len = binary ? 4 : strlen(piece);
            memcpy(p + n, piece, len);
            n += len;
        }
    } else if (binary && k >= RUNS_END) { /* a small repeated set */
        n = (size_t)sprintf(p, "\x01\x02bin-%u", (unsigned)(r % 11));
    } else if (binary) {
        n = (size_t)(r % 17);
        for (size_t i = 0; i < n; i++)
            p[i] = (char)(mix(k * 31 + i) & 0xff);
    } else {
        n = (size_t)sprintf(p, "%s-%u", (k % 5 == 0) ? "부산" : "dev", (unsigned)(r % 37));
    }
    *used += n;
    return (fl_slice){p, n};
}

static int is_null_row(size_t i)
{
    return i % 5 == 3 || (i >= 600 && i < 800); /* scattered NULLs and a long all-NULL run */
}

static void generate(const matrix_type *t, int optional, column_data *out)
{
    size_t width = t->physical == FL_PQ_BOOLEAN ? 1 : t->physical == FL_PQ_INT32 ? 4
                 : t->physical == FL_PQ_BYTE_ARRAY ? sizeof(fl_slice) : 8;
    out->values = xmalloc(MATRIX_ROWS * width);
    out->valid = optional ? xmalloc(MATRIX_ROWS) : NULL;
    out->arena = xmalloc((size_t)MATRIX_ROWS * 5100);
    size_t used = 0, k = 0;
    int64_t lo = t->logical == FL_PQ_LOGICAL_INT8 ? INT8_MIN : t->logical == FL_PQ_LOGICAL_INT16
               ? INT16_MIN : t->physical == FL_PQ_INT32 ? INT32_MIN : INT64_MIN;
    int64_t hi = t->logical == FL_PQ_LOGICAL_INT8 ? INT8_MAX : t->logical == FL_PQ_LOGICAL_INT16
               ? INT16_MAX : t->physical == FL_PQ_INT32 ? INT32_MAX : INT64_MAX;
    for (size_t i = 0; i < MATRIX_ROWS; i++) {
        if (optional && is_null_row(i))
            continue; /* the slot stays zero; the writer ignores it */
        if (optional)
            out->valid[i] = 1;
        switch (t->physical) {
        case FL_PQ_BOOLEAN:
            ((uint8_t *)out->values)[i] = bool_value(k);
            break;
        case FL_PQ_INT32:
            ((int32_t *)out->values)[i] = (int32_t)int_value(k, lo, hi);
            break;
        case FL_PQ_INT64:
            ((int64_t *)out->values)[i] = t->logical == FL_PQ_LOGICAL_TIMESTAMP_MICROS
                                              ? timestamp_value(k) : int_value(k, lo, hi);
            break;
        case FL_PQ_DOUBLE:
            ((double *)out->values)[i] = double_value(k);
            break;
        case FL_PQ_BYTE_ARRAY:
            ((fl_slice *)out->values)[i] =
                bytes_value(k, t->logical != FL_PQ_LOGICAL_STRING, out->arena, &used);
            break;
        }
        k++;
    }
}

static void put_value(FILE *out, enum fl_pq_physical physical, const void *values, size_t i)
{
    switch (physical) {
    case FL_PQ_BOOLEAN:
        fputs(((const uint8_t *)values)[i] ? "true" : "false", out);
        break;
    case FL_PQ_INT32:
        fprintf(out, "\"%" PRId32 "\"", ((const int32_t *)values)[i]);
        break;
    case FL_PQ_INT64:
        fprintf(out, "\"%" PRId64 "\"", ((const int64_t *)values)[i]);
        break;
    case FL_PQ_DOUBLE:
        put_double(out, ((const double *)values)[i]);
        break;
    case FL_PQ_BYTE_ARRAY: {
        const fl_slice *s = &((const fl_slice *)values)[i];
        put_hex(out, s->ptr, s->len);
        break;
    }
    }
}

/* Writes the rows in batches of uneven sizes, so appends that straddle slices, pages and row
 * groups are exercised too. */
static void write_variant(const char *path, const fl_pq_column_def *def, const column_data *d,
                          const fl_pq_writer_options *o)
{
    static const size_t batches[] = {1, 7, 100, 333, 1000};
    size_t width = def->physical == FL_PQ_BOOLEAN ? 1 : def->physical == FL_PQ_INT32 ? 4
                 : def->physical == FL_PQ_BYTE_ARRAY ? sizeof(fl_slice) : 8;
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path, -errno);
    fl_pq_writer *w;
    int rc = fl_pq_writer_create(def, 1, o, file_sink, f, &w);
    for (size_t first = 0, b = 0; !rc && first < MATRIX_ROWS; b++) {
        size_t n = batches[b % 5] < MATRIX_ROWS - first ? batches[b % 5] : MATRIX_ROWS - first;
        fl_pq_column_values cv = {(const char *)d->values + first * width,
                                  d->valid ? d->valid + first : NULL};
        rc = fl_pq_writer_write(w, &cv, n);
        first += n;
    }
    (void)finish_output(w, f, path, rc);
}

static void manifest_values(FILE *m, const matrix_type *t, int optional, const column_data *d)
{
    fprintf(m, "  \"%s-%s\": [", t->name, optional ? "opt" : "req");
    for (size_t i = 0; i < MATRIX_ROWS; i++) {
        fputs(i ? "," : "", m);
        if (d->valid && !d->valid[i])
            fputs("null", m);
        else
            put_value(m, t->physical, d->values, i);
    }
    fputs("]", m);
}

static int cmd_write_matrix(const char *dir)
{
    if (mkdir(dir, 0755) && errno != EEXIST)
        die(dir, -errno);
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *m = fopen(path, "w");
    if (!m)
        die(path, -errno);
    fprintf(m, "{\"rows\": %d,\n \"values\": {\n", MATRIX_ROWS);
    int files = 0;
    for (size_t t = 0; t < TYPE_COUNT; t++) {
        for (int optional = 0; optional < 2; optional++) {
            column_data d;
            generate(&TYPES[t], optional, &d);
            fputs(t || optional ? ",\n" : "", m);
            manifest_values(m, &TYPES[t], optional, &d);
            fl_pq_column_def def = {"v", TYPES[t].physical, TYPES[t].logical, optional};
            size_t width = TYPES[t].physical == FL_PQ_BOOLEAN ? 1
                         : TYPES[t].physical == FL_PQ_INT32 ? 4 : 8;
            for (size_t c = 0; c < 4; c++)
                for (int dict = 0; dict < 2; dict++)
                    for (int delta = 0; delta < 2; delta++) {
                        /* Small limits: ~1 KiB pages, row groups of about 400 rows, and a
                         * dictionary bound the long strings overflow (PLAIN fallback). */
                        fl_pq_writer_options o = {.codec = CODECS[c], .page_bytes = 1024,
                                                  .row_group_bytes = 400 * width,
                                                  .dictionary_bytes_max = 2048,
                                                  .disable_dictionary = !dict,
                                                  .disable_delta = !delta};
                        snprintf(path, sizeof path, "%s/%s-%s-%s-%s-%s.parquet", dir,
                                 TYPES[t].name, optional ? "opt" : "req",
                                 fl_pq_codec_name(CODECS[c]), dict ? "dict" : "nodict",
                                 delta ? "delta" : "nodelta");
                        write_variant(path, &def, &d, &o);
                        files++;
                    }
            free(d.values);
            free(d.valid);
            free(d.arena);
        }
    }
    fputs("\n },\n \"files\": [\n", m);
    int first = 1;
    for (size_t t = 0; t < TYPE_COUNT; t++)
        for (int optional = 0; optional < 2; optional++)
            for (size_t c = 0; c < 4; c++)
                for (int dict = 0; dict < 2; dict++)
                    for (int delta = 0; delta < 2; delta++) {
                        fprintf(m, "%s  {\"file\": \"%s-%s-%s-%s-%s.parquet\", \"type\": \"%s\", "
                                   "\"optional\": %s, \"codec\": \"%s\", \"dictionary\": %s, "
                                   "\"delta\": %s, \"values\": \"%s-%s\"}",
                                first ? "" : ",\n", TYPES[t].name, optional ? "opt" : "req",
                                fl_pq_codec_name(CODECS[c]), dict ? "dict" : "nodict",
                                delta ? "delta" : "nodelta", TYPES[t].name,
                                optional ? "true" : "false", fl_pq_codec_name(CODECS[c]),
                                dict ? "true" : "false", delta ? "true" : "false",
                                TYPES[t].name, optional ? "opt" : "req");
                        first = 0;
                    }
    fputs("\n ]}\n", m);
    if (fclose(m))
        die("manifest.json", -errno);
    printf("%d files\n", files);
    return 0;
}

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct open_file {
    FILE *f;
    fl_pq_reader *r;
} open_file;

static void open_parquet(const char *path, open_file *o)
{
    o->f = fopen(path, "rb");
    if (!o->f)
        die(path, -errno);
    if (fseeko(o->f, 0, SEEK_END))
        die(path, -errno);
    uint64_t size = (uint64_t)ftello(o->f);
    int rc = fl_pq_reader_open(file_source, o->f, size, NULL, &o->r);
    if (rc)
        die(path, rc);
}

static void close_parquet(open_file *o)
{
    fl_pq_reader_destroy(o->r);
    fclose(o->f);
}

static const char *physical_name(enum fl_pq_physical p)
{
    return p == FL_PQ_BOOLEAN ? "BOOLEAN" : p == FL_PQ_INT32 ? "INT32" : p == FL_PQ_INT64
         ? "INT64" : p == FL_PQ_DOUBLE ? "DOUBLE" : "BYTE_ARRAY";
}

static const char *logical_name(enum fl_pq_logical l)
{
    static const char *const names[] = {"NONE", "STRING", "TIMESTAMP_MICROS", "INT8", "INT16",
                                        "INT32", "INT64"};
    return (size_t)l < sizeof names / sizeof names[0] ? names[l] : "?";
}

static void dump_header(const char *path, fl_pq_reader *r)
{
    size_t n = fl_pq_reader_column_count(r);
    printf("{\"file\": ");
    put_json_string(stdout, (const unsigned char *)path, strlen(path));
    printf(", \"rows\": \"%" PRId64 "\", \"row_groups\": %d, \"created_by\": ",
           fl_pq_reader_rows(r), fl_pq_reader_row_group_count(r));
    const char *cb = fl_pq_reader_created_by(r);
    put_json_string(stdout, (const unsigned char *)cb, strlen(cb));
    printf(", \"columns\": [");
    for (size_t c = 0; c < n; c++) {
        const fl_pq_column_def *d = fl_pq_reader_column(r, c);
        printf("%s{\"name\": ", c ? ", " : "");
        put_json_string(stdout, (const unsigned char *)d->name, strlen(d->name));
        printf(", \"physical\": \"%s\", \"logical\": \"%s\", \"optional\": %s}",
               physical_name(d->physical), logical_name(d->logical),
               d->optional ? "true" : "false");
    }
    printf("]}\n");
}

static int cmd_dump(const char *path)
{
    open_file o;
    open_parquet(path, &o);
    dump_header(path, o.r);
    size_t n = fl_pq_reader_column_count(o.r);
    fl_pq_column_values *v = xmalloc(n * sizeof *v);
    for (int g = 0; g < fl_pq_reader_row_group_count(o.r); g++) {
        for (size_t c = 0; c < n; c++) {
            int rc = fl_pq_reader_read_column(o.r, g, c, &v[c]);
            if (rc)
                die(path, rc);
        }
        int64_t rows = fl_pq_reader_row_group_rows(o.r, g);
        for (int64_t i = 0; i < rows; i++) {
            putchar('{');
            for (size_t c = 0; c < n; c++) {
                const fl_pq_column_def *d = fl_pq_reader_column(o.r, c);
                printf("%s", c ? ", " : "");
                put_json_string(stdout, (const unsigned char *)d->name, strlen(d->name));
                printf(": ");
                if (v[c].valid && !v[c].valid[i]) {
                    printf("null");
                } else if (d->logical == FL_PQ_LOGICAL_STRING) {
                    const fl_slice *s = &((const fl_slice *)v[c].values)[i];
                    if (utf8_ok((const unsigned char *)s->ptr, s->len))
                        put_json_string(stdout, (const unsigned char *)s->ptr, s->len);
                    else { /* not valid JSON text: say so */
                        fputs("{\"invalid_utf8_hex\": ", stdout);
                        put_hex(stdout, s->ptr, s->len);
                        putchar('}');
                    }
                } else {
                    put_value(stdout, d->physical, v[c].values, (size_t)i);
                }
            }
            printf("}\n");
        }
    }
    free(v);
    close_parquet(&o);
    return fflush(stdout) ? 1 : 0;
}

/* One JSON line per row group and column: rows, null_count and min/max as the reader decoded
 * them from the footer (values in the same exact forms as dump; min/max null when absent). */
static int cmd_stats(const char *path)
{
    open_file o;
    open_parquet(path, &o);
    for (int g = 0; g < fl_pq_reader_row_group_count(o.r); g++)
        for (size_t c = 0; c < fl_pq_reader_column_count(o.r); c++) {
            const fl_pq_column_def *d = fl_pq_reader_column(o.r, c);
            fl_pq_stats st;
            int rc = fl_pq_reader_stats(o.r, g, c, &st);
            if (rc)
                die(path, rc);
            printf("{\"row_group\": %d, \"column\": ", g);
            put_json_string(stdout, (const unsigned char *)d->name, strlen(d->name));
            printf(", \"rows\": \"%" PRId64 "\", \"null_count\": \"%" PRId64 "\"",
                   fl_pq_reader_row_group_rows(o.r, g), st.null_count);
            for (int k = 0; k < 2; k++) {
                const void *x = k ? (const void *)&st.max : (const void *)&st.min;
                printf(", \"%s\": ", k ? "max" : "min");
                if (!st.has_min_max) {
                    printf("null");
                } else if (d->physical == FL_PQ_BOOLEAN) {
                    printf("%s", ((const int64_t *)x)[0] ? "true" : "false");
                } else if (d->physical == FL_PQ_INT32 || d->physical == FL_PQ_INT64) {
                    printf("\"%" PRId64 "\"", ((const int64_t *)x)[0]);
                } else if (d->physical == FL_PQ_DOUBLE) {
                    put_double(stdout, ((const double *)x)[0]);
                } else {
                    const fl_slice *s = x;
                    put_hex(stdout, s->ptr, s->len);
                }
            }
            printf("}\n");
        }
    close_parquet(&o);
    return fflush(stdout) ? 1 : 0;
}

/* ---- concat ----------------------------------------------------------------------------------- */

static int same_schema(fl_pq_reader *a, fl_pq_reader *b)
{
    if (fl_pq_reader_column_count(a) != fl_pq_reader_column_count(b))
        return 0;
    for (size_t c = 0; c < fl_pq_reader_column_count(a); c++) {
        const fl_pq_column_def *x = fl_pq_reader_column(a, c), *y = fl_pq_reader_column(b, c);
        if (strcmp(x->name, y->name) || x->physical != y->physical || x->logical != y->logical ||
            x->optional != y->optional)
            return 0;
    }
    return 1;
}

static int cmd_concat(const char *codec_name, const char *out_path, char **in, int count)
{
    int codec = fl_pq_codec_parse(codec_name);
    if (codec < 0)
        die(codec_name, FL_EINVAL);
    open_file first;
    open_parquet(in[0], &first);
    size_t n = fl_pq_reader_column_count(first.r);
    fl_pq_column_def *defs = xmalloc(n * sizeof *defs);
    for (size_t c = 0; c < n; c++)
        defs[c] = *fl_pq_reader_column(first.r, c);
    FILE *f = fopen(out_path, "wb");
    if (!f)
        die(out_path, -errno);
    fl_pq_writer_options opts = {.codec = (enum fl_pq_codec)codec};
    fl_pq_writer *w;
    int rc = fl_pq_writer_create(defs, n, &opts, file_sink, f, &w);
    fl_pq_column_values *v = xmalloc(n * sizeof *v);
    for (int k = 0; !rc && k < count; k++) {
        open_file o = first;
        if (k)
            open_parquet(in[k], &o);
        if (!same_schema(first.r, o.r))
            die(in[k], FL_EINVAL);
        for (int g = 0; !rc && g < fl_pq_reader_row_group_count(o.r); g++) {
            for (size_t c = 0; !rc && c < n; c++)
                rc = fl_pq_reader_read_column(o.r, g, c, &v[c]);
            if (!rc)
                rc = fl_pq_writer_write(w, v, (size_t)fl_pq_reader_row_group_rows(o.r, g));
        }
        if (k)
            close_parquet(&o);
    }
    fl_pq_file_summary sum = finish_output(w, f, out_path, rc);
    close_parquet(&first);
    free(v);
    free(defs);
    printf("{\"rows\": %" PRId64 ", \"bytes\": %" PRId64 ", \"row_groups\": %d}\n", sum.rows,
           sum.bytes, sum.row_groups);
    return 0;
}

/* ---- downgrade -------------------------------------------------------------------------------- */

static int cmd_downgrade(const char *codec_name, const char *out_path, const char *in,
                         const char *drop, const char *version)
{
    int codec = fl_pq_codec_parse(codec_name);
    if (codec < 0)
        die(codec_name, FL_EINVAL);
    open_file o;
    open_parquet(in, &o);
    size_t n = fl_pq_reader_column_count(o.r), kept = 0, nkv = fl_pq_reader_kv_count(o.r);
    int dropped = fl_pq_reader_column_index(o.r, drop);
    if (dropped < 0)
        die(drop, FL_ENOTFOUND);
    fl_pq_column_def *defs = xmalloc(n * sizeof *defs);
    for (size_t c = 0; c < n; c++)
        if ((int)c != dropped)
            defs[kept++] = *fl_pq_reader_column(o.r, c);
    fl_pq_kv *kv = xmalloc((nkv + 1) * sizeof *kv);
    size_t k = 0;
    for (size_t i = 0; i < nkv; i++) {
        kv[k] = *fl_pq_reader_kv_at(o.r, i);
        if (strcmp(kv[k].key, "schema_version") != 0)
            k++;
    }
    kv[k++] = (fl_pq_kv){"schema_version", version};
    FILE *f = fopen(out_path, "wb");
    if (!f)
        die(out_path, -errno);
    fl_pq_writer_options opts = {.codec = (enum fl_pq_codec)codec, .kv = kv, .kv_count = k};
    fl_pq_writer *w;
    int rc = fl_pq_writer_create(defs, kept, &opts, file_sink, f, &w);
    fl_pq_column_values *v = xmalloc(n * sizeof *v);
    for (int g = 0; !rc && g < fl_pq_reader_row_group_count(o.r); g++) {
        for (size_t c = 0, at = 0; !rc && c < n; c++)
            if ((int)c != dropped)
                rc = fl_pq_reader_read_column(o.r, g, c, &v[at++]);
        if (!rc)
            rc = fl_pq_writer_write(w, v, (size_t)fl_pq_reader_row_group_rows(o.r, g));
    }
    fl_pq_file_summary sum = finish_output(w, f, out_path, rc);
    close_parquet(&o);
    free(v);
    free(kv);
    free(defs);
    printf("{\"rows\": %" PRId64 ", \"bytes\": %" PRId64 "}\n", sum.rows, sum.bytes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "write-matrix"))
        return cmd_write_matrix(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "dump")) {
        for (int k = 2; k < argc; k++)
            if (cmd_dump(argv[k]))
                return 1;
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "stats"))
        return cmd_stats(argv[2]);
    if (argc >= 5 && !strcmp(argv[1], "concat"))
        return cmd_concat(argv[2], argv[3], argv + 4, argc - 4);
    if (argc == 7 && !strcmp(argv[1], "downgrade"))
        return cmd_downgrade(argv[2], argv[3], argv[4], argv[5], argv[6]);
    fprintf(stderr, "usage: fl_pq_tool write-matrix DIR | dump FILE | "
                    "concat CODEC OUT IN... | downgrade CODEC OUT IN COLUMN VERSION\n");
    return 2;
}
