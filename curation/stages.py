"""Per-shard stage work: match one pool shard, balance one matched shard.

Each function reads its own input and writes its own outputs through ``curation.io``, so a
scheduler (Spark, or a plain loop) only hands out shard names. A shard is done when its
done marker exists; the marker is written last and holds the shard's stats and the
parameters it was made with, so a rerun skips done shards and refuses mismatched ones.
"""

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation import layout
from curation.balancing import keep_mask
from curation.counting import counts_table, matches_histogram, sparse_counts
from curation.errors import InputError, LineageError
from curation.io import exists, list_files, read_json, read_parquet, write_json_atomic, write_parquet_atomic
from curation.matching import MetadataMatcher
from curation.pool import POOL_SUFFIXES, read_pool_shard


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: the stable shard name and the input file it comes from."""

    name: str
    source: str


def plan_pool_shards(pool_url: str) -> list[ShardTask]:
    """One task per pool file, named by its position in sorted order."""
    files = list_files(pool_url, POOL_SUFFIXES)
    if not files:
        raise InputError(f"{pool_url}: no pool shards (*.parquet, *.jsonl, *.jsonl.gz) found")
    return [ShardTask(layout.shard_name(i), url) for i, url in enumerate(files)]


def plan_stage_shards(stage_dir: str) -> list[str]:
    """Names of the shards a previous stage finished (those with a done marker)."""
    markers = list_files(layout.join(stage_dir, "_done"), (".json",)) if exists(
        layout.join(stage_dir, "_done")) else []
    return [url.rsplit("/", 1)[-1][: -len(".json")] for url in markers]


def check_params(found: dict, wanted: dict, where: str) -> None:
    """Raise ``LineageError`` if ``found`` parameters differ from ``wanted`` on any key."""
    diff = {k: (found.get(k), v) for k, v in wanted.items() if found.get(k) != v}
    if diff:
        detail = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in sorted(diff.items()))
        raise LineageError(f"{where} was made with other parameters ({detail}); use a new --out or --overwrite")


def finished(stage_dir: str, name: str, params: dict):
    """The done marker of shard ``name`` if it exists (checked against ``params``), else None."""
    url = layout.done_url(stage_dir, name)
    if not exists(url):
        return None
    stats = read_json(url)
    check_params(stats.get("params", {}), params, url)
    return stats


def match_shard(task: ShardTask, matched_dir: str, matcher: MetadataMatcher, text_column: str,
                params: dict) -> dict:
    """Match one pool shard and write its matched rows, counts, rejects and done marker.

    Each text is matched against its ``lang`` column's list when the metadata has several.
    Returns the shard's stats (``skipped`` when it was done already).
    """
    return match_shard_counts(task, matched_dir, matcher, text_column, params)[0]


def match_shard_counts(task: ShardTask, matched_dir: str, matcher: MetadataMatcher, text_column: str,
                       params: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """``match_shard``, also returning the shard's sparse entry counts (ids, counts)."""
    done = finished(matched_dir, task.name, params)
    if done is not None:
        return ({**done, "skipped": True}, *read_sparse_counts(layout.counts_url(matched_dir, task.name)))
    start = time.monotonic()
    shard = read_pool_shard(task.source, text_column)
    langs = shard.table["lang"].combine_chunks() if "lang" in shard.table.column_names else None
    entry_ids, list_keys = matcher.match_arrow(shard.table[text_column].combine_chunks(), langs)
    has_match = pc.greater(pc.list_value_length(entry_ids), 0)
    matched = shard.table.append_column("entry_ids", entry_ids).filter(has_match)
    ids, counts = sparse_counts(entry_ids)
    write_parquet_atomic(layout.data_url(matched_dir, task.name), matched)
    write_parquet_atomic(layout.counts_url(matched_dir, task.name), counts_table(ids, counts))
    if shard.rejected.num_rows:
        write_parquet_atomic(layout.rejected_url(matched_dir, task.name), shard.rejected)
    stats = _match_stats(task, shard, matched.num_rows, entry_ids, params)
    stats["rows_per_list"] = dict(Counter(list_keys))
    stats["matched_per_list"] = dict(Counter(k for k, n in zip(list_keys, has_match.to_pylist()) if n))
    stats["seconds"] = round(time.monotonic() - start, 3)
    write_json_atomic(layout.done_url(matched_dir, task.name), stats)
    return {**stats, "skipped": False}, ids, counts


def _match_stats(task: ShardTask, shard, matched_rows: int, entry_ids: pa.Array, params: dict) -> dict:
    reasons = shard.rejected["reason"].value_counts().to_pylist() if shard.rejected.num_rows else []
    return {
        "shard": task.name,
        "source": task.source,
        "pool_rows": shard.rows,
        "matched_rows": matched_rows,
        "unmatched_rows": shard.table.num_rows - matched_rows,
        "rejected_rows": shard.rejected.num_rows,
        "rejected_reasons": {r["values"]: r["counts"] for r in reasons},
        "matches": int(len(entry_ids.values)),
        "matches_per_text": matches_histogram(entry_ids),
        "params": params,
    }


def balance_shard(name: str, matched_dir: str, curated_dir: str, p: np.ndarray, seed: int, params: dict) -> dict:
    """Keep each matched row of shard ``name`` by its hash coin; write kept rows and counts."""
    return balance_shard_counts(name, matched_dir, curated_dir, p, seed, params)[0]


def balance_shard_counts(name: str, matched_dir: str, curated_dir: str, p: np.ndarray, seed: int,
                         params: dict) -> tuple[dict, np.ndarray, np.ndarray]:
    """``balance_shard``, also returning the kept rows' sparse entry counts."""
    done = finished(curated_dir, name, params)
    if done is not None:
        return ({**done, "skipped": True}, *read_sparse_counts(layout.counts_url(curated_dir, name)))
    start = time.monotonic()
    matched = read_parquet(layout.data_url(matched_dir, name))
    kept = matched.filter(pa.array(keep_mask(matched["key"], matched["entry_ids"], p, seed)))
    ids, counts = sparse_counts(kept["entry_ids"])
    write_parquet_atomic(layout.data_url(curated_dir, name), kept)
    write_parquet_atomic(layout.counts_url(curated_dir, name), counts_table(ids, counts))
    stats = {"shard": name, "matched_rows": matched.num_rows, "curated_rows": kept.num_rows, "params": params,
             "seconds": round(time.monotonic() - start, 3)}
    write_json_atomic(layout.done_url(curated_dir, name), stats)
    return {**stats, "skipped": False}, ids, counts


def read_sparse_counts(url: str) -> tuple[np.ndarray, np.ndarray]:
    table = read_parquet(url)
    return table["entry_id"].to_numpy(), table["count"].to_numpy()
