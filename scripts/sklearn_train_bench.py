#!/usr/bin/env python3
"""Time scikit-learn's L2 logistic regression on a CSV, for comparison with `unlearn`.

Input CSV: a header row, then columns f0..f{d-1} and y, with y in {-1, +1}.
Objective (the crate's): L(w) = sum_i log(1 + exp(-y_i w.x_i)) + (Lambda/2) ||w||^2 with
Lambda = lambda * n (per-sample lambda from --lambda, default 1e-3), no intercept.
Fitted as LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=10000, fit_intercept=False,
C=1/Lambda), which minimises C * L(w) (same minimiser).

Only the fit is timed (time.perf_counter), best of --repeat runs (default 3).  Prints one JSON
line: {"solver", "n", "d", "lambda", "seconds_best", "seconds_all", "n_iter", "gradient_norm"}
where gradient_norm = ||grad L(w)||_2 at the fitted w, computed with numpy.

Usage:
    /work/venv-refs/bin/python scripts/sklearn_train_bench.py data.csv [--lambda 1e-3] [--repeat 3]
Environment (see scripts/reference_weights.py): Python 3.11.7, numpy 2.4.6, scipy 1.17.1,
scikit-learn 1.9.1, installed with
    python3 -m venv /work/venv-refs && /work/venv-refs/bin/pip install scikit-learn numpy scipy
Threads: numpy/scipy use their BLAS thread pool as configured in the environment
(OPENBLAS_NUM_THREADS / OMP_NUM_THREADS); nothing is set here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression


def read_csv(path):
    """Read a synthetic CSV (columns f0..f{d-1}, y) into X and y."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    d = len(header) - 1
    expected = [f"f{j}" for j in range(d)] + ["y"]
    if header != expected:
        sys.exit(f"unexpected header: want f0..f{d - 1},y; got {header[:3]}...{header[-2:]}")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    X = np.ascontiguousarray(data[:, :d])
    y = data[:, d].copy()
    if not np.all((y == 1.0) | (y == -1.0)):
        sys.exit("labels must be -1 or +1")
    return X, y


def gradient_norm(X, y, w, lam):
    """||sum_i -y_i x_i sigmoid(-y_i w.x_i) + Lambda w||_2 (numpy, independent of sklearn)."""
    t = -y * (X @ w)
    e = np.exp(-np.abs(t))
    sig = np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))  # sigmoid(t), stable
    g = X.T @ (-y * sig) + lam * w
    return float(np.linalg.norm(g))


def main(argv=None):
    """Time scikit-learn's fit on the CSV and print the result as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument(
        "--lambda",
        dest="lam",
        type=float,
        default=1e-3,
        help="per-sample lambda; Lambda = lambda * n (default 1e-3)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="number of timed fits (default 3)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        sys.exit("--repeat must be >= 1")

    X, y = read_csv(args.csv)
    n, d = X.shape
    big_lambda = args.lam * n
    times, model = [], None
    converged = True
    for _ in range(args.repeat):
        model = LogisticRegression(
            solver="lbfgs", tol=1e-10, max_iter=10000, fit_intercept=False, C=1.0 / big_lambda
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            model.fit(X, y)
            times.append(time.perf_counter() - t0)
        if any(issubclass(c.category, ConvergenceWarning) for c in caught):
            converged = False
    w = model.coef_.ravel()
    if list(model.classes_) != [-1.0, 1.0]:
        sys.exit(f"expected classes [-1, 1], got {model.classes_}")
    out = {
        "solver": "lbfgs",
        "n": n,
        "d": d,
        "lambda": args.lam,
        "seconds_best": min(times),
        "seconds_all": times,
        "n_iter": int(np.max(model.n_iter_)),
        "gradient_norm": gradient_norm(X, y, w, big_lambda),
    }
    if not converged:
        print("warning: lbfgs reported a ConvergenceWarning", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
