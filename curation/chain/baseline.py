"""The uniform baseline of an experiment (``curate experiment``): as many rows as a curated
run kept, drawn uniformly from the rows that matched, by the coin ``u(seed, key)`` (the
smallest ``n`` coins, ties by key), so any sharding draws the same rows. Written as one
Parquet file per matched shard, a folder `curate export` reads like a ``curated/`` one."""

import numpy as np
import pyarrow as pa

from curation.core.errors import InputError
from curation.core.hashing import coins
from curation.core.io import join, list_files, read_parquet, write_parquet_atomic


def uniform_baseline(matched: str, n: int, seed: int, out: str) -> int:
    """Write ``n`` rows of ``matched/`` drawn uniformly into ``out``; returns the rows written."""
    shards = list_files(matched, (".parquet",))
    if not shards:
        raise InputError(f"{matched}: no matched shards (run `curate curate` first)")
    drawn = []
    for i, url in enumerate(shards):
        keys = read_parquet(url, columns=["key"])["key"].combine_chunks().cast(pa.string())
        drawn.append((coins(keys, seed), np.asarray(keys.to_pylist(), dtype=object), np.full(len(keys), i),
                      np.arange(len(keys))))
    u = np.concatenate([d[0] for d in drawn])
    if n > len(u):
        raise InputError(f"{matched}: {len(u)} matched rows, fewer than the {n} of the baseline")
    keys = np.concatenate([d[1] for d in drawn])
    shard_of, row_of = np.concatenate([d[2] for d in drawn]), np.concatenate([d[3] for d in drawn])
    chosen = np.lexsort((keys.astype(str), u))[:n]
    for i, url in enumerate(shards):
        rows = np.sort(row_of[chosen][shard_of[chosen] == i])
        table = read_parquet(url).take(pa.array(rows, pa.int64()))
        write_parquet_atomic(join(out, url.rsplit("/", 1)[-1]), table)
    return int(n)
