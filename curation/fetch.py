"""A responsible, hang-free image fetcher for export.

Per task (one tar) a ``Fetcher`` keeps each host's robots.txt (RFC 9309, fetched once and
cached), a per-host connection limit and request rate, and a per-host circuit breaker.
Every request has a hard deadline covering DNS, connect, headers and body (a watchdog
closes the socket when it passes, so a server that drips its body cannot hold a task), and
the whole tar may have one too. Opt-outs are honoured and recorded per sample: robots.txt,
``X-Robots-Tag`` directives (with or without a user-agent prefix) and TDMRep's
``tdm-reservation: 1``. Only http(s) URLs are fetched, and only public addresses, checked
after DNS resolution and again on every redirect; local files need ``allow_local_files``.
Every outcome is a ``Fetched`` with a status, never an exception.

Statuses: ``ok``; ``opted_out`` (robots, x-robots-tag:DIRECTIVE, tdm-reservation);
``failed_to_download`` (HTTP errors, timeouts, refused connections, bad urls);
``too_large``; ``refused`` (a local file or a private address without its flag, an
unsupported scheme); ``host_unavailable`` (circuit breaker open); ``deadline`` (the tar's
deadline passed first). ``retryable`` says whether ``--retry-failed`` tries it again.
"""

import email.utils
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

from curation import __version__

TOKEN = "metaclip-curation"
DEFAULT_USER_AGENT = f"{TOKEN}/{__version__} (image/alt-text curation for CLIP training; honours robots.txt, noai)"
DEFAULT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 1 << 16
# Statuses a later ``--retry-failed`` tries again: transient by nature.
RETRYABLE = frozenset({"failed_to_download", "host_unavailable", "deadline"})
_KNOWN_DIRECTIVES = frozenset({"all", "none", "noindex", "nofollow", "noarchive", "nosnippet", "notranslate",
                               "noimageindex", "unavailable_after", "noai", "noimageai", "indexifembedded",
                               "max-snippet", "max-image-preview", "max-video-preview"})


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 10.0  # hard deadline of one request: DNS, connect, headers and body
    retries: int = 1
    max_bytes: int = 20 * 2**20
    threads: int = 16
    user_agent: str = DEFAULT_USER_AGENT
    per_host_connections: int = 2
    per_host_rps: float = 0.0  # request starts per second per host; 0: no limit
    robots: bool = True
    disallowed_header_directives: tuple = DEFAULT_DIRECTIVES
    allow_local_files: bool = False
    allow_private_addresses: bool = False
    max_redirects: int = 5
    max_retry_after_s: float = 60.0
    breaker_failures: int = 5  # consecutive failures that open a host's circuit breaker
    tar_deadline_s: float | None = None
    storage: object = None  # StorageOptions for s3:// urls


@dataclass
class Fetched:
    data: bytes | None
    status: str
    error: str = ""

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE and not _definite(self.error)


def _definite(error: str) -> bool:
    """A definite answer from the server (404, 410, ...), which a retry will not change."""
    return error.startswith("HTTP 4") and not error.startswith(("HTTP 408", "HTTP 429"))


class _Failure(Exception):
    """An outcome other than ``ok``, carried up to ``fetch``."""

    def __init__(self, status: str, error: str, retry_after: float | None = None, host_failure: bool = False):
        super().__init__(error)
        self.status, self.error, self.retry_after, self.host_failure = status, error, retry_after, host_failure

    def retryable_now(self) -> bool:
        return self.status == "failed_to_download" and not _definite(self.error)


class _Deadline:
    """A request's deadline: its own, or the tar's when that comes first."""

    def __init__(self, seconds: float, outer: float | None = None):
        self.at = time.monotonic() + seconds
        self.tar_bound = outer is not None and outer <= self.at
        if self.tar_bound:
            self.at = outer

    def expired(self, what: str = "request") -> _Failure:
        if self.tar_bound:
            return _Failure("deadline", f"the tar's deadline passed during the {what}")
        return _Failure("failed_to_download", f"timed out ({what} deadline)", host_failure=True)

    def left(self, what: str = "request") -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired(what)
        return left


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    slots: threading.Semaphore | None = None
    next_start: float = 0.0
    failures: int = 0
    robots: object = None  # a Protego parser, True (allow all) or a _Failure (disallow all)
    crawl_delay: float = 0.0


