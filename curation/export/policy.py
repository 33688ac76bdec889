"""What the fetcher may fetch and how politely: its options (``FetchOptions``, the
``fetch`` section of ``curate export`` and ``curate caption``), our robots token and
User-Agent, the header opt-outs (``X-Robots-Tag``, TDMRep), and each outcome (``Fetched``)."""


import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from curation import __version__
from curation.core.config import at_least, finite_positive, opt, require

TOKEN = "metaclip-curation"


DEFAULT_USER_AGENT = f"{TOKEN}/{__version__} (image/alt-text curation for CLIP training; honours robots.txt, noai)"


DAY = 86_400  # seconds
DEFAULT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")


# Statuses a later ``--retry-failed`` tries again: transient by nature.
RETRYABLE = frozenset({"failed_to_download", "host_unavailable", "deadline"})


_KNOWN_DIRECTIVES = frozenset({"all", "none", "noindex", "nofollow", "noarchive", "nosnippet", "notranslate",
                               "noimageindex", "unavailable_after", "noai", "noimageai", "indexifembedded",
                               "max-snippet", "max-image-preview", "max-video-preview"})


@dataclass(kw_only=True)
class FetchOptions:
    """How the fetcher of ``curate export`` and ``curate caption`` behaves (the ``fetch`` section)."""

    SECTION: ClassVar[str] = "fetch"
    timeout: float = opt(10.0, "hard deadline of one request in seconds: DNS, connect, headers and body")
    retries: int = opt(1, "extra tries of a failed http(s) fetch (429/503 wait for Retry-After)")
    max_bytes: int = opt(20 * 2**20, "largest image accepted, in bytes (enforced while reading)")
    threads: int = opt(16, "concurrent fetches per task")
    user_agent: str = opt(DEFAULT_USER_AGENT, "User-Agent of every request; add your contact URL, e.g. "
                          "'metaclip-curation/0.1 (+https://example.org/crawler)'")
    per_host_connections: int = opt(2, "requests in flight to one host at once")
    per_host_rate: float = opt(0.0, "request starts per second to one host (0: no limit; a robots.txt "
                                    "Crawl-delay slows it further)")
    robots: bool = opt(True, f"honour each host's robots.txt (RFC 9309, our token {TOKEN})")
    disallowed_header_directives: str = opt(",".join(DEFAULT_DIRECTIVES),
                                            "X-Robots-Tag directives that opt an image out (comma-separated)")
    allow_local_files: bool = opt(False, "read urls that are local paths or file:// (pools of local images)")
    allow_private_addresses: bool = opt(False, "fetch from loopback, private and link-local addresses")
    max_redirects: int = opt(5, "redirects followed per request")
    max_retry_after: float = opt(60.0, "longest Retry-After waited for, in seconds")
    breaker_failures: int = opt(5, "failures in a row after which a host's remaining samples are skipped")
    tar_deadline: float | None = opt(None, "seconds one tar may take; samples not fetched by then are "
                                           "recorded as 'deadline'")

    def __post_init__(self):
        finite_positive(self.timeout, "timeout")
        # A deadline is a timestamp: past a day (or a week for a tar) it is a mistake, and
        # past ~1e11 s it overflows the platform's time_t.
        require(self.timeout <= DAY, "timeout", self.timeout, f"must be at most {DAY} seconds")
        # A header value with a line break would inject headers into every request.
        require(isinstance(self.user_agent, str) and self.user_agent.strip() != ""
                and not any(c in self.user_agent for c in "\r\n\x00"), "user_agent", self.user_agent,
                "must be one non-empty line")
        at_least(self.retries, 0, "retries")
        at_least(self.max_bytes, 1, "max_bytes")
        at_least(self.threads, 1, "threads")
        at_least(self.per_host_connections, 1, "per_host_connections")
        require(isinstance(self.per_host_rate, (int, float)) and self.per_host_rate >= 0
                and math.isfinite(self.per_host_rate), "per_host_rate", self.per_host_rate,
                "must be a finite number >= 0")
        at_least(self.max_redirects, 0, "max_redirects")
        require(isinstance(self.max_retry_after, (int, float)) and 0 <= self.max_retry_after <= DAY,
                "max_retry_after", self.max_retry_after, f"must be in [0, {DAY}] seconds")
        at_least(self.breaker_failures, 1, "breaker_failures")
        if self.tar_deadline is not None:
            finite_positive(self.tar_deadline, "tar_deadline")
            require(self.tar_deadline <= 7 * DAY, "tar_deadline", self.tar_deadline,
                    f"must be at most {7 * DAY} seconds")

    @property
    def directives(self) -> tuple[str, ...]:
        return tuple(d.strip() for d in self.disallowed_header_directives.split(",") if d.strip())


@dataclass
class Fetched:
    data: bytes | None
    status: str
    error: str = ""

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE and not definite(self.error)


def definite(error: str) -> bool:
    """A definite answer from the server (404, 410, ...), which a retry will not change."""
    return error.startswith("HTTP 4") and not error.startswith(("HTTP 408", "HTTP 429"))


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
