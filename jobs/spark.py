"""SparkSession building, and the Spark executor of shard stages: one task per shard (a few
shards per task for large stages), with the stage's sparse counts summed in a tree within
the same job; shuffles are ``partitionBy`` steps.

Spark only schedules: each task receives a shard, not data, and does its own IO through
fsspec (``curation.core.shards.run_shard``), so the JVM stays off the data path.
"""

import logging
import os
import sys
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import numpy as np

from curation.chain.counting import add_sparse
from curation.core.errors import CurationError
from curation.core.executor import (
    Executor,
    Step,
    in_storage,
    limit_threads,
    log_stage,
    run_step,
    stage_task,
    without_counts,
)
from curation.core.faults import Faults
from curation.core.progress import Progress
from curation.core.shards import ShardResult, StageRun, raise_errors

log = logging.getLogger(__name__)
MAX_SHARDS_PER_TASK = 64


def get_spark(master: str | None = None, app_name: str = "curate", conf: dict | None = None):
    """Build a SparkSession, or reuse the active one (tests, notebooks).

    ``master=None`` means: the master ``spark-submit`` was given, else ``local[*]``.
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    # Executors must run the same Python as the driver (the project's virtualenv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from pyspark import SparkContext

    from jobs import jvm

    conf, cds = dict(conf or {}), None
    if not _under_spark_submit() and SparkContext._active_spark_context is None:
        # This process starts the driver JVM: its start-up options apply.
        cds = jvm.archive() if jvm.OPTION not in conf else None
        conf = jvm.driver_options(conf, cds)
    try:
        spark = _build(app_name, master, conf)
    except Exception:
        if cds is None or not cds.usable():
            raise
        # A class archive the JVM cannot map: start without it, and do not use it again.
        log.warning("the Spark driver did not start with its class archive %s; starting it without", cds.final)
        cds.discard()
        spark = _build(app_name, master, jvm.driver_options({k: v for k, v in conf.items() if k != jvm.OPTION}, None))
    if cds is not None:
        cds.started(spark)
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _build(app_name: str, master: str | None, conf: dict):
    from pyspark.sql import SparkSession

    # Our own progress lines say what Spark's console bars would, without interleaving
    # them with the summary on the terminal (a --conf given here still wins).
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    if master or not _under_spark_submit():
        builder = builder.master(master or "local[*]")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _require_pyspark() -> None:
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        raise CurationError("pyspark is not installed: this command runs on Spark (pip install -r requirements.txt, "
                            "or `make install`), or give --executor local; status, report and metadata "
                            "stats/diff/build/import do not need it")


def spark_executor(spark_cfg, app_name: str, storage=None) -> "SparkExecutor":
    """The Spark executor of a command, from its ``spark`` config section; its session starts
    when the first task does (pyspark must be there from the start)."""
    _require_pyspark()
    return SparkExecutor(storage=storage, session=partial(get_spark, spark_cfg.master, app_name, spark_cfg.conf))


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and hands its gateway to Python; its --master is
    # then already in the JVM's configuration.
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def _stage_job(sc, description: str, total: int, rows_key: str | None):
    """A job group named after the stage (shown in the Spark UI) and progress logging; yields
    the accumulator that tasks add their (rows, shards) to (``None`` without rows)."""
    group = f"curate-{description}-{uuid.uuid4().hex[:8]}"
    sc.setJobGroup(group, f"{description} ({total} shards)")
    rows_acc = sc.accumulator((0, 0), PairAccumulator()) if rows_key else None
    progress = Progress(description, total, lambda: rows_acc.value) if rows_key else None
    if progress:
        progress.start()
    try:
        yield rows_acc
    finally:
        if progress:
            progress.stop()
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setJobDescription(None)


class PairAccumulator:
    """Adds ``(rows, shards)`` pairs (Spark's AccumulatorParam protocol: ``zero`` and
    ``addInPlace``; no import of pyspark needed to define it)."""

    def zero(self, value):
        return (0, 0)

    def addInPlace(self, a, b):
        return (a[0] + b[0], a[1] + b[1])


def _counted(storage, rows_acc, rows_key, threads, fn, item):
    """A stage task in the executor: ``fn(item)`` with the driver's storage options and Arrow
    sized to the task's cores, its rows added to the progress accumulator."""
    limit_threads(threads)
    result = in_storage(storage, fn, item)
    if rows_acc is not None and isinstance(result, ShardResult):
        rows_acc.add((0 if result.skipped else result.stats.get(rows_key, 0), 1))
    return result


