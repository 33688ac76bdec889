"""Compiled kernels of the fast matcher (numba, ``nopython``), over UTF-8 bytes.

A text is turned into MetaCLIP's spaced bytes (all the characters that ``spacing`` touches
are ASCII, so working on UTF-8 bytes is exact), split on single spaces (empty tokens
kept), and every run of tokens strictly inside the first and last (empty) token is looked
up. A padded entry " e " is a substring of the spaced text exactly when its tokens occur as
such a run.

Lookups are exact, never probabilistic: a token slot holds a 32-bit fingerprint, the token
id, its length and its first 8 bytes, and longer tokens are compared byte by byte; a
multi-token pattern is a path in a hashed trie whose nodes store their parent and last
token, which are compared. Entries that ``metaclip-v2`` leaves unpadded on a side are a
trie over code points in a double array (``curation.matching.fastmatch_trie``), walked over the
same spaced text, decoded once to dense codes, from each position where such an entry can
begin (backwards from where it can end for entries with a leading space), and only in texts
that hold one of the bytes such a match must contain.
"""

import sys

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from curation.matching.fastmatch_trie import FREE, code_of
from curation.matching.text import spacing_byte_kinds

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
# The spacing rule as a byte table (from ``curation.matching.text``); numba freezes a global array
# into the compiled kernel as a constant.
BYTE_KINDS = spacing_byte_kinds()
WRAP_KIND, SPACE_KIND = 1, 2
EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
ZERO, ONE, HALF = np.uint64(0), np.uint64(1), np.uint64(32)
SPACES, LOW_BYTES, HIGH_BITS = np.uint64(0x2020202020202020), np.uint64(0x0101010101010101), \
    np.uint64(0x8080808080808080)
if sys.byteorder != "little":
    # ``load_word`` reads 8 bytes as a native word, and the tables hash little-endian words.
    raise ImportError("the fast matcher's kernel needs a little-endian machine")
SPACE = 32
ID_BITS = 24  # token/node ids below 2**24 (16.7M)
LEN_CAP = 255


@intrinsic
def borrowed(typingctx, array):
    """A view of ``array`` that owns no reference (a null meminfo): numba reference-counts
    every array variable that an inlined helper's parameter or a loop assignment creates,
    with an atomic increment and decrement; for a view without a meminfo those are a test
    and a return. (Measured: two thirds of the kernel's time went to them.) The view must
    not outlive ``array``: take it inside a function whose caller holds ``array``."""
    def codegen(context, builder, sig, args):
        source = context.make_array(array)(context, builder, value=args[0])
        view = context.make_array(array)(context, builder)
        for field in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
            setattr(view, field, getattr(source, field))
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        return view._getvalue()
    return array(array), codegen


@intrinsic
def prefetch_row(typingctx, table, row):
    """Ask the CPU to start loading the cache line of ``table[row, 0]`` (a 2-D array): a
    text's token lookups are independent, and issued together their cache misses overlap."""
    def codegen(context, builder, sig, args):
        array = context.make_array(table)(context, builder, value=args[0])
        ptr = cgutils.get_item_pointer2(context, builder, data=array.data,
                                        shape=cgutils.unpack_tuple(builder, array.shape),
                                        strides=cgutils.unpack_tuple(builder, array.strides), layout=table.layout,
                                        inds=[args[1], ir.Constant(args[1].type, 0)], wraparound=False,
                                        boundscheck=False)
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # read (0), high temporal locality (3), data cache (1)
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(table, row), codegen


@intrinsic
def load_word(typingctx, buf, index):
    """The 8 bytes ``buf[index:index + 8]`` of a byte array as one little-endian uint64, read
    unaligned; the caller keeps 8 readable bytes past every index it passes."""
    def codegen(context, builder, sig, args):
        array = context.make_array(buf)(context, builder, value=args[0])
        ptr = builder.gep(array.data, [args[1]])
        word = builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)
        return word
    return types.uint64(buf, types.intp), codegen


@intrinsic
def trailing_zeros(typingctx, x):
    """The number of trailing zero bits of a nonzero uint64."""
    def codegen(context, builder, sig, args):
        i64, i1 = ir.IntType(64), ir.IntType(1)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, i1]), "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(i1, 1)])  # 1: a zero argument is undefined
    return types.uint64(x), codegen


@numba.njit(cache=True, nogil=True, inline="always")
def mix64(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True, inline="always")
def fold_word(h, word):
    """Fold one 8-byte word into a running token hash."""
    return (h ^ word) * np.uint64(0x9FB21C651E98DF25) + np.uint64(0xD6E8FEB86659FD93)


