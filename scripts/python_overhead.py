#!/usr/bin/env python3
"""Python overhead against the Rust binary: training at 12,000 x 784 and per removal.

Runs, in one process and one run:
1. ``unlearn bench`` (the Rust binary) on its seeded synthetic data, logistic only, no test
   set, with ``--series``: the core's training time (model::train + the training
   certificate) and the latency of each of K single-row removals;
2. the same problem through the Python package: the same rows
   (``unlearn.datasets.make_synthetic`` with the seed ``unlearn bench --seed S`` derives,
   ``S ^ 0xda7a5eedda7a5eed``, ``unlearn::synthetic::data_seed``), the same
   hyperparameters (lambda 1e-3 per sample, so C = 1000; sigma 10 with epsilon 1 and
   delta 1e-4; no intercept) and the same removal order (``bench::removal_order``), timing
   ``fit`` and each ``remove`` from Python.

Prints one JSON object with both sides and the overheads (Python minus Rust): the training
time's relative overhead and the per-removal overhead in microseconds (medians of the
series). The paths a removal takes depend on the data, not the noise, so the two series
take the same steps.

Usage (after scripts/test, which builds the binary and the venv):
    target/python-venv/bin/python scripts/python_overhead.py [--n 12000 --d 784 --removals 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from math import gcd
from pathlib import Path

from unlearn import CertifiedLogisticRegression, datasets

REPO = Path(__file__).resolve().parent.parent
DATA_SEED_MASK = 0xDA7A_5EED_DA7A_5EED  # unlearn::synthetic::data_seed


def removal_order(ids: list[str], count: int, seed: int) -> list[str]:
    """Return the ids ``unlearn bench`` removes, in order (crates/unlearn/src/bench/mod.rs)."""
    n = len(ids)
    stride = (seed % n) * 2 + 7919
    while gcd(stride, n) != 1:
        stride += 1
    return [ids[(k * stride + seed) % n] for k in range(min(count, n - 1))]


def main() -> None:
    """Run both sides and print the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--removals", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "unlearn"))
    args = parser.parse_args()

    bench = subprocess.run(
        [args.binary, "bench", "--n", str(args.n), "--d", str(args.d), "--removals",
         str(args.removals), "--seed", str(args.seed), "--no-ridge", "--no-test-set",
         "--series", "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    rust = json.loads(bench.stdout)  # the logistic report (its "ridge" key is null)
    rust_removals = [p["seconds"] for p in rust["series"]]

    X, y, ids = datasets.make_synthetic(
        args.n, args.d, seed=args.seed ^ DATA_SEED_MASK, return_X_y=True
    )
    est = CertifiedLogisticRegression(
        C=1000.0, regularization="per-sample", sigma=10.0, epsilon=1.0, delta=1e-4,
        fit_intercept=False,
    )  # fmt: skip
    started = time.perf_counter()
    est.fit(X, y, ids=ids)
    python_train = time.perf_counter() - started
    python_removals = []
    retrained = []
    for id_ in removal_order(ids, args.removals, args.seed):
        started = time.perf_counter()
        certificate = est.remove([id_])
        python_removals.append(time.perf_counter() - started)
        retrained.append(certificate.retrained)

    rust_median = statistics.median(rust_removals)
    python_median = statistics.median(python_removals)
    print(
        json.dumps(
            {
                "n": args.n,
                "d": args.d,
                "removals": len(python_removals),
                "rust": {
                    "train_seconds": rust["train_seconds"],
                    "removal_seconds_median": rust_median,
                    "retrainings": rust["retrainings"],
                },
                "python": {
                    "train_seconds": python_train,
                    "removal_seconds_median": python_median,
                    "retrainings": sum(retrained),
                },
                "train_overhead_relative": python_train / rust["train_seconds"] - 1.0,
                "removal_overhead_microseconds": (python_median - rust_median) * 1e6,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
