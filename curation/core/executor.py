"""Executors: what maps a stage's shard tasks and returns their results.

Every command hands its work to an ``Executor`` and never asks which one it is:

- ``map(fn, items)``: ``fn(item)`` for every item, results in item order;
- ``run_stage(stage, shards)``: ``curation.core.shards.run_shard`` over a stage's shards (resume
  by done markers, injected faults, retries of failed tasks, progress), with the stage's
  sparse entry counts summed into one dense vector;
- ``shuffle(items, emit, steps)``: ``emit(item)`` yields ``(key, value)`` pairs; each
  ``Step`` routes every pair to partition ``partition_of(key) % partitions`` and runs
  ``fn(index, pairs)`` once for every partition (empty ones too), whose pairs feed the next
  step; the last step's outputs are returned (the per-image choice, the export's shuffle
  plan and ingest's dedup are shuffles).

Two implementations: ``LocalExecutor`` below (a process pool on this machine, no JVM) and
``jobs.spark.SparkExecutor`` (one Spark task per shard or group of shards). The same stage
gives the same outputs on both: tasks read and write their own shards through fsspec, and
only small results come back.
"""

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial

import numpy as np

from curation.chain.counting import add_sparse
from curation.core.errors import CurationError
from curation.core.faults import Faults
from curation.core.io import using_storage
from curation.core.progress import Progress
from curation.core.shards import ShardResult, StageRun, raise_errors, run_shard

log = logging.getLogger("curate")


def own_key(key) -> int:
    """The partition of an integer key: the key itself (taken modulo the partitions)."""
    return int(key)


@dataclass(frozen=True)
class Step:
    """One step of a shuffle: ``partitions`` partitions, ``fn(index, pairs)`` run on each,
    and ``partition_of(key)`` choosing a pair's partition (modulo ``partitions``)."""

    partitions: int
    fn: Callable
    partition_of: Callable = own_key


def in_storage(storage, fn: Callable, item):
    """What every task runs: ``fn(item)`` with the driver's object-store options."""
    with using_storage(storage):
        return fn(item)


def limit_threads(threads: int) -> None:
    """Size Arrow's CPU pool (Parquet decoding and encoding, compute kernels) to a task's share
    of the cores. Tasks already run one per core: each also spreading its Parquet work over
    every core only makes them contend (measured: reading a 100k-row pool shard takes 28 ms
    with the default pool beside another worker, 17 ms with one thread)."""
    import pyarrow as pa

    if pa.cpu_count() != threads:
        pa.set_cpu_count(threads)


def run_step(storage, fn: Callable, index: int, pairs: Iterable) -> list:
    """One partition of a shuffle step, with the driver's object-store options."""
    with using_storage(storage):
        return list(fn(index, list(pairs)))


def stage_task(stage, faults: Faults, shard) -> ShardResult:
    return run_shard(stage, shard, faults)


def without_counts(result: ShardResult) -> ShardResult:
    """A result as it is kept after its counts were added to the stage's total."""
    return ShardResult(result.stats, None, result.skipped, result.error, result.lineage_error)


def log_stage(name: str, run: StageRun, rows_key: str, executor: str) -> None:
    done = sum(1 for r in run.results if not r.skipped)
    rows = run.rows(rows_key)
    log.info("%s: %d shards (%d done now, %d already done), %d rows in %.1f s (%.0f rows/s) on %s", name,
             len(run.results), done, len(run.results) - done, rows, run.seconds, rows / max(run.seconds, 1e-9),
             executor)


class Executor:
    """The interface every command uses (see the module's docstring). ``parallelism`` is
    how many tasks run at once; ``storage`` the object-store options shipped to tasks."""

    name = ""
    parallelism = 1

    def __init__(self, storage=None):
        self.storage = storage

    def map(self, fn: Callable, items: list, description: str = "") -> list:
        raise NotImplementedError

    def run_stage(self, stage, shards: list, description: str | None = None) -> StageRun:
        raise NotImplementedError

    def shuffle(self, items: list, emit: Callable, steps: list[Step], description: str = "",
                map_tasks: int | None = None) -> list:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (a no-op where there are none)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TaskFailed(RuntimeError):
    """A task that kept failing after its retries."""


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# Workers come from a fork server: forked from a clean process (not from a driver that holds
# threads and locks), and quick to start again for every pool of a long-lived process.
_PRELOAD = ["curation.core.executor", "curation.chain.stages", "pyarrow.parquet"]


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


