/* config.c — the configuration table, INI loading (libinih), overrides and the sample file. */
#include "core/config.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"

#define OFF(f) offsetof(fl_config, f)
#define SZ(f) sizeof(((fl_config *)0)->f)
#define KiB INT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define TiB (GiB * 1024)

/* Every limit says why it is that number. */
const fl_config_entry fl_config_table[] = {
    {"server.listen", FL_CFG_STRING, "127.0.0.1:8080", 0, 0, NULL, OFF(listen), SZ(listen),
     "HOST:PORT the HTTP server listens on. Loopback by default: nothing is exposed until you "
     "choose to."},
    {"server.data_dir", FL_CFG_STRING, "./fleetlake-data", 0, 0, NULL, OFF(data_dir),
     SZ(data_dir), "Data directory: stream segments, dead letters, meta.db, the lake."},
    {"server.threads", FL_CFG_INT, "16", 1, 256, NULL, OFF(threads), 0,
     "HTTP worker threads. A thread waits while its request's records are fsynced (group "
     "commit), and connections served by the same thread wait behind it; 16 keeps that rare "
     "for a few dozen busy connections (measured: 16 threads gave ~1.3x the rate of 4 with 4 "
     "client connections on 2 cores). Idle threads cost only their stacks."},
    {"server.connection_limit", FL_CFG_INT, "1024", 1, 65536, NULL, OFF(connection_limit), 0,
     "Maximum concurrent client connections; beyond it new connections are refused. Each costs "
     "a socket and a small buffer."},
    {"server.connection_timeout_s", FL_CFG_SECONDS, "30", 1, 3600, NULL,
     OFF(connection_timeout_s), 0, "Idle keep-alive connections are closed after this long."},
    {"server.drain_timeout_s", FL_CFG_SECONDS, "30", 1, 3600, NULL, OFF(drain_timeout_s), 0,
     "On SIGTERM/SIGINT, how long in-flight requests may take to finish before exit."},
    {"server.max_inflight_requests", FL_CFG_INT, "256", 1, 100000, NULL,
     OFF(max_inflight_requests), 0,
     "Requests being decoded or waiting for their fsync at once; more get 503 with "
     "Retry-After. Bounds memory at about max_inflight_requests x ingest.max_decompressed_bytes "
     "in the worst case."},
    {"server.max_header_bytes", FL_CFG_BYTES, "32KiB", 1 * KiB, 1 * MiB, NULL,
     OFF(max_header_bytes), 0,
     "Request line plus header fields of one request (431 header_too_large beyond). A client "
     "sends a few hundred bytes; 32 KiB is nginx's default (4 x 8 KiB buffers) and leaves room "
     "for long bearer tokens while bounding each connection's parse buffer."},
    {"server.max_uri_bytes", FL_CFG_BYTES, "8KiB", 256, 64 * KiB, NULL, OFF(max_uri_bytes), 0,
     "Request target (path and query string) of one request (414 uri_too_long beyond). The "
     "longest fleetlake route with its query is well under 1 KiB; 8 KiB is Apache's and "
     "nginx's request-line limit."},
    {"server.max_connections_per_client", FL_CFG_INT, "256", 1, 65536, NULL,
     OFF(max_connections_per_client), 0,
     "Open connections from one client IP address; more are closed as soon as they are "
     "accepted (there is no request yet to answer). A gateway or NAT in front of a depot "
     "needs a few dozen; 256 keeps one address from taking all of server.connection_limit."},
    {"server.header_timeout_s", FL_CFG_SECONDS, "10", 1, 3600, NULL, OFF(header_timeout_s), 0,
     "A request's TLS handshake, request line and headers must all arrive within this time of "
     "the connection opening (or of the first byte of the next request on a keep-alive "
     "connection); otherwise 408 request_timeout and the connection is closed. Stops "
     "slowloris clients, which trickle a byte every few seconds to defeat the idle timeout. "
     "Real clients send headers in one packet; 10 s allows for a slow mobile link."},
    {"server.body_timeout_s", FL_CFG_SECONDS, "60", 1, 3600, NULL, OFF(body_timeout_s), 0,
     "A request body must arrive in full within this time of its headers; otherwise 408 "
     "request_timeout and the connection is closed. 60 s moves ingest.max_body_bytes (8 MiB) "
     "over a 1.2 Mbit/s link; a client trickling its body is cut, whatever its rate."},
    {"server.max_event_streams", FL_CFG_INT, "64", 1, 10000, NULL, OFF(max_event_streams), 0,
     "GET /v1/events (server-sent events) streams open at once. A waiting stream holds no "
     "worker thread (its connection is suspended until an alert changes) but is woken once a "
     "second; 64 covers a control room of dashboards."},
    {"tls.cert_file", FL_CFG_STRING, "", 0, 0, NULL, OFF(tls_cert_file), SZ(tls_cert_file),
     "PEM certificate (chain) of the server. When set (with tls.key_file) the server speaks "
     "HTTPS only, TLS 1.2 and 1.3 with Mozilla's intermediate cipher list (docs/security.md). "
     "Empty: plain HTTP. `scripts/gen-cert.sh DIR` makes a self-signed one for tests."},
    {"tls.key_file", FL_CFG_STRING, "", 0, 0, NULL, OFF(tls_key_file), SZ(tls_key_file),
     "PEM private key (unencrypted) matching tls.cert_file. Keep it readable by the server's "
     "user only."},
    {"log.level", FL_CFG_ENUM, "info", 0, 0, "debug|info|warn|error", OFF(log_level),
     SZ(log_level), "Lowest level written to stderr."},
    {"log.format", FL_CFG_ENUM, "text", 0, 0, "text|json", OFF(log_format), SZ(log_format),
     "text lines or JSON lines."},
    {"ingest.max_body_bytes", FL_CFG_BYTES, "8MiB", 1 * KiB, 1 * GiB, NULL, OFF(max_body_bytes), 0,
     "Largest request body on the wire (413 beyond). 8 MiB holds ~20,000 typical records, "
     "more than a gateway batch needs."},
    {"ingest.max_decompressed_bytes", FL_CFG_BYTES, "32MiB", 1 * KiB, 4 * GiB, NULL,
     OFF(max_decompressed_bytes), 0,
     "Largest body after gzip decompression (413 beyond): bounds the memory one request can "
     "take."},
    {"ingest.max_decompression_ratio", FL_CFG_INT, "100", 2, 100000, NULL,
     OFF(max_decompression_ratio), 0,
     "Decompressed/compressed size ratio beyond which a gzip body is refused as a bomb (413). "
     "JSON telemetry compresses 5-20x; 100 leaves room and stops bombs early."},
    {"ingest.max_records_per_request", FL_CFG_INT, "10000", 1, 1000000, NULL,
     OFF(max_records_per_request), 0,
     "Records in one request (413 beyond). Kinesis PutRecords allows 500; larger batches "
     "amortise fsync better, so fleetlake allows more."},
    {"ingest.max_json_depth", FL_CFG_INT, "16", 2, 256, NULL, OFF(max_json_depth), 0,
     "Deepest nesting of objects/arrays in a record (400 beyond). Records are 2 levels deep; "
     "16 leaves room for `extra` fields and bounds the decoder's stack."},
    {"ingest.max_extra_bytes", FL_CFG_BYTES, "4KiB", 0, 1 * MiB, NULL, OFF(max_extra_bytes), 0,
     "Largest JSON text of unknown fields kept in `extra` (record rejected beyond)."},
    {"ingest.max_future_skew_s", FL_CFG_SECONDS, "300", 0, 86400, NULL, OFF(max_future_skew_s), 0,
     "Timestamps further than this in the future are rejected (bad_timestamp): 5 minutes "
     "covers unsynchronised device clocks."},
    {"stream.shards", FL_CFG_INT, "2", 1, 256, NULL, OFF(shards), 0,
     "Number of shards (1-256). Fixed at first start; devices map to shards by MD5 of "
     "device_id over equal hash-key ranges, as Kinesis does."},
    {"stream.durability", FL_CFG_ENUM, "fsync", 0, 0, "fsync|os", OFF(durability),
     SZ(durability),
     "fsync: a request is acknowledged only after its records are fsynced (group commit). os: "
     "acknowledged after write(2) - UNSAFE: a power failure loses acknowledged records."},
    {"stream.segment_bytes", FL_CFG_BYTES, "64MiB", 64 * KiB, 4 * GiB, NULL, OFF(segment_bytes),
     0, "A segment file is sealed and a new one started past this size."},
    {"stream.segment_age_s", FL_CFG_SECONDS, "3600", 1, 30 * 86400, NULL, OFF(segment_age_s), 0,
     "A segment is also sealed when its first record is this old, so retention can free it."},
    {"stream.retention_age_s", FL_CFG_SECONDS, "86400", 60, 365 * 86400, NULL,
     OFF(retention_age_s), 0,
     "Sealed segments whose newest record is older than this are deleted (Kinesis' default "
     "24 h)."},
    {"stream.retention_bytes", FL_CFG_BYTES, "50GiB", 1 * MiB, 1024 * TiB, NULL,
     OFF(retention_bytes), 0,
     "Per shard: oldest sealed segments are deleted while the shard is larger than this."},
    {"stream.max_batch_bytes", FL_CFG_BYTES, "4MiB", 4 * KiB, 256 * MiB, NULL,
     OFF(max_batch_bytes), 0,
     "Largest batch (one CRC-protected unit) written to a segment; larger appends are split."},
    {"dead_letter.retention_age_s", FL_CFG_SECONDS, "604800", 60, 365 * 86400, NULL,
     OFF(dead_letter_retention_age_s), 0, "Rejected records are kept this long (7 days)."},
    {"dead_letter.retention_bytes", FL_CFG_BYTES, "10GiB", 1 * MiB, 1024 * TiB, NULL,
     OFF(dead_letter_retention_bytes), 0, "Dead-letter log size bound; oldest deleted first."},
    {"raw.buffer_bytes", FL_CFG_BYTES, "1MiB", 4 * KiB, 128 * MiB, NULL, OFF(raw_buffer_bytes), 0,
     "Raw delivery flushes an event-time partition into a Parquet file when its buffered rows "
     "reach this size (Firehose's buffering size; it allows 1-128 MiB). Memory is bounded by "
     "about buffer_bytes x max_active_partitions per shard."},
    {"raw.buffer_interval_s", FL_CFG_SECONDS, "60", 1, 3600, NULL, OFF(raw_buffer_interval_s), 0,
     "...or when its first buffered row is this old, whichever comes first (Firehose's "
     "buffering interval): bounds how stale the lake is at low rates."},
    {"raw.max_active_partitions", FL_CFG_INT, "500", 1, 100000, NULL,
     OFF(raw_max_active_partitions), 0,
     "Event-time partitions (UTC hours) buffered at once per shard; a row for one more flushes "
     "the least recently updated first. Firehose's limit for dynamic partitioning is 500; late "
     "records from many old hours then cost small files, not unbounded memory."},
    {"raw.codec", FL_CFG_ENUM, "gzip", 0, 0, "gzip|snappy|zstd|uncompressed", OFF(raw_codec),
     SZ(raw_codec), "Compression of raw-data/ and errors/ Parquet files. GZIP is the seed "
     "architecture's choice (Firehose's Parquet + GZIP) and every engine reads it."},
    {"raw.poll_interval_ms", FL_CFG_INT, "100", 1, 10000, NULL, OFF(raw_poll_interval_ms), 0,
     "How often an idle delivery consumer looks for new stream records and due flushes: 100 ms "
     "is invisible next to a 60 s buffer interval and costs nothing when idle."},
    {"compaction.enabled", FL_CFG_ENUM, "on", 0, 0, "on|off", OFF(compaction_enabled),
     SZ(compaction_enabled),
     "Whether `serve` compacts closed hours of raw-data/ and errors/ by itself. Delivery writes "
     "one small file per shard per flush (60 per hour per shard at the defaults); engines pay "
     "per file opened, so merging them is what keeps queries fast. `fleetlake compact` works "
     "either way."},
    {"compaction.interval_s", FL_CFG_SECONDS, "300", 1, 86400, NULL, OFF(compaction_interval_s),
     0,
     "Time between two compaction passes of `serve` (the first runs one interval after start, "
     "so a restart loop never competes with delivery's recovery). An hour closes once an hour; "
     "5 minutes finds it soon after, and an idle pass costs one catalog query."},
    {"compaction.close_after_s", FL_CFG_SECONDS, "2h", 0, 30 * 86400, NULL,
     OFF(compaction_close_after_s), 0,
     "An hour is compacted once it ended this long ago. It must exceed raw.buffer_interval_s "
     "(at most 1 h: the last files of the hour are still being flushed) plus the lateness most "
     "late records have (minutes); 2 h covers both. Records later still are safe: they land in "
     "new small files that the next pass merges."},
    {"compaction.target_bytes", FL_CFG_BYTES, "128MiB", 64 * KiB, 4 * GiB, NULL,
     OFF(compaction_target_bytes), 0,
     "Size compaction aims its output files at (an hour smaller than this becomes one file); "
     "files of at least this size are left alone. 128 MiB is the row-group and file size "
     "Spark, Trino and Athena read most efficiently: big enough to amortise opening a file, "
     "small enough to split across workers."},
    {"compaction.memory_bytes", FL_CFG_BYTES, "512MiB", 64 * KiB, 64 * GiB, NULL,
     OFF(compaction_memory_bytes), 0,
     "Decoded rows compaction holds in memory per partition. An hour that fits becomes globally "
     "sorted files; a bigger one is written as several runs, each sorted. 512 MiB holds about "
     "2 million raw rows (a busy hour of a 500-truck fleet at one reading a second) and is "
     "a fraction of a small server's memory."},
    {"compaction.retire_grace_s", FL_CFG_SECONDS, "1h", 0, 7 * 86400, NULL,
     OFF(compaction_retire_grace_s), 0,
     "Files replaced by compaction are deleted this long after the swap, so a query that "
     "listed them just before it can still read them. Queries are bounded by timeouts of "
     "minutes; an hour leaves ample margin while bounding the extra disk to about one hour of "
     "compacted input."},
    {"lifecycle.hot_days", FL_CFG_INT, "30", 0, 36500, NULL, OFF(lifecycle_hot_days), 0,
     "Partitions at most this many days old (counted from the end of their UTC day) are hot: "
     "in the main lake, compacted, queried most. 30 days is the reference architecture's S3 "
     "Standard period, the window dashboards and investigations look at."},
    {"lifecycle.warm_days", FL_CFG_INT, "365", 1, 36500, NULL, OFF(lifecycle_warm_days), 0,
     "Partitions older than hot_days and at most this old are warm; older ones are cold "
     "(archived-data/, recompressed with ZSTD). A year matches the reference's Infrequent "
     "Access period: year-over-year comparisons still read warm data. Must exceed hot_days."},
    {"lifecycle.retention_days", FL_CFG_INT, "1095", 2, 36500, NULL,
     OFF(lifecycle_retention_days), 0,
     "Partitions older than this are deleted, lake files and catalog rows. 1095 days (3 years) "
     "is the reference's legal retention requirement. Must exceed warm_days."},
    {"lifecycle.warm_dir", FL_CFG_STRING, "", 0, 0, NULL, OFF(lifecycle_warm_dir),
     SZ(lifecycle_warm_dir),
     "Directory of the warm tier (S3 Infrequent Access's role): may be another, cheaper volume. "
     "Empty: <data_dir>/lake-warm; a relative path is relative to data_dir. Files keep their "
     "key under it and the catalog records the absolute directory per file, so changing this "
     "later only affects new moves. Dedicate it to fleetlake: uncatalogued Parquet files under "
     "the lake's table prefixes in it are removed as crash leftovers."},
    {"lifecycle.enabled", FL_CFG_ENUM, "on", 0, 0, "on|off", OFF(lifecycle_enabled),
     SZ(lifecycle_enabled),
     "Whether `serve` applies the lifecycle by itself (moves to warm and cold, deletes after "
     "retention). `fleetlake lifecycle` works either way."},
    {"lifecycle.interval_s", FL_CFG_SECONDS, "1d", 1, 30 * 86400, NULL,
     OFF(lifecycle_interval_s), 0,
     "Time between two lifecycle passes of `serve` (the first runs a minute after start). Tiers "
     "are counted in whole days, so a daily pass is as precise as the policy; an idle pass is a "
     "catalog query and a listing of the warm directory."},
    {"summary.enabled", FL_CFG_ENUM, "on", 0, 0, "on|off", OFF(summary_enabled),
     SZ(summary_enabled),
     "Whether `serve` writes curated-data/hourly_summary/ by itself as hours close (and "
     "recomputes an hour when late data reaches it). `fleetlake summarize` backfills either "
     "way."},
    {"summary.interval_s", FL_CFG_SECONDS, "60", 1, 86400, NULL, OFF(summary_interval_s), 0,
     "Time between two summary passes of `serve`. An hour closes once an hour, so a minute "
     "puts its summary on dashboards soon after; an idle pass is two catalog queries."},
    {"summary.allowed_lateness_s", FL_CFG_SECONDS, "10m", 0, 7 * 86400, NULL,
     OFF(summary_allowed_lateness_s), 0,
     "An hour is summarised once the newest processed event time is this far past its end "
     "(or, for a quiet fleet, the wall clock is, plus 5 minutes). 10 minutes covers "
     "process.late_after_s (5 min, past which records are flagged late) plus a processor "
     "batch; data later still is not lost: it triggers a recomputation of the hour."},
    {"process.time_zone", FL_CFG_STRING, "UTC", 0, 0, NULL, OFF(process_time_zone),
     SZ(process_time_zone),
     "IANA time zone of the fleet (e.g. Asia/Seoul, Europe/Berlin), read from the system tz "
     "database (Debian package tzdata): local_hour, day_of_week and is_weekend of "
     "processed-data use it, daylight saving time included."},
    {"process.dedup_window_s", FL_CFG_SECONDS, "300", 0, 86400, NULL,
     OFF(process_dedup_window_s), 0,
     "A record whose (device_id, timestamp) was already processed this recently (in event "
     "time, behind the device's newest reading) is a duplicate: flagged, and the first copy "
     "wins in processed-data. Producer retries come within seconds to minutes; 5 minutes "
     "covers them."},
    {"process.dedup_max_per_device", FL_CFG_INT, "512", 0, 65536, NULL,
     OFF(process_dedup_max_per_device), 0,
     "Timestamps remembered per device for duplicate detection (8 bytes each, twice for "
     "amortised eviction: 8 KiB per device). 512 covers the 300 s window at up to one "
     "reading every 0.6 s; faster devices get a shorter effective window, never more memory."},
    {"process.late_after_s", FL_CFG_SECONDS, "300", 0, 7 * 86400, NULL, OFF(process_late_after_s),
     0,
     "A record is flagged late when its event time is more than this behind the device's "
     "newest reading or behind its own arrival in the stream. 5 minutes matches the future "
     "skew tolerated by ingest and the buffering of gateways that batch uploads."},
    {"process.anomaly_threshold", FL_CFG_STRING, "0.5", 0, 0, NULL,
     OFF(process_anomaly_threshold), SZ(process_anomaly_threshold),
     "anomaly_flag = anomaly_score >= this (a number in (0, 1]). Each detector's score is "
     "0.5 exactly at its own decision boundary (docs/anomaly.md), so 0.5 means \"any detector "
     "fired\"; raise it to alert only on clearer anomalies."},
    {"process.batch_interval_s", FL_CFG_SECONDS, "10", 1, 3600, NULL,
     OFF(process_batch_interval_s), 0,
     "Every this often each processor consumer commits everything it has processed (all "
     "hours) to processed-data in one transaction with its checkpoint and device states. "
     "10 s is the reference's Spark Streaming micro-batch: readings are in the lake within "
     "about one interval, and a shard writes at most one file per hour per interval."},
    {"process.buffer_bytes", FL_CFG_BYTES, "32MiB", 1 * MiB, 4096 * MiB, NULL,
     OFF(process_buffer_bytes), 0,
     "Processed rows a consumer buffers before it commits early. While a commit fails the "
     "consumer reads no further once this is reached (backpressure on the stream, never on "
     "ingest). 32 MiB holds about 10 s of 25,000 readings a second per shard (~120 B a row)."},
    {"process.max_devices_per_shard", FL_CFG_INT, "100000", 1, 10000000, NULL,
     OFF(process_max_devices_per_shard), 0,
     "Devices whose state one consumer keeps in memory (~0.5-2 KiB each with the dedup "
     "window: up to ~200 MiB per shard). Readings of further devices are still enriched and "
     "written, but scored without history and not tracked (counted in "
     "fleetlake_process_devices_over_limit_total): memory stays bounded under a device-id flood."},
    {"process.stale_after_s", FL_CFG_SECONDS, "60", 1, 86400, NULL, OFF(process_stale_after_s),
     0,
     "A device silent (by arrival time) for this long is 'stale'. Devices report every few "
     "seconds; a minute of silence is several missed readings, worth a look but not an outage."},
    {"process.offline_after_s", FL_CFG_SECONDS, "300", 1, 7 * 86400, NULL,
     OFF(process_offline_after_s), 0,
     "A device silent for this long is 'offline'. 5 minutes outlasts a gateway's upload "
     "buffering and a short tunnel or depot dead zone, so offline means a real outage."},
    {"query.timeout_s", FL_CFG_SECONDS, "30", 1, 3600, NULL, OFF(query_timeout_s), 0,
     "Wall time one SQL statement may run (fleetlake query, POST /v1/query) before it is "
     "stopped with the error timeout. 30 s scans tens of GiB of lake files, far beyond an "
     "interactive question, while a runaway (a recursive CTE, a huge cross join) cannot hold "
     "a server thread for long."},
    {"query.max_rows", FL_CFG_INT, "1000000", 1, 1000000000, NULL, OFF(query_max_rows), 0,
     "Result rows one statement may return; more is the error too_many_rows (add a LIMIT or "
     "aggregate). A million rows is ~100 MiB of JSON: more is an export, not a query."},
    {"query.memory_bytes", FL_CFG_BYTES, "256MiB", 1 * MiB, 64 * GiB, NULL,
     OFF(query_memory_bytes), 0,
     "SQLite heap growth one statement may cause (sorts, GROUP BY, window frames; temp "
     "storage is in memory), the bound on one decoded Parquet column chunk and on the rows "
     "one pass of a GROUP BY device_id scan holds (more takes several passes); past it the "
     "statement fails with out_of_memory. 256 MiB sorts a few million rows."},
    {"query.max_sql_bytes", FL_CFG_BYTES, "100KiB", 1 * KiB, 16 * MiB, NULL,
     OFF(query_max_sql_bytes), 0,
     "Longest SQL text accepted (SQLITE_LIMIT_SQL_LENGTH). Hand-written queries are a few "
     "KiB; 100 KiB leaves room for generated IN lists without letting a client make the "
     "parser work on megabytes."},
    {"query.max_concurrent", FL_CFG_INT, "4", 1, 256, NULL, OFF(query_max_concurrent), 0,
     "POST /v1/query statements the server runs at once; more are answered 503 busy with "
     "Retry-After. A running statement holds an HTTP worker thread (server.threads, 16) for up "
     "to query.timeout_s, so 4 leaves most threads to ingest even under a flood of slow "
     "queries."},
    {"audit.enabled", FL_CFG_ENUM, "on", 0, 0, "on|off", OFF(audit_enabled), SZ(audit_enabled),
     "Whether every API call and administrative action is appended to the hash-chained audit "
     "log in <data_dir>/audit/ (docs/security.md \"Audit trail\"). Off only for throwaway "
     "demos: nothing else records who did what."},
    {"audit.fsync", FL_CFG_ENUM, "interval", 0, 0, "entry|interval", OFF(audit_fsync),
     SZ(audit_fsync),
     "entry: every audit entry is fdatasynced before the request completes (an fsync per API "
     "call). interval: entries are synced every audit.fsync_interval_ms, so a power failure "
     "loses at most that much of the trail, and `audit verify` then reports the loss."},
    {"audit.fsync_interval_ms", FL_CFG_INT, "1000", 10, 60000, NULL,
     OFF(audit_fsync_interval_ms), 0,
     "With audit.fsync = interval, how often the log is synced; also how soon after an hour "
     "ends its signed digest is written. A second bounds the loss to about one second of "
     "requests at the cost of one fdatasync a second."},
    {"audit.hmac_key_file", FL_CFG_STRING, "", 0, 0, NULL, OFF(audit_hmac_key_file),
     SZ(audit_hmac_key_file),
     "File holding the key (64 hex digits) that signs hourly digests and HEAD. Empty: "
     "<data_dir>/audit.key, created 0600 on first use. Keep it where whoever can edit the log "
     "cannot read it, and keep a copy with your backups: `audit verify` needs it."},
    {"audit.file_bytes", FL_CFG_BYTES, "64MiB", 64 * KiB, 4 * GiB, NULL, OFF(audit_file_bytes),
     0,
     "An audit file is closed and the next started past this size (and at each UTC day). "
     "64 MiB is about 200,000 entries: small enough to copy or verify in a second, big "
     "enough that a day of ingest needs few files."},
    {"audit.retention_days", FL_CFG_INT, "400", 1, 36500, NULL, OFF(audit_retention_days), 0,
     "Audit files older than this are deleted (each deletion is itself an audit entry). "
     "400 days keeps a full year plus a month, the period most audit policies require."},
    {"audit.retention_bytes", FL_CFG_BYTES, "10GiB", 1 * MiB, 1024 * TiB, NULL,
     OFF(audit_retention_bytes), 0,
     "The oldest audit files are also deleted while the log is larger than this (the current "
     "file never): bounds the disk a flood of requests can take, at ~300 bytes an entry "
     "about 35 million entries."},
    {"throttle.enabled", FL_CFG_ENUM, "on", 0, 0, "on|off", OFF(throttle_enabled),
     SZ(throttle_enabled),
     "Token-bucket throttling of requests per caller and records per device (429 throttled "
     "with Retry-After; docs/security.md). off removes both: one client can then take the "
     "whole server."},
    {"throttle.key_rate", FL_CFG_INT, "10000", 0, 10000000, NULL, OFF(throttle_key_rate), 0,
     "Requests per second one API key may make (one client IP address when the request has "
     "no key, as with security.auth = off), on every route but /healthz, /readyz and "
     "/metrics; 0 turns this scope off. 10,000 is API Gateway's default account limit and "
     "~7x what the ingest benchmark's 4 connections send in 500-record batches, so a "
     "batching client never meets it while a request flood from one caller does."},
    {"throttle.key_burst", FL_CFG_INT, "5000", 1, 1000000000, NULL, OFF(throttle_key_burst), 0,
     "Requests a caller may make at once above key_rate (its bucket's size); 5,000 is API "
     "Gateway's default burst."},
    {"throttle.device_rate", FL_CFG_INT, "1000", 0, 10000000, NULL, OFF(throttle_device_rate),
     0,
     "Records per second accepted for one device_id, whoever sends them; more get the "
     "per-record error throttled (not dead-lettered: retry them). 0 turns this scope off. A "
     "truck reports about once a second; 1,000 is a Kinesis shard's write limit, which one "
     "partition key can never exceed there either, and is above the ~700/s per device the "
     "end-to-end benchmark's 1,000 simulated devices send flat out."},
    {"throttle.device_burst", FL_CFG_INT, "100000", 1, 1000000000, NULL,
     OFF(throttle_device_burst), 0,
     "Records one device may send at once above device_rate: a day of readings at one a "
     "second (86,400) fits, so a gateway uploading after a day offline is not throttled."},
    {"throttle.max_buckets", FL_CFG_INT, "100000", 64, 100000000, NULL,
     OFF(throttle_max_buckets), 0,
     "Callers and devices tracked per scope (~170 bytes each, allocated as used: ~17 MiB per "
     "scope when full). Beyond it, buckets that have refilled are dropped first, then the "
     "least recently used; a flood of new device ids costs CPU, never memory."},
    {"sim.demo_devices", FL_CFG_INT, "200", 1, 1000000, NULL, OFF(demo_devices), 0,
     "Trucks simulated by `serve --demo`."},
    {"sim.demo_rate", FL_CFG_INT, "200", 1, 10000000, NULL, OFF(demo_rate), 0,
     "Records per second sent by `serve --demo`."},
    {"dashboard.dir", FL_CFG_STRING, "", 0, 0, NULL, OFF(dashboard_dir), SZ(dashboard_dir),
     "Directory of the web dashboard's files (web/ of the source tree, after `make run` or "
     "scripts/install-web-npm.sh fetched its JavaScript libraries). Empty: the first of "
     "<binary>/../web, <binary>/../share/fleetlake/web and the source tree the binary was "
     "built from that holds an index.html; none found: GET / answers 404."},
    {"dashboard.max_file_bytes", FL_CFG_BYTES, "16MiB", 1 * KiB, 1 * GiB, NULL,
     OFF(dashboard_max_file_bytes), 0,
     "Largest dashboard file served; each request reads its file into memory. The largest "
     "shipped file (the map outlines) is under 1 MiB."},
    {"security.auth", FL_CFG_ENUM, "on", 0, 0, "on|off", OFF(security_auth), SZ(security_auth),
     "on: every route but /healthz needs an API key (Authorization: Bearer flk_...; create "
     "one with `fleetlake keys create`). off: no authentication at all - for demos and local "
     "tests only; serve logs a loud warning."},
    {"security.metrics_public", FL_CFG_ENUM, "off", 0, 0, "on|off", OFF(security_metrics_public),
     SZ(security_metrics_public),
     "on: GET /metrics needs no key (for a Prometheus scraper on a trusted network); off: it "
     "needs an operator, data_engineer or admin key."},
    {"security.max_keys", FL_CFG_INT, "10000", 1, 1000000, NULL, OFF(security_max_keys), 0,
     "API keys (revoked ones included) meta.db may hold; the gateway caches them all in memory "
     "(~2.5 KiB each), so this bounds that cache."},
    {"outbox.max_attempts", FL_CFG_INT, "100", 1, 100000, NULL, OFF(outbox_max_attempts), 0,
     "Delivery attempts of one notification before it is given up as failed. With the default "
     "backoff (1 s doubling to 5 min) 100 attempts span about 8 hours of receiver outage."},
    {"outbox.max_age_s", FL_CFG_SECONDS, "86400", 60, 30 * 86400, NULL, OFF(outbox_max_age_s), 0,
     "A notification still undelivered this long after it was enqueued is given up as failed: "
     "a day-old page helps nobody, and the alert itself stays in GET /v1/alerts."},
    {"outbox.retry_initial_ms", FL_CFG_INT, "1000", 10, 3600000, NULL,
     OFF(outbox_retry_initial_ms), 0,
     "Backoff after the first failed attempt; it doubles with each further failure up to "
     "outbox.retry_max_s, and each wait is drawn between half and all of that (jitter, so "
     "many notifications do not retry in lockstep). 1 s rides over a receiver restart."},
    {"outbox.retry_max_s", FL_CFG_SECONDS, "300", 1, 86400, NULL, OFF(outbox_retry_max_s), 0,
     "Longest wait between two attempts: 5 minutes keeps a long outage to a dozen attempts "
     "an hour while a recovered receiver gets its backlog within minutes."},
    {"outbox.poll_interval_ms", FL_CFG_INT, "1000", 10, 60000, NULL, OFF(outbox_poll_interval_ms),
     0,
     "The dispatcher is woken at once when an alert is committed; it also looks for due "
     "notifications this often, a fallback for rows written by another process."},
    {"outbox.retention_days", FL_CFG_INT, "7", 1, 3650, NULL, OFF(outbox_retention_days), 0,
     "Delivered and failed notifications are kept this long in meta.db's notify_outbox (for "
     "`fleetlake query`-style inspection and post-mortems), then deleted; pending ones are "
     "never deleted."},
};
const size_t fl_config_table_len = sizeof fl_config_table / sizeof fl_config_table[0];

