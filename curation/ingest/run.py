"""``curate ingest`` on any executor: WARC/WAT files or url+caption tables to pool shards.

One task per input file extracts its rows (``IngestStage``, resumable per file); then exact
duplicate (url, text) pairs are removed across all files, keeping the first occurrence in
input order: a shuffle of fixed-width (hash, index) records finds the duplicates, and a
second step sends their indexes to the writers of the output shards (``curation.ingest.dedup``).
The pool is written as ``NNNNN.parquet`` shards in input order, with ``ingest_stats.json``.
"""

import logging
import sys
from functools import partial

import numpy as np

from curation.core import layout
from curation.core.config import lineage
from curation.core.executor import Step
from curation.core.io import check_output_folder, join, remove, write_json_atomic
from curation.core.runner import drive
from curation.ingest import dedup
from curation.ingest.config import IngestConfig
from curation.ingest.extract import IngestStage, expand_inputs

log = logging.getLogger("curate")
PARSED_FORMAT = 2  # parsed shards have a .hashes file beside them


def _hash_blocks(parsed_dir: str, offsets, reducers: int, item) -> list:
    index, name = item
    return dedup.hash_blocks(parsed_dir, name, int(offsets[index]), reducers)


def _routed_duplicates(ranges, index: int, blocks: list) -> list:
    return dedup.route(dedup.duplicates([block for _, block in blocks]), ranges)


def _write_shards(out, parsed_dir, names, offsets, ranges, writers, writer: int, blocks: list) -> list:
    """Write the output shards of this writer (a contiguous run, ``dedup.writer_of``)."""
    drops: dict = {}
    for shard, block in blocks:
        drops.setdefault(shard, []).append(block)
    n_out = len(ranges) - 1
    files = dedup.ParsedFiles(parsed_dir, names)
    rows = []
    for shard in (s for s in range(n_out) if dedup.writer_of(s, n_out, writers) == writer):
        drop = np.frombuffer(b"".join(drops.get(shard, [])), dtype=np.int64)
        rows.append(dedup.write_pool_shard(join(out, f"{layout.shard_name(shard)}.parquet"), files, offsets,
                                           int(ranges[shard]), int(ranges[shard + 1]), drop))
    return rows


def collection_period(stats: list[dict]) -> dict:
    """The earliest and latest WARC-Date over the input files (None where no record had one)."""
    firsts = [s["first_date"] for s in stats if s.get("first_date")]
    lasts = [s["last_date"] for s in stats if s.get("last_date")]
    return {"first": min(firsts) if firsts else None, "last": max(lasts) if lasts else None}


def run_ingest(executor, cfg: IngestConfig) -> dict:
    files = expand_inputs(cfg.input_urls())
    check_output_folder(cfg.out, **{f"input {i}": url for i, url in enumerate(files)})
    if cfg.overwrite:
        remove(cfg.out)
    stage = IngestStage(join(cfg.out, IngestStage.folder), {**lineage(cfg), "format": PARSED_FORMAT}, files,
                        cfg.options())
    stats = drive(executor, stage, info={"files": files}).stats
    names = [s["shard"] for s in stats]
    kept = [s["kept"] for s in stats]
    offsets = dedup.output_ranges(kept, None)
    ranges = dedup.output_ranges(kept, cfg.shards)
    n_out = len(ranges) - 1
    writers = dedup.task_count(n_out, executor.parallelism)
    written = executor.shuffle(
        list(enumerate(names)), partial(_hash_blocks, stage.out_dir, offsets, writers),
        [Step(writers, partial(_routed_duplicates, ranges)),
         Step(writers, partial(_write_shards, cfg.out, stage.out_dir, names, offsets, ranges, writers),
              partial(dedup.writer_of, shards=n_out, writers=writers))],
        f"ingest: dedup into {n_out} shards", map_tasks=dedup.task_count(len(names), executor.parallelism))
    before = sum(kept)
    summary = {"files": len(files), "pairs_before_dedup": before, "pairs_after_dedup": sum(written),
               "duplicates_removed": before - sum(written), "shards": n_out,
               "bad_records": sum(s.get("bad_records", 0) for s in stats),
               "collection_period": collection_period(stats), "per_file": stats}
    write_json_atomic(join(cfg.out, "ingest_stats.json"), summary)
    log.info("ingest: %d files, %d pairs, %d after dedup, %d bad records", len(files), before, sum(written),
             summary["bad_records"])
    return summary


def ingest_command(cfg: dict, executor) -> int:
    ingest = cfg["ingest"]
    summary = run_ingest(executor, ingest)
    sys.stdout.write(f"files          {summary['files']}\npairs          {summary['pairs_before_dedup']:,} -> "
                     f"{summary['pairs_after_dedup']:,} after dedup\nbad records    {summary['bad_records']}\n"
                     f"pool           {ingest.out}\n")
    return 0
