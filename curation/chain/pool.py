"""Reading pool shards (Parquet or JSONL) into valid rows and rejected rows.

Pool rows have ``key`` (string, derived from ``url`` when absent), ``url``, a text column
(``text`` by default), optional ``lang`` and ``image``, and any other columns, which pass
through untouched. A row that cannot be used is not dropped: it is returned in
``rejected`` with its row number and a reason, and counted.
"""

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.errors import InputError
from curation.core.io import open_read, read_parquet

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
    if "lang" in table.column_names:  # routed to metadata lists as text
        table = table.set_column(table.column_names.index("lang"), "lang", _string_column(table, "lang", url))
    if "image" in table.column_names:
        _check_image_column(table, url)
    table, no_key = _with_keys(table, url)
    rejected += no_key
    return PoolShard(url, table, _rejected_table(url, rejected))


def _check_image_column(table: pa.Table, url: str) -> None:
    """An ``image`` column holds the image's bytes; text there (a path, a url) stops the run."""
    kind = table["image"].type
    if not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_null(kind)
            or pa.types.is_fixed_size_binary(kind) or getattr(pa.types, "is_binary_view", lambda _: False)(kind)):
        raise InputError(f"{url}: column 'image' has type {kind}, expected binary (the image's bytes; put paths "
                         f"and urls in the url column)")


def _check_text_column(table: pa.Table, url: str, text_column: str) -> pa.Table:
    """The text column as ``string``: null, large, view and dictionary-encoded strings are
    read as strings; any other type stops the run naming file, column and type."""
    if text_column not in table.column_names:
        raise InputError(f"{url}: no text column {text_column!r} (columns: {', '.join(table.column_names)})")
    col = table[text_column]
    kind = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if pa.types.is_null(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or (
            pa.types.is_dictionary(col.type) and pa.types.is_string(kind)):
        col = col.cast(pa.string())
    elif not pa.types.is_string(col.type):
        raise InputError(f"{url}: text column {text_column!r} has type {col.type}, expected string")
    return table.set_column(table.column_names.index(text_column), text_column, col)


def _string_column(table: pa.Table, name: str, url: str) -> pa.ChunkedArray:
    """A key, url or lang column as strings; a type that is not text stops the run."""
    col = table[name]
    kind = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
            or pa.types.is_integer(kind) or pa.types.is_null(kind)):
        raise InputError(f"{url}: column {name!r} has type {col.type}, expected string")
    return col.cast(pa.string())


def _with_keys(table: pa.Table, url: str) -> tuple[pa.Table, list]:
    """Fill ``key`` from ``url`` where missing; rows with neither are split off as rejects.

    Vectorised over the column: only the rows without a key (null or empty) are visited one
    by one, so a pool that has its keys costs no Python loop over its rows."""
    names = table.column_names
    if "key" not in names and "url" not in names:
        raise InputError(f"{url}: needs a 'key' or a 'url' column (columns: {', '.join(names)})")
    n = table.num_rows
    keys = _string_column(table, "key", url).combine_chunks() if "key" in names else pa.nulls(n, pa.string())
    missing = np.flatnonzero(pc.fill_null(pc.equal(pc.binary_length(keys), 0), True).to_numpy(zero_copy_only=False))
    rejected = []
    if len(missing):
        urls = _string_column(table, "url", url).take(pa.array(missing)).to_pylist() if "url" in names \
            else [None] * len(missing)
        filled = keys.to_pylist()
        for row, row_url in zip(missing.tolist(), urls):
            filled[row] = derive_key(row_url) if row_url else None
            if not row_url:
                rejected.append((row, "no key and no url", _row_json(table, row)))
        keys = pa.array(filled, type=pa.string())
    table = table.set_column(names.index("key"), "key", keys) if "key" in names else table.add_column(0, "key", keys)
    if rejected:
        bad = np.zeros(n, dtype=bool)
        bad[[r[0] for r in rejected]] = True
        table = table.filter(pa.array(~bad))
    return table, rejected


def _row_json(table: pa.Table, row: int) -> str:
    return json.dumps(table.slice(row, 1).to_pylist()[0], default=repr, ensure_ascii=False)