static const fl_config_entry *find_entry(const char *name)
{
    for (size_t i = 0; i < fl_config_table_len; i++)
        if (strcmp(fl_config_table[i].name, name) == 0)
            return &fl_config_table[i];
    return NULL;
}

static int parse_bytes(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0 || errno)
        return -1;
    static const struct {
        const char *suffix;
        int64_t mult;
    } units[] = {{"", 1},          {"B", 1},          {"K", KiB},   {"KiB", KiB}, {"KB", KiB},
                 {"M", MiB},       {"MiB", MiB},      {"MB", MiB},  {"G", GiB},   {"GiB", GiB},
                 {"GB", GiB},      {"T", TiB},        {"TiB", TiB}, {"TB", TiB}};
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > INT64_MAX / units[i].mult)
                return -1;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static int enum_allows(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Parse value for entry e into the struct at base (fl_config or one instance struct); name
 * is the full key for messages. */
static int set_field(void *base, const fl_config_entry *e, const char *name, const char *value,
                     char *err, size_t errlen)
{
    char *field = (char *)base + e->offset;
    int64_t v = 0;
    switch (e->type) {
    case FL_CFG_STRING:
    case FL_CFG_ENUM:
        if (e->type == FL_CFG_ENUM && !enum_allows(e->choices, value)) {
            snprintf(err, errlen, "%s: '%s' is not one of %s", name, value, e->choices);
            return FL_ECONFIG;
        }
        if (strlen(value) >= e->size) {
            snprintf(err, errlen, "%s: value longer than %zu bytes", name, e->size - 1);
            return FL_ECONFIG;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case FL_CFG_INT: {
        char *end;
        errno = 0;
        long long ll = strtoll(value, &end, 10);
        if (end == value || *end || errno) {
            snprintf(err, errlen, "%s: '%s' is not an integer", name, value);
            return FL_ECONFIG;
        }
        v = ll;
        break;
    }
    case FL_CFG_BYTES:
        if (parse_bytes(value, &v)) {
            snprintf(err, errlen, "%s: '%s' is not a size (e.g. 4096, 64KiB, 8MiB, 1GiB)", name,
                     value);
            return FL_ECONFIG;
        }
        break;
    case FL_CFG_SECONDS: {
        int64_t us;
        if (fl_time_parse_duration(value, &us) || us % FL_US_PER_SEC) {
            snprintf(err, errlen, "%s: '%s' is not a whole number of seconds (e.g. 30, 5m, 24h)",
                     name, value);
            return FL_ECONFIG;
        }
        v = us / FL_US_PER_SEC;
        break;
    }
    }
    if (v < e->min || v > e->max) {
        snprintf(err, errlen, "%s: %" PRId64 " is outside %" PRId64 "..%" PRId64, name, v, e->min,
                 e->max);
        return FL_ECONFIG;
    }
    memcpy(field, &v, sizeof v);
    return 0;
}

/* ---- named instances: [prefix.NAME] sections --------------------------------------------- */

#define IOFF(t, f) offsetof(t, f)
#define ISZ(t, f) sizeof(((t *)0)->f)

static const fl_config_entry fleet_entries[] = {
    {"devices", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_fleet_config, devices),
     ISZ(fl_fleet_config, devices),
     "Comma-separated glob patterns (*, ?, [..]) of the device ids in this fleet, e.g. "
     "truck-*,van-0??. A device may belong to several fleets. API keys limited to fleets "
     "(`keys create --fleet NAME`) see only their fleets' devices."},
};

static const fl_config_entry role_entries[] = {
    {"query_timeout_s", FL_CFG_SECONDS, "0", 0, 86400, NULL,
     IOFF(fl_role_config, query_timeout_s), 0,
     "Time limit of one SQL statement for keys of this role; 0 = query.timeout_s."},
    {"query_max_rows", FL_CFG_INT, "0", 0, 1000000000, NULL, IOFF(fl_role_config, query_max_rows),
     0, "Result rows of one statement for this role; 0 = query.max_rows."},
    {"query_memory_bytes", FL_CFG_BYTES, "0", 0, 64 * GiB, NULL,
     IOFF(fl_role_config, query_memory_bytes), 0,
     "SQLite memory of one statement for this role; 0 = query.memory_bytes."},
};

#define R(f) IOFF(fl_rule_config, f)
#define RS(f) ISZ(fl_rule_config, f)
static const fl_config_entry rule_entries[] = {
    {"type", FL_CFG_ENUM, "threshold", 0, 0, "anomaly|threshold|offline|quality|pipeline",
     R(type), RS(type),
     "anomaly: the processor flagged a reading; threshold: a reading's field compared with a "
     "value for `count` readings in a row; offline: a device silent for after_s; quality: a "
     "device's hourly data_quality_score compared with value (use op = <); pipeline: one of "
     "fleetlake's own signals (field) compared with value for after_s."},
    {"severity", FL_CFG_ENUM, "warning", 0, 0, "info|warning|critical", R(severity),
     RS(severity), "Severity of the alerts it opens (channels route by it)."},
    {"field", FL_CFG_STRING, "", 0, 0, NULL, R(field), RS(field),
     "threshold: temperature | humidity | pressure | anomaly_score. pipeline: consumer_lag "
     "(records), freshness_s, ingest_error_rate (0-1), availability (0-1, non-5xx share of "
     "responses), free_disk (0-1), fsync_latency_ms (mean), ingest_rate (records/s)."},
    {"op", FL_CFG_ENUM, ">", 0, 0, ">|>=|<|<=", R(op), RS(op),
     "Comparison that makes the condition true: field op value."},
    {"value", FL_CFG_STRING, "0", 0, 0, NULL, R(value), RS(value), "The number compared with."},
    {"count", FL_CFG_INT, "1", 1, 1000000, NULL, R(count), 0,
     "threshold: readings in a row that must meet the condition before the alert opens."},
    {"clear_count", FL_CFG_INT, "3", 1, 1000000, NULL, R(clear_count), 0,
     "anomaly/threshold: normal readings in a row that resolve the alert automatically."},
    {"after_s", FL_CFG_SECONDS, "0", 0, 30 * 86400, NULL, R(after_s), 0,
     "offline: silence before a device is offline (0 = process.offline_after_s). pipeline: "
     "how long the condition must hold (and stay clear) before the alert opens (resolves)."},
    {"cooldown_s", FL_CFG_SECONDS, "60", 0, 30 * 86400, NULL, R(cooldown_s), 0,
     "After an alert of this rule and device resolves, the same condition does not open a new "
     "one for this long (a flapping sensor makes one alert, not a thousand)."},
    {"renotify_s", FL_CFG_SECONDS, "0", 0, 30 * 86400, NULL, R(renotify_s), 0,
     "Notify again every this long while the alert is open and unacknowledged; 0 = never."},
    {"fleets", FL_CFG_STRING, "", 0, 0, NULL, R(fleets), RS(fleets),
     "Comma-separated [fleet.NAME]s this rule watches; empty = every device."},
    {"enabled", FL_CFG_ENUM, "on", 0, 0, "on|off", R(enabled), RS(enabled),
     "off disables the rule (also a built-in default rule of the same name)."},
};

static const fl_config_entry channel_entries[] = {
    {"type", FL_CFG_ENUM, "webhook", 0, 0, "webhook|slack|pagerduty|email",
     IOFF(fl_channel_config, type), ISZ(fl_channel_config, type),
     "webhook: the alert JSON POSTed to url; slack: a Slack incoming webhook; pagerduty: "
     "PagerDuty Events API v2 (trigger, acknowledge, resolve sharing the alert's dedup_key); "
     "email: SMTP through url."},
    {"url", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, url),
     ISZ(fl_channel_config, url),
     "http(s):// endpoint (pagerduty: empty = https://events.pagerduty.com/v2/enqueue); for "
     "email smtp://host:port or smtps://host:port."},
    {"routing_key", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, routing_key),
     ISZ(fl_channel_config, routing_key),
     "pagerduty: the integration key of an Events API v2 integration (required)."},
    {"from", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, from),
     ISZ(fl_channel_config, from), "email: the sender address (required)."},
    {"to", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, to), ISZ(fl_channel_config, to),
     "email: comma-separated recipient addresses (required)."},
    {"starttls", FL_CFG_ENUM, "on", 0, 0, "on|off", IOFF(fl_channel_config, starttls),
     ISZ(fl_channel_config, starttls),
     "email over smtp://: on requires STARTTLS (the mail is never sent in clear); off sends "
     "without TLS, for a relay on the same host. smtps:// is TLS from the start either way."},
    {"username", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, username),
     ISZ(fl_channel_config, username),
     "email: SMTP AUTH user name for relays that need a login (most submission ports, 587); "
     "empty: no AUTH. Needs password_file."},
    {"password_file", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, password_file),
     ISZ(fl_channel_config, password_file),
     "email: a file holding the SMTP AUTH password (its first line), readable by the server's "
     "user only (mode 0600 or 0400: refused otherwise), so the password is in no config text, "
     "command line or log. Read at each delivery: rotate it by rewriting the file."},
    {"ca_file", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, ca_file),
     ISZ(fl_channel_config, ca_file),
     "PEM file of the CA certificate(s) this channel trusts for its TLS connection (https://, "
     "smtps://, smtp:// with STARTTLS), instead of the system's CA store: a receiver or relay "
     "with a private CA or a self-signed certificate. The host name is checked either way. "
     "Empty: the system's CA store."},
    {"client_cert_file", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, client_cert_file),
     ISZ(fl_channel_config, client_cert_file),
     "PEM client certificate (chain, leaf first) shown to a receiver or relay that requires "
     "mutual TLS. Needs client_key_file."},
    {"client_key_file", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, client_key_file),
     ISZ(fl_channel_config, client_key_file),
     "The unencrypted PEM private key of client_cert_file; not readable by others (mode 0600, "
     "0640 or 0400: refused otherwise)."},
    {"min_severity", FL_CFG_ENUM, "info", 0, 0, "info|warning|critical",
     IOFF(fl_channel_config, min_severity), ISZ(fl_channel_config, min_severity),
     "Only alerts of this severity or higher are sent to this channel."},
    {"fleets", FL_CFG_STRING, "", 0, 0, NULL, IOFF(fl_channel_config, fleets),
     ISZ(fl_channel_config, fleets),
     "Comma-separated [fleet.NAME]s: only alerts about devices of these fleets are sent here. "
     "Empty: every alert, pipeline alarms (no device) included."},
    {"rate_per_min", FL_CFG_INT, "60", 0, 6000, NULL, IOFF(fl_channel_config, rate_per_min), 0,
     "Most delivery attempts in any 60 s window; more wait their turn in the outbox (0 = no "
     "limit). 60 matches Slack's one message a second per webhook; PagerDuty allows about "
     "120 events a minute per integration key."},
    {"timeout_s", FL_CFG_SECONDS, "10", 1, 300, NULL, IOFF(fl_channel_config, timeout_s), 0,
     "Time limit of one delivery attempt (connect, TLS, request and answer); a slow receiver "
     "delays only its own channel's queue."},
};

