"""`curate export`: curated (or, ``--online``, all matched) rows to WebDataset tars on Spark,
one task per tar; see ``curation.export``."""

import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow.parquet as pq

from curation import layout
from curation.errors import InputError
from curation.export import ExportOptions, plan_tars, shard_rows, shuffled_order, write_probabilities, write_sizes
from curation.export import write_tar as write_one_tar
from curation.hashing import coins
from curation.io import exists, get_fs, join, list_files, read_json, read_parquet, write_json_atomic
from curation.metadata_io import load_metadata
from curation.stages import check_params
from curation.status import MANIFEST
from jobs.common import absolute, add_run_flags, driver_storage
from jobs.gpu import removed_keys
from jobs.spark import get_spark, map_shards

log = logging.getLogger("curate")


@dataclass
class ExportConfig:
    curated: str
    out: str
    online: bool = False
    options: ExportOptions = field(default_factory=ExportOptions)
    removed: frozenset = frozenset()  # keys a keep list (curate dedup) removes


def _run_folder(folder: str) -> str | None:
    """The run folder ``folder`` belongs to (itself, or the parent of its ``curated/``)."""
    if exists(join(folder, layout.MATCHED, MANIFEST)):
        return folder
    parent = folder.rstrip("/").rsplit("/", 1)[0]
    return parent if exists(join(parent, layout.MATCHED, MANIFEST)) else None


def _entries(run: str | None) -> list[str]:
    return load_metadata(read_json(join(run, layout.MATCHED, MANIFEST))["metadata"]).entries if run else []


def _probabilities(run: str) -> np.ndarray:
    """Per-entry p of the run: each entry's language's t from the data card."""
    card = read_json(join(run, layout.DATACARD))
    table = read_parquet(join(run, layout.ENTRY_COUNTS))
    counts = table["count"].to_numpy().astype(np.float64)
    t = np.full(len(counts), float(card["t"]))
    if "lang" in table.column_names and card.get("languages"):
        by_lang = {row["lang"]: row["t"] for row in card["languages"]}
        t = np.array([float(by_lang[lang]) for lang in table["lang"].to_pylist()])
    return t / np.maximum(counts, t)


def _keys_coins(seed, url):
    fs, path = get_fs(url)
    with fs.open(path, "rb") as f:
        return coins(pq.read_table(f, columns=["key"])["key"], seed)


def run_export(spark, cfg: ExportConfig, storage=None) -> dict:
    """Plan and write the tars, ``sizes.json`` and (online) ``probabilities.npy``."""
    run = _run_folder(cfg.curated)
    if cfg.online and run is None:
        raise InputError(f"{cfg.curated}: --online needs a run folder (with matched/ and entry_counts.parquet)")
    source = join(run, layout.MATCHED) if cfg.online else (
        join(cfg.curated, layout.CURATED) if exists(join(cfg.curated, layout.CURATED)) else cfg.curated)
    shards = list_files(source, (".parquet",))
    if not shards:
        raise InputError(f"{source}: no shards to export")
    rows = map_shards(spark, shard_rows, shards, "export: count rows", storage)
    opts = cfg.options
    plan = {"source": source, "shards": [s.rsplit("/", 1)[-1] for s in shards], "rows": rows,
            "samples_per_tar": opts.samples_per_tar, "shuffle_seed": opts.shuffle_seed, "online": cfg.online,
            "resize": [opts.resize.size, opts.resize.mode], "removed_keys": len(cfg.removed)}
    _claim(cfg.out, plan)
    order = None
    if opts.shuffle_seed is not None:
        order = shuffled_order(map_shards(spark, partial(_keys_coins, opts.shuffle_seed), shards,
                                          "export: shuffle keys", storage))
    tasks = plan_tars(shards, rows, opts.samples_per_tar, order)
    entries = spark.sparkContext.broadcast(_entries(run))
    removed = spark.sparkContext.broadcast(cfg.removed)
    start = time.monotonic()
    stats = map_shards(spark, partial(_tar_task, cfg.out, entries, removed, opts), tasks, "export", storage,
                       rows_key="given")
    sizes = write_sizes(cfg.out, stats)
    if cfg.online:
        write_probabilities(cfg.out, _probabilities(run))
        write_json_atomic(join(cfg.out, layout.DATACARD), read_json(join(run, layout.DATACARD)))
    failed = dict(sum((Counter(s["failed"]) for s in stats), Counter()))
    summary = {"tars": len(sizes), "samples": sum(sizes.values()), "given": sum(s["given"] for s in stats),
               "failed": failed, "seconds": round(time.monotonic() - start, 2)}
    write_json_atomic(join(cfg.out, "export_stats.json"), summary)
    log.info("export: %d tars, %d samples written of %d, failures %s", summary["tars"], summary["samples"],
             summary["given"], summary["failed"] or "none")
    return summary


