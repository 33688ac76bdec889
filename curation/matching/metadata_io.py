"""Reading metadata lists: MetaCLIP's ``metadata.json`` (a JSON list of strings) or a
text file with one entry a line. The entry order is the identity of the entries.

A folder of ``<lang>.json`` lists (manifests beside them are skipped) is a per-language
metadata: its lists are concatenated in sorted language order into one id space, and
``segments`` tells which ids belong to which language.
"""

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property

from curation.core.errors import InputError
from curation.core.io import is_dir, list_files, read_bytes

SINGLE = ""  # the language key of a metadata that is one list for every text


@dataclass(frozen=True)
class Metadata:
    """Entries with their source and sha256; ``segments[lang] = (start, end)`` id ranges."""

    entries: list[str]
    sha256: str
    source: str
    segments: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def per_language(self) -> bool:
        return list(self.segments) != [SINGLE]

    @cached_property
    def blank_entries(self) -> list[int]:
        """Ids of empty or blank entries (a JSON list may hold them): each matches nearly every text."""
        return [i for i, entry in enumerate(self.entries) if not entry.strip()]

    @cached_property
    def duplicates(self) -> dict:
        """Entries listed more than once within one language's list, with their counts.
        They keep their ids (positions are the identity), so each copy matches and counts."""
        found: dict = {}
        for start, end in self.segments.values():
            seen: set = set()
            for entry in self.entries[start:end]:
                if entry in seen:
                    found[entry] = found.get(entry, 1) + 1
                seen.add(entry)
        return found

    def entry_langs(self) -> list[str]:
        """The language of each entry id."""
        out = [SINGLE] * len(self.entries)
        for lang, (start, end) in self.segments.items():
            out[start:end] = [lang] * (end - start)
        return out


def load_metadata(url: str) -> Metadata:
    """Load a list from ``url`` (``.json`` list of strings, else one entry a line), or a
    per-language folder of ``<lang>.json`` lists."""
    if is_dir(url):
        return _load_folder(url)
    data = read_bytes(url)
    entries = parse_metadata(data, url)
    if not (url.endswith(".json") or _is_json_text(data)):
        entries = _matchable(entries, url)
    return Metadata(entries, hashlib.sha256(data).hexdigest(), url, {SINGLE: (0, len(entries))})


def _matchable(entries: list[str], name: str) -> list[str]:
    """Refuse an empty line of a text list: padded, an empty entry is two spaces, which nearly
    every text holds, and in a text file it is an accident. (A JSON list says so explicitly,
    as MetaCLIP's lists are written: its blank entries are kept, warned about and recorded.)"""
    for index, entry in enumerate(entries):
        if not entry.strip():
            raise InputError(f"metadata {name}: line {index + 1} is empty or blank; as an entry it would match "
                             "nearly every text: remove it")
    return entries


def _load_folder(url: str) -> Metadata:
    files = [f for f in list_files(url, (".json",)) if not f.endswith(".manifest.json")]
    if not files:
        raise InputError(f"{url}: no <lang>.json metadata lists in this folder")
    entries: list[str] = []
    segments, digest = {}, hashlib.sha256()
    for file in files:
        lang = file.rsplit("/", 1)[-1][: -len(".json")]
        data = read_bytes(file)
        lang_entries = parse_metadata(data, file)
        segments[lang] = (len(entries), len(entries) + len(lang_entries))
        entries.extend(lang_entries)
        digest.update(f"{lang} {hashlib.sha256(data).hexdigest()}\n".encode())
    return Metadata(entries, digest.hexdigest(), url, segments)


def parse_metadata(data: bytes, name: str) -> list[str]:
    """Parse metadata bytes; ``name`` (the file) is used in error messages."""
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is no part of the first entry
    except UnicodeDecodeError as exc:
        raise InputError(f"metadata {name}: not UTF-8 ({exc})") from None
    if name.endswith(".json") or _is_json_text(data):
        return _parse_json_list(text, name)
    # One entry a line; a final newline does not make an extra empty entry.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _is_json_text(data: bytes) -> bool:
    return data.decode("utf-8-sig", errors="replace").lstrip().startswith("[")


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


# The order in which a built list holds its sources (``metadata.build``), so that a list's
# manifest gives each source's id range.
SOURCE_ORDER = ("wordnet", "numbers", "unigrams", "bigrams", "titles", "extra", "import")


def manifest_url(list_url: str) -> str:
    """Where a list's manifest lies: ``NAME.manifest.json`` beside ``NAME.json``."""
    base = list_url[: -len(".json")] if list_url.endswith(".json") else list_url
    return base + ".manifest.json"


def source_ranges(per_source: dict) -> list[tuple[str, int, int]]:
    """``(source, start, end)`` id ranges of a built list, from its manifest's counts."""
    ranges, start = [], 0
    for name in SOURCE_ORDER:
        if per_source.get(name):
            ranges.append((name, start, start + per_source[name]))
            start += per_source[name]
    return ranges
