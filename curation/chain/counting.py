"""Counting matches per entry: sparse per-shard counts, summed into one dense vector.

``count[i]`` is the number of texts whose match list contains ``i``. Match lists hold
unique ids, so that is the number of occurrences of ``i`` in the flattened lists.
"""

import numba
import numpy as np
import pyarrow as pa

from curation.chain.balancing import list_parts

COUNTS_SCHEMA = pa.schema([("entry_id", pa.int32()), ("count", pa.int64())])


def sparse_counts(entry_ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, counts)`` of the entries present in a ``list<int>`` array, ids ascending."""
    flat, _ = list_parts(entry_ids)
    dense = _bincount(flat, int(flat.max()) + 1 if flat.size else 0)  # linear time; np.unique would sort
    ids = np.flatnonzero(dense)
    return ids.astype(np.int32), dense[ids]


@numba.njit(cache=True, nogil=True)
def _bincount(values, size):
    out = np.zeros(size, dtype=np.int64)
    for v in values:
        out[v] += 1
    return out


def counts_table(ids: np.ndarray, counts: np.ndarray) -> pa.Table:
    return pa.table([pa.array(ids, pa.int32()), pa.array(counts, pa.int64())], schema=COUNTS_SCHEMA)


def add_sparse(dense: np.ndarray, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Add sparse counts (unique ``ids``) into ``dense`` in place and return it."""
    dense[ids] += counts  # ids are unique, so plain fancy-index addition is exact (and faster than add.at)
    return dense


def matches_histogram(entry_ids: pa.Array) -> list[int]:
    """``h[k]`` = number of texts with exactly ``k`` matched entries."""
    _, offsets = list_parts(entry_ids)
    return np.bincount(np.diff(offsets)).tolist() if len(offsets) > 1 else []


def add_histograms(a: list[int], b: list[int]) -> list[int]:
    out = [0] * max(len(a), len(b))
    for hist in (a, b):
        for k, n in enumerate(hist):
            out[k] += n
    return out
