"""The curation chain on any executor: match, the registered filter stages, count and balance,
and the commands that run them (``curate match|count|balance|curate``).

The row stages of one run are recorded in ``<out>/_chain.json`` (match, then the filters
this run enabled), so that count and balance, run on their own later, read the same last
stage.
"""

import contextvars
import logging
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from curation.chain.balancing import language_thresholds, segment_probabilities
from curation.chain.choice import run_image_choice
from curation.chain.config import BalanceConfig, CountConfig, MatchConfig
from curation.chain.counting import counts_table
from curation.chain.stages import BalanceStage, MatchStage, read_sparse_counts
from curation.core import layout
from curation.core.config import lineage
from curation.core.errors import InputError
from curation.core.io import check_output_folder, exists, join, read_json, write_json_atomic, write_parquet_atomic
from curation.core.runner import drive
from curation.core.shards import MANIFEST, Shard, ShardOutput, ShardStage, check_params, done_names
from curation.matching.metadata_io import Metadata, load_metadata
from curation.matching.variants import get_variant
from curation.registry import REGISTRY
from curation.report.datacard import (
    build_datacard,
    metadata_sources,
    print_summary,
    read_entry_counts,
    write_datacard,
    write_entry_counts,
)

log = logging.getLogger("curate")
CHAIN = "_chain.json"


@dataclass
class ChainResult:
    """What match (and the filters after it) hand to count and balance in the same run."""

    metadata: Metadata
    stats: list[dict]  # the match stage's per-shard stats
    counts: np.ndarray  # entry counts of the rows given to count and balance
    filter_stats: dict = field(default_factory=dict)  # filter name -> per-shard stats


def match_stage(cfg: MatchConfig, metadata: Metadata) -> MatchStage:
    """The match stage of ``cfg``: its lineage is the config's, the metadata's sha256 and,
    for per-language metadata, the language map's content."""
    params = {"metadata_sha256": metadata.sha256, **lineage(cfg)}
    if metadata.per_language:
        from curation.matching.langroute import load_lang_map

        if cfg.lang_map:
            params["lang_map"] = load_lang_map(cfg.lang_map)
            unknown = ", ".join(f"{k!r} -> {v!r}" for k, v in sorted(params["lang_map"].items())
                                if v not in metadata.segments)
            if unknown:
                raise InputError(f"--lang-map {cfg.lang_map}: no list for {unknown} in {metadata.source} "
                                 f"(lists: {', '.join(sorted(metadata.segments))})")
        if cfg.default_lang not in metadata.segments:
            raise InputError(f"--default-lang {cfg.default_lang!r} has no list in {metadata.source} "
                             f"(lists: {', '.join(sorted(metadata.segments))})")
    elif cfg.lang_map:
        log.warning("--lang-map %s: no effect with a single metadata list (%s)", cfg.lang_map, metadata.source)
    return MatchStage(join(cfg.out, layout.MATCHED), params, len(metadata), cfg.pool, metadata.source)


def filter_chain(first: MatchStage, out: str, entries: int, configs: dict) -> list:
    """The filter stages this run enables, each reading the folder of the stage before it."""
    chain = [first]
    for cls in REGISTRY.filters():
        config = configs.get(cls.name) or (cls.Config() if cls.Config else None)
        if not cls.enabled(config):
            continue
        own = {**lineage(config), **cls.derived_lineage(config)} if config is not None else {}
        params = {**chain[-1].params, cls.name: own}
        chain.append(cls(join(out, cls.folder), params, entries, chain[-1].out_dir, config))
        chain[-1].matched_dir = first.out_dir
    return chain[1:]


