"""SparkSession building, and the Spark executor of shard stages: one task per shard (a few
shards per task for large stages), with the stage's sparse counts summed in a tree within
the same job.

Spark only schedules: each task receives a shard, not data, and does its own IO through
fsspec (``curation.shards.run_shard``), so the JVM stays off the data path.
"""

import logging
import os
import sys
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import numpy as np

from curation.counting import add_sparse
from curation.errors import CurationError
from curation.faults import Faults
from curation.io import using_storage
from curation.shards import ShardResult, ShardStage, StageRun, raise_errors, run_shard
from jobs.progress import PairAccumulator, Progress

log = logging.getLogger(__name__)
MAX_SHARDS_PER_TASK = 64


def get_spark(master: str | None = None, app_name: str = "curate", conf: dict | None = None):
    """Build a SparkSession, or reuse the active one (tests, notebooks).

    ``master=None`` means: the master ``spark-submit`` was given, else ``local[*]``.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise CurationError("pyspark is not installed: this command runs on Spark (pip install -r requirements.txt, "
                            "or `make install`); status, report and metadata stats/diff/build/import do not need it"
                            ) from None

    # Executors must run the same Python as the driver (the project's virtualenv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Our own progress lines say what Spark's console bars would, without interleaving
    # them with the summary on the terminal (a --conf given here still wins).
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    if master or not _under_spark_submit():
        builder = builder.master(master or "local[*]")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def spark_for(cfg: dict, app_name: str):
    """The SparkSession of a command, from its ``spark`` config section."""
    spark_cfg = cfg["spark"]
    return get_spark(spark_cfg.master, app_name, spark_cfg.conf)


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands its gateway to Python; its --master is
    # then already in the JVM's configuration.
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def _stage_job(sc, description: str, total: int, storage, rows_key: str | None):
    """A job group named after the stage (shown in the Spark UI), progress logging, and
    the wrapper every task runs: storage options scoped around ``fn``, faults shipped."""
    group = f"curate-{description}-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, f"{description} ({total} shards)")
    rows_acc = sc.accumulator((0, 0), PairAccumulator()) if rows_key else None
    progress = Progress(description, total, rows_acc) if rows_key else None
    if progress:
        progress.start()
    try:
        yield partial(_task, storage, rows_acc, rows_key)
    finally:
        if progress:
            progress.stop()
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setJobDescription(None)


def _task(storage, rows_acc, rows_key, fn, item):
    """What runs in the executor: ``fn(item)`` with the driver's storage options."""
    with using_storage(storage):
        result = fn(item)
    if rows_acc is not None and isinstance(result, ShardResult):
        rows_acc.add((0 if result.skipped else result.stats.get(rows_key, 0), 1))
    return result


def map_shards(spark, fn: Callable, items: list, description: str, storage=None) -> list:
    """Run ``fn(item)`` as one Spark task per item and return the results in order (plain
    per-file work outside a stage: row counts, shuffle coins)."""
    if not items:
        return []
    sc = spark.sparkContext
    with _stage_job(sc, description, len(items), storage, None) as task:
        return sc.parallelize(items, len(items)).map(partial(task, fn)).collect()


def _partition(task, size, items):
    """Run a partition's shards in turn; yield their (index, result) pairs and the dense sum
    of their sparse counts (``None`` when the stage has none)."""
    results, acc = [], None
    for index, item in items:
        result = task(item)
        if size is not None and result.counts is not None and len(result.counts[0]):
            acc = add_sparse(np.zeros(size, dtype=np.int64) if acc is None else acc, *result.counts)
        results.append((index, ShardResult(result.stats, None, result.skipped, result.error, result.lineage_error)))
    yield results, acc


def _combine(a, b):
    results = a[0] + b[0]
    if a[1] is None or b[1] is None:
        return results, (b[1] if a[1] is None else a[1])
    return results, np.add(a[1], b[1], out=a[1])


def run_stage(spark, stage: ShardStage, shards: list, storage=None, description: str | None = None) -> StageRun:
    """Run every shard of ``stage`` as Spark tasks; return the results in plan order and,
    for stages with counts, their sum, added up in a tree within the same job.

    A few tasks per core, each running several shards in turn: fewer tasks cost less
    scheduling, and resume stays per shard (done markers). Each partition adds its shards'
    counts into one dense vector and the vectors meet in a ``treeReduce``, so the driver
    receives a handful of vectors whatever the shard count. Input errors of any shard are
    raised here, once, naming their files."""
    import time

    size = stage.counts_size if stage.has_counts else None
    if not shards:
        return StageRun([], np.zeros(size, np.int64) if size is not None else None)
    sc = spark.sparkContext
    start = time.monotonic()
    fn = partial(run_shard, stage, faults=Faults.from_env())
    with _stage_job(sc, description or stage.name, len(shards), storage, stage.rows_key) as task:
        partitions = min(len(shards), max(4 * sc.defaultParallelism, -(-len(shards) // MAX_SHARDS_PER_TASK)))
        rdd = sc.parallelize(list(enumerate(shards)), partitions)
        results, total = rdd.mapPartitions(partial(_partition, partial(task, fn), size)).treeReduce(
            _combine, depth=1 if partitions <= 16 else 2)
    ordered = [result for _, result in sorted(results, key=lambda pair: pair[0])]
    if size is not None and total is None:
        total = np.zeros(size, dtype=np.int64)
    run = StageRun(raise_errors(ordered), total, time.monotonic() - start)
    _log_stage(stage.name, run, stage.rows_key)
    return run


def _log_stage(name: str, run: StageRun, rows_key: str) -> None:
    done = sum(1 for r in run.results if not r.skipped)
    rows = run.rows(rows_key)
    logging.getLogger("curate").info(
        "%s: %d shards (%d done now, %d already done), %d rows in %.1f s (%.0f rows/s)", name, len(run.results),
        done, len(run.results) - done, rows, run.seconds, rows / max(run.seconds, 1e-9))
