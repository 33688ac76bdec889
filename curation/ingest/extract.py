"""One input file to pool rows: ``<img>`` alt-texts of WARC/WAT pages, or url+caption rows
of a table, with text hygiene, language id and per-file stats."""

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from curation import layout
from curation.errors import InputError
from curation.ingest import html as html_mod
from curation.ingest.langid import identify
from curation.ingest.records import FileCounts, iter_pages
from curation.ingest.urls import resolve, url_key
from curation.io import get_fs, is_dir, list_files, open_read, read_parquet
from curation.shards import Shard, ShardOutput, ShardStage

ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wat", ".wat.gz", ".arc", ".arc.gz")
TABLE_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
ORDER = ("_file", "_record", "_pos")  # where a row came from: picks dedup representatives


@dataclass(frozen=True)
class IngestOptions:
    max_text_chars: int | None = None  # longer texts are dropped (counted)
    langid: bool = True
    url_column: str = "url"
    caption_column: str = "caption"


def extract_archive(url: str, file_index: int, opts: IngestOptions) -> tuple[list[dict], dict]:
    counts = FileCounts()
    stats = {"pages": 0, "images": 0, "with_alt": 0, "unusable_url": 0, "too_long": 0}
    rows: list[dict] = []
    for record_no, page in enumerate(iter_pages(url, counts)):
        stats["pages"] += 1
        if page.wat is not None:
            base, found = page.wat
        else:
            base, found = html_mod.images(html_mod.decode_html(page.body, page.charset))
        for pos, img in enumerate(found):
            stats["images"] += 1
            row = _image_row(page.url, base, img, stats, opts)
            if row is not None:
                rows.append({**row, "page_url": page.url, "source": url, "_file": file_index, "_record": record_no,
                             "_pos": pos})
    return rows, {"records": counts.records, "bad_records": counts.bad_records, **stats}


def _image_row(page_url: str, base: str | None, img: dict, stats: dict, opts: IngestOptions) -> dict | None:
    absolute = resolve(page_url, base, img.get("src"))
    text = (img.get("alt") or "").strip()
    if absolute is None:
        stats["unusable_url"] += 1
        return None
    if not text:
        return None
    stats["with_alt"] += 1
    if opts.max_text_chars and len(text) > opts.max_text_chars:
        stats["too_long"] += 1
        return None
    title = (img.get("title") or "").strip() or None
    return {"key": url_key(absolute), "url": absolute, "text": text, "title": title,
            "width_attr": img.get("width"), "height_attr": img.get("height")}


def extract_table(url: str, file_index: int, opts: IngestOptions) -> tuple[list[dict], dict]:
    """url+caption rows of a Parquet/JSONL/CSV/TSV table (img2dataset's inputs)."""
    table = _read_table(url, (opts.url_column, opts.caption_column))
    for column in (opts.url_column, opts.caption_column):
        if column not in table.column_names:
            raise InputError(f"{url}: no column {column!r} (columns: {', '.join(table.column_names)})")
    rows = []
    stats = {"rows": table.num_rows, "with_alt": 0, "unusable_url": 0, "too_long": 0, "bad_records": 0}
    for pos, row in enumerate(table.to_pylist()):
        img = {"src": row.pop(opts.url_column), "alt": row.pop(opts.caption_column)}
        if img["src"] is not None and not isinstance(img["src"], str):
            stats["unusable_url"] += 1  # a number or a structure where the url should be
            continue
        if img["alt"] is not None and not isinstance(img["alt"], str):
            stats["bad_records"] += 1
            continue
        got = _image_row(img["src"] or "", None, img, stats, opts)
        if got is not None:
            rows.append({**row, **got, "source": url, "_file": file_index, "_record": pos, "_pos": 0})
    return rows, stats


def _read_table(url: str, text_columns: tuple[str, ...]) -> pa.Table:
    if url.endswith(".parquet"):
        return read_parquet(url)
    with open_read(url, compression="infer") as f:
        if ".jsonl" in url:
            return pajson.read_json(f)
        # CSV has no types: the url and caption columns are text even when they look numeric.
        delimiter = "\t" if ".tsv" in url else ","
        as_text = pacsv.ConvertOptions(column_types={c: pa.string() for c in text_columns})
        return pacsv.read_csv(f, parse_options=pacsv.ParseOptions(delimiter=delimiter), convert_options=as_text)


def expand_inputs(spec: str) -> list[str]:
    """Files named by a comma-separated list of paths, folders and glob patterns."""
    files: list[str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if any(c in part for c in "*?["):
            fs, _ = get_fs(part)
            protocol = part.split("://", 1)[0] + "://" if "://" in part else ""
            files += [protocol + p if protocol and not p.startswith(protocol) else p for p in fs.glob(part)]
        elif is_dir(part):
            files += list_files(part, ARCHIVE_SUFFIXES + TABLE_SUFFIXES)
        else:
            files.append(part)
    files = sorted(dict.fromkeys(files))
    if not files:
        raise InputError(f"{spec}: no input files")
    return files


def with_language(rows: list[dict]) -> None:
    for row in rows:
        row["lang"], row["lang_confidence"] = identify(row["text"])


PARSED = "_parsed"


class IngestStage(ShardStage):
    """One input file (WARC/WAT or url+caption table) to ``_parsed/<shard>.parquet``."""

    name = "ingest"
    folder = PARSED
    rows_key = "kept"

    def __init__(self, out_dir: str, params: dict, files: list[str], opts: IngestOptions):
        super().__init__(out_dir, params)
        self.files, self.opts = files, opts

    def plan(self) -> list[Shard]:
        return [Shard(layout.shard_name(i), url, i) for i, url in enumerate(self.files)]

    def process(self, shard: Shard) -> ShardOutput:
        url = shard.source
        extract = extract_table if url.endswith(TABLE_SUFFIXES) else extract_archive
        rows, stats = extract(url, shard.index, self.opts)
        if self.opts.langid:
            with_language(rows)
        table = pa.Table.from_pylist(rows) if rows else pa.table({c: pa.array([], pa.int64()) for c in ORDER})
        return ShardOutput({layout.data_url(self.out_dir, shard.name): table}, {"file": url, **stats,
                                                                                "kept": len(rows)})


def parsed_rows(parsed_dir: str, name: str) -> list[dict]:
    return read_parquet(layout.data_url(parsed_dir, name)).to_pylist()



def dedup_key(row: dict) -> tuple:
    """``(64-bit hash, url, text)``: the hash places the pair in a partition the same way in
    every process (Python's own string hash is salted per process)."""
    import hashlib

    digest = hashlib.blake2b(f"{row['url']}\n{row['text']}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little"), row["url"], row["text"]


def earliest(a: dict, b: dict) -> dict:
    """The representative of duplicates: the first occurrence in input order."""
    return a if tuple(a[c] for c in ORDER) <= tuple(b[c] for c in ORDER) else b


def pool_table(rows: list[dict]) -> pa.Table:
    """A pool shard: rows in input order, bookkeeping columns dropped."""
    rows = sorted(rows, key=lambda r: tuple(r[c] for c in ORDER))
    if not rows:
        return pa.table({"key": pa.array([], pa.string()), "url": pa.array([], pa.string()),
                         "text": pa.array([], pa.string())})
    return pa.Table.from_pylist([{k: v for k, v in r.items() if k not in ORDER} for r in rows])
