"""The datasets embedded in unlearn, as the CLI reads them (``builtin:NAME``).

Each loader returns the raw features (unscaled) with stable row ids and the dataset's
recommended preprocessing constants, which are documented bounds of the measurements, not
statistics of the rows (scaling by statistics of the rows would make every row depend on
every other, and a removed row would live on in the scaler).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch

from . import _unlearn

__all__ = ["load_breast_cancer", "load_diabetes", "load_digits", "make_synthetic"]


def _labels(values: np.ndarray, encoding: dict[str, Any]) -> np.ndarray:
    """Decode targets: class names (ints when all are), or the values."""
    kind = encoding["kind"]
    if kind == "regression":
        return values
    if kind == "binary":
        names = np.array([encoding["negative"], encoding["positive"]], dtype=object)
        codes = (values > 0).astype(np.int64)
    else:
        names = np.array(encoding["classes"], dtype=object)
        codes = values.astype(np.int64)
    try:
        names = names.astype(np.int64)
    except ValueError:
        names = names.astype(str)
    return names[codes]


def _load(name: str, return_X_y: bool, scaled: bool) -> Any:
    return _bunch(_unlearn.load_builtin(name), return_X_y, scaled)


def _bunch(parts: tuple[Any, ...], return_X_y: bool, scaled: bool) -> Any:
    x, values, encoding, ids, names, scale, clip, description = parts
    target = _labels(values, encoding)
    data = x * scale if scaled else x
    if return_X_y:
        return data, target, ids
    return Bunch(
        data=data,
        target=target,
        ids=ids,
        feature_names=np.array(names, dtype=object),
        scale=scale,
        clip_norm=clip,
        DESCR=description,
    )


def load_digits(*, return_X_y: bool = False, scaled: bool = True) -> Any:
    """Load the digits dataset (1,797 rows of 8x8 pixels, labels 0-9).

    Parameters
    ----------
    return_X_y : bool, default False
        Return ``(X, y, ids)`` instead of a Bunch.
    scaled : bool, default True
        Multiply the features by the recommended constants (``scale``: 1/128, so every
        row has norm at most 1).

    Returns
    -------
    Bunch or tuple
        ``data``, ``target``, ``ids``, ``feature_names``, ``scale`` (per feature),
        ``clip_norm`` (recommended, or None) and ``DESCR``.
    """
    return _load("digits", return_X_y, scaled)


def load_breast_cancer(*, return_X_y: bool = False, scaled: bool = True) -> Any:
    """Load the Wisconsin breast cancer dataset (569 rows, 30 features, 2 classes).

    Parameters
    ----------
    return_X_y : bool, default False
        Return ``(X, y, ids)`` instead of a Bunch.
    scaled : bool, default True
        Multiply the features by the recommended constants (``scale``).

    Returns
    -------
    Bunch or tuple
        As :func:`load_digits`.
    """
    return _load("breast_cancer", return_X_y, scaled)


def load_diabetes(*, return_X_y: bool = False, scaled: bool = True) -> Any:
    """Load the diabetes regression dataset (442 rows, 10 features).

    Parameters
    ----------
    return_X_y : bool, default False
        Return ``(X, y, ids)`` instead of a Bunch.
    scaled : bool, default True
        Multiply the features by the recommended constants (``scale``).

    Returns
    -------
    Bunch or tuple
        As :func:`load_digits`.
    """
    return _load("diabetes", return_X_y, scaled)


def make_synthetic(
    n_samples: int = 12000,
    n_features: int = 784,
    *,
    flip: float = 0.1,
    regression: bool = False,
    seed: int = 1,
    return_X_y: bool = False,
) -> Any:
    """Generate the seeded synthetic data of ``unlearn synth --seed SEED``.

    Rows are Gaussian directions scaled to a norm uniform in [0, 1] (so every row has norm
    at most 1); labels are the side of a random hyperplane (-1 or 1), each flipped with
    probability ``flip``, or, with ``regression``, the hyperplane's value plus Gaussian
    noise of standard deviation ``flip``. Ids are "s0", "s1", ...

    Parameters
    ----------
    n_samples, n_features : int, default 12000 and 784
        The shape (the MNIST-scale benchmark problem by default).
    flip : float, default 0.1
        Label-flip probability, or target noise.
    regression : bool, default False
        Real targets instead of labels.
    seed : int, default 1
        Generator seed.
    return_X_y : bool, default False
        Return ``(X, y, ids)`` instead of a Bunch.

    Returns
    -------
    Bunch or tuple
        As :func:`load_digits`.
    """
    parts = _unlearn.make_synthetic(
        int(n_samples), int(n_features), float(flip), bool(regression), int(seed)
    )
    return _bunch(parts, return_X_y, scaled=False)
