"""Console progress of a running stage: shards done/total and rows/s, every few seconds.

An executor hands ``Progress`` a function that returns ``(rows, shards)`` done so far (a
Spark accumulator's value, or the local executor's own tally). ``CURATION_PROGRESS_S`` sets
the interval (default 10 s).
"""

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("curate")


class Progress(threading.Thread):
    """Logs a stage's progress until ``stop()``."""

    def __init__(self, label: str, total: int, done: Callable[[], tuple[int, int]]):
        super().__init__(daemon=True)
        self.label, self.total, self.done = label, total, done
        self.interval = float(os.environ.get("CURATION_PROGRESS_S", "10"))
        self.started = time.monotonic()
        self._stop = threading.Event()

    def report(self) -> None:
        elapsed = time.monotonic() - self.started
        rows, shards = self.done()
        log.info("%s: %d/%d shards done, %d rows, %.0f rows/s", self.label, shards, self.total, rows,
                 rows / max(elapsed, 1e-9))

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def stop(self) -> None:
        self._stop.set()