def run_match(executor, cfg: MatchConfig, filters: dict | None = None) -> ChainResult:
    """Match every pool shard, then run the enabled filter stages on the matched shards;
    returns the stats and the counts of the rows that reach count and balance."""
    get_variant(cfg.variant)  # fail on the driver, before any task starts
    check_output_folder(cfg.out, pool=cfg.pool)
    metadata = load_metadata(cfg.metadata)
    if metadata.duplicates:
        log.warning("%s: %d entries are listed more than once (%s); each copy keeps its id, matches and counts "
                    "(the data card records them)", metadata.source, len(metadata.duplicates),
                    ", ".join(repr(e) for e in sorted(metadata.duplicates)[:5]))
    if metadata.blank_entries:
        log.warning("%s: entries %s are empty or blank; each matches nearly every text (the data card records "
                    "them)", metadata.source, metadata.blank_entries[:10])
    stage = match_stage(cfg, metadata)
    chain = filter_chain(stage, cfg.out, len(metadata), filters or {})
    from curation.chain.pool import POOL_SUFFIXES
    from curation.core.io import list_files_and_others

    not_read = list_files_and_others(cfg.pool, POOL_SUFFIXES)[1]  # named in plan's warning; the card keeps them
    run = drive(executor, stage, overwrite=cfg.overwrite,
                info={"metadata": metadata.source, "entries": len(metadata), "pool": cfg.pool,
                      **({"files_not_read": not_read[:100]} if not_read else {})})
    write_json_atomic(join(cfg.out, CHAIN), {"stages": [s.folder for s in [stage, *chain]]})
    counts, filter_stats = run.counts, {}
    for filter_stage in chain:
        filtered = drive(executor, filter_stage, overwrite=cfg.overwrite, info={"input": filter_stage.input_dir})
        filter_stats[filter_stage.name], counts = filtered.stats, filtered.counts
    return ChainResult(metadata, run.stats, counts, filter_stats)


def chain_folders(out: str) -> list[str]:
    """The row-stage folders of the run in ``out``, match first (as its last match recorded)."""
    url = join(out, CHAIN)
    return read_json(url)["stages"] if exists(url) else [layout.MATCHED]


def _upstream(out: str) -> tuple[str, dict]:
    """The folder and manifest of the last row stage before count, checked complete."""
    check_output_folder(out)
    folder = join(out, chain_folders(out)[-1])
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


class CountsStage(ShardStage):
    """Reading back one shard's sparse counts, as a stage without outputs (``curate count``
    run on its own sums them with the same reduction as match)."""

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


def run_count(executor, cfg: CountConfig, chained: ChainResult | None = None) -> np.ndarray:
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
        counts = executor.run_stage(CountsStage(folder, len(metadata)), shards, "count").counts
    write_entry_counts(join(cfg.out, layout.ENTRY_COUNTS), join(cfg.out, layout.ENTRY_COUNTS_JSON),
                       metadata, counts, params)
    log.info("count: %d entries matched in %.1f s", int((counts > 0).sum()), time.monotonic() - start)
    return counts


def balance_stage(cfg: BalanceConfig, metadata: Metadata, counts: np.ndarray, folder: str,
                  upstream: dict) -> tuple[BalanceStage, dict]:
    """The balance stage over ``folder`` and the per-language thresholds it balances with."""
    if cfg.prefer_quality and cfg.unit != "image":
        raise InputError("--prefer-quality chooses among an image's alt-texts: it needs --unit image")
    try:
        thresholds = language_thresholds(counts, metadata.segments, cfg.t, cfg.reference_lang)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    p = segment_probabilities(counts, metadata.segments, thresholds)
    stage = BalanceStage(join(cfg.out, layout.CURATED), {**upstream, **lineage(cfg)}, folder, p, cfg.seed)
    return stage, thresholds