const fl_config_instance_type fl_config_instance_types[] = {
    {"fleet", fleet_entries, sizeof fleet_entries / sizeof fleet_entries[0],
     sizeof(fl_fleet_config), FL_CONFIG_MAX_FLEETS, OFF(fleets), OFF(fleet_count),
     IOFF(fl_fleet_config, name), ISZ(fl_fleet_config, name),
     "Fleets: which devices belong together, for API keys limited to fleets (docs/security.md).",
     "[fleet.seoul]\ndevices = truck-*,van-*"},
    {"role", role_entries, sizeof role_entries / sizeof role_entries[0], sizeof(fl_role_config),
     FL_CONFIG_MAX_ROLES, OFF(roles), OFF(role_count), IOFF(fl_role_config, name),
     ISZ(fl_role_config, name),
     "Per-role SQL caps (the sandbox of POST /v1/query): NAME is a role (developer, "
     "data_engineer, data_analyst, ...); 0 keeps the [query] value. A cap above [query]'s is "
     "lowered to it.",
     "[role.developer]\nquery_timeout_s = 10\nquery_max_rows = 10000\nquery_memory_bytes = 64MiB"},
    {"rule", rule_entries, sizeof rule_entries / sizeof rule_entries[0], sizeof(fl_rule_config),
     FL_CONFIG_MAX_RULES, OFF(rules), OFF(rule_count), IOFF(fl_rule_config, name),
     ISZ(fl_rule_config, name),
     "Alert rules (docs/alerts.md). Built-in rules exist from the start; change any key of "
     "one, or switch it off with enabled = off: anomaly (type anomaly, warning), "
     "pipeline_freshness (freshness_s > 30 for 60 s, critical), pipeline_error_rate "
     "(ingest_error_rate > 0.01 for 300 s, warning), pipeline_availability (availability < "
     "0.999 for 300 s, critical), pipeline_consumer_lag (consumer_lag > 1000000 for 60 s, "
     "warning), pipeline_free_disk (free_disk < 0.1 for 60 s, critical), "
     "pipeline_fsync_latency (fsync_latency_ms > 500 for 60 s, warning). `serve "
     "--print-config` lists them. Rules can also be made while serve runs through "
     "/v1/rules (stored in meta.db); a NAME defined here belongs to the configuration.",
     "[rule.hot_cargo]\ntype = threshold\nfield = temperature\nop = >\nvalue = 8\ncount = 3\n"
     "severity = critical\nfleets = seoul"},
    {"channel", channel_entries, sizeof channel_entries / sizeof channel_entries[0],
     sizeof(fl_channel_config), FL_CONFIG_MAX_CHANNELS, OFF(channels), OFF(channel_count),
     IOFF(fl_channel_config, name), ISZ(fl_channel_config, name),
     "Notification channels (the SNS topics and subscriptions role): where alerts are sent, "
     "routed by severity and fleet, delivered through a persistent outbox with retries "
     "(docs/alerts.md \"Channels\"). Checked when serve starts.",
     "[channel.ops]\ntype = slack\nurl = https://hooks.slack.com/services/T000/B000/XXXX\n"
     "min_severity = warning\n\n[channel.oncall]\ntype = pagerduty\nrouting_key = "
     "0123456789abcdef0123456789abcdef\nmin_severity = critical\nfleets = seoul\n\n"
     "[channel.mail]\ntype = email\nurl = smtp://mail.example.net:587\nfrom = "
     "fleetlake@example.net\nto = ops@example.net,fleet@example.net"},
};
const size_t fl_config_instance_type_count =
    sizeof fl_config_instance_types / sizeof fl_config_instance_types[0];