def _read_jsonl(url: str, text_column: str) -> tuple[pa.Table, list]:
    """Parse JSON lines one by one so that a bad line is rejected alone, with its number.

    Lines end at ``\n`` only (``\r\n`` too): U+2028, U+0085 and the other characters that
    ``str.splitlines`` would split on are valid inside JSON strings. A UTF-8 BOM is skipped."""
    try:
        with open_read(url, compression="infer") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"{url}: unreadable file ({exc})") from None
    lines = data.decode("utf-8-sig", errors="replace").split("\n")
    rows, numbers, rejected = [], [], []
    for number, line in enumerate(lines):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        row, reason = _parse_row(line, text_column)
        if reason:
            rejected.append((number, reason, line))
        else:
            rows.append(row)
            numbers.append((number, line))
    table = _rows_table(rows, numbers, rejected, text_column)
    return table, sorted(rejected, key=lambda r: r[0])


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _rows_table(rows: list, numbers: list, rejected: list, text_column: str) -> pa.Table:
    """The rows as a table. A row whose field has another JSON type than the same field in
    earlier rows (or that Arrow cannot convert with the others) is rejected alone."""
    if not rows:
        return pa.table({text_column: pa.array([], pa.string()), "key": pa.array([], pa.string())})
    kinds: dict = {}
    good, good_numbers = [], []
    for row, (number, line) in zip(rows, numbers):
        clash = next((k for k, v in row.items() if v is not None and kinds.setdefault(k, _json_kind(v))
                      != _json_kind(v)), None)
        if clash is not None:
            rejected.append((number, f"field {clash!r} is {_json_kind(row[clash])}, earlier rows have "
                                     f"{kinds[clash]}", line))
        else:
            good.append(row)
            good_numbers.append((number, line))
    # Every column of every row (not only the first row's), each typed over all its values;
    # where a column's values have no common Arrow type (nested values of mixed shapes), its
    # first value's type wins and the rows that do not convert are rejected alone.
    arrays, fields = {}, []
    for name in dict.fromkeys(k for row in good for k in row):
        column = [row.get(name) for row in good]
        try:
            arrays[name] = pa.array(column)  # converted once: these arrays are the table
            fields.append((name, arrays[name].type))
        except _ARROW_ERRORS:
            fields.append((name, _first_type(column)))
    if len(arrays) == len(fields):
        return pa.table(arrays)
    schema = pa.schema(fields)
    kept = []
    for row, (number, line) in zip(good, good_numbers):
        try:
            pa.Table.from_pylist([row], schema=schema)
            kept.append(row)
        except _ARROW_ERRORS as exc:
            rejected.append((number, f"values of another shape than earlier rows ({exc})", line))
    return pa.Table.from_pylist(kept, schema=schema)


def _first_type(values: list) -> pa.DataType:
    """The Arrow type of the first value that has one."""
    for value in values:
        if value is not None:
            try:
                return pa.array([value]).type
            except _ARROW_ERRORS:
                continue
    return pa.null()


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _parse_row(line: str, text_column: str) -> tuple[dict, str]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"invalid JSON ({exc.msg})"
    except RecursionError:
        return {}, "invalid JSON (nested too deeply)"
    if not isinstance(row, dict):
        return {}, "not a JSON object"
    if text_column not in row:
        return {}, f"no {text_column!r} field"
    if row[text_column] is not None and not isinstance(row[text_column], str):
        return {}, f"{text_column!r} is {type(row[text_column]).__name__}, not a string"
    for name in ("key", "url", "lang"):
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            return {}, f"{name!r} is {type(value).__name__}, not a string"
    if not row.get("key") and not row.get("url"):
        return {}, "no key and no url"
    empty = next((k for k, v in row.items() if _has_empty_object(v)), None)
    if empty is not None:
        return {}, f"field {empty!r} holds an empty JSON object, which Parquet cannot store"
    big = next((k for k, v in row.items() if isinstance(v, int) and not -2**63 <= v < 2**63), None)
    if big is not None:
        return {}, f"field {big!r} holds an integer beyond 64 bits"
    if _SURROGATE.search(line) and not _encodable(row):
        return {}, "a string holds a lone surrogate (\\ud800-\\udfff escape): not valid Unicode"
    return row, ""


def _has_empty_object(value) -> bool:
    if isinstance(value, dict):
        return not value or any(_has_empty_object(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_empty_object(v) for v in value)
    return False


def _encodable(row: dict) -> bool:
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _rejected_table(url: str, rejected: list) -> pa.Table:
    rows, reasons, raws = zip(*rejected) if rejected else ((), (), ())
    return pa.table([pa.array([url] * len(rows), pa.string()), pa.array(rows, pa.int64()),
                     pa.array(reasons, pa.string()), pa.array(raws, pa.string())], schema=REJECTED_SCHEMA)

