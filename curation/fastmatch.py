"""The fast matcher's index: built from a metadata list, saved as one file, memory-mapped.

Regular entries (padded by a space on both sides) become token-id sequences in an exact
n-gram table; entries that ``metaclip-v2`` leaves unpadded on a side (CJK-like or
punctuation edges) become an Aho-Corasick byte DFA. When those are too many for a dense
DFA (lists of languages written without spaces) they are matched by ``pyahocorasick``
instead: exact, but at its speed.

The file is a JSON header followed by 64-byte-aligned raw arrays, so ``load`` maps it and
every process on a node shares one physical copy through the page cache.
"""

import json
import os
import uuid
from collections import deque

import numpy as np

from curation import fastmatch_kernel as k

MAGIC = b"CURIDX01"
MAX_DFA_STATES = 20_000
ARRAYS = ("tok_table", "tok_bytes", "tok_off", "max_run", "pat_table", "pat_tok", "pat_off", "pe_off", "pe_ids",
          "dfa", "dfa_out_off", "dfa_out_ids")


def _pow2_at_least(n: int) -> int:
    return 1 << max(4, (2 * n - 1).bit_length())


def _encode(s: str) -> bytes:
    return s.encode("utf-8", errors="surrogatepass")


def split_patterns(entries: list[str], pad) -> tuple[dict, dict]:
    """``(regular, irregular)``: token tuples -> entry ids, and padded bytes -> entry ids."""
    regular: dict[tuple, list[int]] = {}
    irregular: dict[bytes, list[int]] = {}
    for entry_id, entry in enumerate(entries):
        padded = pad(entry)
        if padded == f" {entry} ":
            regular.setdefault(tuple(entry.split(" ")), []).append(entry_id)
        else:
            irregular.setdefault(_encode(padded), []).append(entry_id)
    return regular, irregular


def build_arrays(regular: dict, irregular: dict) -> tuple[dict, dict]:
    """The index arrays; also returns the irregular patterns left to a fallback (if any)."""
    vocab: dict[str, int] = {}
    pat_tok, pat_off, pe_ids, pe_off = [], [0], [], [0]
    for tokens, ids in regular.items():
        pat_tok.extend(vocab.setdefault(tok, len(vocab)) for tok in tokens)
        pat_off.append(len(pat_tok))
        pe_ids.extend(ids)
        pe_off.append(len(pe_ids))
    encoded = [_encode(tok) for tok in vocab]
    arrays = {
        "tok_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(),
        "tok_off": np.concatenate(([0], np.cumsum([len(b) for b in encoded], dtype=np.int64))).astype(np.int64),
        "pat_tok": np.array(pat_tok, dtype=np.int32), "pat_off": np.array(pat_off, dtype=np.int64),
        "pe_ids": np.array(pe_ids, dtype=np.int32), "pe_off": np.array(pe_off, dtype=np.int64),
    }
    arrays["max_run"] = _max_run(arrays["pat_tok"], arrays["pat_off"], len(vocab))
    arrays["tok_table"] = np.full(_pow2_at_least(len(vocab)), -1, dtype=np.int32)
    k.fill_token_table(arrays["tok_bytes"], arrays["tok_off"], arrays["tok_table"])
    arrays["pat_table"] = np.full(_pow2_at_least(len(regular)), -1, dtype=np.int32)
    k.fill_pattern_table(arrays["pat_tok"], arrays["pat_off"], arrays["pat_table"])
    states = sum(len(p) for p in irregular) + 1
    fallback = irregular if states > MAX_DFA_STATES else {}
    arrays.update(build_dfa({} if fallback else irregular))
    return arrays, fallback


def _max_run(pat_tok: np.ndarray, pat_off: np.ndarray, n_tok: int) -> np.ndarray:
    """For each token, the most tokens of a pattern that starts with it."""
    out = np.zeros(max(n_tok, 1), dtype=np.int32)
    if len(pat_off) > 1:
        np.maximum.at(out, pat_tok[pat_off[:-1]], np.diff(pat_off).astype(np.int32))
    return out


def build_dfa(patterns: dict) -> dict:
    """Aho-Corasick over bytes as a dense DFA: ``dfa[state, byte]``, and the entry ids
    reported on reaching each state (its own and its suffixes')."""
    if not patterns:
        return {"dfa": np.zeros((0, 256), np.int32), "dfa_out_off": np.zeros(1, np.int64),
                "dfa_out_ids": np.zeros(0, np.int32)}
    goto: list[dict] = [{}]
    out: list[list[int]] = [[]]
    for pattern, ids in patterns.items():
        state = 0
        for byte in pattern:
            if byte not in goto[state]:
                goto.append({})
                out.append([])
                goto[state][byte] = len(goto) - 1
            state = goto[state][byte]
        out[state].extend(ids)
    dfa = np.zeros((len(goto), 256), dtype=np.int32)
    fail = [0] * len(goto)
    queue = deque([0])
    while queue:
        s = queue.popleft()
        if s:
            dfa[s] = dfa[fail[s]]
        for byte, child in goto[s].items():
            fail[child] = int(dfa[fail[s], byte]) if s else 0
            out[child] = out[child] + out[fail[child]]
            queue.append(child)
        for byte, child in goto[s].items():
            dfa[s, byte] = child
    lengths = [len(sorted(set(o))) for o in out]
    return {"dfa": dfa, "dfa_out_off": np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            "dfa_out_ids": np.array([i for o in out for i in sorted(set(o))], dtype=np.int32)}


def save_index(path: str, arrays: dict, meta: dict) -> None:
    """Write the arrays and ``meta`` as one file, atomically (temp name, then rename)."""
    layout, offset = {}, 0
    for name in ARRAYS:
        a = np.ascontiguousarray(arrays[name])
        layout[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset}
        offset += -(-a.nbytes // 64) * 64
    header = json.dumps({"meta": meta, "arrays": layout}).encode()
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
    """Map an index file; returns ``(arrays, meta)`` (arrays are read-only views)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(raw[:8]) != MAGIC:
        raise ValueError(f"{path}: not a matcher index file")
    size = int.from_bytes(bytes(raw[8:16]), "little")
    header = json.loads(bytes(raw[16:16 + size]))
    start = -(-(16 + size) // 64) * 64
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"])
        count = int(np.prod(spec["shape"])) if spec["shape"] else 1
        begin = start + spec["offset"]
        arrays[name] = raw[begin:begin + count * dtype.itemsize].view(dtype).reshape(spec["shape"])
    return arrays, header["meta"]


def run_kernel(arrays: dict, data: np.ndarray, offsets: np.ndarray, valid: np.ndarray):
    """Match the texts given as UTF-8 ``data``/``offsets``; returns (offsets, flat ids)."""
    return k.match_kernel(data, offsets, valid, *(arrays[name] for name in ARRAYS))
