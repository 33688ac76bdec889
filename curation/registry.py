"""The registry of stages (name -> stage class), apart from the order they run in.

A stage declares its ``phase``, and the chain is the phases in this order, each with its
stages in the order they were registered:

    ingest -> score -> match -> filter -> count -> balance -> after-balance -> export -> after-export

A row filter (a ``FilterStage``) runs in the ``filter`` phase, between match and count, and
nowhere else; a stage that declares another phase is refused when it is registered, before
any work. Adding a stage is one file and one line::

    from curation.registry import REGISTRY
    REGISTRY.register(MyFilter)

A registered filter runs in ``curate curate`` and ``curate match``; a registered stage
after balance or export with a ``Config`` gets its own ``curate NAME`` command
(``curation.core.runner.stage_command``). ``curate status``, the data card and the report
read the registry.
"""

from curation.core.errors import CurationError

PHASES = ("ingest", "score", "match", "filter", "count", "balance", "after-balance", "export", "after-export")
# Phases whose stages run as commands of their own, over another stage's output folder.
COMMAND_PHASES = ("after-balance", "after-export")


class Registry:
    """Stage classes by name, checked where they declare they run."""

    def __init__(self):
        self._stages: dict[str, type] = {}

    def register(self, cls: type) -> type:
        """Add ``cls``; refused (``CurationError``) when its name is taken or its phase is
        not one where it can run. Returns ``cls``, so it can be a class decorator."""
        check_placement(cls)
        if cls.name in self._stages and self._stages[cls.name] is not cls:
            raise CurationError(f"stage {cls.name!r} is registered already ({self._stages[cls.name].__name__})")
        self._stages[cls.name] = cls
        return cls

    def unregister(self, name: str) -> None:
        self._stages.pop(name, None)

    def named(self, name: str) -> type:
        try:
            return self._stages[name]
        except KeyError:
            raise CurationError(f"no stage named {name!r} (stages: {', '.join(self._stages)})") from None

    def names(self) -> list[str]:
        return list(self._stages)

    def in_phase(self, phase: str) -> list[type]:
        return [cls for cls in self._stages.values() if cls.phase == phase]

    def chain(self) -> list[type]:
        """Every stage in the order a run goes through them."""
        return [cls for phase in PHASES for cls in self.in_phase(phase)]

    def filters(self) -> list[type]:
        """The row filters, in the order they run between match and count."""
        return self.in_phase("filter")

    def commands(self) -> list[type]:
        """Stages after balance or export that run as a command of their own (they have a Config)."""
        return [cls for phase in COMMAND_PHASES for cls in self.in_phase(phase)
                if getattr(cls, "Config", None) is not None and hasattr(cls, "from_config")]


def check_placement(cls: type) -> None:
    """Refuse a stage that names no phase of the chain, or that cannot run in the one it names."""
    from curation.chain.stages import FilterStage

    phase = getattr(cls, "phase", "")
    if not getattr(cls, "name", ""):
        raise CurationError(f"{cls.__name__}: a stage needs a name")
    if phase not in PHASES:
        raise CurationError(f"stage {cls.name!r}: phase {phase!r} is not one of {', '.join(PHASES)}")
    if issubclass(cls, FilterStage) and phase != "filter":
        raise CurationError(f"stage {cls.name!r}: a row filter runs between match and count (phase 'filter'), "
                            f"not in {phase!r}")
    if phase == "filter" and not issubclass(cls, FilterStage):
        raise CurationError(f"stage {cls.name!r}: only a FilterStage runs between match and count")


def _builtin() -> Registry:
    from curation.chain.stages import BalanceStage, MatchStage
    from curation.export.stage import ExportStage
    from curation.gpu.caption import CaptionsImportStage, CaptionStage
    from curation.gpu.embed import EmbedStage
    from curation.gpu.index import IndexPartStage
    from curation.gpu.semdedup import AssignStage, GroupStage
    from curation.ingest.extract import IngestStage
    from curation.quality.min_quality import MinQualityFilter
    from curation.quality.stage import QualityStage

    registry = Registry()
    for cls in (IngestStage, QualityStage, MatchStage, MinQualityFilter, BalanceStage, CaptionStage,
                CaptionsImportStage, ExportStage, EmbedStage, AssignStage, GroupStage, IndexPartStage):
        registry.register(cls)
    return registry


REGISTRY = _builtin()
