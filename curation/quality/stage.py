"""``curate quality``: the pool's rows with a ``quality`` column, one output shard per pool
shard under the same name (``part-02.jsonl`` -> ``part-02.parquet``), so the output is a
pool that ``curate curate --min-quality`` reads. A row whose text is null cannot be scored:
it is rejected (``_rejected/<name>.parquet``) with the reason ``no_text``, beside the rows
the pool reader rejects."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.chain.pool import POOL_SUFFIXES, REJECTED_SCHEMA, read_pool_shard
from curation.core.errors import InputError
from curation.core.io import join, list_files
from curation.core.shards import Shard, ShardOutput, ShardStage
from curation.quality.score import QualityScorer, add_histograms_by_lang, histograms_by_lang

QUALITY = "quality"


def shard_stem(url: str) -> str:
    name = url.rsplit("/", 1)[-1]
    for suffix in sorted(POOL_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def score_table(table: pa.Table, text_column: str, scorer: QualityScorer) -> tuple[pa.Table, pa.Table, dict]:
    """``(scored rows + quality, rows without a text, histograms by lang)`` of a pool table."""
    texts = table[text_column].combine_chunks()
    has_text = pc.is_valid(texts)
    scored, missing = table.filter(has_text), table.filter(pc.invert(has_text))
    langs = scored["lang"].to_pylist() if "lang" in scored.column_names else None
    scores = scorer.score_many(scored[text_column].to_pylist(), langs)
    if QUALITY in scored.column_names:
        scored = scored.drop_columns([QUALITY])
    return scored.append_column(QUALITY, pa.array(scores, pa.float64())), missing, histograms_by_lang(scores, langs)


class QualityStage(ShardStage):
    """Score one pool shard; see the module docstring."""

    name = "quality"
    phase = "score"
    rows_key = "pool_rows"
    stats_file = "_quality_stats.json"  # "_": not a pool shard

    def __init__(self, out_dir: str, params: dict, pool: str, weights: dict):
        super().__init__(out_dir, params)
        self.pool, self.weights = pool, weights

    def inputs(self) -> dict:
        return {"pool": self.pool}

    def summary(self, run) -> dict:
        stats = run.stats
        histograms: dict = {}
        for s in stats:
            add_histograms_by_lang(histograms, s["histograms"])
        scored = sum(s["scored_rows"] for s in stats)
        reasons: dict = {}
        for s in stats:
            for reason, n in s["rejected_reasons"].items():
                reasons[reason] = reasons.get(reason, 0) + n
        return {"shards": len(stats), "pool_rows": sum(s["pool_rows"] for s in stats), "scored_rows": scored,
                "rejected_rows": sum(s["rejected_rows"] for s in stats), "rejected_reasons": reasons,
                "mean_quality": round(sum(s["quality_sum"] for s in stats) / scored, 6) if scored else None,
                "histograms": histograms}

    def plan(self) -> list[Shard]:
        files = list_files(self.pool, POOL_SUFFIXES)
        if not files:
            raise InputError(f"{self.pool}: no pool shards (*.parquet, *.jsonl, *.jsonl.gz) found")
        stems = [shard_stem(u) for u in files]
        clash = sorted({s for s in stems if stems.count(s) > 1})
        if clash:
            raise InputError(f"{self.pool}: shards {', '.join(clash)} exist in two formats; their outputs "
                             "would share a name")
        return [Shard(stem, url, i) for i, (stem, url) in enumerate(zip(stems, files))]

    def process(self, shard: Shard) -> ShardOutput:
        text_column = self.params["text_column"]
        pool = read_pool_shard(shard.source, text_column)
        scored, missing, hist = score_table(pool.table, text_column, QualityScorer(self.weights))
        rejected = pool.rejected
        if missing.num_rows:
            # ``row`` counts the readable rows (the reader's rejects left out); ``raw`` names the key.
            rows = np.flatnonzero(pc.is_null(pool.table[text_column].combine_chunks()).to_numpy(zero_copy_only=False))
            raw = [json.dumps({"key": k}) for k in missing["key"].to_pylist()]
            extra = pa.table({"source": [shard.source] * len(rows), "row": pa.array(rows, pa.int64()),
                              "reason": ["no_text"] * len(rows), "raw": raw}, schema=REJECTED_SCHEMA)
            rejected = pa.concat_tables([rejected, extra])
        files = {join(self.out_dir, f"{shard.name}.parquet"): scored}
        if rejected.num_rows:
            files[join(self.out_dir, "_rejected", f"{shard.name}.parquet")] = rejected
        reasons = rejected["reason"].value_counts().to_pylist() if rejected.num_rows else []
        q = scored[QUALITY].to_numpy()
        stats = {"source": shard.source, "pool_rows": pool.rows, "scored_rows": scored.num_rows,
                 "rejected_rows": rejected.num_rows, "rejected_reasons": {r["values"]: r["counts"] for r in reasons},
                 "quality_sum": float(q.sum()), "histograms": hist}
        return ShardOutput(files, stats)


def is_score_type(dtype: pa.DataType) -> bool:
    """Whether a ``quality`` column of this type holds scores (numbers, or all null)."""
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype) or \
        pa.types.is_null(dtype)


def quality_values(table: pa.Table, where: str) -> np.ndarray:
    """The ``quality`` column as float64 (null: NaN); another type is an ``InputError`` naming ``where``."""
    column = table[QUALITY]
    if not is_score_type(column.type):
        raise InputError(f"{where}: column {QUALITY!r} is {column.type}, not a number (scores from `curate quality`)")
    return column.combine_chunks().cast(pa.float64()).to_numpy(zero_copy_only=False)


def scored_quality(table: pa.Table, text_column: str, weights: dict,
                   where: str = "pool shard") -> tuple[pa.Table, np.ndarray, dict]:
    """``(the table with a quality column, the scores, histograms by lang)``: the table's own
    ``quality`` where it has one (its nulls scored here), else scored here. A null text
    scores as an empty one."""
    scorer = QualityScorer(weights)
    langs = table["lang"].to_pylist() if "lang" in table.column_names else None
    if QUALITY in table.column_names:
        given = quality_values(table, where)
        missing = np.flatnonzero(np.isnan(given))
        texts = table[text_column].to_pylist()
        for i in missing:
            given[i] = scorer.score(texts[i], langs[i] if langs else None)
        scores = given
        table = table.drop_columns([QUALITY])
    else:
        scores = np.asarray(scorer.score_many(table[text_column].to_pylist(), langs), np.float64)
    table = table.append_column(QUALITY, pa.array(scores, pa.float64()))
    return table, scores, histograms_by_lang(scores, langs)
