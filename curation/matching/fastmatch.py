"""The fast matcher's index: built from a metadata list, saved as one file, memory-mapped.

Regular entries (padded by a space on both sides) become token-id sequences in an exact
n-gram table; entries that ``metaclip-v2`` leaves unpadded on a side (CJK-like or
punctuation edges: most entries of languages written without spaces) become a trie over
code points, stored as a double array over dense codes (``curation.matching.fastmatch_trie``). The
kernel walks it from every position where its root has an edge, so its size does not depend
on a dense automaton's. An entry with a leading space (unpadded at its end only) is in a
second trie, of reversed entries, walked backwards from where its last code point occurs.

The file is a JSON header followed by 64-byte-aligned raw arrays, so ``load`` maps it and
every process on a node shares one physical copy through the page cache.
"""

import hashlib
import json
import os
import uuid

import numpy as np

from curation.matching import fastmatch_kernel as k
from curation.matching import fastmatch_trie as trie
from curation.matching.text import SPACED, WRAPPED

MAGIC = b"CURIDX07"
MAX_TOKENS = (1 << k.ID_BITS) - 1
ARRAYS = ("tok_table", "tok_bytes", "tok_off", "uni_ids", "ng_table", "ng_ids", "ng_filter", "trigger", "cp_units",
          "cp_ids", "cp_roots", "cp_pages", "cp_blocks")
FILTER_BITS_PER_EDGE = 16
LOAD_FACTOR = 0.6


def _table_size(n: int) -> int:
    return max(16, int(n / LOAD_FACTOR) + 1)


def _encode(s: str) -> bytes:
    return s.encode("utf-8", errors="surrogatepass")


def token_can_occur(token: str) -> bool:
    """Whether ``token`` can be a token of a spaced text: wrapped punctuation only stands
    alone, and tab/newline/CR never remain."""
    if any(c in SPACED for c in token):
        return False
    return len(token) <= 1 or not any(c in WRAPPED for c in token)


def pattern_can_occur(pattern: str) -> bool:
    """Whether a padded string can be a substring of a spaced text (same reasons)."""
    if any(c in SPACED for c in pattern):
        return False
    last = len(pattern) - 1
    return all((j == 0 or pattern[j - 1] == " ") and (j == last or pattern[j + 1] == " ")
               for j, c in enumerate(pattern) if c in WRAPPED)


def split_patterns(entries: list[str], pad) -> tuple[dict, dict]:
    """``(regular, irregular)``: token tuples -> entry ids, and unpadded-edge patterns ->
    entry ids. Patterns that can never occur in a spaced text are left out."""
    regular: dict[tuple, list[int]] = {}
    irregular: dict[str, list[int]] = {}
    for entry_id, entry in enumerate(entries):
        padded = pad(entry)
        if padded == f" {entry} ":
            tokens = tuple(entry.split(" "))
            if all(token_can_occur(t) for t in tokens):
                regular.setdefault(tokens, []).append(entry_id)
        elif pattern_can_occur(padded):
            irregular.setdefault(padded, []).append(entry_id)
    return regular, irregular


def build_arrays(regular: dict, irregular: dict) -> dict:
    """The index arrays."""
    vocab: dict[str, int] = {}
    unigram: dict[int, list[int]] = {}
    nodes: dict[tuple[int, int], int] = {}
    node_ids: list[list[int]] = []
    for tokens, ids in regular.items():
        tids = [vocab.setdefault(tok, len(vocab)) for tok in tokens]
        if len(tids) == 1:
            unigram.setdefault(tids[0], []).extend(ids)
            continue
        parent = -(tids[0] + 1)
        for tid in tids[1:]:
            parent = nodes.setdefault((parent, tid), len(nodes))
            if parent == len(node_ids):
                node_ids.append([])
        node_ids[parent].extend(ids)
    if len(vocab) > MAX_TOKENS:
        raise ValueError(f"metadata has {len(vocab):,} distinct tokens; the fast matcher holds {MAX_TOKENS:,}")
    node_arrays = _node_arrays(nodes, node_ids, len(vocab))
    arrays = _token_arrays(vocab, unigram, node_arrays.pop("has_next"))
    arrays.update(node_arrays)
    arrays.update(build_code_point_trie(irregular))
    return arrays