/* Fill inst with the defaults of it and the name (nlen bytes, already checked). */
static void instance_defaults(const fl_config_instance_type *it, char *inst, const char *name,
                              size_t nlen)
{
    memset(inst, 0, it->instance_size);
    char errd[8];
    for (size_t i = 0; i < it->entry_count; i++) /* defaults cannot fail */
        (void)set_field(inst, &it->entries[i], it->entries[i].name, it->entries[i].default_value,
                        errd, sizeof errd);
    memcpy(inst + it->name_offset, name, nlen);
    inst[it->name_offset + nlen] = 0;
}

static const fl_config_instance_type *instance_type(const char *prefix)
{
    for (size_t t = 0; t < fl_config_instance_type_count; t++)
        if (strcmp(fl_config_instance_types[t].prefix, prefix) == 0)
            return &fl_config_instance_types[t];
    return NULL;
}

static int valid_instance_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* "prefix.NAME.key": find or add instance NAME and set key. FL_ENOTFOUND when name has no
 * instance prefix (the caller reports an unknown key). */
static int set_instance_value(fl_config *cfg, const char *name, const char *value, char *err,
                              size_t errlen)
{
    const char *dot1 = strchr(name, '.');
    const char *dot2 = strrchr(name, '.');
    if (!dot1 || dot1 == dot2)
        return FL_ENOTFOUND;
    for (size_t t = 0; t < fl_config_instance_type_count; t++) {
        const fl_config_instance_type *it = &fl_config_instance_types[t];
        size_t plen = strlen(it->prefix);
        if ((size_t)(dot1 - name) != plen || strncmp(name, it->prefix, plen) != 0)
            continue;
        const char *iname = dot1 + 1;
        size_t nlen = (size_t)(dot2 - iname);
        if (!valid_instance_name(iname, nlen) || nlen >= it->name_size) {
            snprintf(err, errlen, "%s: instance name '%.*s' must be 1-%zu of [A-Za-z0-9_-]", name,
                     (int)nlen, iname, it->name_size - 1);
            return FL_ECONFIG;
        }
        const fl_config_entry *e = NULL;
        for (size_t i = 0; i < it->entry_count; i++)
            if (strcmp(it->entries[i].name, dot2 + 1) == 0)
                e = &it->entries[i];
        if (!e) {
            snprintf(err, errlen, "unknown config key '%s' ([%s.NAME] has no key '%s')", name,
                     it->prefix, dot2 + 1);
            return FL_ECONFIG;
        }
        char *array = (char *)cfg + it->array_offset;
        int64_t *count = (int64_t *)((char *)cfg + it->count_offset);
        char *inst = NULL;
        for (int64_t i = 0; i < *count; i++) {
            char *cand = array + (size_t)i * it->instance_size;
            const char *cname = cand + it->name_offset;
            if (strlen(cname) == nlen && strncmp(cname, iname, nlen) == 0)
                inst = cand;
        }
        if (inst)
            return set_field(inst, e, name, value, err, errlen);
        if (*count >= (int64_t)it->max_instances) {
            snprintf(err, errlen, "%s: more than %zu [%s.NAME] sections", name,
                     it->max_instances, it->prefix);
            return FL_ECONFIG;
        }
        /* A new instance: defaults, then the key; it exists only if the key was valid. */
        inst = array + (size_t)*count * it->instance_size;
        instance_defaults(it, inst, iname, nlen);
        int rc = set_field(inst, e, name, value, err, errlen);
        if (rc)
            memset(inst, 0, it->instance_size);
        else
            (*count)++;
        return rc;
    }
    return FL_ENOTFOUND;
}

