"""``curate export`` on any executor: curated (or, ``--online``, all matched) rows to
WebDataset tars, one task per tar; the plan, the tars and the run-level files are
``curation.export``'s.

The shuffled order (``--shuffle-seed``) sorts every row by ``(coin(seed, key), key, shard,
row)``. The coin is uniform in [0, 1), so the sort is range-partitioned by the coin: a first
pass counts each shard's rows per coin range, then a shuffle sends every row to its range,
each range sorts its rows and numbers them from the rows of the ranges before it, and a
second step sends each row to its tar, whose plan ``_plan/<tar>.parquet`` the tasks write.
The driver holds only the per-range counts.
"""

import logging
import sys
from functools import partial

import numpy as np

from curation.core import layout
from curation.core.config import lineage
from curation.core.errors import InputError
from curation.core.executor import Step
from curation.core.io import check_output_folder, exists, list_files, remove, write_parquet_atomic
from curation.core.runner import drive
from curation.core.shards import Shard
from curation.export.config import ExportConfig
from curation.export.finish import export_source, finish_export, run_entries
from curation.export.plan import plan_params, plan_tars, plan_url, shard_rows, shard_sort_keys, tar_plan
from curation.export.policy import FetchOptions
from curation.export.retry import retry_candidates
from curation.export.stage import ExportStage, export_hooks, opt_out_checks

log = logging.getLogger("curate")


def run_export(executor, cfg: ExportConfig, fetch: FetchOptions | None = None) -> dict:
    """Plan and write the tars, ``sizes.json`` and (online) ``probabilities.npy``."""
    from curation.gpu.dedup import removed_keys

    check_output_folder(cfg.out, curated=cfg.curated)
    if cfg.overwrite:
        remove(cfg.out)
    source, run = export_source(cfg.curated, cfg.online)
    shards = list_files(source, (".parquet",))
    if not shards:
        raise InputError(f"{source}: no shards to export")
    fetch = fetch or FetchOptions()
    export_hooks(cfg)  # a face detector or --image-filter that cannot load stops here, before any work
    if "+http" not in fetch.user_agent and "://" not in fetch.user_agent:
        log.warning("export: the User-Agent names no contact URL; give one with --user-agent "
                    "(hosts use it to reach whoever runs the crawl)")
    if cfg.captions and not exists(cfg.captions):
        raise InputError(f"--captions {cfg.captions}: not found (write it with `curate caption` or "
                         "`curate captions import`)")
    removed = removed_keys(cfg.keep_list) if cfg.keep_list else frozenset()
    rows = executor.map(shard_rows, shards, "export: count rows")
    plan = {**lineage(cfg), "source": source, "shards": [s.rsplit("/", 1)[-1] for s in shards], "rows": rows,
            "removed_keys": len(removed)}
    stage = ExportStage(cfg.out, plan_params(plan), run_entries(run), cfg, fetch, removed, shards, executor.storage)
    if cfg.retry_failed:
        _reopen_failed(stage)
    if cfg.shuffle_seed is None:
        stage.tars = plan_tars(shards, rows, cfg.samples_per_tar)
    else:
        stage.tars = shuffle_plan(executor, shards, sum(rows), cfg.samples_per_tar, cfg.shuffle_seed, cfg.out)
    result = drive(executor, stage, info={**plan, "shards": len(stage.tars), "input_shards": plan["shards"]})
    policy = {"user_agent": fetch.user_agent, "opt_out_checks": opt_out_checks(fetch),
              "blur_faces": cfg.blur_faces, "image_filter": cfg.image_filter, "keep_list": cfg.keep_list}
    summary = finish_export(cfg.out, result.stats, run, cfg.online, result.seconds, policy)
    log.info("export: %d tars, %d samples written of %d, failures %s", summary["tars"], summary["samples"],
             summary["given"], summary["failed"] or "none")
    return summary


def _range_of(coins: np.ndarray, ranges: int) -> np.ndarray:
    """The coin range of each coin: monotone in the coin, so ranges in order are the sort."""
    return np.minimum((coins * ranges).astype(np.int64), ranges - 1)


def _range_counts(seed: int, ranges: int, item) -> np.ndarray:
    import pyarrow as pa

    from curation.core.hashing import coins
    from curation.core.io import read_parquet

    _, url = item
    keys = read_parquet(url, columns=["key"])["key"].combine_chunks().cast(pa.string())
    return np.bincount(_range_of(np.asarray(coins(keys, seed), np.float64), ranges), minlength=ranges)


def _keys_by_range(seed: int, ranges: int, item) -> list:
    index, url = item
    keys = shard_sort_keys(seed, index, url)
    where = _range_of(np.array([k[0] for k in keys], dtype=np.float64), ranges)
    return [(int(r), [keys[i] for i in np.flatnonzero(where == r)]) for r in np.unique(where)]


def _number(starts: np.ndarray, per_tar: int, index: int, pairs: list) -> list:
    """One coin range: its rows sorted and numbered from ``starts[range]``, sent to their tar."""
    keys = sorted(k for _, part in pairs for k in part)
    first = int(starts[index])
    return [((first + i) // per_tar, (first + i, k[2], k[3])) for i, k in enumerate(keys)]


def _write_plans(out: str, index: int, pairs: list) -> list:
    by_tar: dict = {}
    for tar, position_row in pairs:
        by_tar.setdefault(tar, []).append(position_row)
    for tar, positions_rows in by_tar.items():
        write_parquet_atomic(plan_url(out, tar), tar_plan(positions_rows))
    return list(by_tar)


def shuffle_plan(executor, shards: list[str], total: int, samples_per_tar: int, seed: int, out: str) -> list[Shard]:
    """The tars of a shuffled export (see the module's docstring); skipped when the plan of
    this export is there already (a resumed run)."""
    n = samples_per_tar
    n_tars = -(-total // n)
    tars = [Shard(layout.shard_name(t), (("plan", plan_url(out, t)),), t) for t in range(n_tars)]
    if all(exists(plan_url(out, t)) for t in range(n_tars)):
        return tars
    ranges = max(1, min(len(shards), 4 * executor.parallelism))
    items = list(enumerate(shards))
    per_range = np.sum(executor.map(partial(_range_counts, seed, ranges), items,
                                    "export: coin ranges"), axis=0)
    starts = np.concatenate([[0], np.cumsum(per_range)[:-1]]).astype(np.int64)
    executor.shuffle(items, partial(_keys_by_range, seed, ranges),
                     [Step(ranges, partial(_number, starts, n)),
                      Step(max(1, min(n_tars, 4 * executor.parallelism)), partial(_write_plans, out))],
                     f"export: shuffle {total} rows into {n_tars} tars")
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


def export_command(cfg: dict, executor) -> int:
    export = cfg["export"]
    summary = run_export(executor, export, cfg["fetch"])
    sys.stdout.write(f"tars           {summary['tars']}\nsamples        {summary['samples']:,} of "
                     f"{summary['given']:,}\nfailed         {summary['failed'] or 'none'}\n"
                     f"sizes          {export.out}/sizes.json\n"
                     + (f"captions       {summary['captions']['with_caption']:,} samples with one, "
                        f"{summary['captions']['without_caption']:,} without\n" if "captions" in summary else ""))
    return 0