class Fetcher:
    """Fetches image bytes for one task; see the module docstring."""

    def __init__(self, opts: FetchOptions):
        self.opts = opts
        self.tar_deadline = time.monotonic() + opts.tar_deadline_s if opts.tar_deadline_s else None
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()
        self._resolver = ThreadPoolExecutor(max_workers=4)

    def close(self) -> None:
        self._resolver.shutdown(wait=False)

    # -- public ---------------------------------------------------------------------------
    def fetch(self, url: str | None) -> Fetched:
        """Fetch one URL (http(s), or a local path / file:// / s3:// with their flags)."""
        url = (url or "").strip()
        if not url:
            return Fetched(None, "failed_to_download", "no url")
        if self.tar_deadline is not None and time.monotonic() >= self.tar_deadline:
            return Fetched(None, "deadline", "the tar's deadline passed before this fetch")
        try:
            scheme = urlsplit(url).scheme.lower() if "://" in url else ""
            if scheme in ("http", "https"):
                return Fetched(self._http_with_retries(url), "ok")
            if scheme in ("", "file"):
                return Fetched(self._local(url), "ok")
            if scheme in ("s3", "s3a"):
                return Fetched(self._object_store(url), "ok")
            raise _Failure("refused", f"unsupported url scheme {scheme!r}")
        except _Failure as failure:
            return Fetched(None, failure.status, failure.error)
        except ValueError as exc:  # urlsplit on e.g. "http://[::1/x.jpg"
            return Fetched(None, "failed_to_download", f"invalid url ({exc})")

    def fetch_ordered(self, urls: Iterable) -> Iterator:
        """``fetch`` over ``urls`` on ``threads`` threads, results in order, with at most
        ``2 * threads`` results held at once (so a tar streams with bounded memory). An item
        that is not a URL (an outcome known already) passes through as it is."""
        window = max(1, 2 * self.opts.threads)
        with ThreadPoolExecutor(max_workers=max(1, self.opts.threads)) as pool:
            pending: deque = deque()
            for url in urls:
                if url is None or isinstance(url, str):
                    pending.append(pool.submit(self.fetch, url))
                else:
                    known: Future = Future()
                    known.set_result(url)
                    pending.append(known)
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    # -- http -----------------------------------------------------------------------------
    def _http_with_retries(self, url: str) -> bytes:
        host = self._host(urlsplit(url).netloc.lower())
        last: _Failure | None = None
        for attempt in range(self.opts.retries + 1):
            try:
                data = self._http_once(url, host)
                host.failures = 0
                return data
            except _Failure as failure:
                last = failure
                if failure.host_failure:
                    with host.lock:
                        host.failures += 1
                if attempt == self.opts.retries or not failure.retryable_now():
                    break
                wait = failure.retry_after if failure.retry_after is not None else 0.1 * (attempt + 1)
                if wait > self.opts.max_retry_after_s or not self._sleep(wait):
                    break
        raise last

    def _sleep(self, seconds: float) -> bool:
        if self.tar_deadline is not None and time.monotonic() + seconds >= self.tar_deadline:
            return False
        time.sleep(seconds)
        return True

    def _http_once(self, url: str, host: _Host) -> bytes:
        deadline = _Deadline(self.opts.timeout_s, self.tar_deadline)
        with _Slot(host, self.opts, deadline):
            # Checked once a connection slot is held: the requests queued behind the failing
            # ones see the breaker open and send nothing.
            if host.failures >= self.opts.breaker_failures:
                raise _Failure("host_unavailable", f"circuit breaker open after {host.failures} failures in a row")
            for _ in range(self.opts.max_redirects + 1):
                if self.opts.robots:
                    self._check_robots(url, deadline)
                status, headers, body = self._request(url, deadline, self.opts.max_bytes)
                if status in REDIRECTS:
                    location = headers.get("Location")
                    if not location:
                        raise _Failure("failed_to_download", f"HTTP {status} without a Location")
                    url = _clean_url(urljoin(url, location))
                    continue
                if status in (429, 503):
                    raise _Failure("failed_to_download", f"HTTP {status}", _retry_after(headers.get("Retry-After")),
                                   host_failure=status == 503)
                if status >= 400:
                    raise _Failure("failed_to_download", f"HTTP {status}", host_failure=status >= 500)
                reason = header_opt_out(headers, self.opts.disallowed_header_directives)
                if reason:
                    raise _Failure("opted_out", reason)
                return body()
        raise _Failure("failed_to_download", f"more than {self.opts.max_redirects} redirects")

    def _request(self, url: str, deadline: _Deadline, max_bytes: int):
        """One GET: (status, headers, body reader). Redirect and error statuses come back
        without their bodies being read."""
        url = _clean_url(url)
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise _Failure("failed_to_download", f"invalid url {url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failure("refused", f"only http(s) urls are fetched: {url!r}")
        address = self._resolve(parts.hostname, port, deadline)
        conn = _Connection(parts.hostname, port, address, parts.scheme == "https", deadline.left())
        watchdog = threading.Timer(deadline.left(), conn.kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            path = parts.path or "/"
            conn.request("GET", path + (f"?{parts.query}" if parts.query else ""), headers={
                "User-Agent": self.opts.user_agent, "Accept": "image/*,*/*;q=0.8", "Connection": "close"})
            response = conn.getresponse()
            if response.status in REDIRECTS or response.status >= 400:
                conn.close()
                watchdog.cancel()
                return response.status, response.headers, None
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise _Failure("too_large", f"Content-Length {length} > {max_bytes} bytes")
            data = _read_capped(response, conn, deadline, max_bytes)
            return response.status, response.headers, lambda: data
        except _Failure:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if conn.killed or isinstance(exc, TimeoutError):
                raise deadline.expired() from None
            raise _Failure("failed_to_download", f"{type(exc).__name__}: {exc}", host_failure=True) from None
        finally:
            watchdog.cancel()
            conn.close()

    def _resolve(self, hostname: str, port: int, deadline: _Deadline) -> tuple:
        """An address of ``hostname`` (refused when private, unless allowed), resolved within
        the deadline; the connection goes to this address, so DNS cannot change it after."""
        future = self._resolver.submit(socket.getaddrinfo, hostname, port, 0, socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=deadline.left())
        except TimeoutError:
            raise deadline.expired("DNS") from None
        except OSError as exc:
            raise _Failure("failed_to_download", f"DNS: {exc}", host_failure=True) from None
        for family, _, _, _, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if not self.opts.allow_private_addresses and not ip.is_global:
                raise _Failure("refused", f"{hostname} resolves to a non-public address {ip} "
                                          "(--allow-private-addresses to fetch it)")
            return family, sockaddr
        raise _Failure("failed_to_download", f"DNS: no address for {hostname}", host_failure=True)

    # -- robots.txt -----------------------------------------------------------------------
    def _check_robots(self, url: str, deadline: _Deadline) -> None:
        parts = urlsplit(url)
        host = self._host(parts.netloc.lower())
        with host.lock:  # one fetch of robots.txt per host, the others wait for it
            if host.robots is None:
                host.robots = self._fetch_robots(f"{parts.scheme}://{parts.netloc}/robots.txt", deadline)
                delay = host.robots.crawl_delay(TOKEN) if hasattr(host.robots, "crawl_delay") else None
                host.crawl_delay = min(float(delay or 0), self.opts.max_retry_after_s)
        if isinstance(host.robots, _Failure):
            raise host.robots
        if host.robots is not True and not host.robots.can_fetch(url, TOKEN):
            raise _Failure("opted_out", "robots")

    def _fetch_robots(self, robots_url: str, deadline: _Deadline):
        """RFC 9309: a 2xx is parsed; 4xx means no rules; a 5xx or an unreachable server
        means complete disallow (recorded as such); up to 5 redirects are followed."""
        from protego import Protego

        url = robots_url
        try:
            for _ in range(6):
                status, headers, body = self._request(url, deadline, 512 * 1024)
                if status in REDIRECTS and headers.get("Location"):
                    url = urljoin(url, headers["Location"])
                    continue
                if 200 <= status < 300:
                    return Protego.parse(body().decode("utf-8", errors="replace"))
                if 400 <= status < 500:
                    return True
                return _Failure("opted_out", f"robots (robots.txt answered HTTP {status}: complete disallow)")
        except _Failure as failure:
            if failure.status == "refused":
                return failure
            return _Failure("opted_out", f"robots (robots.txt unreachable: {failure.error}; complete disallow)")
        return _Failure("opted_out", "robots (robots.txt redirects too often: complete disallow)")

    def _host(self, netloc: str) -> _Host:
        with self._lock:
            if netloc not in self._hosts:
                self._hosts[netloc] = _Host(slots=threading.Semaphore(max(1, self.opts.per_host_connections)))
            return self._hosts[netloc]

    # -- other sources --------------------------------------------------------------------
    def _local(self, url: str) -> bytes:
        if not self.opts.allow_local_files:
            raise _Failure("refused", "local file (--allow-local-files to read local paths and file:// urls)")
        path = url[len("file://"):] if url.startswith("file://") else url
        try:
            with open(path, "rb") as f:
                return _read_file_capped(f, self.opts.max_bytes)
        except OSError as exc:
            raise _Failure("failed_to_download", f"{type(exc).__name__}: {exc}") from None

    def _object_store(self, url: str) -> bytes:
        from curation.io import get_fs

        try:
            fs, path = get_fs(url, self.opts.storage)
            with fs.open(path, "rb") as f:
                return _read_file_capped(f, self.opts.max_bytes)
        except _Failure:
            raise
        except Exception as exc:  # noqa: BLE001 - credentials, permissions, missing objects: one sample fails
            raise _Failure("failed_to_download", f"{type(exc).__name__}: {exc}") from None


class _Slot:
    """Holds one of a host's connections, starting no sooner than its rate allows."""

    def __init__(self, host: _Host, opts: FetchOptions, deadline: _Deadline):
        self.host, self.opts, self.deadline = host, opts, deadline

    def __enter__(self):
        if not self.host.slots.acquire(timeout=self.deadline.left()):
            raise self.deadline.expired("wait for a connection to the host")
        interval = max(1.0 / self.opts.per_host_rps if self.opts.per_host_rps > 0 else 0.0, self.host.crawl_delay)
        with self.host.lock:
            start = max(time.monotonic(), self.host.next_start)
            self.host.next_start = start + interval
        wait = start - time.monotonic()
        if wait > 0:
            if wait >= self.deadline.at - time.monotonic():
                self.host.slots.release()
                raise self.deadline.expired("wait for the host's request rate")
            time.sleep(wait)
        return self

    def __exit__(self, *exc):
        self.host.slots.release()


class _Connection(http.client.HTTPConnection):
    """A connection to an address resolved (and checked) before, with TLS for https
    (certificate checked against the host name)."""

    def __init__(self, hostname: str, port: int, address: tuple, tls: bool, timeout: float):
        super().__init__(hostname, port, timeout=timeout)
        self.family, self.sockaddr, self.tls = address[0], address[1], tls
        self.killed = False

    def connect(self):
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.sockaddr)
        if self.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock = sock

    def kill(self) -> None:
        """Called by the deadline watchdog: unblock any read by shutting the socket down."""
        self.killed = True
        try:
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _read_capped(response, conn: _Connection, deadline: _Deadline, max_bytes: int) -> bytes:
    chunks, size = [], 0
    while True:
        if conn.sock is not None:
            conn.sock.settimeout(deadline.left())
        chunk = response.read1(CHUNK)
        if conn.killed:
            raise deadline.expired()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _Failure("too_large", f"more than {max_bytes} bytes")
        chunks.append(chunk)


def _read_file_capped(f, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` (a file whose size is reported as 0, like /dev/zero, is
    still cut at the cap)."""
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _Failure("too_large", f"more than {max_bytes} bytes")
    return data


def _clean_url(url: str) -> str:
    """Percent-encode what a browser would (spaces, non-ASCII) in the path and query."""
    parts = urlsplit(url)
    path = quote(parts.path, safe="/%:@!$&'()*+,;=~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=?~")
    return parts._replace(path=path, query=query, fragment="").geturl()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def header_opt_out(headers, directives: Iterable[str]) -> str | None:
    """The opt-out reason of a response's headers, or None: an ``X-Robots-Tag`` directive
    of ``directives`` for every robot or ours (``X-Robots-Tag: otherbot: noai`` concerns
    another robot), or TDMRep's ``tdm-reservation: 1``."""
    wanted = {d.strip().lower() for d in directives if d.strip()}
    for value in headers.get_all("X-Robots-Tag") or []:
        robot, sep, rest = value.partition(":")
        name = robot.strip().lower()
        if sep and name and name not in _KNOWN_DIRECTIVES and " " not in name:
            if name not in ("*", TOKEN):
                continue
            value = rest
        for directive in value.split(","):
            directive = directive.strip().lower()
            if directive in wanted:
                return f"x-robots-tag:{directive}"
    if (headers.get("tdm-reservation") or "").strip() == "1":
        return "tdm-reservation"
    return None