@numba.njit(cache=True, nogil=True, inline="always")
def finish_hash(h, word, length):
    return mix64(fold_word(h, word) ^ np.uint64(length))


@numba.njit(cache=True, nogil=True, inline="always")
def token_hash(buf, start, end):
    """(hash, first 8 bytes packed little-endian) of ``buf[start:end]``: bytes are packed
    into 8-byte words, each word folded in, the length mixed in last."""
    h = FNV_OFFSET
    head = np.uint64(0)
    word = np.uint64(0)
    for i in range(start, end):
        j = i - start
        word |= np.uint64(buf[i]) << np.uint64(8 * (j & 7))
        if j == 7:
            head = word
        if (j & 7) == 7 and i + 1 < end:
            h = fold_word(h, word)
            word = np.uint64(0)
    if end - start < 8:
        head = word
    return finish_hash(h, word, end - start), head


@numba.njit(cache=True, nogil=True, inline="always")
def byte_mask(n):
    """A mask of the low ``n`` bytes of a word (0 <= n <= 8)."""
    return np.uint64(0xFFFFFFFFFFFFFFFF) if n >= 8 else (np.uint64(1) << np.uint64(8 * n)) - np.uint64(1)


@numba.njit(cache=True, nogil=True, inline="always")
def slot_key(h, ident, length):
    """Slot word: fingerprint (high 32 bits of h) | length (8 bits) | id (24 bits)."""
    return ((h >> np.uint64(32)) << np.uint64(32)) | (np.uint64(min(length, LEN_CAP)) << np.uint64(ID_BITS)) | \
        np.uint64(ident)


@numba.njit(cache=True, nogil=True, inline="always")
def home(h, size):
    """Slot of hash ``h`` in a table of ``size`` slots (multiply-shift on the low 32 bits)."""
    return np.int64(((h & np.uint64(0xFFFFFFFF)) * np.uint64(size)) >> np.uint64(32))


@numba.njit(cache=True, nogil=True, inline="always")
def probe_token(h, head, buf, start, end, tok_table, tok_bytes, tok_off):
    """Slot of the token with hash ``h`` and first bytes ``head`` (``buf[start:end]``), or -1."""
    n = end - start
    want = slot_key(h, 0, n) >> np.uint64(ID_BITS)
    size = tok_table.shape[0]
    slot = home(h, size)
    while True:
        key = tok_table[slot, 0]
        if key == EMPTY:
            return -1
        if (key >> np.uint64(ID_BITS)) == want and tok_table[slot, 1] == head:
            if n <= 8:
                return slot
            tid = np.int64(key & np.uint64((1 << ID_BITS) - 1))
            a = tok_off[tid]
            if tok_off[tid + 1] - a == n:
                same = True
                for k in range(8, n):
                    if tok_bytes[a + k] != buf[start + k]:
                        same = False
                        break
                if same:
                    return slot
        slot += 1
        if slot == size:
            slot = 0


@numba.njit(cache=True, nogil=True, inline="always")
def node_key(parent, token):
    """Exact 64-bit key of a trie edge: parent (node id, or ``-(tid + 1)`` for a first
    token) in the high half, the token id in the low half."""
    return (np.uint64(parent + (1 << 31)) << np.uint64(32)) | np.uint64(token)


@numba.njit(cache=True, nogil=True, inline="always")
def find_child(parent, token, ng_table):
    """Slot of the trie node reached from ``parent`` by ``token``, or -1.

    A slot is ``[key, node id | has-children bit 63, entries]``."""
    key = node_key(parent, token)
    size = ng_table.shape[0]
    slot = home(mix64(key), size)
    while True:
        found = ng_table[slot, 0]
        if found == key:
            return slot
        if found == EMPTY:
            return -1
        slot += 1
        if slot == size:
            slot = 0


@numba.njit(cache=True, nogil=True, inline="always")
def spaced_bytes(data, start, end, out, trigger):
    """Write MetaCLIP's spaced form of ``data[start:end]`` into ``out``; return its length
    and the union of the trigger bits of its bytes (1: an unpadded-edge pattern without a
    leading space can occur, 2: one with a leading space can)."""
    n = 0
    out[n] = SPACE
    n += 1
    hit = np.uint8(0)
    for i in range(start, end):
        c = data[i]
        hit |= trigger[c]
        kind = BYTE_KINDS[c]
        if kind == WRAP_KIND:
            out[n] = SPACE
            out[n + 1] = c
            out[n + 2] = SPACE
            n += 3
        elif kind == SPACE_KIND:
            out[n] = SPACE
            n += 1
        else:
            out[n] = c
            n += 1
    out[n] = SPACE
    return n + 1, hit


