"""Export curated rows to WebDataset tars: plan fixed-size tars over the shards, write one.

Tar ``i`` holds samples ``[i * N, (i + 1) * N)`` of a global order: the shards' rows in
order, or (``shuffle_seed``) sorted by the hash coin ``coin(seed, key)``. Each tar comes
with ``NNNNN.parquet`` listing every sample it was given (key, status, error, whether a
retry could change it), failures included, and a done marker; ``sizes.json`` counts the
samples in each tar (open_clip reads it). Samples stream into the tar as their fetches
finish, in order, with a bounded number of images in memory.
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
from curation.fetch import Fetched, Fetcher, FetchOptions
from curation.hashing import coins
from curation.images import DEFAULT_MAX_PIXELS, ResizeOptions, prepare
from curation.io import exists, join, npy_bytes, parquet_rows, read_json, read_parquet, write_json_atomic
from curation.shards import MANIFEST, Shard, ShardOutput, ShardStage
from curation.wds import TarWriter, UniqueKeys

SIZES = "sizes.json"
STATUS_SCHEMA = pa.schema([("key", pa.string()), ("source_key", pa.string()), ("status", pa.string()),
                           ("error_message", pa.string()), ("url", pa.string()), ("width", pa.int32()),
                           ("height", pa.int32()), ("retryable", pa.bool_())])


@dataclass(frozen=True)
class ExportOptions:
    samples_per_tar: int = 10_000
    shuffle_seed: int | None = None
    text_column: str = "text"
    fetch: FetchOptions = field(default_factory=FetchOptions)
    resize: ResizeOptions = field(default_factory=ResizeOptions)
    max_pixels: int = DEFAULT_MAX_PIXELS
    blur_faces: bool = False
    image_filter: str | None = None  # "module:function", see ``curation.images.user_hook``
    retry_failed: bool = False
    captions: str | None = None  # folder of caption shards named like the curated shards

    def hooks(self) -> list:
        from curation.images import user_hook

        hooks = []
        if self.blur_faces:
            from curation.faces import blur_faces

            hooks.append(blur_faces)
        if self.image_filter:
            hooks.append(user_hook(self.image_filter))
        return hooks


def shard_rows(url: str) -> int:
    return parquet_rows(url)


def plan_tars(shards: list[str], rows: list[int], samples_per_tar: int) -> list[Shard]:
    """Cut the shards' rows, in order, into tars: one ``Shard`` per tar, whose source is its
    rows as (shard url, first row, end row) ranges (no per-row state)."""
    starts = np.concatenate(([0], np.cumsum(rows))).astype(np.int64)
    total = int(starts[-1])
    tasks = []
    for t, begin in enumerate(range(0, total, samples_per_tar)):
        end = min(total, begin + samples_per_tar)
        pieces = []
        for s in range(int(np.searchsorted(starts, begin, side="right")) - 1, len(shards)):
            lo, hi = max(begin, starts[s]), min(end, starts[s + 1])
            if lo >= end:
                break
            if hi > lo:
                pieces.append(("range", shards[s], int(lo - starts[s]), int(hi - starts[s])))
        tasks.append(Shard(layout.shard_name(t), tuple(pieces), t))
    return tasks


# The shuffled order (``--shuffle-seed``) is a sort of every row by (coin(seed, key), key,
# shard, row), run as a shuffle on the executor (``curation.export_run``); each tar's rows are
# written to ``_plan/<tar>.parquet`` by the tasks. The functions below are its pieces.
PLAN = "_plan"


def shard_sort_keys(seed: int, index: int, url: str) -> list[tuple]:
    """``(coin, key, shard, row)`` of every row of a shard, the shuffle's sort key."""
    keys = read_parquet(url, columns=["key"])["key"].combine_chunks().cast(pa.string())
    u = coins(keys, seed)
    return [(float(c), k, index, row) for row, (c, k) in enumerate(zip(u.tolist(), keys.to_pylist()))]