int fl_config_set_value(fl_config *cfg, const char *name, const char *value, char *err,
                        size_t errlen)
{
    const fl_config_entry *e = find_entry(name);
    if (e)
        return set_field(cfg, e, name, value, err, errlen);
    int rc = set_instance_value(cfg, name, value, err, errlen);
    if (rc == FL_ENOTFOUND) {
        snprintf(err, errlen, "unknown config key '%.200s'", name);
        return FL_ECONFIG;
    }
    return rc;
}

int fl_config_instance_init(const char *prefix, void *inst, const char *name, char *err,
                            size_t errlen)
{
    const fl_config_instance_type *it = instance_type(prefix);
    if (!it)
        return FL_ENOTFOUND;
    size_t n = strlen(name);
    if (!valid_instance_name(name, n) || n >= it->name_size) {
        snprintf(err, errlen, "name '%.80s' must be 1-%zu of [A-Za-z0-9_-]", name,
                 it->name_size - 1);
        return FL_ECONFIG;
    }
    instance_defaults(it, inst, name, n);
    return 0;
}

int fl_config_instance_set(const char *prefix, void *inst, const char *key, const char *value,
                           char *err, size_t errlen)
{
    const fl_config_instance_type *it = instance_type(prefix);
    if (!it)
        return FL_ENOTFOUND;
    for (size_t i = 0; i < it->entry_count; i++)
        if (strcmp(it->entries[i].name, key) == 0)
            return set_field(inst, &it->entries[i], key, value, err, errlen);
    snprintf(err, errlen, "unknown key '%.80s'", key);
    return FL_ECONFIG;
}