RANK_SORT_MAX = 64


@numba.njit(cache=True, nogil=True)
def sort_unique(buf, n):
    """Sort ``buf[:n]`` (entry ids, >= 0) in place, drop repeats; return the new length.

    Most lists are short (a dozen ids): each id goes straight to its rank, the number of
    smaller ids, counted by a loop without branches that the compiler vectorises, into the
    tail of ``buf`` (which is longer than ``2 * RANK_SORT_MAX``). Repeats share a rank and
    land on one slot; slots left at -1 are skipped. An insertion sort's compares are
    unpredictable branches: this ran a Thai text 28% faster. A long text's list can hold
    millions of ids (O(n log n) sort)."""
    if n <= RANK_SORT_MAX:
        scratch = buf.shape[0] - RANK_SORT_MAX
        for r in range(n):
            buf[scratch + r] = -1
        for i in range(n):
            v = buf[i]
            rank = 0
            for j in range(n):
                rank += np.int32(buf[j] < v)
            buf[scratch + rank] = v
        m = 0
        for r in range(n):
            v = buf[scratch + r]
            if v >= 0:
                buf[m] = v
                m += 1
        return m
    buf[:n] = np.sort(buf[:n])
    m = 0
    for i in range(n):
        if m == 0 or buf[i] != buf[m - 1]:
            buf[m] = buf[i]
            m += 1
    return m


@numba.njit(cache=True, nogil=True, inline="always")
def decode_utf8(buf, i, end):
    """``(code point, byte length)`` of the UTF-8 sequence at ``buf[i]``; length 0 for a
    continuation byte, a cut or malformed sequence, or an overlong form (so a match on
    code points is exactly a match on bytes)."""
    b = np.int64(buf[i])
    if b < 0x80:
        return b, 1
    if b < 0xC0:
        return np.int64(0), 0
    if b < 0xE0:
        n, cp, least = 2, b & 0x1F, 0x80
    elif b < 0xF0:
        n, cp, least = 3, b & 0x0F, 0x800
    elif b < 0xF8:
        n, cp, least = 4, b & 0x07, 0x10000
    else:
        return np.int64(0), 0
    if i + n > end:
        return np.int64(0), 0
    for k in range(1, n):
        c = np.int64(buf[i + k])
        if (c & 0xC0) != 0x80:
            return np.int64(0), 0
        cp = (cp << 6) | (c & 0x3F)
    if cp < least or cp > 0x10FFFF:
        return np.int64(0), 0
    return cp, n


@numba.njit(cache=True, nogil=True, inline="always")
def add_entries(info, overflow, found, n_found):
    """Append the entries of an info word (count in the high half; the id itself, or the
    start of a range of ``overflow``, in the low half) as far as ``found`` has room; the
    returned count goes on past its size, so the caller can retry with a larger buffer.
    (``found`` is never reallocated in these loops: an array variable that may change
    inside a loop costs reference counting on every iteration.)"""
    count = np.int64((info >> np.uint64(32)) & np.uint64(0x7FFFFFFF))
    first = np.int64(info & np.uint64(0xFFFFFFFF))
    room = found.shape[0]
    if count == 1:
        if n_found < room:
            found[n_found] = first
        return n_found + 1
    for k in range(first, first + count):
        if n_found < room:
            found[n_found] = overflow[k]
        n_found += 1
    return n_found


@numba.njit(cache=True, nogil=True, inline="always")
def decode_codes(spaced, m, pages, blocks, codes):
    """The dense trie codes of the code points of ``spaced[:m]`` into ``codes``, one per UTF-8
    sequence, and 0 for each byte of a malformed one and for a code point no entry holds
    (either ends every walk, as it did byte by byte); returns their number."""
    n_cp = 0
    i = 0
    while i < m:
        b = np.int64(spaced[i])
        # Fast paths for ASCII and for well-formed 3-byte sequences (the BMP beyond U+07FF:
        # CJK, Thai, Hangul, ...); anything else as ``decode_utf8`` says.
        if b < 0x80:
            codes[n_cp] = code_of(b, pages, blocks)
            i += 1
        elif (b & 0xF0) == 0xE0 and i + 3 <= m and (spaced[i + 1] & 0xC0) == 0x80 and (spaced[i + 2] & 0xC0) == 0x80 \
                and (b != 0xE0 or spaced[i + 1] >= 0xA0):
            cp = ((b & 0x0F) << 12) | ((np.int64(spaced[i + 1]) & 0x3F) << 6) | (np.int64(spaced[i + 2]) & 0x3F)
            codes[n_cp] = code_of(cp, pages, blocks)
            i += 3
        else:
            cp, n = decode_utf8(spaced, i, m)
            if n == 0:
                codes[n_cp] = 0
                i += 1
            else:
                codes[n_cp] = code_of(cp, pages, blocks)
                i += n
        n_cp += 1
    return n_cp


