"""Export curated rows to WebDataset tars: plan fixed-size tars over the shards, write one.

Tar ``i`` holds samples ``[i * N, (i + 1) * N)`` of a global order: the shards' rows in
order, or (``shuffle_seed``) sorted by the hash coin ``coin(seed, key)``. Each tar comes
with ``NNNNN.parquet`` listing every sample it was given (key, status, error), failures
included, and a done marker; ``sizes.json`` counts the samples in each tar (open_clip reads it).
"""

import io
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation import layout
from curation.images import FetchOptions, ResizeOptions, fetch_all, prepare
from curation.io import exists, get_fs, join, open_atomic, read_json, write_json_atomic, write_parquet_atomic
from curation.wds import TarWriter, UniqueKeys

SIZES = "sizes.json"
STATUS_SCHEMA = pa.schema([("key", pa.string()), ("source_key", pa.string()), ("status", pa.string()),
                           ("error_message", pa.string()), ("url", pa.string()), ("width", pa.int32()),
                           ("height", pa.int32())])


@dataclass(frozen=True)
class ExportOptions:
    samples_per_tar: int = 10_000
    shuffle_seed: int | None = None
    text_column: str = "text"
    fetch: FetchOptions = field(default_factory=FetchOptions)
    resize: ResizeOptions = field(default_factory=ResizeOptions)


@dataclass(frozen=True)
class TarTask:
    """One tar: its name and the rows it takes, as (shard url, row indices) pieces."""

    name: str
    pieces: tuple


def shard_rows(url: str) -> int:
    fs, path = get_fs(url)
    with fs.open(path, "rb") as f:
        return pq.ParquetFile(f).metadata.num_rows


def plan_tars(shards: list[str], rows: list[int], samples_per_tar: int, order: np.ndarray | None = None):
    """Cut the global order into tars. ``order`` (a permutation of all rows, as global row
    numbers) replaces the shards' own order when given."""
    starts = np.concatenate(([0], np.cumsum(rows))).astype(np.int64)
    total = int(starts[-1])
    order = np.arange(total, dtype=np.int64) if order is None else order
    tasks = []
    for t, begin in enumerate(range(0, total, samples_per_tar)):
        chunk = order[begin:begin + samples_per_tar]
        shard_of = np.searchsorted(starts, chunk, side="right") - 1
        pieces = []
        for s in dict.fromkeys(shard_of.tolist()):  # shards in order of first appearance
            pieces.append((shards[s], tuple((chunk[shard_of == s] - starts[s]).tolist())))
        tasks.append(TarTask(layout.shard_name(t), tuple(pieces)))
    return tasks


def shuffled_order(shard_coins: list[np.ndarray]) -> np.ndarray:
    """Global row numbers sorted by each row's ``coin(seed, key)`` (ties by row number), given
    the coins of every shard in order: a deterministic shuffle that does not depend on how
    rows are sharded. The driver holds 16 bytes per row for the sort."""
    u = np.concatenate(shard_coins) if shard_coins else np.zeros(0)
    return np.lexsort((np.arange(len(u)), u)).astype(np.int64)


def read_rows(task: TarTask) -> pa.Table:
    """The rows of a tar, in the tar's order."""
    tables = []
    for url, rows in task.pieces:
        fs, path = get_fs(url)
        with fs.open(path, "rb") as f:
            tables.append(pq.read_table(f).take(pa.array(rows, pa.int64())))
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def write_tar(task: TarTask, out: str, entries: list[str], opts: ExportOptions,
              removed: frozenset = frozenset()) -> dict:
    """Write ``out/NNNNN.tar`` and ``out/NNNNN.parquet`` for one tar (skipped when done).

    Rows whose key is in ``removed`` (a keep list's removals) are listed, not written."""
    done = layout.done_url(out, task.name)
    if exists(done):
        return {**read_json(done), "skipped": True}
    rows = read_rows(task).to_pylist()
    images = _images(rows, opts.fetch, removed)
    status, written = [], 0
    unique = UniqueKeys()
    with open_atomic(join(out, f"{task.name}.tar")) as f:
        tar = TarWriter(f)
        for row, fetched in zip(rows, images):
            record = _write_sample(tar, row, fetched, unique, entries, opts)
            written += record["status"] == "success"
            status.append(record)
        tar.close()
    write_parquet_atomic(join(out, f"{task.name}.parquet"), pa.Table.from_pylist(status, schema=STATUS_SCHEMA))
    stats = {"tar": f"{task.name}.tar", "samples": written, "given": len(rows),
             "failed": {s: n for s, n in Counter(r["status"] for r in status).items() if s != "success"}}
    write_json_atomic(done, stats)
    return {**stats, "skipped": False}


def _images(rows: list[dict], opts: FetchOptions, removed: frozenset):
    from curation.images import Fetched

    skip = Fetched(None, "removed_by_keep_list", "")
    if rows and "image" in rows[0]:
        return [skip if str(r["key"]) in removed else Fetched(r["image"], "ok") if r.get("image")
                else Fetched(None, "no_image", "empty image column") for r in rows]
    wanted = [i for i, r in enumerate(rows) if str(r["key"]) not in removed]
    fetched = dict(zip(wanted, fetch_all([rows[i].get("url") or "" for i in wanted], opts)))
    return [fetched.get(i, skip) for i in range(len(rows))]


def _write_sample(tar: TarWriter, row: dict, fetched, unique: UniqueKeys, entries: list[str],
                  opts: ExportOptions) -> dict:
    key = unique(str(row["key"]))
    record = {"key": key, "source_key": str(row["key"]), "url": row.get("url"), "width": None, "height": None}
    if fetched.status != "ok":
        return {**record, "status": fetched.status, "error_message": fetched.error}
    image = prepare(fetched.data, opts.resize)
    if image.status != "ok":
        return {**record, "status": image.status, "error_message": image.error}
    ids = list(row.get("entry_ids") or [])
    meta = {"key": str(row["key"]), "url": row.get("url"), "lang": row.get("lang"), "entry_ids": ids,
            "entries": [entries[i] for i in ids] if entries else [], "width": image.width, "height": image.height}
    tar.add(f"{key}.{image.ext}", image.data)
    tar.add(f"{key}.txt", (row.get(opts.text_column) or "").encode("utf-8"))
    tar.add(f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return {**record, "status": "success", "error_message": "", "width": image.width, "height": image.height}


def write_sizes(out: str, stats: list[dict]) -> dict:
    sizes = {s["tar"]: s["samples"] for s in sorted(stats, key=lambda s: s["tar"])}
    write_json_atomic(join(out, SIZES), sizes)
    return sizes


def write_probabilities(out: str, p: np.ndarray) -> None:
    from curation.io import write_bytes_atomic
    from curation.online import PROBABILITIES

    buf = io.BytesIO()
    np.save(buf, p.astype(np.float32))
    write_bytes_atomic(join(out, PROBABILITIES), buf.getvalue())
