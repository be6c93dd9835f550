#!/usr/bin/env node
// bench_query.js — DuckDB's side of the query benchmark (bench/bench_query.py): in-process
// DuckDB (@duckdb/node-api from tests/interop) runs each statement once to warm up and then
// `repeat` timed times, with `threads` threads, and prints one JSON line per statement:
//   {"times_ms": [...], "rows": [[...], ...]}
// Values are made comparable with fleetlake's JSON output: BIGINT/HUGEINT as numbers,
// timestamps as µs since the epoch, DECIMAL as doubles.
//   node bench/bench_query.js SPEC.json     where SPEC = {"repeat": K, "threads": T, "sql": [...]}
'use strict';
const fs = require('fs');
const path = require('path');

const api = require(path.join(__dirname, '..', 'tests', 'interop', 'node_modules', '@duckdb',
                              'node-api'));

function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'object') {
    if ('micros' in v && typeof v.micros === 'bigint') return Number(v.micros);
    if (typeof v.toDouble === 'function') return v.toDouble();
  }
  return v;
}

(async () => {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const inst = await api.DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await conn.run(`SET threads = ${spec.threads}`);
  for (const sql of spec.sql) {
    await conn.runAndReadAll(sql);
    const times = [];
    let reader = null;
    for (let i = 0; i < spec.repeat; i++) {
      const t0 = process.hrtime.bigint();
      reader = await conn.runAndReadAll(sql);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const rows = reader.getRows().map((r) => r.map(plain));
    process.stdout.write(JSON.stringify({ times_ms: times, rows }) + '\n');
  }
})().catch((e) => {
  process.stderr.write(`bench_query.js: ${e.message}\n`);
  process.exit(1);
});
