"""Reading WARC and WAT files (gzip or not) record by record with FastWARC (warcio for
ARC files, which it converts); a broken record
or a truncated gzip member is counted and the rest of the file is still read when it can be:
in a gzipped file every record is its own gzip member, so reading resumes at the next
member header after the damage."""

import io
import itertools
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from curation.core.io import open_read


@dataclass
class Page:
    """One page: its URL, and either its HTML body (WARC) or its WAT metadata."""

    url: str
    body: bytes | None = None
    charset: str | None = None
    wat: tuple | None = None  # (base href, images) of a WAT record
    lang: str | None = None


@dataclass
class FileCounts:
    records: int = 0
    bad_records: int = 0
    first_date: str | None = None  # the earliest and latest WARC-Date read (ISO 8601, seconds, UTC)
    last_date: str | None = None

    def saw(self, date) -> None:
        """Widen the collection period with one record's WARC-Date (ignored when malformed)."""
        value = str(date or "")
        if not _WARC_DATE.match(value):
            return
        value = value[:19] + "Z"
        if self.first_date is None or value < self.first_date:
            self.first_date = value
        if self.last_date is None or value > self.last_date:
            self.last_date = value


_WARC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_RESYNC = 10_000  # damaged stretches skipped in one file, at most


def iter_pages(url: str, counts: FileCounts) -> Iterator[Page]:
    """Pages of a WARC (``response`` records with HTML) or WAT (``metadata`` records).

    A gzipped file is read member by member: a member that does not decompress to its end,
    or whose WARC records do not add up to its length (a cut member runs into the next
    one), is counted as a bad record and reading goes on at the next member header after
    its start, so the intact members after damage are never lost."""
    with open_read(url) as f:
        gzipped = f.read(3) == GZIP_MAGIC
        f.seek(0)
        if not gzipped:
            head = f.read(5)
            f.seek(0)
            yield from (_fastwarc_pages if head.startswith(b"WARC/") else _warcio_pages)(f, counts)
            return
        members = _gzip_members(f, counts)
        first = next(members, None)
        if first is None:
            return
        members = itertools.chain([first], members)
        if _head(first).startswith(b"WARC/"):
            # FastWARC needs a seekable stream: the intact members, several MB at a time.
            for batch in _batches(members):
                yield from _fastwarc_pages(batch, counts)
        else:  # ARC: one warcio reader over the members' bytes, back to back
            yield from _warcio_pages(io.BufferedReader(_Chained(_as_bytes(members)), 1 << 20), counts)


BATCH_BYTES = 8 << 20


def _head(member) -> bytes:
    if isinstance(member, bytes):
        return member[:5]
    head = member.read(5)
    member.seek(0)
    return head


def _batches(members) -> Iterator:
    """Seekable streams over the members: checked members joined up to ``BATCH_BYTES``, a
    spooled large member on its own."""
    pending, size = [], 0
    for member in members:
        if isinstance(member, bytes):
            pending.append(member)
            size += len(member)
            if size < BATCH_BYTES:
                continue
        if pending:
            yield io.BytesIO(b"".join(pending))
            pending, size = [], 0
        if not isinstance(member, bytes):
            with member:
                yield member
    if pending:
        yield io.BytesIO(b"".join(pending))


def _as_bytes(members) -> Iterator[bytes]:
    for member in members:
        if isinstance(member, bytes):
            yield member
        else:
            with member:
                while chunk := member.read(CHUNK_READ):
                    yield chunk


def _fastwarc_pages(stream, counts: FileCounts) -> Iterator[Page]:
    from fastwarc.warc import ArchiveIterator  # imported here: other commands run without it

    records = iter(ArchiveIterator(stream, parse_http=True, auto_decode="all"))
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except BaseException as exc:  # a record that does not parse ends what can be read
            if not _parse_error(exc):
                raise
            counts.bad_records += 1
            return
        counts.records += 1
        counts.saw(record.headers.get("WARC-Date"))
        try:
            page = _fastwarc_page(record)
        except BaseException as exc:  # one bad record never fails the file
            if not _parse_error(exc):
                raise
            counts.bad_records += 1
            continue
        if page is not None:
            yield page


