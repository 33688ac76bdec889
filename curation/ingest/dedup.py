"""Cross-file dedup of exact (url, text) pairs, on fixed-width keys only.

Every parsed row has a global index (its file's offset plus its row number, so input
order) and a 128-bit hash of its pair (``_h1``, ``_h2``). The hashes go to ``n_parts``
reducers by ``_h1``; a reducer sorts its (hash, index) records and marks every record but
the first of each hash as a duplicate; the duplicates' indexes go to the output shard
whose range of global indexes holds them; an output shard reads its range of the parsed
files, drops its duplicates and is written in input order. Strings never move: the
shuffles carry 24- and 8-byte records, and the rows stay in their parsed files.
"""

import numpy as np
import pyarrow as pa

from curation import layout
from curation.ingest.extract import HASH
from curation.io import read_parquet

RECORD = np.dtype([("h1", "<u8"), ("h2", "<u8"), ("index", "<i8")])
EMPTY_POOL = pa.schema([("key", pa.string()), ("url", pa.string()), ("text", pa.string())])


def output_ranges(rows_per_file: list[int], shards: int | None) -> np.ndarray:
    """Start of each output shard's range of global indexes, and the end: one shard per
    input file by default, else ``shards`` ranges of equal size (before dedup)."""
    offsets = np.concatenate([[0], np.cumsum(rows_per_file, dtype=np.int64)])
    if shards is None:
        return offsets
    return np.array([offsets[-1] * k // shards for k in range(shards + 1)], dtype=np.int64)


def hash_blocks(parsed_dir: str, name: str, offset: int, n_parts: int) -> list[tuple[int, bytes]]:
    """``(reducer, records)`` of one parsed file: its rows' hashes and global indexes,
    grouped by reducer."""
    table = read_parquet(layout.data_url(parsed_dir, name), columns=list(HASH))
    records = np.empty(table.num_rows, dtype=RECORD)
    records["h1"] = table[HASH[0]].to_numpy()
    records["h2"] = table[HASH[1]].to_numpy()
    records["index"] = offset + np.arange(table.num_rows, dtype=np.int64)
    part = records["h1"] % np.uint64(n_parts)
    return [(int(p), records[part == p].tobytes()) for p in np.unique(part)]


def duplicates(blocks: list[bytes]) -> np.ndarray:
    """Global indexes of the rows whose pair occurred at a smaller index."""
    if not blocks:
        return np.zeros(0, dtype=np.int64)
    records = np.frombuffer(b"".join(blocks), dtype=RECORD)
    order = np.lexsort((records["index"], records["h2"], records["h1"]))
    ranked = records[order]
    same = (ranked["h1"][1:] == ranked["h1"][:-1]) & (ranked["h2"][1:] == ranked["h2"][:-1])
    return ranked["index"][1:][same]


def route(dups: np.ndarray, ranges: np.ndarray) -> list[tuple[int, bytes]]:
    """``(output shard, duplicate indexes)`` pairs, one per shard that has any."""
    shard = np.searchsorted(ranges, dups, side="right") - 1
    return [(int(s), dups[shard == s].tobytes()) for s in np.unique(shard)]


def pool_shard(parsed_dir: str, names: list[str], file_offsets: np.ndarray, start: int, end: int,
               dup_blocks: list[bytes]) -> pa.Table:
    """Rows ``[start, end)`` of the parsed files, duplicates dropped, hashes removed."""
    drop = np.frombuffer(b"".join(dup_blocks), dtype=np.int64) if dup_blocks else np.zeros(0, np.int64)
    parts = []
    first = max(int(np.searchsorted(file_offsets, start, side="right")) - 1, 0)
    for i in range(first, len(names)):
        lo, hi = int(file_offsets[i]), int(file_offsets[i + 1])
        if lo >= end:
            break
        if hi <= start or hi == lo:
            continue
        a, b = max(start, lo), min(end, hi)
        table = read_parquet(layout.data_url(parsed_dir, names[i])).slice(a - lo, b - a)
        keep = ~np.isin(np.arange(a, b, dtype=np.int64), drop)
        parts.append(table.filter(pa.array(keep)).drop_columns(list(HASH)))
    if not parts:
        return EMPTY_POOL.empty_table()
    return pa.concat_tables(parts, promote_options="permissive")
