"""The curation chain as shard stages: match every pool shard, optional row filters, and
balance. Each reads the shard of the stage before it (match reads the pool) and writes its
rows, its sparse entry counts and its stats; see ``curation.core.shards`` for the skeleton.

    <run>/matched/<shard>.parquet     pool rows that matched (+ entry_ids)
    <run>/<filter>/<shard>.parquet    rows a filter keeps; the dropped ones, with a reason,
                                      in <filter>/_dropped/<shard>.parquet
    <run>/curated/<shard>.parquet     rows balancing keeps
"""

import hashlib
import logging
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.chain.counting import counts_table, matches_histogram, sparse_counts
from curation.chain.pool import POOL_SUFFIXES, read_pool_shard
from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import exists, join, read_json, read_parquet
from curation.core.shards import Shard, ShardOutput, ShardResult, ShardStage, done_names

log = logging.getLogger("curate")


def plan_pool_shards(pool_url: str) -> list[Shard]:
    """One shard per pool file, named by its position in sorted order. Files of other kinds
    (``.csv``, ``.ndjson``, ``.JSONL``) are not read, and a warning names them."""
    from curation.core.io import list_files_and_others

    names, others = list_files_and_others(pool_url, POOL_SUFFIXES)
    if others:
        log.warning("%s: %d file(s) not read as pool shards (pool shards end in %s): %s", pool_url, len(others),
                    ", ".join(POOL_SUFFIXES), ", ".join(others[:10]) + (" ..." if len(others) > 10 else ""))
    files = [join(pool_url, name) for name in names]
    if not files:
        raise InputError(f"{pool_url}: no pool shards (*.parquet, *.jsonl, *.jsonl.gz) found")
    return [Shard(layout.shard_name(i), url, i) for i, url in enumerate(files)]


def list_tally(list_keys: list[str], has_match: pa.Array) -> dict:
    """``rows_per_list`` and ``matched_per_list`` of a shard: how many of its texts each metadata
    list matched, and how many of those matched something. One list serving every text (a
    single-list metadata, or a one-language shard) costs no pass over the rows in Python."""
    matched = np.asarray(has_match.to_numpy(zero_copy_only=False), dtype=bool)
    if not list_keys:
        return {"rows_per_list": {}, "matched_per_list": {}}
    first = list_keys[0]
    if list_keys.count(first) == len(list_keys):
        hits = int(matched.sum())
        return {"rows_per_list": {first: len(list_keys)}, "matched_per_list": {first: hits} if hits else {}}
    return {"rows_per_list": dict(Counter(list_keys)),
            "matched_per_list": dict(Counter(k for k, n in zip(list_keys, matched.tolist()) if n))}


def read_sparse_counts(url: str) -> tuple[np.ndarray, np.ndarray]:
    table = read_parquet(url)
    return table["entry_id"].to_numpy(), table["count"].to_numpy()


class RowStage(ShardStage):
    """A stage of the curation chain: rows in, rows out, with per-shard entry counts."""

    has_counts = True

    def __init__(self, out_dir: str, params: dict, entries: int):
        super().__init__(out_dir, params)
        self.entries = entries

    @property
    def counts_size(self) -> int:
        return self.entries

    def resumed(self, shard: Shard, stats: dict) -> ShardResult:
        return ShardResult(stats, read_sparse_counts(layout.counts_url(self.out_dir, shard.name)), skipped=True)

    def rows_output(self, name: str, table: pa.Table, **files) -> tuple[dict, tuple]:
        """The files of a shard whose rows are ``table``: the rows and their sparse counts."""
        ids, counts = sparse_counts(table["entry_ids"])
        return ({layout.data_url(self.out_dir, name): table,
                 layout.counts_url(self.out_dir, name): counts_table(ids, counts), **files}, (ids, counts))


