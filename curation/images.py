"""Getting image bytes for export: from a column, a path, ``file://``, ``s3://`` (fsspec) or
``http(s)://`` (timeouts, retries, a size limit), then checking, and optionally resizing.

Every failure becomes a status and a message for the sample, never an exception for the
shard.
"""

import io
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from curation.io import get_fs

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 10.0
    retries: int = 1
    max_bytes: int = 20 * 2**20
    threads: int = 16


@dataclass(frozen=True)
class ResizeOptions:
    size: int | None = None  # None: keep the source bytes
    mode: str = "longest"  # or "shortest": which side becomes ``size``
    quality: int = 95


@dataclass
class Fetched:
    data: bytes | None
    status: str  # "ok", "failed_to_download", "too_large"
    error: str = ""


class TooLarge(Exception):
    pass


def fetch_one(url: str, opts: FetchOptions) -> Fetched:
    """Fetch one URL; http(s) errors are retried ``opts.retries`` times."""
    if not url:
        return Fetched(None, "failed_to_download", "no url")
    attempts = opts.retries + 1 if url.startswith(("http://", "https://")) else 1
    error = ""
    for attempt in range(attempts):
        try:
            data = _http_get(url, opts) if url.startswith(("http://", "https://")) else _fs_get(url, opts)
            return Fetched(data, "ok")
        except TooLarge as exc:
            return Fetched(None, "too_large", str(exc))
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500:
                break
        except (OSError, ValueError) as exc:  # timeouts, refused connections, missing files
            error = f"{type(exc).__name__}: {exc}"
        if attempt + 1 < attempts:
            time.sleep(0.1 * (attempt + 1))
    return Fetched(None, "failed_to_download", error)


def _http_get(url: str, opts: FetchOptions) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "metaclip-curation/0.1"})
    with urllib.request.urlopen(request, timeout=opts.timeout_s) as response:
        data = response.read(opts.max_bytes + 1)
    if len(data) > opts.max_bytes:
        raise TooLarge(f"more than {opts.max_bytes} bytes")
    return data


def _fs_get(url: str, opts: FetchOptions) -> bytes:
    fs, path = get_fs(url)
    if fs.size(path) > opts.max_bytes:
        raise TooLarge(f"more than {opts.max_bytes} bytes")
    with fs.open(path, "rb") as f:
        return f.read()


def fetch_all(urls: list[str], opts: FetchOptions) -> list[Fetched]:
    """Fetch concurrently, results in the order of ``urls``."""
    with ThreadPoolExecutor(max_workers=max(1, opts.threads)) as pool:
        return list(pool.map(lambda u: fetch_one(u, opts), urls))


@dataclass
class Prepared:
    data: bytes | None
    ext: str
    width: int | None
    height: int | None
    status: str
    error: str = ""


def prepare(data: bytes, opts: ResizeOptions) -> Prepared:
    """Decode (so a broken image is caught here), optionally resize and re-encode as JPEG."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            fmt = img.format
            if opts.size is None:
                return Prepared(data, FORMATS.get(fmt, (fmt or "img").lower()), img.width, img.height, "ok")
            resized = _resize(img, opts)
            buf = io.BytesIO()
            resized.convert("RGB").save(buf, format="JPEG", quality=opts.quality)
            return Prepared(buf.getvalue(), "jpg", resized.width, resized.height, "ok")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        return Prepared(None, "", None, None, "decode_error", f"{type(exc).__name__}: {exc}")


def _resize(img, opts: ResizeOptions):
    side = max(img.width, img.height) if opts.mode == "longest" else min(img.width, img.height)
    scale = opts.size / side
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, resample=3)  # bicubic
