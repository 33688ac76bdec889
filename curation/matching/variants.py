"""Named matching variants: how an entry is padded before the substring test.

A variant is resolved by name through ``get_variant``; an unknown name raises
``ValueError`` listing the valid ones.
"""

from collections.abc import Callable
from dataclasses import dataclass

from curation.matching.text import is_cjk_or_similar


@dataclass(frozen=True)
class Variant:
    """A padding rule: ``pad(entry)`` is the string searched for in ``spacing(text)``."""

    name: str
    description: str
    pad: Callable[[str], str]


def pad_both(entry: str) -> str:
    """MetaCLIP 1: a space on both sides, always."""
    return f" {entry} "


def pad_worldwide(entry: str) -> str:
    """Meta CLIP 2: no space beside a CJK-like or punctuation first/last character."""
    if not entry:
        return "  "
    lead = "" if is_cjk_or_similar(entry[0]) else " "
    trail = "" if is_cjk_or_similar(entry[-1]) else " "
    return f"{lead}{entry}{trail}"


VARIANTS = {
    v.name: v
    for v in (
        Variant("metaclip-v1", "MetaCLIP 1 (400M/2.5B English): pad both sides", pad_both),
        Variant("metaclip-v2", "Meta CLIP 2 (worldwide, default): no pad beside CJK-like/punct", pad_worldwide),
    )
}
DEFAULT_VARIANT = "metaclip-v2"


def get_variant(name: str) -> Variant:
    """Return the variant called ``name``; raise ``ValueError`` naming the valid ones."""
    try:
        return VARIANTS[name]
    except KeyError:
        valid = ", ".join(sorted(VARIANTS))
        raise ValueError(f"unknown matching variant {name!r}; valid variants: {valid}") from None