/* Built-in named instances, present unless the configuration changes or disables them
 * (`[rule.NAME] enabled = off`): the alert rules every installation starts with — anomaly
 * alerts, and the reference's §10.2 targets as pipeline alarms. */
static const char *const builtin_instances[] = {
    "rule.anomaly.type=anomaly",
    "rule.pipeline_freshness.type=pipeline",
    "rule.pipeline_freshness.field=freshness_s",
    "rule.pipeline_freshness.value=30",
    "rule.pipeline_freshness.after_s=60",
    "rule.pipeline_freshness.severity=critical",
    "rule.pipeline_error_rate.type=pipeline",
    "rule.pipeline_error_rate.field=ingest_error_rate",
    "rule.pipeline_error_rate.value=0.01",
    "rule.pipeline_error_rate.after_s=300",
    "rule.pipeline_availability.type=pipeline",
    "rule.pipeline_availability.field=availability",
    "rule.pipeline_availability.op=<",
    "rule.pipeline_availability.value=0.999",
    "rule.pipeline_availability.after_s=300",
    "rule.pipeline_availability.severity=critical",
    "rule.pipeline_consumer_lag.type=pipeline",
    "rule.pipeline_consumer_lag.field=consumer_lag",
    "rule.pipeline_consumer_lag.value=1000000",
    "rule.pipeline_consumer_lag.after_s=60",
    "rule.pipeline_free_disk.type=pipeline",
    "rule.pipeline_free_disk.field=free_disk",
    "rule.pipeline_free_disk.op=<",
    "rule.pipeline_free_disk.value=0.1",
    "rule.pipeline_free_disk.after_s=60",
    "rule.pipeline_free_disk.severity=critical",
    "rule.pipeline_fsync_latency.type=pipeline",
    "rule.pipeline_fsync_latency.field=fsync_latency_ms",
    "rule.pipeline_fsync_latency.value=500",
    "rule.pipeline_fsync_latency.after_s=60",
};

