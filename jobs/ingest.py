"""`curate ingest`: WARC/WAT files or url+caption tables to pool shards, on Spark.

One task per input file extracts its rows (``IngestStage``, resumable per file); then exact
duplicate (url, text) pairs are removed across all files with a shuffle keyed by a fixed
64-bit hash, keeping the first occurrence in input order, and the pool is written as
``NNNNN.parquet`` shards with ``ingest_stats.json``.
"""

import logging
import sys
from functools import partial

from curation import layout
from curation.config import IngestConfig
from curation.ingest.extract import IngestStage, dedup_key, earliest, expand_inputs, parsed_rows, pool_table
from curation.io import check_output_folder, join, using_storage, write_json_atomic, write_parquet_atomic
from jobs.spark import run_stage, spark_for

log = logging.getLogger("curate")


def _write_shard(out, storage, index, pairs):
    with using_storage(storage):
        table = pool_table([row for _, row in pairs])
        write_parquet_atomic(join(out, f"{layout.shard_name(index)}.parquet"), table)
    return [table.num_rows]


def _parsed_pairs(parsed_dir, storage, name):
    with using_storage(storage):
        return [(dedup_key(r), r) for r in parsed_rows(parsed_dir, name)]


def run_ingest(spark, cfg: IngestConfig, storage=None) -> dict:
    files = expand_inputs(cfg.input_urls())
    check_output_folder(cfg.out, **{f"input {i}": url for i, url in enumerate(files)})
    opts = cfg.options()
    stage = IngestStage(join(cfg.out, IngestStage.folder), {"langid": opts.langid,
                                                            "max_text_chars": opts.max_text_chars,
                                                            "url_column": opts.url_column,
                                                            "caption_column": opts.caption_column}, files, opts)
    shards = stage.plan()
    stage.claim({"shards": len(shards), "files": files})
    stats = run_stage(spark, stage, shards, storage).stats
    n_out = cfg.shards or len(files)
    sc = spark.sparkContext
    sc.setJobDescription(f"ingest: dedup into {n_out} shards")
    names = [s.name for s in shards]
    pairs = sc.parallelize(names, len(names)).flatMap(partial(_parsed_pairs, stage.out_dir, storage))
    unique = pairs.reduceByKey(earliest, numPartitions=n_out, partitionFunc=lambda key: key[0])
    written = unique.mapPartitionsWithIndex(partial(_write_shard, cfg.out, storage)).collect()
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
