#!/usr/bin/env python3
"""test_parquet_duckdb.py — our Parquet writer and reader against DuckDB, both directions.

(a) `fl_pq_tool write-matrix` writes one file per variant — BOOLEAN, INT32 as INT8/INT16/INT32,
    INT64, INT64 TIMESTAMP_MICROS, DOUBLE, BYTE_ARRAY STRING and plain BYTE_ARRAY × REQUIRED/
    OPTIONAL × UNCOMPRESSED/SNAPPY/GZIP/ZSTD × dictionary on/off × delta on/off (288 files,
    1,000 rows each, several row groups and pages) — with NULLs, integer extremes, -0.0,
    subnormals, ±DBL_MAX, ±inf, NaN, empty, unicode, invalid-UTF-8 binary and long values.
    DuckDB must return exactly the manifest's values for every cell (doubles bit for bit, via
    DuckDB's shortest round-trip text), infer the right SQL type, and show in
    parquet_metadata() the codec, the encodings the variant asked for and, per row group, the
    null count and min/max statistics we wrote. Our own reader must return the same values.
(b) DuckDB writes the same schemas (from our uncompressed files) with each codec and
    PARQUET_VERSION v1 and v2 (data page v2, DELTA_*, BYTE_STREAM_SPLIT); `fl_pq_tool dump`
    must return exactly DuckDB's values.

Needs node + the pinned @duckdb/node-api (scripts/install-test-npm.sh, run on first use)."""
import datetime
import json
import math
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fltest  # noqa: E402

TOOL = os.environ.get("FL_PQ_TOOL") or os.path.join(
    os.path.dirname(fltest.BIN), "fl_pq_tool")

# Our type name -> (SQL expression giving DuckDB's exact text of column v, DuckDB's SQL type).
TYPES = {
    "boolean": ("CAST(v AS VARCHAR)", "BOOLEAN"),
    "int8": ("CAST(v AS VARCHAR)", "TINYINT"),
    "int16": ("CAST(v AS VARCHAR)", "SMALLINT"),
    "int32": ("CAST(v AS VARCHAR)", "INTEGER"),
    "int64": ("CAST(v AS VARCHAR)", "BIGINT"),
    "timestamp": ("CAST(epoch_us(v) AS VARCHAR)", "TIMESTAMP WITH TIME ZONE"),
    "double": ("CAST(v AS VARCHAR)", "DOUBLE"),
    "string": ("lower(hex(encode(v)))", "VARCHAR"),
    "binary": ("lower(hex(v))", "BLOB"),
}
CODECS = ["uncompressed", "snappy", "gzip", "zstd"]
INT_TYPES = {"int8", "int16", "int32", "int64", "timestamp"}

checks = fltest.Checks()


def eq(got, want, what):
    """checks.eq with the values cut short in the message (cells can be kilobytes long)."""
    checks.check(got == want, f"{what}: got {str(got)[:200]}, want {str(want)[:200]}")


def canon(kind, v):
    """A cell in one comparable form: None, 'true'/'false', decimal text, or hex; doubles as
    the 8 bytes of their bit pattern (any NaN as 'nan')."""
    if v is None:
        return None
    if kind == "boolean":
        return "true" if v in (True, "true") else "false"
    if kind == "double":
        d = float(v)
        return "nan" if math.isnan(d) else struct.pack("<d", d).hex()
    return str(v)


def from_dump(kind, v):
    if kind == "string" and isinstance(v, str):
        return v.encode("utf-8").hex()
    if isinstance(v, dict):  # a STRING that was not valid UTF-8
        return v["invalid_utf8_hex"]
    return canon(kind, v)


