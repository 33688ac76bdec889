"""``<img>`` tags of an HTML page (selectolax/Lexbor), with the page's ``<base href>``."""

import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)
KEPT_ATTRS = ("alt", "title", "width", "height", "loading")


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


def images(html: str) -> tuple[str | None, list[dict]]:
    """``(base href, [{src, alt, title, ...}])`` in document order."""
    from selectolax.lexbor import LexborHTMLParser  # imported here: commands without ingest run without it

    tree = LexborHTMLParser(html)
    base = tree.css_first("base[href]")
    found = []
    for node in tree.css("img"):
        attrs = node.attributes
        found.append({"src": attrs.get("src"), **{k: attrs.get(k) for k in KEPT_ATTRS}})
    return (base.attributes.get("href") if base else None), found
