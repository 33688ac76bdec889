"""The fast matcher's code-point tries as double arrays: built once, walked in the kernel.

Entries that ``metaclip-v2`` leaves unpadded on a side (CJK, Thai and other unspaced
scripts, punctuation edges) are found by walking a trie over code points from each
position of a text. A hashed edge table costs a hash, a probe loop and a dependent load per
step; a double array costs one load: unit ``t = base[s] + code`` is the child of ``s`` by
``code`` exactly when ``check[t] == s``. So that the bases stay small and the array dense,
code points are first mapped to dense codes, the most frequent edge labels first, through a
two-level table (a page per 256 code points; pages without a label share the zero page).

A unit is two words: ``[base << 32 | check, entries]``; a free unit's check is ``FREE``, a
leaf's base is 0 (the walk ends there), and entries are the ``_entries_word`` of the node
(0 for none). Unit 0 is the root. Every base plus every code stays inside the array, which
``check_units`` verifies before a loaded index reaches the kernel.
"""

import numba
import numpy as np

FREE = np.uint64(0xFFFFFFFF)
PAGE_BITS = 8
MAX_CODE_POINT = 0x10FFFF
# A free unit that failed this many placements leaves the search list: placement stays
# linear in the number of nodes (a dense region is not scanned again and again).
MAX_FAILS = 32