def _parse_error(exc: BaseException) -> bool:
    # FastWARC (Rust) reports some failures as pyo3's PanicException, a BaseException.
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _fastwarc_page(record) -> Page | None:
    from fastwarc.warc import WarcRecordType

    kind = record.record_type
    if kind in (WarcRecordType.unknown, WarcRecordType.no_type):
        raise BadRecord(f"not a WARC record type: {record.headers.get('WARC-Type')!r}")
    headers = record.headers
    if kind == WarcRecordType.response and record.is_http:
        ctype = record.http_headers.get("Content-Type") or ""
        if "html" not in ctype.lower():
            return None
        return Page(url=headers.get("WARC-Target-URI"), body=record.reader.read(), charset=_charset(ctype),
                    lang=headers.get("WARC-Identified-Content-Language"))
    if kind == WarcRecordType.metadata and "json" in (headers.get("Content-Type") or ""):
        return _wat_page(headers.get("WARC-Target-URI"), record.reader.read())
    return None


def _charset(ctype: str) -> str | None:
    return ctype.split("charset=")[-1].split(";")[0].strip() if "charset=" in ctype else None


def _wat_page(target: str | None, payload: bytes) -> Page:
    meta = json.loads(payload)
    if not isinstance(meta, dict):
        raise BadRecord("WAT metadata is not a JSON object")
    return Page(url=target or _wat_target(meta), wat=wat_images(meta))


def _warcio_pages(stream, counts: FileCounts) -> Iterator[Page]:
    from warcio.archiveiterator import ArchiveIterator  # imported here: other commands run without it

    records = ArchiveIterator(stream, arc2warc=True)
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except Exception:  # noqa: BLE001 - warcio raises many kinds on damaged input
            counts.bad_records += 1
            return
        counts.records += 1
        counts.saw(record.rec_headers.get_header("WARC-Date") if record.rec_headers else None)
        try:
            page = _page(record)
        except Exception:  # noqa: BLE001 - one bad record never fails the file
            counts.bad_records += 1
            continue
        if page is not None:
            yield page


class _Chained(io.RawIOBase):
    """A readable stream over a sequence of byte strings."""

    def __init__(self, parts: Iterator[bytes]):
        self.parts, self.current = parts, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.current:
            part = next(self.parts, None)
            if part is None:
                return 0
            self.current = memoryview(part)
        n = min(len(buffer), len(self.current))
        buffer[:n] = self.current[:n]
        self.current = self.current[n:]
        return n


def _gzip_members(f, counts: FileCounts) -> Iterator:
    """The decompressed gzip members of ``f`` in order, read sequentially; a damaged member
    is counted and reading goes on at the next member header after its start. A member
    larger than ``MAX_CHECKED_MEMBER`` (a whole file gzipped at once, not one record per
    member) is spooled to a temporary file, unchecked, and that file is yielded in place
    of bytes, so memory stays bounded."""
    from isal import isal_zlib  # ISA-L: zlib's inflate, about twice as fast; imported here as the readers are

    position, pending, resyncs = 0, b"", 0  # pending: the file's bytes from ``position`` on
    while True:
        data = pending or f.read(CHUNK_READ)
        if not data:
            return
        inflate = isal_zlib.decompressobj(31)
        parts, size, used, spool, whole = [], 0, 0, None, False
        try:
            while data:
                out = inflate.decompress(data)
                if spool is not None:
                    spool.write(out)
                else:
                    parts.append(out)
                    size += len(out)
                    if size > MAX_CHECKED_MEMBER:
                        spool = tempfile.SpooledTemporaryFile(max_size=MAX_CHECKED_MEMBER)
                        spool.write(b"".join(parts))
                        parts = []
                if inflate.eof:
                    pending = inflate.unused_data
                    used += len(data) - len(pending)
                    whole = True
                    break
                used += len(data)
                data = f.read(CHUNK_READ)
        except isal_zlib.error:
            pass
        if spool is not None:  # what decompressed before any damage is read
            spool.seek(0)
            yield spool
        if whole and (spool is not None or _whole_records(member := b"".join(parts))):
            if spool is None:
                yield member
            position += used
            continue
        counts.bad_records += 1
        resyncs += 1
        position = _next_member(f, position + 1) if resyncs <= MAX_RESYNC else None
        if position is None:
            return
        f.seek(position)
        pending = b""