int fl_config_instance_builtin(const char *prefix, const char *name)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    for (size_t i = 0; i < sizeof builtin_instances / sizeof builtin_instances[0]; i++) {
        const char *b = builtin_instances[i];
        if (strncmp(b, prefix, pl) == 0 && b[pl] == '.' && strncmp(b + pl + 1, name, nl) == 0 &&
            b[pl + 1 + nl] == '.')
            return 1;
    }
    return 0;
}

void fl_config_defaults(fl_config *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < fl_config_table_len; i++) {
        int rc = fl_config_set_value(cfg, fl_config_table[i].name, fl_config_table[i].default_value,
                                     err, sizeof err);
        if (rc) { /* a bad default is a programmer error */
            fprintf(stderr, "BUG: default of %s: %s\n", fl_config_table[i].name, err);
            abort();
        }
    }
    for (size_t i = 0; i < sizeof builtin_instances / sizeof builtin_instances[0]; i++)
        if (fl_config_set(cfg, builtin_instances[i], err, sizeof err)) {
            fprintf(stderr, "BUG: built-in %s: %s\n", builtin_instances[i], err);
            abort();
        }
}

struct load_ctx {
    fl_config *cfg;
    char *err;
    size_t errlen;
    int failed;
};

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
    struct load_ctx *ctx = user;
    char name[256];
    if (ctx->failed)
        return 0;
    snprintf(name, sizeof name, "%s.%s", section, key);
    if (fl_config_set_value(ctx->cfg, name, value, ctx->err, ctx->errlen)) {
        ctx->failed = 1;
        return 0;
    }
    return 1;
}

