"""The options of ``curate quality`` and ``curate quality fit``."""

from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import at_least, opt


@dataclass(kw_only=True)
class QualityConfig:
    """Score every pool row's alt-text (``curation.quality``)."""

    SECTION: ClassVar[str] = "quality"
    pool: str = opt(help="folder of pool shards (Parquet or JSONL), local or s3://", path=True)
    out: str = opt(help="folder for the scored pool shards (same names, Parquet, + a quality column)", path=True)
    text_column: str = opt("text", "column holding the alt-text", lineage=True)
    quality_weights: str | None = opt(None, "quality weights: a <lang>.json file or folder from `curate quality "
                                            "fit` (default: the shipped ones)", path=True)
    overwrite: bool = opt(False, "discard earlier outputs")


@dataclass(kw_only=True)
class QualityFitConfig:
    """Fit one language's filter weights on descriptive text against junk."""

    SECTION: ClassVar[str] = "fit"
    reference: str = opt(help="descriptive text of the language, comma-separated files or folders: .txt (a "
                              "text a line), .po catalogs, WordNet data.* (glosses) and index.* (lemmas) files, "
                              "pool shards")
    lang: str = opt(help="language of the weights (ISO 639-1, e.g. en)")
    out: str = opt(help="weights file to write (<lang>.json); manifest.json beside it records its provenance")
    junk: str | None = opt(None, "junk alt-texts, comma-separated files or folders (as --reference); default: "
                                 "the families of curation.quality.junk, generated from a fixed seed")
    junk_per_family: int = opt(2000, "generated junk texts per family (without --junk)")
    order: int = opt(4, "character n-gram order of the reference model (the paper's perplexity drop, recorded)")

    def __post_init__(self):
        at_least(self.order, 1, "order")
        at_least(self.junk_per_family, 1, "junk_per_family")
