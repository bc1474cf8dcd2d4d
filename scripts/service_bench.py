#!/usr/bin/env python3
"""Deletion throughput of `unlearn serve-requests` and `unlearn serve`, side by side.

Both in one run (serve: POST /v1/deletions), on the same synthetic store (Python standard
library only).

    cargo build --release -p unlearn-cli
    python3 scripts/service_bench.py [--unlearn target/release/unlearn] [--n 20000] [--d 100]
        [--requests 2000] [--publish-every 100] [--checkpoint-every 1] [--concurrency 1]
        [--workdir DIR]

Both paths start from copies of one trained store and serve the same requests (distinct
ids drawn with a fixed seed), each acknowledged only once durable, with `--concurrency C`
requests outstanding at any time (1: one at a time):
- serve-requests: C request lines written to its standard input ahead of their answers, one
  more written as each JSON answer is read (C = 1: the latency is the request's alone);
- serve: C clients, each posting one deletion at a time over its own keep-alive connection.
Requests that are outstanding together may be served as one group (one step, one commit).
Reports requests/s, p50/p99 latency and bytes written to disk per request (from
/proc/PID/io write_bytes of the serving process), then checks each store with `verify`.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def percentile(values, q):
    """Return the q-quantile of values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def write_bytes(pid):
    """Bytes the process has written to storage (/proc/PID/io), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def summary(name, latencies, elapsed, written):
    """One result row: throughput, latency percentiles, bytes written per request."""
    n = len(latencies)
    row = {
        "path": name,
        "requests": n,
        "requests_per_second": round(n / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "bytes_written_per_request": None if written is None else round(written / n),
    }
    print(json.dumps(row), flush=True)
    return row


def bench_serve_requests(unlearn, store, ids, checkpoint_every, concurrency):
    """Serve the ids through `unlearn serve-requests`, C requests outstanding."""
    proc = subprocess.Popen(
        [
            unlearn,
            "serve-requests",
            "--store",
            store,
            "--requests",
            "-",
            "--json",
            "--checkpoint-every",
            str(checkpoint_every),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    before = write_bytes(proc.pid)
    latencies = []
    sent = []
    started = time.perf_counter()

    def send(i):
        sent.append(time.perf_counter())
        proc.stdin.write(json.dumps({"id": ids[i], "ref": f"sr-{i}"}) + "\n")

    for i in range(min(concurrency, len(ids))):
        send(i)
    proc.stdin.flush()
    for i in range(len(ids)):
        answer = json.loads(proc.stdout.readline())
        latencies.append(time.perf_counter() - sent[i])
        if answer["status"] != "removed":
            sys.exit(f"serve-requests: {answer}")
        if len(sent) < len(ids):
            send(len(sent))
            proc.stdin.flush()
    elapsed = time.perf_counter() - started
    after = write_bytes(proc.pid)
    proc.stdin.close()
    proc.wait()
    written = None if before is None or after is None else after - before
    return summary("serve-requests", latencies, elapsed, written)


def bench_http(unlearn, store, token_file, ids, publish_every, checkpoint_every, concurrency):
    """Serve the ids through `unlearn serve` (POST /v1/deletions) with C clients."""
    proc = subprocess.Popen(
        [
            unlearn,
            "serve",
            "--store",
            store,
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            token_file,
            "--publish-every",
            str(publish_every),
            "--checkpoint-every",
            str(checkpoint_every),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on http://"):
        sys.exit(f"unlearn serve did not start: {line}")
    host, port = line.removeprefix("listening on http://").rsplit(":", 1)
    with open(token_file) as f:
        headers = {
            "Authorization": "Bearer " + f.read().strip(),
            "Content-Type": "application/json",
        }
    before = write_bytes(proc.pid)
    latencies = []
    failures = []

    def client(part):
        connection = http.client.HTTPConnection(host, int(port))
        for i in part:
            t = time.perf_counter()
            connection.request(
                "POST", "/v1/deletions", json.dumps({"ids": [ids[i]], "ref": f"http-{i}"}), headers
            )
            response = connection.getresponse()
            body = response.read()
            latencies.append(time.perf_counter() - t)
            if response.status != 200:
                failures.append(f"POST /v1/deletions: {response.status} {body!r}")
                break
        connection.close()

    clients = [
        threading.Thread(target=client, args=(range(c, len(ids), concurrency),))
        for c in range(concurrency)
    ]
    started = time.perf_counter()
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        sys.exit(failures[0])
    after = write_bytes(proc.pid)
    proc.send_signal(signal.SIGTERM)
    if proc.wait() != 0:
        sys.exit("unlearn serve did not exit 0 on SIGTERM")
    written = None if before is None or after is None else after - before
    return summary("serve (HTTP)", latencies, elapsed, written)


def main():
    """Build the store once, run both paths on copies of it, and verify each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unlearn", default="target/release/unlearn")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--publish-every", type=int, default=100)
    parser.add_argument("--checkpoint-every", type=int, default=1)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests outstanding at once (serve-requests: lines written ahead; HTTP: clients)",
    )
    parser.add_argument("--workdir")
    args = parser.parse_args()
    unlearn = os.path.abspath(args.unlearn)
    work = args.workdir or tempfile.mkdtemp(prefix="unlearn-service-bench-")
    os.makedirs(work, exist_ok=True)
    rows = os.path.join(work, "rows.csv")
    base = os.path.join(work, "base.store")

    def run(*a):
        return subprocess.run([unlearn, *a], check=True, capture_output=True, text=True)

    if not os.path.exists(base):
        run("synth", "--n", str(args.n), "--d", str(args.d), "--out", rows)
        run(
            "train",
            "--data",
            rows,
            "--target",
            "y",
            "--loss",
            "logistic",
            "--lambda",
            "1e-3",
            "--epsilon",
            "1",
            "--delta",
            "1e-5",
            "--budget",
            "0.05",
            "--publish-every",
            str(args.publish_every),
            "--out",
            base,
        )
    ids = [str(i) for i in random.Random(7).sample(range(args.n), args.requests)]
    token_file = os.path.join(work, "token")
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    print(
        json.dumps(
            {
                "n": args.n,
                "d": args.d,
                "requests": args.requests,
                "publish_every": args.publish_every,
                "checkpoint_every": args.checkpoint_every,
                "concurrency": args.concurrency,
                "workdir": work,
            }
        ),
        flush=True,
    )
    results = []
    every, concurrency = args.checkpoint_every, args.concurrency
    for name, bench in [
        ("serve-requests", lambda s: bench_serve_requests(unlearn, s, ids, every, concurrency)),
        (
            "http",
            lambda s: bench_http(
                unlearn, s, token_file, ids, args.publish_every, every, concurrency
            ),
        ),
    ]:
        store = os.path.join(work, f"{name}.store")
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(base, store)
        results.append(bench(store))
        verify = subprocess.run(
            [unlearn, "verify", "--store", store], capture_output=True, text=True
        )
        if verify.returncode != 0:
            sys.exit(f"verify failed on {store}:\n{verify.stdout}{verify.stderr}")
    print("verify passed on both stores", flush=True)


if __name__ == "__main__":
    main()
