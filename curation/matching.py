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


class MetadataMatcher:
    """Match each text against its language's list of a (possibly per-language) metadata.

    Ids are global: a language's local id plus the start of its segment. A text whose
    ``lang`` has no list (or is null) uses the ``default_lang`` list.
    """

    def __init__(self, metadata, variant: str = DEFAULT_VARIANT, default_lang: str = "en"):
        self.offsets = {lang: start for lang, (start, _end) in metadata.segments.items()}
        self.matchers = {lang: Matcher(metadata.entries[start:end], variant)
                         for lang, (start, end) in metadata.segments.items()}
        if len(self.matchers) == 1:
            default_lang = next(iter(self.matchers))
        elif default_lang not in self.matchers:
            raise ValueError(f"default language {default_lang!r} has no list in {metadata.source} "
                             f"(lists: {', '.join(sorted(self.matchers))})")
        self.default_lang = default_lang

    def list_keys(self, langs: list | None, n: int) -> list[str]:
        """The list each of ``n`` texts is matched against."""
        if langs is None or len(self.matchers) == 1:
            return [self.default_lang] * n
        return [lang if lang in self.matchers else self.default_lang for lang in langs]

    def match_arrow(self, texts: pa.Array, langs: pa.Array | None = None) -> tuple[pa.Array, list[str]]:
        """Global ``list<int32>`` ids per text, and the list key of each text."""
        keys = self.list_keys(None if langs is None else langs.to_pylist(), len(texts))
        if len(self.matchers) == 1:
            return self.matchers[self.default_lang].match_arrow(texts), keys
        values = texts.to_pylist()
        out: list[list[int]] = [[] for _ in values]
        for lang, matcher in self.matchers.items():
            rows = [i for i, key in enumerate(keys) if key == lang]
            offset = self.offsets[lang]
            for row, ids in zip(rows, matcher.match_batch(values[i] for i in rows)):
                out[row] = [offset + i for i in ids]
        return list_array(out), keys
