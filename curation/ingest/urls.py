"""Image URLs: resolved against the page and ``<base href>``, normalised for keys and dedup."""

import hashlib
from urllib.parse import urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def resolve(page_url: str, base_href: str | None, src: str | None) -> str | None:
    """The absolute http(s) URL of ``src`` on a page, or None (empty, ``data:``, ``javascript:``...).

    A relative ``<base href>`` is itself resolved against the page URL first."""
    src = (src or "").strip()
    if not src or src.startswith(("data:", "javascript:", "about:", "blob:")):
        return None
    try:
        base = urljoin(page_url, base_href.strip()) if base_href and base_href.strip() else page_url
        parts = urlsplit(urljoin(base, src))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        parts.port  # noqa: B018 - raises ValueError on a port out of range or not a number
    except ValueError:  # e.g. "http://[::1/x.jpg" (unclosed IPv6 host), port 99999
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def normalize(url: str) -> str:
    """Lowercase scheme and host, default port and fragment removed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or str(port) == _DEFAULT_PORTS.get(parts.scheme.lower()) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def url_key(url: str) -> str:
    """The pool key of an image: 16 hex digits of BLAKE2b-64 of its normalised URL."""
    return hashlib.blake2b(normalize(url).encode("utf-8"), digest_size=8).hexdigest()
