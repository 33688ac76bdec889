"""The options of ``curate ingest``."""

from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import at_least, opt


@dataclass(kw_only=True)
class IngestConfig:
    """WARC/WAT files or url+caption tables to pool shards."""

    SECTION: ClassVar[str] = "ingest"
    input: str = opt(help="comma-separated files, folders or glob patterns")
    out: str = opt(help="pool folder to write (NNNNN.parquet, ingest_stats.json)", path=True)
    shards: int | None = opt(None, "output shards (default: one per input file)")
    max_text_chars: int | None = opt(None, "drop alt-texts longer than this", lineage=True)
    langid: bool = opt(True, "identify each alt-text's language", lineage=True)
    url_column: str = opt("url", "tables: the image URL column", lineage=True)
    caption_column: str = opt("caption", "tables: the caption column", lineage=True)
    overwrite: bool = opt(False, "discard this stage's earlier outputs")

    def __post_init__(self):
        at_least(self.shards, 1, "shards")
        at_least(self.max_text_chars, 1, "max_text_chars")

    def options(self):
        from curation.ingest.extract import IngestOptions

        return IngestOptions(max_text_chars=self.max_text_chars, langid=self.langid, url_column=self.url_column,
                             caption_column=self.caption_column)

    def input_urls(self) -> str:
        import os

        parts = (p.strip() for p in self.input.split(","))
        return ",".join(p if "://" in p else os.path.abspath(p) for p in parts if p)
