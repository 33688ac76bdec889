"""The one IO helper: every read and write goes through fsspec, so a local path,
``file://`` and ``s3://`` URLs are the same thing to every stage.

Writes are atomic: data goes to a hidden temporary name in the target folder and is then
moved into place, so no partial file is ever visible under a final name.
"""

import io
import json
import os
import posixpath
import tempfile
import uuid
from contextlib import contextmanager

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from curation.errors import InputError


def get_fs(url: str):
    """Return ``(filesystem, path)`` for ``url``."""
    return fsspec.core.url_to_fs(url)


def join(base: str, *parts: str) -> str:
    """Join URL path parts with ``/`` (``os.path.join`` would break ``s3://`` URLs)."""
    return posixpath.join(base.rstrip("/"), *parts) if parts else base


def exists(url: str) -> bool:
    fs, path = get_fs(url)
    return fs.exists(path)


def is_dir(url: str) -> bool:
    fs, path = get_fs(url)
    return fs.isdir(path)


def read_bytes(url: str) -> bytes:
    """Read a whole file; a missing file raises ``InputError`` naming it."""
    fs, path = get_fs(url)
    try:
        with fs.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"{url}: file not found") from None


def read_json(url: str):
    return json.loads(read_bytes(url))


def list_files(url: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files directly under folder ``url`` whose names end with one of ``suffixes``, sorted.

    Hidden names (``.x``, ``_x``) are skipped: they are markers and temporaries.
    """
    fs, path = get_fs(url)
    if not fs.isdir(path):
        raise InputError(f"{url}: input folder not found")
    names = []
    for info in fs.ls(path, detail=True):
        name = posixpath.basename(info["name"].rstrip("/"))
        if info["type"] == "file" and name.endswith(suffixes) and not name.startswith((".", "_")):
            names.append(name)
    return [join(url, name) for name in sorted(names)]


def write_bytes_atomic(url: str, data: bytes) -> None:
    """Write ``data`` to ``url`` through a temporary name in the same folder, then move it."""
    fs, path = get_fs(url)
    folder, name = posixpath.split(path)
    fs.makedirs(folder, exist_ok=True)
    tmp = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
    with fs.open(tmp, "wb") as f:
        f.write(data)
    fs.mv(tmp, path)


def write_json_atomic(url: str, value) -> None:
    write_bytes_atomic(url, (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def write_parquet_atomic(url: str, table: pa.Table) -> None:
    """Write ``table`` as one Parquet file at ``url``, atomically."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    write_bytes_atomic(url, buf.getvalue())


def read_parquet(url: str) -> pa.Table:
    """Read one Parquet file; an unreadable file raises ``InputError`` naming it."""
    fs, path = get_fs(url)
    try:
        with fs.open(path, "rb") as f:
            return pq.read_table(f)
    except FileNotFoundError:
        raise InputError(f"{url}: file not found") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{url}: unreadable Parquet file ({exc})") from None


def remove(url: str) -> None:
    fs, path = get_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


@contextmanager
def open_atomic(url: str):
    """A binary file to write ``url`` through: a hidden temporary beside it (local) or a
    local temporary uploaded in one piece (object stores), moved into place on success."""
    fs, path = get_fs(url)
    if isinstance(fs, LocalFileSystem):
        folder, name = posixpath.split(path)
        os.makedirs(folder, exist_ok=True)
        tmp = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
        try:
            with open(tmp, "wb") as f:
                yield f
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    with tempfile.NamedTemporaryFile(suffix=".part") as f:
        yield f
        f.flush()
        fs.put_file(f.name, path)  # one PUT: the object appears whole or not at all
