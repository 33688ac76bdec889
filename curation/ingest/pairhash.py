"""The cross-file dedup key of a pool row: 128 bits of ``url + "\\n" + text``, as two
SipHash-1-3 values (Python's own string hash function) under two fixed keys, computed in
one compiled loop over a shard's Arrow buffers instead of a hashlib call per row."""

import numba
import numpy as np
import pyarrow as pa

KEYS = np.array([0x6375726174696F6E, 0x2D696E6765737431, 0x7061697273206F66, 0x75726C2B74657874], dtype=np.uint64)


def pair_hashes(urls, texts) -> np.ndarray:
    """``(n, 2)`` uint64 hashes of the pairs of two string columns (Arrow, no nulls)."""
    u_offsets, u_data = _buffers(urls)
    t_offsets, t_data = _buffers(texts)
    out = np.empty((len(u_offsets) - 1, 2), dtype=np.uint64)
    longest = int(np.max(np.diff(u_offsets).astype(np.int64) + np.diff(t_offsets), initial=0))
    scratch = np.zeros((longest + 1) // 8 + 2, dtype=np.uint64)
    _hash_pairs(u_offsets, u_data, t_offsets, t_data, scratch, scratch.view(np.uint8), KEYS, out)
    return out


def siphash13(data: bytes, k0: int, k1: int) -> int:
    """SipHash-1-3 of ``data`` (unsigned 64-bit), for tests against CPython's ``hash``."""
    scratch = np.zeros(len(data) // 8 + 2, dtype=np.uint64)
    scratch.view(np.uint8)[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    return int(_siphash13(scratch, len(data), np.uint64(k0), np.uint64(k1)))


def _buffers(column) -> tuple[np.ndarray, np.ndarray]:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.string())  # e.g. the null type of an empty column
    if array.null_count:
        raise ValueError("pair hashes need url and text on every row")
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=width)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, data


@numba.njit(cache=True, nogil=True, inline="always")
def _rotl(x, b):
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


@numba.njit(cache=True, nogil=True, inline="always")
def _sipround(v0, v1, v2, v3):
    v0 += v1
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 += v3
    v3 = _rotl(v3, 16) ^ v2
    v0 += v3
    v3 = _rotl(v3, 21) ^ v0
    v2 += v1
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


@numba.njit(cache=True, nogil=True)
def _siphash13(words, length, k0, k1):
    """SipHash-1-3 of the first ``length`` bytes of ``words`` (zero beyond them)."""
    v0 = k0 ^ np.uint64(0x736F6D6570736575)
    v1 = k1 ^ np.uint64(0x646F72616E646F6D)
    v2 = k0 ^ np.uint64(0x6C7967656E657261)
    v3 = k1 ^ np.uint64(0x7465646279746573)
    full = length // 8
    for i in range(full + 1):
        m = words[i]
        if i == full:  # the last word: the remaining bytes and the length in the top byte
            m = (m & ((np.uint64(1) << np.uint64(8 * (length % 8))) - np.uint64(1))) \
                | (np.uint64(length & 0xFF) << np.uint64(56))
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= np.uint64(0xFF)
    for _ in range(3):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


@numba.njit(cache=True, nogil=True)
def _hash_pairs(u_offsets, u_data, t_offsets, t_data, words, scratch, keys, out):
    for row in range(len(u_offsets) - 1):
        n = 0
        for p in range(u_offsets[row], u_offsets[row + 1]):
            scratch[n] = u_data[p]
            n += 1
        scratch[n] = 10  # "\n"
        n += 1
        for p in range(t_offsets[row], t_offsets[row + 1]):
            scratch[n] = t_data[p]
            n += 1
        # Bytes left in the last word by a longer row are masked off in _siphash13.
        out[row, 0] = _siphash13(words, n, keys[0], keys[1])
        out[row, 1] = _siphash13(words, n, keys[2], keys[3])
