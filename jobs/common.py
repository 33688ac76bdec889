"""Small helpers shared by the command modules."""

import os


def absolute(url: str | None) -> str | None:
    """Local paths made absolute on the driver: executors run in other folders."""
    if url is None or "://" in url:
        return url
    return os.path.abspath(url)
