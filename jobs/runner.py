"""The curation chain on Spark: match, the filter stages of the stage table, count and
balance, and the commands that run them. Plans and per-shard work are the stages of
``curation.stages``; this module only wires them to Spark and to the run folder."""

import logging
import sys
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from curation import layout
from curation.balancing import language_thresholds, segment_probabilities
from curation.config import BalanceConfig, CountConfig, MatchConfig
from curation.counting import counts_table
from curation.errors import InputError
from curation.io import (
    check_output_folder,
    exists,
    join,
    read_json,
    read_parquet,
    remove,
    using_storage,
    write_json_atomic,
    write_parquet_atomic,
)
from curation.lineage import balance_params, match_params
from curation.metadata_io import Metadata, load_metadata
from curation.pipeline import filter_stages
from curation.shards import MANIFEST, Shard, ShardOutput, ShardStage, check_params, done_names
from curation.stages import BalanceStage, MatchStage, read_sparse_counts
from curation.summary import (
    build_datacard,
    metadata_sources,
    print_summary,
    read_entry_counts,
    write_datacard,
    write_entry_counts,
)
from curation.variants import get_variant
from jobs.spark import run_stage, spark_for

log = logging.getLogger("curate")


@dataclass
class ChainResult:
    """What match (and the filters after it) hand to count and balance in the same run."""

    metadata: Metadata
    stats: list[dict]  # the match stage's per-shard stats
    counts: np.ndarray  # entry counts of the rows given to balance
    filter_stats: dict = field(default_factory=dict)  # filter name -> per-shard stats


def run_match(spark, cfg: MatchConfig, storage=None, filters: dict | None = None) -> ChainResult:
    """Match every pool shard, then run the filter stages of the stage table on the matched
    shards; returns the stats and the counts of the rows that reach balancing."""
    get_variant(cfg.variant)  # fail on the driver, before any task starts
    check_output_folder(cfg.out, pool=cfg.pool)
    metadata = load_metadata(cfg.metadata)
    params = match_params(metadata.sha256, cfg.variant, cfg.text_column)
    if metadata.per_language:
        from curation.langroute import load_lang_map

        params["default_lang"] = cfg.default_lang
        if cfg.lang_map:
            params["lang_map"] = load_lang_map(cfg.lang_map)
        if cfg.default_lang not in metadata.segments:
            raise InputError(f"--default-lang {cfg.default_lang!r} has no list in {metadata.source} "
                             f"(lists: {', '.join(sorted(metadata.segments))})")
    quality_weights = None
    if cfg.min_quality is not None:
        from curation.quality.score import load_weights, weights_digest

        quality_weights = load_weights(cfg.quality_weights)
        params.update(min_quality=cfg.min_quality, quality_weights_sha256=weights_digest(quality_weights))
    stage = MatchStage(join(cfg.out, layout.MATCHED), params, len(metadata), cfg.pool, metadata.source,
                       quality_weights)
    chain = [stage]
    for filter_cls in filter_stages():
        config = (filters or {}).get(filter_cls.name) or (filter_cls.Config() if filter_cls.Config else None)
        filter_params = {**chain[-1].params, filter_cls.name: _config_params(config)}
        chain.append(filter_cls(join(cfg.out, filter_cls.folder), filter_params, len(metadata),
                                chain[-1].out_dir, config))
    if cfg.overwrite:
        for s in chain:
            remove(s.out_dir)
    shards = stage.plan()
    stage.claim({"metadata": metadata.source, "entries": len(metadata), "pool": cfg.pool, "shards": len(shards)})
    run = run_stage(spark, stage, shards, storage)
    match_stats, counts, filter_stats = run.stats, run.counts, {}
    for filter_stage in chain[1:]:
        filter_shards = filter_stage.plan()
        filter_stage.claim({"shards": len(filter_shards), "input": filter_stage.input_dir})
        filtered = run_stage(spark, filter_stage, filter_shards, storage)
        filter_stats[filter_stage.name], counts = filtered.stats, filtered.counts
    return ChainResult(metadata, match_stats, counts, filter_stats)


def _config_params(config) -> dict:
    from dataclasses import asdict

    return asdict(config) if config is not None else {}


def _upstream(out: str) -> tuple[str, dict]:
    """The folder and manifest of the last row stage before balance (match, or the last
    filter of the stage table), checked complete."""
    check_output_folder(out)
    folder = join(out, ([layout.MATCHED] + [f.folder for f in filter_stages()])[-1])
    url = join(folder, MANIFEST)
    if not exists(url):
        raise InputError(f"{url}: not found; run `curate match` into {out} first")
    manifest = read_json(url)
    names = done_names(folder)
    if len(names) != manifest["shards"]:
        raise InputError(f"{folder}: stage incomplete, {len(names)} of {manifest['shards']} shards done; "
                         "rerun `curate match` to finish it")
    return folder, manifest


def _matched_manifest(out: str) -> dict:
    url = join(out, layout.MATCHED, MANIFEST)
    if not exists(url):
        raise InputError(f"{url}: not found; run `curate match` into {out} first")
    return read_json(url)


