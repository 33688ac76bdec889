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


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``--master``, ``--conf`` and ``--s3-endpoint`` for commands without a YAML config."""
    p.add_argument("--master", default=None, help="Spark master URL (default: spark-submit's, else local[*])")
    p.add_argument("--conf", action="append", type=conf_pair, default=[], metavar="KEY=VALUE",
                   help="Spark configuration, repeatable")
    p.add_argument("--s3-endpoint", default=None, help="S3-compatible endpoint URL (default: $AWS_ENDPOINT_URL)")
