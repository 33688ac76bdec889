"""Console progress of a running stage: shards done/total and rows/s, every few seconds.

Reads an accumulator of (rows, shards) that tasks add to as each shard finishes (Spark
sends accumulator updates to the driver when a task ends). ``CURATION_PROGRESS_S`` sets the
interval (default 10 s).
"""

import logging
import os
import threading
import time

log = logging.getLogger("curate")


class PairAccumulator:
    """Adds ``(rows, shards)`` pairs (Spark's AccumulatorParam protocol: ``zero`` and
    ``addInPlace``; no import of pyspark needed to define it)."""

    def zero(self, value):
        return (0, 0)

    def addInPlace(self, a, b):
        return (a[0] + b[0], a[1] + b[1])


class Progress(threading.Thread):
    """Logs a stage's progress until ``stop()``."""

    def __init__(self, label: str, total: int, acc):
        super().__init__(daemon=True)
        self.label, self.total, self.acc = label, total, acc
        self.interval = float(os.environ.get("CURATION_PROGRESS_S", "10"))
        self.started = time.monotonic()
        self._stop = threading.Event()

    def report(self) -> None:
        elapsed = time.monotonic() - self.started
        rows, shards = self.acc.value
        log.info("%s: %d/%d shards done, %d rows, %.0f rows/s", self.label, shards, self.total, rows,
                 rows / max(elapsed, 1e-9))

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def stop(self) -> None:
        self._stop.set()
