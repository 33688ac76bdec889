"""Substring matching of texts against a metadata list (MetaCLIP's rule, exactly).

Entry ``i`` matches text ``x`` iff ``variant.pad(entries[i])`` is a substring of
``spacing(x)``. Every match counts, overlapping ones included, and matching is
case-sensitive. The result for a text is the sorted list of unique entry ids.

``Matcher`` is the fast engine (compiled token n-gram lookups, see ``fastmatch``);
``AhoCorasickMatcher`` is MetaCLIP's ``pyahocorasick`` approach, kept as the reference that
benchmarks and tests compare against.
"""

from collections import Counter
from collections.abc import Iterable

import ahocorasick
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.matching import fastmatch
from curation.matching.text import spacing
from curation.matching.variants import DEFAULT_VARIANT, get_variant


class AhoCorasickMatcher:
    """One automaton over the padded entries, run over each spaced text."""

    def __init__(self, entries: list[str], variant: str = DEFAULT_VARIANT, pad=None):
        self.variant = get_variant(variant)
        self.entries = list(entries)
        self._automaton = _build_automaton(self.entries, pad or self.variant.pad)

    def match(self, text: str | None) -> list[int]:
        """Sorted unique ids of the entries that match ``text``; ``None`` or ``""`` give ``[]``."""
        if not text or self._automaton is None:
            return []
        found: set[int] = set()
        for _end, ids in self._automaton.iter(spacing(text)):
            found.update(ids)
        return sorted(found)

    def match_batch(self, texts: Iterable[str | None]) -> list[list[int]]:
        return [self.match(text) for text in texts]


class Matcher:
    """Match texts against ``entries`` under a named padding ``variant`` (fast engine).

    Entry ids are positions in ``entries`` as given; duplicate entries keep all their ids.
    ``save``/``load`` store the built index as one file that processes memory-map.
    """

    def __init__(self, entries: list[str] | None, variant: str = DEFAULT_VARIANT, *, _index=None):
        self.variant = get_variant(variant)
        if _index is not None:
            self._arrays, self.entries = _index
        else:
            self.entries = list(entries)
            regular, irregular = fastmatch.split_patterns(self.entries, self.variant.pad)
            self._arrays = fastmatch.build_arrays(regular, irregular)

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, text: str | None) -> list[int]:
        """Sorted unique ids of the entries that match ``text``; ``None`` or ``""`` give ``[]``."""
        return self.match_batch([text])[0]

    def match_batch(self, texts: Iterable[str | None]) -> list[list[int]]:
        """``match`` over many texts, in order."""
        return self.match_arrow(pa.array(list(texts), pa.large_string())).to_pylist()

    def match_arrow(self, texts: pa.Array) -> pa.Array:
        """Match an Arrow string array; return a ``list<int32>`` array of the same length."""
        data, offsets, valid = _utf8_parts(texts)
        out_off, ids = fastmatch.run_kernel(self._arrays, data, offsets, valid)
        return pa.ListArray.from_arrays(pa.array(out_off.astype(np.int32)), pa.array(ids, pa.int32()))

    def save(self, path: str) -> None:
        """Write the built index (and the entries) to ``path``, atomically."""
        meta = {"variant": self.variant.name, "entries": self.entries}
        fastmatch.save_index(path, self._arrays, meta)

    @classmethod
    def load(cls, path: str) -> "Matcher":
        """Map an index written by ``save``."""
        arrays, meta = fastmatch.load_index(path)
        return cls(None, meta["variant"], _index=(arrays, meta["entries"]))

    def __getstate__(self):
        raise TypeError("Matcher is not pickled: build it in the worker or map a saved index with Matcher.load")


def _utf8_parts(texts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-8 bytes, int64 offsets (``len + 1``) and validity of an Arrow string array."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not pa.types.is_large_string(texts.type):
        texts = pc.cast(texts, pa.large_string())
    n = len(texts)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + n + 1]
    data_buf = texts.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = np.asarray(texts.is_valid()) if texts.null_count else np.ones(n, dtype=np.bool_)
    return data, offsets, valid


