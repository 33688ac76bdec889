"""`curate export`: curated (or, ``--online``, all matched) rows to WebDataset tars on Spark,
one task per tar; the plan, the tars and the run-level files are ``curation.export``'s."""

import logging
import sys
from functools import partial

from curation.config import ExportConfig
from curation.errors import InputError
from curation.export import (
    ExportStage,
    export_source,
    finish_export,
    plan_params,
    plan_tars,
    retry_candidates,
    run_entries,
    shard_coins,
    shard_rows,
    shuffled_order,
)
from curation.io import check_output_folder, list_files, remove, using_storage
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
    if "+http" not in opts.fetch.user_agent and "://" not in opts.fetch.user_agent:
        log.warning("export: the User-Agent names no contact URL; give one with --user-agent "
                    "(hosts use it to reach whoever runs the crawl)")
    removed = removed_keys(cfg.keep_list) if cfg.keep_list else frozenset()
    rows = map_shards(spark, shard_rows, shards, "export: count rows", storage)
    plan = {"source": source, "shards": [s.rsplit("/", 1)[-1] for s in shards], "rows": rows,
            "samples_per_tar": opts.samples_per_tar, "shuffle_seed": opts.shuffle_seed, "online": cfg.online,
            "resize": [opts.resize.size, opts.resize.mode], "removed_keys": len(removed)}
    order = None
    if opts.shuffle_seed is not None:
        order = shuffled_order(map_shards(spark, partial(shard_coins, opts.shuffle_seed), shards,
                                          "export: shuffle keys", storage))
    tars = plan_tars(shards, rows, opts.samples_per_tar, order)
    stage = ExportStage(cfg.out, plan_params(plan), run_entries(run), opts, removed)
    if cfg.retry_failed:
        _reopen_failed(stage)
    stage.claim({**plan, "shards": len(tars), "input_shards": plan["shards"]})
    result = run_stage(spark, stage, tars, storage)
    summary = finish_export(cfg.out, result.stats, run, cfg.online, result.seconds)
    log.info("export: %d tars, %d samples written of %d, failures %s", summary["tars"], summary["samples"],
             summary["given"], summary["failed"] or "none")
    return summary


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
                     f"sizes          {export.out}/sizes.json\n")
    return 0