@numba.njit(cache=True, nogil=True, inline="always")
def walk_code_points(spaced, m, flags, cp_units, cp_ids, cp_roots, cp_pages, cp_blocks, codes, found, n_found):
    """Add the unpadded-edge entries found in ``spaced[:m]``. Entries unpadded at their start
    (no leading space): from each code point, follow the forward trie while its edges exist.
    Entries with a leading space are unpadded at their end: from each code point, follow the
    trie of reversed entries backwards. Both tries live in the one double array ``cp_units``
    (roots ``cp_roots``); ``flags`` (trigger bits of the text) say which can occur. The text
    is decoded once into ``codes`` (at least ``m`` long).

    One loop serves both tries, the direction a pair of scalars. Code 0 (a malformed byte,
    or a code point no entry holds) needs no test of its own: unit ``base + 0`` is never a
    child, as every code is >= 1."""
    n_cp = decode_codes(spaced, m, cp_pages, cp_blocks, codes)
    # Unsigned unit numbers: numba adds no negative-index fix-up to an unsigned index, and a
    # flat array needs no multiply by a row stride; both sat on the walk's load-to-load path.
    roots = (np.uint64(cp_roots[0]), np.uint64(cp_roots[1]))
    root_bases = (cp_units[roots[0] << ONE] >> HALF if flags & 1 else ZERO,
                  cp_units[roots[1] << ONE] >> HALF if flags & 2 else ZERO)
    for i in range(n_cp):
        c = np.uint64(codes[i])
        # A walk starts only where its root has an edge (a load in the root's row); most
        # positions of most texts start none, so both are tested before the loop below.
        start_f = root_bases[0] != ZERO and (cp_units[(root_bases[0] + c) << ONE] & FREE) == roots[0]
        start_b = root_bases[1] != ZERO and (cp_units[(root_bases[1] + c) << ONE] & FREE) == roots[1]
        if c == ZERO or not (start_f or start_b):
            continue
        for d in range(2):
            if not (start_f if d == 0 else start_b):
                continue
            s = root_bases[d] + c
            step, stop = (1, n_cp) if d == 0 else (-1, -1)
            j = i
            while True:
                info = cp_units[(s << ONE) | ONE]
                if info != ZERO:
                    n_found = add_entries(info, cp_ids, found, n_found)
                base = cp_units[s << ONE] >> HALF
                j += step
                if base == ZERO or j == stop:
                    break
                t = base + np.uint64(codes[j])
                if (cp_units[t << ONE] & FREE) != s:
                    break
                s = t
    return n_found


