"""Writing a metadata list with its manifest, MetaCLIP-compatible.

The list is a JSON list of strings (``ensure_ascii=False``, one line); the manifest beside
it (``NAME.manifest.json``) records the list's sha256, entry count per source, thresholds,
input files with their sha256, the date and the code version. ``SOURCE_DATE_EPOCH`` fixes
the date for reproducible manifests.
"""

import datetime
import hashlib
import json
import os

from curation.core.io import read_bytes, write_bytes_atomic, write_json_atomic
from curation.core.lineage import code_version
from curation.matching.metadata_io import manifest_url


def encode_list(entries: list[str]) -> bytes:
    return (json.dumps(entries, ensure_ascii=False) + "\n").encode("utf-8")


def file_sha256(url: str) -> str:
    return hashlib.sha256(read_bytes(url)).hexdigest()


def build_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch else datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%d")


def write_list(url: str, data: bytes, info: dict) -> dict:
    """Write list bytes ``data`` to ``url`` and its manifest (``info`` plus sha256 and date)."""
    write_bytes_atomic(url, data)
    manifest = {"file": url.rsplit("/", 1)[-1], "sha256": hashlib.sha256(data).hexdigest(), "date": build_date(),
                "code_version": code_version(), **info}
    write_json_atomic(manifest_url(url), manifest)
    return manifest
