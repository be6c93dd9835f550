#!/usr/bin/env python3
"""bench/security_overhead.py FLEETLAKE_BINARY — ingest throughput with the whole security
stack on (authentication with a device API key, throttling, the audit trail) versus all of it
off, on the end-to-end benchmark of bench/e2e.py (serve with stream.durability=fsync <- sim,
batch 500, 1000 devices, 4 keep-alive connections). Issue 6's target: at most 5% slower.

Runs alternate off, on, off, on ... (FL_BENCH_PAIRS pairs, default 3, FL_BENCH_SECONDS each,
default 20) because the machine is shared and noisy; the report gives each pair's ratio and
the ratio of the medians. Every run is checked as in e2e.py (nothing rejected or throttled,
server count = acked count, clean exit). Throttling is included only when the build has the
`throttle.enabled` key.

Run by `FL_BENCH_ONLY=security make bench` (bench/run.sh) or directly."""
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

PAIRS = int(os.environ.get("FL_BENCH_PAIRS", "3"))
SECONDS = int(os.environ.get("FL_BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("FL_BENCH_CONNECTIONS", "4"))


def us_per_record(r):
    """Server CPU microseconds per acked record."""
    return r["server_cpu_cores"] / r["records_per_s"] * 1e6 if r["records_per_s"] else float("nan")


def has_key(binary, name):
    p = subprocess.run([binary, "serve", "--print-config"], capture_output=True, text=True)
    return any(line.startswith(name + " ") for line in p.stdout.splitlines())


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().split("\n")[0], file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    throttle = has_key(binary, "throttle.enabled")
    off = ["security.auth=off", "audit.enabled=off"] + (["throttle.enabled=off"] if throttle else [])
    on = ["security.auth=on", "audit.enabled=on"] + (["throttle.enabled=on"] if throttle else [])
    print(f"security overhead: {PAIRS} pairs of {SECONDS} s runs, {CONNECTIONS} connections; "
          f"on = {' '.join(on)}; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(f"{'pair':>4} {'off rec/s':>11} {'on rec/s':>11} {'on/off':>7} {'off p99':>8} "
          f"{'on p99':>7} {'off us/rec':>10} {'on us/rec':>9} {'cpu on/off':>10}", flush=True)
    r_off, r_on = [], []
    for i in range(PAIRS):
        pair = []
        for sets in (off, on):
            res = e2e.bench_fleetlake(binary, SECONDS, CONNECTIONS, None, sets)
            if res.get("problems") or res.get("throttled"):
                print(f"run failed ({' '.join(sets)}): {res.get('problems')} "
                      f"throttled={res.get('throttled')}", file=sys.stderr)
                return 1
            pair.append(res)
        a, b = pair
        r_off.append(a)
        r_on.append(b)
        print(f"{i + 1:>4} {a['records_per_s']:>11,.0f} {b['records_per_s']:>11,.0f} "
              f"{b['records_per_s'] / a['records_per_s']:>7.3f} {a['p99_ms']:>8.1f} "
              f"{b['p99_ms']:>7.1f} {us_per_record(a):>10.2f} {us_per_record(b):>9.2f} "
              f"{us_per_record(b) / us_per_record(a):>10.3f}", flush=True)
    m_off = statistics.median(r["records_per_s"] for r in r_off)
    m_on = statistics.median(r["records_per_s"] for r in r_on)
    c_off = statistics.median(us_per_record(r) for r in r_off)
    c_on = statistics.median(us_per_record(r) for r in r_on)
    print(f"median records/s: off {m_off:,.0f}, on {m_on:,.0f}; on/off = {m_on / m_off:.3f} "
          f"({(1 - m_on / m_off) * 100:.1f}% slower with auth + throttling + audit; target <= 5%)")
    print(f"median server CPU per record: off {c_off:.2f} us, on {c_on:.2f} us; on/off = "
          f"{c_on / c_off:.3f} (the figure that survives a noisy machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
