"""Cross-file dedup of exact (url, text) pairs, on fixed-width keys only.

Every parsed row has a global index (its file's offset plus its row number, so input
order) and a 128-bit hash of its pair (``NNNNN.hashes`` beside the parsed shard, see
``curation.ingest.pairhash``). The hashes go to reducers by their first 64 bits; a reducer
sorts its (hash, index) records and marks every record but the first of each hash as a
duplicate; the duplicates' indexes go to the writer of the output shard whose range of
global indexes holds them; an output shard is its range of the parsed files without its
duplicates, in input order (a byte copy when the range is one whole parsed file without
duplicates). Strings never move: the
shuffles carry 24- and 8-byte records, and the rows stay in their parsed files.
"""

import numpy as np
import pyarrow as pa

from curation.core import layout
from curation.core.io import join, open_read, read_bytes, read_parquet, write_atomic

RECORD = np.dtype([("h1", "<u8"), ("h2", "<u8"), ("index", "<i8")])
EMPTY_POOL = pa.schema([("key", pa.string()), ("url", pa.string()), ("text", pa.string())])
MAX_FILES_PER_TASK = 16


def hashes_url(parsed_dir: str, name: str) -> str:
    return join(parsed_dir, f"{name}.hashes")


def task_count(items: int, parallelism: int) -> int:
    """Tasks for ``items`` small per-file steps: a few per core, at most
    ``MAX_FILES_PER_TASK`` files each, so Spark's per-task cost is shared."""
    return max(1, min(items, max(2 * parallelism, -(-items // MAX_FILES_PER_TASK))))


def output_ranges(rows_per_file: list[int], shards: int | None) -> np.ndarray:
    """Start of each output shard's range of global indexes, and the end: one shard per
    input file by default, else ``shards`` ranges of equal size (before dedup)."""
    offsets = np.concatenate([[0], np.cumsum(rows_per_file, dtype=np.int64)])
    if shards is None:
        return offsets
    return np.array([offsets[-1] * k // shards for k in range(shards + 1)], dtype=np.int64)


def hash_blocks(parsed_dir: str, name: str, offset: int, reducers: int) -> list[tuple[int, bytes]]:
    """``(reducer, records)`` of one parsed file: its rows' hashes and global indexes,
    grouped by reducer."""
    halves = np.frombuffer(read_bytes(hashes_url(parsed_dir, name)), dtype="<u8").reshape(-1, 2)
    records = np.empty(len(halves), dtype=RECORD)
    records["h1"], records["h2"] = halves[:, 0], halves[:, 1]
    records["index"] = offset + np.arange(len(halves), dtype=np.int64)
    part = records["h1"] % np.uint64(reducers)
    return [(int(p), records[part == p].tobytes()) for p in np.unique(part)]


def duplicates(blocks: list[bytes]) -> np.ndarray:
    """Global indexes of the rows whose pair occurred at a smaller index."""
    if not blocks:
        return np.zeros(0, dtype=np.int64)
    records = np.frombuffer(b"".join(blocks), dtype=RECORD)
    ranked = records[np.lexsort((records["index"], records["h2"], records["h1"]))]
    same = (ranked["h1"][1:] == ranked["h1"][:-1]) & (ranked["h2"][1:] == ranked["h2"][:-1])
    return ranked["index"][1:][same]


def route(dups: np.ndarray, ranges: np.ndarray) -> list[tuple[int, bytes]]:
    """``(output shard, duplicate indexes)`` pairs, one per shard that has any."""
    shard = np.searchsorted(ranges, dups, side="right") - 1
    return [(int(s), dups[shard == s].tobytes()) for s in np.unique(shard)]


def writer_of(shard: int, shards: int, writers: int) -> int:
    """The writer task of an output shard: each writes a contiguous run of shards, so a
    parsed file split over several of them is read once per writer (see ``ParsedFiles``)."""
    return shard * writers // shards


class ParsedFiles:
    """Parsed shards read for output shards, the last one kept: consecutive output shards
    of one writer mostly cut one parsed file into ranges."""

    def __init__(self, parsed_dir: str, names: list[str]):
        self.parsed_dir, self.names = parsed_dir, names
        self.index, self.table = None, None

    def url(self, i: int) -> str:
        return layout.data_url(self.parsed_dir, self.names[i])

    def read(self, i: int) -> pa.Table:
        if self.index != i:
            self.index, self.table = i, read_parquet(self.url(i))
        return self.table


def write_pool_shard(url: str, files: ParsedFiles, file_offsets: np.ndarray, start: int, end: int,
                     drop: np.ndarray) -> int:
    """Write rows ``[start, end)`` of the parsed files minus the ``drop`` indexes to
    ``url``; return how many rows it has."""
    first = max(int(np.searchsorted(file_offsets, start, side="right")) - 1, 0)
    spans = []
    for i in range(first, len(files.names)):
        lo, hi = int(file_offsets[i]), int(file_offsets[i + 1])
        if lo >= end:
            break
        if hi > start and hi > lo:
            spans.append((i, max(start, lo), min(end, hi)))
    if len(spans) == 1 and not len(drop) and _whole_file(spans[0], file_offsets):
        with open_read(files.url(spans[0][0])) as f:  # the whole file, as it is
            write_atomic(url, f)
        return end - start
    parts = []
    for i, a, b in spans:
        table = files.read(i).slice(a - int(file_offsets[i]), b - a)
        if len(drop):
            table = table.filter(pa.array(~np.isin(np.arange(a, b, dtype=np.int64), drop)))
        parts.append(table)
    table = pa.concat_tables(parts, promote_options="permissive") if parts else EMPTY_POOL.empty_table()
    write_atomic(url, table)
    return table.num_rows


def _whole_file(span: tuple[int, int, int], file_offsets: np.ndarray) -> bool:
    i, a, b = span
    return a == file_offsets[i] and b == file_offsets[i + 1]