def run_balance(executor, cfg: BalanceConfig, timings: dict | None = None,
                chained: ChainResult | None = None, before_card=None) -> dict:
    """Balance the rows of the last stage before count; write ``curated/`` and the data card
    (after ``before_card()``, when given: work that must be done before the card says so)."""
    folder, manifest = _upstream(cfg.out)
    metadata = chained.metadata if chained else load_metadata(_matched_manifest(cfg.out)["metadata"])
    # Chained after match in this run, the counts are in hand; otherwise read (and check) them.
    counts = chained.counts if chained else read_entry_counts(join(cfg.out, layout.ENTRY_COUNTS), manifest["params"])
    stage, thresholds = balance_stage(cfg, metadata, counts, folder, manifest["params"])
    start = time.monotonic()
    choose = (lambda shards: run_image_choice(executor, stage, shards)) if stage.per_image else None
    run = drive(executor, stage, overwrite=cfg.overwrite, info={"input": folder}, before=choose)
    write_parquet_atomic(join(cfg.out, layout.CURATED_COUNTS), counts_table(np.arange(len(run.counts)), run.counts))
    match_stats = chained.stats if chained else _stats_of(join(cfg.out, layout.MATCHED))
    filter_stats = chained.filter_stats if chained else _filter_stats(cfg.out)
    card = build_datacard(metadata=metadata, thresholds=thresholds, counts=counts, kept_counts=run.counts,
                          match_stats=match_stats, filter_stats=filter_stats, balance_stats=run.stats,
                          curated_rows=sum(s["curated_rows"] for s in run.stats), params=stage.params,
                          timings={**(timings or {}), "balance": round(time.monotonic() - start, 3)},
                          sources=metadata_sources(metadata))
    card["executor"] = executor.name
    not_read = _matched_manifest(cfg.out).get("files_not_read")
    if not_read:
        card["pool_files_not_read"] = not_read  # files of other kinds in the pool folder
    if stage.per_image:
        from curation.chain.imageunit import CHOICE, COMPLETE

        collisions = read_json(join(stage.out_dir, CHOICE, COMPLETE)).get("url_collisions", {})
        if collisions.get("images"):
            card["image_id_url_collisions"] = collisions  # ids whose rows name several urls
    if before_card is not None:
        before_card()
        card["timings_s"] = {**card["timings_s"], **(timings or {})}
    write_datacard(join(cfg.out, layout.DATACARD), card)
    return card


def _stats_of(folder: str) -> list[dict]:
    """The done-marker stats of every shard of a stage folder (read on the driver: small)."""
    return [read_json(layout.done_url(folder, name)) for name in done_names(folder)]


def _filter_stats(out: str) -> dict:
    by_folder = {cls.folder: cls.name for cls in REGISTRY.filters()}
    return {by_folder.get(folder, folder): _stats_of(join(out, folder)) for folder in chain_folders(out)[1:]}


def filter_configs(cfg: dict) -> dict:
    """Filter name -> its config, from a command's configs."""
    return {f.name: cfg[f.Config.SECTION] for f in REGISTRY.filters() if f.Config and f.Config.SECTION in cfg}


def _seconds(fn, *args) -> float:
    start = time.monotonic()
    fn(*args)
    return round(time.monotonic() - start, 3)


def _timed(timings: dict, name: str, fn, *args, **kwargs):
    start = time.monotonic()
    result = fn(*args, **kwargs)
    timings[name] = round(time.monotonic() - start, 3)
    return result


def match_command(cfg: dict, executor) -> int:
    run_match(executor, cfg["match"], filter_configs(cfg))
    return 0


def count_command(cfg: dict, executor) -> int:
    if cfg["count"].overwrite:  # the counts are written anew by every run; the old ones go first
        from curation.core.io import remove

        for name in (layout.ENTRY_COUNTS, layout.ENTRY_COUNTS_JSON):
            remove(join(cfg["count"].out, name))
    run_count(executor, cfg["count"])
    return 0


def balance_command(cfg: dict, executor) -> int:
    card = run_balance(executor, cfg["balance"])
    print_summary(card, cfg["balance"].out, sys.stdout)
    return 0


def curate_command(cfg: dict, executor) -> int:
    """Match, filters, count and balance in one run, then the summary and the report."""
    from concurrent.futures import ThreadPoolExecutor

    from curation.report.page import write_report

    timings: dict = {}
    chained = _timed(timings, "match", run_match, executor, cfg["match"], filter_configs(cfg))
    # Balancing needs the counts, not their files: the entry count files (500k entries: about
    # a second of encoding) are written beside it, and are complete before the data card.
    with ThreadPoolExecutor(1) as side:
        # The thread runs in a copy of this context: the storage options scoped here apply there.
        # It returns its seconds rather than writing them into ``timings``, which balance reads.
        counted = side.submit(contextvars.copy_context().run, _seconds, run_count, executor, cfg["count"], chained)
        card = run_balance(executor, cfg["balance"], timings, chained,
                           before_card=lambda: timings.update(count=counted.result()))
    print_summary(card, cfg["balance"].out, sys.stdout)
    sys.stdout.write(f"report         {write_report(cfg['balance'].out)}\n")
    return 0