def compare_columns(got, want, what):
    """One check per file: every cell equal; reports the first differences."""
    bad = [i for i in range(max(len(got), len(want)))
           if i >= len(got) or i >= len(want) or got[i] != want[i]]
    detail = ", ".join(f"row {i}: got {got[i] if i < len(got) else '<missing>'!r:.80} want "
                       f"{want[i] if i < len(want) else '<missing>'!r:.80}" for i in bad[:3])
    checks.check(not bad and len(got) == len(want),
                 f"{what}: {len(bad)} of {len(want)} rows differ ({len(got)} read): {detail}")


def duck_columns(files, kind):
    """{file: [canonical cell, ...]} and {file: SQL type} as DuckDB reads them."""
    expr, _ = TYPES[kind]
    lst = "[" + ", ".join(fltest.sql_str(f) for f in files) + "]"
    rows = fltest.duck(
        f"SELECT filename AS f, file_row_number AS i, {expr} AS s, typeof(v) AS t "
        f"FROM read_parquet({lst}, filename=true, file_row_number=true) ORDER BY f, i")
    cols, types = {}, {}
    for r in rows:
        cols.setdefault(r["f"], []).append(canon(kind, r["s"]))
        types[r["f"]] = r["t"]
    return cols, types


def dump_files(files):
    """{file: (header, [row dict, ...])} as our reader (fl_pq_tool dump) reads them."""
    p = subprocess.run([TOOL, "dump", *files], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"fl_pq_tool dump failed: {p.stderr}")
    out, cur = {}, None
    for line in p.stdout.splitlines():
        obj = json.loads(line)
        if "file" in obj and "columns" in obj:
            cur = (obj, [])
            out[obj["file"]] = cur
        else:
            cur[1].append(obj)
    return out


# ---- statistics --------------------------------------------------------------------------------

