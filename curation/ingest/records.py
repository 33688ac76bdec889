"""Reading WARC and WAT files (gzip or not) record by record with warcio; a broken record
or a truncated gzip member is counted and the rest of the file is still read when it can be."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator

from curation.io import get_fs


@dataclass
class Page:
    """One page: its URL, and either its HTML body (WARC) or its WAT metadata."""

    url: str
    body: bytes | None = None
    charset: str | None = None
    wat: dict | None = None
    lang: str | None = None


@dataclass
class FileCounts:
    records: int = 0
    bad_records: int = 0


def iter_pages(url: str, counts: FileCounts) -> Iterator[Page]:
    """Pages of a WARC (``response`` records with HTML) or WAT (``metadata`` records)."""
    fs, path = get_fs(url)
    with fs.open(path, "rb") as f:
        records = ArchiveIterator(f, arc2warc=True)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception:  # noqa: BLE001 - warcio raises many kinds on damaged input
                counts.bad_records += 1
                return  # a damaged stream cannot be resynchronised reliably
            counts.records += 1
            try:
                page = _page(record)
            except Exception:  # noqa: BLE001 - one bad record never fails the file
                counts.bad_records += 1
                continue
            if page is not None:
                yield page


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
        return Page(url=target or _wat_target(meta), wat=meta)
    return None


def _wat_target(meta: dict) -> str | None:
    return meta.get("Envelope", {}).get("WARC-Header-Metadata", {}).get("WARC-Target-URI")


def wat_images(meta: dict) -> tuple[str | None, list[dict]]:
    """``(base href, images)`` from a WAT record's ``HTML-Metadata`` (``IMG@/src`` links)."""
    html = (meta.get("Envelope", {}).get("Payload-Metadata", {}).get("HTTP-Response-Metadata", {})
            .get("HTML-Metadata", {}))
    base = (html.get("Head") or {}).get("Base")
    found = [{"src": link.get("url"), "alt": link.get("alt"), "title": link.get("title")}
             for link in html.get("Links", []) if link.get("path") == "IMG@/src"]
    return base, found
