"""Reading WebDataset tars through fsspec: samples grouped by key, in tar order."""

import json
import tarfile
from collections.abc import Iterator

from curation.core.io import get_fs

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif")


def iter_samples(url: str) -> Iterator[dict]:
    """``{"__key__", "image": bytes, "txt": str, "json": dict}`` (and ``"syn.txt"`` where the
    sample has a caption) per sample of a tar; a tar
    that cannot be read raises ``InputError`` naming it."""
    from curation.core.errors import InputError

    try:
        yield from _samples(url)
    except (tarfile.TarError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{url}: not a readable WebDataset tar ({type(exc).__name__}: {exc})") from None


def _samples(url: str) -> Iterator[dict]:
    fs, path = get_fs(url)
    current: dict = {}
    with fs.open(path, "rb") as f, tarfile.open(fileobj=f, mode="r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            base = member.name.rsplit("/", 1)[-1]
            key, _, ext = base.partition(".")
            if current and current["__key__"] != key:
                yield current
                current = {}
            current.setdefault("__key__", key)
            data = tar.extractfile(member).read()
            if ext.lower() in IMAGE_EXTS:
                current["image"] = data
            elif ext in ("txt", "syn.txt"):  # the alt-text, and a synthetic caption (`export --captions`)
                current[ext] = data.decode("utf-8")
            elif ext == "json":
                current["json"] = json.loads(data)
        if current:
            yield current
