"""Image URLs: resolved against the page and ``<base href>``, normalised for keys and dedup.

``resolve`` and ``normalize`` (urllib's ``urljoin``/``urlsplit``) define the result.
``PageResolver`` gives the same ``(url, key)`` for every ``src`` of one page, but computes
the page's base once and takes a string fast path for the common forms (absolute,
protocol-relative, root-relative and plain relative sources without dot segments,
parameters, fragments or characters that urllib rewrites); everything else goes through
``resolve``. The fast path is checked against ``resolve`` by property tests.
"""

import hashlib
import re
from urllib.parse import urljoin, urlparse, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SKIPPED_SCHEMES = ("data:", "javascript:", "about:", "blob:")

# Characters urllib never rewrites or splits on inside a path (query: '?' allowed too).
_PATH = r"[^\x00-\x20\x7f#;\\?]*"
_QUERY = r"(?:\?[^\x00-\x20\x7f#;\\]+)?"  # a '?' with nothing after it is dropped: slow path
_ABSOLUTE = re.compile(rf"(https?:)?//([A-Za-z0-9._-]+)((?:/{_PATH})?{_QUERY})\Z")
_ROOTED = re.compile(rf"/(?!/){_PATH}{_QUERY}\Z")
_RELATIVE = re.compile(rf"[^\x00-\x20\x7f#;\\?:/][^\x00-\x20\x7f#;\\?:]*{_QUERY}\Z")
_HOST = re.compile(r"[A-Za-z0-9._-]+\Z")


def resolve(page_url: str, base_href: str | None, src: str | None) -> str | None:
    """The absolute http(s) URL of ``src`` on a page, or None (empty, ``data:``, ``javascript:``...).

    A relative ``<base href>`` is itself resolved against the page URL first."""
    src = (src or "").strip()
    if not src or src.startswith(_SKIPPED_SCHEMES):
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
    return _key(normalize(url))


def _key(normalized: str) -> str:
    return hashlib.blake2b(normalized.encode("utf-8", errors="surrogatepass"), digest_size=8).hexdigest()


def _plain_segments(path: str) -> bool:
    """No ``.``/``..`` segment (urljoin resolves those) and no empty inner segment."""
    padded = f"/{path}/"
    return "/./" not in padded and "/../" not in padded and "//" not in path


class PageResolver:
    """``(url, key)`` of each image source of one page; the same as ``resolve`` then
    ``url_key``, faster on the forms pages mostly use."""

    def __init__(self, page_url: str | None, base_href: str | None):
        self.page_url, self.base_href = page_url, base_href
        self.scheme = self.prefix = self.normalized = self.directory = None
        try:
            href = base_href.strip() if base_href else ""
            base = urljoin(page_url, href) if href else page_url
            parts = urlparse(base) if isinstance(base, str) else None
        except ValueError:
            parts = None
        if (parts is not None and parts.scheme in ("http", "https") and _HOST.match(parts.netloc)
                and not parts.params and _plain_segments(parts.path.lstrip("/"))):
            self.scheme = parts.scheme
            self.prefix = f"{parts.scheme}://{parts.netloc}"
            self.normalized = f"{parts.scheme}://{parts.netloc.lower()}"
            self.directory = parts.path[:parts.path.rfind("/") + 1] or "/"

    def __call__(self, src: str | None) -> tuple[str, str] | None:
        if src and self.prefix is not None:
            src = src.strip()
            if src:
                path_query = None
                if src[0] == "/" and src[1:2] != "/":  # root-relative
                    if "/." not in src and _ROOTED.match(src):
                        path_query = src
                elif (match := _ABSOLUTE.match(src)) is not None:
                    scheme = match.group(1)[:-1] if match.group(1) else self.scheme
                    netloc, rest = match.group(2), match.group(3)
                    if rest[:1] != "/":
                        rest = "/" + rest
                    return f"{scheme}://{netloc}{rest}", _key(f"{scheme}://{netloc.lower()}{rest}")
                elif src[0] != "." and "/." not in src and "//" not in src and _RELATIVE.match(src):
                    path_query = self.directory + src
                if path_query is not None:
                    return self.prefix + path_query, _key(self.normalized + path_query)
        url = resolve(self.page_url, self.base_href, src)
        return None if url is None else (url, url_key(url))