MAX_CHECKED_MEMBER = 64 << 20
CHUNK_READ = 1 << 16


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)


def _whole_records(data: bytes) -> bool:
    """Whether ``data`` is whole WARC records back to back (each header, its declared
    content and the closing blank line); data of other formats (ARC) is not checked."""
    if not data.startswith(b"WARC/"):
        return True
    position = 0
    while position < len(data):
        head_end = data.find(b"\r\n\r\n", position)
        if not data.startswith(b"WARC/", position) or head_end < 0:
            return False
        length = _CONTENT_LENGTH.search(data, position, head_end + 2)
        if length is None:
            return False
        position = head_end + 4 + int(length.group(1))
        if data[position:position + 4] != b"\r\n\r\n":
            return False
        position += 4
    return True


def _next_member(f, position: int) -> int | None:
    """Offset of the next gzip member header at or after ``position``, or None."""
    f.seek(position)
    carry = b""
    while chunk := f.read(1 << 20):
        data = carry + chunk
        found = data.find(GZIP_MAGIC)
        if found >= 0:
            return position - len(carry) + found
        carry = data[-(len(GZIP_MAGIC) - 1):]
        position += len(chunk)
    return None


WARC_TYPES = frozenset({"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
                        "continuation"})


class BadRecord(ValueError):
    """A record that is not a well-formed WARC record (e.g. the rest of a cut gzip member)."""


def _page(record) -> Page | None:
    if record.rec_type not in WARC_TYPES:
        raise BadRecord(f"not a WARC record type: {record.rec_type!r}")
    target = record.rec_headers.get_header("WARC-Target-URI")
    if record.rec_type == "response" and record.http_headers is not None:
        ctype = record.http_headers.get_header("Content-Type") or ""
        if "html" not in ctype.lower():
            return None
        return Page(url=target, body=record.content_stream().read(), charset=_charset(ctype),
                    lang=record.rec_headers.get_header("WARC-Identified-Content-Language"))
    if record.rec_type == "metadata" and "json" in (record.rec_headers.get_header("Content-Type") or ""):
        return _wat_page(target, record.content_stream().read())
    return None


def _get(value, *path):
    """``value[path[0]][path[1]]...``; a missing key gives ``{}``, a value of another type
    than an object on the way is a ``BadRecord``."""
    for key in path:
        if not isinstance(value, dict):
            raise BadRecord(f"WAT field {key!r} is inside a {type(value).__name__}, not an object")
        value = value.get(key) or {}
    return value


def _wat_target(meta: dict) -> str | None:
    target = _get(meta, "Envelope", "WARC-Header-Metadata", "WARC-Target-URI")
    return target if isinstance(target, str) else None


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def wat_images(meta: dict) -> tuple[str | None, list[tuple]]:
    """``(base href, [(src, alt, title, None, None), ...])`` from a WAT record's
    ``HTML-Metadata`` (``IMG@/src`` links);
    a record whose fields have other types than WAT's is a ``BadRecord``."""
    html = _get(meta, "Envelope", "Payload-Metadata", "HTTP-Response-Metadata", "HTML-Metadata")
    base = _text(_get(html, "Head").get("Base")) if isinstance(_get(html, "Head"), dict) else None
    links = html.get("Links", []) if isinstance(html, dict) else []
    if not isinstance(links, list):
        raise BadRecord(f"WAT Links is a {type(links).__name__}, not a list")
    found = [(_text(link.get("url")), _text(link.get("alt")), _text(link.get("title")), None, None)
             for link in links if isinstance(link, dict) and link.get("path") == "IMG@/src"]
    return base, found
