"""Shared fixtures: the embedded datasets, scaled by their recommended constants; the Spark
session of python/tests/spark."""

import os
import sys

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


# The Spark suite's session (python/tests/spark). Here rather than in a conftest.py of that
# directory: a second module named `conftest` would shadow this one for the tests that
# import `with_ones` from it.
#
# `local[2,3]`: two task threads (the CI machine has two cores) and `spark.task.maxFailures`
# = 3, which local mode takes only from the master string; the fault-injection test needs a
# failed task to be retried, the other tests do not notice (a task that fails for another
# reason fails all three attempts, and its test with it). One session for the whole suite,
# started on first use: starting the JVM costs ~8 s.


@pytest.fixture(scope="session")
def spark_session():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2,3]")
        .appName("unlearn-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .config("spark.default.parallelism", "3")
        .config("spark.driver.memory", "1g")
        # One partition per (small) Parquet file, so a test chooses the partition count
        # by the files it writes (Spark would otherwise pack small files into one split).
        .config("spark.sql.files.maxPartitionBytes", "64k")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
