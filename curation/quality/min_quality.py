"""``--min-quality``: a row filter of the curation chain (after match, before count). Rows
whose alt-text scores under the threshold are dropped with the reason ``low_quality``; the
kept rows carry their ``quality`` column (``--prefer-quality`` chooses by it). The score is
the row's own ``quality`` column where it has one (its nulls scored here), else computed
here with the shipped or given weights."""

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import pyarrow as pa

from curation.chain.stages import FilterStage
from curation.core.config import opt, require


@dataclass(kw_only=True)
class MinQualityConfig:
    """Drop matched texts whose quality score is under ``min_quality`` before counting."""

    SECTION: ClassVar[str] = "min_quality"
    min_quality: float | None = opt(None, "drop texts whose quality score is below this before counting (the "
                                          "pool's quality column, else scored here)", lineage=True)
    quality_weights: str | None = opt(None, "quality weights: a <lang>.json file or folder from `curate quality "
                                            "fit` (default: the shipped ones)", path=True)

    def __post_init__(self):
        if self.min_quality is not None:
            require(isinstance(self.min_quality, (int, float)) and 0 <= self.min_quality <= 1, "min_quality",
                    self.min_quality, "must be a score in [0, 1]")


class MinQualityFilter(FilterStage):
    """Drops matched rows under ``--min-quality`` (reason ``low_quality``)."""

    name = "min-quality"
    folder = "min_quality"
    Config = MinQualityConfig

    @classmethod
    def enabled(cls, config) -> bool:
        return config is not None and config.min_quality is not None

    @classmethod
    def derived_lineage(cls, config) -> dict:
        """The weights by digest, not by path: the same weights anywhere are one lineage."""
        from curation.quality.score import load_weights, weights_digest

        return {"quality_weights_sha256": weights_digest(load_weights(config.quality_weights))}

    def decide(self, table: pa.Table, where: str) -> tuple[pa.Table, list, dict]:
        from curation.quality.stage import scored_quality

        scored, scores, histograms = scored_quality(table, self.params["text_column"],
                                                    _weights(self.config.quality_weights), where)
        reasons = [None if s >= self.config.min_quality else "low_quality" for s in scores.tolist()]
        return scored, reasons, {"quality_histograms": histograms}


@lru_cache(maxsize=4)
def _weights(source: str | None) -> dict:
    """The weights of a worker, read once for all the shards it filters."""
    from curation.quality.score import load_weights

    return load_weights(source)
