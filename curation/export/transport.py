"""One request on the wire: a connection to an address checked before, the hard deadline that
covers DNS, connect, headers and body, reads capped in bytes, and the ``FetchFailure`` that
carries an outcome up to the fetcher."""


import email.utils
import http.client
import socket
import ssl
import time
from urllib.parse import quote, urlsplit

from curation.export.policy import definite

REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 1 << 16


class FetchFailure(Exception):
    """An outcome other than ``ok``, carried up to ``fetch``."""

    def __init__(self, status: str, error: str, retry_after: float | None = None, host_failure: bool = False):
        super().__init__(error)
        self.status, self.error, self.retry_after, self.host_failure = status, error, retry_after, host_failure

    def retryable_now(self) -> bool:
        return self.status == "failed_to_download" and not definite(self.error)


class Deadline:
    """A request's deadline: its own, or the tar's when that comes first."""

    def __init__(self, seconds: float, outer: float | None = None):
        self.at = time.monotonic() + seconds
        self.tar_bound = outer is not None and outer <= self.at
        if self.tar_bound:
            self.at = outer

    def expired(self, what: str = "request") -> FetchFailure:
        if self.tar_bound:
            return FetchFailure("deadline", f"the tar's deadline passed during the {what}")
        return FetchFailure("failed_to_download", f"timed out ({what} deadline)", host_failure=True)

    def left(self, what: str = "request") -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired(what)
        return left


class Connection(http.client.HTTPConnection):
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


def read_capped(response, conn: Connection, deadline: Deadline, max_bytes: int) -> bytes:
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
            raise FetchFailure("too_large", f"more than {max_bytes} bytes")
        chunks.append(chunk)


def read_file_capped(f, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` (a file whose size is reported as 0, like /dev/zero, is
    still cut at the cap)."""
    data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FetchFailure("too_large", f"more than {max_bytes} bytes")
    return data


def clean_url(url: str) -> str:
    """Percent-encode what a browser would (spaces, non-ASCII) in the path and query."""
    parts = urlsplit(url)
    path = quote(parts.path, safe="/%:@!$&'()*+,;=~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=?~")
    return parts._replace(path=path, query=query, fragment="").geturl()


def parse_retry_after(value: str | None) -> float | None:
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
