"""Stage runners: plan the shards, map the per-shard functions of ``curation.stages`` over
them with Spark, and write the pool-wide outputs. No algorithm lives here."""

import logging
import time
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from curation import layout
from curation.balancing import language_thresholds, segment_probabilities
from curation.config import BalanceConfig, CountConfig, MatchConfig
from curation.counting import counts_table
from curation.errors import CurationError, InputError, LineageError
from curation.io import exists, join, read_json, remove, write_json_atomic, write_parquet_atomic
from curation.lineage import balance_params, match_params
from curation.matcher_cache import metadata_matcher
from curation.metadata_io import Metadata, load_metadata
from curation.stages import (
    balance_shard_counts,
    check_params,
    match_shard_counts,
    plan_pool_shards,
    plan_stage_shards,
    read_sparse_counts,
)
from curation.status import MANIFEST
from curation.summary import build_datacard, read_entry_counts, write_datacard, write_entry_counts
from curation.variants import get_variant
from jobs.spark import map_reduce_shards, map_shards, sum_sparse
from metadata.build import source_ranges
from metadata.manifest import manifest_url

log = logging.getLogger("curate")


@lru_cache(maxsize=2)
def worker_matcher(metadata_url: str, sha256: str, variant: str, default_lang: str):
    """The matcher of one Python worker, built once and reused by its later tasks."""
    metadata = load_metadata(metadata_url)
    if metadata.sha256 != sha256:
        raise LineageError(f"{metadata_url} changed while the job ran (sha256 {metadata.sha256} != {sha256})")
    return metadata_matcher(metadata, variant, default_lang)


NO_COUNTS = (np.zeros(0, np.int32), np.zeros(0, np.int64))


def _error(exc: CurationError):
    return {"error": str(exc), "lineage": isinstance(exc, LineageError)}, *NO_COUNTS


def _match_task(matched_dir, metadata_url, params, task):
    try:
        matcher = worker_matcher(metadata_url, params["metadata_sha256"], params["variant"],
                                 params.get("default_lang", ""))
        return match_shard_counts(task, matched_dir, matcher, params["text_column"], params)
    except CurationError as exc:  # bad input: report it, do not let Spark retry it
        return _error(exc)


def _raise_errors(results: list[dict]) -> list[dict]:
    """Raise one ``InputError`` listing every task's input error, if any."""
    failed = [r for r in results if "error" in r]
    if failed:
        messages = list(dict.fromkeys(r["error"] for r in failed))
        more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
        kind = LineageError if all(r["lineage"] for r in failed) else InputError
        raise kind("; ".join(messages[:5]) + more)
    return results


@dataclass
class MatchResult:
    """What the match stage hands to the next ones in the same run."""

    stats: list[dict]
    counts: np.ndarray
    metadata: Metadata


def run_match(spark, cfg: MatchConfig, storage=None) -> MatchResult:
    """Match every pool shard; returns per-shard stats and the pool-wide counts, summed in
    the same Spark job."""
    get_variant(cfg.variant)  # fail on the driver, before any task starts
    metadata = load_metadata(cfg.metadata)
    params = match_params(metadata.sha256, cfg.variant, cfg.text_column)
    if metadata.per_language:
        params["default_lang"] = cfg.default_lang
        if cfg.default_lang not in metadata.segments:
            raise InputError(f"--default-lang {cfg.default_lang!r} has no list in {metadata.source} "
                             f"(lists: {', '.join(sorted(metadata.segments))})")
    matched_dir = join(cfg.out, layout.MATCHED)
    if cfg.overwrite:
        remove(matched_dir)
    tasks = plan_pool_shards(cfg.pool)
    _claim(join(matched_dir, MANIFEST), params, {"metadata": metadata.source, "entries": len(metadata),
                                                 "pool": cfg.pool, "shards": len(tasks)})
    start = time.monotonic()
    stats, counts = map_reduce_shards(spark, partial(_match_task, matched_dir, metadata.source, params), tasks,
                                      "match", len(metadata), storage, rows_key="pool_rows")
    _log_stage("match", _raise_errors(stats), time.monotonic() - start, "pool_rows")
    return MatchResult(stats, counts, metadata)


def _claim(manifest_url: str, params: dict, info: dict) -> None:
    """Write a stage's manifest, or check that an existing one has the same parameters."""
    if exists(manifest_url):
        check_params(read_json(manifest_url)["params"], params, manifest_url)
    else:
        write_json_atomic(manifest_url, {"params": params, **info})


def _log_stage(stage: str, stats: list[dict], seconds: float, rows_key: str) -> None:
    done = sum(1 for s in stats if not s["skipped"])
    rows = sum(s[rows_key] for s in stats if not s["skipped"])
    log.info("%s: %d shards (%d done now, %d already done), %d rows in %.1f s (%.0f rows/s)",
             stage, len(stats), done, len(stats) - done, rows, seconds, rows / max(seconds, 1e-9))