def duck_stat_value(kind, s):
    """DuckDB's parquet_metadata() text of a min/max, in canonical form."""
    if s is None:
        return None
    if kind == "timestamp":
        s = re.sub(r"\+00$", "", s)
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in s else "%Y-%m-%d %H:%M:%S"
        dt = datetime.datetime.strptime(s, fmt)
        return str((dt - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1))
    if kind == "binary":  # BLOB text: printable ASCII as is, everything else \xHH
        return re.sub(rb"\\x([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                      s.encode("latin-1")).hex()
    if kind == "string":
        return s.encode("utf-8").hex()
    return canon(kind, s)


def expected_min_max(kind, cells):
    """min/max of a row group's non-NULL canonical cells in the type's sort order, as the
    writer must state them; (None, None) when there is nothing to state."""
    vals = [c for c in cells if c is not None and c != "nan"]
    if not vals:
        return None, None
    if kind == "boolean":
        key = lambda c: c == "true"  # noqa: E731
    elif kind == "double":
        key = lambda c: struct.unpack("<d", bytes.fromhex(c))[0]  # noqa: E731
    elif kind in ("string", "binary"):
        key = bytes.fromhex
    else:
        key = int
    lo, hi = min(vals, key=key), max(vals, key=key)
    if kind == "double":  # zero bounds are written as -0.0 (min) and +0.0 (max)
        if key(lo) == 0:
            lo = canon("double", -0.0)
        if key(hi) == 0:
            hi = canon("double", 0.0)
    return lo, hi


def check_metadata(mx, manifest, by_kind):
    files = [os.path.join(mx, f["file"]) for f in manifest["files"]]
    lst = "[" + ", ".join(fltest.sql_str(f) for f in files) + "]"
    rows = fltest.duck(
        "SELECT file_name AS f, row_group_id AS g, row_group_num_rows AS n, "
        "stats_null_count AS nulls, stats_min_value AS lo, stats_max_value AS hi, "
        "compression AS codec, encodings AS enc "
        f"FROM parquet_metadata({lst}) ORDER BY f, g")
    meta = {}
    for r in rows:
        meta.setdefault(r["f"], []).append(r)
    for f in manifest["files"]:
        path, kind = os.path.join(mx, f["file"]), f["type"]
        want = by_kind[f["values"]]
        groups = meta.get(path, [])
        eq(sum(int(g["n"]) for g in groups), len(want), f"{f['file']}: rows in metadata")
        checks.check(len(groups) >= 2, f"{f['file']}: several row groups ({len(groups)})")
        checks.check(all(g["codec"] == f["codec"].upper() for g in groups),
                     f"{f['file']}: compression {[g['codec'] for g in groups]}")
        # The writer picks encodings by cost; a switched-off encoding must never appear, and
        # the data makes a switched-on one pay in some row group (with both on, either may win).
        enc = " ".join(g["enc"] for g in groups)
        has_dict, has_delta = "RLE_DICTIONARY" in enc, "DELTA_BINARY_PACKED" in enc
        if not f["dictionary"]:
            checks.check("DICTIONARY" not in enc, f"{f['file']}: no dictionary: {enc}")
        if not f["delta"]:
            checks.check(not has_delta, f"{f['file']}: no delta: {enc}")
        if f["dictionary"] and kind != "boolean" and not (f["delta"] and kind in INT_TYPES):
            checks.check(has_dict, f"{f['file']}: dictionary used: {enc}")
        if f["delta"] and kind in INT_TYPES:
            checks.check(has_delta or (f["dictionary"] and has_dict),
                         f"{f['file']}: delta (or dictionary) used: {enc}")
        first = 0
        for g in groups:
            cells = want[first:first + int(g["n"])]
            first += int(g["n"])
            where = f"{f['file']} row group {g['g']}"
            eq(int(g["nulls"]), sum(c is None for c in cells), f"{where}: null count")
            lo, hi = expected_min_max(kind, cells)
            if kind == "double" and lo is not None and not all(
                    math.isfinite(struct.unpack("<d", bytes.fromhex(x))[0]) for x in (lo, hi)):
                # DuckDB shows no double statistics with an infinite bound (it hides its own
                # files' too); our reader checks them below.
                lo = hi = None
            eq((duck_stat_value(kind, g["lo"]), duck_stat_value(kind, g["hi"])),
                      (lo, hi), f"{where}: min/max")


def check_our_stats(mx, manifest, by_kind):
    """Our reader decodes the statistics our writer wrote, including infinite bounds."""
    for f in manifest["files"]:
        if f["codec"] != "zstd" or not f["dictionary"] or not f["delta"]:
            continue  # stats do not depend on codec or encoding: one variant per type
        p = subprocess.run([TOOL, "stats", os.path.join(mx, f["file"])], capture_output=True,
                           text=True, timeout=60, check=True)
        want, first = by_kind[f["values"]], 0
        for line in p.stdout.splitlines():
            st = json.loads(line)
            cells = want[first:first + int(st["rows"])]
            first += int(st["rows"])
            got = (canon(f["type"], st["min"]), canon(f["type"], st["max"]))
            eq(got, expected_min_max(f["type"], cells),
                      f"{f['file']} row group {st['row_group']}: our reader's min/max")
            eq(int(st["null_count"]), sum(c is None for c in cells),
                      f"{f['file']} row group {st['row_group']}: our null count")


# ---- (a) DuckDB reads what we write -----------------------------------------------------------

def part_a(mx):
    p = subprocess.run([TOOL, "write-matrix", mx], capture_output=True, text=True, timeout=120)
    eq(p.returncode, 0, f"write-matrix: {p.stderr}")
    with open(os.path.join(mx, "manifest.json")) as fh:
        manifest = json.load(fh)
    eq(len(manifest["files"]), len(TYPES) * 2 * len(CODECS) * 4, "variants written")
    by_kind = {k: [canon(k.rsplit("-", 1)[0], v) for v in vals]
               for k, vals in manifest["values"].items()}
    for kind in TYPES:
        fs = [f for f in manifest["files"] if f["type"] == kind]
        paths = [os.path.join(mx, f["file"]) for f in fs]
        cols, types = duck_columns(paths, kind)
        ours = dump_files(paths)
        for f, path in zip(fs, paths):
            want = by_kind[f["values"]]
            compare_columns(cols.get(path, []), want, f"DuckDB reads {f['file']}")
            eq(types.get(path), TYPES[kind][1], f"DuckDB's type of {f['file']}")
            compare_columns([from_dump(kind, r["v"]) for r in ours[path][1]], want,
                            f"our reader reads {f['file']}")
    check_metadata(mx, manifest, by_kind)
    check_our_stats(mx, manifest, by_kind)
    return manifest, by_kind


# ---- (b) we read what DuckDB writes ------------------------------------------------------------

def part_b(mx, dd, manifest, by_kind):
    os.makedirs(dd, exist_ok=True)
    jobs, copies = [], []
    for kind in TYPES:
        for rep in ("req", "opt"):
            src = os.path.join(mx, f"{kind}-{rep}-uncompressed-nodict-nodelta.parquet")
            for codec in CODECS:
                for version in ("v1", "v2"):
                    out = os.path.join(dd, f"{kind}-{rep}-{codec}-{version}.parquet")
                    jobs.append((kind, rep, codec, version, out))
                    # ROW_GROUP_SIZE 512 gives each file two row groups; DuckDB writes every
                    # column OPTIONAL, so the "req" files differ from ours only there.
                    copies.append(
                        f"COPY (SELECT v FROM read_parquet({fltest.sql_str(src)})) TO "
                        f"{fltest.sql_str(out)} (FORMAT parquet, COMPRESSION {codec}, "
                        f"PARQUET_VERSION {version}, ROW_GROUP_SIZE 512)")
    fltest.duck(*copies, "SELECT 1 AS ok")
    rows = fltest.duck(
        "SELECT file_name AS f, string_agg(DISTINCT encodings, ' ') AS enc, "
        "count(*) AS groups FROM parquet_metadata(" +
        "[" + ", ".join(fltest.sql_str(j[4]) for j in jobs) + "]) GROUP BY f")
    encodings = {r["f"]: r["enc"] for r in rows}
    seen = " ".join(encodings.values())
    for e in ("PLAIN", "RLE_DICTIONARY", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY",
              "BYTE_STREAM_SPLIT"):
        checks.check(e in seen, f"DuckDB's files use {e} somewhere (coverage): {seen[:300]}")
    for kind in TYPES:
        kjobs = [j for j in jobs if j[0] == kind]
        paths = [j[4] for j in kjobs]
        cols, _ = duck_columns(paths, kind)
        ours = dump_files(paths)
        for (_, rep, codec, version, path) in kjobs:
            name = os.path.basename(path)
            header, got_rows = ours[path]
            col = header["columns"][0]
            want_logical = {"boolean": "NONE", "int8": "INT8", "int16": "INT16",
                            "int32": "INT32", "int64": "INT64", "timestamp": "TIMESTAMP_MICROS",
                            "double": "NONE", "string": "STRING", "binary": "NONE"}[kind]
            eq(col["logical"], want_logical, f"{name}: logical type our reader sees")
            checks.check("DuckDB" in header["created_by"], f"{name}: created_by DuckDB")
            got = [from_dump(kind, r["v"]) for r in got_rows]
            compare_columns(got, cols.get(path, []),
                            f"our reader vs DuckDB on {name} ({encodings.get(path)})")
            compare_columns(got, by_kind[f"{kind}-{rep}"], f"our reader on {name} vs manifest")


def main():
    base = fltest.scratch_dir("parquet-duckdb")
    if not os.access(TOOL, os.X_OK):
        raise SystemExit(f"fl_pq_tool not found at {TOOL} (set FL_PQ_TOOL)")
    manifest, by_kind = part_a(os.path.join(base, "ours"))
    part_b(os.path.join(base, "ours"), os.path.join(base, "duckdb"), manifest, by_kind)
    checks.finish()


if __name__ == "__main__":
    main()