def _token_arrays(vocab: dict, unigram: dict, has_next: np.ndarray) -> dict:
    """Token table: per slot ``[key, first 8 bytes, info]``, where info holds the token's
    single-token entries (the id itself when there is one, else a range of ``uni_ids``)
    and, in its top bit, whether a longer pattern starts with the token."""
    encoded = [_encode(tok) for tok in vocab]
    tok_off = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=tok_off[1:])
    tok_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    info = np.zeros(len(vocab), dtype=np.uint64)
    uni_ids: list[int] = []
    for tid, ids in unigram.items():
        info[tid] = _entries_word(ids, uni_ids)
    info |= has_next[: len(vocab)].astype(np.uint64) << np.uint64(63)
    table = np.full((_table_size(len(vocab)), 3), np.iinfo(np.uint64).max, dtype=np.uint64)
    k.fill_token_table(tok_bytes, tok_off, info, table)
    return {"tok_table": table, "tok_bytes": tok_bytes, "tok_off": tok_off,
            "uni_ids": np.array(uni_ids, dtype=np.int32)}


def _entries_word(ids: list[int], overflow: list[int]) -> np.uint64:
    """Entries of a token or node in one word: the id itself when there is one, else a
    range of ``overflow``; the count in the high half."""
    first = ids[0] if len(ids) == 1 else len(overflow)
    if len(ids) > 1:
        overflow.extend(ids)
    return np.uint64(first) | (np.uint64(len(ids)) << np.uint64(32))


def _trie_nodes(nodes: dict, node_ids: list) -> tuple:
    """``(parents, edge labels, entries words, overflow ids)`` of a trie given as ``(parent,
    label) -> node id`` (ids in creation order) and each node's entries."""
    parent = np.array([p for p, _ in nodes], dtype=np.int64)
    labels = np.array([t for _, t in nodes], dtype=np.int64)
    overflow: list[int] = []
    info = np.array([_entries_word(ids, overflow) if ids else 0 for ids in node_ids], dtype=np.uint64)
    return parent, labels, info, np.array(overflow, dtype=np.int32)


def _node_table(nodes: dict, node_ids: list) -> tuple:
    """``(parents, edge labels, table, overflow ids)`` of a trie as a hash table: per slot
    ``[edge key, node id | has-children bit 63, entries]``."""
    parent, last, info, overflow = _trie_nodes(nodes, node_ids)
    has_children = np.zeros(len(nodes), dtype=np.uint64)
    has_children[parent[parent >= 0]] = 1
    node_word = np.arange(len(nodes), dtype=np.uint64) | (has_children << np.uint64(63))
    table = np.full((_table_size(len(nodes)), 3), np.iinfo(np.uint64).max, dtype=np.uint64)
    k.fill_node_table(parent, last, node_word, info, table)
    return parent, last, table, overflow


