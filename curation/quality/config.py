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
    """Fit one language's filter weights against a reference language model."""

    SECTION: ClassVar[str] = "fit"
    reference: str = opt(help="good text of the language, comma-separated files or folders: .txt (a text a "
                              "line), .po catalogs, WordNet data.* files, pool shards")
    lang: str = opt(help="language of the weights (ISO 639-1, e.g. en)")
    out: str = opt(help="weights file to write (<lang>.json); manifest.json beside it records its provenance")
    texts: str | None = opt(None, "alt-texts to weigh the filters on (pool shards, .txt): rows of --lang, "
                                  "with the reference's held-out half")
    texts_all_langs: bool = opt(False, "take every row of the --texts pools, whatever its lang (file names, camera "
                                       "codes and web boilerplate are mostly language-neutral)")
    order: int = opt(4, "character n-gram order of the reference model")

    def __post_init__(self):
        at_least(self.order, 1, "order")