@numba.njit(cache=True, nogil=True, inline="always")
def collect_text(spaced, m, run_cp, tok_ids, slots, edge, tok_table, tok_bytes, tok_off, uni_ids, ng_table, ng_ids,
                 ng_filter, cp_units, cp_ids, cp_roots, cp_pages, cp_blocks,
                 found):
    """The entry ids matching the spaced text ``spaced[:m]``, unsorted, written to ``found``
    as far as it has room; returns their number (larger than ``found`` when it overflowed)."""
    n_found = 0
    # First pass: split on spaces and hash each token, eight bytes at a time (``spaced`` has 8
    # readable bytes past ``m``), and ask for each token's table slot; the buffers hold, per
    # token, its start (``tok_ids``), hash (``slots``) and first bytes (``edge``) until the
    # second pass probes the table.
    n_tok = 0
    start = 0
    size = tok_table.shape[0]
    while True:
        end = start
        while end < m:
            # The first space byte of a word: the lowest byte that the zero-byte test flags
            # (a borrow can flag bytes above a zero byte, never below one).
            x = load_word(spaced, end) ^ SPACES
            zero = (x - LOW_BYTES) & ~x & HIGH_BITS
            if zero != ZERO:
                end += np.int64(trailing_zeros(zero) >> np.uint64(3))
                break
            end += 8
        end = min(end, m)
        n = end - start
        h = FNV_OFFSET
        k = 0
        while n - k > 8:
            h = fold_word(h, load_word(spaced, start + k))
            k += 8
        h = finish_hash(h, load_word(spaced, start + k) & byte_mask(n - k), n)
        tok_ids[n_tok] = start
        slots[n_tok] = np.int64(h)
        edge[n_tok] = np.int64(load_word(spaced, start) & byte_mask(min(n, 8)))
        if n_tok > 0 and end < m:
            prefetch_row(tok_table, home(h, size))
        n_tok += 1
        if end >= m:
            break
        start = end + 1
    # Second pass: the lookups. The first and last tokens (before the leading and after the
    # trailing space) are never inside a match: not looked up.
    for k in range(n_tok):
        slot = -1
        if 0 < k < n_tok - 1:
            slot = probe_token(np.uint64(slots[k]), np.uint64(edge[k]), spaced, tok_ids[k], tok_ids[k + 1] - 1,
                               tok_table, tok_bytes, tok_off)
        slots[k] = slot
        tok_ids[k] = -1 if slot < 0 else np.int64(tok_table[slot, 0] & np.uint64((1 << ID_BITS) - 1))
    # First trie edges of every position in a loop of their own: independent lookups, so
    # their cache misses overlap. A bit filter answers most missing edges.
    filter_bits = np.uint64(ng_filter.shape[0] * 64 - 1)
    for i in range(1, n_tok - 2):
        edge[i] = -1
        tid, nxt = tok_ids[i], tok_ids[i + 1]
        if tid >= 0 and nxt >= 0 and (tok_table[slots[i], 2] >> np.uint64(63)) != 0:
            bit = mix64(node_key(-(tid + 1), nxt)) >> np.uint64(20) & filter_bits
            if (ng_filter[bit >> np.uint64(6)] >> (bit & np.uint64(63))) & np.uint64(1):
                edge[i] = find_child(-(tid + 1), nxt, ng_table)
    for i in range(1, n_tok - 1):
        tid = tok_ids[i]
        if tid < 0:
            continue
        info = tok_table[slots[i], 2]
        n_found = add_entries(info, uni_ids, found, n_found)
        if (info >> np.uint64(63)) == 0 or i >= n_tok - 2:
            continue
        node = -(tid + 1)
        for j in range(i + 1, n_tok - 1):
            if tok_ids[j] < 0:
                break
            slot = edge[i] if j == i + 1 else find_child(node, tok_ids[j], ng_table)
            if slot < 0:
                break
            n_found = add_entries(ng_table[slot, 2], ng_ids, found, n_found)
            node_word = ng_table[slot, 1]
            if (node_word >> np.uint64(63)) == 0:
                break
            node = np.int64(node_word & np.uint64(0xFFFFFFFF))
    if run_cp:
        # The token phase is over: its ``edge`` buffer is free to receive the text's codes.
        n_found = walk_code_points(spaced, m, run_cp, cp_units, cp_ids, cp_roots, cp_pages, cp_blocks, edge, found,
                                   n_found)
    return n_found


@numba.njit(cache=True, nogil=True)
def match_kernel(data, offsets, valid, tok_table, tok_bytes, tok_off, uni_ids, ng_table, ng_ids, ng_filter, trigger,
                 cp_units, cp_ids, cp_roots, cp_pages, cp_blocks):
    """Match every text; returns (``len + 1`` offsets, flat sorted unique entry ids)."""
    n_texts = offsets.shape[0] - 1
    out_off = np.zeros(n_texts + 1, dtype=np.int64)
    out = np.empty(max(16, n_texts * 8), dtype=np.int32)
    longest = 0
    for t in range(n_texts):
        longest = max(longest, offsets[t + 1] - offsets[t])
    spaced = np.zeros(3 * longest + 2 + 8, dtype=np.uint8)  # 8 bytes of slack for word reads
    tok_ids = np.empty(3 * longest + 3, dtype=np.int64)
    slots = np.empty(3 * longest + 3, dtype=np.int64)
    edge = np.empty(3 * longest + 3, dtype=np.int64)
    found = np.empty(256, dtype=np.int32)
    t, n_out = 0, 0
    # Buffers grow here, between calls, never inside the per-text loop: an array variable
    # that may change inside a loop costs reference counting on every iteration.
    while True:
        t, n_out, need_found, need_out = match_range(
            t, n_out, data, offsets, valid, tok_table, tok_bytes, tok_off, uni_ids, ng_table, ng_ids, ng_filter,
            trigger, cp_units, cp_ids, cp_roots, cp_pages, cp_blocks, spaced,
            tok_ids, slots, edge, found, out, out_off)
        if t == n_texts:
            return out_off, out[:n_out]
        if need_found:
            found = np.empty(2 * need_found, dtype=np.int32)
        if need_out:
            grown = np.empty(max(out.shape[0] * 2, need_out), dtype=np.int32)
            grown[:n_out] = out[:n_out]
            out = grown


