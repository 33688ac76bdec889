"""Compiled kernels of the fast matcher (numba, ``nopython``), over UTF-8 bytes.

A text is turned into MetaCLIP's spaced bytes (all the characters that ``spacing`` touches
are ASCII, so working on UTF-8 bytes is exact), split on single spaces (empty tokens
kept), and every run of tokens strictly inside the first and last (empty) token is looked
up in the n-gram table. A padded entry " e " is a substring of the spaced text exactly when
its tokens occur as such a run. Each lookup is verified against the stored token ids, and
each token lookup against the stored bytes, so hash collisions never change a result.
Entries that ``metaclip-v2`` leaves unpadded on a side go through a byte DFA (Aho-Corasick)
over the same spaced bytes.
"""

import numba
import numpy as np

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
SPACE = 32


@numba.njit(cache=True, nogil=True)
def mix64(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def bytes_hash(buf, start, end):
    h = FNV_OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(buf[i])) * FNV_PRIME
    return mix64(h)


@numba.njit(cache=True, nogil=True)
def seq_hash_step(h, token_id):
    return mix64((h ^ np.uint64(token_id + 1)) * FNV_PRIME)


@numba.njit(cache=True, nogil=True)
def find_token(buf, start, end, tok_table, tok_bytes, tok_off):
    """Token id of ``buf[start:end]`` in the vocabulary, or -1."""
    mask = tok_table.shape[0] - 1
    slot = np.int64(bytes_hash(buf, start, end) & np.uint64(mask))
    n = end - start
    while True:
        tid = tok_table[slot]
        if tid < 0:
            return -1
        a, b = tok_off[tid], tok_off[tid + 1]
        if b - a == n:
            same = True
            for k in range(n):
                if tok_bytes[a + k] != buf[start + k]:
                    same = False
                    break
            if same:
                return tid
        slot = (slot + 1) & mask


@numba.njit(cache=True, nogil=True)
def find_pattern(h, ids, i, length, pat_table, pat_tok, pat_off):
    """Pattern id whose token ids equal ``ids[i:i+length]`` (hash ``h``), or -1."""
    mask = pat_table.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    while True:
        pid = pat_table[slot]
        if pid < 0:
            return -1
        a, b = pat_off[pid], pat_off[pid + 1]
        if b - a == length:
            same = True
            for k in range(length):
                if pat_tok[a + k] != ids[i + k]:
                    same = False
                    break
            if same:
                return pid
        slot = (slot + 1) & mask


@numba.njit(cache=True, nogil=True)
def is_wrapped(c):
    # , . ; : ? ! `
    return c == 44 or c == 46 or c == 59 or c == 58 or c == 63 or c == 33 or c == 96


@numba.njit(cache=True, nogil=True)
def spaced_bytes(data, start, end, out):
    """Write MetaCLIP's spaced form of ``data[start:end]`` into ``out``; return its length."""
    n = 0
    out[n] = SPACE
    n += 1
    for i in range(start, end):
        c = data[i]
        if is_wrapped(c):
            out[n] = SPACE
            out[n + 1] = c
            out[n + 2] = SPACE
            n += 3
        elif c == 9 or c == 10 or c == 13:
            out[n] = SPACE
            n += 1
        else:
            out[n] = c
            n += 1
    out[n] = SPACE
    return n + 1


@numba.njit(cache=True, nogil=True)
def sort_unique(buf, n):
    """Sort ``buf[:n]`` in place (insertion sort: lists are short), drop repeats; new length."""
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    m = 0
    for i in range(n):
        if m == 0 or buf[i] != buf[m - 1]:
            buf[m] = buf[i]
            m += 1
    return m


@numba.njit(cache=True, nogil=True)
def match_kernel(data, offsets, valid, tok_table, tok_bytes, tok_off, max_run, pat_table, pat_tok, pat_off,
                 pe_off, pe_ids, dfa, dfa_out_off, dfa_out_ids):
    """Match every text; returns (``len + 1`` offsets, flat sorted unique entry ids)."""
    n_texts = offsets.shape[0] - 1
    out_off = np.zeros(n_texts + 1, dtype=np.int64)
    out = np.empty(max(16, n_texts * 4), dtype=np.int32)
    n_out = 0
    longest = 0
    for t in range(n_texts):
        longest = max(longest, offsets[t + 1] - offsets[t])
    spaced = np.empty(3 * longest + 2, dtype=np.uint8)
    tok_ids = np.empty(3 * longest + 3, dtype=np.int32)
    found = np.empty(64, dtype=np.int32)
    use_dfa = dfa.shape[0] > 0
    for t in range(n_texts):
        n_found = 0
        start, end = offsets[t], offsets[t + 1]
        if valid[t] and end > start:
            m = spaced_bytes(data, start, end, spaced)
            # tokens: split on single spaces, empty tokens kept
            n_tok = 0
            tok_start = 0
            for i in range(m + 1):
                if i == m or spaced[i] == SPACE:
                    tok_ids[n_tok] = find_token(spaced, tok_start, i, tok_table, tok_bytes, tok_off)
                    n_tok += 1
                    tok_start = i + 1
            for i in range(1, n_tok - 1):
                first = tok_ids[i]
                if first < 0:
                    continue
                h = np.uint64(0)
                limit = min(max_run[first], n_tok - 1 - i)
                for length in range(1, limit + 1):
                    tid = tok_ids[i + length - 1]
                    if tid < 0:
                        break
                    h = seq_hash_step(h, tid)
                    pid = find_pattern(h, tok_ids, i, length, pat_table, pat_tok, pat_off)
                    if pid >= 0:
                        for k in range(pe_off[pid], pe_off[pid + 1]):
                            if n_found == found.shape[0]:
                                found = np.concatenate((found, np.empty_like(found)))
                            found[n_found] = pe_ids[k]
                            n_found += 1
            if use_dfa:
                state = 0
                for i in range(m):
                    state = dfa[state, spaced[i]]
                    for k in range(dfa_out_off[state], dfa_out_off[state + 1]):
                        if n_found == found.shape[0]:
                            found = np.concatenate((found, np.empty_like(found)))
                        found[n_found] = dfa_out_ids[k]
                        n_found += 1
            n_found = sort_unique(found, n_found)
        if n_out + n_found > out.shape[0]:
            grown = np.empty(max(out.shape[0] * 2, n_out + n_found), dtype=np.int32)
            grown[:n_out] = out[:n_out]
            out = grown
        out[n_out:n_out + n_found] = found[:n_found]
        n_out += n_found
        out_off[t + 1] = n_out
    return out_off, out[:n_out]


@numba.njit(cache=True, nogil=True)
def fill_token_table(tok_bytes, tok_off, table):
    mask = table.shape[0] - 1
    for tid in range(tok_off.shape[0] - 1):
        slot = np.int64(bytes_hash(tok_bytes, tok_off[tid], tok_off[tid + 1]) & np.uint64(mask))
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = tid


@numba.njit(cache=True, nogil=True)
def fill_pattern_table(pat_tok, pat_off, table):
    mask = table.shape[0] - 1
    for pid in range(pat_off.shape[0] - 1):
        h = np.uint64(0)
        for k in range(pat_off[pid], pat_off[pid + 1]):
            h = seq_hash_step(h, pat_tok[k])
        slot = np.int64(h & np.uint64(mask))
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = pid
