#!/usr/bin/env python3
"""bench_summary.py — the hourly_summary dashboard benchmark, our reader and DuckDB side by side.

Runs bench_summary (C: a week of processed-data for 1,000 devices, the summary job over it,
then the dashboard query with our Parquet reader, best/median of 15) with --keep, then times
the same dashboard in DuckDB (in-process through @duckdb/node-api from tests/interop, best and
median of 15 after one warm-up, read_parquet over the week's hourly_summary files with hive
partitioning) and prints both as JSON. Usage:
    python3 bench/bench_summary.py [path/to/bench_summary]   (default build-release/)"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
exe = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-release", "bench_summary")
ours = json.loads(subprocess.run([exe, "--keep"], check=True, capture_output=True,
                                 text=True).stdout)
lake = ours["lake"]
JS = r"""
const path = require('path');
const api = require(path.join(process.argv[1], 'tests', 'interop', 'node_modules', '@duckdb',
                              'node-api'));
(async () => {
  const glob = process.argv[2];
  const inst = await api.DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const sql = `SELECT hour, sum(avg_temperature * record_count) / sum(record_count) AS temp,
                      sum(anomaly_count) AS anomalies, avg(data_quality_score) AS quality,
                      count(*) AS devices
               FROM read_parquet('${glob}', hive_partitioning = true)
               GROUP BY hour ORDER BY hour`;
  await conn.runAndReadAll(sql);
  const t = [];
  let rows = 0;
  for (let i = 0; i < 15; i++) {
    const t0 = process.hrtime.bigint();
    rows = (await conn.runAndReadAll(sql)).getRowObjects().length;
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  console.log(JSON.stringify({duckdb_best_ms: t[0], duckdb_median_ms: t[7], hours: rows}));
})();
"""
glob = os.path.join(lake, "curated-data", "hourly_summary", "**", "*.parquet")
duck = json.loads(subprocess.run(["node", "-e", JS, ROOT, glob], check=True,
                                 capture_output=True, text=True).stdout)
shutil.rmtree(os.path.dirname(lake))
ours.pop("lake")
print(json.dumps({**ours, **duck}))
