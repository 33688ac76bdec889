"""One built matcher per node: the first process builds the index and saves it under a
cache folder; every other process maps the same file (one physical copy in the page cache).

The cache key is the metadata's sha256, the language segment and the variant, so a changed
list never reuses a stale index. ``CURATION_CACHE`` sets the folder (default: the system
temporary folder).
"""

import os
import tempfile
from functools import lru_cache

from curation import fastmatch
from curation.matching import Matcher, MetadataMatcher


def cache_dir() -> str:
    return os.environ.get("CURATION_CACHE") or os.path.join(tempfile.gettempdir(), "curation-matchers")


def load_or_build(entries: list[str], variant: str, key: str, folder: str | None = None) -> Matcher:
    """Map the cached index for ``key`` or build it, save it atomically and map it."""
    folder = folder or cache_dir()
    path = os.path.join(folder, f"{key}-{variant}-{fastmatch.MAGIC.decode()}.idx")
    if os.path.exists(path):
        try:
            return Matcher.load(path)
        except ValueError:  # damaged or foreign file: build it again
            pass
    os.makedirs(folder, exist_ok=True)
    Matcher(entries, variant).save(path)  # written to a temp name, then renamed
    return Matcher.load(path)


def metadata_matcher(metadata, variant: str, default_lang: str, folder: str | None = None) -> MetadataMatcher:
    """A ``MetadataMatcher`` whose per-language matchers come from the node's cache."""
    matchers = {lang: load_or_build(metadata.entries[s:e], variant, f"{metadata.sha256[:32]}-{lang or 'all'}", folder)
                for lang, (s, e) in metadata.segments.items()}
    return MetadataMatcher(metadata, variant, default_lang, matchers=matchers)


@lru_cache(maxsize=2)
def worker_matcher(metadata_url: str, sha256: str, variant: str, default_lang: str) -> MetadataMatcher:
    """The matcher of one Python worker, built (or mapped from the node's cache) once and
    reused by its later tasks; refuses a metadata file that changed since the job started."""
    from curation.errors import LineageError
    from curation.metadata_io import load_metadata

    metadata = load_metadata(metadata_url)
    if metadata.sha256 != sha256:
        raise LineageError(f"{metadata_url} changed while the job ran (sha256 {metadata.sha256} != {sha256})")
    return metadata_matcher(metadata, variant, default_lang)
