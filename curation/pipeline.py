"""The stage table: every per-shard stage of the pipeline, in order. The runner, the
``curate`` command, ``curate status``, the data card and the report iterate it.

A row filter is added to the curation chain by writing one ``FilterStage`` subclass and
inserting it here, between ``MatchStage`` and ``BalanceStage``: ``curate curate`` then runs
it (its ``Config`` fields become flags and a YAML section), ``curate status`` shows it, and
the data card counts the rows it drops by reason.
"""

from curation.export import ExportStage
from curation.gpu.caption import CaptionsImportStage, CaptionStage
from curation.gpu.embed import EmbedStage
from curation.gpu.index import IndexPartStage
from curation.gpu.semdedup import AssignStage, GroupStage
from curation.ingest.extract import IngestStage
from curation.quality.stage import QualityStage
from curation.stages import BalanceStage, FilterStage, MatchStage

STAGES: list[type] = [
    IngestStage,
    QualityStage,
    MatchStage,
    BalanceStage,
    ExportStage,
    EmbedStage,
    AssignStage,
    GroupStage,
    IndexPartStage,
    CaptionStage,
    CaptionsImportStage,
]


def stage_named(name: str) -> type:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)


def filter_stages() -> list[type]:
    """The row filters of the curation chain, in order (those between match and balance)."""
    start, end = STAGES.index(MatchStage), STAGES.index(BalanceStage)
    return [s for s in STAGES[start + 1:end] if issubclass(s, FilterStage)]


def chain_folders() -> list[str]:
    """The row-stage folders of a run, match first and balance last."""
    return [MatchStage.folder, *(s.folder for s in filter_stages()), BalanceStage.folder]
