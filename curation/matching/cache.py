"""One built matcher per node: the first process builds the index and saves it under a
cache folder; every other process maps the same file (one physical copy in the page cache).

The cache key is the metadata's sha256, the language segment and the variant, so a changed
list never reuses a stale index. The folder is private: ``CURATION_CACHE``, else
``curation-matchers-<uid>`` in the system temporary folder, created with mode 0700 and
refused when another user owns it or others may write to it. An index is trusted only after
it is verified: its digest and structure (``fastmatch.load_index``), and the entries and
variant recorded inside it against the metadata this run uses; otherwise it is built again.
"""

import logging
import os
import stat
import tempfile
from functools import lru_cache

from curation.core.errors import CurationError
from curation.matching import Matcher, MetadataMatcher, fastmatch

log = logging.getLogger("curate")


def cache_dir() -> str:
    return os.environ.get("CURATION_CACHE") or os.path.join(tempfile.gettempdir(), f"curation-matchers-{os.getuid()}")


def private_folder(folder: str) -> str:
    """Create ``folder`` (mode 0700) or check an existing one: owned by this user and not
    writable by others, so that nobody else can plant an index in it."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.stat(folder)
    if st.st_uid != os.getuid():
        raise CurationError(f"{folder}: matcher cache folder belongs to another user (uid {st.st_uid}); "
                            "set CURATION_CACHE to a folder of your own")
    if st.st_mode & 0o022:
        raise CurationError(f"{folder}: matcher cache folder is writable by other users (mode "
                            f"{stat.S_IMODE(st.st_mode):o}); chmod 700 it or set CURATION_CACHE")
    return folder


def load_or_build(entries: list[str], variant: str, key: str, folder: str | None = None) -> Matcher:
    """Map the cached index for ``key`` if it verifies against ``entries`` and ``variant``;
    else build it, save it atomically and map it."""
    folder = private_folder(folder or cache_dir())
    path = os.path.join(folder, f"{key}-{variant}-{fastmatch.MAGIC.decode()}.idx")
    if os.path.exists(path):
        try:
            matcher = Matcher.load(path)
            if matcher.variant.name == variant and matcher.entries == entries:
                return matcher
            log.warning("%s: index of another list or variant; building it again", path)
        except ValueError as exc:  # damaged, tampered or foreign file: build it again
            log.warning("%s; building it again", exc)
    Matcher(entries, variant).save(path)  # written to a temp name, then renamed
    return Matcher.load(path)


def metadata_matcher(metadata, variant: str, default_lang: str, folder: str | None = None,
                     lang_map: dict | None = None) -> MetadataMatcher:
    """A ``MetadataMatcher`` whose per-language matchers come from the node's cache."""
    matchers = {lang: load_or_build(metadata.entries[s:e], variant, f"{metadata.sha256[:32]}-{lang or 'all'}", folder)
                for lang, (s, e) in metadata.segments.items()}
    return MetadataMatcher(metadata, variant, default_lang, matchers=matchers, lang_map=lang_map)


@lru_cache(maxsize=2)
def worker_matcher(metadata_url: str, sha256: str, variant: str, default_lang: str,
                   lang_map: tuple = ()) -> MetadataMatcher:
    """The matcher of one Python worker, built (or mapped from the node's cache) once and
    reused by its later tasks; refuses a metadata file that changed since the job started."""
    from curation.core.errors import LineageError
    from curation.matching.metadata_io import load_metadata

    metadata = load_metadata(metadata_url)
    if metadata.sha256 != sha256:
        raise LineageError(f"{metadata_url} changed while the job ran (sha256 {metadata.sha256} != {sha256})")
    return metadata_matcher(metadata, variant, default_lang, lang_map=dict(lang_map))