def _matched_manifest(out: str) -> dict:
    url = join(out, layout.MATCHED, MANIFEST)
    if not exists(url):
        raise InputError(f"{url}: not found; run `curate match` into {out} first")
    return read_json(url)


def _finished_match_shards(out: str, manifest: dict) -> list[str]:
    names = plan_stage_shards(join(out, layout.MATCHED))
    if len(names) != manifest["shards"]:
        raise InputError(f"{join(out, layout.MATCHED)}: match stage incomplete, {len(names)} of "
                         f"{manifest['shards']} shards done; rerun `curate match` to finish it")
    return names


def run_count(spark, cfg: CountConfig, storage=None, matched: MatchResult | None = None):
    """Write ``entry_counts.parquet`` and ``entry_counts.json``: from the counts the match
    stage of this run summed, or else by summing the per-shard count files."""
    manifest = _matched_manifest(cfg.out)
    params = manifest["params"]
    metadata = matched.metadata if matched else load_metadata(cfg.metadata or manifest["metadata"])
    check_params({"metadata_sha256": metadata.sha256}, {"metadata_sha256": params["metadata_sha256"]},
                 metadata.source)
    matched_dir = join(cfg.out, layout.MATCHED)
    names = _finished_match_shards(cfg.out, manifest)
    start = time.monotonic()
    if matched is not None:
        counts = matched.counts
    else:
        urls = [layout.counts_url(matched_dir, name) for name in names]
        counts = sum_sparse(spark, urls, read_sparse_counts, len(metadata), "count", storage)
    write_entry_counts(join(cfg.out, layout.ENTRY_COUNTS), join(cfg.out, layout.ENTRY_COUNTS_JSON),
                       metadata, counts, params)
    log.info("count: %d shards, %d entries matched in %.1f s", len(names), int((counts > 0).sum()),
             time.monotonic() - start)
    return counts


def _balance_task(matched_dir, curated_dir, p_broadcast, seed, params, name):
    try:
        return balance_shard_counts(name, matched_dir, curated_dir, p_broadcast.value, seed, params)
    except CurationError as exc:
        return _error(exc)


def run_balance(spark, cfg: BalanceConfig, timings: dict | None = None, storage=None,
                matched: MatchResult | None = None) -> dict:
    """Balance the matched shards under ``out``; write ``curated/`` and ``datacard.json``.

    ``matched`` (the match stage of the same run) saves reading its stats back."""
    manifest = _matched_manifest(cfg.out)
    metadata = matched.metadata if matched else load_metadata(manifest["metadata"])
    # Chained after match in this run, the counts are in hand; otherwise read (and check) them.
    counts = matched.counts if matched else read_entry_counts(join(cfg.out, layout.ENTRY_COUNTS),
                                                               manifest["params"])
    params = balance_params(manifest["params"], cfg.t, cfg.seed)
    if metadata.per_language:
        params["reference_lang"] = cfg.reference_lang
    try:
        thresholds = language_thresholds(counts, metadata.segments, cfg.t, cfg.reference_lang)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    curated_dir, matched_dir = join(cfg.out, layout.CURATED), join(cfg.out, layout.MATCHED)
    if cfg.overwrite:
        remove(curated_dir)
    names = _finished_match_shards(cfg.out, manifest)
    _claim(join(curated_dir, MANIFEST), params, {"shards": len(names)})
    start = time.monotonic()
    p = spark.sparkContext.broadcast(segment_probabilities(counts, metadata.segments, thresholds))
    task = partial(_balance_task, matched_dir, curated_dir, p, cfg.seed, params)
    stats, kept = map_reduce_shards(spark, task, names, "balance", len(counts), storage, rows_key="matched_rows")
    _raise_errors(stats)
    p.unpersist()
    write_parquet_atomic(join(cfg.out, layout.CURATED_COUNTS), counts_table(np.arange(len(kept)), kept))
    _log_stage("balance", stats, time.monotonic() - start, "matched_rows")
    match_stats = matched.stats if matched else map_shards(
        spark, read_json, [layout.done_url(matched_dir, n) for n in names], "read stats", storage)
    card = build_datacard(metadata=metadata, thresholds=thresholds, counts=counts, kept_counts=kept,
                          match_stats=match_stats,
                          curated_rows=sum(s["curated_rows"] for s in stats), params=params,
                          timings={**(timings or {}), "balance": round(time.monotonic() - start, 3)},
                          sources=_metadata_sources(metadata))
    write_datacard(join(cfg.out, layout.DATACARD), card)
    return card


def _metadata_sources(metadata) -> list[tuple[str, int, int]]:
    """Id ranges per source, from the manifest beside a built list (none for other lists)."""
    url = manifest_url(metadata.source)
    if metadata.per_language or not exists(url):
        return []
    manifest = read_json(url)
    if manifest.get("sha256") != metadata.sha256:
        log.warning("%s does not describe %s (sha256 differs); no per-source breakdown", url, metadata.source)
        return []
    return source_ranges(manifest.get("per_source", {}))
