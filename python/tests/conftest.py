"""Shared fixtures: the embedded datasets, scaled by their recommended constants."""

import numpy as np
import pytest

from unlearn import datasets


@pytest.fixture(scope="session")
def breast_cancer():
    return datasets.load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="session")
def digits():
    return datasets.load_digits(return_X_y=True)


@pytest.fixture(scope="session")
def diabetes():
    return datasets.load_diabetes(return_X_y=True)


def with_ones(X):
    """[X, 1]: the intercept as an ordinary (regularised) feature, as the core has it."""
    return np.hstack([X, np.ones((X.shape[0], 1))])