def list_array(lists: list[list[int]]) -> pa.Array:
    """Build a ``list<int32>`` Arrow array from Python lists of ids."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int32, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((i for ids in lists for i in ids), dtype=np.int32, count=int(offsets[-1]))
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.int32()))


def _build_automaton(entries: list[str], pad):
    # Several entries can share one padded form (duplicates in the list): one pattern,
    # all their ids.
    by_pattern: dict[str, list[int]] = {}
    for entry_id, entry in enumerate(entries):
        by_pattern.setdefault(pad(entry), []).append(entry_id)
    if not by_pattern:
        return None
    automaton = ahocorasick.Automaton()
    for pattern, ids in by_pattern.items():
        automaton.add_word(pattern, tuple(ids))
    automaton.make_automaton()
    return automaton


class MetadataMatcher:
    """Match each text against its language's list of a (possibly per-language) metadata.

    Ids are global: a language's local id plus the start of its segment. ``lang`` values
    are routed to lists by ``curation.matching.langroute`` (``zh-Hans``, ``zho`` and ``zh_CN`` find the
    ``zh`` list); a text whose ``lang`` reaches no list (or is null) uses the ``default_lang``
    list.
    """

    def __init__(self, metadata, variant: str = DEFAULT_VARIANT, default_lang: str = "en", matchers=None,
                 lang_map: dict | None = None):
        from curation.matching.langroute import LangRouter

        self.offsets = {lang: start for lang, (start, _end) in metadata.segments.items()}
        self.matchers = matchers or {lang: Matcher(metadata.entries[start:end], variant)
                                     for lang, (start, end) in metadata.segments.items()}
        if len(self.matchers) == 1:
            default_lang = next(iter(self.matchers))
        elif default_lang not in self.matchers:
            raise ValueError(f"default language {default_lang!r} has no list in {metadata.source} "
                             f"(lists: {', '.join(sorted(self.matchers))})")
        self.default_lang = default_lang
        self.router = LangRouter(self.matchers, lang_map)

    def list_keys(self, langs: list | None, n: int) -> list[str]:
        """The list each of ``n`` texts is matched against."""
        return self.route_langs(langs, n)[0]

    def route_langs(self, langs: list | None, n: int) -> tuple[list[str], dict]:
        """The list of each of ``n`` texts, and how many texts of each ``lang`` value reached
        no list (nulls not counted)."""
        if langs is None or len(self.matchers) == 1:
            return [self.default_lang] * n, {}
        routed = [self.router.route(lang) for lang in langs]
        unrouted = Counter(str(lang) for lang, key in zip(langs, routed) if lang is not None and key is None)
        return [key or self.default_lang for key in routed], dict(unrouted)

    def match_arrow(self, texts: pa.Array, langs: pa.Array | None = None,
                    keys: list[str] | None = None) -> tuple[pa.Array, list[str]]:
        """Global ``list<int32>`` ids per text, and the list key of each text (``keys``: the
        lists ``route_langs`` gave, instead of routing ``langs`` again)."""
        if keys is None:
            keys = self.list_keys(None if langs is None else langs.to_pylist(), len(texts))
        if len(self.matchers) == 1:
            return self.matchers[self.default_lang].match_arrow(texts), keys
        out: list[list[int]] = [[] for _ in range(len(texts))]
        for lang, matcher in self.matchers.items():
            rows = [i for i, key in enumerate(keys) if key == lang]
            if not rows:
                continue
            offset = self.offsets[lang]
            ids = matcher.match_arrow(texts.take(pa.array(rows, pa.int64()))).to_pylist()
            for row, row_ids in zip(rows, ids):
                out[row] = [offset + i for i in row_ids]
        return list_array(out), keys
