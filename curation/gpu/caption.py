"""Synthetic captions (Altogether, arXiv 2410.17251; MetaCLIP 1.2): one caption per curated
image from an open_clip CoCa model (``model.generate``), on the GPU when there is one.

One output shard per curated shard, under the same name: ``<shard>.parquet`` with ``key``,
the alt-text (``text``), ``caption`` (null when there is none) and ``status`` (``ok``, or why
there is no caption: the fetcher's status, ``decode_error``). Images come from the row's
``image`` bytes, else its url through the export's fetcher (robots.txt and opt-outs
honoured). Beam search by default; ``prompt`` starts each caption from the alt-text's tokens
(the re-alignment of Altogether) with greedy decoding, and keeps what follows the prompt.
Both are deterministic: a rerun writes the same captions.
"""

import io
from functools import lru_cache

import pyarrow as pa

from curation.core.errors import InputError
from curation.core.io import join, list_files, read_parquet
from curation.core.shards import Shard, ShardOutput, ShardStage

CAPTIONS_SCHEMA = pa.schema([("key", pa.string()), ("text", pa.string()), ("caption", pa.string()),
                             ("status", pa.string())])
_MARKS = ("<start_of_text>", "<end_of_text>")


@lru_cache(maxsize=2)
def caption_model(name: str, pretrained: str | None, seed: int):
    """The CoCa model of a worker, loaded once (random weights drawn from ``seed`` without
    ``pretrained``)."""
    from curation.gpu.models import load_model

    bundle = load_model(name, pretrained, seed=seed)
    if not hasattr(bundle.model, "generate"):
        raise InputError(f"--model {name}: not a captioning model (open_clip CoCa models have generate)")
    return bundle


def plan_captions(curated: str) -> list[Shard]:
    files = list_files(curated, (".parquet",))
    if not files:
        raise InputError(f"{curated}: no curated shards")
    return [Shard(url.rsplit("/", 1)[-1][: -len(".parquet")], url, i) for i, url in enumerate(files)]


def clean(text: str, prompt: str = "") -> str:
    """A decoded caption without its start/end marks and the prompt it was started from."""
    for mark in _MARKS:
        text = text.replace(mark, " ")
    text = " ".join(text.split())
    if prompt and text.startswith(prompt):
        text = text[len(prompt):]
    return text.strip(" .,;:")


class CaptionStage(ShardStage):
    """Caption one curated shard; see the module docstring."""

    name = "caption"
    local_workers = 1  # the model owns the device: one process on one machine
    phase = "after-balance"
    rows_key = "rows"

    def __init__(self, out_dir: str, params: dict, curated: str, fetch=None, batch_size: int = 32, storage=None):
        super().__init__(out_dir, params)
        # The batch size is not a parameter of the output (captions are the same for any).
        self.curated, self.fetch, self.batch_size, self.storage = curated, fetch, batch_size, storage

    def plan(self) -> list[Shard]:
        return plan_captions(self.curated)

    def process(self, shard: Shard) -> ShardOutput:
        p = self.params
        rows = read_parquet(shard.source)
        keys = rows["key"].cast(pa.string()).to_pylist()
        texts = (rows[p["text_column"]].cast(pa.string()).to_pylist() if p["text_column"] in rows.column_names
                 else [None] * rows.num_rows)
        images, status = self._images(rows)
        captions = [None] * rows.num_rows
        ready = [i for i, image in enumerate(images) if image is not None]
        if ready:
            bundle = caption_model(p["model"], p.get("pretrained"), p["seed"])
            for start in range(0, len(ready), self.batch_size):
                batch = ready[start:start + self.batch_size]
                for i, caption in zip(batch, generate(bundle, [images[i] for i in batch],
                                                      [texts[i] or "" for i in batch] if p["prompt"] else None,
                                                      p["max_tokens"], p["seed"])):
                    captions[i] = caption
        status = [s if s != "ok" or c else "empty_caption" for s, c in zip(status, captions)]
        table = pa.table({"key": keys, "text": texts, "caption": captions, "status": status}, schema=CAPTIONS_SCHEMA)
        counts: dict = {}
        for s in status:
            counts[s] = counts.get(s, 0) + 1
        stats = {"rows": rows.num_rows, "captioned": counts.get("ok", 0),
                 "failed": {s: n for s, n in sorted(counts.items()) if s != "ok"}}
        return ShardOutput({join(self.out_dir, f"{shard.name}.parquet"): table}, stats)

    def _images(self, rows: pa.Table) -> tuple[list, list[str]]:
        """Decoded RGB images (None where there is none) and each row's status."""
        from PIL import Image, UnidentifiedImageError

        if "image" in rows.column_names:
            raw = [(b, "ok") if b else (None, "no_image") for b in rows["image"].to_pylist()]
        else:
            from curation.export.fetch import Fetcher
            from curation.export.policy import FetchOptions

            urls = rows["url"].cast(pa.string()).to_pylist() if "url" in rows.column_names else [None] * len(rows)
            fetcher = Fetcher(self.fetch or FetchOptions(), self.storage)
            try:
                raw = [(f.data, f.status) for f in fetcher.fetch_ordered(urls)]
            finally:
                fetcher.close()
        images, status = [], []
        for data, state in raw:
            image = None
            if data is not None:
                try:
                    with Image.open(io.BytesIO(data)) as im:
                        image = im.convert("RGB")
                except (OSError, UnidentifiedImageError, ValueError, TypeError, Image.DecompressionBombError):
                    state = "decode_error"
            images.append(image)
            status.append(state)
        return images, status