def tar_plan(positions_rows: list[tuple[int, int, int]]) -> pa.Table:
    """One tar's rows from their (global position, shard, row), in position order: the
    tar's sample order, the same however the rows were sharded."""
    ordered = sorted(positions_rows)
    return pa.table({"shard": pa.array([p[1] for p in ordered], pa.int32()),
                     "row": pa.array([p[2] for p in ordered], pa.int64())})


def plan_url(out: str, tar: int) -> str:
    return join(out, PLAN, f"{layout.shard_name(tar)}.parquet")


def read_rows(pieces: tuple, shards: list[str] | None = None) -> pa.Table:
    """The rows of a tar, in the tar's order: from ``("range", url, start, end)`` pieces, or
    from a ``("plan", plan url)`` piece of a shuffled export (``shards``: the shard urls)."""
    tables = []
    for piece in pieces:
        if piece[0] == "range":
            _, url, start, end = piece
            tables.append(read_parquet(url).slice(start, end - start))
        else:
            plan = read_parquet(piece[1])
            shard_ids, rows = plan["shard"].to_numpy(), plan["row"].to_numpy()
            parts, where = [], []
            for s in dict.fromkeys(shard_ids.tolist()):
                mine = np.flatnonzero(shard_ids == s)
                parts.append(read_parquet(shards[s]).take(pa.array(rows[mine], pa.int64())))
                where.append(mine)
            grouped = pa.concat_tables(parts, promote_options="default") if len(parts) > 1 else parts[0]
            # Back from shard groups to the plan's order.
            tables.append(grouped.take(pa.array(np.argsort(np.concatenate(where), kind="stable"), pa.int64())))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


class ExportStage(ShardStage):
    """One tar per shard: ``NNNNN.tar`` (image, ``.txt``, ``.json`` per sample) and
    ``NNNNN.parquet`` listing every sample it was given (key, status, error), failures
    included. Rows whose key is in ``removed`` (a keep list's removals) are listed, not written."""

    name = "export"
    phase = "export"
    rows_key = "given"

    def __init__(self, out_dir: str, params: dict, entries: list[str], opts: ExportOptions,
                 removed: frozenset = frozenset(), shards: list[str] | None = None):
        super().__init__(out_dir, params)
        self.entries, self.opts, self.removed, self.shards = entries, opts, removed, shards
        self.tars: list[Shard] = []  # the plan (``plan_tars``, or a shuffle plan's tars)

    def plan(self) -> list[Shard]:
        return self.tars

    def process(self, shard: Shard) -> ShardOutput:
        rows = read_rows(shard.source, self.shards).to_pylist()
        captions = None
        if self.opts.captions:
            from curation.gpu.caption import captions_for

            captions = captions_for(self.opts.captions, source_shard_names(shard.source, self.shards),
                                    [str(r["key"]) for r in rows])
        previous = _previous_attempt(self.out_dir, shard.name) if self.opts.retry_failed else None
        old_tar = _OldTar(join(self.out_dir, f"{shard.name}.tar")) if previous is not None else None
        fetcher = Fetcher(self.opts.fetch)
        hooks = self.opts.hooks()
        status, written = [], 0
        unique = UniqueKeys()
        # Tars can be large: spooled to a local temporary file past 64 MiB, then written atomically.
        tar_file = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        tar = TarWriter(tar_file)
        try:
            sources = [_source(i, row, self.removed, previous) for i, row in enumerate(rows)]
            for row, fetched in zip(rows, fetcher.fetch_ordered(sources)):
                if isinstance(fetched, _Reused):
                    record = fetched.copy_into(tar, unique, old_tar)
                else:
                    record = _write_sample(tar, row, fetched, unique, self.entries, self.opts, hooks, captions)
                written += record["status"] == "success"
                status.append(record)
        finally:
            fetcher.close()
            if old_tar is not None:
                old_tar.close()
        tar.close()
        tar_file.seek(0)
        files = {join(self.out_dir, f"{shard.name}.tar"): tar_file,
                 join(self.out_dir, f"{shard.name}.parquet"): pa.Table.from_pylist(status, schema=STATUS_SCHEMA)}
        counts = Counter(r["status"] for r in status)
        stats = {"tar": f"{shard.name}.tar", "samples": written, "given": len(rows),
                 **({"with_caption": sum(1 for r in status if r.get("caption"))} if captions is not None else {}),
                 "failed": {s: n for s, n in counts.items() if s != "success"},
                 "retryable": sum(1 for r in status if r["retryable"])}
        return ShardOutput(files, stats)


