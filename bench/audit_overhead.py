#!/usr/bin/env python3
"""bench/audit_overhead.py FLEETLAKE_BINARY — ingest throughput with the audit trail on versus
off, on the end-to-end benchmark of bench/e2e.py (serve with stream.durability=fsync <- sim,
batch 500, 1000 devices, 4 keep-alive connections).

The machine is shared and noisy, so runs alternate off, on, off, on ... (FL_BENCH_PAIRS pairs,
default 3, FL_BENCH_SECONDS each, default 20) and the report gives each pair's ratio and the
ratio of the medians, for throughput and for the server's CPU time per record (less sensitive
to the neighbours' load than throughput is). Every run is checked as in e2e.py (nothing rejected, server count = acked
count, clean exit). (The audit log's content is tested by tests/integration/test_audit.py.)

Run by `FL_BENCH_ONLY=audit make bench` (bench/run.sh) or directly."""
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

PAIRS = int(os.environ.get("FL_BENCH_PAIRS", "3"))
SECONDS = int(os.environ.get("FL_BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("FL_BENCH_CONNECTIONS", "4"))
FSYNC = os.environ.get("FL_BENCH_AUDIT_FSYNC", "interval")


def run(binary, audit_on):
    sets = ["audit.enabled=on", f"audit.fsync={FSYNC}"] if audit_on else ["audit.enabled=off"]
    res = e2e.bench_fleetlake(binary, SECONDS, CONNECTIONS, None, sets)
    if res.get("problems"):
        raise SystemExit(f"run failed (audit {'on' if audit_on else 'off'}): {res['problems']}")
    return res


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    print(f"audit overhead: {PAIRS} pairs of {SECONDS} s runs, {CONNECTIONS} connections, "
          f"audit.fsync={FSYNC}; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    off, on = [], []
    print(f"{'pair':>4} {'off rec/s':>10} {'on rec/s':>10} {'on/off':>7} "
          f"{'off cpu us/rec':>15} {'on cpu us/rec':>14} {'on/off':>7}", flush=True)

    def cpu_us(r):
        return r["server_cpu_cores"] / r["records_per_s"] * 1e6

    for i in range(PAIRS):
        a = run(binary, False)
        b = run(binary, True)
        off.append(a)
        on.append(b)
        print(f"{i + 1:>4} {a['records_per_s']:>10,.0f} {b['records_per_s']:>10,.0f} "
              f"{b['records_per_s'] / a['records_per_s']:>7.3f} {cpu_us(a):>15.2f} "
              f"{cpu_us(b):>14.2f} {cpu_us(b) / cpu_us(a):>7.3f}", flush=True)
    m_off = statistics.median(r["records_per_s"] for r in off)
    m_on = statistics.median(r["records_per_s"] for r in on)
    c_off = statistics.median(cpu_us(r) for r in off)
    c_on = statistics.median(cpu_us(r) for r in on)
    print(f"medians: records/s off {m_off:,.0f}, on {m_on:,.0f}, on/off = {m_on / m_off:.3f}; "
          f"server CPU per record off {c_off:.2f} us, on {c_on:.2f} us, on/off = "
          f"{c_on / c_off:.3f}")
    out = os.environ.get("FL_BENCH_JSON")
    if out:
        with open(out, "w") as f:
            json.dump({"off": off, "on": on, "throughput_ratio": m_on / m_off,
                       "cpu_per_record_ratio": c_on / c_off}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