class _CountsStage(ShardStage):
    """Reading back one shard's sparse counts, as a stage without outputs (``curate count``
    run on its own sums them with the same tree reduction as match)."""

    name = "count"
    has_counts = True
    commits = False

    def __init__(self, folder: str, entries: int):
        super().__init__(folder, {})
        self.entries = entries

    @property
    def counts_size(self) -> int:
        return self.entries

    def process(self, shard: Shard) -> ShardOutput:
        return ShardOutput({}, {}, read_sparse_counts(layout.counts_url(self.out_dir, shard.name)))


def run_count(spark, cfg: CountConfig, storage=None, chained: ChainResult | None = None) -> np.ndarray:
    """Write ``entry_counts.parquet`` and ``entry_counts.json``: from the counts the chain
    of this run summed, or else by summing the per-shard count files of its last stage."""
    folder, manifest = _upstream(cfg.out)
    params = manifest["params"]
    match_manifest = _matched_manifest(cfg.out)
    metadata = chained.metadata if chained else load_metadata(cfg.metadata or match_manifest["metadata"])
    check_params({"metadata_sha256": metadata.sha256}, {"metadata_sha256": params["metadata_sha256"]},
                 metadata.source)
    start = time.monotonic()
    if chained is not None:
        counts = chained.counts
    else:
        shards = [Shard(name, None, i) for i, name in enumerate(done_names(folder))]
        counts = run_stage(spark, _CountsStage(folder, len(metadata)), shards, storage, "count").counts
    write_entry_counts(join(cfg.out, layout.ENTRY_COUNTS), join(cfg.out, layout.ENTRY_COUNTS_JSON),
                       metadata, counts, params)
    log.info("count: %d entries matched in %.1f s", int((counts > 0).sum()), time.monotonic() - start)
    return counts


def run_balance(spark, cfg: BalanceConfig, timings: dict | None = None, storage=None,
                chained: ChainResult | None = None) -> dict:
    """Balance the rows of the last stage before balance; write ``curated/`` and the data card."""
    folder, manifest = _upstream(cfg.out)
    match_manifest = _matched_manifest(cfg.out)
    metadata = chained.metadata if chained else load_metadata(match_manifest["metadata"])
    # Chained after match in this run, the counts are in hand; otherwise read (and check) them.
    counts = chained.counts if chained else read_entry_counts(join(cfg.out, layout.ENTRY_COUNTS), manifest["params"])
    params = balance_params(manifest["params"], cfg.t, cfg.seed, cfg.unit, cfg.image_column)
    if cfg.prefer_quality:
        if cfg.unit != "image":
            raise InputError("--prefer-quality chooses among an image's alt-texts: it needs --unit image")
        params["prefer_quality"] = True
    if metadata.per_language:
        params["reference_lang"] = cfg.reference_lang
    try:
        thresholds = language_thresholds(counts, metadata.segments, cfg.t, cfg.reference_lang)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    stage = BalanceStage(join(cfg.out, layout.CURATED), params, folder,
                         segment_probabilities(counts, metadata.segments, thresholds), cfg.seed)
    if cfg.overwrite:
        remove(stage.out_dir)
    shards = stage.plan()
    stage.claim({"shards": len(shards), "input": folder})
    start = time.monotonic()
    if stage.per_image:
        run_image_choice(spark, stage, shards, storage)
    run = run_stage(spark, stage, shards, storage)
    write_parquet_atomic(join(cfg.out, layout.CURATED_COUNTS), counts_table(np.arange(len(run.counts)), run.counts))
    match_stats = chained.stats if chained else _stats_of(join(cfg.out, layout.MATCHED))
    filter_stats = chained.filter_stats if chained else {
        f.name: _stats_of(join(cfg.out, f.folder)) for f in filter_stages()}
    card = build_datacard(metadata=metadata, thresholds=thresholds, counts=counts, kept_counts=run.counts,
                          match_stats=match_stats, filter_stats=filter_stats, balance_stats=run.stats,
                          curated_rows=sum(s["curated_rows"] for s in run.stats), params=params,
                          timings={**(timings or {}), "balance": round(time.monotonic() - start, 3)},
                          sources=metadata_sources(metadata))
    write_datacard(join(cfg.out, layout.DATACARD), card)
    return card


def _candidates(params: dict, seed: int, buckets: int, storage, item):
    from curation.imageunit import shard_candidates

    index, shard = item
    with using_storage(storage):
        table = read_parquet(shard.source, columns=sorted({"key", params.get("image_column", "key"),
                                                            params["text_column"]}
                                                           | ({"quality"} if params.get("prefer_quality") else set())))
    return shard_candidates(table, index, params.get("image_column", "key"), params["text_column"], seed, buckets,
                            bool(params.get("prefer_quality")))


