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
   ``fit`` and each removal from Python: the odd removals through ``est.remove`` (the whole
   Python API: certificate dataclass, fitted attributes), the even ones through the
   extension's own ``Unlearner.remove`` (the core behind PyO3, the GIL released, the
   certificate converted to a dict). The difference of the two medians, measured under the
   same load, is what the Python layer adds; the difference between the extension's median
   and the binary's is what calling the core through PyO3 in a Python process adds (plus the
   load drift between the two processes). The Python layer's own work per removal is also
   timed alone (``python_layer_work_microseconds``: the certificate dataclass and the
   fitted attributes, repeated without a removal), free of the removals' cache effects.

The two sides alternate for ``--rounds`` rounds (the machine's load drifts; alternating
exposes both sides to the same drift). Prints one JSON object: per round, both sides'
training time and median removal latency; and the overheads (Python minus Rust) over the
rounds: the training time's relative overhead and the per-removal overhead in
microseconds, each the median over rounds, and the same between each side's fastest round
(the least disturbed by other processes). The paths a removal takes depend on the data,
not the noise, so the two series take the same steps (the retraining counts are printed to
show it).

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

from unlearn import Certificate, CertifiedLogisticRegression, datasets

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
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "unlearn"))
    args = parser.parse_args()

    X, y, ids = datasets.make_synthetic(
        args.n, args.d, seed=args.seed ^ DATA_SEED_MASK, return_X_y=True
    )
    order = removal_order(ids, args.removals, args.seed)
    rounds = []
    for _ in range(args.rounds):
        rounds.append({"rust": rust_side(args), "python": python_side(X, y, ids, order)})

    def overhead(f):
        return statistics.median(f(r["python"], r["rust"]) for r in rounds)

    def fastest(side, key):
        return min(r[side][key] for r in rounds)

    report = {
        "n": args.n,
        "d": args.d,
        "removals": len(order),
        "rounds": rounds,
        "train_overhead_relative": overhead(
            lambda p, r: p["train_seconds"] / r["train_seconds"] - 1
        ),
        "removal_overhead_microseconds": overhead(
            lambda p, r: (p["removal_seconds_median"] - r["removal_seconds_median"]) * 1e6
        ),
        "train_overhead_relative_of_fastest": fastest("python", "train_seconds")
        / fastest("rust", "train_seconds")
        - 1,
        "removal_overhead_microseconds_of_fastest": (
            fastest("python", "removal_seconds_median") - fastest("rust", "removal_seconds_median")
        )
        * 1e6,
        "python_layer_work_microseconds": statistics.median(
            r["python"]["python_layer_work_seconds"] * 1e6 for r in rounds
        ),
        "python_layer_microseconds": overhead(
            lambda p, r: (p["removal_seconds_median"] - p["extension_removal_seconds_median"]) * 1e6
        ),
    }
    print(json.dumps(report, indent=2))


def rust_side(args: argparse.Namespace) -> dict:
    """Run ``unlearn bench``: training time, median removal latency, retrainings."""
    bench = subprocess.run(
        [args.binary, "bench", "--n", str(args.n), "--d", str(args.d), "--removals",
         str(args.removals), "--seed", str(args.seed), "--no-ridge", "--no-test-set",
         "--series", "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    rust = json.loads(bench.stdout)  # the logistic report (its "ridge" key is null)
    return {
        "train_seconds": rust["train_seconds"],
        "removal_seconds_median": statistics.median(p["seconds"] for p in rust["series"]),
        "retrainings": rust["retrainings"],
    }


def python_side(X, y, ids: list[str], order: list[str]) -> dict:
    """Time the same through the Python package, from Python."""
    est = CertifiedLogisticRegression(
        C=1000.0, regularization="per-sample", sigma=10.0, epsilon=1.0, delta=1e-4,
        fit_intercept=False,
    )  # fmt: skip
    started = time.perf_counter()
    est.fit(X, y, ids=ids)
    train_seconds = time.perf_counter() - started
    removals, extension, retrainings = [], [], 0
    for k, id_ in enumerate(order):
        started = time.perf_counter()
        if k % 2 == 0:
            retrainings += est.remove([id_]).retrained
            removals.append(time.perf_counter() - started)
        else:
            # (The estimator's certificates_ misses these entries: timing only.)
            retrainings += est._unlearner.remove([id_])["retrained"]
            extension.append(time.perf_counter() - started)
    # The Python layer's own work per removal, without the removal: the certificate
    # dataclass and the fitted attributes, repeated on the last certificate.
    last = est._unlearner.certificates()[-1]
    repeats = 1000
    started = time.perf_counter()
    for _ in range(repeats):
        est._refresh(Certificate.from_dict(last))
    layer = (time.perf_counter() - started) / repeats
    return {
        "train_seconds": train_seconds,
        "python_layer_work_seconds": layer,
        "removal_seconds_median": statistics.median(removals),
        "extension_removal_seconds_median": statistics.median(extension),
        "retrainings": retrainings,
    }


if __name__ == "__main__":
    main()