def generate(bundle, images: list, prompts: list[str] | None, max_tokens: int, seed: int) -> list[str]:
    """Captions of PIL images: beam search, or (``prompts``) greedy decoding started from
    each prompt's tokens, in groups of equal prompt length."""
    import open_clip
    import torch

    pixels = torch.stack([bundle.preprocess(im) for im in images]).to(bundle.device)
    torch.manual_seed(seed)
    with torch.no_grad():
        if prompts is None:
            out = bundle.model.generate(pixels, seq_len=max_tokens)
            return [clean(open_clip.decode(row)) for row in out.cpu()]
        tokens = bundle.tokenizer(prompts)
        starts = []
        for row in tokens.tolist():
            end = row.index(49407) if 49407 in row else len(row)  # the end-of-text token
            starts.append(row[:min(end, max_tokens // 2)])
        captions = [""] * len(images)
        for length in sorted({len(s) for s in starts}):
            group = [i for i, s in enumerate(starts) if len(s) == length]
            text = torch.tensor([starts[i] for i in group], dtype=torch.long, device=bundle.device)
            out = bundle.model.generate(pixels[group], text=text, generation_type="top_k", top_k=1,
                                        seq_len=max_tokens)
            for i, row in zip(group, out.cpu()):
                prompt = clean(open_clip.decode(torch.tensor(starts[i])))
                captions[i] = clean(open_clip.decode(row), prompt)
        return captions


# -- captions from another captioner ------------------------------------------------------

def read_imported(source: str, key_column: str, caption_column: str) -> tuple[pa.Table, dict]:
    """``(table(key, caption), rows left out by reason)`` from a Parquet or JSONL file, or a
    folder of them. The first caption of a key wins; every input row is either in the table
    or counted (unreadable JSONL rows with the pool reader's reasons, ``no_key``,
    ``duplicate_key``). A missing column, or one that is not text, stops with its file named."""
    import pyarrow.compute as pc

    from curation.chain.pool import read_pool_shard
    from curation.core.io import is_dir

    urls = list_files(source, (".parquet", ".jsonl", ".jsonl.gz")) if is_dir(source) else [source]
    if not urls:
        raise InputError(f"{source}: no Parquet or JSONL files of captions")
    parts, dropped = [], {}
    for url in urls:
        if url.endswith(".parquet"):
            table = read_parquet(url)
        else:
            shard = read_pool_shard(url, caption_column)
            table = shard.table
            for reason in shard.rejected["reason"].to_pylist():
                dropped[reason] = dropped.get(reason, 0) + 1
        parts.append(pa.table({"key": _text_column(table, key_column, url),
                               "caption": _text_column(table, caption_column, url)}))
    table = pa.concat_tables(parts)
    keyed = table.filter(pc.is_valid(table["key"]))
    if keyed.num_rows < table.num_rows:
        dropped["no_key"] = table.num_rows - keyed.num_rows
    first = keyed.group_by("key", use_threads=False).aggregate([("caption", "first")])
    if first.num_rows < keyed.num_rows:
        dropped["duplicate_key"] = keyed.num_rows - first.num_rows
    return first.rename_columns(["key", "caption"]), dropped


def _text_column(table: pa.Table, column: str, url: str) -> pa.ChunkedArray:
    if column not in table.column_names:
        raise InputError(f"{url}: no column {column!r} (columns: {', '.join(table.column_names)})")
    try:
        return table[column].cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(f"{url}: column {column!r} is {table[column].type}, not text") from None


class CaptionsImportStage(ShardStage):
    """Lay imported captions out by curated shard (as ``CaptionStage`` writes them): each
    task keeps the captions of its shard's keys from the normalised import file."""

    name = "captions-import"
    phase = "after-balance"
    rows_key = "rows"

    def __init__(self, out_dir: str, params: dict, curated: str, imported_url: str):
        super().__init__(out_dir, params)
        self.curated, self.imported_url = curated, imported_url

    def plan(self) -> list[Shard]:
        return plan_captions(self.curated)

    def process(self, shard: Shard) -> ShardOutput:
        import pyarrow.compute as pc

        rows = read_parquet(shard.source)
        keys = rows["key"].cast(pa.string()).combine_chunks()
        texts = (rows[self.params["text_column"]].cast(pa.string()) if self.params["text_column"] in rows.column_names
                 else pa.nulls(rows.num_rows, pa.string()))
        imported = read_parquet(self.imported_url)
        mine = imported.filter(pc.is_in(imported["key"], value_set=keys))
        by_key = dict(zip(mine["key"].to_pylist(), mine["caption"].to_pylist()))
        captions = [by_key.get(k) for k in keys.to_pylist()]
        status = ["ok" if c else "no_caption" for c in captions]
        table = pa.table({"key": keys, "text": texts, "caption": captions, "status": status}, schema=CAPTIONS_SCHEMA)
        found = sum(1 for c in captions if c)
        return ShardOutput({join(self.out_dir, f"{shard.name}.parquet"): table},
                           {"rows": rows.num_rows, "captioned": found,
                            "failed": {"no_caption": rows.num_rows - found} if found < rows.num_rows else {}})


def captions_for(captions: str, shard_names: list[str], keys: list[str]) -> dict:
    """key -> caption of ``keys`` from the caption shards named like the curated shards they
    came from (a shard without a caption file has none)."""
    import pyarrow.compute as pc

    from curation.core.io import exists

    found: dict = {}
    wanted = pa.array(sorted(set(keys)), pa.string())
    for name in shard_names:
        url = join(captions, f"{name}.parquet")
        if not exists(url):
            continue
        table = read_parquet(url, columns=["key", "caption"])
        table = table.filter(pc.and_(pc.is_in(table["key"], value_set=wanted), pc.is_valid(table["caption"])))
        for key, caption in zip(table["key"].to_pylist(), table["caption"].to_pylist()):
            found.setdefault(key, caption)
    return found
