"""Shared fixtures: one local[2] SparkSession for the whole suite, and pool builders."""

import atexit
import os
import shutil
import sys
import tempfile

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# Matcher indexes built by the tests go to a fresh folder, never a user's cache; it is
# removed when the suite ends (each run used to leave ~20 MB in the temp folder).
os.environ["CURATION_CACHE"] = tempfile.mkdtemp(prefix="curation-test-cache-")
atexit.register(shutil.rmtree, os.environ["CURATION_CACHE"], ignore_errors=True)
# Commands run on the local executor unless a test names Spark (--executor spark, or the
# spark_executor fixture): library tests need no JVM.
os.environ["CURATE_EXECUTOR"] = "local"
# Spark commands that the tests start as processes would each dump a 120 MB class archive of
# the driver JVM at exit (jobs.jvm); tests/jobs/test_jvm.py turns it on where it is tested.
os.environ["CURATION_SPARK_CDS"] = "0"


@pytest.fixture(scope="session")
def executor():
    """The local executor of the whole suite: two worker processes, started once."""
    from curation.core.executor import LocalExecutor

    with LocalExecutor(workers=2) as local:
        yield local


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    # local[2,4]: two cores, and a failed task is tried up to 4 times (as on a cluster).
    session = (SparkSession.builder.master("local[2,4]").appName("curation-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1")  # as jobs.jvm starts it
               .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_executor(spark):
    from jobs.spark import SparkExecutor

    return SparkExecutor(spark)


@pytest.fixture(scope="session")
def s3_server():
    from tests.services import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    from tests.services import SparkCluster

    cluster = SparkCluster(tmp_path_factory.mktemp("spark-cluster"))
    yield cluster
    cluster.stop()
