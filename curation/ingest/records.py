"""Reading WARC and WAT files (gzip or not) record by record with warcio; a broken record
or a truncated gzip member is counted and the rest of the file is still read when it can be:
in a gzipped file every record is its own gzip member, so reading resumes at the next
member header after the damage."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from curation.io import open_read


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


GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_RESYNC = 10_000  # damaged stretches skipped in one file, at most


def iter_pages(url: str, counts: FileCounts) -> Iterator[Page]:
    """Pages of a WARC (``response`` records with HTML) or WAT (``metadata`` records)."""
    with open_read(url) as f:
        start = 0
        for _ in range(MAX_RESYNC):
            f.seek(start)
            damaged_at = yield from _pages_from(f, start, counts)
            if damaged_at is None:
                return
            counts.bad_records += 1
            start = _next_member(f, damaged_at + 1)
            if start is None:
                return


def _pages_from(f, start: int, counts: FileCounts):
    """Yield the pages from ``start`` on; return None at the end of the file, or the offset
    of the record where the stream broke."""
    from warcio.archiveiterator import ArchiveIterator  # imported here: other commands run without it

    records = ArchiveIterator(f, arc2warc=True)
    offset = start
    while True:
        try:
            record = next(records)
        except StopIteration:
            return None
        except Exception:  # noqa: BLE001 - warcio raises many kinds on damaged input
            return offset
        counts.records += 1
        try:
            page = _page(record)
        except Exception:  # noqa: BLE001 - one bad record never fails the file
            page = None
            counts.bad_records += 1
        # Asked after the record's content was read: warcio reads to the record's end for it.
        offset = start + records.get_record_offset()
        if page is not None:
            yield page


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
        charset = ctype.split("charset=")[-1].split(";")[0].strip() if "charset=" in ctype else None
        return Page(url=target, body=record.content_stream().read(), charset=charset,
                    lang=record.rec_headers.get_header("WARC-Identified-Content-Language"))
    if record.rec_type == "metadata" and "json" in (record.rec_headers.get_header("Content-Type") or ""):
        meta = json.loads(record.content_stream().read())
        if not isinstance(meta, dict):
            raise BadRecord("WAT metadata is not a JSON object")
        return Page(url=target or _wat_target(meta), wat=wat_images(meta))
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


def wat_images(meta: dict) -> tuple[str | None, list[dict]]:
    """``(base href, images)`` from a WAT record's ``HTML-Metadata`` (``IMG@/src`` links);
    a record whose fields have other types than WAT's is a ``BadRecord``."""
    html = _get(meta, "Envelope", "Payload-Metadata", "HTTP-Response-Metadata", "HTML-Metadata")
    base = _text(_get(html, "Head").get("Base")) if isinstance(_get(html, "Head"), dict) else None
    links = html.get("Links", []) if isinstance(html, dict) else []
    if not isinstance(links, list):
        raise BadRecord(f"WAT Links is a {type(links).__name__}, not a list")
    found = [{"src": _text(link.get("url")), "alt": _text(link.get("alt")), "title": _text(link.get("title"))}
             for link in links if isinstance(link, dict) and link.get("path") == "IMG@/src"]
    return base, found
