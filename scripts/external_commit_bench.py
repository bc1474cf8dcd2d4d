#!/usr/bin/env python3
"""What an external-rows store costs per commit, against a held-rows store of the same model.

For each size (20,000 x 100 and 12,000 x 784, ``unlearn.datasets.make_synthetic`` seed 1),
one certified logistic model (C = 1, budget 2, no intercept) is fitted twice: one keeps its
rows, the other lets them go (``detach_rows``). Each serves five single-row removals (the
external one is given the row as a pyarrow table) and commits after each (``est.save`` on its
store: one transaction; the held store deletes the row, the external one rewrites its caches,
which cannot be rebuilt without the rows). Prints the median commit time and the size of
``unlearn.db`` afterwards. One run; the machine's other load only adds time.

Run with the package installed (``scripts/test`` builds it into target/python-venv):
    target/python-venv/bin/python scripts/external_commit_bench.py
"""

import os
import shutil
import tempfile
import time

import numpy as np
import pyarrow as pa

from unlearn import CertifiedLogisticRegression, datasets


def main() -> None:
    """Fit, remove and commit at both sizes, held and external, and print the medians."""
    for n, d in [(20000, 100), (12000, 784)]:
        X, y, ids = datasets.make_synthetic(n, d, return_X_y=True)
        ids = list(ids)
        for external in (False, True):
            est = CertifiedLogisticRegression(C=1.0, budget=2.0, fit_intercept=False)
            est.fit(X, y, ids=ids)
            if external:
                est.detach_rows()
            root = tempfile.mkdtemp()
            store = os.path.join(root, "store")
            est.save(store)
            times = []
            for k in range(1, 6):
                rows = None
                if external:
                    columns = {f"x{j}": X[[k], j] for j in range(d)}
                    columns["y"] = y[[k]]
                    columns["id"] = [ids[k]]
                    rows = pa.table(columns)
                est.remove([ids[k]], rows=rows)
                started = time.perf_counter()
                est.save(store)
                times.append(time.perf_counter() - started)
            size = os.path.getsize(os.path.join(store, "unlearn.db"))
            kind = "external" if external else "held"
            print(
                f"{n}x{d} {kind}: commit median {np.median(times) * 1e3:.1f} ms, "
                f"unlearn.db {size / 1e6:.1f} MB"
            )
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