@numba.njit(cache=True, nogil=True)
def match_range(first_text, n_out, data, offsets, valid, tok_table, tok_bytes, tok_off, uni_ids, ng_table, ng_ids,
                ng_filter, trigger, cp_units, cp_ids, cp_roots, cp_pages, cp_blocks, spaced, tok_ids, slots, edge,
                found, out, out_off):
    """Match texts from ``first_text`` on, appending to ``out``; returns ``(next text,
    n_out, found size needed, out size needed)``: it stops early (sizes > 0) at a text whose
    matches do not fit ``found`` or ``out``, to be resumed with larger ones."""
    n_texts = offsets.shape[0] - 1
    data, offsets, valid, tok_table, tok_bytes, tok_off, uni_ids, ng_table, ng_ids, ng_filter, trigger = (
        borrowed(data), borrowed(offsets), borrowed(valid), borrowed(tok_table), borrowed(tok_bytes),
        borrowed(tok_off), borrowed(uni_ids), borrowed(ng_table), borrowed(ng_ids), borrowed(ng_filter),
        borrowed(trigger))
    cp_units, cp_ids, cp_roots, cp_pages, cp_blocks, spaced, tok_ids, slots, edge, found, out, out_off = (
        borrowed(cp_units), borrowed(cp_ids), borrowed(cp_roots), borrowed(cp_pages), borrowed(cp_blocks),
        borrowed(spaced), borrowed(tok_ids), borrowed(slots), borrowed(edge), borrowed(found), borrowed(out),
        borrowed(out_off))
    for t in range(first_text, n_texts):
        n_found = 0
        start, end = offsets[t], offsets[t + 1]
        if valid[t] and end > start:
            m, run_cp = spaced_bytes(data, start, end, spaced, trigger)
            n_found = collect_text(spaced, m, run_cp, tok_ids, slots, edge, tok_table, tok_bytes, tok_off, uni_ids,
                                   ng_table, ng_ids, ng_filter, cp_units, cp_ids, cp_roots, cp_pages, cp_blocks, found)
            if n_found > found.shape[0]:
                return t, n_out, n_found, 0
            n_found = sort_unique(found, n_found)
        if n_out + n_found > out.shape[0]:
            return t, n_out, 0, n_out + n_found
        for k in range(n_found):  # a loop, not a slice copy: slices are reference-counted views
            out[n_out + k] = found[k]
        n_out += n_found
        out_off[t + 1] = n_out
    return n_texts, n_out, 0, 0


@numba.njit(cache=True, nogil=True)
def fill_token_table(tok_bytes, tok_off, info, table):
    size = table.shape[0]
    for tid in range(tok_off.shape[0] - 1):
        a, b = tok_off[tid], tok_off[tid + 1]
        h, head = token_hash(tok_bytes, a, b)
        slot = home(h, size)
        while table[slot, 0] != EMPTY:
            slot = slot + 1 if slot + 1 < size else 0
        table[slot, 0] = slot_key(h, tid, b - a)
        table[slot, 1] = head
        table[slot, 2] = info[tid]


@numba.njit(cache=True, nogil=True)
def fill_edge_filter(parent, last, bits):
    """Set one bit per first-level trie edge (parent < 0): a clear bit means no such edge."""
    mask = np.uint64(bits.shape[0] * 64 - 1)
    for node in range(parent.shape[0]):
        if parent[node] < 0:
            bit = mix64(node_key(parent[node], last[node])) >> np.uint64(20) & mask
            bits[bit >> np.uint64(6)] |= np.uint64(1) << (bit & np.uint64(63))


@numba.njit(cache=True, nogil=True)
def fill_node_table(parent, last, node_word, info, table):
    size = table.shape[0]
    for node in range(parent.shape[0]):
        key = node_key(parent[node], last[node])
        slot = home(mix64(key), size)
        while table[slot, 0] != EMPTY:
            slot = slot + 1 if slot + 1 < size else 0
        table[slot, 0] = key
        table[slot, 1] = node_word[node]
        table[slot, 2] = info[node]
