"""Inspecting and comparing metadata lists: stats, and diffs with an old -> new id map so
counts made with an old list can be carried over to a new one."""

from collections import Counter

import numpy as np

from curation.matching.text import is_cjk_or_similar


def list_stats(entries: list[str]) -> dict:
    """Summary numbers of a list (sizes, duplicates, words per entry, CJK-like edges)."""
    lengths = [len(e) for e in entries]
    words = Counter(min(len(e.split(" ")), 5) for e in entries)
    dupes = len(entries) - len(set(entries))
    return {
        "entries": len(entries),
        "unique_entries": len(entries) - dupes,
        "duplicates": dupes,
        "max_chars": max(lengths, default=0),
        "mean_chars": round(sum(lengths) / len(lengths), 2) if lengths else 0,
        "words_per_entry": {("5+" if k == 5 else str(k)): v for k, v in sorted(words.items())},
        "cjk_like_edges": sum(1 for e in entries if e and (is_cjk_or_similar(e[0]) or is_cjk_or_similar(e[-1]))),
    }


def id_mapping(old: list[str], new: list[str]) -> np.ndarray:
    """``mapping[old_id]`` = id of the same string in ``new`` (its first one), or -1."""
    position: dict[str, int] = {}
    for i, entry in enumerate(new):
        position.setdefault(entry, i)
    return np.array([position.get(e, -1) for e in old], dtype=np.int64)


def diff_lists(old: list[str], new: list[str]) -> dict:
    """Added and removed entries, and how many kept entries changed id."""
    old_set, new_set = set(old), set(new)
    mapping = id_mapping(old, new)
    kept = mapping >= 0
    return {
        "old_entries": len(old),
        "new_entries": len(new),
        "added": [e for e in dict.fromkeys(new) if e not in old_set],
        "removed": [e for e in dict.fromkeys(old) if e not in new_set],
        "kept": int(kept.sum()),
        "renumbered": int((mapping[kept] != np.arange(len(old))[kept]).sum()),
    }


def carry_counts(old_counts: np.ndarray, mapping: np.ndarray, new_size: int) -> np.ndarray:
    """Counts on the new ids; -1 where the new entry did not exist in the old list."""
    out = np.full(new_size, -1, dtype=np.int64)
    kept = mapping >= 0
    out[mapping[kept]] = old_counts[kept]
    return out
