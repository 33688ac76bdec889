"""One input file to pool rows: ``<img>`` alt-texts of WARC/WAT pages, or url+caption rows
of a table, with text hygiene, language id and per-file stats. Rows are gathered as
columns (one list per field) and become one Arrow table per file."""

import gc
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import get_fs, is_dir, list_files, open_read, read_parquet
from curation.core.shards import Shard, ShardOutput, ShardStage
from curation.ingest import html as html_mod
from curation.ingest.dedup import hashes_url
from curation.ingest.langid import identify_many
from curation.ingest.pairhash import pair_hashes
from curation.ingest.records import FileCounts, iter_pages
from curation.ingest.urls import PageResolver

ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wat", ".wat.gz", ".arc", ".arc.gz")
TABLE_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
ARCHIVE_COLUMNS = ("key", "url", "text", "title", "width_attr", "height_attr", "page_url")


@dataclass(frozen=True)
class IngestOptions:
    max_text_chars: int | None = None  # longer texts are dropped (counted)
    langid: bool = True
    url_column: str = "url"
    caption_column: str = "caption"


class _Columns:
    """The kept rows of one file, a list per column."""

    def __init__(self, names: tuple[str, ...]):
        self.data = {name: [] for name in names}
        self.add = [self.data[name].append for name in names]


def _kept(src, alt, title, resolver, stats: dict, opts: IngestOptions):
    """``(url, key, text, title)`` of an image worth a pool row, else None (counted)."""
    resolved = resolver(src)
    if resolved is None:
        stats["unusable_url"] += 1
        return None
    text = alt.strip() if alt else ""
    if not text:
        return None
    stats["with_alt"] += 1
    if opts.max_text_chars and len(text) > opts.max_text_chars:
        stats["too_long"] += 1
        return None
    return resolved[0], resolved[1], text, (title.strip() or None) if title else None


def extract_archive(url: str, opts: IngestOptions) -> tuple[pa.Table, dict]:
    counts = FileCounts()
    pages = images = with_alt = unusable = too_long = 0
    limit = opts.max_text_chars
    rows: list[tuple] = []
    add = rows.append
    for page in iter_pages(url, counts):
        pages += 1
        if page.wat is not None:
            base, found = page.wat
        else:
            base, found = html_mod.images(html_mod.decode_html(page.body, page.charset))
        images += len(found)
        resolve, page_url = PageResolver(page.url, base), page.url
        # The same checks, in the same order, as ``_kept``; inlined: this loop runs per image.
        for src, alt, title, width, height in found:
            resolved = resolve(src)
            if resolved is None:
                unusable += 1
                continue
            text = alt.strip() if alt else ""
            if not text:
                continue
            with_alt += 1
            if limit and len(text) > limit:
                too_long += 1
                continue
            add((resolved[1], resolved[0], text, (title.strip() or None) if title else None, width, height, page_url))
    columns = list(zip(*rows)) if rows else [()] * len(ARCHIVE_COLUMNS)
    table = pa.table({name: pa.array(values, pa.string()) for name, values in zip(ARCHIVE_COLUMNS, columns)})
    table = table.append_column("source", pa.array([url] * len(rows), pa.string()))
    stats = {"pages": pages, "images": images, "with_alt": with_alt, "unusable_url": unusable, "too_long": too_long}
    return table, {"records": counts.records, "bad_records": counts.bad_records, "first_date": counts.first_date,
                   "last_date": counts.last_date, **stats}


def extract_table(url: str, opts: IngestOptions) -> tuple[pa.Table, dict]:
    """url+caption rows of a Parquet/JSONL/CSV/TSV table (img2dataset's inputs); the
    table's other columns are kept."""
    table = _read_table(url, (opts.url_column, opts.caption_column))
    for column in (opts.url_column, opts.caption_column):
        if column not in table.column_names:
            raise InputError(f"{url}: no column {column!r} (columns: {', '.join(table.column_names)})")
    stats = {"rows": table.num_rows, "with_alt": 0, "unusable_url": 0, "too_long": 0, "bad_records": 0}
    resolver = PageResolver(None, None)
    keep, cols = [], _Columns(("key", "url", "text"))
    add_key, add_url, add_text = cols.add
    for src, alt in zip(table[opts.url_column].to_pylist(), table[opts.caption_column].to_pylist()):
        got = None
        if src is not None and not isinstance(src, str):
            stats["unusable_url"] += 1  # a number or a structure where the url should be
        elif alt is not None and not isinstance(alt, str):
            stats["bad_records"] += 1
        else:
            got = _kept(src or "", alt, None, resolver, stats, opts)
        keep.append(got is not None)
        if got is not None:
            add_url(got[0]), add_key(got[1]), add_text(got[2])
    rest = table.drop_columns([opts.url_column, opts.caption_column]).filter(pa.array(keep, pa.bool_()))
    n = rest.num_rows
    for name, values in cols.data.items():
        rest = _set_column(rest, name, pa.array(values, pa.string()))
    for name in ("title", "width_attr", "height_attr"):
        rest = _set_column(rest, name, pa.nulls(n, pa.string()))
    return _set_column(rest, "source", pa.array([url] * n, pa.string())), stats


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


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


def with_language(table: pa.Table) -> pa.Table:
    """``lang`` and ``lang_confidence`` columns, identified in one batch."""
    langs, probs = identify_many(table["text"].to_pylist())
    table = _set_column(table, "lang", pa.array(langs, pa.string()))
    return _set_column(table, "lang_confidence", pa.array(probs, pa.float64()))


@contextmanager
def _collector_paused():
    """Python's cycle collector paused: a file makes ~10 objects per image, none in a
    cycle, and the collections they trigger cost ~10% of the extraction."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


PARSED = "_parsed"


class IngestStage(ShardStage):
    """One input file (WARC/WAT or url+caption table) to ``_parsed/<shard>.parquet``."""

    name = "ingest"
    phase = "ingest"
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
        with _collector_paused():
            table, stats = extract(url, self.opts)
            if self.opts.langid:
                table = with_language(table)
            hashes = pair_hashes(table["url"], table["text"]).tobytes()
        return ShardOutput({layout.data_url(self.out_dir, shard.name): table,
                            hashes_url(self.out_dir, shard.name): hashes}, {"file": url, **stats,
                                                                            "kept": table.num_rows})
