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


import http.client
import ipaddress
import os
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

from curation.export.hosts import Host, Slot
from curation.export.policy import TOKEN, Fetched, FetchOptions, header_opt_out
from curation.export.transport import (
    REDIRECTS,
    Connection,
    Deadline,
    FetchFailure,
    clean_url,
    parse_retry_after,
    read_capped,
    read_file_capped,
)


class Fetcher:
    """Fetches image bytes for one task; see the module docstring."""

    def __init__(self, opts: FetchOptions, storage=None):
        self.opts, self.storage = opts, storage  # storage: StorageOptions for s3:// urls
        self.tar_deadline = time.monotonic() + opts.tar_deadline if opts.tar_deadline else None
        self._hosts: dict[str, Host] = {}
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
            raise FetchFailure("refused", f"unsupported url scheme {scheme!r}")
        except FetchFailure as failure:
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
        last: FetchFailure | None = None
        for attempt in range(self.opts.retries + 1):
            try:
                data = self._http_once(url, host)
                host.failures = 0
                return data
            except FetchFailure as failure:
                last = failure
                if failure.host_failure:
                    with host.lock:
                        host.failures += 1
                if attempt == self.opts.retries or not failure.retryable_now():
                    break
                wait = failure.retry_after if failure.retry_after is not None else 0.1 * (attempt + 1)
                if wait > self.opts.max_retry_after or not self._sleep(wait):
                    break
        raise last

    def _sleep(self, seconds: float) -> bool:
        if self.tar_deadline is not None and time.monotonic() + seconds >= self.tar_deadline:
            return False
        time.sleep(seconds)
        return True

    def _http_once(self, url: str, host: Host) -> bytes:
        deadline = Deadline(self.opts.timeout, self.tar_deadline)
        with Slot(host, self.opts, deadline):
            # Checked once a connection slot is held: the requests queued behind the failing
            # ones see the breaker open and send nothing.
            if host.failures >= self.opts.breaker_failures:
                raise FetchFailure("host_unavailable", f"circuit breaker open after {host.failures} failures in a row")
            for _ in range(self.opts.max_redirects + 1):
                if self.opts.robots:
                    self._check_robots(url, deadline)
                status, headers, body = self._request(url, deadline, self.opts.max_bytes)
                if status in REDIRECTS:
                    location = headers.get("Location")
                    if not location:
                        raise FetchFailure("failed_to_download", f"HTTP {status} without a Location")
                    url = clean_url(urljoin(url, location))
                    continue
                if status in (429, 503):
                    raise FetchFailure("failed_to_download", f"HTTP {status}",
                                       parse_retry_after(headers.get("Retry-After")), host_failure=status == 503)
                if status >= 400:
                    raise FetchFailure("failed_to_download", f"HTTP {status}", host_failure=status >= 500)
                reason = header_opt_out(headers, self.opts.directives)
                if reason:
                    raise FetchFailure("opted_out", reason)
                return body()
        raise FetchFailure("failed_to_download", f"more than {self.opts.max_redirects} redirects")

    def _request(self, url: str, deadline: Deadline, max_bytes: int):
        """One GET: (status, headers, body reader). Redirect and error statuses come back
        without their bodies being read."""
        url = clean_url(url)
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchFailure("failed_to_download", f"invalid url {url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchFailure("refused", f"only http(s) urls are fetched: {url!r}")
        address = self._resolve(parts.hostname, port, deadline)
        conn = Connection(parts.hostname, port, address, parts.scheme == "https", deadline.left())
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
                raise FetchFailure("too_large", f"Content-Length {length} > {max_bytes} bytes")
            data = read_capped(response, conn, deadline, max_bytes)
            return response.status, response.headers, lambda: data
        except FetchFailure:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if conn.killed or isinstance(exc, TimeoutError):
                raise deadline.expired() from None
            raise FetchFailure("failed_to_download", f"{type(exc).__name__}: {exc}", host_failure=True) from None
        finally:
            watchdog.cancel()
            conn.close()

    def _resolve(self, hostname: str, port: int, deadline: Deadline) -> tuple:
        """An address of ``hostname`` (refused when private, unless allowed), resolved within
        the deadline; the connection goes to this address, so DNS cannot change it after."""
        future = self._resolver.submit(socket.getaddrinfo, hostname, port, 0, socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=deadline.left())
        except TimeoutError:
            raise deadline.expired("DNS") from None
        except OSError as exc:
            raise FetchFailure("failed_to_download", f"DNS: {exc}", host_failure=True) from None
        for family, _, _, _, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if not self.opts.allow_private_addresses and not ip.is_global:
                raise FetchFailure("refused", f"{hostname} resolves to a non-public address {ip} "
                                          "(--allow-private-addresses to fetch it)")
            return family, sockaddr
        raise FetchFailure("failed_to_download", f"DNS: no address for {hostname}", host_failure=True)

    # -- robots.txt -----------------------------------------------------------------------
    def _check_robots(self, url: str, deadline: Deadline) -> None:
        parts = urlsplit(url)
        host = self._host(parts.netloc.lower())
        with host.lock:  # one fetch of robots.txt per host, the others wait for it
            if host.robots is None:
                host.robots = self._fetch_robots(f"{parts.scheme}://{parts.netloc}/robots.txt", deadline)
                delay = host.robots.crawl_delay(TOKEN) if hasattr(host.robots, "crawl_delay") else None
                host.crawl_delay = min(float(delay or 0), self.opts.max_retry_after)
        if isinstance(host.robots, FetchFailure):
            raise host.robots
        if host.robots is not True and not host.robots.can_fetch(url, TOKEN):
            raise FetchFailure("opted_out", "robots")

    def _fetch_robots(self, robots_url: str, deadline: Deadline):
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
                return FetchFailure("opted_out", f"robots (robots.txt answered HTTP {status}: complete disallow)")
        except FetchFailure as failure:
            if failure.status == "refused":
                return failure
            return FetchFailure("opted_out", f"robots (robots.txt unreachable: {failure.error}; complete disallow)")
        return FetchFailure("opted_out", "robots (robots.txt redirects too often: complete disallow)")

    def _host(self, netloc: str) -> Host:
        with self._lock:
            if netloc not in self._hosts:
                self._hosts[netloc] = Host(slots=threading.Semaphore(max(1, self.opts.per_host_connections)))
            return self._hosts[netloc]

    # -- other sources --------------------------------------------------------------------
    def _local(self, url: str) -> bytes:
        if not self.opts.allow_local_files:
            raise FetchFailure("refused", "local file (--allow-local-files to read local paths and file:// urls)")
        path = url[len("file://"):] if url.startswith("file://") else url
        try:
            # Opened without blocking and checked before reading: a FIFO or a device would
            # otherwise hold the task until it is killed.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise FetchFailure("refused", f"{path}: not a regular file")
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb") as f:
                return read_file_capped(f, self.opts.max_bytes)
        except OSError as exc:
            raise FetchFailure("failed_to_download", f"{type(exc).__name__}: {exc}") from None

    def _object_store(self, url: str) -> bytes:
        from curation.core.io import get_fs

        try:
            fs, path = get_fs(url, self.storage)
            with fs.open(path, "rb") as f:
                return read_file_capped(f, self.opts.max_bytes)
        except FetchFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - credentials, permissions, missing objects: one sample fails
            raise FetchFailure("failed_to_download", f"{type(exc).__name__}: {exc}") from None
