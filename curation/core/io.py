"""The one IO helper: every read and write of run data goes through fsspec, so a local path,
``file://`` and ``s3://`` URLs are the same thing to every stage.

Object-store options are never written into fsspec's global configuration. They are passed
to ``get_fs`` (``storage=``), or scoped around a piece of work with ``using_storage``: a
task enters the scope with the options its driver shipped, and leaves it when done.

Writes are atomic, through one writer (``open_atomic``): data goes to a hidden temporary
name in the target folder (or one local temporary uploaded in a single PUT, for object
stores) and is then moved into place, so no partial file is ever visible under a final name.
"""

import contextvars
import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from contextlib import contextmanager

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from curation.core.errors import InputError
from curation.core.storage import StorageOptions

_STORAGE: contextvars.ContextVar = contextvars.ContextVar("curation_storage", default=None)
_OBJECT_STORES = ("s3://", "s3a://")


@contextmanager
def using_storage(options: StorageOptions | None):
    """Within this block, ``get_fs`` uses ``options`` for object-store URLs."""
    token = _STORAGE.set(options)
    try:
        yield options
    finally:
        _STORAGE.reset(token)


def current_storage() -> StorageOptions | None:
    return _STORAGE.get()


def get_fs(url: str, storage: StorageOptions | None = None):
    """Return ``(filesystem, path)`` for ``url``; object stores get ``storage`` (or the
    options of the enclosing ``using_storage`` block)."""
    options = storage or _STORAGE.get()
    if options is not None and url.startswith(_OBJECT_STORES):
        return fsspec.core.url_to_fs(url, **options.s3_kwargs())
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


@contextmanager
def open_read(url: str, compression: str | None = None):
    """A binary file object to read ``url``; a missing file raises ``InputError`` naming it."""
    fs, path = get_fs(url)
    try:
        f = fs.open(path, "rb", compression=compression)
    except FileNotFoundError:
        raise InputError(f"{url}: file not found") from None
    with f:
        yield f


def read_bytes(url: str) -> bytes:
    """Read a whole file; a missing file raises ``InputError`` naming it."""
    with open_read(url) as f:
        return f.read()


def read_json(url: str):
    """Parse a JSON file; a damaged one raises ``InputError`` naming it."""
    try:
        return json.loads(read_bytes(url))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{url}: not valid JSON ({exc}); the file is damaged") from None


