#!/usr/bin/env node
// duck.js — run SQL in an in-memory DuckDB and print the result as JSON, for the integration
// and fault tests (python stdlib cannot read Parquet; DuckDB is the independent oracle).
//
//   node tests/lib/duck.js "SELECT count(*) AS n FROM read_parquet('dir/**/*.parquet')"
//   -> [{"n":123}]
//
// Several statements may be given as separate arguments; the rows of the last one are printed.
// BIGINTs become JSON numbers when they are safe integers and strings otherwise; timestamps
// become µs since the epoch (as numbers), blobs become arrays of byte values, so a caller can
// compare exact values. The package comes from tests/interop (scripts/install-test-npm.sh).
'use strict';
const path = require('path');

function load() {
  const dir = path.join(__dirname, '..', 'interop', 'node_modules', '@duckdb', 'node-api');
  try {
    return require(dir);
  } catch (e) {
    process.stderr.write(`duck.js: cannot load @duckdb/node-api from ${dir} ` +
                         `(run scripts/install-test-npm.sh): ${e.message}\n`);
    process.exit(3);
  }
}

function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v) : v.toString();
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return Array.from(v);
  if (typeof v === 'object') {
    if ('micros' in v && typeof v.micros === 'bigint') return plain(v.micros);
    if ('bytes' in v && v.bytes instanceof Uint8Array) return Array.from(v.bytes);
    if ('days' in v && Object.keys(v).length === 1) return v.days;
    if (typeof v.toDouble === 'function') return v.toDouble();
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

async function main() {
  const sqls = process.argv.slice(2);
  if (sqls.length === 0) {
    process.stderr.write('usage: node duck.js "SQL" ["SQL" ...]\n');
    process.exit(2);
  }
  const { DuckDBInstance } = load();
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  let rows = [];
  for (const sql of sqls) {
    const reader = await conn.runAndReadAll(sql);
    rows = reader.getRowObjects().map((r) => {
      const o = {};
      for (const [k, v] of Object.entries(r)) o[k] = plain(v);
      return o;
    });
  }
  process.stdout.write(JSON.stringify(rows) + '\n');
}

main().catch((e) => {
  process.stderr.write(`duck.js: ${e.message}\n`);
  process.exit(1);
});