int fl_config_load_file(fl_config *cfg, const char *path, char *err, size_t errlen)
{
    struct load_ctx ctx = {cfg, err, errlen, 0};
    char inner[512] = "";
    ctx.err = inner;
    ctx.errlen = sizeof inner;
    int r = ini_parse(path, on_ini_entry, &ctx);
    if (r == -1) {
        snprintf(err, errlen, "%s: cannot open config file", path);
        return FL_ECONFIG;
    }
    if (r != 0) {
        if (ctx.failed)
            snprintf(err, errlen, "%s:%d: %s", path, r, inner);
        else
            snprintf(err, errlen, "%s:%d: syntax error", path, r);
        return FL_ECONFIG;
    }
    return 0;
}

int fl_config_set(fl_config *cfg, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        snprintf(err, errlen, "--set '%s': expected section.key=value", assignment);
        return FL_ECONFIG;
    }
    char name[256];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name) {
        snprintf(err, errlen, "--set: key too long");
        return FL_ECONFIG;
    }
    memcpy(name, assignment, n);
    name[n] = 0;
    return fl_config_set_value(cfg, name, eq + 1, err, errlen);
}

static void format_value(const void *base, const fl_config_entry *e, char *buf, size_t n)
{
    const char *field = (const char *)base + e->offset;
    if (e->type == FL_CFG_STRING || e->type == FL_CFG_ENUM) {
        snprintf(buf, n, "%s", field);
    } else {
        int64_t v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%" PRId64, v);
    }
}

void fl_config_dump(const fl_config *cfg, FILE *out)
{
    char v[4200];
    for (size_t i = 0; i < fl_config_table_len; i++) {
        format_value(cfg, &fl_config_table[i], v, sizeof v);
        fprintf(out, "%s = %s\n", fl_config_table[i].name, v);
    }
    for (size_t t = 0; t < fl_config_instance_type_count; t++) {
        const fl_config_instance_type *it = &fl_config_instance_types[t];
        const char *array = (const char *)cfg + it->array_offset;
        int64_t count;
        memcpy(&count, (const char *)cfg + it->count_offset, sizeof count);
        for (int64_t i = 0; i < count; i++) {
            const char *inst = array + (size_t)i * it->instance_size;
            for (size_t k = 0; k < it->entry_count; k++) {
                format_value(inst, &it->entries[k], v, sizeof v);
                fprintf(out, "%s.%s.%s = %s\n", it->prefix, inst + it->name_offset,
                        it->entries[k].name, v);
            }
        }
    }
}

/* Wrap a description at ~90 columns as "; " comment lines. */
static void write_comment(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t len = strlen(p);
        size_t cut = len;
        if (len > 90) {
            cut = 90;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = 90;
        }
        fprintf(out, "; %.*s\n", (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

void fl_config_write_sample(FILE *out)
{
    fprintf(out, "; fleetlake.conf.example - every configuration key, with its default.\n"
                 "; Generated from the table in src/core/config.c (`fleetlake serve "
                 "--print-sample-config`);\n"
                 "; a unit test keeps the two identical. Any key can be overridden on the "
                 "command line with\n"
                 "; --set section.key=value. Sizes take KiB/MiB/GiB/TiB; durations take "
                 "s/m/h/d.\n");
    char section[64] = "";
    for (size_t i = 0; i < fl_config_table_len; i++) {
        const fl_config_entry *e = &fl_config_table[i];
        const char *dot = strchr(e->name, '.');
        size_t slen = (size_t)(dot - e->name);
        if (strlen(section) != slen || strncmp(section, e->name, slen) != 0) {
            snprintf(section, sizeof section, "%.*s", (int)slen, e->name);
            fprintf(out, "\n[%s]\n", section);
        }
        write_comment(out, e->description);
        if (e->type == FL_CFG_ENUM)
            fprintf(out, "; one of: %s\n", e->choices);
        fprintf(out, "%s = %s\n", dot + 1, e->default_value);
    }
    for (size_t t = 0; t < fl_config_instance_type_count; t++) {
        const fl_config_instance_type *it = &fl_config_instance_types[t];
        char line[1200];
        fprintf(out, "\n");
        snprintf(line, sizeof line, "[%s.NAME] sections (up to %zu): %s", it->prefix,
                 it->max_instances, it->description);
        write_comment(out, line);
        for (size_t k = 0; k < it->entry_count; k++) {
            const fl_config_entry *e = &it->entries[k];
            snprintf(line, sizeof line, "  %s (default %s): %s", e->name,
                     e->default_value[0] ? e->default_value : "empty", e->description);
            write_comment(out, line);
        }
        fprintf(out, "; example:\n");
        for (const char *p = it->example; *p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(out, ";%.*s\n", (int)len, p);
            p += len + (nl ? 1 : 0);
        }
    }
}
