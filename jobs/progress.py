"""Console progress of a running stage: shards done/total and rows/s, every few seconds.

Reads Spark's status tracker for the stage's job group and a rows accumulator that the
tasks add to as they finish. ``CURATION_PROGRESS_S`` sets the interval (default 10 s).
"""

import logging
import os
import threading
import time

log = logging.getLogger("curate")


class Progress(threading.Thread):
    """Logs progress of job group ``group`` until ``stop()``."""

    def __init__(self, sc, group: str, label: str, total: int, rows_acc):
        super().__init__(daemon=True)
        self.sc, self.group, self.label, self.total, self.rows = sc, group, label, total, rows_acc
        self.interval = float(os.environ.get("CURATION_PROGRESS_S", "10"))
        self.started = time.monotonic()
        self._stop = threading.Event()

    def done_tasks(self) -> int:
        tracker = self.sc.statusTracker()
        done = 0
        for job_id in tracker.getJobIdsForGroup(self.group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else ():
                stage = tracker.getStageInfo(stage_id)
                done += stage.numCompletedTasks if stage else 0
        return done

    def report(self) -> None:
        elapsed = time.monotonic() - self.started
        rows = self.rows.value
        log.info("%s: %d/%d shards done, %d rows, %.0f rows/s", self.label, min(self.done_tasks(), self.total),
                 self.total, rows, rows / max(elapsed, 1e-9))

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()

    def stop(self) -> None:
        self._stop.set()
