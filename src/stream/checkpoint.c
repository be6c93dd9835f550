/* checkpoint.c — named consumer checkpoints (the KCL lease table's checkpoint column) in the
 * caller's SQLite database, so a consumer commits "processed up to seq N of shard S" in the
 * same transaction as the output it derived (exactly-once into the lake, DESIGN.md §5).
 * The SQL is kept portable to PostgreSQL (standard types, INSERT ... ON CONFLICT DO UPDATE)
 * because the catalog may move there when fleetlake scales out. */
#include <stdint.h>

#include "stream/stream.h"

static const char *const create_sql =
    "CREATE TABLE IF NOT EXISTS stream_checkpoints ("
    " consumer TEXT NOT NULL,"
    " shard INTEGER NOT NULL,"
    " seq BIGINT NOT NULL,"        /* BIGINT: PostgreSQL's INTEGER is 32-bit */
    " updated_at BIGINT NOT NULL," /* µs since the epoch, UTC */
    " PRIMARY KEY (consumer, shard))";

static const char *const save_sql =
    "INSERT INTO stream_checkpoints (consumer, shard, seq, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (consumer, shard) DO UPDATE SET seq = excluded.seq,"
    " updated_at = excluded.updated_at";

static const char *const load_sql =
    "SELECT seq FROM stream_checkpoints WHERE consumer = ? AND shard = ?";

int fl_stream_checkpoint_init(sqlite3 *db)
{
    if (!db)
        return FL_EINVAL;
    return sqlite3_exec(db, create_sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : FL_ESQLITE;
}

int fl_stream_checkpoint_save(sqlite3 *db, const char *consumer, uint32_t shard, uint64_t seq)
{
    if (!db || !consumer || seq > INT64_MAX)
        return FL_EINVAL;
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(db, save_sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_bind_text(st, 1, consumer, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, shard) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, (sqlite3_int64)seq) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, fl_time_now_us()) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

int fl_stream_checkpoint_load(sqlite3 *db, const char *consumer, uint32_t shard, uint64_t *seq)
{
    if (!db || !consumer || !seq)
        return FL_EINVAL;
    sqlite3_stmt *st = NULL;
    int rc = FL_ESQLITE;
    if (sqlite3_prepare_v2(db, load_sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_bind_text(st, 1, consumer, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, shard) != SQLITE_OK)
        goto out;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        sqlite3_int64 v = sqlite3_column_int64(st, 0);
        rc = v < 0 ? FL_ECORRUPT : 0;
        if (!rc)
            *seq = (uint64_t)v;
    } else if (step == SQLITE_DONE) {
        rc = FL_ENOTFOUND;
    }
out:
    sqlite3_finalize(st);
    return rc;
}
