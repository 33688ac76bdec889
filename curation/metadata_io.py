"""Reading metadata lists: MetaCLIP's ``metadata.json`` (a JSON list of strings) or a
text file with one entry a line. The entry order is the identity of the entries."""

import hashlib
import json
from dataclasses import dataclass

from curation.errors import InputError
from curation.io import read_bytes


@dataclass(frozen=True)
class Metadata:
    """A metadata list with its source and the sha256 of its bytes."""

    entries: list[str]
    sha256: str
    source: str

    def __len__(self) -> int:
        return len(self.entries)


def load_metadata(url: str) -> Metadata:
    """Load a metadata list from ``url`` (``.json`` list of strings, else one entry a line)."""
    data = read_bytes(url)
    entries = parse_metadata(data, url)
    return Metadata(entries=entries, sha256=hashlib.sha256(data).hexdigest(), source=url)


def parse_metadata(data: bytes, name: str) -> list[str]:
    """Parse metadata bytes; ``name`` (the file) is used in error messages."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"metadata {name}: not UTF-8 ({exc})") from None
    if name.endswith(".json") or text.lstrip().startswith("["):
        return _parse_json_list(text, name)
    # One entry a line; a final newline does not make an extra empty entry.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _parse_json_list(text: str, name: str) -> list[str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"metadata {name}: invalid JSON ({exc})") from None
    if isinstance(value, dict) and isinstance(value.get("entries"), list):
        value = value["entries"]
    if not isinstance(value, list):
        raise InputError(f"metadata {name}: expected a JSON list of strings, got {type(value).__name__}")
    for index, entry in enumerate(value):
        if not isinstance(entry, str):
            raise InputError(f"metadata {name}: entry {index} is {type(entry).__name__} {entry!r}, not a string")
    return value
