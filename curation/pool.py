"""Reading pool shards (Parquet or JSONL) into valid rows and rejected rows.

Pool rows have ``key`` (string, derived from ``url`` when absent), ``url``, a text column
(``text`` by default), optional ``lang`` and ``image``, and any other columns, which pass
through untouched. A row that cannot be used is not dropped: it is returned in
``rejected`` with its row number and a reason, and counted.
"""

import hashlib
import json
from dataclasses import dataclass

import pyarrow as pa

from curation.errors import InputError
from curation.io import get_fs, read_parquet

POOL_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".json", ".json.gz")
REJECTED_SCHEMA = pa.schema([("source", pa.string()), ("row", pa.int64()), ("reason", pa.string()),
                             ("raw", pa.string())])


@dataclass
class PoolShard:
    """The usable rows of one pool file (with a string ``key`` column) and its rejects."""

    source: str
    table: pa.Table
    rejected: pa.Table

    @property
    def rows(self) -> int:
        return self.table.num_rows + self.rejected.num_rows


def derive_key(url: str) -> str:
    """The key of a row without one: 16 hex digits of BLAKE2b-64 of the url."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=8).hexdigest()


def read_pool_shard(url: str, text_column: str = "text") -> PoolShard:
    """Read one pool file; file-level problems raise ``InputError`` naming file and column."""
    if url.endswith(".parquet"):
        table, rejected = read_parquet(url), []
    else:
        table, rejected = _read_jsonl(url, text_column)
    table = _check_text_column(table, url, text_column)
    table, no_key = _with_keys(table, url)
    rejected += no_key
    return PoolShard(url, table, _rejected_table(url, rejected))


def _check_text_column(table: pa.Table, url: str, text_column: str) -> pa.Table:
    if text_column not in table.column_names:
        raise InputError(f"{url}: no text column {text_column!r} (columns: {', '.join(table.column_names)})")
    col = table[text_column]
    if pa.types.is_null(col.type) or pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    elif not pa.types.is_string(col.type):
        raise InputError(f"{url}: text column {text_column!r} has type {col.type}, expected string")
    return table.set_column(table.column_names.index(text_column), text_column, col)


def _with_keys(table: pa.Table, url: str) -> tuple[pa.Table, list]:
    """Fill ``key`` from ``url`` where missing; rows with neither are split off as rejects."""
    names = table.column_names
    if "key" not in names and "url" not in names:
        raise InputError(f"{url}: needs a 'key' or a 'url' column (columns: {', '.join(names)})")
    keys = table["key"].cast(pa.string()).to_pylist() if "key" in names else [None] * table.num_rows
    urls = table["url"].cast(pa.string()).to_pylist() if "url" in names else [None] * table.num_rows
    good, rejected = [], []
    for row, (key, row_url) in enumerate(zip(keys, urls)):
        if not key:
            key = derive_key(row_url) if row_url else None
            keys[row] = key
        if key:
            good.append(row)
        else:
            rejected.append((row, "no key and no url", _row_json(table, row)))
    key_col = pa.array(keys, type=pa.string())
    table = table.set_column(names.index("key"), "key", key_col) if "key" in names else table.add_column(
        0, "key", key_col)
    if rejected:
        table = table.take(pa.array(good, type=pa.int64()))
    return table, rejected


def _row_json(table: pa.Table, row: int) -> str:
    return json.dumps(table.slice(row, 1).to_pylist()[0], default=repr, ensure_ascii=False)


def _read_jsonl(url: str, text_column: str) -> tuple[pa.Table, list]:
    """Parse JSON lines one by one so that a bad line is rejected alone, with its number."""
    fs, path = get_fs(url)
    try:
        with fs.open(path, "rt", encoding="utf-8", errors="replace", compression="infer") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise InputError(f"{url}: file not found") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{url}: unreadable file ({exc})") from None
    rows, rejected = [], []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        row, reason = _parse_row(line, text_column)
        if reason:
            rejected.append((number, reason, line))
        else:
            rows.append(row)
    try:
        table = pa.Table.from_pylist(rows) if rows else pa.table({text_column: pa.array([], pa.string()),
                                                                  "key": pa.array([], pa.string())})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"{url}: columns with mixed types across rows ({exc})") from None
    return table, rejected


def _parse_row(line: str, text_column: str) -> tuple[dict, str]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"invalid JSON ({exc.msg})"
    if not isinstance(row, dict):
        return {}, "not a JSON object"
    if text_column not in row:
        return {}, f"no {text_column!r} field"
    if row[text_column] is not None and not isinstance(row[text_column], str):
        return {}, f"{text_column!r} is {type(row[text_column]).__name__}, not a string"
    if not row.get("key") and not row.get("url"):
        return {}, "no key and no url"
    return row, ""


def _rejected_table(url: str, rejected: list) -> pa.Table:
    rows, reasons, raws = zip(*rejected) if rejected else ((), (), ())
    return pa.table([pa.array([url] * len(rows), pa.string()), pa.array(rows, pa.int64()),
                     pa.array(reasons, pa.string()), pa.array(raws, pa.string())], schema=REJECTED_SCHEMA)

