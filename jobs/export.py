"""`curate export`: curated (or, ``--online``, all matched) rows to WebDataset tars on Spark,
one task per tar; the plan, the tars and the run-level files are ``curation.export``'s."""

import logging
import sys
from functools import partial

from curation import layout
from curation.config import ExportConfig
from curation.errors import InputError
from curation.export import (
    ExportStage,
    export_source,
    finish_export,
    plan_params,
    plan_tars,
    plan_url,
    retry_candidates,
    run_entries,
    shard_rows,
    shard_sort_keys,
    tar_plan,
)
from curation.io import check_output_folder, exists, list_files, remove, using_storage, write_parquet_atomic
from curation.shards import Shard
from jobs.spark import map_shards, run_stage, spark_for

log = logging.getLogger("curate")


def run_export(spark, cfg: ExportConfig, storage=None) -> dict:
    """Plan and write the tars, ``sizes.json`` and (online) ``probabilities.npy``."""
    from curation.gpu.dedup import removed_keys

    check_output_folder(cfg.out, curated=cfg.curated)
    source, run = export_source(cfg.curated, cfg.online)
    shards = list_files(source, (".parquet",))
    if not shards:
        raise InputError(f"{source}: no shards to export")
    opts = cfg.options(storage)
    opts.hooks()  # a face detector or --image-filter that cannot load stops here, before any work
    if "+http" not in opts.fetch.user_agent and "://" not in opts.fetch.user_agent:
        log.warning("export: the User-Agent names no contact URL; give one with --user-agent "
                    "(hosts use it to reach whoever runs the crawl)")
    removed = removed_keys(cfg.keep_list) if cfg.keep_list else frozenset()
    rows = map_shards(spark, shard_rows, shards, "export: count rows", storage)
    plan = {"source": source, "shards": [s.rsplit("/", 1)[-1] for s in shards], "rows": rows,
            "samples_per_tar": opts.samples_per_tar, "shuffle_seed": opts.shuffle_seed, "online": cfg.online,
            "resize": [opts.resize.size, opts.resize.mode], "removed_keys": len(removed)}
    if cfg.captions:
        if not exists(cfg.captions):
            raise InputError(f"--captions {cfg.captions}: not found (write it with `curate caption` or "
                             "`curate captions import`)")
        plan["captions"] = cfg.captions
    stage = ExportStage(cfg.out, plan_params(plan), run_entries(run), opts, removed, shards)
    if cfg.retry_failed:
        _reopen_failed(stage)
    stage.claim({**plan, "shards": -(-sum(rows) // opts.samples_per_tar), "input_shards": plan["shards"]})
    if opts.shuffle_seed is None:
        tars = plan_tars(shards, rows, opts.samples_per_tar)
    else:
        tars = shuffle_plan(spark, shards, sum(rows), opts, cfg.out, storage)
    result = run_stage(spark, stage, tars, storage)
    summary = finish_export(cfg.out, result.stats, run, cfg.online, result.seconds)
    log.info("export: %d tars, %d samples written of %d, failures %s", summary["tars"], summary["samples"],
             summary["given"], summary["failed"] or "none")
    return summary


def _sort_keys(seed, storage, item):
    index, url = item
    with using_storage(storage):
        return shard_sort_keys(seed, index, url)


def _write_plan(out, storage, pair):
    tar, positions_rows = pair
    with using_storage(storage):
        write_parquet_atomic(plan_url(out, tar), tar_plan(list(positions_rows)))
    return tar


def shuffle_plan(spark, shards: list[str], total: int, opts, out: str, storage=None) -> list[Shard]:
    """The tars of a shuffled export: every row sorted by (coin(seed, key), key, shard, row)
    in a Spark sort, numbered, cut into tars of ``samples_per_tar``, and each tar's rows
    written to ``_plan/<tar>.parquet`` by the tasks. The driver only gets the tar numbers.
    Skipped when the plan of this export is there already (a resumed run)."""
    n = opts.samples_per_tar
    n_tars = -(-total // n)
    tars = [Shard(layout.shard_name(t), (("plan", plan_url(out, t)),), t) for t in range(n_tars)]
    if all(exists(plan_url(out, t)) for t in range(n_tars)):
        return tars
    sc = spark.sparkContext
    sc.setJobDescription(f"export: shuffle {total} rows into {n_tars} tars")
    try:
        keys = sc.parallelize(list(enumerate(shards)), max(1, len(shards))).flatMap(
            partial(_sort_keys, opts.shuffle_seed, storage))
        ordered = keys.sortBy(lambda k: k, numPartitions=max(1, min(len(shards), 4 * sc.defaultParallelism)))
        by_tar = ordered.zipWithIndex().map(lambda kv: (kv[1] // n, (kv[1], kv[0][2], kv[0][3])))
        by_tar.groupByKey(max(1, min(n_tars, 4 * sc.defaultParallelism))).map(
            partial(_write_plan, out, storage)).collect()
    finally:
        sc.setJobDescription(None)
    return tars


def _reopen_failed(stage: ExportStage) -> None:
    """``--retry-failed``: the tars with retryable failures lose their done markers, so this
    run redoes them (reusing every sample a retry would not change); the others are skipped."""
    names = stage.done_names()
    if not names:
        raise InputError(f"--retry-failed: {stage.out_dir} holds no finished export to retry")
    reopen = retry_candidates(stage.out_dir, names)
    for name in reopen:
        remove(stage.done_url(name))
    log.info("export --retry-failed: %d of %d tars have retryable failures", len(reopen), len(names))


def export_command(cfg: dict) -> int:
    storage = cfg["storage"].options()
    export = cfg["export"]
    with using_storage(storage):
        summary = run_export(spark_for(cfg, "curate export"), export, storage)
    sys.stdout.write(f"tars           {summary['tars']}\nsamples        {summary['samples']:,} of "
                     f"{summary['given']:,}\nfailed         {summary['failed'] or 'none'}\n"
                     f"sizes          {export.out}/sizes.json\n"
                     + (f"captions       {summary['captions']['with_caption']:,} samples with one, "
                        f"{summary['captions']['without_caption']:,} without\n" if "captions" in summary else ""))
    return 0