def _tar_task(out, entries, removed, opts, task):
    return write_one_tar(task, out, entries.value, opts, removed.value)


def _claim(out: str, plan: dict) -> None:
    url = join(out, MANIFEST)
    if exists(url):
        check_params(read_json(url), plan, url)
    else:
        write_json_atomic(url, plan)


def add_parser(sub) -> None:
    ep = sub.add_parser("export", help="write curated rows as WebDataset tars (+ sizes.json) for training",
                        description="Write WebDataset tars with images, alt-texts and entries, a status Parquet per "
                                    "tar and sizes.json; --online exports all matched pairs with probabilities.")
    ep.add_argument("--curated", required=True, help="run folder (or its curated/ folder), local or s3://")
    ep.add_argument("--out", required=True, help="folder for NNNNN.tar, NNNNN.parquet, sizes.json")
    ep.add_argument("--samples-per-tar", type=int, default=10_000, help="samples per tar (default 10000)")
    ep.add_argument("--shuffle-seed", type=int, default=None, help="deterministic shuffle before sharding")
    ep.add_argument("--online", action="store_true",
                    help="export every matched pair + probabilities.npy for online balancing")
    g = ep.add_argument_group("images (from the image column, else fetched from url)")
    g.add_argument("--resize", type=int, default=None, help="resize so that one side is this many pixels")
    g.add_argument("--resize-mode", choices=["longest", "shortest"], default="longest")
    g.add_argument("--timeout", type=float, default=10.0, help="seconds per fetch (default 10)")
    g.add_argument("--retries", type=int, default=1, help="extra tries of a failed http(s) fetch (default 1)")
    g.add_argument("--max-bytes", type=int, default=20 * 2**20, help="largest image accepted (default 20 MiB)")
    g.add_argument("--threads", type=int, default=16, help="concurrent fetches per task (default 16)")
    ep.add_argument("--text-column", default="text")
    ep.add_argument("--keep-list", default=None, help="keep list from `curate dedup`: skip the samples it removes")
    add_run_flags(ep)




def run_command(args) -> int:
    from curation.export import ExportOptions
    from curation.images import FetchOptions, ResizeOptions

    storage = driver_storage(args.s3_endpoint)
    opts = ExportOptions(samples_per_tar=args.samples_per_tar, shuffle_seed=args.shuffle_seed,
                         text_column=args.text_column,
                         fetch=FetchOptions(args.timeout, args.retries, args.max_bytes, args.threads),
                         resize=ResizeOptions(args.resize, args.resize_mode))
    spark = get_spark(args.master, "curate export", dict(args.conf))
    removed = removed_keys(args.keep_list) if args.keep_list else frozenset()
    config = ExportConfig(absolute(args.curated), absolute(args.out), args.online, opts, removed)
    summary = run_export(spark, config, storage)
    sys.stdout.write(f"tars           {summary['tars']}\nsamples        {summary['samples']:,} of "
                     f"{summary['given']:,}\nfailed         {summary['failed'] or 'none'}\n"
                     f"sizes          {absolute(args.out)}/sizes.json\n")
    return 0