def _columns_of(url: str) -> dict:
    """Column name -> type of a Parquet shard (its schema only)."""
    import pyarrow.parquet as pq

    from curation.io import open_read

    with open_read(url) as f:
        return {field.name: field.type for field in pq.ParquetFile(f).schema_arrow}


def _winners(bucket_pieces):
    from curation.imageunit import bucket_winners

    return list(bucket_winners(list(bucket_pieces[1])).items())


def _write_choice(curated_dir: str, names: list[str], storage, pair) -> int:
    import numpy as np

    from curation.imageunit import choice_table, choice_url

    shard, parts = pair
    rows = np.sort(np.concatenate(list(parts)))
    with using_storage(storage):
        write_parquet_atomic(choice_url(curated_dir, names[shard]), choice_table(rows))
    return len(rows)


def run_image_choice(spark, stage: BalanceStage, shards: list, storage=None) -> int:
    """Choose one alt-text per image over every shard (``curation.imageunit``): a shuffle of
    each shard's best row per image, bucketed by image id, then the winning rows of each
    shard written to ``_choice/``. Skipped when every balance shard is done, or the choice
    was completed before. Returns the number of images."""
    from curation.imageunit import CHOICE, COMPLETE

    marker = join(stage.out_dir, CHOICE, COMPLETE)
    if exists(marker):
        return read_json(marker)["images"]
    from jobs.spark import map_shards

    image_column = stage.params.get("image_column", "key")
    columns = map_shards(spark, _columns_of, [shard.source for shard in shards], "balance: read schemas", storage)
    missing = [shard.source for shard, names in zip(shards, columns) if image_column not in names]
    if missing:
        raise InputError(f"{missing[0]}: no image column {image_column!r} (--image-column)"
                         + (f", nor in {len(missing) - 1} other shards" if len(missing) > 1 else ""))
    if stage.params.get("prefer_quality"):
        from curation.quality.stage import is_score_type

        for shard, types in zip(shards, columns):
            if "quality" not in types:
                raise InputError(f"{shard.source}: --prefer-quality needs a quality column; score the pool with "
                                 "`curate quality` or match with --min-quality (0 keeps every row)")
            if not is_score_type(types["quality"]):
                raise InputError(f"{shard.source}: column 'quality' is {types['quality']}, not a number")
    sc = spark.sparkContext
    buckets = max(1, min(len(shards), 4 * sc.defaultParallelism))
    names = [shard.name for shard in shards]
    sc.setJobDescription(f"balance: one alt-text per image over {len(shards)} shards")
    try:
        images = sum(sc.parallelize(list(enumerate(shards)), max(1, len(shards)))
                     .flatMap(partial(_candidates, stage.params, stage.seed, buckets, storage))
                     .groupByKey(buckets).flatMap(_winners)
                     .groupByKey(max(1, min(len(shards), buckets)))
                     .map(partial(_write_choice, stage.out_dir, names, storage)).collect())
    finally:
        sc.setJobDescription(None)
    write_json_atomic(marker, {"images": images, "shards": len(shards)})
    log.info("balance: %d images among the matched rows", images)
    return images


def _stats_of(folder: str) -> list[dict]:
    """The done-marker stats of every shard of a stage folder (read on the driver: small)."""
    return [read_json(layout.done_url(folder, name)) for name in done_names(folder)]


def _filter_configs(cfg: dict) -> dict:
    return {f.name: cfg[f.Config.SECTION] for f in filter_stages() if f.Config and f.Config.SECTION in cfg}


def _timed(timings: dict, name: str, fn, *args, **kwargs):
    start = time.monotonic()
    result = fn(*args, **kwargs)
    timings[name] = round(time.monotonic() - start, 3)
    return result


def match_command(cfg: dict) -> int:
    storage = cfg["storage"].options()
    with using_storage(storage):
        run_match(spark_for(cfg, "curate match"), cfg["match"], storage, _filter_configs(cfg))
    return 0


def count_command(cfg: dict) -> int:
    storage = cfg["storage"].options()
    with using_storage(storage):
        run_count(spark_for(cfg, "curate count"), cfg["count"], storage)
    return 0


def balance_command(cfg: dict) -> int:
    storage = cfg["storage"].options()
    with using_storage(storage):
        card = run_balance(spark_for(cfg, "curate balance"), cfg["balance"], storage=storage)
    print_summary(card, cfg["balance"].out, sys.stdout)
    return 0


def curate_command(cfg: dict) -> int:
    """Match, filters, count and balance in one run, then the summary and the report."""
    from curation.report import write_report

    storage = cfg["storage"].options()
    timings: dict = {}
    with using_storage(storage):
        spark = spark_for(cfg, "curate curate")
        chained = _timed(timings, "match", run_match, spark, cfg["match"], storage, _filter_configs(cfg))
        _timed(timings, "count", run_count, spark, cfg["count"], storage, chained)
        card = run_balance(spark, cfg["balance"], timings, storage, chained)
        print_summary(card, cfg["balance"].out, sys.stdout)
        sys.stdout.write(f"report         {write_report(cfg['balance'].out)}\n")
    return 0

