#!/usr/bin/env python3
"""bench/throttle_overhead.py FLEETLAKE_BINARY — ingest throughput with throttling on (the
default limits: a request bucket per client address, a records bucket per device_id) versus
throttle.enabled=off, on the end-to-end benchmark of bench/e2e.py (serve with
stream.durability=fsync <- sim, batch 500, 1000 devices, 4 keep-alive connections;
security.auth=off and audit.enabled=off in both, so only throttling differs).

The machine is shared and noisy, so runs alternate off, on, off, on ... (FL_BENCH_PAIRS pairs,
default 3, FL_BENCH_SECONDS each, default 20) and the report gives each pair's ratio and the
ratio of the medians, for records/s and for server CPU per record (µs of server CPU time per
acked record: less sensitive than records/s to other work on a shared machine, which takes
CPU from the server and the generator alike). Every run is checked as in e2e.py (nothing rejected, server count = acked
count, clean exit) and must see no 429 and no throttled record: the defaults must not throttle
this load.

Run by `FL_BENCH_ONLY=throttle make bench` (bench/run.sh) or directly."""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

PAIRS = int(os.environ.get("FL_BENCH_PAIRS", "3"))
SECONDS = int(os.environ.get("FL_BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("FL_BENCH_CONNECTIONS", "4"))
COMMON = ["security.auth=off", "audit.enabled=off"]


def run(binary, throttle_on):
    sets = COMMON + [f"throttle.enabled={'on' if throttle_on else 'off'}"]
    res = e2e.bench_fleetlake(binary, SECONDS, CONNECTIONS, None, sets)
    if res.get("problems") or res.get("throttled"):
        raise SystemExit(f"run failed (throttle {'on' if throttle_on else 'off'}): "
                         f"{res.get('problems')} throttled={res.get('throttled')}")
    return res


def cpu_us_per_record(r):
    return 1e6 * r["server_cpu_cores"] / r["records_per_s"] if r["records_per_s"] else float("nan")


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    print(f"throttle overhead: {PAIRS} pairs of {SECONDS} s runs, {CONNECTIONS} connections, "
          f"{' '.join(COMMON)}; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    off, on = [], []
    print(f"{'pair':>4} {'off rec/s':>11} {'on rec/s':>11} {'on/off':>7} {'off p99':>8} "
          f"{'on p99':>7} {'off cpu':>8} {'on cpu':>7} {'off us/rec':>10} {'on us/rec':>9}",
          flush=True)
    for i in range(PAIRS):
        a = run(binary, False)
        b = run(binary, True)
        off.append(a)
        on.append(b)
        print(f"{i + 1:>4} {a['records_per_s']:>11,.0f} {b['records_per_s']:>11,.0f} "
              f"{b['records_per_s'] / a['records_per_s']:>7.3f} {a['p99_ms']:>8.1f} "
              f"{b['p99_ms']:>7.1f} {a['server_cpu_cores']:>8.2f} {b['server_cpu_cores']:>7.2f} "
              f"{cpu_us_per_record(a):>10.2f} {cpu_us_per_record(b):>9.2f}", flush=True)
    m_off = statistics.median(r["records_per_s"] for r in off)
    m_on = statistics.median(r["records_per_s"] for r in on)
    print(f"median records/s: off {m_off:,.0f}, on {m_on:,.0f}; on/off = {m_on / m_off:.3f} "
          f"({(1 - m_on / m_off) * 100:+.1f}% slower with throttling)".replace("+-", "-"))
    c_off = statistics.median(cpu_us_per_record(r) for r in off)
    c_on = statistics.median(cpu_us_per_record(r) for r in on)
    print(f"median server CPU per record: off {c_off:.2f} us, on {c_on:.2f} us; on/off = "
          f"{c_on / c_off:.3f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    out = os.environ.get("FL_BENCH_JSON")
    if out:
        with open(out, "w") as f:
            json.dump({"off": off, "on": on, "median_ratio": m_on / m_off,
                       "median_cpu_per_record_ratio": c_on / c_off}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
