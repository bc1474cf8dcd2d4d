#!/usr/bin/env python3
"""Durable deletion requests through `unlearn serve-requests`: throughput, latency, bytes.

Drives one `serve-requests --requests - --json` process as a closed loop: writes one request
line, waits for its outcome line (printed only after the request's transaction committed),
then sends the next. Per request it records the latency (send to outcome); at the end it
reads the process's write_bytes from /proc/PID/io (what it caused to be written to storage:
the database, its WAL, model.json) before closing its input.

usage: store_bench.py UNLEARN STORE N_REQUESTS [FIRST_ID [SERVE-REQUESTS FLAGS…]]
(requests name the ids FIRST_ID, FIRST_ID + 1, …: `unlearn synth` numbers its rows)
Prints one JSON object: requests, seconds, requests_per_second, p50_ms, p99_ms, max_ms,
first_ms (the first request seeds the Hessian cache: an exact step), bytes_written_per_request,
db_bytes (the database file after the run), statuses.
"""

import json
import os
import subprocess
import sys
import time


def write_bytes(pid):
    """Bytes the process has written to storage (/proc/PID/io)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/PID/io")


def main():
    """Send COUNT deletions to `unlearn serve-requests` and report time and bytes written."""
    unlearn, store, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    flags = sys.argv[5:]
    proc = subprocess.Popen(
        [unlearn, "serve-requests", "--store", store, "--requests", "-", "--json", *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    latencies = []
    statuses = {}
    written_before = None
    started = None
    for k in range(count):
        request = json.dumps({"id": str(first + k), "ref": f"bench-{k}"})
        t0 = time.perf_counter()
        proc.stdin.write(request + "\n")
        proc.stdin.flush()
        outcome = json.loads(proc.stdout.readline())
        t1 = time.perf_counter()
        statuses[outcome["status"]] = statuses.get(outcome["status"], 0) + 1
        if k == 0:
            # The first request includes the exact step that seeds the caches; the
            # steady state is measured from the second on.
            first_ms = 1e3 * (t1 - t0)
            written_before = write_bytes(proc.pid)
            started = time.perf_counter()
        else:
            latencies.append(t1 - t0)
    elapsed = time.perf_counter() - started
    written = write_bytes(proc.pid) - written_before
    proc.stdin.close()
    proc.wait()
    latencies.sort()
    n = len(latencies)
    print(
        json.dumps(
            {
                "requests": count,
                "steady_requests": n,
                "seconds": round(elapsed, 3),
                "requests_per_second": round(n / elapsed, 1),
                "p50_ms": round(1e3 * latencies[n // 2], 3),
                "p99_ms": round(1e3 * latencies[min(n - 1, (99 * n) // 100)], 3),
                "max_ms": round(1e3 * latencies[-1], 3),
                "first_ms": round(first_ms, 1),
                "bytes_written_per_request": round(written / n),
                "db_bytes": os.path.getsize(os.path.join(store, "unlearn.db")),
                "statuses": statuses,
                "exit_code": proc.returncode,
            }
        )
    )


if __name__ == "__main__":
    main()
