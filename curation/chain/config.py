"""The options of the curation chain's commands (``curate match|count|balance|curate``)."""

from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import finite_positive, opt, require, seed_64
from curation.matching.variants import DEFAULT_VARIANT, VARIANTS


@dataclass(kw_only=True)
class MatchConfig:
    """Match every text of ``pool`` against ``metadata``; outputs under ``out``."""

    SECTION: ClassVar[str] = "match"
    pool: str = opt(help="folder of pool shards (Parquet or JSONL), local or s3://", path=True)
    metadata: str = opt(help="metadata list (JSON list of strings, or one entry a line), or a folder of "
                             "<lang>.json lists", path=True)
    out: str = opt(help="run folder for all outputs, local or s3://", path=True)
    text_column: str = opt("text", "column holding the alt-text", lineage=True)
    variant: str = opt(DEFAULT_VARIANT, "matching variant", choices=sorted(VARIANTS), lineage=True)
    default_lang: str = opt("en", "per-language metadata folder: the list for texts whose lang has none", lineage=True)
    lang_map: str | None = opt(None, "JSON object of lang value -> list name, tried before the built-in routing "
                                     "(zh-Hans, zho, zh_CN -> zh, ...)", path=True)
    min_quality: float | None = opt(None, "drop matched texts whose quality score is below this before counting "
                                          "(the pool's quality column, else scored here); 0.5 is the documented "
                                          "threshold")
    quality_weights: str | None = opt(None, "quality weights: a <lang>.json file or folder from `curate quality "
                                            "fit` (default: the shipped ones)", path=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        if self.min_quality is not None:
            require(isinstance(self.min_quality, (int, float)) and 0 <= self.min_quality <= 1, "min_quality",
                    self.min_quality, "must be a score in [0, 1]")


@dataclass(kw_only=True)
class CountConfig:
    """Sum the per-shard counts of the matched shards under ``out``."""

    SECTION: ClassVar[str] = "count"
    out: str = opt(help="run folder for all outputs, local or s3://", path=True)
    metadata: str | None = opt(None, "metadata list (default: the one match used)", path=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")


@dataclass(kw_only=True)
class BalanceConfig:
    """Keep matched texts of ``out`` with the balancing probability for threshold ``t``."""

    SECTION: ClassVar[str] = "balance"
    out: str = opt(help="run folder for all outputs, local or s3://", path=True)
    t: float = opt(20000.0, "balancing threshold t", lineage=True)
    seed: int = opt(0, "seed of the hash coin", lineage=True)
    reference_lang: str = opt("en", "per-language metadata: the language that gets --t; others match its "
                                    "tail proportion", lineage=True)
    unit: str = opt("image", "image: one alt-text chosen per image, then one decision per image (Meta CLIP 2); "
                             "text: one decision per row (MetaCLIP 1)", choices=["image", "text"], lineage=True)
    image_column: str = opt("key", "the column that identifies an image (--unit image)", lineage=True)
    prefer_quality: bool = opt(False, "--unit image: choose the image's matched alt-text with the highest quality "
                                      "score (ties by the hash choice); needs a quality column", lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        finite_positive(self.t, "t")
        seed_64(self.seed, "seed")
        require(self.unit in ("image", "text"), "unit", self.unit, "must be image or text")
