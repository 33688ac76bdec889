"""The export stage: one WebDataset tar per task.

Tar ``i`` holds samples ``[i * N, (i + 1) * N)`` of a global order: the shards' rows in
order, or (``shuffle_seed``) sorted by the hash coin ``coin(seed, key)``. Each tar comes
with ``NNNNN.parquet`` listing every sample it was given (key, status, error, whether a
retry could change it), failures included, and a done marker; ``sizes.json`` counts the
samples in each tar (open_clip reads it). Samples stream into the tar as their fetches
finish, in order, with a bounded number of images in memory.
"""


import json
import tempfile
import time
from collections import Counter

import pyarrow as pa

from curation.core.io import join
from curation.core.shards import Shard, ShardOutput, ShardStage
from curation.export.fetch import Fetcher
from curation.export.images import ResizeOptions, prepare
from curation.export.plan import read_rows, source_shard_names
from curation.export.policy import Fetched, FetchOptions
from curation.export.retry import OldTar, Reused, previous_attempt
from curation.export.wds import TarWriter, UniqueKeys

# Per sample: what the training-content summary (``curate summary``) needs besides the
# outcome: the domain, the bytes written, when it was fetched, the opt-out rules checked,
# faces blurred, whether a synthetic caption went with it.
STATUS_SCHEMA = pa.schema([("key", pa.string()), ("source_key", pa.string()), ("status", pa.string()),
                           ("error_message", pa.string()), ("url", pa.string()), ("width", pa.int32()),
                           ("height", pa.int32()), ("retryable", pa.bool_()), ("domain", pa.string()),
                           ("bytes", pa.int64()), ("text_words", pa.int32()), ("lang", pa.string()),
                           ("fetched_at", pa.string()), ("opt_out_checks", pa.string()), ("faces", pa.int32()),
                           ("caption", pa.bool_())])


def export_hooks(config) -> list:
    """The image hooks of an export: face blurring, and a ``--image-filter`` function."""
    from curation.export.images import user_hook

    hooks = []
    if config.blur_faces:
        from curation.export.faces import blur_faces

        hooks.append(blur_faces)
    if config.image_filter:
        hooks.append(user_hook(config.image_filter))
    return hooks


class ExportStage(ShardStage):
    """One tar per shard: ``NNNNN.tar`` (image, ``.txt``, ``.json`` per sample) and
    ``NNNNN.parquet`` listing every sample it was given (key, status, error), failures
    included. Rows whose key is in ``removed`` (a keep list's removals) are listed, not written."""

    name = "export"
    phase = "export"
    rows_key = "given"

    def __init__(self, out_dir: str, params: dict, entries: list[str], config, fetch: FetchOptions,
                 removed: frozenset = frozenset(), shards: list[str] | None = None, storage=None):
        super().__init__(out_dir, params)
        self.entries, self.config, self.fetch, self.removed, self.shards = entries, config, fetch, removed, shards
        self.storage = storage
        self.tars: list[Shard] = []  # the plan (``plan_tars``, or a shuffle plan's tars)

    def plan(self) -> list[Shard]:
        return self.tars

    def process(self, shard: Shard) -> ShardOutput:
        as_text: list = []
        rows = read_rows(shard.source, self.shards, as_text).to_pylist()
        captions = None
        if self.config.captions:
            from curation.gpu.caption import captions_for

            captions = captions_for(self.config.captions, source_shard_names(shard.source, self.shards),
                                    [str(r["key"]) for r in rows])
        previous = previous_attempt(self.out_dir, shard.name) if self.config.retry_failed else None
        old_tar = OldTar(join(self.out_dir, f"{shard.name}.tar")) if previous is not None else None
        fetcher = Fetcher(self.fetch, self.storage)
        hooks = export_hooks(self.config)
        status, written = [], 0
        unique = UniqueKeys()
        # Tars can be large: spooled to a local temporary file past 64 MiB, then written atomically.
        tar_file = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        tar = TarWriter(tar_file)
        try:
            sources = [_source(i, row, self.removed, previous) for i, row in enumerate(rows)]
            checks = opt_out_checks(self.fetch)
            for row, source, fetched in zip(rows, sources, fetcher.fetch_ordered(sources)):
                if isinstance(fetched, Reused):
                    record = fetched.copy_into(tar, unique, old_tar)
                else:
                    record = _write_sample(tar, row, fetched, unique, self.entries, self.config, hooks, captions)
                    record.update(_provenance(row, source, checks))
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
                 "retryable": sum(1 for r in status if r["retryable"]),
                 **({"columns_as_text": as_text} if as_text else {})}
        return ShardOutput(files, stats)