class _Reused:
    """A sample kept from the previous attempt at a tar (``--retry-failed``): its status
    record as it was, and (a success) its members copied from the old tar."""

    def __init__(self, record: dict):
        self.record = record

    def copy_into(self, tar: TarWriter, unique: UniqueKeys, old: "_OldTar") -> dict:
        unique(self.record["source_key"])  # keeps the later keys as they were
        if self.record["status"] == "success":
            for name, data in old.members_of(self.record["key"]):
                tar.add(name, data)
        return self.record


class _OldTar:
    """The previous attempt's tar, read as a stream: its samples come in the same order as
    the rows that reuse them, so one member is held at a time."""

    def __init__(self, url: str):
        import tarfile

        from curation.io import get_fs

        fs, path = get_fs(url)
        self._file = fs.open(path, "rb")
        self._tar = tarfile.open(fileobj=self._file, mode="r|")
        self._members = iter(self._tar)
        self._tar_next = None

    def members_of(self, key: str) -> list[tuple[str, bytes]]:
        found = []
        while True:
            member = self._tar_next or next(self._members, None)
            self._tar_next = None
            if member is None:
                return found
            name_key = member.name.split(".", 1)[0]
            if name_key != key:
                if found:  # the next sample starts: keep its first member for later
                    self._tar_next = member
                    return found
                continue  # a member of a sample this retry replaces: skipped
            found.append((member.name, self._tar.extractfile(member).read()))

    def close(self) -> None:
        self._file.close()


def _source(i: int, row: dict, removed: frozenset, previous: dict | None):
    """What to hand the fetcher for row ``i``: its url, or an outcome already known."""
    if previous is not None and i in previous:
        return previous[i]
    if str(row["key"]) in removed:
        return Fetched(None, "removed_by_keep_list", "")
    if "image" in row:
        return Fetched(row["image"], "ok") if row.get("image") else Fetched(None, "no_image", "empty image column")
    return row.get("url") or ""


def _previous_attempt(out_dir: str, name: str) -> dict | None:
    """Row index -> ``_Reused`` for every sample of an earlier attempt at this tar that a
    retry would not change (successes, and failures that are not retryable)."""
    status_url, tar_url = join(out_dir, f"{name}.parquet"), join(out_dir, f"{name}.tar")
    if not (exists(status_url) and exists(tar_url)):
        return None
    kept = {}
    for i, record in enumerate(read_parquet(status_url).to_pylist()):
        if "retryable" not in record or record["retryable"] is None:
            record["retryable"] = Fetched(None, record["status"], record["error_message"] or "").retryable
        if not record["retryable"]:
            kept[i] = _Reused(record)
    return kept


