"""The balancing coin: a documented 64-bit hash of (seed, key), mapped to [0, 1).

    fnv1a64(b)      = FNV-1a 64 over the UTF-8 bytes b of the key
                      (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
    splitmix64(x)   = x += 0x9e3779b97f4a7c15;
                      x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9;
                      x = (x ^ x >> 27) * 0x94d049bb133111eb;
                      x ^ x >> 31                       (all mod 2**64)
    H(seed, key)    = splitmix64(fnv1a64(key) ^ splitmix64(seed mod 2**64))
    u(seed, key)    = (H >> 11) / 2**53

The coin depends on nothing but the seed and the key, so a run keeps the same subset on
1 or 1000 executors, after task retries, and on rerun. ``coin`` is the plain Python
definition; ``coins`` is the compiled, vectorised form used on Arrow arrays.
"""

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def splitmix64(x: int) -> int:
    """SplitMix64 finaliser of a 64-bit integer."""
    x = (x + _GOLDEN) & MASK64
    x = ((x ^ (x >> 30)) * _MIX1) & MASK64
    x = ((x ^ (x >> 27)) * _MIX2) & MASK64
    return x ^ (x >> 31)


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


def coin_hash(seed: int, key: str) -> int:
    """H(seed, key), the 64-bit hash behind the coin."""
    return splitmix64(fnv1a64(key.encode("utf-8")) ^ splitmix64(seed & MASK64))


def coin(seed: int, key: str) -> float:
    """u(seed, key) in [0, 1): the balancing coin of one key."""
    return (coin_hash(seed, key) >> 11) * 2.0**-53


def coins(keys: pa.Array, seed: int) -> np.ndarray:
    """``coin(seed, key)`` for every key of an Arrow string array (no nulls), as float64."""
    return (coin_hashes(keys, seed) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def coin_hashes(keys: pa.Array, seed: int) -> np.ndarray:
    """``H(seed, key)`` for every key of an Arrow string array (no nulls), as uint64."""
    keys = _as_large_string(keys)
    n = len(keys)
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int64)[keys.offset : keys.offset + n + 1]
    data_buf = keys.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return _hash_kernel(offsets, data, np.uint64(splitmix64(seed & MASK64)))


def _as_large_string(keys) -> pa.LargeStringArray:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if keys.null_count:
        raise ValueError("coins: keys must not be null")
    if not pa.types.is_large_string(keys.type):
        keys = pc.cast(keys, pa.large_string())
    return keys


@numba.njit(cache=True, nogil=True)
def _splitmix64_nb(x):
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MIX1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MIX2)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _hash_kernel(offsets, data, seed_mix):
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = np.uint64(FNV_OFFSET)
        for j in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[j])) * np.uint64(FNV_PRIME)
        out[i] = _splitmix64_nb(h ^ seed_mix)
    return out
