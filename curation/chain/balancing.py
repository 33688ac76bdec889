"""Balancing: per-entry sampling probabilities and the keep decision of each text.

``p[i] = t / max(count[i], t)``; a text matching entries ``E`` is kept with probability
``1 - prod(1 - p[i] for i in E)``, decided by the hash coin of ``curation.core.hashing``.
"""

from collections.abc import Sequence

import numba
import numpy as np
import pyarrow as pa

from curation.core.hashing import coins


def entry_probabilities(counts: np.ndarray, t: float) -> np.ndarray:
    """``p = t / max(count, t)`` per entry (tail entries get 1.0)."""
    if not t > 0:
        raise ValueError(f"t must be > 0, got {t}")
    counts = np.asarray(counts, dtype=np.float64)
    return t / np.maximum(counts, t)


def keep_probability(entry_ids: Sequence[int], p: np.ndarray) -> float:
    """``1 - prod(1 - p[i])`` over ``entry_ids``; an empty list gives 0."""
    offsets = np.array([0, len(entry_ids)], dtype=np.int64)
    return float(_keep_from_flat(np.asarray(entry_ids, dtype=np.int64), offsets, p)[0])


def keep_probabilities(entry_ids: pa.Array, p: np.ndarray) -> np.ndarray:
    """Vectorised ``keep_probability`` over an Arrow ``list<int>`` array, as float64."""
    flat, offsets = list_parts(entry_ids)
    return _keep_from_flat(flat, offsets, p)


def keep_mask(keys: pa.Array, entry_ids: pa.Array, p: np.ndarray, seed: int) -> np.ndarray:
    """Boolean mask of the rows kept: ``coin(seed, key) < keep_probability``."""
    return coins(keys, seed) < keep_probabilities(entry_ids, p)


def list_parts(entry_ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Flat values and ``len + 1`` offsets (rebased to 0) of an Arrow list array."""
    if isinstance(entry_ids, pa.ChunkedArray):
        entry_ids = entry_ids.combine_chunks()
    offsets = np.asarray(entry_ids.offsets, dtype=np.int64)
    flat = np.asarray(entry_ids.values.slice(offsets[0], offsets[-1] - offsets[0]))
    return flat, offsets - offsets[0]


def _keep_from_flat(flat: np.ndarray, offsets: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _keep_kernel(flat, offsets, np.asarray(p, dtype=np.float64))


@numba.njit(cache=True, nogil=True)
def _keep_kernel(flat, offsets, p):
    # Products are taken in list order, the same in the scalar and vector forms.
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        q = 1.0
        for k in range(offsets[i], offsets[i + 1]):
            q *= 1.0 - p[flat[k]]
        out[i] = 1.0 - q
    return out


def tail_proportion(counts: np.ndarray, t: float) -> float:
    """Share of all matches that fall on tail entries: ``sum(c[c < t]) / sum(c)``.

    An empty or all-zero count vector has no matches: its tail proportion is 0.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return float(counts[counts < t].sum() / total) if total > 0 else 0.0


def t_for_tail_proportion(counts: np.ndarray, proportion: float) -> int:
    """Meta CLIP 2's ``p_to_t``: the t of a language whose tail proportion is nearest the
    reference language's ``proportion``.

    Exactly the reference rule: sort the language's counts ascending (zeros included), take
    each position's cumulative share of the total, pick the first position whose share is
    nearest ``proportion``, and return the count there. Only the degenerate cases the
    reference leaves open are guarded: no entries or no matches give t = 1, and a t of 0
    (``proportion`` 0 with zero counts in the list) becomes 1, since t = 0 leaves ``p``
    undefined.
    """
    counts = np.sort(np.asarray(counts, dtype=np.int64))
    if counts.size == 0 or counts.sum() == 0:
        return 1
    share = np.cumsum(counts) / counts.sum()
    t = int(counts[int(np.argmin(np.abs(share - proportion)))])
    return max(t, 1)


def language_thresholds(counts: np.ndarray, segments: dict, t: float, reference: str) -> dict:
    """Per-language t: ``t`` for the reference language; for every other language the t
    whose tail proportion equals the reference's (Meta CLIP 2). One list: ``{lang: t}``."""
    if len(segments) == 1:
        return {lang: t for lang in segments}
    if reference not in segments:
        raise ValueError(f"reference language {reference!r} has no list (lists: {', '.join(sorted(segments))})")
    start, end = segments[reference]
    proportion = tail_proportion(counts[start:end], t)
    return {lang: (t if lang == reference else t_for_tail_proportion(counts[s:e], proportion))
            for lang, (s, e) in segments.items()}


def segment_probabilities(counts: np.ndarray, segments: dict, thresholds: dict) -> np.ndarray:
    """``p`` over the global id space, each segment with its own language's t."""
    p = np.ones(len(counts), dtype=np.float64)
    for lang, (start, end) in segments.items():
        p[start:end] = entry_probabilities(counts[start:end], thresholds[lang])
    return p
