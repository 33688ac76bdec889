"""``<img>`` tags of an HTML page (selectolax/Lexbor), with the page's ``<base href>``."""

import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """Decode with the HTTP or ``<meta>`` charset when it is a known codec, else UTF-8;
    undecodable bytes become U+FFFD, never an error."""
    for charset in (header_charset, _meta_charset(body)):
        if charset:
            try:
                return body.decode(charset, errors="replace")
            except LookupError:
                continue
    return body.decode("utf-8", errors="replace")


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def images(html: str) -> tuple[str | None, list[tuple]]:
    """``(base href, [(src, alt, title, width, height), ...])`` in document order; the
    first ``<base href>`` is found in the same walk as the images."""
    from selectolax.lexbor import LexborHTMLParser  # imported here: commands without ingest run without it

    base, found = None, []
    add = found.append
    for node in LexborHTMLParser(html).css("img, base[href]"):
        attrs = node.attributes
        if node.tag == "img":
            add((attrs.get("src"), attrs.get("alt"), attrs.get("title"), attrs.get("width"), attrs.get("height")))
        elif base is None:
            base = attrs.get("href")
    return base, found
