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
   ``fit`` and each removal from Python, through ``est.remove`` (the whole Python API:
   certificate dataclass, fitted attributes) or through the extension's own
   ``Unlearner.remove`` (the core behind PyO3, the GIL released, the certificate converted
   to a dict). The Python layer's own work per removal is also timed alone (the
   certificate dataclass and the fitted attributes, repeated without a removal), and so is
   a numpy copy of X (the one physical cost ``fit`` has and the binary has not).

The two sides alternate for ``--rounds`` rounds, and the overheads are estimated from the
rounds' minima, not from one round or a mean:
- training: (min over rounds of Python's ``fit``) / (min over rounds of the binary's
  training) - 1;
- a removal: the removals are the same steps on both sides (same rows, same order, same
  data-dependent paths), so removal k is paired with removal k: for each k, the minimum
  over rounds on each side, and the overhead is the median over k of the paired
  differences. The whole API (``est.remove``) is timed in even rounds, the extension
  (``Unlearner.remove``) in odd ones; each is paired with the binary's removals of the
  same rounds (a minimum over more rounds would be lower by chance alone).
Why minima: the other processes on the machine only ever add time to a measurement (a
preempted or cache-starved run is slower, never faster), so the minimum over many runs
converges on the undisturbed cost, while a mean or a single round carries the load of the
moment (±30 % here). Pairing by step removes the step-to-step variation (a removal's cost
depends on the row). The median of per-round paired differences is printed as well, as a
check that drifts with the load.

Prints one JSON object: per round, both sides' training time and median removal latency,
and the estimates above.

Usage (after scripts/test, which builds the binary and the venv):
    target/python-venv/bin/python scripts/python_overhead.py
        [--n 12000 --d 784 --removals 100 --rounds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from math import gcd
from pathlib import Path

import numpy as np

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
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "unlearn"))
    args = parser.parse_args()

    X, y, ids = datasets.make_synthetic(
        args.n, args.d, seed=args.seed ^ DATA_SEED_MASK, return_X_y=True
    )
    order = removal_order(ids, args.removals, args.seed)
    rounds = []
    for k in range(args.rounds):
        through = "estimator" if k % 2 == 0 else "extension"
        rounds.append({"rust": rust_side(args), "python": python_side(X, y, ids, order, through)})

    def paired_minimum(through: str) -> float:
        """Median over steps of (min over rounds, Python) - (min over rounds, Rust), in µs.

        Both minima are over the same rounds (those that timed ``through``): a minimum over
        more rounds is lower by chance alone.
        """
        chosen = [r for r in rounds if r["python"]["through"] == through]
        steps = range(len(order))
        rust = [min(r["rust"]["series"][k] for r in chosen) for k in steps]
        python = [min(r["python"]["series"][k] for r in chosen) for k in steps]
        return statistics.median(p - q for p, q in zip(python, rust, strict=True)) * 1e6

    estimator = [r["python"] for r in rounds if r["python"]["through"] == "estimator"]
    fastest_fit = min(r["python"]["train_seconds"] for r in rounds)
    fastest_train = min(r["rust"]["train_seconds"] for r in rounds)
    report = {
        "n": args.n,
        "d": args.d,
        "removals": len(order),
        "rounds": [
            {
                "rust_train_seconds": r["rust"]["train_seconds"],
                "python_fit_seconds": r["python"]["train_seconds"],
                "rust_removal_median_ms": statistics.median(r["rust"]["series"]) * 1e3,
                "python_removal_median_ms": statistics.median(r["python"]["series"]) * 1e3,
                "python_through": r["python"]["through"],
                "retrainings": [r["rust"]["retrainings"], r["python"]["retrainings"]],
            }
            for r in rounds
        ],
        "rust_train_seconds_min": fastest_train,
        "python_fit_seconds_min": fastest_fit,
        "train_overhead_relative_of_minima": fastest_fit / fastest_train - 1,
        "train_overhead_relative_median_of_pairs": statistics.median(
            r["python"]["train_seconds"] / r["rust"]["train_seconds"] - 1 for r in rounds
        ),
        "removal_overhead_microseconds_paired_minima": paired_minimum("estimator"),
        "extension_removal_overhead_microseconds_paired_minima": paired_minimum("extension"),
        "removal_overhead_microseconds_median_of_pairs": statistics.median(
            (statistics.median(r["python"]["series"]) - statistics.median(r["rust"]["series"]))
            * 1e6
            for r in rounds
            if r["python"]["through"] == "estimator"
        ),
        "python_layer_work_microseconds_min": min(r["python_layer_work_seconds"] for r in estimator)
        * 1e6,
        "copy_of_x_seconds_min": min(r["python"]["copy_seconds"] for r in rounds),
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
        "series": [p["seconds"] for p in rust["series"]],
        "retrainings": rust["retrainings"],
    }


def python_side(X, y, ids: list[str], order: list[str], through: str) -> dict:
    """Time the same through the Python package, from Python.

    ``fit``, then each removal through the estimator (``through="estimator"``) or the
    extension.
    """
    est = CertifiedLogisticRegression(
        C=1000.0, regularization="per-sample", sigma=10.0, epsilon=1.0, delta=1e-4,
        fit_intercept=False,
    )  # fmt: skip
    # The one physical cost fit has and the binary has not: copying X into rows the core
    # owns (the binary generates its rows in place). Timed alone, as numpy copies it.
    started = time.perf_counter()
    np.copy(X)
    copy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    est.fit(X, y, ids=ids)
    train_seconds = time.perf_counter() - started
    series, retrainings = [], 0
    for id_ in order:
        started = time.perf_counter()
        if through == "estimator":
            retrainings += est.remove([id_]).retrained
        else:
            retrainings += est._unlearner.remove([id_])["retrained"]
        series.append(time.perf_counter() - started)
    # The Python layer's own work per removal, without the removal: the certificate
    # dataclass and the fitted attributes, repeated on the last certificate.
    last = est._unlearner.certificates()[-1]
    repeats = 1000
    started = time.perf_counter()
    for _ in range(repeats):
        est._refresh(Certificate.from_dict(last))
    layer = (time.perf_counter() - started) / repeats
    return {
        "through": through,
        "train_seconds": train_seconds,
        "copy_seconds": copy_seconds,
        "python_layer_work_seconds": layer,
        "series": series,
        "retrainings": retrainings,
    }


if __name__ == "__main__":
    main()
