"""The shard-stage skeleton: every per-shard stage (ingest, match, filters, balance, export,
embed) is a ``ShardStage`` whose ``process`` turns one shard into output files and stats;
``run_shard`` does the rest once for all of them:

    skip when the done marker exists (checked against the stage's parameters)
    -> injected faults (drills) -> process -> write each output atomically
    -> write the done marker (stats, parameters, seconds) last

An executor (``curation.core.executor``) maps ``run_shard`` over a stage's shards: the local
process pool, or Spark tasks (``jobs.spark``). A stage folder holds ``_manifest.json`` (the
stage's name and parameters, claimed by the first run) and ``_done/<shard>.json``.
"""

import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from curation.core import layout
from curation.core.errors import CurationError, InputError, LineageError
from curation.core.faults import Faults
from curation.core.io import (
    create_exclusive,
    exists,
    file_digest,
    file_identity,
    file_size,
    join,
    list_names,
    read_json,
    write_atomic,
    write_json_atomic,
)

MANIFEST = "_manifest.json"
log = logging.getLogger("curate")


@dataclass(frozen=True)
class Shard:
    """One unit of work: its stable name, the input it reads (a URL, or a tuple of pieces),
    and its position in the stage."""

    name: str
    source: object = None
    index: int = 0


@dataclass
class ShardOutput:
    """What ``process`` returns: files to write (URL -> ``pa.Table`` written as Parquet,
    ``bytes``, or a readable binary file), the shard's stats, and optionally its sparse
    entry counts ``(ids, counts)`` for the stage's reduction."""

    files: dict
    stats: dict
    counts: tuple | None = None


@dataclass
class ShardResult:
    """The outcome of one shard: its done marker's stats (``skipped`` when it was done
    before), its sparse counts when the stage has them, or the input error that stopped it."""

    stats: dict
    counts: tuple | None = None
    skipped: bool = False
    error: str | None = None
    lineage_error: bool = False


_NOT_SUMMED = ("seconds", "worker_peak_rss_mb")  # per-task measures, not amounts
NO_COUNTS = (np.zeros(0, np.int32), np.zeros(0, np.int64))


class ShardStage:
    """Base class of a per-shard stage.

    Class attributes say what the stage is (what the registry, ``curation.registry``, reads):
    ``name`` (commands, status, progress, faults, Spark UI), ``folder`` (its output folder
    under a run folder; ``""``: the folder it is given), ``rows_key`` (the stat that
    progress and status add up), ``phase`` (where it runs in the chain). An instance knows
    its output folder and the parameters that key its done markers; subclasses implement
    ``plan`` and ``process``.
    """

    name = ""
    folder = ""
    rows_key = "rows"
    phase = ""  # where it runs in the chain (``curation.registry.PHASES``)
    has_counts = False  # process returns sparse entry counts, summed by the executor
    commits = True  # False: a read-only pass (no outputs, no done markers, never skipped)
    local_workers: int | None = None  # most worker processes on one machine (a GPU stage: 1, in the driver)
    stats_file = "_stats.json"  # the summary a stage command writes into its folder

    def __init__(self, out_dir: str, params: dict):
        self.out_dir = out_dir
        self.params = params

    def plan(self) -> list[Shard]:
        raise NotImplementedError

    def process(self, shard: Shard) -> ShardOutput:
        raise NotImplementedError

    def inputs(self) -> dict:
        """The folders this stage reads, by name: its output folder may be none of them."""
        return {}

    def input_identity(self, shard: Shard) -> dict | None:
        """What the done marker records of the shard's input file (size and stamp), so that
        a rerun redoes a shard whose input was edited or replaced; None: nothing to check."""
        return file_identity(shard.source) if isinstance(shard.source, str) else None

    def summary(self, run: "StageRun") -> dict:
        """What a stage command prints and writes to ``stats_file``: shards, and each numeric
        stat added up over the shards."""
        total: dict = {"shards": len(run.results), "shards_done_now": sum(not r.skipped for r in run.results)}
        for stats in run.stats:
            for key, value in stats.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in _NOT_SUMMED:
                    total[key] = total.get(key, 0) + value
        return total

    def resumed(self, shard: Shard, stats: dict) -> ShardResult:
        """The result of a shard done in an earlier run (stages with counts read them back)."""
        return ShardResult(stats, skipped=True)

    @property
    def counts_size(self) -> int:
        """Length of the dense count vector (stages with counts)."""
        raise NotImplementedError

    def done_url(self, name: str) -> str:
        return layout.done_url(self.out_dir, name)

    def done_names(self) -> list[str]:
        return done_names(self.out_dir)

    def claim(self, info: dict) -> None:
        """Create this stage's manifest, or check that the existing one has the same
        parameters. The creation is atomic (create-exclusive), so of two runs with other
        parameters racing into one folder, one claims it and the other is refused."""
        url = join(self.out_dir, MANIFEST)
        body = {"stage": self.name, "params": self.params, **info}
        data = (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        if not create_exclusive(url, data):
            check_params(read_json(url).get("params", {}), self.params, url)


def done_names(stage_dir: str) -> list[str]:
    """Names of the shards of a stage folder that have a done marker."""
    return list_names(join(stage_dir, "_done"), ".json")


def check_params(found: dict, wanted: dict, where: str) -> None:
    """Raise ``LineageError`` if ``found`` parameters differ from ``wanted`` on any key."""
    diff = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
    if diff:
        detail = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in sorted(diff.items()))
        raise LineageError(f"{where} was made with other parameters ({detail}); use a new --out or --overwrite")


