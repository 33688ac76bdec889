"""`curate ingest`: WARC/WAT files or url+caption tables to pool shards, on Spark.

One task per input file extracts its rows (resumable per file); then exact duplicate
(url, text) pairs are removed across all files with a shuffle, keeping the first occurrence
in input order, and the pool is written as ``NNNNN.parquet`` shards with ``ingest_stats.json``.
"""

import logging
import sys
from dataclasses import dataclass, field
from functools import partial

from curation import layout
from curation.errors import InputError
from curation.ingest.extract import (
    ARCHIVE_SUFFIXES,
    TABLE_SUFFIXES,
    IngestOptions,
    dedup_key,
    earliest,
    ingest_file,
    parsed_rows,
    pool_table,
)
from curation.io import get_fs, is_dir, join, list_files, write_json_atomic, write_parquet_atomic
from jobs.common import absolute, add_run_flags, driver_storage
from jobs.spark import get_spark, map_shards

log = logging.getLogger("curate")
PARSED = "_parsed"


@dataclass
class IngestConfig:
    inputs: str  # comma-separated paths, folders or glob patterns
    out: str
    shards: int | None = None
    options: IngestOptions = field(default_factory=IngestOptions)


def expand_inputs(spec: str) -> list[str]:
    """Files named by a comma-separated list of paths, folders and glob patterns."""
    files: list[str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if any(c in part for c in "*?["):
            fs, _ = get_fs(part)
            protocol = part.split("://", 1)[0] + "://" if "://" in part else ""
            files += [protocol + p if protocol and not p.startswith(protocol) else p for p in fs.glob(part)]
        elif is_dir(part):
            files += list_files(part, ARCHIVE_SUFFIXES + TABLE_SUFFIXES)
        else:
            files.append(part)
    files = sorted(dict.fromkeys(files))
    if not files:
        raise InputError(f"{spec}: no input files")
    return files


def _ingest_task(parsed_dir, opts, item):
    name, url, index = item
    return ingest_file(name, url, index, parsed_dir, opts)


def _write_shard(out, index, pairs):
    table = pool_table([row for _, row in pairs])
    write_parquet_atomic(join(out, f"{layout.shard_name(index)}.parquet"), table)
    return [table.num_rows]


def run_ingest(spark, cfg: IngestConfig, storage=None) -> dict:
    files = expand_inputs(cfg.inputs)
    parsed_dir = join(cfg.out, PARSED)
    items = [(layout.shard_name(i), url, i) for i, url in enumerate(files)]
    stats = map_shards(spark, partial(_ingest_task, parsed_dir, cfg.options), items, "ingest", storage,
                       rows_key="kept")
    n_out = cfg.shards or len(files)
    sc = spark.sparkContext
    sc.setJobDescription(f"ingest: dedup into {n_out} shards")
    names = [name for name, _, _ in items]
    pairs = sc.parallelize(names, len(names)).flatMap(
        lambda n: [(dedup_key(r), r) for r in parsed_rows(parsed_dir, n)])
    unique = pairs.reduceByKey(earliest, numPartitions=n_out, partitionFunc=lambda key: key[0])
    written = unique.mapPartitionsWithIndex(partial(_write_shard, cfg.out)).collect()
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


def add_parser(sub) -> None:
    ip = sub.add_parser("ingest", help="CommonCrawl WARC/WAT files (or url+caption tables) to pool shards",
                        description="Extract <img> alt-texts from WARC/WAT files (or url+caption tables), identify "
                                    "languages, remove duplicate (url, text) pairs across files, write pool shards.")
    ip.add_argument("--input", required=True, help="comma-separated files, folders or glob patterns")
    ip.add_argument("--out", required=True, help="pool folder to write (NNNNN.parquet, ingest_stats.json)")
    ip.add_argument("--shards", type=int, default=None, help="output shards (default: one per input file)")
    ip.add_argument("--max-text-chars", type=int, default=None, help="drop alt-texts longer than this")
    ip.add_argument("--no-langid", action="store_true", help="skip language identification")
    ip.add_argument("--url-column", default="url", help="tables: the image URL column (default url)")
    ip.add_argument("--caption-column", default="caption", help="tables: the caption column (default caption)")
    add_run_flags(ip)




def run_command(args) -> int:

    storage = driver_storage(args.s3_endpoint)
    opts = IngestOptions(max_text_chars=args.max_text_chars, langid=not args.no_langid, url_column=args.url_column,
                         caption_column=args.caption_column)
    inputs = ",".join(absolute(p.strip()) for p in args.input.split(","))
    spark = get_spark(args.master, "curate ingest", dict(args.conf))
    summary = run_ingest(spark, IngestConfig(inputs, absolute(args.out), args.shards, opts), storage)
    sys.stdout.write(f"files          {summary['files']}\npairs          {summary['pairs_before_dedup']:,} -> "
                     f"{summary['pairs_after_dedup']:,} after dedup\nbad records    {summary['bad_records']}\n"
                     f"pool           {absolute(args.out)}\n")
    return 0