def list_files(url: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files directly under folder ``url`` whose names end with one of ``suffixes``, sorted.

    Hidden names (``.x``, ``_x``) are skipped: they are markers and temporaries. A symbolic
    link to a file is listed like the file (wherever it points); a link to nothing is an
    ``InputError`` naming it.
    """
    names, _ = list_files_and_others(url, suffixes)
    return [join(url, name) for name in names]


def list_files_and_others(url: str, suffixes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(names ending with ``suffixes``, names of the other visible files), both sorted."""
    fs, path = get_fs(url)
    if not fs.isdir(path):
        raise InputError(f"{url}: input folder not found")
    names, others = [], []
    for info in fs.ls(path, detail=True):
        name = posixpath.basename(info["name"].rstrip("/"))
        if name.startswith((".", "_")):
            continue
        kind = info["type"]
        if kind == "other" and info.get("islink"):
            import os

            if not os.path.exists(info["name"]):
                raise InputError(f"{join(url, name)}: a symbolic link to nothing ({os.readlink(info['name'])})")
            kind = "file" if os.path.isfile(info["name"]) else "directory"
        if kind != "file":
            continue
        (names if name.endswith(suffixes) else others).append(name)
    return sorted(names), sorted(others)


def list_names(url: str, suffix: str) -> list[str]:
    """Names (without ``suffix``) of the files ``*suffix`` directly under ``url``, sorted;
    none when the folder does not exist. Done-marker folders are read with it."""
    if not exists(url):
        return []
    return [u.rsplit("/", 1)[-1][: -len(suffix)] for u in list_files(url, (suffix,))]


@contextmanager
def open_atomic(url: str):
    """A binary file to write ``url`` through: a hidden temporary beside it (local) or a
    local temporary uploaded in one piece (object stores), moved into place on success.
    This is the only writer of run data; the helpers below all use it."""
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


class _Digesting:
    """A write-only file wrapper that counts and hashes what passes through it."""

    def __init__(self, f):
        self.f, self.size, self.hash = f, 0, hashlib.blake2b(digest_size=16)

    def write(self, data) -> int:
        self.size += len(data)
        self.hash.update(data)
        return self.f.write(data)

    def summary(self) -> dict:
        return {"bytes": self.size, "blake2b": self.hash.hexdigest()}


def file_digest(url: str) -> dict:
    """``{"bytes", "blake2b"}`` of a file as stored, the form done markers record."""
    h, size = hashlib.blake2b(digest_size=16), 0
    with open_read(url) as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
            h.update(chunk)
    return {"bytes": size, "blake2b": h.hexdigest()}


def file_size(url: str) -> int | None:
    """Size of a file in bytes, or None when it does not exist."""
    fs, path = get_fs(url)
    try:
        return int(fs.size(path))
    except FileNotFoundError:
        return None


def file_identity(url: str) -> dict | None:
    """A file's size and modification stamp (an object's ETag where the store has one): what
    a done marker records of its input, so that an edited or replaced input is noticed.
    None for a folder or a missing file."""
    fs, path = get_fs(url)
    try:
        info = fs.info(path)
    except (FileNotFoundError, OSError):
        return None
    if info.get("type") != "file":
        return None
    stamp = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")
    return {"bytes": int(info.get("size") or 0), "stamp": str(stamp)}


def create_exclusive(url: str, data: bytes) -> bool:
    """Create ``url`` with ``data`` only if it does not exist yet, atomically: False when it
    already existed. Local files use a hard link (which fails on an existing name), object
    stores a conditional PUT (``If-None-Match: *``)."""
    fs, path = get_fs(url)
    if isinstance(fs, LocalFileSystem):
        folder, name = posixpath.split(path)
        os.makedirs(folder, exist_ok=True)
        tmp = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
    try:
        fs.pipe_file(path, data, mode="create")
        return True
    except FileExistsError:
        return False
    except TypeError:  # a filesystem without exclusive writes: check, then write
        if fs.exists(path):
            return False
        write_bytes_atomic(url, data)
        return True


def write_bytes_atomic(url: str, data: bytes) -> None:
    with open_atomic(url) as f:
        f.write(data)


def write_json_atomic(url: str, value) -> None:
    write_bytes_atomic(url, (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def write_parquet_atomic(url: str, table: pa.Table) -> None:
    """Write ``table`` as one Parquet file at ``url``, atomically."""
    write_atomic(url, table)


def write_atomic(url: str, value) -> dict:
    """Write a ``pa.Table`` (as Parquet), ``bytes``, or the rest of a readable binary file
    object to ``url``, atomically; return the size and checksum of what was written."""
    with open_atomic(url) as f:
        out = _Digesting(f)
        if isinstance(value, pa.Table):
            buf = io.BytesIO()
            pq.write_table(value, buf, compression="zstd", use_dictionary=False, write_page_checksum=True)
            out.write(buf.getbuffer())
        elif isinstance(value, (bytes, bytearray, memoryview)):
            out.write(bytes(value))
        else:
            shutil.copyfileobj(value, out, 1 << 20)
    return out.summary()


def read_parquet(url: str, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet file; an unreadable file raises ``InputError`` naming it. Page
    checksums are verified where the writer stored them (ours always do; parquet-mr's by
    default): a damaged data page stops the run instead of being read as data."""
    try:
        with open_read(url) as f:
            return pq.read_table(f, columns=columns, page_checksum_verification=True)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{url}: unreadable Parquet file ({exc})") from None


def parquet_rows(url: str) -> int:
    """Row count of a Parquet file, from its footer."""
    with open_read(url) as f:
        return pq.ParquetFile(f).metadata.num_rows


def check_output_folder(out: str, **inputs: str | None) -> None:
    """Refuse an output folder that is an existing file, or that is (or holds) one of the
    ``inputs`` (``--pool``, ...): a run must not read its own outputs back as input."""
    fs, path = get_fs(out)
    if fs.exists(path) and not fs.isdir(path):
        raise InputError(f"--out {out}: is a file; give a folder")
    base = path.rstrip("/") + "/"
    for flag, url in inputs.items():
        if not url:
            continue
        in_path = get_fs(url)[1].rstrip("/") + "/"
        if in_path == base or in_path.startswith(base):
            raise InputError(f"--out {out} is (or holds) --{flag.replace('_', '-')} {url}: the run would read its "
                             "own outputs as input; give another --out")


def remove(url: str) -> None:
    fs, path = get_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def npy_bytes(array) -> bytes:
    """``array`` as the bytes of a ``.npy`` file."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()
