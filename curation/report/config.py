"""The options of ``curate summary``."""

from dataclasses import dataclass
from typing import ClassVar

from curation.core.config import opt


@dataclass(kw_only=True)
class SummaryConfig:
    """The public summary of training content (EU AI Act template) from a run's records."""

    SECTION: ClassVar[str] = "summary"
    run: str = opt(help="the curated run (its datacard.json and curated/ shards)", path=True)
    out: str = opt(help="folder for summary.md, summary.html and summary.json", path=True)
    export: str | None = opt(None, "the export trained on (its status tables: domains, bytes, opt-outs, faces, "
                                   "captions); without it the run's curated urls are counted", path=True)
    ingest: str | None = opt(None, "the ingest output the pool came from (its collection period)", path=True)
    captions: str | None = opt(None, "captions folders, comma-separated (their models and counts)")
    provider: str | None = opt(None, "YAML of what only the provider knows (provider_name, model_name, ...)",
                               path=True)
    sme: bool = opt(False, "the provider is an SME: list the top 5 percent of domains or 1,000, whichever is fewer")


@dataclass(kw_only=True)
class ServeConfig:
    """A read-only web explorer of a run."""

    SECTION: ClassVar[str] = "serve"
    run: str = opt(help="the run folder", path=True, positional=True)
    export: str | None = opt(None, "its export (the failures and opt-outs of its status tables; the images kNN "
                                   "results show)", path=True)
    index: str | None = opt(None, "an index of the export's embeddings (`curate index`): kNN search by text or "
                                  "image", path=True)
    model: str = opt("ViT-B-32", "with --index: the open_clip model that made the embeddings")
    checkpoint: str | None = opt(None, "with --index: its checkpoint (none: the random weights of seed 0, as "
                                       "`curate embed` without --pretrained)", path=True)
    host: str = opt("127.0.0.1", "address to bind (another than loopback exposes the run to the network)")
    port: int = opt(8000, "port")