def retry_candidates(out_dir: str, names: list[str]) -> list[str]:
    """The tars of an export whose status lists a sample a retry could change."""
    found = []
    for name in names:
        url = join(out_dir, f"{name}.parquet")
        if not exists(url):
            continue
        table = read_parquet(url)
        if "retryable" in table.column_names:
            retry = any(table["retryable"].to_pylist())
        else:
            retry = any(Fetched(None, r["status"], r["error_message"] or "").retryable for r in table.to_pylist())
        if retry:
            found.append(name)
    return found


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
    given, written = sum(s["given"] for s in stats), sum(sizes.values())
    summary = {"tars": len(sizes), "samples": written, "given": given, "failed": failed,
               "retryable": sum(s.get("retryable", 0) for s in stats), "funnel": funnel(failed, given, written),
               "seconds": round(seconds, 2)}
    if any("with_caption" in s for s in stats):
        with_caption = sum(s.get("with_caption", 0) for s in stats)
        summary["captions"] = {"with_caption": with_caption, "without_caption": written - with_caption}
    if run is not None and exists(join(run, layout.DATACARD)):
        # The run's data card shows the funnel of its exports (and the report with it).
        card = read_json(join(run, layout.DATACARD))
        summary["funnel"] = {"matched": card.get("matched_rows"), **summary["funnel"]}
        card.setdefault("exports", {})[out] = {"online": online, "funnel": summary["funnel"]}
        write_json_atomic(join(run, layout.DATACARD), card)
    write_json_atomic(join(out, "export_stats.json"), summary)
    return summary


def source_shard_names(pieces: tuple, shards: list[str] | None) -> list[str]:
    """The names (``00003``) of the shards a tar's rows come from."""
    urls = []
    for piece in pieces:
        if piece[0] == "range":
            urls.append(piece[1])
        else:
            urls += [shards[s] for s in np.unique(read_parquet(piece[1], columns=["shard"])["shard"].to_numpy())]
    return list(dict.fromkeys(u.rsplit("/", 1)[-1][: -len(".parquet")] for u in urls))


def _write_sample(tar: TarWriter, row: dict, fetched: Fetched, unique: UniqueKeys, entries: list[str],
                  opts: ExportOptions, hooks: list, captions: dict | None = None) -> dict:
    key = unique(str(row["key"]))
    record = {"key": key, "source_key": str(row["key"]), "url": row.get("url"), "width": None, "height": None}
    if fetched.status != "ok":
        return {**record, "status": fetched.status, "error_message": fetched.error, "retryable": fetched.retryable}
    image = prepare(fetched.data, opts.resize, opts.max_pixels, hooks, row)
    if image.status != "ok":
        return {**record, "status": image.status, "error_message": image.error, "width": image.width,
                "height": image.height, "retryable": False}
    ids = list(row.get("entry_ids") or [])
    meta = {"key": str(row["key"]), "url": row.get("url"), "lang": row.get("lang"), "entry_ids": ids,
            "entries": [entries[i] for i in ids] if entries else [], "width": image.width, "height": image.height,
            **image.info}
    tar.add(f"{key}.{image.ext}", image.data)
    tar.add(f"{key}.txt", (row.get(opts.text_column) or "").encode("utf-8"))
    tar.add(f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    caption = captions.get(str(row["key"])) if captions is not None else None
    if caption:
        tar.add(f"{key}.syn.txt", caption.encode("utf-8"))
    return {**record, "status": "success", "error_message": "", "width": image.width, "height": image.height,
            "retryable": False, "caption": bool(caption)}


FUNNEL_FETCH_FAILURES = ("failed_to_download", "too_large", "refused", "host_unavailable", "deadline", "no_image")
FUNNEL_FILTERED = ("removed_by_keep_list", "decode_error", "image_too_large", "filtered")


def funnel(failed: dict, given: int, written: int) -> dict:
    """curated (given to export) -> opted out -> fetched -> filtered -> written (with a run
    folder, ``finish_export`` puts the run's matched rows in front)."""
    opted_out = failed.get("opted_out", 0)
    not_fetched = sum(failed.get(s, 0) for s in FUNNEL_FETCH_FAILURES)
    filtered = sum(failed.get(s, 0) for s in FUNNEL_FILTERED)
    return {"curated": given, "opted_out": opted_out, "fetch_failed": not_fetched,
            "fetched": given - opted_out - not_fetched, "filtered": filtered, "written": written}


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
