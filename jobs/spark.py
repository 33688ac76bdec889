"""SparkSession building and the two patterns every job uses: one task per shard, and a
tree aggregation of sparse per-shard counts into one dense vector.

Spark only schedules: each task receives a shard name, not data, and does its own IO
through fsspec, so the JVM stays off the data path.
"""

import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterable
from functools import partial

import numpy as np

from curation.counting import add_sparse
from curation.storage import apply as storage_apply
from jobs.faults import Faults
from jobs.progress import Progress

log = logging.getLogger(__name__)


def get_spark(master: str | None = None, app_name: str = "curate", conf: dict | None = None):
    """Build a SparkSession, or reuse the active one (tests, notebooks).

    ``master=None`` means: the master ``spark-submit`` was given, else ``local[*]``.
    """
    from pyspark.sql import SparkSession

    # Executors must run the same Python as the driver (the project's virtualenv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name)
    if master or not _under_spark_submit():
        builder = builder.master(master or "local[*]")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands its gateway to Python; its --master is
    # then already in the JVM's configuration.
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _task(storage, faults, stage, fn, rows_acc, rows_key, item):
    """What runs in the executor: storage options and faults first, then ``fn``."""
    storage_apply(storage)
    faults.before(stage, getattr(item, "name", str(item)))
    result = fn(item)
    if rows_acc is not None and isinstance(result, dict) and not result.get("skipped") and rows_key in result:
        rows_acc.add(result[rows_key])
    return result


def map_shards(spark, fn: Callable, items: list, description: str, storage=None, rows_key: str | None = None) -> list:
    """Run ``fn(item)`` as one Spark task per item and return the results in order.

    ``storage`` (``StorageOptions``) is applied in every task; progress (shards done, rows/s
    from the ``rows_key`` of each result) is logged while the job runs.
    """
    if not items:
        return []
    sc = spark.sparkContext
    group = f"curate-{description}-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, f"{description} ({len(items)} shards)")
    rows_acc = sc.accumulator(0) if rows_key else None
    progress = Progress(sc, group, description, len(items), rows_acc) if rows_key else None
    task = partial(_task, storage, Faults.from_env(), description, fn, rows_acc, rows_key)
    if progress:
        progress.start()
    try:
        return sc.parallelize(items, len(items)).map(task).collect()
    finally:
        if progress:
            progress.stop()
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setJobDescription(None)


def sum_sparse(spark, items: Iterable, read: Callable, size: int, description: str, storage=None) -> np.ndarray:
    """Sum the sparse ``(ids, counts) = read(item)`` of every item into a dense int64 vector.

    Each partition adds its shards into one dense vector and the vectors meet in a tree,
    so the driver receives a handful of vectors whatever the number of shards.
    """
    items = list(items)
    if not items:
        return np.zeros(size, dtype=np.int64)
    sc = spark.sparkContext
    sc.setJobDescription(f"{description} ({len(items)} shards)")
    partitions = max(1, min(len(items), sc.defaultParallelism * 4))

    def add_one(acc, item):
        storage_apply(storage)
        ids, counts = read(item)
        acc = np.zeros(size, dtype=np.int64) if acc is None else acc
        return add_sparse(acc, ids, counts)

    def combine(a, b):
        if a is None or b is None:
            return b if a is None else a
        a += b
        return a

    try:
        total = sc.parallelize(items, partitions).treeAggregate(None, add_one, combine, depth=2)
    finally:
        sc.setJobDescription(None)
    return np.zeros(size, dtype=np.int64) if total is None else total
