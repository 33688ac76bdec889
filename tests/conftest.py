"""Shared fixtures: one local[2] SparkSession for the whole suite, and pool builders."""

import os
import sys
import tempfile

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# Matcher indexes built by the tests go to a fresh folder, never a user's cache.
os.environ["CURATION_CACHE"] = tempfile.mkdtemp(prefix="curation-test-cache-")


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("curation-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
