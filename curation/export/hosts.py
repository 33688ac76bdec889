"""Per-host state of a fetcher: robots.txt, the circuit breaker, and the connection and
rate limits (``Slot`` holds one of a host's connections)."""


import threading
import time
from dataclasses import dataclass, field

from curation.export.policy import FetchOptions
from curation.export.transport import Deadline


@dataclass
class Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    slots: threading.Semaphore | None = None
    next_start: float = 0.0
    failures: int = 0
    robots: object = None  # a Protego parser, True (allow all) or a FetchFailure (disallow all)
    crawl_delay: float = 0.0


class Slot:
    """Holds one of a host's connections, starting no sooner than its rate allows."""

    def __init__(self, host: Host, opts: FetchOptions, deadline: Deadline):
        self.host, self.opts, self.deadline = host, opts, deadline

    def __enter__(self):
        if not self.host.slots.acquire(timeout=self.deadline.left()):
            raise self.deadline.expired("wait for a connection to the host")
        interval = max(1.0 / self.opts.per_host_rate if self.opts.per_host_rate > 0 else 0.0, self.host.crawl_delay)
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
