"""A row filter stage for the registry test: the whole of what a new stage between match
and count takes (this file, and one line: ``REGISTRY.register(LengthFilter)``)."""

from dataclasses import dataclass
from typing import ClassVar

from curation.chain.stages import FilterStage
from curation.core.config import opt


@dataclass(kw_only=True)
class LengthConfig:
    SECTION: ClassVar[str] = "length"
    min_chars: int = opt(4, "drop alt-texts shorter than this many characters", lineage=True)


class LengthFilter(FilterStage):
    """Drops alt-texts shorter than ``min_chars`` characters."""

    name = "length"
    Config = LengthConfig

    def reasons(self, table):
        return [None if len(text or "") >= self.config.min_chars else "too_short"
                for text in table["text"].to_pylist()]