def run_shard(stage: ShardStage, shard: Shard, faults: Faults | None = None) -> ShardResult:
    """Run one shard of ``stage``: skipped when done, else processed and committed.

    An input error (``CurationError``) is returned in the result, not raised, so that a
    scheduler reports it once instead of retrying it; other exceptions propagate (Spark
    retries them)."""
    try:
        if not stage.commits:
            output = stage.process(shard)
            return ShardResult({"shard": shard.name, **output.stats}, output.counts)
        marker = stage.done_url(shard.name)
        identity = stage.input_identity(shard)
        stats = _finished(stage, marker, identity)
        if stats is not None:
            return stage.resumed(shard, stats)
        (faults or Faults()).before(stage.name, shard.name)
        start = time.monotonic()
        output = stage.process(shard)
        outputs = {_relative(stage.out_dir, url): write_atomic(url, value) for url, value in output.files.items()}
        stats = {"shard": shard.name, **output.stats, "params": stage.params, "outputs": outputs,
                 **({"input": identity} if identity is not None else {}),
                 "seconds": round(time.monotonic() - start, 3), "worker_peak_rss_mb": peak_rss_mb()}
        write_json_atomic(marker, stats)
        return ShardResult(stats, output.counts)
    except CurationError as exc:
        return ShardResult({"shard": shard.name}, error=str(exc), lineage_error=isinstance(exc, LineageError))


def peak_rss_mb() -> float | None:
    """This process's peak resident memory (VmHWM), in MB; a worker's peak over the tasks it
    ran so far, so an upper bound of the task that just finished."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _relative(folder: str, url: str) -> str:
    prefix = folder.rstrip("/") + "/"
    return url[len(prefix):] if url.startswith(prefix) else url


def _absolute(folder: str, name: str) -> str:
    return name if "://" in name or name.startswith("/") else join(folder, name)


def _finished(stage: ShardStage, marker: str, identity: dict | None = None) -> dict | None:
    """The stats of a shard whose done marker exists, whose input is the one it was made
    from, and whose outputs are intact; else None (it is redone). A marker made with other
    parameters stops the run."""
    if not exists(marker):
        return None
    try:
        stats = read_json(marker)
    except InputError as exc:
        log.warning("%s; the shard is redone", exc)
        return None
    check_params(stats.get("params", {}), stage.params, marker)
    if identity is not None and "input" in stats and stats["input"] != identity:
        log.warning("%s: its input changed since it was made (%s, then %s); the shard is redone", marker,
                    stats["input"], identity)
        return None
    bad = verify_outputs(stage.out_dir, stats)
    if bad:
        log.warning("%s: %s; the shard is redone", marker, "; ".join(bad))
        return None
    return stats


def verify_outputs(folder: str, stats: dict, checksums: bool = True) -> list[str]:
    """What is wrong with the outputs a done marker lists (missing, other size, other
    checksum); empty when they are intact. Markers without the list are trusted."""
    bad = []
    for name, want in (stats.get("outputs") or {}).items():
        url = _absolute(folder, name)
        size = file_size(url)
        if size is None:
            bad.append(f"{name} is missing")
        elif size != want["bytes"]:
            bad.append(f"{name} has {size} bytes, {want['bytes']} were written")
        elif checksums and file_digest(url)["blake2b"] != want["blake2b"]:
            bad.append(f"{name} does not match its checksum")
    return bad


def raise_errors(results: list[ShardResult]) -> list[ShardResult]:
    """Raise one error listing every shard's input error, if any (``LineageError`` when all
    of them are lineage errors, else ``InputError``)."""
    failed = [r for r in results if r.error is not None]
    if failed:
        messages = list(dict.fromkeys(r.error for r in failed))
        more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
        kind = LineageError if all(r.lineage_error for r in failed) else InputError
        raise kind("; ".join(messages[:5]) + more)
    return results


@dataclass
class StageRun:
    """An executor's answer: each shard's result in plan order, and the dense sum of their
    sparse counts (stages with counts)."""

    results: list[ShardResult]
    counts: np.ndarray | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def stats(self) -> list[dict]:
        """Each shard's stats, with ``skipped`` saying whether it was done before this run."""
        return [{**r.stats, "skipped": r.skipped} for r in self.results]

    def rows(self, key: str) -> int:
        return sum(r.stats.get(key, 0) for r in self.results if not r.skipped)
