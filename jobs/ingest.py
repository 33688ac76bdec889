"""`curate ingest`: WARC/WAT files or url+caption tables to pool shards, on Spark.

One task per input file extracts its rows (``IngestStage``, resumable per file); then exact
duplicate (url, text) pairs are removed across all files, keeping the first occurrence in
input order: a shuffle of fixed-width (hash, index) records finds the duplicates and a
second one sends their indexes to the output shards (``curation.ingest.dedup``). The pool
is written as ``NNNNN.parquet`` shards in input order, with ``ingest_stats.json``.
"""

import logging
import sys
from functools import partial

import numpy as np

from curation import layout
from curation.config import IngestConfig
from curation.ingest import dedup
from curation.ingest.extract import IngestStage, expand_inputs
from curation.io import check_output_folder, join, using_storage, write_json_atomic
from jobs.spark import run_stage, spark_for

log = logging.getLogger("curate")
PARSED_FORMAT = 2  # parsed shards have a .hashes file beside them


def _hash_blocks(parsed_dir, storage, offsets, reducers, items):
    with using_storage(storage):
        for index, name in items:
            yield from dedup.hash_blocks(parsed_dir, name, int(offsets[index]), reducers)


def _routed_duplicates(ranges, blocks):
    return dedup.route(dedup.duplicates([block for _, block in blocks]), ranges)


def _write_shards(out, parsed_dir, storage, names, offsets, ranges, writers, writer, blocks):
    """Write the output shards of this writer (a contiguous run, ``dedup.writer_of``)."""
    drops = {}
    for shard, block in blocks:
        drops.setdefault(shard, []).append(block)
    n_out = len(ranges) - 1
    files = dedup.ParsedFiles(parsed_dir, names)
    rows = []
    with using_storage(storage):
        for shard in (s for s in range(n_out) if dedup.writer_of(s, n_out, writers) == writer):
            drop = np.frombuffer(b"".join(drops.get(shard, [])), dtype=np.int64)
            rows.append(dedup.write_pool_shard(join(out, f"{layout.shard_name(shard)}.parquet"), files, offsets,
                                               int(ranges[shard]), int(ranges[shard + 1]), drop))
    return rows


def run_ingest(spark, cfg: IngestConfig, storage=None) -> dict:
    files = expand_inputs(cfg.input_urls())
    check_output_folder(cfg.out, **{f"input {i}": url for i, url in enumerate(files)})
    opts = cfg.options()
    stage = IngestStage(join(cfg.out, IngestStage.folder), {"langid": opts.langid,
                                                            "max_text_chars": opts.max_text_chars,
                                                            "url_column": opts.url_column,
                                                            "caption_column": opts.caption_column,
                                                            "format": PARSED_FORMAT}, files, opts)
    shards = stage.plan()
    stage.claim({"shards": len(shards), "files": files})
    stats = run_stage(spark, stage, shards, storage).stats
    names = [s.name for s in shards]
    kept = {s["shard"]: s["kept"] for s in stats}
    offsets = dedup.output_ranges([kept[name] for name in names], None)
    ranges = dedup.output_ranges([kept[name] for name in names], cfg.shards)
    n_out = len(ranges) - 1
    sc = spark.sparkContext
    sc.setJobDescription(f"ingest: dedup into {n_out} shards")
    readers = dedup.task_count(len(names), sc.defaultParallelism)
    writers = dedup.task_count(n_out, sc.defaultParallelism)
    hashes = sc.parallelize(list(enumerate(names)), readers).mapPartitions(
        partial(_hash_blocks, stage.out_dir, storage, offsets, writers))
    dups = hashes.partitionBy(writers, lambda part: part).mapPartitions(partial(_routed_duplicates, ranges))
    by_writer = dups.partitionBy(writers, partial(dedup.writer_of, shards=n_out, writers=writers))
    written = by_writer.mapPartitionsWithIndex(
        partial(_write_shards, cfg.out, stage.out_dir, storage, names, offsets, ranges, writers)).collect()
    sc.setJobDescription(None)
    before = sum(s["kept"] for s in stats)
    summary = {"files": len(files), "pairs_before_dedup": before, "pairs_after_dedup": sum(written),
               "duplicates_removed": before - sum(written), "shards": n_out,
               "bad_records": sum(s.get("bad_records", 0) for s in stats),
               "per_file": stats}
    write_json_atomic(join(cfg.out, "ingest_stats.json"), summary)
    log.info("ingest: %d files, %d pairs, %d after dedup, %d bad records", len(files), before, sum(written),
             summary["bad_records"])
    return summary


def ingest_command(cfg: dict) -> int:
    storage = cfg["storage"].options()
    ingest = cfg["ingest"]
    with using_storage(storage):
        summary = run_ingest(spark_for(cfg, "curate ingest"), ingest, storage)
    sys.stdout.write(f"files          {summary['files']}\npairs          {summary['pairs_before_dedup']:,} -> "
                     f"{summary['pairs_after_dedup']:,} after dedup\nbad records    {summary['bad_records']}\n"
                     f"pool           {ingest.out}\n")
    return 0
