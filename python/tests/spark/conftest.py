"""A local Spark session for the Spark suite: two worker threads, three attempts per task.

`local[2,3]`: two task threads (the CI machine has two cores) and `spark.task.maxFailures`
= 3, which local mode takes only from the master string; the fault-injection test needs a
failed task to be retried, the other tests do not notice (a task that fails for a reason
other than the injected fault fails all three attempts, and the test with it). One session
for the whole suite: starting the JVM costs ~8 s.
"""

import os
import sys

import pytest


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