def _partition(task, size, items):
    """Run a partition's shards in turn; yield their (index, result) pairs and the dense sum
    of their sparse counts (``None`` when the stage has none)."""
    results, acc = [], None
    for index, item in items:
        result = task(item)
        if size is not None and result.counts is not None and len(result.counts[0]):
            acc = add_sparse(np.zeros(size, dtype=np.int64) if acc is None else acc, *result.counts)
        results.append((index, without_counts(result)))
    yield results, acc


def _combine(a, b):
    results = a[0] + b[0]
    if a[1] is None or b[1] is None:
        return results, (b[1] if a[1] is None else a[1])
    return results, np.add(a[1], b[1], out=a[1])


class SparkExecutor(Executor):
    """Shard tasks as Spark tasks (``curation.core.executor`` has the interface). A few
    tasks per core, each running several shards in turn: fewer tasks cost less scheduling,
    and resume stays per shard (done markers). Each partition adds its shards' counts into
    one dense vector and the vectors meet in a ``treeReduce``, so the driver receives a
    handful of vectors whatever the shard count."""

    name = "spark"

    def __init__(self, spark=None, storage=None, session: Callable | None = None):
        super().__init__(storage)
        self._spark, self._session = spark, session

    @property
    def spark(self):
        """The SparkSession, started on first use (a command that stops on a bad input before
        any task never waits for a JVM)."""
        if self._spark is None:
            self._spark = self._session()
        return self._spark

    @property
    def sc(self):
        return self.spark.sparkContext

    @property
    def parallelism(self) -> int:
        return self.sc.defaultParallelism

    @property
    def task_cpus(self) -> int:
        """The cores Spark gives each task (``spark.task.cpus``, 1 unless configured)."""
        return max(1, int(self.sc.getConf().get("spark.task.cpus", "1")))

    def map(self, fn: Callable, items: list, description: str = "") -> list:
        if not items:
            return []
        with _stage_job(self.sc, description, len(items), None):
            return self.sc.parallelize(items, len(items)).map(partial(in_storage, self.storage, fn)).collect()

    def run_stage(self, stage, shards: list, description: str | None = None) -> StageRun:
        import time

        size = stage.counts_size if stage.has_counts else None
        if not shards:
            return StageRun([], np.zeros(size, np.int64) if size is not None else None)
        start = time.monotonic()
        fn = partial(stage_task, stage, Faults.from_env())
        with _stage_job(self.sc, description or stage.name, len(shards), stage.rows_key) as rows_acc:
            task = partial(_counted, self.storage, rows_acc, stage.rows_key, self.task_cpus, fn)
            partitions = min(len(shards), max(4 * self.parallelism, -(-len(shards) // MAX_SHARDS_PER_TASK)))
            rdd = self.sc.parallelize(list(enumerate(shards)), partitions)
            results, total = rdd.mapPartitions(partial(_partition, task, size)).treeReduce(
                _combine, depth=1 if partitions <= 16 else 2)
        ordered = [result for _, result in sorted(results, key=lambda pair: pair[0])]
        if size is not None and total is None:
            total = np.zeros(size, dtype=np.int64)
        run = StageRun(raise_errors(ordered), total, time.monotonic() - start)
        log_stage(stage.name, run, stage.rows_key, self.name)
        return run

    def shuffle(self, items: list, emit: Callable, steps: list[Step], description: str = "",
                map_tasks: int | None = None) -> list:
        if not items:
            return []
        self.sc.setJobDescription(description)
        try:
            rdd = self.sc.parallelize(items, max(1, map_tasks or len(items))).flatMap(
                partial(in_storage, self.storage, emit))
            for step in steps:
                rdd = rdd.partitionBy(step.partitions, step.partition_of).mapPartitionsWithIndex(
                    partial(run_step, self.storage, step.fn))
            return rdd.collect()
        finally:
            self.sc.setJobDescription(None)
