"""Substring matching of texts against a metadata list (MetaCLIP's rule, exactly).

Entry ``i`` matches text ``x`` iff ``variant.pad(entries[i])`` is a substring of
``spacing(x)``. Every match counts, overlapping ones included, and matching is
case-sensitive. The result for a text is the sorted list of unique entry ids.
"""

from collections.abc import Iterable

import ahocorasick
import numpy as np
import pyarrow as pa

from curation.text import spacing
from curation.variants import DEFAULT_VARIANT, get_variant

ENTRY_IDS_TYPE = pa.list_(pa.int32())


class Matcher:
    """Match texts against ``entries`` under a named padding ``variant``.

    Entry ids are positions in ``entries`` as given; duplicate entries keep all their ids.
    """

    def __init__(self, entries: list[str], variant: str = DEFAULT_VARIANT):
        self.variant = get_variant(variant)
        self.entries = list(entries)
        self._automaton = _build_automaton(self.entries, self.variant.pad)

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, text: str | None) -> list[int]:
        """Sorted unique ids of the entries that match ``text``; ``None`` or ``""`` give ``[]``."""
        if not text:
            return []
        found: set[int] = set()
        for _end, ids in self._automaton.iter(spacing(text)):
            found.update(ids)
        return sorted(found)

    def match_batch(self, texts: Iterable[str | None]) -> list[list[int]]:
        """``match`` over many texts, in order."""
        return [self.match(text) for text in texts]

    def match_arrow(self, texts: pa.Array) -> pa.Array:
        """Match an Arrow string array; return a ``list<int32>`` array of the same length."""
        lists = self.match_batch(texts.to_pylist())
        return list_array(lists)


def list_array(lists: list[list[int]]) -> pa.Array:
    """Build a ``list<int32>`` Arrow array from Python lists of ids."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int32, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((i for ids in lists for i in ids), dtype=np.int32, count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.int32()))


def _build_automaton(entries: list[str], pad) -> "ahocorasick.Automaton":
    # Several entries can share one padded form (duplicates in the list): one pattern,
    # all their ids.
    by_pattern: dict[str, list[int]] = {}
    for entry_id, entry in enumerate(entries):
        by_pattern.setdefault(pad(entry), []).append(entry_id)
    automaton = ahocorasick.Automaton()
    for pattern, ids in by_pattern.items():
        automaton.add_word(pattern, tuple(ids))
    if by_pattern:
        automaton.make_automaton()
    return automaton