class LocalExecutor(Executor):
    """A process pool on this machine: ``workers`` processes (default: the cores this
    process may use), reused by every task of the command, so a worker maps its matcher
    index once. A task that raises is retried up to ``retries`` times (in a new pool when a
    worker died); a single task, or ``workers=1``, runs in this process."""

    name = "local"

    def __init__(self, workers: int | None = None, storage=None, retries: int = 3):
        super().__init__(storage)
        self.workers = workers or available_cores()
        self.parallelism = self.workers
        self.threads = max(1, available_cores() // self.workers)  # Arrow threads of each worker
        self.retries = retries
        self._pool: ProcessPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable, items: list, description: str = "") -> list:
        results: list = [None] * len(items)
        self._each(fn, items, results.__setitem__, description)
        return results

    def run_stage(self, stage, shards: list, description: str | None = None) -> StageRun:
        size = stage.counts_size if stage.has_counts else None
        total = np.zeros(size, np.int64) if size is not None else None
        results: list = [None] * len(shards)
        tally = [0, 0]  # rows done now, shards finished

        def collect(index: int, result: ShardResult) -> None:
            if total is not None and result.counts is not None and len(result.counts[0]):
                add_sparse(total, *result.counts)
            results[index] = without_counts(result)
            tally[0] += 0 if result.skipped else result.stats.get(stage.rows_key, 0)
            tally[1] += 1

        label = description or stage.name
        start = time.monotonic()
        progress = Progress(label, len(shards), lambda: tuple(tally))
        progress.start()
        try:
            self._each(partial(stage_task, stage, Faults.from_env()), shards, collect, label,
                       inline=stage.local_workers == 1)
        finally:
            progress.stop()
        run = StageRun(raise_errors(results), total, time.monotonic() - start)
        log_stage(stage.name, run, stage.rows_key, self.name)
        return run

    def shuffle(self, items: list, emit: Callable, steps: list[Step], description: str = "",
                map_tasks: int | None = None) -> list:
        pairs = [pair for out in self.map(emit, items, description) for pair in out]
        for step in steps:
            parts: list = [[] for _ in range(step.partitions)]
            for key, value in pairs:
                parts[step.partition_of(key) % step.partitions].append((key, value))
            outs = self.map(partial(_partition_task, step.fn), list(enumerate(parts)), description)
            pairs = [pair for out in outs for pair in out]
        return pairs

    def _each(self, fn: Callable, items: list, collect: Callable, description: str, inline: bool = False) -> None:
        """``collect(index, fn(item))`` for every item as it finishes, with retries; in this
        process when ``inline``, for a single item, or with one worker."""
        task = partial(in_storage, self.storage, fn)
        if inline or len(items) <= 1 or self.workers == 1:
            for index, item in enumerate(items):
                collect(index, self._inline(task, item, description, index))
            return
        attempts = [0] * len(items)
        pending = {self._submit(task, item): index for index, item in enumerate(items)}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    try:
                        result = future.result()
                    except BaseException as exc:  # noqa: BLE001 - retried, then raised
                        attempts[index] += 1
                        self._give_up_after(attempts[index], exc, description, index)
                        if isinstance(exc, BrokenProcessPool):
                            self._replace_broken_pool(future)
                        pending[self._submit(task, items[index])] = index
                    else:
                        collect(index, result)
        except BaseException:
            for future in pending:
                future.cancel()
            raise

    def _inline(self, task: Callable, item, description: str, index: int):
        for attempt in range(1, self.retries + 2):
            try:
                return task(item)
            except Exception as exc:  # noqa: BLE001 - retried, then raised
                self._give_up_after(attempt, exc, description, index)

    def _give_up_after(self, attempts: int, exc: BaseException, description: str, index: int) -> None:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, CurationError)):
            raise exc  # bad input fails the same way every time: named at once, not retried
        where = f"{description}: task {index}" if description else f"task {index}"
        if attempts > self.retries:
            raise TaskFailed(f"{where} failed {attempts} times; last error: {type(exc).__name__}: {exc}") from exc
        log.warning("%s failed (%s: %s); trying again (%d of %d)", where, type(exc).__name__, exc, attempts,
                    self.retries)

    def _submit(self, task: Callable, item):
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=limit_threads,
                                             initargs=(self.threads,))
        future = self._pool.submit(task, item)
        future.pool = self._pool  # which pool ran it: a dead worker breaks that pool only
        return future

    def _replace_broken_pool(self, future) -> None:
        if getattr(future, "pool", None) is self._pool and self._pool is not None:
            log.warning("a worker process died; starting new workers")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _partition_task(fn: Callable, item: tuple) -> list:
    index, pairs = item
    return list(fn(index, pairs))