class MatchStage(RowStage):
    """Match one pool shard against the metadata (each text against its ``lang``'s list
    when the metadata has several); keep the rows that matched, count and reject the rest."""

    name = "match"
    folder = layout.MATCHED
    rows_key = "pool_rows"
    phase = "match"

    def __init__(self, out_dir: str, params: dict, entries: int, pool: str, metadata_url: str):
        super().__init__(out_dir, params, entries)
        self.pool, self.metadata_url = pool, metadata_url

    def plan(self) -> list[Shard]:
        return plan_pool_shards(self.pool)

    def process(self, shard: Shard) -> ShardOutput:
        from curation.matching.cache import worker_matcher

        p = self.params
        matcher = worker_matcher(self.metadata_url, p["metadata_sha256"], p["variant"], p.get("default_lang", ""),
                                 tuple(sorted((p.get("lang_map") or {}).items())))
        text_column = p["text_column"]
        pool = read_pool_shard(shard.source, text_column)
        table = pool.table
        if "entry_ids" in table.column_names:
            raise InputError(f"{shard.source}: the pool already has an entry_ids column (a matched shard?); "
                             "give the pool, or rename the column")
        langs = table["lang"].combine_chunks().cast(pa.string()) if "lang" in table.column_names else None
        texts = table[text_column].combine_chunks()
        list_keys, unrouted = matcher.route_langs(None if langs is None else langs.to_pylist(), len(texts))
        entry_ids, _ = matcher.match_arrow(texts, keys=list_keys)
        has_match = pc.greater(pc.list_value_length(entry_ids), 0)
        matched = table.append_column("entry_ids", entry_ids).filter(has_match)
        rejected = {layout.rejected_url(self.out_dir, shard.name): pool.rejected} if pool.rejected.num_rows else {}
        files, counts = self.rows_output(shard.name, matched, **rejected)
        reasons = pool.rejected["reason"].value_counts().to_pylist() if pool.rejected.num_rows else []
        stats = {
            "source": shard.source,
            "pool_rows": pool.rows,
            "matched_rows": matched.num_rows,
            "unmatched_rows": table.num_rows - matched.num_rows,
            "rejected_rows": pool.rejected.num_rows,
            "rejected_reasons": {r["values"]: r["counts"] for r in reasons},
            "matches": int(len(entry_ids.values)),
            "matches_per_text": matches_histogram(entry_ids),
            **list_tally(list_keys, has_match),
            "unrouted_langs": unrouted,
        }
        return ShardOutput(files, stats, counts)


class ChainedStage(RowStage):
    """A row stage after match: its shards are the ones the stage before it finished."""

    def __init__(self, out_dir: str, params: dict, entries: int, input_dir: str):
        super().__init__(out_dir, params, entries)
        self.input_dir = input_dir

    def plan(self) -> list[Shard]:
        return [Shard(name, layout.data_url(self.input_dir, name), i)
                for i, name in enumerate(done_names(self.input_dir))]


