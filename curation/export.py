"""Export curated rows to WebDataset tars: plan fixed-size tars over the shards, write one.

Tar ``i`` holds samples ``[i * N, (i + 1) * N)`` of a global order: the shards' rows in
order, or (``shuffle_seed``) sorted by the hash coin ``coin(seed, key)``. Each tar comes
with ``NNNNN.parquet`` listing every sample it was given (key, status, error), failures
included, and a done marker; ``sizes.json`` counts the samples in each tar (open_clip reads it).
"""

import hashlib
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation import layout
from curation.balancing import segment_probabilities
from curation.errors import InputError
from curation.hashing import coins
from curation.images import FetchOptions, ResizeOptions, fetch_all, prepare
from curation.io import exists, join, npy_bytes, parquet_rows, read_json, read_parquet, write_json_atomic
from curation.shards import MANIFEST, Shard, ShardOutput, ShardStage
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


def shard_rows(url: str) -> int:
    return parquet_rows(url)


def shard_coins(seed: int, url: str) -> np.ndarray:
    """The shuffle coin of every row of a shard, in row order."""
    return coins(read_parquet(url, columns=["key"])["key"], seed)


def plan_tars(shards: list[str], rows: list[int], samples_per_tar: int,
              order: np.ndarray | None = None) -> list[Shard]:
    """Cut the global order into tars: one ``Shard`` per tar, whose source is the rows it
    takes as (shard url, row indices) pieces. ``order`` (a permutation of all rows, as
    global row numbers) replaces the shards' own order when given."""
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
        tasks.append(Shard(layout.shard_name(t), tuple(pieces), t))
    return tasks


def shuffled_order(shard_coins: list[np.ndarray]) -> np.ndarray:
    """Global row numbers sorted by each row's ``coin(seed, key)`` (ties by row number), given
    the coins of every shard in order: a deterministic shuffle that does not depend on how
    rows are sharded. The driver holds 16 bytes per row for the sort."""
    u = np.concatenate(shard_coins) if shard_coins else np.zeros(0)
    return np.lexsort((np.arange(len(u)), u)).astype(np.int64)


def read_rows(pieces: tuple) -> pa.Table:
    """The rows of a tar, in the tar's order."""
    tables = [read_parquet(url).take(pa.array(rows, pa.int64())) for url, rows in pieces]
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


class ExportStage(ShardStage):
    """One tar per shard: ``NNNNN.tar`` (image, ``.txt``, ``.json`` per sample) and
    ``NNNNN.parquet`` listing every sample it was given (key, status, error), failures
    included. Rows whose key is in ``removed`` (a keep list's removals) are listed, not written."""

    name = "export"
    rows_key = "given"

    def __init__(self, out_dir: str, params: dict, entries: list[str], opts: ExportOptions,
                 removed: frozenset = frozenset()):
        super().__init__(out_dir, params)
        self.entries, self.opts, self.removed = entries, opts, removed

    def process(self, shard: Shard) -> ShardOutput:
        rows = read_rows(shard.source).to_pylist()
        images = _images(rows, self.opts.fetch, self.removed)
        status, written = [], 0
        unique = UniqueKeys()
        # Tars can be large: spooled to a local temporary file past 64 MiB, then written atomically.
        tar_file = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        tar = TarWriter(tar_file)
        for row, fetched in zip(rows, images):
            record = _write_sample(tar, row, fetched, unique, self.entries, self.opts)
            written += record["status"] == "success"
            status.append(record)
        tar.close()
        tar_file.seek(0)
        files = {join(self.out_dir, f"{shard.name}.tar"): tar_file,
                 join(self.out_dir, f"{shard.name}.parquet"): pa.Table.from_pylist(status, schema=STATUS_SCHEMA)}
        stats = {"tar": f"{shard.name}.tar", "samples": written, "given": len(rows),
                 "failed": {s: n for s, n in Counter(r["status"] for r in status).items() if s != "success"}}
        return ShardOutput(files, stats)


def plan_params(plan: dict) -> dict:
    """The parameters that key an export's done markers: the plan's options and a digest of
    its shards and row counts (the full plan is in the manifest)."""
    digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    return {**{k: v for k, v in plan.items() if k not in ("shards", "rows", "source")}, "plan_sha256": digest}


def run_folder(folder: str) -> str | None:
    """The run folder ``folder`` belongs to (itself, or the parent of its ``curated/``)."""
    if exists(join(folder, layout.MATCHED, MANIFEST)):
        return folder
    parent = folder.rstrip("/").rsplit("/", 1)[0]
    return parent if exists(join(parent, layout.MATCHED, MANIFEST)) else None


def export_source(curated: str, online: bool) -> tuple[str, str | None]:
    """(folder of the shards to export, run folder): ``curated/`` of a run (or the folder
    itself), or the run's ``matched/`` for an online export."""
    run = run_folder(curated)
    if online:
        if run is None:
            raise InputError(f"{curated}: --online needs a run folder (with matched/ and entry_counts.parquet)")
        return join(run, layout.MATCHED), run
    return (join(curated, layout.CURATED) if exists(join(curated, layout.CURATED)) else curated), run


def run_entries(run: str | None) -> list[str]:
    """The metadata entries of a run (none when the export has no run folder)."""
    from curation.metadata_io import load_metadata

    return load_metadata(read_json(join(run, layout.MATCHED, MANIFEST))["metadata"]).entries if run else []


def run_probabilities(run: str) -> np.ndarray:
    """Per-entry ``p`` of a run, exactly as balancing computed it: the entry counts with
    each language's t from the data card."""
    card = read_json(join(run, layout.DATACARD))
    table = read_parquet(join(run, layout.ENTRY_COUNTS))
    counts = table["count"].to_numpy()
    if "lang" in table.column_names and card.get("languages"):
        langs = table["lang"].to_pylist()
        segments: dict = {}
        for i, lang in enumerate(langs):
            start, _ = segments.get(lang, (i, i))
            segments[lang] = (start, i + 1)
        thresholds = {row["lang"]: row["t"] for row in card["languages"]}
    else:
        from curation.metadata_io import SINGLE

        segments, thresholds = {SINGLE: (0, len(counts))}, {SINGLE: card["t"]}
    return segment_probabilities(counts, segments, thresholds)


def finish_export(out: str, stats: list[dict], run: str | None, online: bool, seconds: float) -> dict:
    """Write ``sizes.json``, ``export_stats.json`` and, online, ``probabilities.npy`` and the
    run's data card; return the summary."""
    sizes = write_sizes(out, stats)
    if online:
        write_probabilities(out, run_probabilities(run))
        write_json_atomic(join(out, layout.DATACARD), read_json(join(run, layout.DATACARD)))
    failed = dict(sum((Counter(s["failed"]) for s in stats), Counter()))
    summary = {"tars": len(sizes), "samples": sum(sizes.values()), "given": sum(s["given"] for s in stats),
               "failed": failed, "seconds": round(seconds, 2)}
    write_json_atomic(join(out, "export_stats.json"), summary)
    return summary


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
    """``probabilities.npy`` in float64: the exact p of balancing, so that epoch 0 of online
    balancing is the offline subset itself."""
    from curation.io import write_bytes_atomic
    from curation.online import PROBABILITIES

    write_bytes_atomic(join(out, PROBABILITIES), npy_bytes(np.asarray(p, dtype=np.float64)))
