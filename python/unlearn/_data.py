"""Turning the caller's data into what the extension reads.

The extension reads float64 C-contiguous arrays. What that costs for each input:

- a numpy float64 C-contiguous array: nothing before the extension (it is passed as is);
  other dtypes or layouts are converted by numpy (one copy);
- a pandas or polars DataFrame: its columns are stacked into one float64 array (one copy:
  both store columns apart) and its column names become ``feature_names_in_``;
- a pyarrow Table or RecordBatch: converted through pandas (``to_pandas``), so its column
  names become ``feature_names_in_`` as for a DataFrame (a copy; the Arrow C data interface
  is not used yet);
- scipy sparse matrices and arrays: refused (the core has dense rows only).

Training then copies the rows once more, into the secret state that owns them (a removal
deletes rows from it).
"""

from __future__ import annotations

from typing import Any


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy sparse matrix or array (without importing scipy)."""
    module = type(x).__module__
    return module.startswith("scipy.sparse") and hasattr(x, "nnz")


def reject_sparse(x: Any) -> None:
    """Raise ``TypeError`` for sparse input, saying what to pass instead."""
    if is_sparse(x):
        raise TypeError(
            "unlearn does not support sparse input yet (its rows are dense): pass "
            "X.toarray() if it fits in memory"
        )


def from_arrow(x: Any) -> Any:
    """Return a pyarrow Table or RecordBatch as a pandas DataFrame; anything else as is."""
    if type(x).__module__.startswith("pyarrow") and hasattr(x, "column_names"):
        return x.to_pandas()
    return x


def prepare(x: Any) -> Any:
    """Refuse sparse input and convert Arrow tables; the rest is left to scikit-learn."""
    reject_sparse(x)
    return from_arrow(x)