def _source(i: int, row: dict, removed: frozenset, previous: dict | None):
    """What to hand the fetcher for row ``i``: its url, or an outcome already known."""
    if previous is not None and i in previous:
        return previous[i]
    if str(row["key"]) in removed:
        return Fetched(None, "removed_by_keep_list", "")
    if "image" in row:
        return Fetched(row["image"], "ok") if row.get("image") else Fetched(None, "no_image", "empty image column")
    return row.get("url") or ""


def opt_out_checks(fetch: FetchOptions) -> str:
    """The opt-out rules a fetch checks, as the status table records them."""
    rules = ["robots.txt"] if fetch.robots else []
    directives = [d.strip() for d in fetch.disallowed_header_directives.split(",") if d.strip()]
    if directives:
        rules.append("x-robots-tag:" + "|".join(directives))
    return ",".join(rules + ["tdm-reservation"])


def _provenance(row: dict, source, checks: str) -> dict:
    """Where a sample came from: its domain, and for a fetched url when and under which rules."""
    from urllib.parse import urlsplit

    url = row.get("url")
    try:
        domain = (urlsplit(url).hostname or None) if isinstance(url, str) and "://" in url else None
    except ValueError:
        domain = None
    fetched = isinstance(source, str) and source != "" and domain is not None
    text = row.get("text")
    return {"domain": domain, "lang": row.get("lang") if isinstance(row.get("lang"), str) else None,
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) if fetched else None,
            "opt_out_checks": checks if fetched else None,
            "text_words": len(text.split()) if isinstance(text, str) else None}


def _write_sample(tar: TarWriter, row: dict, fetched: Fetched, unique: UniqueKeys, entries: list[str],
                  config, hooks: list, captions: dict | None = None) -> dict:
    key = unique(str(row["key"]))
    record = {"key": key, "source_key": str(row["key"]), "url": row.get("url"), "width": None, "height": None}
    if fetched.status != "ok":
        return {**record, "status": fetched.status, "error_message": fetched.error, "retryable": fetched.retryable}
    image = prepare(fetched.data, ResizeOptions(config.resize, config.resize_mode), config.max_pixels, hooks, row)
    if image.status != "ok":
        return {**record, "status": image.status, "error_message": image.error, "width": image.width,
                "height": image.height, "retryable": False}
    ids = list(row.get("entry_ids") or [])
    meta = {"key": str(row["key"]), "url": row.get("url"), "lang": row.get("lang"), "entry_ids": ids,
            "entries": [entries[i] for i in ids] if entries else [], "width": image.width, "height": image.height,
            **image.info}
    if isinstance(row.get("quality"), (int, float)):
        meta["quality"] = float(row["quality"])  # the alt-text's score, for balance-aware dedup
    tar.add(f"{key}.{image.ext}", image.data)
    tar.add(f"{key}.txt", (row.get(config.text_column) or "").encode("utf-8"))
    tar.add(f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    caption = captions.get(str(row["key"])) if captions is not None else None
    if caption:
        tar.add(f"{key}.syn.txt", caption.encode("utf-8"))
    faces = len(image.info["face_bboxes"]) if "face_bboxes" in image.info else None
    return {**record, "status": "success", "error_message": "", "width": image.width, "height": image.height,
            "retryable": False, "caption": bool(caption), "bytes": len(image.data), "faces": faces}