def _node_arrays(nodes: dict, node_ids: list, n_tokens: int) -> dict:
    """The token trie's table, its first-edge bit filter and which tokens begin an edge."""
    parent, last, table, ng_ids = _node_table(nodes, node_ids)
    first_edges = int((parent < 0).sum())
    words = 1 << max(0, (first_edges * FILTER_BITS_PER_EDGE // 64 - 1).bit_length())
    ng_filter = np.zeros(words, dtype=np.uint64)
    k.fill_edge_filter(parent, last, ng_filter)
    has_next = np.zeros(max(n_tokens, 1), dtype=np.bool_)
    has_next[-(parent[parent < 0] + 1)] = True
    return {"ng_table": table, "ng_ids": ng_ids, "ng_filter": ng_filter, "has_next": has_next}


def build_code_point_trie(patterns: dict) -> dict:
    """The unpadded-edge patterns as tries over code points. Patterns without a leading
    space (unpadded at the start) go forward; patterns with one (unpadded at the end) go
    reversed, so that both are walked from their unpadded edge. Both are double arrays
    (``curation.matching.fastmatch_trie``), laid one after the other in ``cp_units`` (roots in
    ``cp_roots``, entry lists in ``cp_ids``), over one map of code points to dense codes
    (``cp_pages``, ``cp_blocks``). The trigger bytes are the first bytes of the unpadded
    edges (bit 1 forward, bit 2 reversed): a text holding none cannot match."""
    trigger = np.zeros(256, dtype=np.uint8)
    forward = {p: ids for p, ids in patterns.items() if p[0] != " "}
    backward = {p[::-1]: ids for p, ids in patterns.items() if p[0] == " "}
    for pattern in forward:
        trigger[_encode(pattern[0])[0]] |= 1
    for pattern in backward:
        trigger[_encode(pattern.lstrip(" ")[0])[0]] |= 2  # reversed: the last non-space character
    (parent_f, labels_f, info_f, ids_f), (parent_b, labels_b, info_b, ids_b) = (
        _code_point_trie(forward), _code_point_trie(backward))
    pages, blocks, n_codes = trie.code_map(np.concatenate([labels_f, labels_b]))

    def units(parent, labels, info):
        return trie.build_units(parent, trie.codes_of(labels, pages, blocks), info, n_codes)

    units_f = units(parent_f, labels_f, info_f)
    return {"trigger": trigger, "cp_units": trie.join_units(units_f, units(parent_b, labels_b, info_b), len(ids_f)),
            "cp_ids": np.concatenate([ids_f, ids_b]), "cp_roots": np.array([0, len(units_f)], dtype=np.int64),
            "cp_pages": pages, "cp_blocks": blocks}


def _code_point_trie(patterns: dict) -> tuple:
    """``(parents, code point labels, entries words, overflow ids)`` of the trie of ``patterns``."""
    nodes: dict[tuple[int, int], int] = {}
    node_ids: list[list[int]] = []
    for pattern, ids in patterns.items():
        parent = -1
        for char in pattern:
            parent = nodes.setdefault((parent, ord(char)), len(nodes))
            if parent == len(node_ids):
                node_ids.append([])
        node_ids[parent].extend(ids)
    return _trie_nodes(nodes, node_ids)


def _digest(arrays: dict, meta: dict) -> str:
    h = hashlib.blake2b(json.dumps(meta, sort_keys=True).encode(), digest_size=16)
    for name in ARRAYS:
        h.update(np.ascontiguousarray(arrays[name]).reshape(-1).view(np.uint8))
    return h.hexdigest()


def save_index(path: str, arrays: dict, meta: dict) -> None:
    """Write the arrays and ``meta`` as one file, atomically (temp name, then rename). The
    header records a digest of the arrays, checked on load."""
    layout, offset = {}, 0
    for name in ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        layout[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset}
        offset += -(-a.nbytes // 64) * 64
    header = json.dumps({"meta": meta, "arrays": layout, "digest": _digest(arrays, meta), "size": offset}).encode()
    start = -(-(len(MAGIC) + 8 + len(header)) // 64) * 64
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + len(header).to_bytes(8, "little") + header)
        for name in ARRAYS:
            a = np.ascontiguousarray(arrays[name])
            f.seek(start + layout[name]["offset"])
            f.write(a.tobytes())
        f.truncate(start + offset)
    os.replace(tmp, path)


def load_index(path: str) -> tuple[dict, dict]:
    """Map an index file; returns ``(arrays, meta)`` (arrays are read-only views).

    Nothing reaches the compiled kernel unchecked: a file that is truncated, whose arrays do
    not match their recorded digest, or whose arrays are not a consistent index raises
    ``ValueError`` (the cache then builds the index again)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.shape[0] < 16 or bytes(raw[:8]) != MAGIC:
        raise ValueError(f"{path}: not a matcher index file")
    size = int.from_bytes(bytes(raw[8:16]), "little")
    try:
        header = json.loads(bytes(raw[16:16 + size]))
        start = -(-(16 + size) // 64) * 64
        if raw.shape[0] != start + header["size"] or set(header["arrays"]) != set(ARRAYS):
            raise ValueError("size or arrays differ from the header")
        arrays = {}
        for name, spec in header["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            begin = start + spec["offset"]
            if begin + count * dtype.itemsize > raw.shape[0]:
                raise ValueError(f"array {name} lies past the end of the file")
            arrays[name] = raw[begin:begin + count * dtype.itemsize].view(dtype).reshape(spec["shape"])
        if _digest(arrays, header["meta"]) != header["digest"]:
            raise ValueError("arrays do not match their digest")
        check_arrays(arrays, len(header["meta"]["entries"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: damaged matcher index ({exc})") from None
    return arrays, header["meta"]


_DTYPES = {"tok_table": "<u8", "tok_bytes": "|u1", "tok_off": "<i8", "uni_ids": "<i4", "ng_table": "<u8",
           "ng_ids": "<i4", "ng_filter": "<u8", "trigger": "|u1", "cp_units": "<u8", "cp_ids": "<i4",
           "cp_roots": "<i8", "cp_pages": "<i4", "cp_blocks": "<i4"}


def check_arrays(a: dict, n_entries: int) -> None:
    """Structural checks: every offset, id and state the kernel follows stays in bounds."""
    def need(ok, what):
        if not ok:
            raise ValueError(what)

    for name, dtype in _DTYPES.items():
        need(a[name].dtype == np.dtype(dtype), f"{name} has dtype {a[name].dtype}")
    need(a["tok_table"].ndim == 2 and a["tok_table"].shape[1] == 3, "token table shape")
    need(a["ng_table"].ndim == 2 and a["ng_table"].shape[1] == 3, "trie table shape")
    need(a["trigger"].shape == (256,), "trigger table")
    pages, blocks = a["cp_pages"], a["cp_blocks"]
    need(pages.shape == ((trie.MAX_CODE_POINT >> trie.PAGE_BITS) + 1,) and blocks.ndim == 1 and len(blocks) > 0
         and len(blocks) % (1 << trie.PAGE_BITS) == 0, "code map shape")
    need(bool(np.all((pages >= 0) & (pages < len(blocks) >> trie.PAGE_BITS))) and bool(np.all(blocks >= 0)),
         "code map out of range")
    for off, values in (("tok_off", "tok_bytes"),):
        o = a[off]
        need(o.ndim == 1 and len(o) >= 1 and o[0] == 0 and o[-1] == len(a[values]) and bool(np.all(np.diff(o) >= 0)),
             f"{off} offsets")
    for ids in ("uni_ids", "ng_ids", "cp_ids"):
        need(bool(np.all((a[ids] >= 0) & (a[ids] < n_entries))), f"{ids} out of range")
    n_filter = len(a["ng_filter"])
    need(n_filter > 0 and n_filter & (n_filter - 1) == 0, "edge filter size")
    n_tokens = len(a["tok_off"]) - 1
    _check_slots(a["tok_table"], n_tokens, len(a["uni_ids"]), n_entries, "token", np.uint64(0x7FFFFFFF))
    _check_slots(a["ng_table"], None, len(a["ng_ids"]), n_entries, "trie", np.uint64(0xFFFFFFFF))
    units = a["cp_units"]
    trie.check_units(units, int(blocks.max()), "code point trie")
    need(a["cp_roots"].shape == (2,) and bool(np.all((a["cp_roots"] >= 0) & (a["cp_roots"] < len(units)))),
         "code point trie roots")
    _check_info(units[:, 1], len(a["cp_ids"]), n_entries, "code point trie", np.uint64(0xFFFFFFFF))


def _check_slots(table: np.ndarray, n_tokens: int | None, n_overflow: int, n_entries: int, what: str,
                 count_mask: np.uint64) -> None:
    # Slot info as the kernel reads it: entry count in the high half (token slots keep a
    # flag in bit 63), the entry id or the first overflow position in the low half.
    used = table[table[:, 0] != k.EMPTY]
    if n_tokens is not None and len(used):
        ids = (used[:, 0] & np.uint64((1 << k.ID_BITS) - 1)).astype(np.int64)
        if np.any(ids >= n_tokens):
            raise ValueError(f"{what} table: token ids out of range")
    _check_info(used[:, 2], n_overflow, n_entries, what, count_mask)


def _check_info(info: np.ndarray, n_overflow: int, n_entries: int, what: str, count_mask: np.uint64) -> None:
    count = ((info >> np.uint64(32)) & count_mask).astype(np.int64)
    first = (info & np.uint64(0xFFFFFFFF)).astype(np.int64)
    single = count == 1
    if np.any(single & (first >= n_entries)) or np.any(~single & (count > 0) & (first + count > n_overflow)):
        raise ValueError(f"{what} table: entry references out of range")


def run_kernel(arrays: dict, data: np.ndarray, offsets: np.ndarray, valid: np.ndarray):
    """Match the texts given as UTF-8 ``data``/``offsets``; returns (offsets, flat ids)."""
    # The kernel reads the code-point units flat: unit t's words at 2t and 2t + 1.
    return k.match_kernel(data, offsets, valid, *(arrays[name].reshape(-1) if name == "cp_units" else arrays[name]
                                                  for name in ARRAYS))
