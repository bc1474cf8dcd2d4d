"""What recording a release before showing it costs a store-backed estimator's remove().

A store-backed estimator (loaded from a store) appends and syncs the release's line in the
store's release log before remove() returns (python/src/backing.rs); a copy loaded with
``record=False`` does not. Both remove the same rows in the same order (the same steps, bit
for bit), interleaved, on breast cancer (569 x 30, budget 2.0: pass-free steps after the
first). Load from other processes only adds time, so the minimum is the undisturbed cost;
the median and p90 show the spread. Usage:

    target/python-venv/bin/python scripts/record_first_bench.py [DIR] [REMOVALS]

DIR (default target/record-first-bench) is replaced; REMOVALS defaults to 100.
"""

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from unlearn import CertifiedLogisticRegression, datasets


def main() -> None:
    """Time the paired removals and print the minimum, median and p90 of each."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/record-first-bench")
    removals = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    X, y, ids = datasets.load_breast_cancer(return_X_y=True)
    CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids).save(root / "backed")
    shutil.copytree(root / "backed", root / "copy")
    sides = {
        "backed (records first)": CertifiedLogisticRegression.load(root / "backed"),
        "copy (record=False)": CertifiedLogisticRegression.load(root / "copy", record=False),
    }
    for est in sides.values():
        est.remove(ids[0])  # the first removal forms the caches: an exact step
    times: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(1, removals + 1):
        order = list(sides.items())
        for name, est in order if i % 2 else reversed(order):
            start = time.perf_counter()
            est.remove(ids[i])
            times[name].append(time.perf_counter() - start)
    for name, series in times.items():
        ordered = sorted(series)
        print(
            f"{name}: min {1e3 * ordered[0]:.3f} ms, median {1e3 * statistics.median(series):.3f}"
            f" ms, p90 {1e3 * ordered[int(0.9 * len(ordered))]:.3f} ms ({len(series)} removals)"
        )
    print("load average", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
