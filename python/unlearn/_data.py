"""Turning the caller's data into what the extension reads.

What each input costs before the core owns its rows (training always ends with the rows in
one buffer the core owns: a removal deletes rows from it):

- a numpy float64 C-contiguous array: one copy, the extension's, which also checks that
  every value is finite; other dtypes or layouts are first converted by numpy (a second
  copy);
- a pandas or polars DataFrame, a pyarrow Table or RecordBatch: read through the Arrow C
  stream interface (``__arrow_c_stream__``) by the core's Arrow reader, one pass and one
  copy, straight into the buffer the core then owns. Column names become
  ``feature_names_in_``; a column that is not numeric is refused naming it, a missing value
  (null, or NaN in pandas, which pyarrow reads as null) or an infinity naming its column
  and row. pandas hands its columns to pyarrow first (``pyarrow.Table.from_pandas``,
  without the index): zero-copy for float64 columns without missing values, a copy
  otherwise. pandas without pyarrow installed goes through numpy instead (one more copy);
- scipy sparse matrices and arrays: refused (the core has dense rows only).
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


def arrow_stream(x: Any) -> Any | None:
    """Return the Arrow C stream (a PyCapsule) of a table, or None for anything else.

    A table is a pandas or polars DataFrame or a pyarrow Table or RecordBatch: anything
    with named columns that exports ``__arrow_c_stream__``. A pandas DataFrame is exported
    without its index (``to_pandas`` round trips and row selections give it one that is not
    a feature); without pyarrow, pandas is left to the numpy path.
    """
    # Asked of the type: on a pyarrow table the instance attribute `columns` builds one
    # object per column (≈ 75 µs at 100 columns, a removal's cost twice over).
    kind = type(x)
    if not (hasattr(kind, "columns") or hasattr(kind, "column_names")):
        return None
    if kind.__module__.startswith("pandas"):
        try:
            import pyarrow
        except ImportError:
            return None
        return pyarrow.Table.from_pandas(x, preserve_index=False).__arrow_c_stream__()
    if not hasattr(kind, "__arrow_c_stream__"):
        return None
    return x.__arrow_c_stream__()