class FilterStage(ChainedStage):
    """A row filter between match and count. A subclass names itself (``name``, and
    ``folder`` defaults to it), may carry a ``Config`` dataclass (its fields become flags of
    ``curate curate`` and a YAML section; those marked ``lineage=True`` key its done
    markers), and implements ``reasons(table) -> list[str | None]``: ``None`` keeps a row,
    a string drops it with that reason (or ``decide``, to change the kept rows too).
    Dropped rows are written to ``_dropped/`` and counted, never lost. ``enabled(config)``
    says whether a run includes it (default: always)."""

    rows_key = "input_rows"
    phase = "filter"
    Config = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.folder = cls.__dict__.get("folder") or cls.name

    def __init__(self, out_dir: str, params: dict, entries: int, input_dir: str, config=None):
        super().__init__(out_dir, params, entries, input_dir)
        self.config = config

    @classmethod
    def enabled(cls, config) -> bool:
        return True

    @classmethod
    def derived_lineage(cls, config) -> dict:
        """Lineage that the config's values do not show (a digest of a file it names)."""
        return {}

    def reasons(self, table: pa.Table) -> list:
        raise NotImplementedError

    def decide(self, table: pa.Table, where: str) -> tuple[pa.Table, list, dict]:
        """``(the rows, a reason or None for each, extra stats)``: ``reasons`` by default."""
        return table, self.reasons(table), {}

    def where(self, shard: Shard) -> str:
        """The pool file a shard's rows came from (errors name it), as match recorded it."""
        matched = getattr(self, "matched_dir", None)
        marker = layout.done_url(matched, shard.name) if matched else None
        if marker and exists(marker):
            return f"{read_json(marker).get('source', shard.source)} (matched as {shard.source})"
        return shard.source

    def process(self, shard: Shard) -> ShardOutput:
        table, reasons, extra_stats = self.decide(read_parquet(shard.source), self.where(shard))
        reasons = pa.array(reasons, pa.string())
        keep = pc.is_null(reasons)
        dropped = table.filter(pc.invert(keep)).append_column("reason", reasons.filter(pc.invert(keep)))
        extra = {layout.dropped_url(self.out_dir, shard.name): dropped} if dropped.num_rows else {}
        files, counts = self.rows_output(shard.name, table.filter(keep), **extra)
        by_reason = Counter(r for r in reasons.to_pylist() if r is not None)
        stats = {"input_rows": table.num_rows, "output_rows": table.num_rows - dropped.num_rows,
                 "dropped_rows": dropped.num_rows, "dropped_reasons": {f"{self.name}:{r}": n for r, n in
                                                                       sorted(by_reason.items())}, **extra_stats}
        return ShardOutput(files, stats, counts)


class BalanceStage(ChainedStage):
    """Keep rows by their hash coin: ``coin(seed, key) < 1 - prod(1 - p[i])``. Per image
    (``params["unit"] == "image"``), only the row chosen for its image (``curation.chain.imageunit``)
    can be kept, with the coin of its image id."""

    name = "balance"
    folder = layout.CURATED
    rows_key = "matched_rows"
    phase = "balance"

    def __init__(self, out_dir: str, params: dict, input_dir: str, p: np.ndarray, seed: int):
        super().__init__(out_dir, params, len(p), input_dir)
        self.p, self.seed = p, seed
        # The probabilities follow from the whole pool's counts: a shard made with others
        # (another or an edited pool shard anywhere) is redone, as one whose input changed.
        self.p_sha256 = hashlib.sha256(np.ascontiguousarray(p, dtype=np.float64).tobytes()).hexdigest()

    def input_identity(self, shard: Shard) -> dict | None:
        own = super().input_identity(shard)
        return None if own is None else {**own, "p_sha256": self.p_sha256}

    @property
    def per_image(self) -> bool:
        return self.params.get("unit", "text") == "image"

    def process(self, shard: Shard) -> ShardOutput:
        rows = read_parquet(shard.source)
        stats = {"matched_rows": rows.num_rows}
        if self.per_image:
            from curation.chain.balancing import keep_probabilities
            from curation.chain.imageunit import chosen_rows, image_ids
            from curation.core.hashing import coins

            chosen = np.zeros(rows.num_rows, dtype=bool)
            chosen[chosen_rows(self.out_dir, shard.name)] = True
            ids = image_ids(rows, self.params.get("image_column", "key"))
            keep = chosen & (coins(ids, self.seed) < keep_probabilities(rows["entry_ids"], self.p))
            stats["chosen_rows"] = int(chosen.sum())
        else:
            from curation.chain.balancing import keep_mask  # numba: loaded where balancing runs

            keep = keep_mask(rows["key"], rows["entry_ids"], self.p, self.seed)
        kept = rows.filter(pa.array(keep))
        files, counts = self.rows_output(shard.name, kept)
        return ShardOutput(files, {**stats, "curated_rows": kept.num_rows}, counts)