def code_map(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``(pages, blocks, n_codes)``: dense codes for the code points in ``labels`` (edge labels
    of every trie, repeats counted), most frequent first, from 1; code 0 is "no edge".
    ``blocks[pages[cp >> 8] * 256 + (cp & 255)]`` is the code of ``cp``."""
    points, counts = np.unique(labels, return_counts=True) if len(labels) else (np.zeros(0, np.int64), [])
    order = np.argsort(-np.asarray(counts), kind="stable")
    codes = np.zeros(len(points), dtype=np.int32)
    codes[order] = np.arange(1, len(points) + 1, dtype=np.int32)
    page_of = points >> PAGE_BITS
    used_pages = np.unique(page_of)
    pages = np.zeros((MAX_CODE_POINT >> PAGE_BITS) + 1, dtype=np.int32)
    pages[used_pages] = np.arange(1, len(used_pages) + 1, dtype=np.int32)
    blocks = np.zeros((len(used_pages) + 1) << PAGE_BITS, dtype=np.int32)
    blocks[(pages[page_of].astype(np.int64) << PAGE_BITS) | (points & 0xFF)] = codes
    return pages, blocks, len(points)


def codes_of(points: np.ndarray, pages: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """The dense codes of an array of code points (0 for one no entry holds); ``code_of`` is
    the kernel's scalar form."""
    points = np.asarray(points, dtype=np.int64)
    return blocks[(pages[points >> PAGE_BITS].astype(np.int64) << PAGE_BITS) | (points & 0xFF)]


def build_units(parent: np.ndarray, codes: np.ndarray, info: np.ndarray, n_codes: int,
                capacity: int = 0) -> np.ndarray:
    """The double array of a trie given per node (ids in creation order, so a parent comes
    before its children) as ``parent`` (-1: the root), the dense ``codes`` of its edge and its
    entries word ``info``. ``capacity`` is the first allocation (0: twice the nodes, plus the
    codes); the arrays grow as placement needs."""
    n = len(parent)
    # Children grouped by parent (root first), in code order.
    order = np.lexsort((codes, parent)).astype(np.int64)
    starts = np.zeros(n + 2, dtype=np.int64)
    np.cumsum(np.bincount(parent + 1, minlength=n + 1), out=starts[1:])
    capacity = capacity or 2 * n + n_codes + 2
    return _place(order, starts, codes.astype(np.int64), info.astype(np.uint64), np.int64(n_codes),
                  np.int64(max(capacity, 2)))


@numba.njit(cache=True)
def _place(order, starts, codes, info, n_codes, cap):
    n = codes.shape[0]
    check = np.full(cap, FREE, dtype=np.uint64)
    base = np.zeros(cap, dtype=np.uint64)
    unit_info = np.zeros(cap, dtype=np.uint64)
    used_base = np.zeros(cap, dtype=np.bool_)
    fails = np.zeros(cap, dtype=np.int32)
    # Doubly linked list of the free units still searched (unit 0, the root, is not free).
    nxt = np.arange(1, cap + 1, dtype=np.int64)
    prv = np.arange(-1, cap - 1, dtype=np.int64)
    nxt[cap - 1] = -1
    listed = np.ones(cap, dtype=np.bool_)
    listed[0] = False
    head, tail = np.int64(1), np.int64(cap - 1)
    prv[1] = -1
    # The root (unit 0) keeps check FREE: no step reaches it, as every base and code is >= 1.
    unit_of = np.zeros(n + 1, dtype=np.int64)  # by node id + 1; the root is unit 0
    top = np.int64(0)
    for p in range(n + 1):
        first, last = starts[p], starts[p + 1]
        if first == last:
            continue
        c_lo, c_hi = codes[order[first]], codes[order[last - 1]]
        f = head
        while True:
            if f < 0 or f + c_hi - c_lo >= cap:
                # Grow: double every array and list the new units at the tail.
                old = cap
                cap = 2 * cap + c_hi
                check = _grown(check, cap, FREE)
                base = _grown(base, cap, np.uint64(0))
                unit_info = _grown(unit_info, cap, np.uint64(0))
                used_base = _grown(used_base, cap, False)
                fails = _grown(fails, cap, np.int32(0))
                listed = _grown(listed, cap, True)
                nxt = _grown(nxt, cap, np.int64(-1))
                prv = _grown(prv, cap, np.int64(-1))
                for u in range(old, cap):
                    nxt[u] = u + 1 if u + 1 < cap else -1
                    prv[u] = u - 1
                prv[old] = tail
                if tail >= 0:
                    nxt[tail] = old
                else:
                    head = old
                tail = cap - 1
                if f < 0:
                    f = old
                continue
            b = f - c_lo
            fits = b >= 1 and not used_base[b]
            if fits:
                for q in range(first + 1, last):
                    if check[b + codes[order[q]]] != FREE:
                        fits = False
                        break
            if fits:
                break
            nf = nxt[f]
            if b >= 1:
                fails[f] += 1
                if fails[f] >= MAX_FAILS:
                    head, tail = _unlink(f, nxt, prv, listed, head, tail)
            f = nf
        s = unit_of[p]
        base[s] = np.uint64(b)
        used_base[b] = True
        for q in range(first, last):
            node = order[q]
            t = b + codes[node]
            check[t] = np.uint64(s)
            unit_info[t] = info[node]
            if listed[t]:
                head, tail = _unlink(t, nxt, prv, listed, head, tail)
            unit_of[node + 1] = t
            top = max(top, t)
    max_base = np.int64(0)
    for u in range(top + 1):
        max_base = max(max_base, np.int64(base[u]))
    size = max(top + 1, max_base + n_codes + 1)
    units = np.empty((size, 2), dtype=np.uint64)
    for u in range(size):
        if u < cap:
            units[u, 0] = (base[u] << np.uint64(32)) | check[u]
            units[u, 1] = unit_info[u]
        else:
            units[u, 0] = FREE
            units[u, 1] = 0
    return units


@numba.njit(cache=True)
def _grown(a, size, fill):
    out = np.empty(size, dtype=a.dtype)
    out[:a.shape[0]] = a
    out[a.shape[0]:] = fill
    return out


@numba.njit(cache=True)
def _unlink(u, nxt, prv, listed, head, tail):
    listed[u] = False
    if prv[u] >= 0:
        nxt[prv[u]] = nxt[u]
    else:
        head = nxt[u]
    if nxt[u] >= 0:
        prv[nxt[u]] = prv[u]
    else:
        tail = prv[u]
    return head, tail


def join_units(first: np.ndarray, second: np.ndarray, first_overflow: int) -> np.ndarray:
    """One array holding two double arrays: ``second``'s units follow ``first``'s, with their
    checks and bases moved by ``len(first)`` and their entry ranges by ``first_overflow`` (the
    length of ``first``'s overflow ids, which come first in the joined list)."""
    shift = np.uint64(len(first))
    moved = second.copy()
    word = moved[:, 0]
    check, base = word & FREE, word >> np.uint64(32)
    check = np.where(check == FREE, FREE, check + shift)
    base = np.where(base == 0, base, base + shift)
    moved[:, 0] = (base << np.uint64(32)) | check
    info = moved[:, 1]
    ranged = (info >> np.uint64(32)) > 1  # more than one entry: a range of the overflow ids
    info[ranged] += np.uint64(first_overflow)
    return np.concatenate([first, moved])


def check_units(units: np.ndarray, n_codes: int, what: str) -> None:
    """Raise ``ValueError`` unless every step the kernel can take from ``units`` stays inside
    it: a unit's check is ``FREE`` or a unit, and its base plus any code is a unit."""
    if units.ndim != 2 or units.shape[1] != 2 or units.shape[0] < 1:
        raise ValueError(f"{what} double array shape")
    check = units[:, 0] & FREE
    base = (units[:, 0] >> np.uint64(32)).astype(np.int64)
    if np.any((check != FREE) & (check >= np.uint64(units.shape[0]))) or \
            np.any((base > 0) & (base + n_codes >= units.shape[0])):
        raise ValueError(f"{what} double array: a step leaves the array")


@numba.njit(cache=True, nogil=True, inline="always")
def code_of(cp, pages, blocks):
    """The dense code of code point ``cp`` (0: no entry holds it)."""
    return blocks[(np.int64(pages[cp >> 8]) << 8) | (cp & 0xFF)]

