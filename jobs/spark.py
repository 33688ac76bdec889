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
from contextlib import contextmanager
from functools import partial

import numpy as np

from curation.counting import add_sparse
from curation.storage import apply as storage_apply
from jobs.faults import Faults
from jobs.progress import PairAccumulator, Progress

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
    stats = result[0] if isinstance(result, tuple) else result
    if rows_acc is not None and isinstance(stats, dict):
        rows = stats.get(rows_key, 0) if not stats.get("skipped") else 0
        rows_acc.add((rows, 1))
    return result


@contextmanager
def _stage_job(sc, fn: Callable, items: list, description: str, storage, rows_key: str | None):
    """The task to run for a stage's job: storage options, faults and progress around ``fn``,
    in a job group named after the stage (shown in the Spark UI)."""
    group = f"curate-{description}-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, f"{description} ({len(items)} shards)")
    rows_acc = sc.accumulator((0, 0), PairAccumulator()) if rows_key else None
    progress = Progress(description, len(items), rows_acc) if rows_key else None
    if progress:
        progress.start()
    try:
        yield partial(_task, storage, Faults.from_env(), description, fn, rows_acc, rows_key)
    finally:
        if progress:
            progress.stop()
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setJobDescription(None)


def map_shards(spark, fn: Callable, items: list, description: str, storage=None, rows_key: str | None = None) -> list:
    """Run ``fn(item)`` as one Spark task per item and return the results in order.

    ``storage`` (``StorageOptions``) is applied in every task; progress (shards done, rows/s
    from the ``rows_key`` of each result) is logged while the job runs.
    """
    if not items:
        return []
    sc = spark.sparkContext
    with _stage_job(sc, fn, items, description, storage, rows_key) as task:
        return sc.parallelize(items, len(items)).map(task).collect()


MAX_SHARDS_PER_TASK = 64


def _partition_reduce(task, size, items):
    """Run ``task`` on each item of a partition; yield (results, summed dense counts)."""
    results, acc = [], None
    for item in items:
        result, ids, counts = task(item)
        results.append(result)
        if len(ids):
            acc = add_sparse(np.zeros(size, dtype=np.int64) if acc is None else acc, ids, counts)
    yield results, acc


def _combine(a, b):
    results = a[0] + b[0]
    if a[1] is None or b[1] is None:
        return results, (b[1] if a[1] is None else a[1])
    return results, np.add(a[1], b[1], out=a[1])


def map_reduce_shards(spark, fn: Callable, items: list, description: str, size: int, storage=None,
                      rows_key: str | None = None) -> tuple[list, np.ndarray]:
    """One task per item, ``fn(item) -> (result, ids, counts)``; returns the results in item
    order and the sum of the sparse counts, added up in a tree within the same job.

    Each partition adds its shards' counts into one dense vector and the vectors meet in a
    ``treeReduce``, so the driver receives a handful of vectors whatever the shard count.
    """
    if not items:
        return [], np.zeros(size, dtype=np.int64)
    sc = spark.sparkContext
    with _stage_job(sc, fn, items, description, storage, rows_key) as task:
        # A few tasks per core, each running several shards in turn: fewer tasks cost less
        # scheduling, and resume stays per shard (done markers). Up to 16 partial vectors
        # are added up on the driver; more meet in a tree first.
        partitions = min(len(items), max(4 * sc.defaultParallelism, -(-len(items) // MAX_SHARDS_PER_TASK)))
        rdd = sc.parallelize(list(enumerate(items)), partitions)
        indexed = partial(_indexed, task)
        results, total = rdd.mapPartitions(partial(_partition_reduce, indexed, size)).treeReduce(
            _combine, depth=1 if partitions <= 16 else 2)
    ordered = [result for _, result in sorted(results, key=lambda pair: pair[0])]
    return ordered, np.zeros(size, dtype=np.int64) if total is None else total


def _indexed(task, pair):
    index, item = pair
    result, ids, counts = task(item)
    return (index, result), ids, counts


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
