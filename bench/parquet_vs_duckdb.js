#!/usr/bin/env node
// parquet_vs_duckdb.js — the DuckDB side of bench/parquet_vs_duckdb.py (run by it; see there and
// docs/PERFORMANCE.md). Given our bench files, it
//   1. loads our SNAPPY file into an in-memory table (so no write timing includes reading),
//   2. times COPY tbl TO '<out>/duckdb_<codec>.parquet' (FORMAT parquet, COMPRESSION <codec>)
//      for each codec, best of `repeat`, with SET threads=1 (per core) and with the default
//      thread count,
//   3. times SELECT count(*), sum(length(device_id)), max(timestamp), sum(temperature) over our
//      file of each codec and over its own, single thread, best of `repeat`,
// and prints one JSON object. Usage: node parquet_vs_duckdb.js '{"files": {"snappy": path, ...},
// "out_dir": dir, "repeat": 3}'. DuckDB comes from tests/interop (scripts/install-test-npm.sh).
'use strict';
const fs = require('fs');
const path = require('path');

const api = require(path.join(__dirname, '..', 'tests', 'interop', 'node_modules', '@duckdb',
                              'node-api'));

function seconds(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function lit(s) {
  return "'" + s.replace(/'/g, "''") + "'";
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const repeat = cfg.repeat || 3;
  const instance = await api.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const rows = async (sql) => (await conn.runAndReadAll(sql)).getRowObjects();
  const best = async (sql) => {
    let b = Infinity;
    let result = null;
    for (let i = 0; i < repeat; i++) {
      const t0 = process.hrtime.bigint();
      result = await rows(sql);
      b = Math.min(b, seconds(t0));
    }
    return [b, result];
  };
  const out = { version: (await rows('SELECT version() AS v'))[0].v, write: [], scan: [] };
  out.default_threads = Number((await rows("SELECT current_setting('threads') AS t"))[0].t);
  await rows('SET threads=1');
  let t0 = process.hrtime.bigint();
  await rows(`CREATE TABLE tbl AS SELECT * FROM read_parquet(${lit(cfg.files.snappy)})`);
  out.load_s = seconds(t0);
  out.rows = Number((await rows('SELECT count(*) AS n FROM tbl'))[0].n);
  for (const threads of [1, out.default_threads]) {
    await rows(`SET threads=${threads}`);
    for (const codec of Object.keys(cfg.files)) {
      const file = path.join(cfg.out_dir, `duckdb_${codec}.parquet`);
      const [s] = await best(`COPY tbl TO ${lit(file)} (FORMAT parquet, COMPRESSION ${codec})`);
      out.write.push({ codec, threads, write_s: s, bytes: fs.statSync(file).size, path: file });
    }
  }
  await rows('SET threads=1');
  const scanSql = (file) =>
    'SELECT count(*) AS n, sum(length(device_id)) AS device_id_bytes, ' +
    'epoch_us(max(timestamp)) AS max_timestamp_us, sum(temperature) AS temperature_sum ' +
    `FROM read_parquet(${lit(file)})`;
  for (const [codec, file] of Object.entries(cfg.files)) {
    for (const [whose, f] of [['fleetlake', file],
                              ['duckdb', path.join(cfg.out_dir, `duckdb_${codec}.parquet`)]]) {
      const [s, r] = await best(scanSql(f));
      out.scan.push({ codec, file_by: whose, threads: 1, scan_s: s, path: f,
                      rows: Number(r[0].n), device_id_bytes: Number(r[0].device_id_bytes),
                      max_timestamp_us: r[0].max_timestamp_us.toString(),
                      temperature_sum: Number(r[0].temperature_sum) });
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`parquet_vs_duckdb.js: ${e.stack || e.message}\n`);
  process.exit(1);
});
