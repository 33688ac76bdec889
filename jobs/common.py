"""Small helpers shared by the command modules: ``--conf`` pairs, driver-side paths, storage."""

import argparse
import os

from curation.storage import StorageOptions
from curation.storage import apply as storage_apply


def conf_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--conf expects KEY=VALUE, got {text!r}")
    return key, value




def absolute(url: str | None) -> str | None:
    """Local paths made absolute on the driver: executors run in other folders."""
    if url is None or "://" in url:
        return url
    return os.path.abspath(url)




def driver_storage(endpoint: str | None) -> StorageOptions:
    """Storage options from the environment (and ``--s3-endpoint``), applied on the driver."""
    storage = StorageOptions.from_env(endpoint)
    storage_apply(storage)
    return storage
